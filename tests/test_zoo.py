"""The built-in zoo against the real frameworks building the same architectures.

Keras-convention entries are compared with keras.applications (weights=None), layer by layer;
GPT-3 sizes with transformers' GPT-2 on the meta device; the torchvision-convention ResNet-50
with the same architecture written in torch.nn. Published figures are a second check.
"""

from __future__ import annotations

import math

import pytest

from paramcount import zoo

KERAS_APPS = [  # zoo name, keras.applications constructor, include_top
    ("resnet50", "ResNet50", True),
    ("resnet50-notop", "ResNet50", False),
    ("vgg16", "VGG16", True),
    ("vgg16-notop", "VGG16", False),
    ("mobilenetv2", "MobileNetV2", True),
    ("mobilenetv2-notop", "MobileNetV2", False),
]


def _numel(weights) -> int:
    return sum(math.prod(w.shape) for w in weights)


@pytest.mark.slow
@pytest.mark.parametrize("name, constructor, top", KERAS_APPS)
def test_keras_applications(name, constructor, top):
    import keras

    keras.backend.clear_session()  # Keras's automatic names count from zero again
    model = getattr(keras.applications, constructor)(weights=None, include_top=top,
                                                     input_shape=(224, 224, 3))
    s = zoo.load(name)
    assert s.total_params == model.count_params()
    assert s.trainable_params == _numel(model.trainable_weights)
    assert s.non_trainable_params == _numel(model.non_trainable_weights)
    ours = {node.name: (node.params, node.output_shape)
            for _, node in s.root.walk() if node.layer is not None}
    theirs = {layer.name: (layer.count_params(), tuple(layer.output.shape)[1:])
              for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)}
    assert ours == theirs


@pytest.mark.parametrize("name, total, trainable, frozen", [
    ("resnet50", 25_636_712, 25_583_592, 53_120),   # keras.io/api/applications
    ("resnet50-notop", 23_587_712, None, None),
    ("vgg16", 138_357_544, None, None),
    ("mobilenetv2", 3_538_984, None, 34_112),
])
def test_published_figures(name, total, trainable, frozen):
    s = zoo.load(name)
    assert s.total_params == total
    assert trainable is None or s.trainable_params == trainable
    assert frozen is None or s.non_trainable_params == frozen


def test_no_top_flag_equals_notop_variant():
    assert zoo.load("resnet50", params={"include_top": False}).total_params == \
        zoo.load("resnet50-notop").total_params


GPT3 = {  # the GPT-3 paper's Table 2.1: layers, d_model, heads, d_head, and its rounded size
    "gpt3-125m": (12, 768, 12, 64, 125e6),
    "gpt3-350m": (24, 1024, 16, 64, 350e6),
    "gpt3-760m": (24, 1536, 16, 96, 760e6),
    # the table gives XL 24 heads of 128, which is not its d_model 2048; its 1.3B figure is an
    # attention width of 2048, which the zoo builds as 16 heads of 128
    "gpt3-1.3b": (24, 2048, 16, 128, 1.3e9),
    "gpt3-2.7b": (32, 2560, 32, 80, 2.7e9),
    "gpt3-6.7b": (32, 4096, 32, 128, 6.7e9),
    "gpt3-13b": (40, 5140, 40, 128, 13.0e9),
    "gpt3-175b": (96, 12288, 96, 128, 175.0e9),
}


def _gpt2_on_meta(layers: int, d_model: int, heads: int) -> int:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(n_layer=layers, n_embd=d_model, n_head=heads, vocab_size=50257,
                        n_positions=2048)
    with torch.device("meta"):
        model = GPT2LMHeadModel(config)
    return sum(p.numel() for p in model.parameters())  # the tied LM head is counted once


@pytest.mark.parametrize("name", [n for n in GPT3 if n != "gpt3-13b"])
def test_gpt3_equals_transformers_gpt2(name):
    layers, d_model, heads, d_head, _ = GPT3[name]
    assert d_model == heads * d_head
    assert zoo.load(name).total_params == _gpt2_on_meta(layers, d_model, heads)


def test_gpt3_175b_exact():
    assert zoo.load("gpt3-175b").total_params == 174_604_259_328


def test_gpt3_13b_by_hand():
    # d_model 5140 is not 40 heads × 128, so no GPT-2 can be built; count it by hand:
    # attention projections q, k, v (d × h·dh + h·dh each) and output (h·dh × d + d),
    # MLP d × 4d + 4d and 4d × d + d, two LayerNorms of 2d; then embeddings and final norm.
    n, d, h, dh = 40, 5140, 40, 128
    attention = 3 * (d * h * dh + h * dh) + h * dh * d + d
    block = attention + (d * 4 * d + 4 * d) + (4 * d * d + d) + 2 * 2 * d
    total = n * block + 50257 * d + 2048 * d + 2 * d
    assert zoo.load("gpt3-13b").total_params == total


@pytest.mark.parametrize("name", list(GPT3))
def test_gpt3_sizes_round_to_the_paper(name):
    published = GPT3[name][-1]
    assert abs(zoo.load(name).total_params - published) / published < 0.03


def _torchvision_resnet50():
    """torchvision.models.resnet50's architecture, written with torch.nn (torchvision itself
    is not installable beside the pinned CPU torch)."""
    from torch import nn

    class Bottleneck(nn.Module):
        def __init__(self, inplanes: int, width: int, stride: int, downsample: bool) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(width * 4)
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, width * 4, 1, stride, bias=False),
                nn.BatchNorm2d(width * 4)) if downsample else None

    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)]
    inplanes = 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            layers.append(Bottleneck(inplanes, width, stride if i == 0 else 1, i == 0))
            inplanes = width * 4
    layers.append(nn.Linear(2048, 1000))
    return nn.Sequential(*layers)


def test_resnet50_torchvision_convention():
    model = _torchvision_resnet50()
    s = zoo.load("resnet50-torchvision")
    assert s.total_params == sum(p.numel() for p in model.parameters())
    assert s.buffers == sum(b.numel() for b in model.buffers())
    assert s.total_params == 25_557_032  # torchvision's documented figure
    assert s.non_trainable_params == 0
    assert s.layers[-1].output_shape == (1000,)


def test_listing_names_every_entry():
    text = zoo.listing()
    for name in ("resnet50", "resnet50-torchvision", "vgg16", "mobilenetv2", "gpt3-175b"):
        assert name in text
