"""Encoders: BERT, RoBERTa, XLM-RoBERTa, ELECTRA, ALBERT, MPNet and DistilBERT.

BERT and RoBERTa share one layout (RoBERTa differs in its heads: no pooler under them, a
two-layer classifier); the bare ``Model`` has a pooler, the heads for masked LM and token tasks
drop it. The masked-LM decoder reuses the word-embedding matrix and the head's own ``bias``.
XLM-RoBERTa is RoBERTa with another vocabulary; ELECTRA is BERT with a narrower embedding
projected up, and no pooler. They are rows of one table (``_KINDS``), not modules.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    parameter,
    stack,
    tie,
)
from paramcount.tree import Node, Tied

_BERT_HEADS = ("ForMaskedLM", "Model", "ForSequenceClassification", "ForPreTraining",
               "ForTokenClassification", "ForQuestionAnswering")


def _bert_attention(name: str, h: int, heads: int, cross: bool = False,
                    cached: bool = False) -> Node:
    self_ = module("self", "BertSelfAttention", [linear(p, h, h) for p in ("query", "key",
                                                                             "value")])
    attends(self_, heads, h // heads, h, cross=cross, cached=cached or cross)
    output = module("output", "BertSelfOutput", [linear("dense", h, h), norm("LayerNorm", h)])
    return module(name, "BertAttention", [self_, output], h)


@dataclass(frozen=True)
class _Kind:
    """A BERT-like family as data: its class prefix, the backbone's attribute, its config's
    defaults, and (ELECTRA) an embedding width of its own, projected up to the hidden size."""

    prefix: str
    path: str
    defaults: tuple[int, int, int, int, int]  # vocab, hidden, heads, intermediate, embedding
    factorized: bool = False
    head_first: bool = False  # XLM-R declares its heads before the backbone (tie ownership)


_KINDS = {
    "Bert": _Kind("Bert", "bert", (30522, 768, 12, 3072, 768)),
    "Roberta": _Kind("Roberta", "roberta", (50265, 768, 12, 3072, 768)),
    "XLMRoberta": _Kind("XLMRoberta", "roberta", (30522, 768, 12, 3072, 768), head_first=True),
    "Electra": _Kind("Electra", "electra", (30522, 256, 4, 1024, 128), factorized=True),
}


def _bert_body(c: Config, roles: Roles, kind: _Kind, pooler: bool) -> Node:
    vocab, h0, heads0, inner0, e0 = kind.defaults
    h = c.int("hidden_size", default=h0)
    heads = c.int("num_attention_heads", default=heads0)
    c.head_dim(h, heads)
    inner = c.int("intermediate_size", default=inner0)
    e = c.int("embedding_size", default=e0) if kind.factorized else h
    cross = c.bool("add_cross_attention", default=False)
    decoder = c.bool("is_decoder", default=False)  # generating: its keys and values are cached

    def block(i: int) -> Node:
        parts = [_bert_attention("attention", h, heads, cached=decoder)]
        if cross:
            parts.append(_bert_attention("crossattention", h, heads, cross=True))
        parts += [module("intermediate", "BertIntermediate", [linear("dense", h, inner)]),
                  module("output", "BertOutput", [linear("dense", inner, h),
                                                   norm("LayerNorm", h)])]
        return module(str(i), "BertLayer", parts, h)

    embeddings = module("embeddings", f"{kind.prefix}Embeddings", [
        roles.embedding(embedding("word_embeddings", c.int("vocab_size", default=vocab), e)),
        roles.embedding(embedding("position_embeddings",
                                  c.int("max_position_embeddings", default=512), e)),
        roles.embedding(embedding("token_type_embeddings",
                                  c.int("type_vocab_size", default=2), e)),
        norm("LayerNorm", e)], e)
    parts = [embeddings]
    if e != h:  # ELECTRA's small embedding, projected to the hidden size
        parts.append(linear("embeddings_project", e, h))
    n = c.layers("num_hidden_layers", default=12)
    parts.append(module("encoder", "BertEncoder",
                        [stack("layer", blocks(n, None, block), h)]))
    if pooler:
        # the pooler reads the first token only
        parts.append(module("pooler", "BertPooler", [linear("dense", h, h, length=1)]))
    return module(kind.path, f"{kind.prefix}Model", parts, h)


def mlm_decoder(c: Config, h: int, vocab: int, owner: str, head_path: str) -> Node:
    """The decoder of a masked-LM head: its matrix tied to the word embedding (unless
    ``tie_word_embeddings`` is false) and its bias the head's own ``bias``."""
    decoder = linear("decoder", h, vocab)
    if c.bool("tie_word_embeddings", default=True):
        tie(decoder, owner)
        decoder.tied += (Tied(decoder.weights[0], f"{head_path}.bias"),)
        decoder.weights = ()
    return decoder


def _owned_by_head(body: Node, decoder: Node, path: str, roles: Roles) -> None:
    """Move a tied matrix's ownership from the word embedding to the head's ``decoder`` at
    ``path`` (transformers counts a shared weight where it first yields it)."""
    if not decoder.tied or not decoder.tied[0].owner.endswith("word_embeddings.weight"):
        return
    words = body.children[0].children[0]
    matrix = decoder.tied[0].weight
    decoder.weights, decoder.tied = (matrix,), decoder.tied[1:]
    tie(words, f"{path}.decoder")
    roles.embedding(decoder)


def _bert_family(c: Config, head: str, roles: Roles, prefix: str) -> Node:
    kind = _KINDS[prefix]
    roberta = prefix != "Bert"
    pooler = head == "Model" or (not roberta and head in ("ForSequenceClassification",
                                                          "ForPreTraining"))
    body = _bert_body(c, roles, kind, pooler)
    if head == "Model":
        return body
    h = c.int("hidden_size", default=kind.defaults[1])
    vocab = c.int("vocab_size", default=kind.defaults[0])
    owner = f"{body.name}.embeddings.word_embeddings"
    if head in ("ForMaskedLM", "ForPreTraining"):
        if roberta:
            decoder = mlm_decoder(c, h, vocab, owner, "lm_head")
            if kind.head_first:
                _owned_by_head(body, decoder, "lm_head", roles)
            lm = module("lm_head", "RobertaLMHead", [
                linear("dense", h, h), norm("layer_norm", h), decoder,
                parameter("bias", (vocab,))])
            return module("", head, [body, lm])
        predictions = module("predictions", "BertLMPredictionHead", [
            module("transform", "BertPredictionHeadTransform",
                   [linear("dense", h, h), norm("LayerNorm", h)]),
            mlm_decoder(c, h, vocab, owner, "cls.predictions"), parameter("bias", (vocab,))])
        heads = [predictions]
        if head == "ForPreTraining":
            heads.append(linear("seq_relationship", h, 2, length=1))  # on the pooled token
        return module("", head, [body, module("cls", "BertOnlyMLMHead", heads)])
    labels = 2 if head == "ForQuestionAnswering" else c.num_labels()
    name = "qa_outputs" if head == "ForQuestionAnswering" else "classifier"
    if roberta and head == "ForSequenceClassification":
        out = module("classifier", "RobertaClassificationHead",
                     [linear("dense", h, h, length=1), linear("out_proj", h, labels, length=1)])
    else:  # a sequence is classified from its pooled first token, the others per token
        out = linear(name, h, labels, length=1 if head == "ForSequenceClassification" else None)
    return module("", head, [body, out])


@register("bert", "Bert", _BERT_HEADS)
def bert(c: Config, head: str, roles: Roles) -> Node:
    return _bert_family(c, head, roles, "Bert")


@register("roberta", "Roberta", _BERT_HEADS[:3] + _BERT_HEADS[4:])
def roberta(c: Config, head: str, roles: Roles) -> Node:
    return _bert_family(c, head, roles, "Roberta")


@register("xlm-roberta", "XLMRoberta", _BERT_HEADS[:3] + _BERT_HEADS[4:])
def xlm_roberta(c: Config, head: str, roles: Roles) -> Node:
    return _bert_family(c, head, roles, "XLMRoberta")


# -- ELECTRA -----------------------------------------------------------------------------------

@register("electra", "Electra", ("ForPreTraining", "ForMaskedLM", "Model",
                                 "ForSequenceClassification", "ForTokenClassification",
                                 "ForQuestionAnswering"))
def electra(c: Config, head: str, roles: Roles) -> Node:
    """ELECTRA: BERT's encoder with no pooler, under a narrower embedding (``embedding_size``)
    projected up. The discriminator (``ForPreTraining``) scores each token as replaced or not;
    the generator (``ForMaskedLM``) projects back down and reuses the word embedding."""
    kind = _KINDS["Electra"]
    body = _bert_body(c, roles, kind, pooler=False)
    if head == "Model":
        return body
    vocab, h0, _, _, e0 = kind.defaults
    h, e = c.int("hidden_size", default=h0), c.int("embedding_size", default=e0)
    if head == "ForPreTraining":
        out = module("discriminator_predictions", "ElectraDiscriminatorPredictions", [
            linear("dense", h, h), linear("dense_prediction", h, 1)])
        return module("", head, [body, out])
    if head == "ForMaskedLM":
        lm = lm_head(roles, e, c.int("vocab_size", default=vocab), bias=True,
                     name="generator_lm_head",
                     tied_to="electra.embeddings.word_embeddings"
                     if c.bool("tie_word_embeddings", default=True) else None)
        return module("", head, [body, module("generator_predictions",
                                              "ElectraGeneratorPredictions",
                                              [norm("LayerNorm", e), linear("dense", h, e)]),
                                 lm])
    labels = 2 if head == "ForQuestionAnswering" else c.num_labels()
    if head == "ForSequenceClassification":
        return module("", head, [body, module("classifier", "ElectraClassificationHead", [
            linear("dense", h, h, length=1), linear("out_proj", h, labels, length=1)])])
    return module("", head, [body, linear("qa_outputs" if head == "ForQuestionAnswering"
                                          else "classifier", h, labels)])


# -- ALBERT ----------------------------------------------------------------------------------

_ALBERT_HEADS = ("ForMaskedLM", "Model", "ForPreTraining", "ForSequenceClassification",
                 "ForTokenClassification", "ForQuestionAnswering")


@register("albert", "Albert", _ALBERT_HEADS)
def albert(c: Config, head: str, roles: Roles) -> Node:
    """ALBERT: a narrow embedding projected up, and ``num_hidden_groups`` groups of
    ``inner_group_num`` layers whose weights every layer reuses: its count does not grow with
    ``num_hidden_layers``, its compute does (each group is called that many times over)."""
    h = c.int("hidden_size", default=4096)
    heads = c.int("num_attention_heads", default=64)
    d = c.head_dim(h, heads)
    inner, e = c.int("intermediate_size", default=16384), c.int("embedding_size", default=128)
    vocab = c.int("vocab_size", default=30000)
    n, groups = c.layers("num_hidden_layers", default=12), c.int("num_hidden_groups", default=1)
    if n % groups:
        raise c.error("num_hidden_groups", groups, f"does not divide num_hidden_layers={n}")

    def layer(i: int) -> Node:
        attn = [linear(p, h, h) for p in ("query", "key", "value", "dense")]
        return module(str(i), "AlbertLayer", [
            norm("full_layer_layer_norm", h),
            attends(module("attention", "AlbertSdpaAttention", [*attn, norm("LayerNorm", h)],
                           h), heads, d, h, cached=False),
            linear("ffn", h, inner), linear("ffn_output", inner, h)], h)

    def group(i: int) -> Node:
        count = c.int("inner_group_num", default=1)
        return _called(module(str(i), "AlbertLayerGroup", [
            stack("albert_layers", blocks(count, None, layer), h)], h), n // groups)

    embeddings = module("embeddings", "AlbertEmbeddings", [
        roles.embedding(embedding("word_embeddings", vocab, e)),
        roles.embedding(embedding("position_embeddings",
                                  c.int("max_position_embeddings", default=512), e)),
        roles.embedding(embedding("token_type_embeddings", c.int("type_vocab_size", default=2),
                                  e)),
        norm("LayerNorm", e)], e)
    encoder = module("encoder", "AlbertTransformer", [
        linear("embedding_hidden_mapping_in", e, h),
        stack("albert_layer_groups", [group(i) for i in range(groups)], h)], h)
    pooled = head in ("Model", "ForPreTraining", "ForSequenceClassification")
    parts = [embeddings, encoder] + ([linear("pooler", h, h, length=1)] if pooled else [])
    body = module("" if head == "Model" else "albert", "AlbertModel", parts, h)
    if head == "Model":
        return body
    if head in ("ForMaskedLM", "ForPreTraining"):
        predictions = module("predictions", "AlbertMLMHead", [
            norm("LayerNorm", e), linear("dense", h, e),
            mlm_decoder(c, e, vocab, "albert.embeddings.word_embeddings", "predictions"),
            parameter("bias", (vocab,))], vocab)
        if head == "ForMaskedLM":
            return module("", head, [body, predictions])
        return module("", head, [body, predictions, module(
            "sop_classifier", "AlbertSOPHead", [linear("classifier", h, 2, length=1)])])
    labels = 2 if head == "ForQuestionAnswering" else c.num_labels()
    name = "qa_outputs" if head == "ForQuestionAnswering" else "classifier"
    length = 1 if head == "ForSequenceClassification" else None
    return module("", head, [body, linear(name, h, labels, length=length)])


def _called(node: Node, times: int) -> Node:
    """``node`` and everything under it run ``times`` times over the same weights."""
    for _, inner in node.walk():
        inner.calls = times
    return node


# -- MPNet -----------------------------------------------------------------------------------

@register("mpnet", "MPNet", ("ForMaskedLM", "Model", "ForSequenceClassification",
                             "ForTokenClassification", "ForQuestionAnswering"))
def mpnet(c: Config, head: str, roles: Roles) -> Node:
    """MPNet (all-mpnet-base-v2's encoder): BERT's layer with its attention named ``attn.q``..
    ``attn.o``, no token types, and one table of relative-position biases (buckets × heads)
    shared by the layers; RoBERTa's heads."""
    h = c.int("hidden_size", default=768)
    heads = c.int("num_attention_heads", default=12)
    d = c.head_dim(h, heads)
    inner = c.int("intermediate_size", default=3072)
    vocab = c.int("vocab_size", default=30527)

    def block(i: int) -> Node:
        attn = attends(module("attn", "MPNetSelfAttention",
                              [linear(p, h, h) for p in ("q", "k", "v", "o")]), heads, d, h,
                       cached=False)
        return module(str(i), "MPNetLayer", [
            module("attention", "MPNetAttention", [attn, norm("LayerNorm", h)], h),
            module("intermediate", "MPNetIntermediate", [linear("dense", h, inner)]),
            module("output", "MPNetOutput", [linear("dense", inner, h), norm("LayerNorm", h)])],
            h)

    embeddings = module("embeddings", "MPNetEmbeddings", [
        roles.embedding(embedding("word_embeddings", vocab, h)),
        roles.embedding(embedding("position_embeddings",
                                  c.int("max_position_embeddings", default=512), h)),
        norm("LayerNorm", h)], h)
    n = c.layers("num_hidden_layers", default=12)
    encoder = module("encoder", "MPNetEncoder", [
        stack("layer", blocks(n, None, block), h),
        embedding("relative_attention_bias",
                  c.int("relative_attention_num_buckets", default=32), heads)], h)
    parts = [embeddings, encoder]
    if head == "Model":
        return module("", "MPNetModel", [*parts, module("pooler", "MPNetPooler", [
            linear("dense", h, h, length=1)])], h)
    body = module("mpnet", "MPNetModel", parts, h)
    if head == "ForMaskedLM":
        return module("", head, [body, module("lm_head", "MPNetLMHead", [
            linear("dense", h, h), norm("layer_norm", h),
            mlm_decoder(c, h, vocab, "mpnet.embeddings.word_embeddings", "lm_head"),
            parameter("bias", (vocab,))])])
    if head == "ForSequenceClassification":
        return module("", head, [body, module("classifier", "MPNetClassificationHead", [
            linear("dense", h, h, length=1), linear("out_proj", h, c.num_labels(), length=1)])])
    labels = 2 if head == "ForQuestionAnswering" else c.num_labels()
    return module("", head, [body, linear("qa_outputs" if head == "ForQuestionAnswering"
                                          else "classifier", h, labels)])


# -- DistilBERT --------------------------------------------------------------------------------

@register("distilbert", "DistilBert", ("ForMaskedLM", "Model", "ForSequenceClassification"))
def distilbert(c: Config, head: str, roles: Roles) -> Node:
    h = c.int("hidden_size", "dim", default=768)
    heads = c.int("num_attention_heads", "n_heads", default=12)
    d = c.head_dim(h, heads)
    inner = c.int("hidden_dim", default=3072)
    vocab = c.int("vocab_size", default=30522)
    # sinusoidal_pos_embds only fills the position table: it stays a trainable parameter

    def block(i: int) -> Node:
        attn = [linear(p, h, h) for p in ("q_lin", "k_lin", "v_lin", "out_lin")]
        return module(str(i), "TransformerBlock", [
            attends(module("attention", "DistilBertSelfAttention", attn), heads, d, h,
                    cached=False),
            norm("sa_layer_norm", h),
            module("ffn", "FFN", [linear("lin1", h, inner), linear("lin2", inner, h)]),
            norm("output_layer_norm", h)], h)

    embeddings = module("embeddings", "Embeddings", [
        roles.embedding(embedding("word_embeddings", vocab, h)),
        roles.embedding(embedding("position_embeddings",
                                  c.int("max_position_embeddings", default=512), h)),
        norm("LayerNorm", h)], h)
    n = c.layers("num_hidden_layers", "n_layers", default=6)
    transformer = module("transformer", "Transformer",
                         [stack("layer", blocks(n, None, block), h)])
    body = module("distilbert", "DistilBertModel", [embeddings, transformer], h)
    if head == "Model":
        return body
    if head == "ForSequenceClassification":
        return module("", head, [body, linear("pre_classifier", h, h, length=1),
                                 linear("classifier", h, c.num_labels(), length=1)])
    projector = linear("vocab_projector", h, vocab)
    if c.bool("tie_word_embeddings", default=True):
        tie(projector, "distilbert.embeddings.word_embeddings")
    else:
        roles.embedding(projector)
    return module("", head, [body, linear("vocab_transform", h, h), norm("vocab_layer_norm", h),
                             projector])
