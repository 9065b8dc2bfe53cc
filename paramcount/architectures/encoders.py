"""Encoders: BERT, RoBERTa, DistilBERT and ViT.

BERT and RoBERTa share one layout (RoBERTa differs in its heads: no pooler under them, a
two-layer classifier); the bare ``Model`` has a pooler, the heads for masked LM and token tasks
drop it. The masked-LM decoder reuses the word-embedding matrix and the head's own ``bias``.
"""

from __future__ import annotations

from paramcount.architectures import register
from paramcount.architectures.config import Config
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


def _bert_body(c: Config, roles: Roles, prefix: str, pooler: bool) -> Node:
    h = c.int("hidden_size", default=768)
    heads = c.int("num_attention_heads", default=12)
    c.head_dim(h, heads)
    inner = c.int("intermediate_size", default=3072)
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

    embeddings = module("embeddings", f"{prefix}Embeddings", [
        roles.embedding(embedding("word_embeddings", c.int("vocab_size", default=_vocab(prefix)),
                                  h)),
        roles.embedding(embedding("position_embeddings",
                                  c.int("max_position_embeddings", default=512), h)),
        roles.embedding(embedding("token_type_embeddings",
                                  c.int("type_vocab_size", default=2), h)),
        norm("LayerNorm", h)], h)
    n = c.layers("num_hidden_layers", default=12)
    encoder = module("encoder", "BertEncoder", [stack("layer", blocks(n, None, block), h)])
    parts = [embeddings, encoder]
    if pooler:
        # the pooler reads the first token only
        parts.append(module("pooler", "BertPooler", [linear("dense", h, h, length=1)]))
    return module(prefix.lower(), f"{prefix}Model", parts, h)


def _vocab(prefix: str) -> int:
    return 50265 if prefix == "Roberta" else 30522


def _mlm_decoder(c: Config, h: int, vocab: int, owner: str, head_path: str) -> Node:
    """The decoder of a masked-LM head: its matrix tied to the word embedding (unless
    ``tie_word_embeddings`` is false) and its bias the head's own ``bias``."""
    decoder = linear("decoder", h, vocab)
    if c.bool("tie_word_embeddings", default=True):
        tie(decoder, owner)
        decoder.tied += (Tied(decoder.weights[0], f"{head_path}.bias"),)
        decoder.weights = ()
    return decoder


def _bert_family(c: Config, head: str, roles: Roles, prefix: str) -> Node:
    roberta = prefix == "Roberta"
    pooler = head == "Model" or (not roberta and head in ("ForSequenceClassification",
                                                          "ForPreTraining"))
    body = _bert_body(c, roles, prefix, pooler)
    if head == "Model":
        return body
    h = c.int("hidden_size", default=768)
    vocab = c.int("vocab_size", default=_vocab(prefix))
    owner = f"{body.name}.embeddings.word_embeddings"
    if head in ("ForMaskedLM", "ForPreTraining"):
        if roberta:
            lm = module("lm_head", "RobertaLMHead", [
                linear("dense", h, h), norm("layer_norm", h),
                _mlm_decoder(c, h, vocab, owner, "lm_head"), parameter("bias", (vocab,))])
            return module("", head, [body, lm])
        predictions = module("predictions", "BertLMPredictionHead", [
            module("transform", "BertPredictionHeadTransform",
                   [linear("dense", h, h), norm("LayerNorm", h)]),
            _mlm_decoder(c, h, vocab, owner, "cls.predictions"), parameter("bias", (vocab,))])
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


# -- ViT ---------------------------------------------------------------------------------------

@register("vit", "ViT", ("ForImageClassification", "Model"))
def vit(c: Config, head: str, roles: Roles) -> Node:
    h = c.int("hidden_size", default=768)
    heads = c.int("num_attention_heads", default=12)
    d = c.head_dim(h, heads)
    inner = c.int("intermediate_size", default=3072)
    bias = c.bool("qkv_bias", default=True)
    image, patch = c.pair("image_size", 224), c.pair("patch_size", 16)
    patches = (image[0] // patch[0]) * (image[1] // patch[1])
    n = patches + 1  # the image fixes the sequence: its patches and the class token

    def block(i: int) -> Node:
        attn = [linear(p, h, heads * d, bias, n) for p in ("q_proj", "k_proj", "v_proj")]
        attn.append(linear("o_proj", heads * d, h, length=n))
        return module(str(i), "ViTLayer", [
            attends(module("attention", "ViTAttention", attn), heads, d, h, queries=n, keys=n,
                    cached=False),
            module("mlp", "ViTMLP", [linear("fc1", h, inner, length=n),
                                     linear("fc2", inner, h, length=n)]),
            norm("layernorm_before", h), norm("layernorm_after", h)], h)

    channels = c.int("num_channels", default=3)
    projection = conv("projection", channels, h, patch, (channels, *image), stride=patch)
    embeddings = module("embeddings", "ViTEmbeddings", [
        parameter("cls_token", (1, 1, h)),
        roles.embedding(parameter("position_embeddings", (1, patches + 1, h))),
        module("patch_embeddings", "ViTPatchEmbeddings", [projection])], h)
    layers = c.layers("num_hidden_layers", default=12)
    parts = [embeddings, stack("layers", blocks(layers, None, block), h),
             norm("layernorm", h)]
    if head == "Model":
        pooled = c.int("pooler_output_size", default=None) or h
        return module("", "ViTModel", [*parts, module("pooler", "ViTPooler",
                                                      [linear("dense", h, pooled, length=1)])])
    body = module("vit", "ViTModel", parts, h)
    labels = c.num_labels()
    classifier = linear("classifier", h, labels, length=1)  # on the class token
    return module("", head, [body, classifier] if labels > 0 else [body])
