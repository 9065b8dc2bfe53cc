"""DeBERTa-v2 and -v3: BERT's layout with disentangled attention.

A module apart from encoders.py because its attention differs in structure: relative positions
are a table of their own (``encoder.rel_embeddings``, ``2 × max_relative_positions`` rows, or
``2 × position_buckets``), shared by every layer, which each layer projects by its own key and
query matrices (``pos_key_proj`` for content-to-position, ``pos_query_proj`` for
position-to-content) unless ``share_att_key`` reuses the content projections. DeBERTa-v3 adds a
LayerNorm over that table (``norm_rel_ebd``) and a convolution beside the first layer
(``conv_kernel_size``); its embedding has no absolute positions (``position_biased_input``).
"""

from __future__ import annotations

from paramcount.architectures import register
from paramcount.architectures.config import Config
from paramcount.architectures.encoders import mlm_decoder
from paramcount.architectures.parts import (
    Roles,
    attends,
    blocks,
    conv,
    embedding,
    linear,
    module,
    norm,
    parameter,
    stack,
)
from paramcount.errors import SpecError
from paramcount.tree import Node

_HEADS = ("ForMaskedLM", "Model", "ForSequenceClassification", "ForTokenClassification",
          "ForQuestionAnswering")


def _relative(c: Config) -> tuple[bool, set[str]]:
    """Whether attention is relative, and which position terms it adds (``c2p``, ``p2c``)."""
    kinds = c.raw("pos_att_type")
    if isinstance(kinds, str):
        kinds = [k.strip() for k in kinds.lower().split("|")]
    if kinds is not None and not (isinstance(kinds, list)
                                  and all(isinstance(k, str) for k in kinds)):
        raise c.error("pos_att_type", kinds, "is not a list of strings")
    return c.bool("relative_attention", default=False), set(kinds or ())


def _encoder(c: Config, roles: Roles, h: int) -> Node:
    heads = c.int("num_attention_heads", default=24)
    d = c.int("attention_head_size", default=None) or c.head_dim(h, heads)
    inner = c.int("intermediate_size", default=6144)
    relative, kinds = _relative(c)
    own_keys = relative and not c.bool("share_att_key", default=False)

    def block(i: int) -> Node:
        projections = [linear(p, h, heads * d) for p in ("query_proj", "key_proj", "value_proj")]
        if own_keys and "c2p" in kinds:
            projections.append(linear("pos_key_proj", h, heads * d))
        if own_keys and "p2c" in kinds:
            projections.append(linear("pos_query_proj", h, heads * d))
        attention = module("attention", "DebertaV2Attention", [
            attends(module("self", "DisentangledSelfAttention", projections), heads, d, h,
                    cached=False),
            module("output", "DebertaV2SelfOutput", [linear("dense", h, h),
                                                      norm("LayerNorm", h)])], h)
        return module(str(i), "DebertaV2Layer", [
            attention, module("intermediate", "DebertaV2Intermediate", [linear("dense", h, inner)]),
            module("output", "DebertaV2Output", [linear("dense", inner, h),
                                                  norm("LayerNorm", h)])], h)

    n = c.layers("num_hidden_layers", default=24)
    parts = [stack("layer", blocks(n, None, block), h)]
    if relative:
        span = c.int("max_relative_positions", default=None, min=-(2**31))
        if span is None or span < 1:
            span = c.int("max_position_embeddings", default=512)
        buckets = c.int("position_buckets", default=None, min=-(2**31))
        rows = 2 * (buckets if buckets is not None and buckets > 0 else span)
        parts.append(roles.embedding(embedding("rel_embeddings", rows, h)))
    norms = c.str("norm_rel_ebd", default="none").lower().split("|")
    if "layer_norm" in (n.strip() for n in norms):
        parts.append(norm("LayerNorm", h))
    kernel = c.int("conv_kernel_size", default=0, min=0)
    if kernel > 0:
        groups = c.int("conv_groups", default=1)
        if groups != 1:
            raise SpecError(f"{c.model_type} config: conv_groups={groups} is not one paramcount "
                            "declares (1)")
        parts.append(module("conv", "ConvLayer", [
            conv("conv", h, h, (kernel,), (h, None), padding=(kernel - 1) // 2),
            norm("LayerNorm", h)], h))
    return module("encoder", "DebertaV2Encoder", parts, h)


def _embeddings(c: Config, roles: Roles, h: int) -> Node:
    e = c.int("embedding_size", default=None) or h
    parts = [roles.embedding(embedding("word_embeddings", c.int("vocab_size", default=128100),
                                       e))]
    if c.bool("position_biased_input", default=True):
        parts.append(roles.embedding(embedding(
            "position_embeddings", c.int("max_position_embeddings", default=512), e)))
    types = c.int("type_vocab_size", default=0, min=0)
    if types > 0:
        parts.append(roles.embedding(embedding("token_type_embeddings", types, e)))
    if e != h:
        parts.append(linear("embed_proj", e, h, bias=False))
    parts.append(norm("LayerNorm", h))
    return module("embeddings", "DebertaV2Embeddings", parts, h)


@register("deberta-v2", "DebertaV2", _HEADS)
def deberta_v2(c: Config, head: str, roles: Roles) -> Node:
    h = c.int("hidden_size", default=1536)
    body = module("deberta" if head != "Model" else "", "DebertaV2Model",
                  [_embeddings(c, roles, h), _encoder(c, roles, h)], h)
    if head == "Model":
        return body
    vocab = c.int("vocab_size", default=128100)
    if head == "ForMaskedLM":
        return module("", head, [body, _mlm_head(c, roles, h, vocab)])
    if head == "ForSequenceClassification":
        pooled = c.int("pooler_hidden_size", default=h)
        return module("", head, [body, module("pooler", "ContextPooler", [
            linear("dense", pooled, pooled, length=1)]),
            linear("classifier", pooled, c.num_labels(), length=1)])
    labels = 2 if head == "ForQuestionAnswering" else c.num_labels()
    name = "qa_outputs" if head == "ForQuestionAnswering" else "classifier"
    return module("", head, [body, linear(name, h, labels)])


def _mlm_head(c: Config, roles: Roles, h: int, vocab: int) -> Node:
    """The legacy head (``cls.predictions``, what released checkpoints load) projects to the
    embedding width and decodes by the tied word embedding; the newer one (``legacy=false``)
    keeps only a transform and a bias, multiplying by the embedding in its forward."""
    if not c.bool("legacy", default=True):
        return module("lm_predictions", "DebertaV2OnlyMLMHead", [
            module("lm_head", "DebertaV2LMPredictionHead", [
                linear("dense", h, h), norm("LayerNorm", h), parameter("bias", (vocab,))])])
    e = c.int("embedding_size", default=None) or h
    decoder = mlm_decoder(c, e, vocab, "deberta.embeddings.word_embeddings", "cls.predictions")
    if not decoder.tied:
        roles.embedding(decoder)
    return module("cls", "LegacyDebertaV2OnlyMLMHead", [
        module("predictions", "LegacyDebertaV2LMPredictionHead", [
            module("transform", "LegacyDebertaV2PredictionHeadTransform", [
                linear("dense", h, e), norm("LayerNorm", e)]),
            decoder, parameter("bias", (vocab,))])])
