"""diffusers' models from their config.json alone (UNet2DConditionModel, AutoencoderKL,
SD3Transformer2DModel, FluxTransformer2DModel, PixArtTransformer2DModel), against diffusers
building the same model on the meta device: the total, the persistent buffers, and every
module's count (each node of our tree names a real module of the model, with as many parameters
under it). Released configs are written here field by field from the repos' config.json;
published totals are a second check. A pipeline folder of configs alone (model_index.json and
each component's config.json) is summed, and equals diffusers' and transformers' components
built on the meta device."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_sources_hf import module_counts, our_counts, persistent_buffers

import paramcount
from paramcount.cli import main
from paramcount.errors import SpecError

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")


def build_with_diffusers(cls: str, fields: dict[str, Any]) -> Any:
    with torch.device("meta"):
        return getattr(diffusers, cls)(**fields)


def check_against_diffusers(cls: str, fields: dict[str, Any]) -> paramcount.Summary:
    s = paramcount.summarize({"_class_name": cls, "_diffusers_version": "0.42.1", **fields})
    model = build_with_diffusers(cls, fields)
    theirs = module_counts(model)
    assert s.total_params == theirs[""] == sum(p.numel() for p in model.parameters())
    assert s.buffers == sum(persistent_buffers(model).values())
    ours = our_counts(s.root)
    known = set(dict(model.named_modules())) | set(persistent_buffers(model)) | {
        n for n, _ in model.named_parameters()}
    assert sorted(set(ours) - known) == []
    assert ours == {path: theirs.get(path, 0) for path in ours}
    return s


# -- released configs, as their repos' config.json write them -----------------------------------

SD15_UNET = {"sample_size": 64, "cross_attention_dim": 768}  # the rest are diffusers' defaults
SD2_UNET = {"sample_size": 96, "cross_attention_dim": 1024, "attention_head_dim": [5, 10, 20, 20],
            "use_linear_projection": True}
SDXL_UNET = {
    "sample_size": 128, "addition_embed_type": "text_time", "addition_time_embed_dim": 256,
    "projection_class_embeddings_input_dim": 2816, "attention_head_dim": [5, 10, 20],
    "block_out_channels": [320, 640, 1280], "cross_attention_dim": 2048,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    "transformer_layers_per_block": [1, 2, 10], "use_linear_projection": True}
SD_VAE = {"block_out_channels": [128, 256, 512, 512], "layers_per_block": 2,
          "down_block_types": ["DownEncoderBlock2D"] * 4,
          "up_block_types": ["UpDecoderBlock2D"] * 4, "sample_size": 512}
SD3_VAE = {**SD_VAE, "latent_channels": 16, "use_quant_conv": False,
           "use_post_quant_conv": False, "sample_size": 1024}
SD3_MEDIUM = {"num_layers": 24, "num_attention_heads": 24, "caption_projection_dim": 1536,
              "pos_embed_max_size": 192, "sample_size": 128}
SD35_MEDIUM = {**SD3_MEDIUM, "pos_embed_max_size": 384, "qk_norm": "rms_norm",
               "dual_attention_layers": list(range(13))}
SD35_LARGE = {"num_layers": 38, "num_attention_heads": 38, "caption_projection_dim": 2432,
              "pos_embed_max_size": 192, "qk_norm": "rms_norm"}
FLUX_DEV = {"guidance_embeds": True}  # the rest are diffusers' defaults
TINY_FLUX = {"num_layers": 2, "num_single_layers": 3, "num_attention_heads": 2,
             "attention_head_dim": 16, "joint_attention_dim": 32, "pooled_projection_dim": 24,
             "in_channels": 8, "axes_dims_rope": [4, 6, 6]}
TINY_UNET = {"block_out_channels": [8, 16], "layers_per_block": 1, "sample_size": 16,
             "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
             "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"], "cross_attention_dim": 12,
             "norm_num_groups": 4, "attention_head_dim": 2}
TINY_VAE = {"block_out_channels": [8, 16], "down_block_types": ["DownEncoderBlock2D"] * 2,
            "up_block_types": ["UpDecoderBlock2D"] * 2, "norm_num_groups": 4,
            "latent_channels": 2, "sample_size": 16}

CASES = {
    "sd15-unet": ("UNet2DConditionModel", SD15_UNET, 859_520_964),
    "sd2-unet": ("UNet2DConditionModel", SD2_UNET, 865_910_724),
    "sdxl-unet": ("UNet2DConditionModel", SDXL_UNET, 2_567_463_684),
    "tiny-unet": ("UNet2DConditionModel", TINY_UNET, None),
    "tiny-unet-switches": ("UNet2DConditionModel", {
        **TINY_UNET, "resnet_time_scale_shift": "scale_shift", "time_cond_proj_dim": 6,
        "conv_in_kernel": 1, "conv_out_kernel": 5, "layers_per_block": [2, 1],
        "transformer_layers_per_block": [2, 1], "downsample_padding": 0,
        "time_embedding_dim": 20, "mid_block_type": None, "out_channels": 3}, None),
    "tiny-unet-text-time": ("UNet2DConditionModel", {
        **TINY_UNET, "addition_embed_type": "text_time", "addition_time_embed_dim": 4,
        "projection_class_embeddings_input_dim": 20, "use_linear_projection": True,
        "mid_block_only_cross_attention": True, "upcast_attention": True,
        "reverse_transformer_layers_per_block": [[1, 3], [2, 1]]}, None),
    "sd-vae": ("AutoencoderKL", SD_VAE, 83_653_863),
    "sd3-flux-vae": ("AutoencoderKL", SD3_VAE, 83_819_683),
    "tiny-vae": ("AutoencoderKL", TINY_VAE, None),
    "tiny-vae-no-attention": ("AutoencoderKL", {**TINY_VAE, "mid_block_add_attention": False,
                                                "layers_per_block": 2}, None),
    "sd3-medium": ("SD3Transformer2DModel", SD3_MEDIUM, 2_028_328_000),
    "sd35-medium": ("SD3Transformer2DModel", SD35_MEDIUM, None),
    "sd35-large": ("SD3Transformer2DModel", SD35_LARGE, None),
    "tiny-sd3": ("SD3Transformer2DModel", {
        "num_layers": 3, "num_attention_heads": 2, "attention_head_dim": 8,
        "caption_projection_dim": 16, "joint_attention_dim": 12, "pooled_projection_dim": 10,
        "in_channels": 4, "out_channels": 4, "pos_embed_max_size": 8, "sample_size": 16,
        "dual_attention_layers": [0], "qk_norm": "layer_norm"}, None),
    "flux-dev": ("FluxTransformer2DModel", FLUX_DEV, 11_901_408_320),
    "flux-schnell": ("FluxTransformer2DModel", {}, None),
    "tiny-flux": ("FluxTransformer2DModel", TINY_FLUX, None),
    "pixart-alpha-1024": ("PixArtTransformer2DModel", {"caption_channels": 4096}, None),
    "pixart-sigma-1024": ("PixArtTransformer2DModel", {
        "caption_channels": 4096, "use_additional_conditions": False, "interpolation_scale": 2},
        None),
    # PixArt-XL-2-1024-MS's transformer/config.json names the older class
    "pixart-alpha-legacy": ("Transformer2DModel", {
        "activation_fn": "gelu-approximate", "attention_bias": True, "attention_head_dim": 72,
        "caption_channels": 4096, "cross_attention_dim": 1152, "in_channels": 4,
        "norm_elementwise_affine": False, "norm_eps": 1e-06, "norm_num_groups": 32,
        "norm_type": "ada_norm_single", "num_attention_heads": 16, "num_embeds_ada_norm": 1000,
        "num_layers": 28, "out_channels": 8, "patch_size": 2, "sample_size": 128,
        "use_additional_conditions": None}, 611_349_152),
    "tiny-pixart": ("PixArtTransformer2DModel", {
        "num_layers": 2, "num_attention_heads": 2, "attention_head_dim": 8,
        "cross_attention_dim": 12, "caption_channels": 10, "sample_size": 16,
        "attention_bias": False, "out_channels": None}, None),
}


@pytest.mark.parametrize("name", list(CASES))
def test_diffusers_models_equal_diffusers(name):
    cls, fields, published = CASES[name]
    s = check_against_diffusers(cls, fields)
    assert s.name == cls and "fallback" not in s.meta
    if published is not None:
        assert s.total_params == published


def test_published_totals():
    """Second check, figures the model cards and papers print: SD 1.5's UNet 860M, SDXL's
    2.6B, Flux 12B, SD3 Medium 2B, SD3.5 Large 8.1B, PixArt-α 0.6B (rounded as they print
    them)."""
    rounded = {"sd15-unet": (860, 6), "sdxl-unet": (26, 8), "flux-dev": (12, 9),
               "sd3-medium": (2, 9), "sd35-large": (81, 8), "pixart-alpha-1024": (6, 8)}
    for name, (figure, digits) in rounded.items():
        cls, fields, _ = CASES[name]
        total = paramcount.summarize({"_class_name": cls, **fields}).total_params
        assert round(total / 10**digits) == figure, name


def test_flux_dev_is_schnell_and_a_guidance_embedder():
    """By hand: the guidance embedder is two linear layers, 256 -> 3072 -> 3072, with biases."""
    dev, schnell = (paramcount.summarize({"_class_name": "FluxTransformer2DModel", **f})
                    for f in (FLUX_DEV, {}))
    assert dev.total_params - schnell.total_params == (256 + 1) * 3072 + (3072 + 1) * 3072


def test_a_config_json_file_and_the_cli(tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"_class_name": "AutoencoderKL", "_diffusers_version": "0.30.0",
                                **SD_VAE}))
    assert paramcount.summarize(path).total_params == 83_653_863
    assert main([str(path), "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert "83,653,863" in out and "encoder" in out


@pytest.mark.parametrize("doc, message", [
    ({"_class_name": "UNet2DModel"},
     "diffusers class 'UNet2DModel' is not one paramcount counts from its config.json"),
    ({"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"]},
     "is a pipeline: count its folder or repo"),
    ({"_class_name": "UNet2DConditionModel", "down_block_types": ["AttnDownBlock2D"] * 4},
     "down_block_types=['AttnDownBlock2D', "),
    ({"_class_name": "UNet2DConditionModel", "class_embed_type": "timestep"},
     "class_embed_type='timestep' is not counted by paramcount (it declares None)"),
    ({"_class_name": "UNet2DConditionModel", "layers_per_block": [1, 2]},
     "layers_per_block=[1, 2] has 2 values for 4 blocks"),
    ({"_class_name": "AutoencoderKL", "block_out_channels": [8, 16]},
     "down_block_types=['DownEncoderBlock2D'] is not 2 × DownEncoderBlock2D"),
    ({"_class_name": "SD3Transformer2DModel", "qk_norm": "l2"},
     "qk_norm='l2' is not counted by paramcount"),
    ({"_class_name": 3}, "_class_name=3 is not a class name"),
    ({"_class_name": "Transformer2DModel", "in_channels": 4},
     "patch_size=None leaves a Transformer2DModel that paramcount does not count"),
    ({"_class_name": "UNet2DConditionModel", "only_cross_attention": True},
     "only_cross_attention=True is not counted by paramcount (it declares False)"),
    ({"_class_name": "UNet2DConditionModel", "attention_head_dim": [8, "x", 8, 8]},
     "attention_head_dim=[8, 'x', 8, 8] is not a positive integer or one per block"),
])
def test_errors(doc, message):
    with pytest.raises(SpecError) as err:
        paramcount.summarize(doc)
    assert message in str(err.value)


# -- a pipeline of configs alone ---------------------------------------------------------------

def _clip(projection: bool, **fields: Any) -> tuple[Any, str]:
    config = transformers.CLIPTextConfig(**fields)
    config.architectures = ["CLIPTextModel"]
    cls = "CLIPTextModelWithProjection" if projection else "CLIPTextModel"
    return config, cls


def _t5(**fields: Any) -> tuple[Any, str]:
    config = transformers.T5Config(**fields)
    config.architectures = ["T5EncoderModel"]
    return config, "T5EncoderModel"


def _pipeline(folder: Path, name: str, parts: dict[str, tuple[str, Any, Any]]) -> int:
    """Write model_index.json and each component's config.json (as diffusers and transformers
    save them); return the sum of the components built on the meta device."""
    index: dict[str, Any] = {"_class_name": name, "_diffusers_version": "0.42.1",
                             "scheduler": ["diffusers", "EulerDiscreteScheduler"]}
    total = 0
    for part, (library, cls, config) in parts.items():
        index[part] = [library, cls]
        with torch.device("meta"):
            model = getattr(diffusers, cls)(**config) if library == "diffusers" \
                else getattr(transformers, cls)(config)
        total += sum(p.numel() for p in model.parameters())
        if library == "diffusers":
            model.save_config(folder / part)
        else:
            config.save_pretrained(folder / part)
    (folder / "model_index.json").write_text(json.dumps(index))
    return total


def test_an_sd15_like_pipeline_of_configs_is_summed(tmp_path):
    clip, cls = _clip(False, hidden_size=768, intermediate_size=3072, num_attention_heads=12,
                      num_hidden_layers=12, projection_dim=768)
    total = _pipeline(tmp_path, "StableDiffusionPipeline", {
        "unet": ("diffusers", "UNet2DConditionModel", SD15_UNET),
        "vae": ("diffusers", "AutoencoderKL", SD_VAE),
        "text_encoder": ("transformers", cls, clip)})
    s = paramcount.summarize(tmp_path)
    assert s.total_params == total == 859_520_964 + 83_653_863 + 123_060_480
    assert not s.lower_bound
    assert {k: v["from"] for k, v in s.meta["components"].items()} == {
        "scheduler": "none", "unet": "config", "vae": "config", "text_encoder": "config"}


def test_an_sdxl_like_pipeline_of_configs_is_summed(tmp_path):
    clip, cls = _clip(False, hidden_size=768, intermediate_size=3072, num_attention_heads=12,
                      num_hidden_layers=12, projection_dim=768)
    big, cls2 = _clip(True, hidden_size=1280, intermediate_size=5120, num_attention_heads=20,
                      num_hidden_layers=32, projection_dim=1280, hidden_act="gelu")
    total = _pipeline(tmp_path, "StableDiffusionXLPipeline", {
        "unet": ("diffusers", "UNet2DConditionModel", SDXL_UNET),
        "vae": ("diffusers", "AutoencoderKL", {**SD_VAE, "sample_size": 1024}),
        "text_encoder": ("transformers", cls, clip),
        "text_encoder_2": ("transformers", cls2, big)})
    s = paramcount.summarize(tmp_path)
    assert s.total_params == total and not s.lower_bound
    assert s.figures["unet params"] == 2_567_463_684


def test_a_flux_like_pipeline_of_configs_is_summed(tmp_path):
    """Flux at a tiny size (a T5 encoder of released size would only cost time)."""
    clip, cls = _clip(False, hidden_size=24, intermediate_size=48, num_attention_heads=2,
                      num_hidden_layers=2, projection_dim=24, vocab_size=100)
    t5, cls2 = _t5(d_model=32, d_ff=64, num_layers=2, num_heads=2, d_kv=16, vocab_size=100,
                   feed_forward_proj="gated-gelu")
    total = _pipeline(tmp_path, "FluxPipeline", {
        "transformer": ("diffusers", "FluxTransformer2DModel", {**TINY_FLUX, "guidance_embeds":
                                                                True}),
        "vae": ("diffusers", "AutoencoderKL", {**TINY_VAE, "use_quant_conv": False,
                                               "use_post_quant_conv": False}),
        "text_encoder": ("transformers", cls, clip),
        "text_encoder_2": ("transformers", cls2, t5)})
    s = paramcount.summarize(tmp_path)
    assert s.total_params == total and not s.lower_bound
    assert set(s.figures) == {f"{p} params" for p in ("transformer", "vae", "text_encoder",
                                                     "text_encoder_2")}
