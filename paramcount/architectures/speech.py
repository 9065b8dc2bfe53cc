"""Self-supervised speech encoders: wav2vec 2.0, HuBERT and WavLM.

One module for their shared structure, which no text or vision family has: a stack of 1-D
convolutions over the raw waveform (``conv_dim``, ``conv_kernel``; a GroupNorm after the first
when ``feat_extract_norm`` is "group", a LayerNorm after each when it is "layer"), a projection
to the hidden size, a convolutional relative position embedding stored under weight
normalization (``parametrizations.weight.original0`` is its norm, ``original1`` its direction),
and a transformer encoder. The three differ as rows of ``_KINDS``: HuBERT may drop the
projection's norm; WavLM's attention adds a gated relative-position bias (a bucket table in
the first layer, a gate in every layer). The heads: CTC (``lm_head``) and utterance
classification (``projector`` and ``classifier``, with learned layer weights when
``use_weighted_layer_sum``).
"""

from __future__ import annotations

from dataclasses import dataclass

from paramcount.architectures import Unsupported, register
from paramcount.architectures.config import Config
from paramcount.architectures.parts import (
    Roles,
    attends,
    blocks,
    conv,
    embedding,
    group_norm,
    linear,
    module,
    norm,
    parameter,
    settles,
    stack,
)
from paramcount.layers import Weight
from paramcount.tree import Compute, Node

_HEADS = ("ForCTC", "Model", "ForSequenceClassification")


@dataclass(frozen=True)
class _Kind:
    prefix: str
    path: str
    projection_norm_field: str | None = None  # HuBERT's switch for the projection's norm
    gated_bias: bool = False                  # WavLM's relative-position bias


_KINDS = {"Wav2Vec2": _Kind("Wav2Vec2", "wav2vec2"),
          "Hubert": _Kind("Hubert", "hubert", projection_norm_field="feat_proj_layer_norm"),
          "WavLM": _Kind("WavLM", "wavlm", gated_bias=True)}


def _features(c: Config) -> Node:
    """The convolutional feature encoder over the waveform."""
    dims = c.ints("conv_dim", default=(512,) * 7)
    kernels = c.ints("conv_kernel", default=(10, 3, 3, 3, 3, 2, 2))
    strides = c.ints("conv_stride", default=(5, 2, 2, 2, 2, 2, 2))
    if not dims or not len(dims) == len(kernels) == len(strides):
        raise c.error("conv_dim", list(dims), "does not match conv_kernel and conv_stride in "
                      "length")
    kind = c.str("feat_extract_norm", default="group")
    if kind not in ("group", "layer"):
        raise c.error("feat_extract_norm", kind, "is not 'group' or 'layer'")
    bias = c.bool("conv_bias", default=False)
    layers = []
    for i, (n_out, k, s) in enumerate(zip(dims, kernels, strides, strict=True)):
        n_in = 1 if i == 0 else dims[i - 1]
        parts = [conv("conv", n_in, n_out, (k,), (n_in, None), stride=s, bias=bias)]
        if kind == "layer":
            parts.append(norm("layer_norm", n_out))
        elif i == 0:  # one group per channel, on the first convolution only
            parts.append(group_norm("layer_norm", n_out, n_out))
        layers.append(module(str(i), "FeatureEncoderLayer", parts, n_out))
    return module("feature_extractor", "FeatureEncoder", [stack("conv_layers", layers)])


def _position(c: Config, h: int) -> Node:
    """The positional convolution: grouped, its weight split by weight normalization."""
    k = c.int("num_conv_pos_embeddings", default=128)
    groups = c.int("num_conv_pos_embedding_groups", default=16)
    if h % groups:
        raise c.error("num_conv_pos_embedding_groups", groups, f"does not divide hidden_size={h}")
    if c.bool("conv_pos_batch_norm", default=False):
        raise Unsupported(f"{c.model_type} config: conv_pos_batch_norm is not one paramcount "
                          "declares")
    weights = (Weight("bias", (h,)), Weight("parametrizations.weight.original0", (1, 1, k)),
               Weight("parametrizations.weight.original1", (h, h // groups, k)))
    # each output position: h outputs, each of h / groups channels × k taps
    return module("pos_conv_embed", "PositionalConvEmbedding", [
        Node("conv", "Conv1d", (h, None), weights, remark="weight-normalized",
             compute=Compute(per_token=h * (h // groups) * k))], h)


def _encoder(c: Config, kind: _Kind, h: int) -> Node:
    heads = c.int("num_attention_heads", default=12)
    d = c.head_dim(h, heads)
    inner = c.int("intermediate_size", default=3072)
    buckets = c.int("num_buckets", default=320)

    def block(i: int) -> Node:
        attn = [linear(p, h, h) for p in ("k_proj", "v_proj", "q_proj", "out_proj")]
        if kind.gated_bias:
            attn += [parameter("gru_rel_pos_const", (1, heads, 1, 1)),
                     linear("gru_rel_pos_linear", d, 8)]
            if i == 0:  # the bucket table lives in the first layer, shared by the others
                attn.append(embedding("rel_attn_embed", buckets, heads))
        return module(str(i), f"{kind.prefix}EncoderLayer", [
            attends(module("attention", f"{kind.prefix}Attention", attn, h), heads, d, h,
                    cached=False),
            norm("layer_norm", h),
            module("feed_forward", f"{kind.prefix}FeedForward", [
                linear("intermediate_dense", h, inner), linear("output_dense", inner, h)], h),
            norm("final_layer_norm", h)], h)

    n = c.layers("num_hidden_layers", default=12)
    layers = stack("layers", blocks(n, settles(1, lambda i: kind.gated_bias and i == 0), block), h)
    return module("encoder", f"{kind.prefix}Encoder", [_position(c, h), norm("layer_norm", h),
                                                       layers], h)


def _body(c: Config, kind: _Kind, name: str) -> Node:
    if c.bool("add_adapter", default=False) or c.int("adapter_attn_dim", default=None):
        raise Unsupported(f"{c.model_type} config: adapters (add_adapter, adapter_attn_dim) "
                          "are not declared by paramcount")
    h = c.int("hidden_size", default=768)
    last = c.ints("conv_dim", default=(512,) * 7)[-1:] or (512,)
    projection = [linear("projection", last[0], h)]
    if kind.projection_norm_field is None or c.bool(kind.projection_norm_field, default=True):
        projection.insert(0, norm("layer_norm", last[0]))
    parts = [_features(c), module("feature_projection", "FeatureProjection", projection, h),
             _encoder(c, kind, h)]
    masked = [c.raw(f, default=p) for f, p in (("mask_time_prob", 0.05),
                                                ("mask_feature_prob", 0.0))]
    if any(isinstance(p, int | float) and p > 0 for p in masked):  # SpecAugment's mask vector
        parts.insert(0, parameter("masked_spec_embed", (h,)))
    return module(name, f"{kind.prefix}Model", parts, h)


def _speech(c: Config, head: str, roles: Roles, kind: _Kind) -> Node:
    if head == "Model":
        return _body(c, kind, "")
    body = _body(c, kind, kind.path)
    h = c.int("hidden_size", default=768)
    if head == "ForCTC":
        vocab = c.int("vocab_size", default=32)
        return module("", head, [body, linear("lm_head", h, vocab)])
    proj = c.int("classifier_proj_size", default=256)
    parts = [body, linear("projector", h, proj), linear("classifier", proj, c.num_labels(),
                                                        length=1)]
    if c.bool("use_weighted_layer_sum", default=False):
        n = c.layers("num_hidden_layers", default=12)
        parts.insert(0, parameter("layer_weights", (n + 1,)))  # the embedding and each layer
    return module("", head, parts)


@register("wav2vec2", "Wav2Vec2", _HEADS)
def wav2vec2(c: Config, head: str, roles: Roles) -> Node:
    return _speech(c, head, roles, _KINDS["Wav2Vec2"])


@register("hubert", "Hubert", _HEADS)
def hubert(c: Config, head: str, roles: Roles) -> Node:
    return _speech(c, head, roles, _KINDS["Hubert"])


@register("wavlm", "WavLM", _HEADS)
def wavlm(c: Config, head: str, roles: Roles) -> Node:
    return _speech(c, head, roles, _KINDS["WavLM"])
