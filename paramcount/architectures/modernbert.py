"""ModernBERT: a pre-norm encoder with rotary positions, fused projections and a gated MLP.

A module of its own for its layout: one fused ``Wqkv`` matrix, a GLU MLP whose ``Wi`` makes the
value and the gate together, no norm before the first layer's attention (an identity there),
LayerNorms without biases by default, and local attention (``local_attention`` tokens) in all
layers but every ``global_attn_every_n_layers``-th. Its heads share a prediction head
(``head``: a dense layer and a norm) before the decoder or classifier.
"""

from __future__ import annotations

from paramcount.architectures import register
from paramcount.architectures.config import Config
from paramcount.architectures.parts import (
    Roles,
    attends,
    blocks,
    embedding,
    linear,
    lm_head,
    module,
    norm,
    stack,
)
from paramcount.tree import Node

_HEADS = ("ForMaskedLM", "Model", "ForSequenceClassification", "ForTokenClassification",
          "ForQuestionAnswering")


def _layer_types(c: Config, n: int) -> list[str]:
    given = c.raw("layer_types")
    if given is None:
        every = c.int("global_attn_every_n_layers", default=3)
        return ["sliding_attention" if i % every else "full_attention" for i in range(n)]
    if not isinstance(given, list) or len(given) != n or not all(
            t in ("sliding_attention", "full_attention") for t in given):
        raise c.error("layer_types", given, f"is not a list of {n} attention kinds")
    return given


def _body(c: Config, roles: Roles, name: str) -> Node:
    h = c.int("hidden_size", default=768)
    heads = c.int("num_attention_heads", default=12)
    d = c.head_dim(h, heads)
    inner = c.int("intermediate_size", default=1152)
    kind = "layernorm" if c.bool("norm_bias", default=False) else "layernorm_nobias"
    qkv_bias, mlp_bias = c.bool("attention_bias", default=False), c.bool("mlp_bias",
                                                                           default=False)
    n = c.layers("num_hidden_layers", default=22)
    types = _layer_types(c, n)
    window = c.int("local_attention", default=128)

    def block(i: int) -> Node:
        attn = attends(module("attn", "ModernBertAttention", [
            linear("Wqkv", h, 3 * h, qkv_bias), linear("Wo", h, h, qkv_bias)], h), heads, d, h,
            window=window if types[i] == "sliding_attention" else None, cached=False)
        parts = [] if i == 0 else [norm("attn_norm", h, kind)]  # an identity in the first
        return module(str(i), "ModernBertEncoderLayer", [*parts, attn, norm("mlp_norm", h, kind),
                      module("mlp", "ModernBertMLP", [linear("Wi", h, 2 * inner, mlp_bias),
                                                      linear("Wo", inner, h, mlp_bias)], h)], h)

    embeddings = module("embeddings", "ModernBertEmbeddings", [
        roles.embedding(embedding("tok_embeddings", c.int("vocab_size", default=50368), h)),
        norm("norm", h, kind)], h)
    layers = stack("layers", blocks(n, lambda i: (i == 0, types[i]), block), h)
    return module(name, "ModernBertModel", [embeddings, layers, norm("final_norm", h, kind)], h)


@register("modernbert", "ModernBert", _HEADS)
def modernbert(c: Config, head: str, roles: Roles) -> Node:
    body = _body(c, roles, "" if head == "Model" else "model")
    if head == "Model":
        return body
    h = c.int("hidden_size", default=768)
    kind = "layernorm" if c.bool("norm_bias", default=False) else "layernorm_nobias"
    prediction = module("head", "ModernBertPredictionHead", [
        linear("dense", h, h, c.bool("classifier_bias", default=False)), norm("norm", h, kind)],
        h)
    if head == "ForMaskedLM":
        tied = "model.embeddings.tok_embeddings" if c.bool("tie_word_embeddings",
                                                           default=True) else None
        decoder = lm_head(roles, h, c.int("vocab_size", default=50368), tied,
                          bias=c.bool("decoder_bias", default=True), name="decoder")
        return module("", head, [body, prediction, decoder])
    # a sequence is classified from its pooled (first or mean) token, the others per token
    length = 1 if head == "ForSequenceClassification" else None
    return module("", head, [body, prediction, linear("classifier", h, c.num_labels(),
                                                      length=length)])
