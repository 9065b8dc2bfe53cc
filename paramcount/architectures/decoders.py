"""Decoder-only models laid out as Llama is: ``model.embed_tokens``, ``model.layers``,
``model.norm``, ``lm_head``.

One :class:`Decoder` describes such a model; each family reads its config into one, with the
defaults of its transformers config class (``LlamaConfig``, ``Qwen2Config``, ...). What differs
between families is a handful of switches: biases, grouped-query attention and ``head_dim``,
query/key norms (Qwen3, Gemma 3), the extra norms around the MLP (Gemma 2 and 3), fused
projections (Phi-3), the MLP's form, the norm's kind, and which layers are mixtures of experts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from paramcount.architectures import register
from paramcount.architectures.config import Config
from paramcount.architectures.parts import (
    Roles,
    attends,
    blocks,
    buffer,
    embedding,
    experts,
    linear,
    module,
    norm,
    parameter,
    router,
    settled,
    settles,
    stack,
    tie,
)
from paramcount.architectures.windows import by_layer_type, everywhere, qwen_window, window_size
from paramcount.tree import Node

HEADS = ("ForCausalLM", "Model", "ForSequenceClassification")
#: Gemma 2 and 3: norms before and after both attention and the MLP
SANDWICH = ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
            "post_feedforward_layernorm")


@dataclass(frozen=True)
class Moe:
    """A sparse MLP: routed experts, an optional shared expert, the router."""

    experts: int
    active: int | None          # experts per token (None when the config does not say)
    intermediate: int
    shared: int = 0             # the shared expert's intermediate size (0: none)
    shared_name: str = "shared_expert"
    shared_gate: bool = False   # Qwen2-MoE's one-output gate on the shared expert
    score_bias: bool = False    # DeepSeek-V3's routing bias (a buffer)
    router_first: bool = True   # the order transformers registers gate and experts in
    name: str = "mlp"           # the sparse block's name (Granite-MoE: "block_sparse_moe")
    router_name: str = "gate"   # the router's name (gpt-oss, Granite-MoE, PhiMoE: "router")
    router_bias: bool = False   # gpt-oss's router has a bias
    expert_bias: bool = False   # gpt-oss's experts have biases, and store gate_up transposed
    statics: bool = False       # ERNIE 4.5's routing bias: a frozen parameter, not a buffer
    #: the shared expert's MLP form when it differs from the model's (Granite-MoE-Shared), and
    #: whether it sits beside the sparse block in the layer rather than inside it
    shared_form: str | None = None
    shared_beside: bool = False
    router_weight: str = "weight"   # Hunyuan's router is a linear inside it: "wg.weight"


#: a per-layer rule that is None on every layer
_NOWHERE = settles(0, lambda i: None)
#: a per-layer rule that gives every layer the same kind
_ONE_KIND = settles(0, lambda i: "")


@dataclass
class Decoder:
    """Everything that shapes a Llama-like decoder's weights."""

    prefix: str
    hidden: int
    vocab: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    tie: bool
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    mlp: str = "gated"          # gated (gate/up/down), fused (gate_up/down), plain (c_fc/c_proj)
    activation: str = ""        # an activation with weights of its own, one of ACTIVATIONS
    norm: str = "rmsnorm"
    qk_norm: str = ""           # norms on queries and keys, one of QK_NORMS ("": none)
    qk_names: tuple[str, str] = ("q_norm", "k_norm")    # Hunyuan: query_/key_layernorm
    #: the layer's norms, in transformers' order: pre-norms (Llama), sandwich (Gemma 2/3),
    #: post-norms only (OLMo 2), or one norm before parallel attention and MLP (Cohere)
    norms: tuple[str, ...] = ("input_layernorm", "post_attention_layernorm")
    fused_qkv: bool = False     # Phi-3's single qkv_proj
    sinks: bool = False         # gpt-oss: one learned attention-sink logit per head
    query_gate: bool = False    # Qwen3-Next: q_proj also makes a gate for the attention output
    moe: Callable[[int], Moe | None] = _NOWHERE
    #: the sliding window of layer i's attention (None: it attends to every earlier token)
    window: Callable[[int], int | None] = _NOWHERE
    #: builds layer i's ``self_attn`` (DeepSeek replaces it with multi-head latent attention)
    attention: Callable[[Decoder, int], Node] | None = None
    #: layer i's kind where layers differ in more than experts and window (Qwen3-Next's
    #: linear and full attention): layers of one kind share one built block
    kind: Callable[[int], str] = _ONE_KIND
    mlp_name: str = "mlp"       # the dense MLP's name (Jamba: "feed_forward")
    final_norm: str = "norm"    # the last norm's name (Jamba: "final_layernorm")
    #: modules layer i holds beside its attention (Falcon-H1's Mamba mixer, run in parallel)
    beside: Callable[[Decoder, int], list[Node]] = lambda d, i: []


def attention(d: Decoder, i: int) -> Node:
    """Multi-head, grouped-query or multi-query attention of layer ``i``: q, k, v and o
    projections, and layer ``i``'s sliding window."""
    q, kv = d.heads * d.head_dim, d.kv_heads * d.head_dim
    if d.fused_qkv:
        parts = [linear("o_proj", q, d.hidden, d.o_bias),
                 linear("qkv_proj", d.hidden, q + 2 * kv, d.qkv_bias)]
    else:
        gates = 2 if d.query_gate else 1
        parts = [linear("q_proj", d.hidden, gates * q, d.qkv_bias),
                 linear("k_proj", d.hidden, kv, d.qkv_bias),
                 linear("v_proj", d.hidden, kv, d.qkv_bias),
                 linear("o_proj", q, d.hidden, d.o_bias)]
    if d.qk_norm == "list_per_head":
        parts += [_norms_per_head(d, d.qk_names[0], d.heads),
                  _norms_per_head(d, d.qk_names[1], d.kv_heads)]
    elif d.qk_norm:
        q_dim, k_dim, kind = QK_NORMS[d.qk_norm](d)
        parts += [norm(d.qk_names[0], q_dim, kind), norm(d.qk_names[1], k_dim, kind)]
    if d.sinks:
        parts.insert(0, parameter("sinks", (d.heads,)))
    node = module("self_attn", f"{d.prefix}Attention", parts, d.hidden)
    node.remark = _attention_remark(d)
    return attends(node, d.heads, d.head_dim, d.hidden, kv_heads=d.kv_heads, window=d.window(i))


#: query/key norms: RMSNorm over each head (Qwen3, Gemma 3), over the whole projection of the
#: query and key heads (OLMo 2), or a bias-free LayerNorm of one weight per head and dimension
#: (Cohere's ``(heads, head_dim)``, counted as its elements); StableLM's "list_per_head" is a
#: list of LayerNorms, one per head (:func:`_norms_per_head`)
QK_NORMS: dict[str, Callable[[Decoder], tuple[int, int, str]]] = {
    "head": lambda d: (d.head_dim, d.head_dim, "rmsnorm"),
    "projection": lambda d: (d.heads * d.head_dim, d.kv_heads * d.head_dim, "rmsnorm"),
    "per_head": lambda d: (d.heads * d.head_dim, d.kv_heads * d.head_dim, "layernorm_nobias"),
}


def _norms_per_head(d: Decoder, name: str, heads: int) -> Node:
    """StableLM's ``qk_layernorm``: a bias-free LayerNorm module of its own for each head."""
    return module(name, f"{d.prefix}LayerNormPerHead", [stack("norms", blocks(
        heads, None, lambda i: norm(str(i), d.head_dim, "layernorm_nobias")), d.head_dim)])


def _attention_remark(d: Decoder) -> str:
    if d.kv_heads == d.heads:
        return f"{d.heads} heads of {d.head_dim}"
    kind = "multi-query" if d.kv_heads == 1 else f"{d.kv_heads} key/value heads"
    return f"{d.heads} heads of {d.head_dim}, {kind}"


#: feed-forward forms, as (name, inputs, outputs) of each projection for hidden size h and
#: intermediate size i: SwiGLU-style gated, gated with gate and up fused (Phi-3, GLM), two
#: plain projections (StarCoder 2), the same named up/down (Arcee, Nemotron), and Granite's
#: fused shared expert
MLP_FORMS: dict[str, Callable[[int, int], list[tuple[str, int, int]]]] = {
    "gated": lambda h, i: [("gate_proj", h, i), ("up_proj", h, i), ("down_proj", i, h)],
    "fused": lambda h, i: [("gate_up_proj", h, 2 * i), ("down_proj", i, h)],
    "plain": lambda h, i: [("c_fc", h, i), ("c_proj", i, h)],
    "updown": lambda h, i: [("up_proj", h, i), ("down_proj", i, h)],
    "granite": lambda h, i: [("input_linear", h, 2 * i), ("output_linear", i, h)],
}


#: activations that learn: Apertus's xIELU has two scalar parameters and two scalar buffers
ACTIVATIONS: dict[str, Callable[[], Node]] = {
    "xielu": lambda: module("act_fn", "XIELUActivation", [
        parameter("alpha_p", (1,)), parameter("alpha_n", (1,)), buffer("beta", ()),
        buffer("eps", ())]),
}


def mlp(d: Decoder, intermediate: int, name: str = "mlp", form: str | None = None) -> Node:
    """The feed-forward network, in one of :data:`MLP_FORMS` (the model's, unless ``form``)."""
    shapes = MLP_FORMS[form or d.mlp](d.hidden, intermediate)
    parts = [linear(n, n_in, n_out, d.mlp_bias) for n, n_in, n_out in shapes]
    if d.activation:
        parts.append(ACTIVATIONS[d.activation]())
    return module(name, f"{d.prefix}MLP", parts, d.hidden)


def sparse(d: Decoder, m: Moe, roles: Roles) -> Node:
    """A mixture of experts: the router, the routed experts, and any shared expert."""
    made = experts("experts", m.experts, d.hidden, m.intermediate, m.active,
                   bias=m.expert_bias, transposed=m.expert_bias)
    routed = roles.routed(made, m.experts, m.active)
    if m.active is not None:
        routed.remark += f", {m.active} per token"
    gate = router(m.router_name, m.experts, d.hidden, m.score_bias, bias=m.router_bias,
                  statics=m.statics, weight=m.router_weight)
    parts = [gate, routed] if m.router_first else [routed, gate]
    if m.shared and not m.shared_beside:
        parts.append(mlp(d, m.shared, m.shared_name, m.shared_form))
    if m.shared_gate:
        parts.append(linear("shared_expert_gate", d.hidden, 1, bias=False))
    return module(m.name, f"{d.prefix}SparseMoeBlock", parts, d.hidden)


def block(d: Decoder, i: int, roles: Roles) -> Node:
    m = d.moe(i)
    make_attention = d.attention or attention
    parts = [make_attention(d, i), *d.beside(d, i),
             sparse(d, m, roles) if m else mlp(d, d.intermediate, d.mlp_name)]
    if m and m.shared and m.shared_beside:
        parts.append(mlp(d, m.shared, m.shared_name, m.shared_form))
    parts += [norm(name, d.hidden, d.norm) for name in d.norms]
    return module(str(i), f"{d.prefix}DecoderLayer", parts, d.hidden)


def backbone(d: Decoder, roles: Roles, name: str = "model") -> Node:
    def key(i: int) -> tuple[bool, int | None, str]:
        return d.moe(i) is not None, d.window(i), d.kind(i)

    at = settled(d.moe, d.window, d.kind)
    if at is not None:  # the layers differ only before every rule settles
        settles(at, key)
    layers = blocks(d.layers, key, lambda i: block(d, i, roles))
    parts = [roles.embedding(embedding("embed_tokens", d.vocab, d.hidden)),
             stack("layers", layers, d.hidden), norm(d.final_norm, d.hidden, d.norm)]
    return module(name, f"{d.prefix}Model", parts, d.hidden)


def with_head(d: Decoder, c: Config, head: str, roles: Roles, name: str = "model",
              lm_bias: bool = False) -> Node:
    """The backbone alone (``Model``), or under an LM head or a sequence-classification head,
    as ``LlamaForCausalLM`` and ``LlamaForSequenceClassification`` put it."""
    body = backbone(d, roles, name)
    if head == "Model" or head.endswith("TextModel"):
        return body
    if head == "ForSequenceClassification":
        score = linear("score", d.hidden, c.num_labels(), bias=False)
        return module("", head, [body, score], None)
    lm = linear("lm_head", d.hidden, d.vocab, lm_bias)
    if d.tie:
        tie(lm, f"{name}.embed_tokens")
    else:
        roles.embedding(lm)
    return module("", head, [body, lm], d.vocab)


# -- the families --------------------------------------------------------------------------------

def _common(c: Config, prefix: str, *, vocab: int, hidden: int, intermediate: int, layers: int,
            heads: int, kv: int | None = None, head_dim: int | None = None, tie: bool = False
            ) -> Decoder:
    """The fields every Llama-like config has, with its class's defaults."""
    hidden = c.int("hidden_size", default=hidden)
    n_heads = c.int("num_attention_heads", default=heads)
    return Decoder(
        prefix=prefix, hidden=hidden, vocab=c.int("vocab_size", default=vocab),
        layers=c.layers("num_hidden_layers", default=layers), heads=n_heads,
        kv_heads=c.kv_heads(n_heads, kv),
        head_dim=c.head_dim(hidden, n_heads, c.int("head_dim", default=head_dim)),
        intermediate=c.int("intermediate_size", default=intermediate),
        tie=c.bool("tie_word_embeddings", default=tie))


@register("llama", "Llama", HEADS)
def llama(c: Config, head: str, roles: Roles) -> Node:
    d = _common(c, "Llama", vocab=32000, hidden=4096, intermediate=11008, layers=32, heads=32)
    d.qkv_bias = d.o_bias = c.bool("attention_bias", default=False)
    d.mlp_bias = c.bool("mlp_bias", default=False)
    return with_head(d, c, head, roles)


@register("mistral", "Mistral", HEADS)
def mistral(c: Config, head: str, roles: Roles) -> Node:
    d = _common(c, "Mistral", vocab=32000, hidden=4096, intermediate=14336, layers=32,
                heads=32, kv=8)
    d.window = everywhere(window_size(c, 4096))
    return with_head(d, c, head, roles)


@register("mixtral", "Mixtral", HEADS)
def mixtral(c: Config, head: str, roles: Roles) -> Node:
    d = _common(c, "Mixtral", vocab=32000, hidden=4096, intermediate=14336, layers=32,
                heads=32, kv=8)
    m = Moe(c.int("num_local_experts", "num_experts", default=8),
            c.int("num_experts_per_tok", default=2), d.intermediate)
    d.moe = settles(0, lambda i: m)
    d.window = everywhere(window_size(c, None))
    return with_head(d, c, head, roles)


@register("qwen2", "Qwen2", HEADS)
def qwen2(c: Config, head: str, roles: Roles) -> Node:
    d = _common(c, "Qwen2", vocab=151936, hidden=4096, intermediate=22016, layers=32,
                heads=32, kv=32)
    d.qkv_bias = True  # Qwen2's q, k and v always have a bias, its o never
    d.window = qwen_window(c, d.layers, alternating=False)
    return with_head(d, c, head, roles)


def _qwen_sparse(c: Config, m: Moe) -> Callable[[int], Moe | None]:
    """Qwen's rule: layer i is sparse unless listed in ``mlp_only_layers``, when there are
    experts and ``(i + 1)`` is a multiple of ``decoder_sparse_step``."""
    step = c.int("decoder_sparse_step", default=1)
    dense = set(c.ints("mlp_only_layers"))
    rule = lambda i: m if (  # noqa: E731
        i not in dense and m.experts > 0 and (i + 1) % step == 0) else None
    # every layer past the last dense one is sparse when step is 1 (or none is, with no experts)
    return settles(max(dense, default=-1) + 1, rule) if step == 1 or not m.experts else rule


@register("qwen2_moe", "Qwen2Moe", HEADS)
def qwen2_moe(c: Config, head: str, roles: Roles) -> Node:
    d = _common(c, "Qwen2Moe", vocab=151936, hidden=2048, intermediate=5632, layers=24,
                heads=16, kv=16)
    d.qkv_bias = c.bool("qkv_bias", default=True)
    m = Moe(c.int("num_experts", default=60, min=0), c.int("num_experts_per_tok", default=4),
            c.int("moe_intermediate_size", default=1408),
            shared=c.int("shared_expert_intermediate_size", default=5632, min=0),
            shared_gate=True)
    d.moe = _qwen_sparse(c, m)
    d.window = qwen_window(c, d.layers, alternating=True)
    return with_head(d, c, head, roles)


@register("qwen3", "Qwen3", HEADS)
def qwen3(c: Config, head: str, roles: Roles) -> Node:
    d = _common(c, "Qwen3", vocab=151936, hidden=4096, intermediate=22016, layers=32,
                heads=32, head_dim=128)
    d.qkv_bias = d.o_bias = c.bool("attention_bias", default=False)
    d.qk_norm = "head"
    d.window = qwen_window(c, d.layers, alternating=False)
    return with_head(d, c, head, roles)


@register("qwen3_moe", "Qwen3Moe", HEADS)
def qwen3_moe(c: Config, head: str, roles: Roles) -> Node:
    d = _common(c, "Qwen3Moe", vocab=151936, hidden=2048, intermediate=6144, layers=24,
                heads=32, kv=4)
    d.qkv_bias = d.o_bias = c.bool("attention_bias", default=False)
    d.qk_norm = "head"
    m = Moe(c.int("num_local_experts", "num_experts", default=128, min=0),
            c.int("num_experts_per_tok", default=8), c.int("moe_intermediate_size", default=768),
            router_first=False)
    d.moe = _qwen_sparse(c, m)
    sliding = c.bool("use_sliding_window", default=False)
    d.window = everywhere(window_size(c, 4096) if sliding else None)
    return with_head(d, c, head, roles)


@register("gemma", "Gemma", HEADS)
def gemma(c: Config, head: str, roles: Roles) -> Node:
    d = _common(c, "Gemma", vocab=256000, hidden=3072, intermediate=24576, layers=28,
                heads=16, kv=16, head_dim=256, tie=True)
    d.qkv_bias = d.o_bias = c.bool("attention_bias", default=False)
    return with_head(d, c, head, roles)


@register("gemma2", "Gemma2", HEADS)
def gemma2(c: Config, head: str, roles: Roles) -> Node:
    d = _common(c, "Gemma2", vocab=256000, hidden=2304, intermediate=9216, layers=26,
                heads=8, kv=4, head_dim=256, tie=True)
    d.qkv_bias = d.o_bias = c.bool("attention_bias", default=False)
    d.norms = SANDWICH
    # even layers (0, 2, ...) attend within the window, odd ones to everything
    d.window = by_layer_type(c, d.layers, window_size(c, 4096), lambda i: i % 2 == 0)
    return with_head(d, c, head, roles)


@register("gemma3_text", "Gemma3", ("ForCausalLM", "TextModel"), base="TextModel")
def gemma3_text(c: Config, head: str, roles: Roles) -> Node:
    d = _common(c, "Gemma3Text", vocab=262208, hidden=2304, intermediate=9216, layers=26,
                heads=8, kv=4, head_dim=256, tie=True)
    d.qkv_bias = d.o_bias = c.bool("attention_bias", default=False)
    d.norms, d.qk_norm = SANDWICH, "head"
    d.window = _gemma3_window(c, d.layers)
    return with_head(d, c, head, roles)


def _gemma3_window(c: Config, layers: int) -> Callable[[int], int | None]:
    """Every ``sliding_window_pattern``-th layer attends to everything, the others within the
    window (halved, plus one, for bidirectional attention)."""
    size = window_size(c, 4096)
    if size and c.bool("use_bidirectional_attention", default=False):
        size = size // 2 + 1
    pattern = c.int("sliding_window_pattern", default=6)
    return by_layer_type(c, layers, size, lambda i: (i + 1) % pattern != 0)


@register("olmo", "Olmo", HEADS)
def olmo(c: Config, head: str, roles: Roles) -> Node:
    d = _common(c, "Olmo", vocab=50304, hidden=4096, intermediate=11008, layers=32, heads=32)
    d.qkv_bias = d.o_bias = c.bool("attention_bias", default=False)
    d.norm = "none"  # OLMo's LayerNorm has no weight and no bias
    return with_head(d, c, head, roles)


@register("starcoder2", "Starcoder2", HEADS)
def starcoder2(c: Config, head: str, roles: Roles) -> Node:
    d = _common(c, "Starcoder2", vocab=49152, hidden=3072, intermediate=12288, layers=30,
                heads=24, kv=2, tie=True)
    d.qkv_bias = d.o_bias = d.mlp_bias = c.bool("use_bias", default=True)
    d.mlp, d.norm = "plain", "layernorm"
    d.window = everywhere(window_size(c, None))
    return with_head(d, c, head, roles)


@register("phi3", "Phi3", HEADS)
def phi3(c: Config, head: str, roles: Roles) -> Node:
    d = _common(c, "Phi3", vocab=32064, hidden=3072, intermediate=8192, layers=32, heads=32)
    d.fused_qkv, d.mlp = True, "fused"
    d.window = everywhere(window_size(c, None))
    return with_head(d, c, head, roles)
