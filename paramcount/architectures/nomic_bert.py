"""NomicBERT (nomic-embed-text): a BERT whose positions are rotary (no position table), with
bias-free attention and a gated SiLU MLP, post-norm LayerNorms after each (``layers.N``, not
BERT's ``encoder.layer.N``); BERT's embeddings without positions, pooler and MLM head."""

from __future__ import annotations

from paramcount.architectures import register
from paramcount.architectures.config import Config
from paramcount.architectures.encoders import mlm_decoder
from paramcount.architectures.parts import (
    Roles,
    attends,
    blocks,
    embedding,
    linear,
    module,
    norm,
    parameter,
    stack,
)
from paramcount.tree import Node

HEADS = ("ForMaskedLM", "Model", "ForSequenceClassification", "ForTokenClassification")


def _body(c: Config, roles: Roles, pooler: bool) -> Node:
    h = c.int("hidden_size", default=768)
    heads = c.int("num_attention_heads", default=12)
    d = c.int("head_dim", default=h // heads)
    inner = c.int("intermediate_size", default=3072)

    def layer(i: int) -> Node:
        attn = module("self_attn", "NomicBertAttention", [
            linear(p, h, heads * d, bias=False) for p in ("q_proj", "k_proj", "v_proj")] + [
            linear("o_proj", heads * d, h, bias=False)], h)
        return module(str(i), "NomicBertLayer", [
            attends(attn, heads, d, h, cached=False), norm("post_attention_layernorm", h),
            module("mlp", "NomicBertMLP", [linear("gate_proj", h, inner, bias=False),
                                           linear("up_proj", h, inner, bias=False),
                                           linear("down_proj", inner, h, bias=False)], h),
            norm("post_mlp_layernorm", h)], h)

    parts = [module("embeddings", "NomicBertEmbeddings", [
                 roles.embedding(embedding("word_embeddings", c.int("vocab_size", default=30528),
                                           h)),
                 roles.embedding(embedding("token_type_embeddings",
                                           c.int("type_vocab_size", default=2), h)),
                 norm("LayerNorm", h)], h),
             stack("layers", blocks(c.layers("num_hidden_layers", default=12), None, layer), h)]
    if pooler:  # the pooler reads the first token only
        parts.append(module("pooler", "NomicBertPooler", [linear("dense", h, h, length=1)]))
    return module("nomic_bert", "NomicBertModel", parts, h)


@register("nomic_bert", "NomicBert", HEADS)
def nomic_bert(c: Config, head: str, roles: Roles) -> Node:
    body = _body(c, roles, pooler=head == "ForSequenceClassification")
    if head == "Model":
        body.name = ""
        return body
    h = c.int("hidden_size", default=768)
    if head == "ForMaskedLM":
        vocab = c.int("vocab_size", default=30528)
        predictions = module("predictions", "NomicBertLMPredictionHead", [
            module("transform", "NomicBertPredictionHeadTransform",
                   [linear("dense", h, h), norm("layer_norm", h)]),
            mlm_decoder(c, h, vocab, "nomic_bert.embeddings.word_embeddings", "cls.predictions"),
            parameter("bias", (vocab,))])
        return module("", head, [body, module("cls", "NomicBertOnlyMLMHead", [predictions])])
    pooled = head == "ForSequenceClassification"
    return module("", head, [body, linear("classifier", h, c.num_labels(),
                                          length=1 if pooled else None)])
