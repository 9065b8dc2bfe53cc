"""Which family module registers each layer name, so that a lookup imports one family, not all.

``FAMILIES`` is generated from the registry itself (``python -m paramcount.layers.index``
rewrites this file); a test fails when a family registers a name the index does not list.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: every family module of paramcount.layers that registers layer types
MODULES = ("activations", "attention", "conv", "conv_depthwise", "core", "merging",
           "normalization", "pooling", "preprocessing", "recurrent", "reshaping", "reversible",
           "scoring", "transformer", "wrappers")

# -- generated: begin
_NAMES = {
    "activations": ("Activation", "ActivityRegularization", "AlphaDropout", "CELU", "Dropout",
        "Dropout1d", "Dropout2d", "Dropout3d", "ELU", "FeatureAlphaDropout", "GELU",
        "GaussianDropout", "GaussianNoise", "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh",
        "Identity", "LeakyReLU", "LogSigmoid", "LogSoftmax", "Masking", "Mish", "RReLU", "ReLU",
        "ReLU6", "SELU", "SiLU", "Sigmoid", "Softmax", "Softmin", "Softplus", "Softshrink",
        "Softsign", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "Tanh",
        "Tanhshrink",),
    "attention": ("GroupQueryAttention", "GroupedQueryAttention", "MultiHeadAttention",
        "MultiheadAttention",),
    "conv": ("Conv1D", "Conv1DTranspose", "Conv1d", "Conv2D", "Conv2DTranspose", "Conv2d",
        "Conv3D", "Conv3DTranspose", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
        "ConvTranspose3d", "Convolution1D", "Convolution1DTranspose", "Convolution2D",
        "Convolution2DTranspose", "Convolution3D", "Convolution3DTranspose", "LazyConv1d",
        "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
        "LazyConvTranspose3d",),
    "conv_depthwise": ("DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
        "SeparableConvolution1D", "SeparableConvolution2D",),
    "core": ("Dense", "EinsumDense", "Embedding", "LazyLinear", "LearnedPositionEmbedding",
        "Linear", "PReLU", "PositionEmbedding",),
    "merging": ("Add", "Average", "Concatenate", "Dot", "Maximum", "Minimum", "Multiply",
        "Subtract",),
    "normalization": ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "BatchNormalization",
        "GroupNorm", "GroupNormalization", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
        "InstanceNormalization", "LayerNorm", "LayerNormalization", "RMSNorm", "RMSNormalization",
        "UnitNormalization",),
    "pooling": ("AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D",
        "AdaptiveAveragePooling3D", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
        "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "AdaptiveMaxPooling1D",
        "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D", "AveragePooling1D", "AveragePooling2D",
        "AveragePooling3D", "AvgPool1D", "AvgPool1d", "AvgPool2D", "AvgPool2d", "AvgPool3D",
        "AvgPool3d", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
        "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D", "GlobalMaxPool1D",
        "GlobalMaxPool2D", "GlobalMaxPool3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
        "GlobalMaxPooling3D", "MaxPool1D", "MaxPool1d", "MaxPool2D", "MaxPool2d", "MaxPool3D",
        "MaxPool3d", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D",),
    "preprocessing": ("AugMix", "AutoContrast", "CenterCrop", "CustomScaleLayer", "CutMix",
        "Equalization", "LayerScale", "MixUp", "Normalization", "RandAugment", "RandomBrightness",
        "RandomColorDegeneration", "RandomColorJitter", "RandomContrast", "RandomCrop",
        "RandomElasticTransform", "RandomErasing", "RandomFlip", "RandomGaussianBlur",
        "RandomGrayscale", "RandomHue", "RandomInvert", "RandomPerspective",
        "RandomPosterization", "RandomRotation", "RandomSaturation", "RandomSharpness",
        "RandomShear", "RandomTranslation", "RandomZoom", "Rescaling", "Resizing",
        "SlicingOpLambda", "Solarization", "StochasticDepth", "TFOpLambda",),
    "recurrent": ("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "GRU", "GRUCell", "LSTM", "LSTMCell",
        "RNN", "RNNCell", "SimpleRNN",),
    "reshaping": ("CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad1d",
        "ConstantPad2d", "ConstantPad3d", "Cropping1D", "Cropping2D", "Cropping3D", "Flatten",
        "Permute", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "RepeatVector",
        "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "Reshape", "Unflatten",
        "UpSampling1D", "UpSampling2D", "UpSampling3D", "Upsample", "UpsamplingBilinear2d",
        "UpsamplingNearest2d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ZeroPadding1D",
        "ZeroPadding2D", "ZeroPadding3D",),
    "reversible": ("ReversibleEmbedding",),
    "scoring": ("AdditiveAttention", "Attention",),
    "transformer": ("TransformerDecoderLayer", "TransformerEncoderLayer",),
    "wrappers": ("Bidirectional", "TimeDistributed",),
}
# -- generated: end

#: layer name -> the family module that registers it
FAMILIES = {name: module for module, names in _NAMES.items() for name in names}


def generate() -> dict[str, list[str]]:
    """The family of every registered name, read from the registry after importing them all."""
    from importlib import import_module

    from paramcount.layers.base import _REGISTRY

    for module in MODULES:
        import_module(f"paramcount.layers.{module}")
    out: dict[str, list[str]] = {}
    for name, entry in _REGISTRY.items():
        out.setdefault(entry.cls.__module__.rsplit(".", 1)[-1], []).append(name)
    return {module: sorted(out[module]) for module in sorted(out)}


def _source(names: dict[str, list[str]]) -> str:
    import textwrap

    lines = ["_NAMES = {"]
    for module, listed in names.items():
        body = ", ".join(f'"{n}"' for n in listed)
        lines += textwrap.wrap(f'"{module}": ({body},),', 98, initial_indent="    ",
                               subsequent_indent="        ", break_on_hyphens=False)
    return "\n".join([*lines, "}"])


def rewrite(path: Path = Path(__file__)) -> None:
    """Write the generated table into this file."""
    text = path.read_text()
    head, rest = text.split("# -- generated: begin\n", 1)
    _, tail = rest.split("# -- generated: end\n", 1)
    path.write_text(f"{head}# -- generated: begin\n{_source(generate())}\n"
                    f"# -- generated: end\n{tail}")


if __name__ == "__main__":
    rewrite()
    sys.exit(0)
