"""timm's image models by name (``timm:resnet50.a1_in1k``) and from a timm config.json.

timm itself is not the oracle here: its wheel imports torchvision, and the torchvision wheels
that exist for torch 2.13 are built against CUDA torch and do not load beside the pinned CPU
build (``operator torchvision::nms does not exist``). The checks are, instead:

- published totals, exact: the figures torchvision's model documentation prints for the same
  architectures (timm's resnet, resnext, wide_resnet, vit, convnext, efficientnet,
  mobilenetv3 and swin match them layer for layer), and timm's own published figures where
  torchvision has no twin;
- timm's model cards' ``Params (M)``, rounded as they print them;
- transformers building its port of the same architecture on the meta device (ResNet, ViT,
  ConvNeXt, EfficientNet, Swin), total against total;
- a hand calculation of ViT-B/16, written out below.
"""

from __future__ import annotations

import json

import pytest
from test_sources_hf import our_counts

import paramcount
from paramcount.cli import main
from paramcount.errors import SpecError

#: exact totals published for these architectures (torchvision's docs; resnet50d, deit and
#: vit_small/tiny: timm's results tables)
PUBLISHED = {
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
    "resnet101": 44_549_160, "resnet152": 60_192_808, "resnext50_32x4d": 25_028_904,
    "resnext101_32x8d": 88_791_336, "wide_resnet50_2": 68_883_240,
    "wide_resnet101_2": 126_886_696, "resnet50d": 25_576_264,
    "vit_base_patch16_224": 86_567_656, "vit_base_patch32_224": 88_224_232,
    "vit_large_patch16_224": 304_326_632, "vit_large_patch32_224": 306_535_400,
    "vit_small_patch16_224": 22_050_664, "deit_tiny_patch16_224": 5_717_416,
    "convnext_tiny": 28_589_128, "convnext_small": 50_223_688, "convnext_base": 88_591_464,
    "convnext_large": 197_767_336, "efficientnet_b0": 5_288_548, "efficientnet_b1": 7_794_184,
    "efficientnet_b2": 9_109_994, "efficientnet_b3": 12_233_232,
    "efficientnet_b4": 19_341_616, "efficientnet_b5": 30_389_784,
    "efficientnet_b6": 43_040_704, "efficientnet_b7": 66_347_960,
    "mobilenetv3_large_100": 5_483_032, "mobilenetv3_small_100": 2_542_856,
    "swin_tiny_patch4_window7_224": 28_288_354, "swin_small_patch4_window7_224": 49_606_258,
    "swin_base_patch4_window7_224": 87_768_224,
}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_published_totals(name):
    assert paramcount.summarize(f"timm:{name}").total_params == PUBLISHED[name]


@pytest.mark.parametrize("name, millions", [
    # timm's model cards on the Hub, "Params (M)"
    ("resnet50.a1_in1k", 25.6), ("resnext50_32x4d.a1h_in1k", 25.0),
    ("vit_base_patch16_224.augreg2_in21k_ft_in1k", 86.6),
    ("vit_base_patch16_384.augreg_in21k_ft_in1k", 86.9),
    ("deit_base_distilled_patch16_224.fb_in1k", 87.3), ("convnext_nano.in12k_ft_in1k", 15.6),
    ("convnext_atto.d2_in1k", 3.7), ("efficientnet_b3.ra2_in1k", 12.2),
    ("vit_huge_patch14_224.orig_in21k", 630.8), ("mobilenetv3_large_100.ra_in1k", 5.5),
    ("swin_large_patch4_window7_224.ms_in22k_ft_in1k", 196.5),
    ("swin_base_patch4_window12_384.ms_in22k_ft_in1k", 87.9),
])
def test_model_cards(name, millions):
    fields = {"num_classes": 0} if name.endswith("orig_in21k") else {}  # that card's head: none
    total = paramcount.summarize(f"timm:{name}", params=fields).total_params
    assert round(total / 1e6, 1) == millions


def _transformers(cls: str, **config):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    with torch.device("meta"):
        model = getattr(transformers, f"{cls}ForImageClassification")(
            getattr(transformers, f"{cls}Config")(num_labels=1000, **config))
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name, cls, config", [
    ("resnet18", "ResNet", {"layer_type": "basic", "depths": [2, 2, 2, 2],
                            "hidden_sizes": [64, 128, 256, 512]}),
    ("resnet50", "ResNet", {}),
    ("resnet101", "ResNet", {"depths": [3, 4, 23, 3]}),
    ("vit_base_patch16_224", "ViT", {}),
    ("vit_large_patch16_384", "ViT", {"hidden_size": 1024, "num_hidden_layers": 24,
                                      "num_attention_heads": 16, "intermediate_size": 4096,
                                      "image_size": 384}),
    ("convnext_tiny", "ConvNext", {}),
    ("convnext_base", "ConvNext", {"hidden_sizes": [128, 256, 512, 1024],
                                   "depths": [3, 3, 27, 3]}),
    ("efficientnet_b7", "EfficientNet", {}),
    ("swin_tiny_patch4_window7_224", "Swin", {}),
    ("swin_base_patch4_window12_384", "Swin", {"embed_dim": 128, "depths": [2, 2, 18, 2],
                                               "num_heads": [4, 8, 16, 32], "window_size": 12,
                                               "image_size": 384}),
])
def test_equal_to_transformers_port(name, cls, config):
    assert paramcount.summarize(f"timm:{name}").total_params == _transformers(cls, **config)


def test_vit_base_by_hand():
    d, tokens, classes = 768, 14 * 14 + 1, 1000
    patch = 3 * 16 * 16 * d + d
    block = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d)
    total = patch + d + tokens * d + 12 * block + 2 * d + d * classes + classes
    assert paramcount.summarize("timm:vit_base_patch16_224").total_params == total == 86_567_656


@pytest.mark.parametrize("name, paths", [
    ("resnet50d", {"conv1.0", "conv1.6", "bn1", "layer1.0.downsample.1", "layer2.0.downsample.2",
                   "layer4.2.conv3", "fc"}),
    ("efficientnet_b0", {"conv_stem", "blocks.0.0.se.conv_reduce", "blocks.6.0.conv_pwl",
                         "conv_head", "bn2", "classifier"}),
    ("convnext_tiny", {"stem.0", "stages.1.downsample.1", "stages.3.blocks.2.gamma",
                       "stages.0.blocks.0.mlp.fc2", "head.norm", "head.fc"}),
    ("mobilenetv3_large_100", {"conv_stem", "blocks.0.0.conv_dw", "blocks.1.1.conv_pwl",
                               "blocks.2.0.se.conv_expand", "blocks.6.0.conv", "blocks.6.0.bn1",
                               "conv_head", "classifier"}),
    ("swin_tiny_patch4_window7_224", {"patch_embed.proj", "patch_embed.norm",
                                      "layers.1.downsample.reduction",
                                      "layers.3.blocks.1.attn.relative_position_bias_table",
                                      "norm", "head.fc"}),
    ("deit_tiny_distilled_patch16_224", {"cls_token", "dist_token", "pos_embed",
                                         "patch_embed.proj", "blocks.11.attn.qkv", "head",
                                         "head_dist"}),
])
def test_modules_are_named_as_timm_names_them(name, paths):
    assert paths <= set(our_counts(paramcount.summarize(f"timm:{name}").root))


def test_batch_norm_statistics_are_buffers():
    s = paramcount.summarize("timm:resnet18")
    # running mean and variance per channel, and one num_batches_tracked, per BatchNorm
    bn = [w for p, w in s.root.all_weights() if p.endswith("running_mean")]
    assert s.buffers == sum(2 * w.size + 1 for w in bn)


def test_a_timm_config_json(tmp_path):
    """A timm Hub repo's config.json: the architecture with its tag, classes, model_args."""
    doc = {"architecture": "vit_base_patch16_224", "num_classes": 10, "num_features": 768,
           "global_pool": "token", "model_args": {"img_size": 384},
           "pretrained_cfg": {"tag": "augreg_in21k", "input_size": [3, 384, 384]}}
    (tmp_path / "config.json").write_text(json.dumps(doc))
    s = paramcount.summarize(tmp_path)
    base = paramcount.summarize("timm:vit_base_patch16_224").total_params
    # 24×24 patches instead of 14×14 in the position embedding; 10 classes instead of 1000
    assert s.total_params == base + (24 * 24 - 14 * 14) * 768 - 990 * 768 - 990
    assert s.name == "vit_base_patch16_224" and s.meta["model_type"] == "timm"


def test_the_cli(capsys):
    assert main(["timm:convnext_tiny.in12k_ft_in1k", "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert "28,589,128" in out and "stages" in out


@pytest.mark.parametrize("source, message", [
    ("timm:resnet5", "timm model 'resnet5' is not one paramcount declares"),
    ("timm:regnety_040", "is not one paramcount declares"),
])
def test_errors(source, message):
    with pytest.raises(SpecError) as err:
        paramcount.summarize(source)
    assert message in str(err.value)


def test_an_unknown_name_suggests_the_closest(capsys):
    assert main(["timm:resnet5"]) == 2
    assert "did you mean 'resnet50'?" in capsys.readouterr().err


def test_a_bad_img_size():
    with pytest.raises(SpecError, match="model_args"):
        paramcount.summarize({"architecture": "vit_base_patch16_224",
                              "model_args": {"img_size": "big"}})


def _resnet18_tensors() -> dict[str, tuple[int, ...]]:
    """resnet18's state dict as timm (and torchvision) save it, written out by hand."""
    out: dict[str, tuple[int, ...]] = {"conv1.weight": (64, 3, 7, 7)}

    def bn(name: str, n: int) -> None:
        out.update({f"{name}.{k}": (n,) for k in ("weight", "bias", "running_mean",
                                                  "running_var")})
        out[f"{name}.num_batches_tracked"] = ()

    bn("bn1", 64)
    n_in = 64
    for i, width in enumerate((64, 128, 256, 512)):
        for j in range(2):
            p = f"layer{i + 1}.{j}"
            first = n_in if j == 0 else width
            out[f"{p}.conv1.weight"] = (width, first, 3, 3)
            out[f"{p}.conv2.weight"] = (width, width, 3, 3)
            bn(f"{p}.bn1", width)
            bn(f"{p}.bn2", width)
            if j == 0 and i > 0:
                out[f"{p}.downsample.0.weight"] = (width, n_in, 1, 1)
                bn(f"{p}.downsample.1", width)
        n_in = width
    out.update({"fc.weight": (1000, 512), "fc.bias": (1000,)})
    return out


def test_a_timm_repo_folder_takes_the_tree_of_its_config(tmp_path):
    """A timm repo as the Hub holds it (config.json, model.safetensors): the checkpoint's
    tensors are exactly the architecture's, so the tree is the config's."""
    np = pytest.importorskip("numpy")
    safetensors = pytest.importorskip("safetensors.numpy")
    tensors = {k: np.zeros(s, dtype=np.int64 if k.endswith("tracked") else np.float16)
               for k, s in _resnet18_tensors().items()}
    safetensors.save_file(tensors, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({
        "architecture": "resnet18", "num_classes": 1000, "num_features": 512,
        "pretrained_cfg": {"tag": "a1_in1k"}}))
    s = paramcount.summarize(tmp_path)
    assert s.total_params == 11_689_512 and s.name == "resnet18"
    assert any("holds exactly its weights" in n for n in s.notes)
