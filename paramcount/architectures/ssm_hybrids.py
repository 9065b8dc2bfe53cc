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
- Zamba2: Mamba-2 layers (``mamba`` and ``input_layernorm``); a "hybrid" layer adds, before
  its Mamba layer (``mamba_decoder``), a transformer block shared between hybrid layers
  (``shared_transformer``: attention over the hidden state concatenated with the embeddings,
  ``2 × hidden`` wide, and a fused gated MLP) and a ``linear`` back to the hidden size. The
  ``num_mem_blocks`` blocks are owned by the first hybrid layers and tied in the later ones;
  each block keeps, per hybrid layer it serves, low-rank adapters on its MLP's ``gate_up_proj``
  (and on q, k, v when ``use_shared_attention_adapter``); the slots of other blocks are empty.
  transformers ties the blocks only with ``tie_word_embeddings`` (its one switch for every
  tie): with untied embeddings each hybrid layer builds a block of its own, counted so here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from paramcount.architectures import register
from paramcount.architectures.config import Config
from paramcount.architectures.decoders import HEADS, Decoder, Moe, _common, attention, with_head
from paramcount.architectures.mamba import Ssm, mamba2_heads, mamba_mixer
from paramcount.architectures.parts import (
    Roles,
    attends,
    blocks,
    embedding,
    linear,
    module,
    norm,
    settles,
    stack,
    tie,
)
from paramcount.tree import Node, Tied

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


def _typed(node: Node, type_name: str) -> Node:
    """The mixer under its transformers class name where that is not ``<prefix>Mixer``."""
    node.type = type_name
    return node


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
            lambda: _typed(mamba_mixer(c, s, name="mamba", rank_key="mamba_dt_rank", norms=True),
                           "JambaMambaMixer"))
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


#: Zamba2Config's layers when the config does not list them: 54, a hybrid every sixth
ZAMBA2_LAYERS = (["mamba"] + (["mamba"] * 5 + ["hybrid"]) * 7 + ["mamba"] * 4 + ["hybrid"]
                 + ["mamba"] * 3 + ["hybrid"] + ["mamba"] * 2)


def _low_rank(name: str, n_in: int, rank: int, n_out: int) -> Node:
    return module(name, "Sequential", [linear("0", n_in, rank, bias=False),
                                       linear("1", rank, n_out, bias=False)])


def _adapters(name: str, hybrids: int, block: int, blocks_: int, n_in: int, rank: int,
              n_out: int) -> Node:
    """One slot per hybrid layer; the block's own slots (every ``blocks_``-th) hold a low-rank
    adapter, the others an identity without weights."""
    slots = [_low_rank(str(k), n_in, rank, n_out) for k in range(hybrids)
             if k % blocks_ == block]
    return module(name, "ModuleList", slots)


def _tied_to(node: Node, owner: str) -> Node:
    """``node``'s subtree with every weight owned by the module at ``owner`` (Zamba2's shared
    blocks: later hybrid layers reuse the first ones')."""
    for child in node.children:
        _tied_to(child, f"{owner}.{child.name}")
    node.tied = tuple(Tied(w, f"{owner}.{w.name}") for w in node.weights)
    node.weights, node.formula = (), None
    return node


@register("zamba2", "Zamba2", ("ForCausalLM", "Model"))
def zamba2(c: Config, head: str, roles: Roles) -> Node:
    hidden = c.int("hidden_size", default=2560)
    vocab = c.int("vocab_size", default=32000)
    kinds = c.raw("layers_block_type")
    kinds = ZAMBA2_LAYERS if kinds is None else kinds
    if not isinstance(kinds, list) or not set(kinds) <= {"mamba", "linear_attention", "hybrid"}:
        raise c.error("layers_block_type", kinds, "is invalid; expected a list of 'mamba' "
                      "and 'hybrid'")
    layers = c.layers("num_hidden_layers", default=len(kinds))
    if layers != len(kinds):
        raise c.error("layers_block_type", kinds, f"does not list {layers} layers")
    hybrid_ids = [i for i, k in enumerate(kinds) if k == "hybrid"]
    heads = c.int("num_attention_heads", default=32)
    kv = c.kv_heads(heads, None)
    head_dim = 2 * hidden // heads  # Zamba2Config derives it from the doubled width
    intermediate = c.int("intermediate_size", default=4 * hidden)
    bias = c.bool("add_bias_linear", default=False)
    blocks_ = c.int("num_mem_blocks", default=1)
    rank = c.int("adapter_rank", default=128)
    attention_adapters = c.bool("use_shared_attention_adapter", default=False)
    s = Ssm("Zamba2", hidden, c.int("mamba_expand", default=2) * hidden,
            c.int("mamba_d_state", default=64), c.int("mamba_d_conv", default=4), bias, True,
            layers, vocab, c.bool("tie_word_embeddings", default=True))
    m_heads = c.int("n_mamba_heads", default=8)

    def mamba_layer(name: str) -> Node:
        mixer = _typed(mamba2_heads(s, m_heads, s.inner // m_heads,
                                    c.int("mamba_ngroups", default=1), name="mamba"),
                       "Zamba2MambaMixer")
        return module(name, "Zamba2MambaDecoderLayer",
                      [mixer, norm("input_layernorm", hidden, "rmsnorm")], hidden)

    def shared(j: int) -> Node:
        b, n, wide = j % blocks_, len(hybrid_ids), 2 * hidden
        attn = [linear("q_proj", wide, heads * head_dim, bias=False),
                linear("k_proj", wide, kv * head_dim, bias=False),
                linear("v_proj", wide, kv * head_dim, bias=False),
                linear("o_proj", heads * head_dim, hidden, bias=False)]
        if attention_adapters:
            attn += [_adapters(f"linear_{x}_adapter_list", n, b, blocks_, wide, rank, wide)
                     for x in "qkv"]
        mlp = [linear("gate_up_proj", hidden, 2 * intermediate, bias),
               linear("down_proj", intermediate, hidden, bias),
               _adapters("gate_up_proj_adapter_list", n, b, blocks_, hidden, rank,
                         2 * intermediate)]
        node = module("shared_transformer", "Zamba2AttentionDecoderLayer", [
            attends(module("self_attn", "Zamba2Attention", attn, hidden), heads, head_dim,
                    hidden, kv_heads=kv),
            module("feed_forward", "Zamba2MLP", mlp, hidden),
            norm("input_layernorm", wide, "rmsnorm"),
            norm("pre_ff_layernorm", hidden, "rmsnorm")], hidden)
        if j >= blocks_ and s.tie:
            _tied_to(node, f"model.layers.{hybrid_ids[j % blocks_]}.shared_transformer")
        return node

    def make(i: int) -> Node:
        if kinds[i] != "hybrid":
            return mamba_layer(str(i))
        return module(str(i), "Zamba2HybridLayer", [
            shared(hybrid_ids.index(i)), linear("linear", hidden, hidden, bias=False),
            mamba_layer("mamba_decoder")], hidden)

    body = module("model", "Zamba2Model", [
        roles.embedding(embedding("embed_tokens", vocab, hidden)),
        stack("layers", blocks(layers, lambda i: i if kinds[i] == "hybrid" else -1, make),
              hidden),
        norm("final_layernorm", hidden, "rmsnorm")], hidden)
    if head == "Model":
        return body
    lm = linear("lm_head", hidden, vocab, bias=False)
    if s.tie:
        tie(lm, "model.embed_tokens")
    else:
        roles.embedding(lm)
    return module("", head, [body, lm], vocab)
