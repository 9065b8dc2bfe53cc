"""State-space language models: Mamba, Falcon-Mamba and Mamba-2, whose layers mix tokens with a
selective scan instead of attention (no key/value cache: a fixed state per sequence).

Each layer is a pre-norm block, ``norm`` (RMSNorm) then ``mixer``, over an inner width of
``expand × hidden_size``:

- Mamba's mixer (``MambaMixer``): ``in_proj`` to twice the inner width (the scan's input and its
  gate), a depthwise causal ``conv1d``, ``x_proj`` to the time step's rank and the state's input
  and output matrices (``time_step_rank + 2 × state_size``), ``dt_proj`` back to the inner
  width, ``A_log`` (inner × state) and ``D``, and ``out_proj``. ``time_step_rank`` "auto" is
  ceil(hidden / 16). Falcon-Mamba is the same module with three weightless RMSNorms inside.
- Mamba-2's mixer (``Mamba2Mixer``): one ``in_proj`` to the gate, the convolution's input
  (inner + 2 × ``n_groups`` × state) and one time step per head; the convolution over those
  channels; ``dt_bias``, ``A_log`` and ``D``, one per head; a gated RMSNorm over the inner width;
  ``out_proj``.

The backbone is ``backbone.embeddings``, ``backbone.layers``, ``backbone.norm_f``; the LM head is
tied to the embedding when ``tie_word_embeddings`` (Mamba's default, not Mamba-2's). The state a
sequence keeps is what transformers' cache holds: the convolution's channels × kernel, and the
scan's state (inner × state for Mamba; heads × ``head_dim`` × state for Mamba-2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from paramcount.architectures import register
from paramcount.architectures.config import Config
from paramcount.architectures.parts import (
    Roles,
    blocks,
    conv,
    embedding,
    linear,
    module,
    norm,
    parameter,
    stack,
    tie,
)
from paramcount.layers.base import Recurrent
from paramcount.tree import Node

HEADS = ("ForCausalLM", "Model")


@dataclass(frozen=True)
class Ssm:
    """The sizes a Mamba or Mamba-2 config fixes, with its class's defaults."""

    prefix: str
    hidden: int
    inner: int
    state: int
    kernel: int
    bias: bool
    conv_bias: bool
    layers: int
    vocab: int
    tie: bool


def _ssm(c: Config, prefix: str, *, vocab: int, hidden: int, state: int, layers: int,
         tie: bool) -> Ssm:
    hidden = c.int("hidden_size", default=hidden)
    return Ssm(prefix, hidden, c.int("expand", default=2) * hidden,
               c.int("state_size", default=state), c.int("conv_kernel", default=4),
               c.bool("use_bias", default=False), c.bool("use_conv_bias", default=True),
               c.layers("num_hidden_layers", default=layers),
               c.int("vocab_size", default=vocab), c.bool("tie_word_embeddings", default=tie))


def _conv(s: Ssm, channels: int) -> Node:
    return conv("conv1d", channels, channels, (s.kernel,), (channels, None),
                padding=s.kernel - 1, bias=s.conv_bias, groups=channels)


def mamba_mixer(c: Config, s: Ssm, *, name: str = "mixer", rank_key: str = "time_step_rank",
                norms: bool = False) -> Node:
    """Mamba's mixer; Jamba's (``name`` "mamba") reads its rank from ``mamba_dt_rank`` and
    adds RMSNorms with weights over the time step, B and C (``norms``)."""
    rank = c.raw(rank_key)
    dt_rank = math.ceil(s.hidden / 16) if rank in (None, "auto") else \
        c.int(rank_key, default=0)
    parts = [_conv(s, s.inner),
             linear("in_proj", s.hidden, 2 * s.inner, s.bias),
             linear("x_proj", s.inner, dt_rank + 2 * s.state, bias=False),
             linear("dt_proj", dt_rank, s.inner, bias=True),
             parameter("A_log", (s.inner, s.state)), parameter("D", (s.inner,)),
             linear("out_proj", s.inner, s.hidden, s.bias)]
    if norms:
        parts += [norm("dt_layernorm", dt_rank, "rmsnorm"),
                  norm("b_layernorm", s.state, "rmsnorm"), norm("c_layernorm", s.state, "rmsnorm")]
    node = module(name, f"{s.prefix}Mixer", parts, s.hidden)
    node.remark = f"selective scan: {s.inner} channels, state {s.state}"
    node.state = Recurrent(s.inner, s.kernel, s.inner * s.state)
    return node


def mamba2_mixer(c: Config, s: Ssm) -> Node:
    return mamba2_heads(s, c.int("num_heads", default=128), c.int("head_dim", default=64),
                        c.int("n_groups", default=8))


def mamba2_heads(s: Ssm, heads: int, head_dim: int, groups: int, name: str = "mixer", *,
                 out_bias: bool | None = None, gated_norm: bool = True) -> Node:
    """Mamba-2's mixer from its sizes (the hybrids name their fields otherwise); Falcon-H1's
    gives ``out_proj`` a bias of its own (``out_bias``) and may leave out the gated norm."""
    channels = s.inner + 2 * groups * s.state
    parts = [_conv(s, channels),
             linear("in_proj", s.hidden, s.inner + channels + heads, s.bias),
             parameter("dt_bias", (heads,)), parameter("A_log", (heads,)),
             *([norm("norm", s.inner, "rmsnorm")] if gated_norm else []),
             parameter("D", (heads,)),
             linear("out_proj", s.inner, s.hidden, s.bias if out_bias is None else out_bias)]
    node = module(name, f"{s.prefix}Mixer", parts, s.hidden)
    node.remark = f"selective scan: {heads} heads of {head_dim}, {groups} groups, state {s.state}"
    node.state = Recurrent(channels, s.kernel, heads * head_dim * s.state)
    return node


def _model(c: Config, s: Ssm, head: str, roles: Roles, mixer: Node) -> Node:
    def make(i: int) -> Node:
        return module(str(i), f"{s.prefix}Block",
                      [norm("norm", s.hidden, "rmsnorm"), mixer], s.hidden)

    body = module("backbone", f"{s.prefix}Model", [
        roles.embedding(embedding("embeddings", s.vocab, s.hidden)),
        stack("layers", blocks(s.layers, None, make), s.hidden),
        norm("norm_f", s.hidden, "rmsnorm")], s.hidden)
    if head == "Model":
        return body
    lm = linear("lm_head", s.hidden, s.vocab, bias=False)
    if s.tie:
        tie(lm, "backbone.embeddings")
    else:
        roles.embedding(lm)
    return module("", head, [body, lm], s.vocab)


@register("mamba", "Mamba", HEADS)
def mamba(c: Config, head: str, roles: Roles) -> Node:
    s = _ssm(c, "Mamba", vocab=50280, hidden=768, state=16, layers=32, tie=True)
    return _model(c, s, head, roles, mamba_mixer(c, s))


@register("falcon_mamba", "FalconMamba", HEADS)
def falcon_mamba(c: Config, head: str, roles: Roles) -> Node:
    s = _ssm(c, "FalconMamba", vocab=50280, hidden=768, state=16, layers=32, tie=True)
    return _model(c, s, head, roles, mamba_mixer(c, s))


@register("mamba2", "Mamba2", HEADS)
def mamba2(c: Config, head: str, roles: Roles) -> Node:
    s = _ssm(c, "Mamba2", vocab=32768, hidden=4096, state=128, layers=64, tie=False)
    return _model(c, s, head, roles, mamba2_mixer(c, s))
