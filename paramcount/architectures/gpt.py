"""GPT-style decoders, each with its own module names: GPT-2, GPT-NeoX, GPT-J, OPT, Falcon,
BLOOM, Phi(-1, -1.5, -2) and MPT.

What sets them apart: GPT-2 stores its projections as ``Conv1D`` (weight ``(in, out)``) and
learns position embeddings; GPT-NeoX, BLOOM and Falcon fuse q, k and v into one
``query_key_value``; Falcon's multi-query attention shares one key and one value head, its "new
decoder architecture" has grouped key/value heads and two norms in parallel; OPT learns
positions with an offset of 2 and projects a smaller word embedding in and out.
"""

from __future__ import annotations

from paramcount.architectures import register
from paramcount.architectures.config import Config
from paramcount.architectures.parts import (
    Roles,
    attends,
    blocks,
    conv1d,
    embedding,
    linear,
    lm_head,
    module,
    norm,
    stack,
)
from paramcount.tree import Node

_CAUSAL = ("ForCausalLM", "Model", "ForSequenceClassification")


def _classify(c: Config, head: str, body: Node, hidden: int, lm: Node | None) -> Node:
    """The model under its head: the LM head, a sequence classifier (``score``, no bias) or
    none (the bare ``Model``)."""
    if head == "Model":
        return body
    if head == "ForSequenceClassification":
        return module("", head, [body, linear("score", hidden, c.num_labels(), bias=False)])
    assert lm is not None
    return module("", head, [body, lm])


# -- GPT-2 -------------------------------------------------------------------------------------

def _gpt2_block(c: Config, i: int, h: int, heads: int, inner: int, cross: bool) -> Node:
    attn = module("attn", "GPT2Attention", [conv1d("c_attn", h, 3 * h), conv1d("c_proj", h, h)])
    parts = [norm("ln_1", h), attends(attn, heads, h // heads, h), norm("ln_2", h)]
    if cross:
        crossed = module("crossattention", "GPT2Attention", [
            conv1d("c_attn", h, 2 * h), conv1d("q_attn", h, h), conv1d("c_proj", h, h)])
        parts += [attends(crossed, heads, h // heads, h, cross=True), norm("ln_cross_attn", h)]
    parts.append(module("mlp", "GPT2MLP", [conv1d("c_fc", h, inner), conv1d("c_proj", inner, h)]))
    return module(str(i), "GPT2Block", parts, h)


@register("gpt2", "GPT2", ("LMHeadModel", "Model", "ForSequenceClassification"))
def gpt2(c: Config, head: str, roles: Roles) -> Node:
    h = c.int("hidden_size", "n_embd", default=768)
    heads = c.int("num_attention_heads", "n_head", default=12)
    c.head_dim(h, heads)
    inner = c.int("n_inner", default=None) or 4 * h
    vocab = c.int("vocab_size", default=50257)
    cross = c.bool("add_cross_attention", default=False)
    n = c.layers("num_hidden_layers", "n_layer", default=12)
    body = module("transformer", "GPT2Model", [
        roles.embedding(embedding("wte", vocab, h)),
        roles.embedding(embedding("wpe", c.int("max_position_embeddings", "n_positions",
                                               default=1024), h)),
        stack("h", blocks(n, None, lambda i: _gpt2_block(c, i, h, heads, inner, cross)),
              h),
        norm("ln_f", h)])
    tied = "transformer.wte" if c.bool("tie_word_embeddings", default=True) else None
    lm = lm_head(roles, h, vocab, tied) if head == "LMHeadModel" else None
    return _classify(c, head, body, h, lm)


# -- GPT-NeoX ----------------------------------------------------------------------------------

@register("gpt_neox", "GPTNeoX", _CAUSAL)
def gpt_neox(c: Config, head: str, roles: Roles) -> Node:
    h = c.int("hidden_size", default=6144)
    heads = c.int("num_attention_heads", default=64)
    d = c.head_dim(h, heads)
    inner = c.int("intermediate_size", default=24576)
    vocab = c.int("vocab_size", default=50432)
    bias = c.bool("attention_bias", default=True)

    def block(i: int) -> Node:
        return module(str(i), "GPTNeoXLayer", [
            norm("input_layernorm", h), norm("post_attention_layernorm", h),
            attends(module("attention", "GPTNeoXAttention", [
                linear("query_key_value", h, 3 * h, bias), linear("dense", h, h, bias)]),
                heads, d, h),
            module("mlp", "GPTNeoXMLP", [linear("dense_h_to_4h", h, inner),
                                         linear("dense_4h_to_h", inner, h)])], h)

    n = c.layers("num_hidden_layers", default=44)
    body = module("gpt_neox", "GPTNeoXModel", [
        roles.embedding(embedding("embed_in", vocab, h)),
        stack("layers", blocks(n, None, block), h), norm("final_layer_norm", h)])
    tied = "gpt_neox.embed_in" if c.bool("tie_word_embeddings", default=False) else None
    return _classify(c, head, body, h, lm_head(roles, h, vocab, tied))


# -- GPT-J -------------------------------------------------------------------------------------

@register("gptj", "GPTJ", _CAUSAL)
def gptj(c: Config, head: str, roles: Roles) -> Node:
    h = c.int("hidden_size", "n_embd", default=4096)
    heads = c.int("num_attention_heads", "n_head", default=16)
    d = c.head_dim(h, heads)
    inner = c.int("n_inner", default=None) or 4 * h
    vocab = c.int("vocab_size", default=50400)

    def block(i: int) -> Node:
        attn = [linear(p, h, h, bias=False) for p in ("k_proj", "v_proj", "q_proj", "out_proj")]
        return module(str(i), "GPTJBlock", [
            norm("ln_1", h), attends(module("attn", "GPTJAttention", attn), heads, d, h),
            module("mlp", "GPTJMLP", [linear("fc_in", h, inner), linear("fc_out", inner, h)])], h)

    n = c.layers("num_hidden_layers", "n_layer", default=28)
    body = module("transformer", "GPTJModel", [
        roles.embedding(embedding("wte", vocab, h)),
        stack("h", blocks(n, None, block), h), norm("ln_f", h)])
    tied = "transformer.wte" if c.bool("tie_word_embeddings", default=False) else None
    return _classify(c, head, body, h, lm_head(roles, h, vocab, tied, bias=True))


# -- OPT ---------------------------------------------------------------------------------------

@register("opt", "OPT", _CAUSAL)
def opt(c: Config, head: str, roles: Roles) -> Node:
    h = c.int("hidden_size", default=768)
    heads = c.int("num_attention_heads", default=12)
    d = c.head_dim(h, heads)
    word = c.int("word_embed_proj_dim", default=None) or h
    ffn = c.int("ffn_dim", default=3072)
    vocab = c.int("vocab_size", default=50272)
    bias = c.bool("enable_bias", default=True)
    ln = "layernorm" if c.bool("layer_norm_elementwise_affine", default=True) else "none"

    def block(i: int) -> Node:
        attn = [linear(p, h, h, bias) for p in ("k_proj", "v_proj", "q_proj", "out_proj")]
        return module(str(i), "OPTDecoderLayer", [
            attends(module("self_attn", "OPTAttention", attn), heads, d, h),
            norm("self_attn_layer_norm", h, ln),
            linear("fc1", h, ffn, bias), linear("fc2", ffn, h, bias),
            norm("final_layer_norm", h, ln)], h)

    # OPT's learned positions start at an offset of 2 (a fairseq habit)
    parts = [roles.embedding(embedding("embed_tokens", vocab, word)),
             roles.embedding(embedding("embed_positions",
                                       c.int("max_position_embeddings", default=2048) + 2, h))]
    if word != h:
        parts += [linear("project_out", h, word, bias=False),
                  linear("project_in", word, h, bias=False)]
    if c.bool("do_layer_norm_before", default=True) and \
            not c.bool("_remove_final_layer_norm", default=False):
        parts.append(norm("final_layer_norm", h, ln))
    n = c.layers("num_hidden_layers", default=12)
    parts.append(stack("layers", blocks(n, None, block), h))
    decoder = module("decoder", "OPTDecoder", parts, word)
    body = module("model", "OPTModel", [decoder], word)
    tied = "model.decoder.embed_tokens" if c.bool("tie_word_embeddings", default=True) else None
    return _classify(c, head, body, word, lm_head(roles, word, vocab, tied))


# -- Falcon ------------------------------------------------------------------------------------

def _falcon_kv(c: Config, h: int, heads: int, new: bool) -> tuple[int, int, str]:
    """Head size, key/value heads and the remark: grouped with the new decoder
    architecture, else one shared head (multi-query) or one per query head."""
    d = c.head_dim(h, heads)
    if new:
        kv = c.kv_heads(heads, names=("num_kv_heads",))
        return d, kv, f"{heads} heads of {d}, {kv} key/value heads"
    if c.bool("multi_query", default=True):
        return d, 1, f"{heads} heads of {d}, multi-query"
    return d, heads, f"{heads} heads of {d}"


@register("falcon", "Falcon", _CAUSAL)
def falcon(c: Config, head: str, roles: Roles) -> Node:
    h = c.int("hidden_size", "n_embed", default=4544)
    heads = c.int("num_attention_heads", default=71)
    new = c.bool("new_decoder_architecture", default=False)
    d, kv, remark = _falcon_kv(c, h, heads, new)
    qkv = (heads + 2 * kv) * d
    bias = c.bool("bias", default=False)
    ffn = c.int("ffn_hidden_size", default=None) or 4 * h
    parallel = c.bool("parallel_attn", default=True)
    norms_in_parallel = c.int("num_ln_in_parallel_attn", default=None, min=0)
    if norms_in_parallel is None and new:
        norms_in_parallel = 2
    if not parallel:
        norms = ["post_attention_layernorm", "input_layernorm"]
    else:
        norms = ["ln_attn", "ln_mlp"] if norms_in_parallel == 2 else ["input_layernorm"]

    def block(i: int) -> Node:
        attn = module("self_attention", "FalconAttention",
                      [linear("query_key_value", h, qkv, bias), linear("dense", h, h, bias)])
        attn.remark = remark
        if new and kv < heads:
            attn.notes = (f"KV cache: the model's {kv} key/value heads; transformers 5.24 and "
                          f"earlier cached them broadcast to all {heads} query heads "
                          f"({heads // kv}× more)",)
        attends(attn, heads, d, h, kv_heads=kv)
        mlp = module("mlp", "FalconMLP", [linear("dense_h_to_4h", h, ffn, bias),
                                          linear("dense_4h_to_h", ffn, h, bias)])
        return module(str(i), "FalconDecoderLayer", [attn, mlp, *(norm(n, h) for n in norms)], h)

    vocab = c.int("vocab_size", default=65024)
    n = c.layers("num_hidden_layers", default=32)
    body = module("transformer", "FalconModel", [
        roles.embedding(embedding("word_embeddings", vocab, h)),
        stack("h", blocks(n, None, block), h), norm("ln_f", h)])
    tied = "transformer.word_embeddings" if c.bool("tie_word_embeddings", default=True) else None
    return _classify(c, head, body, h, lm_head(roles, h, vocab, tied))


# -- BLOOM -------------------------------------------------------------------------------------

@register("bloom", "Bloom", _CAUSAL)
def bloom(c: Config, head: str, roles: Roles) -> Node:
    h = c.int("hidden_size", "n_embed", default=64)
    heads = c.int("num_attention_heads", "n_head", default=8)
    d = c.head_dim(h, heads)
    vocab = c.int("vocab_size", default=250880)

    def block(i: int) -> Node:
        return module(str(i), "BloomBlock", [
            norm("input_layernorm", h),
            attends(module("self_attention", "BloomAttention", [
                linear("query_key_value", h, 3 * h), linear("dense", h, h)]), heads, d, h),
            norm("post_attention_layernorm", h),
            module("mlp", "BloomMLP", [linear("dense_h_to_4h", h, 4 * h),
                                       linear("dense_4h_to_h", 4 * h, h)])], h)

    n = c.layers("num_hidden_layers", "n_layer", default=2)
    body = module("transformer", "BloomModel", [
        roles.embedding(embedding("word_embeddings", vocab, h)),
        norm("word_embeddings_layernorm", h),
        stack("h", blocks(n, None, block), h), norm("ln_f", h)])
    tied = "transformer.word_embeddings" if c.bool("tie_word_embeddings", default=True) else None
    return _classify(c, head, body, h, lm_head(roles, h, vocab, tied))


# -- Phi ---------------------------------------------------------------------------------------

@register("phi", "Phi", _CAUSAL)
def phi(c: Config, head: str, roles: Roles) -> Node:
    h = c.int("hidden_size", default=2048)
    heads = c.int("num_attention_heads", default=32)
    kv = c.kv_heads(heads)
    d = c.head_dim(h, heads, c.int("head_dim", default=None))
    inner = c.int("intermediate_size", default=8192)
    qk_norm = c.bool("qk_layernorm", default=False)

    def block(i: int) -> Node:
        attn = [linear("q_proj", h, heads * d), linear("k_proj", h, kv * d),
                linear("v_proj", h, kv * d), linear("dense", heads * d, h)]
        if qk_norm:  # over hidden_size / heads, even when head_dim is given
            attn += [norm("q_layernorm", h // heads), norm("k_layernorm", h // heads)]
        return module(str(i), "PhiDecoderLayer", [
            attends(module("self_attn", "PhiAttention", attn), heads, d, h, kv_heads=kv),
            module("mlp", "PhiMLP", [linear("fc1", h, inner), linear("fc2", inner, h)]),
            norm("input_layernorm", h)], h)

    vocab = c.int("vocab_size", default=51200)
    n = c.layers("num_hidden_layers", default=24)
    body = module("model", "PhiModel", [
        roles.embedding(embedding("embed_tokens", vocab, h)),
        stack("layers", blocks(n, None, block), h), norm("final_layernorm", h)])
    tied = "model.embed_tokens" if c.bool("tie_word_embeddings", default=False) else None
    return _classify(c, head, body, h, lm_head(roles, h, vocab, tied, bias=True))


@register("mpt", "Mpt", _CAUSAL)
def mpt(c: Config, head: str, roles: Roles) -> Node:
    """MPT as transformers builds it: ALiBi (no position table), fused ``Wqkv``, bias-free
    projections and norms (``no_bias`` is not read), an MLP of 4 × ``d_model`` (nor is
    ``expansion_ratio``), the LM head tied to ``wte`` unless the config says otherwise."""
    h = c.int("hidden_size", "d_model", default=2048)
    heads = c.int("num_attention_heads", "n_heads", default=16)
    d = c.head_dim(h, heads)

    def block(i: int) -> Node:
        attn = module("attn", "MptAttention", [linear("Wqkv", h, 3 * h, bias=False),
                                               linear("out_proj", h, h, bias=False)])
        return module(str(i), "MptBlock", [
            norm("norm_1", h, "layernorm_nobias"), attends(attn, heads, d, h),
            norm("norm_2", h, "layernorm_nobias"),
            module("ffn", "MptMLP", [linear("up_proj", h, 4 * h, bias=False),
                                     linear("down_proj", 4 * h, h, bias=False)])], h)

    vocab = c.int("vocab_size", default=50368)
    n = c.layers("num_hidden_layers", "n_layers", default=24)
    body = module("transformer", "MptModel", [
        roles.embedding(embedding("wte", vocab, h)),
        stack("blocks", blocks(n, lambda i: 0, block), h),
        norm("norm_f", h, "layernorm_nobias")])
    tied = "transformer.wte" if c.bool("tie_word_embeddings", default=True) else None
    return _classify(c, head, body, h, lm_head(roles, h, vocab, tied))
