"""diffusers pipelines (model_index.json): a tiny Stable Diffusion pipeline saved by diffusers
itself, each component counted against ``sum(p.numel())`` of the module diffusers or
transformers built, from a folder and from a repo of the test Hub (tests/hub_server.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hub_server import Repo, read_cost

from paramcount.cli import main
from paramcount.errors import SpecError
from paramcount.sources import summarize
from paramcount.sources.pipeline import components, variant

pytest_plugins = ["hub_server"]
torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")

MODELS = ("text_encoder", "unet", "vae")


def _tokenizer(folder: Path) -> object:
    """A CLIP tokenizer from a four-word vocabulary written here (nothing downloaded)."""
    folder.mkdir()
    (folder / "vocab.json").write_text(json.dumps(
        {"<|startoftext|>": 0, "<|endoftext|>": 1, "a</w>": 2, "b</w>": 3}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return transformers.CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))


def _unet() -> object:
    return diffusers.UNet2DConditionModel(
        block_out_channels=(4, 8), layers_per_block=1, sample_size=8, in_channels=4,
        out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=8,
        norm_num_groups=2, attention_head_dim=2)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """A tiny StableDiffusionPipeline saved twice, in float32 and as the fp16 variant; its
    components' parameters as the real modules count them."""
    tmp = tmp_path_factory.mktemp("sd")
    torch.manual_seed(0)
    unet = _unet()
    vae = diffusers.AutoencoderKL(
        block_out_channels=(4,), in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=("DownEncoderBlock2D",), up_block_types=("UpDecoderBlock2D",),
        norm_num_groups=2, sample_size=8)
    text_encoder = transformers.CLIPTextModel(transformers.CLIPTextConfig(
        hidden_size=8, intermediate_size=16, num_attention_heads=2, num_hidden_layers=2,
        vocab_size=100, max_position_embeddings=16))
    pipe = diffusers.StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=_tokenizer(tmp / "vocab"), unet=unet,
        scheduler=diffusers.PNDMScheduler(), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False)
    folder = tmp / "tiny-sd"
    pipe.save_pretrained(folder)
    pipe.to(torch.float16).save_pretrained(folder, variant="fp16")
    counts = {name: sum(p.numel() for p in getattr(pipe, name).parameters()) for name in MODELS}
    return folder, counts


def _copy(folder: Path, tmp_path: Path, drop: tuple[str, ...] = ()) -> Path:
    out = tmp_path / folder.name
    shutil.copytree(folder, out)
    for name in drop:
        (out / name).unlink()
    return out


def test_each_component_counted_and_summed(pipeline):
    folder, counts = pipeline
    s = summarize(folder)
    assert s.name == "StableDiffusionPipeline" and s.meta["pipeline"] == s.name
    assert s.total_params == sum(counts.values()) and not s.lower_bound
    rows = {c.name: (c.type, c.params) for c in s.root.children}
    assert rows == {"scheduler": ("PNDMScheduler", 0), "tokenizer": ("CLIPTokenizer", 0),
                    "text_encoder": ("CLIPTextModel", counts["text_encoder"]),
                    "unet": ("UNet2DConditionModel", counts["unet"]),
                    "vae": ("AutoencoderKL", counts["vae"])}
    assert {k: v for k, v in s.figures.items()} == {f"{n} params": counts[n] for n in MODELS}
    assert any("feature_extractor, image_encoder, safety_checker" in n for n in s.notes)


def test_the_default_file_is_counted_and_its_variant_named(pipeline):
    folder, _ = pipeline
    s = summarize(folder)
    unet = s.meta["components"]["unet"]
    assert unet["file"] == "unet/diffusion_pytorch_model.safetensors"
    assert unet["also"] == ["unet/diffusion_pytorch_model.fp16.safetensors"]
    # the text encoder's config says float16 (its fp16 variant was saved last); its file does not
    assert s.meta["components"]["text_encoder"]["dtype"] == "float32"
    assert s.dtype == "float32" and s.by_dtype().keys() == {"float32"}
    assert any(n.startswith("unet: counted diffusion_pytorch_model.safetensors; the same "
                            "tensors are also in diffusion_pytorch_model.fp16.safetensors (fp16)")
               for n in s.notes)


def test_a_single_file_checkpoint_beside_the_pipeline_is_named_not_counted(pipeline, tmp_path):
    folder, counts = pipeline
    copy = _copy(folder, tmp_path)
    shutil.copy(copy / "vae" / "diffusion_pytorch_model.safetensors", copy / "v1-5.safetensors")
    s = summarize(copy)
    assert s.total_params == sum(counts.values())
    assert "Not counted, outside the components' folders: v1-5.safetensors" in s.notes


def test_a_variant_alone_is_counted(pipeline, tmp_path):
    folder, counts = pipeline
    drop = ("unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors",
            "text_encoder/model.safetensors")
    s = summarize(_copy(folder, tmp_path, drop))
    assert s.total_params == sum(counts.values()) and s.dtype == "float16"
    assert s.meta["components"]["vae"]["file"] == "vae/diffusion_pytorch_model.fp16.safetensors"


def test_sharded_weights_and_their_sharded_variant(tmp_path):
    """A large denoiser (Flux's ``transformer``) is sharded, its bf16 variant too, each with its
    index (``diffusion_pytorch_model.safetensors.index.bf16.json``)."""
    unet = _unet()
    unet.save_pretrained(tmp_path / "transformer", max_shard_size="30KB")
    unet.to(torch.bfloat16).save_pretrained(tmp_path / "transformer", max_shard_size="30KB",
                                            variant="bf16")
    (tmp_path / "model_index.json").write_text(json.dumps(
        {"_class_name": "FluxPipeline", "transformer": ["diffusers", "UNet2DConditionModel"]}))
    s = summarize(tmp_path)
    assert s.total_params == sum(p.numel() for p in unet.parameters())
    part = s.meta["components"]["transformer"]
    assert part["file"] == "transformer/diffusion_pytorch_model.safetensors.index.json"
    assert part["also"] == ["transformer/diffusion_pytorch_model.bf16-*-of-00002.safetensors"]


def test_a_text_encoder_with_only_its_config_is_counted_from_it(pipeline, tmp_path):
    folder, counts = pipeline
    s = summarize(_copy(folder, tmp_path, ("text_encoder/model.safetensors",
                                           "text_encoder/model.fp16.safetensors")))
    assert s.total_params == sum(counts.values()) and not s.lower_bound
    assert s.meta["components"]["text_encoder"]["from"] == "config"


def test_a_diffusers_model_with_only_its_config_is_counted_from_it(pipeline, tmp_path):
    folder, counts = pipeline
    s = summarize(_copy(folder, tmp_path, ("unet/diffusion_pytorch_model.safetensors",
                                           "unet/diffusion_pytorch_model.fp16.safetensors")))
    assert s.total_params == sum(counts.values()) and not s.lower_bound
    assert s.meta["components"]["unet"]["from"] == "config"
    assert s.figures["unet params"] == counts["unet"]


def test_a_diffusers_class_paramcount_does_not_declare_is_not_counted(tmp_path):
    (tmp_path / "unet").mkdir()
    (tmp_path / "unet" / "config.json").write_text(json.dumps({"_class_name": "UNet2DModel"}))
    (tmp_path / "model_index.json").write_text(json.dumps(
        {"_class_name": "DDPMPipeline", "unet": ["diffusers", "UNet2DModel"]}))
    s = summarize(tmp_path)
    assert s.lower_bound and s.unknown_layers == {"UNet2DModel": 1}
    assert ("unet: no weights paramcount reads in unet/, and a diffusers UNet2DModel "
            "is not counted from its config.json") in s.notes


def test_config_only_components_are_built_as_model_index_names_them(tmp_path):
    """SDXL's second text encoder is a CLIPTextModelWithProjection whose config.json says
    CLIPTextModel; diffusers builds the class model_index.json names. A component of another
    library (the safety checker) is not counted from its config."""
    config = transformers.CLIPTextConfig(hidden_size=8, intermediate_size=16, vocab_size=100,
                                         num_attention_heads=2, num_hidden_layers=2,
                                         max_position_embeddings=16, projection_dim=4)
    config.architectures = ["CLIPTextModel"]
    config.save_pretrained(tmp_path / "text_encoder_2")
    (tmp_path / "safety_checker").mkdir()
    (tmp_path / "safety_checker" / "config.json").write_text(json.dumps(
        {"model_type": "clip", "architectures": ["StableDiffusionSafetyChecker"]}))
    (tmp_path / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionXLPipeline",
        "safety_checker": ["stable_diffusion", "StableDiffusionSafetyChecker"],
        "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"]}))
    with torch.device("meta"):
        model = transformers.CLIPTextModelWithProjection(config)
    s = summarize(tmp_path)
    assert s.figures == {"text_encoder_2 params": sum(p.numel() for p in model.parameters())}
    assert s.total_params == s.figures["text_encoder_2 params"] and s.lower_bound
    assert s.meta["components"]["safety_checker"]["from"] is None


def test_a_remote_pipeline_reads_headers_only(pipeline, hub, monkeypatch):
    folder, counts = pipeline
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    files = {p.relative_to(folder).as_posix(): p.read_bytes()
             for p in folder.rglob("*") if p.is_file()}
    hub.repos["org/tiny-sd"] = Repo.with_files(files)
    s = summarize("org/tiny-sd")
    assert s.total_params == sum(counts.values())
    assert {c.name: c.params for c in s.root.children if c.name in MODELS} == counts
    assert s.meta["components"]["unet"]["file"] == "unet/diffusion_pytorch_model.safetensors"
    # at most each checkpoint's first read (or its header) and the JSON files whole
    bound = sum(read_cost(v) if k.endswith(".safetensors") else len(v)
                for k, v in files.items() if k.endswith((".safetensors", ".json")))
    assert s.meta["hub"]["bytes_read"] <= bound < sum(len(v) for v in files.values())


def test_the_cli_prints_one_row_per_component(pipeline, capsys):
    folder, counts = pipeline
    assert main([str(folder), "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert "unet (UNet2DConditionModel)" in out and "scheduler (PNDMScheduler)" in out
    assert f"Total params: {sum(counts.values()):,}" in out


def test_model_index_fields():
    name, parts = components({"_class_name": "FluxPipeline", "_diffusers_version": "0.30.0",
                              "transformer": ["diffusers", "FluxTransformer2DModel"],
                              "text_encoder_2": ["transformers", "T5EncoderModel"],
                              "image_encoder": [None, None], "force_zeros": True}, "x")
    assert name == "FluxPipeline"
    assert [(c.name, c.library, c.cls) for c in parts] == [
        ("transformer", "diffusers", "FluxTransformer2DModel"),
        ("text_encoder_2", "transformers", "T5EncoderModel"), ("image_encoder", None, None)]
    assert variant("transformer/diffusion_pytorch_model.bf16-00001-of-00003.safetensors") == "bf16"
    assert variant("transformer/diffusion_pytorch_model.safetensors.index.fp16.json") == "fp16"
    assert variant("text_encoder/model.safetensors") is None


@pytest.mark.parametrize("doc, message", [
    ([], "must be a JSON object"),
    ({"unet": ["diffusers", "UNet2DModel"]}, "no _class_name"),
    ({"_class_name": "P", "unet": ["diffusers", 3]}, r"unet=\['diffusers', 3\] is not a"),
])
def test_a_bad_model_index_is_one_line(tmp_path, doc, message):
    (tmp_path / "model_index.json").write_text(json.dumps(doc))
    with pytest.raises(SpecError, match=message):
        summarize(tmp_path)


def test_a_pipeline_in_the_cache_reads_offline(pipeline, tmp_path, monkeypatch):
    from test_sources_hub import put

    folder, counts = pipeline
    cache, commit = tmp_path / "hub", "d" * 40
    repo = cache / "models--org--sd"
    for path in folder.rglob("*"):
        if path.is_file():
            put(repo, commit, path.relative_to(folder).as_posix(), path.read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    s = summarize("org/sd")
    assert s.total_params == sum(counts.values()) and s.meta["hub"]["from"] == "cache"
    assert {c.name: c.params for c in s.root.children if c.params} == counts
