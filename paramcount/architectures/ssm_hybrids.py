"""Hybrids of attention and state-space layers: Jamba, Bamba, Falcon-H1 and Zamba2.

Each is a Llama-like decoder (:class:`~paramcount.architectures.decoders.Decoder`) whose
per-layer kind picks the token mixer: grouped-query attention (``self_attn``, with a key/value
cache) on some layers, a Mamba mixer (``mamba``, a fixed state per sequence) on the others.

- Jamba (``JambaAttentionDecoderLayer`` / ``JambaMambaDecoderLayer``): attention on every
  ``attn_layer_period``-th layer from ``attn_layer_offset``, a Mamba-1 mixer with RMSNorms over
  its time step, B and C elsewhere; a mixture of experts (``feed_forward``: ``router`` and fused
  ``experts``) on every ``expert_layer_period``-th layer from ``expert_layer_offset``, a gated MLP
  on the rest. Norms ``input_layernorm``, ``pre_ff_layernorm``, ``final_layernorm``.
- Bamba: the same layout with a Mamba-2 mixer, attention on ``attn_layer_indices``, no experts.
- Falcon-H1: every layer runs attention and a Mamba-2 mixer side by side (``self_attn`` and
  ``mamba``), the mixer ``mamba_d_ssm`` wide (not tied to the hidden size), its gated norm only
  when ``mamba_rms_norm``, its ``out_proj`` biased by ``projectors_bias``. Its µP multipliers
  scale activations, not weights (the mixer's ``mup_vector`` is a non-persistent buffer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from paramcount.architectures import register
from paramcount.architectures.config import Config
from paramcount.architectures.decoders import HEADS, Decoder, Moe, _common, attention, with_head
from paramcount.architectures.mamba import Ssm, mamba2_heads, mamba_mixer
from paramcount.architectures.parts import Roles, settles
from paramcount.tree import Node

ATTENTION, MAMBA = "attention", "mamba"
#: Jamba's and Bamba's layer names: the MLP, the norms in order, the last norm
JAMBA_NAMES = ("feed_forward", ("input_layernorm", "pre_ff_layernorm"), "final_layernorm")


def _ssm(c: Config, d: Decoder, *, state: int, kernel: str = "mamba_d_conv",
         bias: str = "mamba_proj_bias", conv_bias: str = "mamba_conv_bias") -> Ssm:
    """The Mamba sizes of a hybrid's config, whose fields are named ``mamba_*``."""
    inner = c.int("mamba_expand", default=2) * d.hidden
    return Ssm(d.prefix, d.hidden, inner, c.int("mamba_d_state", default=state),
               c.int(kernel, default=4), c.bool(bias, default=False),
               c.bool(conv_bias, default=True), d.layers, d.vocab, d.tie)


def _periodic(c: Config, period: str, offset: str, p: int, o: int) -> Callable[[int], bool]:
    every, at = c.int(period, default=p), c.int(offset, default=o, min=0)
    return lambda i: i % every == at


def _hybrid(d: Decoder, is_attention: Callable[[int], bool], mixer: Callable[[], Node]) -> None:
    """Give ``d`` attention on the layers ``is_attention`` picks and ``mixer`` on the rest."""
    d.mlp_name, d.norms, d.final_norm = JAMBA_NAMES
    d.kind = lambda i: ATTENTION if is_attention(i) else MAMBA
    d.attention = lambda dec, i: attention(dec, i) if dec.kind(i) == ATTENTION else mixer()


@register("jamba", "Jamba", HEADS)
def jamba(c: Config, head: str, roles: Roles) -> Node:
    d = _common(c, "Jamba", vocab=65536, hidden=4096, intermediate=14336, layers=32, heads=32,
                kv=8)
    s = _ssm(c, d, state=16)
    _hybrid(d, _periodic(c, "attn_layer_period", "attn_layer_offset", 8, 4),
            lambda: mamba_mixer(c, s, name="mamba", rank_key="mamba_dt_rank", norms=True))
    m = Moe(c.int("num_experts", "num_local_experts", default=16),
            c.int("num_experts_per_tok", default=2), d.intermediate, name="feed_forward",
            router_name="router")
    sparse = _periodic(c, "expert_layer_period", "expert_layer_offset", 2, 1)
    d.moe = (lambda i: m if sparse(i) else None) if m.experts > 1 else settles(0, lambda i: None)
    return with_head(d, c, head, roles)


@register("bamba", "Bamba", HEADS)
def bamba(c: Config, head: str, roles: Roles) -> Node:
    d = _common(c, "Bamba", vocab=128000, hidden=4096, intermediate=14336, layers=32, heads=32,
                kv=8)
    d.qkv_bias = d.o_bias = c.bool("attention_bias", default=False)
    d.mlp_bias = c.bool("mlp_bias", default=False)
    s = _ssm(c, d, state=256)
    heads = c.int("mamba_n_heads", default=128)
    head_dim = s.inner // heads if c.raw("mamba_d_head") in (None, "auto") else \
        c.int("mamba_d_head", default=0)
    listed = set(c.ints("attn_layer_indices"))
    _hybrid(d, lambda i: i in listed,
            lambda: mamba2_heads(s, heads, head_dim, c.int("mamba_n_groups", default=1),
                                 name="mamba"))
    return with_head(d, c, head, roles)


@register("falcon_h1", "FalconH1", HEADS)
def falcon_h1(c: Config, head: str, roles: Roles) -> Node:
    d = _common(c, "FalconH1", vocab=128000, hidden=4096, intermediate=14336, layers=32,
                heads=32, kv=8)
    d.qkv_bias = d.o_bias = c.bool("attention_bias", default=False)
    d.mlp_bias = c.bool("mlp_bias", default=False)
    d.mlp_name, d.norms, d.final_norm = JAMBA_NAMES
    s = _ssm(c, d, state=256)
    if c.raw("mamba_d_ssm", default=1024) is not None:
        s = replace(s, inner=c.int("mamba_d_ssm", default=1024))
    heads = c.int("mamba_n_heads", default=128)
    head_dim = s.inner // heads if c.raw("mamba_d_head") in (None, "auto") else \
        c.int("mamba_d_head", default=0)
    d.beside = lambda dec, i: [mamba2_heads(
        s, heads, head_dim, c.int("mamba_n_groups", default=1), name="mamba",
        out_bias=c.bool("projectors_bias", default=False),
        gated_norm=c.bool("mamba_rms_norm", default=False))]
    return with_head(d, c, head, roles)
