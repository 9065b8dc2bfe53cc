"""The modules diffusers' models are made of, each declared as the weight tensors it creates.

Named as diffusers names them (``resnets.0.conv1``, ``attn.to_q``, ``ff.net.0.proj``), with
PyTorch's shapes, so a tree built from a diffusers ``config.json`` reads as the model diffusers
builds from it. Images are channels-first ``(channels, height, width)``; a side that the config
does not fix is ``None`` (the parameters do not depend on it).
"""

from __future__ import annotations

from typing import Any

from paramcount.architectures.config import Config
from paramcount.architectures.parts import conv, group_norm, linear, module, norm
from paramcount.errors import SpecError
from paramcount.tree import Node

Image = tuple[int, int | None, int | None]


def image(c: Config, channels: int, default: int | None) -> Image:
    """The input's ``(channels, height, width)``: ``sample_size`` as one side or two."""
    value = c.raw("sample_size")
    if value is None and default is None:
        return channels, None, None
    height, width = c.pair("sample_size", default or 1)
    return channels, height, width


def per_block(c: Config, name: str, default: int, count: int, nested: bool = False
              ) -> list[Any]:
    """A positive integer given once for all blocks or once per block (``layers_per_block``);
    ``nested``: a block's value may be a list, one per layer of the block."""
    value = c.raw(name, default=default)
    values = list(value) if isinstance(value, list | tuple) else [value] * count
    if len(values) != count:
        raise c.error(name, value, f"has {len(values)} values for {count} blocks")
    for v in values:
        inner = v if nested and isinstance(v, list) else [v]
        if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 1 for i in inner):
            raise c.error(name, value, "is not a positive integer or one per block")
    return values


def only(c: Config, name: str, allowed: tuple[object, ...], default: object) -> object:
    """A switch paramcount declares only some values of; another is one clear error."""
    value = c.raw(name, default=default)
    if value not in allowed:
        shown = ", ".join(repr(a) for a in allowed)
        raise SpecError(f"{c.model_type} config: {name}={value!r} is not counted by paramcount "
                        f"(it declares {shown})")
    return value


# -- convolutional parts ---------------------------------------------------------------------

def conv3(name: str, n_in: int, n_out: int, at: Image, stride: int = 1, padding: int = 1
          ) -> Node:
    """``nn.Conv2d(n_in, n_out, 3, stride, padding)`` on an image of ``at``'s sides."""
    return conv(name, n_in, n_out, (3, 3), (n_in, *at[1:]), stride=stride, padding=padding)


def resnet(name: str, n_in: int, n_out: int, at: Image, groups: int, temb: int | None,
           shift: str = "default") -> Node:
    """``ResnetBlock2D``: two GroupNorm + 3×3 convolutions, the time embedding projected in
    between (twice as wide for ``scale_shift``), a 1×1 shortcut when the width changes."""
    inside = (n_out, *at[1:])
    items = [group_norm("norm1", groups, n_in), conv3("conv1", n_in, n_out, at)]
    if temb is not None:
        items.append(linear("time_emb_proj", temb, n_out * (2 if shift == "scale_shift" else 1),
                            length=1))
    items += [group_norm("norm2", groups, n_out), conv3("conv2", n_out, n_out, inside)]
    if n_in != n_out:
        items.append(conv("conv_shortcut", n_in, n_out, (1, 1), (n_in, *at[1:])))
    return module(name, "ResnetBlock2D", items, n_out)


def downsample(channels: int, at: Image, padding: int) -> tuple[Node, Image]:
    """``downsamplers``: one ``Downsample2D``, a 3×3 convolution of stride 2."""
    op = conv3("conv", channels, channels, at, stride=2, padding=padding)
    out = op.output_shape if op.output_shape is not None else at
    return module("downsamplers", "ModuleList", [module("0", "Downsample2D", [op])]), \
        (channels, out[1], out[2])


def upsample(channels: int, at: Image) -> tuple[Node, Image]:
    """``upsamplers``: one ``Upsample2D``, nearest ×2 then a 3×3 convolution."""
    h, w = (None if s is None else 2 * s for s in at[1:])
    op = conv3("conv", channels, channels, (channels, h, w))
    return module("upsamplers", "ModuleList", [module("0", "Upsample2D", [op])]), (channels, h, w)


def positions(at: Image) -> int | None:
    return None if at[1] is None or at[2] is None else at[1] * at[2]


# -- transformer parts -----------------------------------------------------------------------

def attention(name: str, query: int, heads: int, head_dim: int, *, cross: int | None = None,
              bias: bool = False, out_dim: int | None = None, added: int | None = None,
              context_pre_only: bool | None = None, pre_only: bool = False,
              qk_norm: str | None = None, groups: int | None = None,
              type_name: str = "Attention") -> Node:
    """diffusers' ``Attention`` (and Flux's ``FluxAttention``): query, key and value
    projections (keys and values from ``cross`` features in cross-attention), an output
    projection; a joint (MMDiT) attention also projects the text stream (``added``)."""
    inner = out_dim if out_dim is not None else heads * head_dim
    items = [group_norm("group_norm", groups, query)] if groups is not None else []
    items += _qk_norms("norm_q", "norm_k", qk_norm, head_dim)
    items += [linear("to_q", query, inner, bias), linear("to_k", cross or query, inner, bias),
              linear("to_v", cross or query, inner, bias)]
    if added is not None:
        items += [linear("add_k_proj", added, inner), linear("add_v_proj", added, inner)]
        if context_pre_only is not None:
            items.append(linear("add_q_proj", added, inner))
        items += _qk_norms("norm_added_q", "norm_added_k", qk_norm, head_dim)
    if not pre_only:
        items.append(module("to_out", "ModuleList", [linear("0", inner, out_dim or query)]))
    if context_pre_only is False:
        items.append(linear("to_add_out", inner, query))
    return module(name, type_name, items, out_dim or query)


_QK_NORMS = {"layer_norm": "layernorm", "rms_norm": "rmsnorm"}


def _qk_norms(q: str, k: str, kind: str | None, head_dim: int) -> list[Node]:
    if kind is None:
        return []
    if kind not in _QK_NORMS:
        raise SpecError(f"qk_norm={kind!r} is not counted by paramcount (it declares "
                        f"{', '.join(_QK_NORMS)})")
    return [norm(q, head_dim, _QK_NORMS[kind]), norm(k, head_dim, _QK_NORMS[kind])]


#: FeedForward's activations: how wide their projection is, as a multiple of the inner width
_ACTIVATIONS = {"geglu": ("GEGLU", 2), "gelu": ("GELU", 1), "gelu-approximate": ("GELU", 1)}


def feed_forward(name: str, dim: int, activation: str = "geglu", mult: int = 4) -> Node:
    """``FeedForward``: ``net.0`` the activation's projection (GEGLU's twice as wide, its
    gate), ``net.2`` back to ``dim``."""
    if activation not in _ACTIVATIONS:
        raise SpecError(f"activation_fn={activation!r} is not counted by paramcount (it "
                        f"declares {', '.join(_ACTIVATIONS)})")
    kind, wide = _ACTIVATIONS[activation]
    inner = dim * mult
    net = [module("0", kind, [linear("proj", dim, wide * inner)]), linear("2", inner, dim)]
    return module(name, "FeedForward", [module("net", "ModuleList", net, dim)], dim)


def ada_norm(name: str, dim: int, chunks: int, cond: int | None = None,
             type_name: str = "AdaLayerNormZero") -> Node:
    """An adaptive LayerNorm: a LayerNorm without parameters, its shift, scale (and gate)
    made by one linear layer from the conditioning vector: ``chunks × dim`` of them."""
    return module(name, type_name, [linear("linear", cond or dim, chunks * dim, length=1),
                                    norm("norm", dim, "none")], dim)


def timestep_embedding(name: str, n_in: int, dim: int, cond: int | None = None,
                       out: int | None = None) -> Node:
    """``TimestepEmbedding``: two linear layers from the sinusoidal timestep features, and
    ``cond_proj`` (no bias) when a condition is added to them (LCM's guidance)."""
    items = [linear("linear_1", n_in, dim, length=1), linear("linear_2", dim, out or dim,
                                                                length=1)]
    if cond is not None:
        items.insert(0, linear("cond_proj", cond, n_in, bias=False, length=1))
    return module(name, "TimestepEmbedding", items, out or dim)
