"""Encoder-decoders: T5 (v1.0 and the gated v1.1), UMT5, BART and Whisper.

The encoder's and decoder's token embeddings are the model's ``shared`` one. T5's LM head is tied
to it in v1.0; T5 v1.1 (``tie_word_embeddings: false``) learns its own, as its released
checkpoints hold it. Only T5's first block in each stack owns the relative position bias, so
that block folds apart from the rest.
"""

from __future__ import annotations

from paramcount.architectures import register
from paramcount.architectures.config import Config
from paramcount.architectures.parts import (
    Roles,
    attends,
    blocks,
    buffer,
    conv,
    embedding,
    linear,
    lm_head,
    module,
    norm,
    settles,
    stack,
    tie,
)
from paramcount.tree import Node

# -- T5 ----------------------------------------------------------------------------------------


def _t5_attention(name: str, d: int, inner: int, heads: int, buckets: int | None,
                  cross: bool = False, cached: bool = True) -> Node:
    parts = [linear(p, d, inner, bias=False) for p in ("q", "k", "v")]
    parts.append(linear("o", inner, d, bias=False))
    if buckets is not None:
        parts.append(embedding("relative_attention_bias", buckets, heads))
    return attends(module(name, "T5Attention", parts, d), heads, inner // heads, d, cross=cross,
                   cached=cached)


#: T5's and UMT5's config defaults: vocabulary, width, heads, feed-forward width, layers,
#: feed-forward kind; UMT5 also gives every block a relative position bias of its own
_T5 = {"T5": (32128, 512, 8, 2048, 6, "relu", False),
       "UMT5": (250112, 512, 6, 1024, 8, "gated-gelu", True)}


def _t5_stack(c: Config, name: str, layers: int, decoder: bool, prefix: str) -> Node:
    vocab, d0, heads0, ff0, _, proj0, every = _T5[prefix]
    d = c.int("hidden_size", "d_model", default=d0)
    heads = c.int("num_attention_heads", "num_heads", default=heads0)
    inner = heads * c.int("head_dim", "d_kv", default=64)
    ff = c.int("d_ff", default=ff0)
    buckets = c.int("relative_attention_num_buckets", default=32)
    proj = c.str("feed_forward_proj", default=proj0)
    parts = proj.split("-")
    if len(parts) > 2 or (len(parts) == 2 and parts[0] != "gated"):
        raise c.error("feed_forward_proj", proj, "is invalid; expected 'ACT' or 'gated-ACT'")
    gated = parts[0] == "gated"

    def block(i: int) -> Node:
        first = buckets if i == 0 or every else None
        attn = module("0", f"{prefix}LayerSelfAttention", [
            _t5_attention("SelfAttention", d, inner, heads, first, cached=decoder),
            norm("layer_norm", d, "rmsnorm")], d)
        wi = [linear("wi_0", d, ff, False), linear("wi_1", d, ff, False)] if gated else \
            [linear("wi", d, ff, False)]
        ffn = module("DenseReluDense", "T5DenseGatedActDense" if gated else "T5DenseActDense",
                     [*wi, linear("wo", ff, d, False)], d)
        items = [attn]
        if decoder:
            items.append(module("1", f"{prefix}LayerCrossAttention", [
                _t5_attention("EncDecAttention", d, inner, heads, None, cross=True),
                norm("layer_norm", d, "rmsnorm")], d))
        items.append(module(str(len(items)), f"{prefix}LayerFF", [
            ffn, norm("layer_norm", d, "rmsnorm")], d))
        return module(str(i), f"{prefix}Block", [module("layer", "ModuleList", items, d)], d)

    embed = tie(embedding("embed_tokens", c.int("vocab_size", default=vocab), d), "shared")
    return module(name, f"{prefix}Stack", [
        embed, stack("block", blocks(layers, settles(1, lambda i: i == 0 or every), block), d),
        norm("final_layer_norm", d, "rmsnorm")], d)


def _t5_family(c: Config, head: str, roles: Roles, prefix: str) -> Node:
    vocab0, d0, _, _, layers0, _, _ = _T5[prefix]
    d = c.int("hidden_size", "d_model", default=d0)
    vocab = c.int("vocab_size", default=vocab0)
    layers = c.layers("num_hidden_layers", "num_layers", default=layers0)
    parts = [roles.embedding(embedding("shared", vocab, d)),
             _t5_stack(c, "encoder", layers, decoder=False, prefix=prefix)]
    if head != "EncoderModel":
        parts.append(_t5_stack(c, "decoder", c.layers("num_decoder_layers", default=layers),
                               decoder=True, prefix=prefix))
    if head == "ForConditionalGeneration":
        # v1.1 configs say tie_word_embeddings: false (or, saved by transformers >= 5,
        # scale_decoder_outputs: false): their checkpoints hold an LM head of their own
        untied = not c.bool("tie_word_embeddings", default=True) or \
            not c.bool("scale_decoder_outputs", default=True)
        parts.append(lm_head(roles, d, vocab, None if untied else "shared"))
    return module("", head, parts, d)


@register("t5", "T5", ("ForConditionalGeneration", "Model", "EncoderModel"))
def t5(c: Config, head: str, roles: Roles) -> Node:
    return _t5_family(c, head, roles, "T5")


@register("umt5", "UMT5", ("ForConditionalGeneration", "Model", "EncoderModel"))
def umt5(c: Config, head: str, roles: Roles) -> Node:
    """UMT5 (multilingual T5 with per-layer positions): T5 v1.1's layout, a relative position
    bias in every block instead of the first one alone."""
    return _t5_family(c, head, roles, "UMT5")


# -- BART --------------------------------------------------------------------------------------

def _bart_attention(name: str, d: int, heads: int, k_bias: bool = True, cross: bool = False,
                    lengths: tuple[int | None, int | None] = (None, None),
                    cached: bool = True) -> Node:
    """Attention whose queries and keys have ``lengths`` positions (None: the sequence's)."""
    q, kv = lengths
    node = module(name, "BartAttention", [
        linear("k_proj", d, d, k_bias, kv), linear("v_proj", d, d, length=kv),
        linear("q_proj", d, d, length=q), linear("out_proj", d, d, length=q)], d)
    return attends(node, heads, d // heads, d, cross=cross, queries=q, keys=kv, cached=cached)


def _bart_layer(i: int, d: int, heads: int, ffn: int, decoder: bool, prefix: str = "Bart",
                k_bias: bool = True, encoded: int | None = None) -> Node:
    """An encoder or decoder layer; ``encoded`` fixes the encoder's length (Whisper's)."""
    own = None if decoder else encoded
    parts = [_bart_attention("self_attn", d, heads, k_bias, lengths=(own, own), cached=decoder),
             norm("self_attn_layer_norm", d)]
    if decoder:
        parts += [_bart_attention("encoder_attn", d, heads, k_bias, cross=True,
                                  lengths=(None, encoded)),
                  norm("encoder_attn_layer_norm", d)]
    parts += [linear("fc1", d, ffn, length=own), linear("fc2", ffn, d, length=own),
              norm("final_layer_norm", d)]
    kind = "DecoderLayer" if decoder else "EncoderLayer"
    return module(str(i), f"{prefix}{kind}", parts, d)


def _aliases(side: str, field: str) -> tuple[str, ...]:
    """BART's and Whisper's ``attribute_map``: the generic names are the encoder's."""
    generic = {"layers": ("num_hidden_layers",),
               "attention_heads": ("num_attention_heads", "num_key_value_heads")}[field]
    return (f"{side}_{field}", *generic) if side == "encoder" else (f"{side}_{field}",)


def _bart_stack(c: Config, roles: Roles, side: str, tied_to: str | None) -> Node:
    d = c.int("hidden_size", "d_model", default=1024)
    heads = c.int(*_aliases(side, "attention_heads"), default=16)
    c.head_dim(d, heads, field=f"{side}_attention_heads")
    ffn = c.int(f"{side}_ffn_dim", default=4096)
    decoder = side == "decoder"
    embed = embedding("embed_tokens", c.int("vocab_size", default=50265), d)
    embed = tie(embed, tied_to) if tied_to else roles.embedding(embed)
    # BART's learned positions start at an offset of 2 (a fairseq habit)
    positions = roles.embedding(embedding("embed_positions", c.int(
        "max_position_embeddings", default=1024) + 2, d))
    n = c.layers(*_aliases(side, "layers"), default=12)
    layers = blocks(n, None, lambda i: _bart_layer(i, d, heads, ffn, decoder))
    return module(side, f"Bart{side.title()}", [
        embed, positions, stack("layers", layers, d), norm("layernorm_embedding", d)], d)


@register("bart", "Bart", ("ForConditionalGeneration", "Model", "ForSequenceClassification"))
def bart(c: Config, head: str, roles: Roles) -> Node:
    d = c.int("hidden_size", "d_model", default=1024)
    vocab = c.int("vocab_size", default=50265)
    # transformers >= 5 ties the encoder's and decoder's embeddings to `shared` (and the LM
    # head) only when tie_word_embeddings is true
    tied = c.bool("tie_word_embeddings", default=True)
    name = "" if head == "Model" else "model"
    shared = f"{name}.shared".lstrip(".") if tied else None
    body = module(name, "BartModel", [
        roles.embedding(embedding("shared", vocab, d)), _bart_stack(c, roles, "encoder", shared),
        _bart_stack(c, roles, "decoder", shared)], d)
    if head == "Model":
        return body
    if head == "ForSequenceClassification":
        cls = module("classification_head", "BartClassificationHead", [
            # on each sequence's last end-of-sentence token
            linear("dense", d, d, length=1),
            linear("out_proj", d, c.num_labels(default=3), length=1)])
        return module("", head, [body, cls])
    return module("", head, [body, buffer("final_logits_bias", (1, vocab)),
                             lm_head(roles, d, vocab, shared)])


# -- Whisper -----------------------------------------------------------------------------------

@register("whisper", "Whisper", ("ForConditionalGeneration", "Model"))
def whisper(c: Config, head: str, roles: Roles) -> Node:
    d = c.int("hidden_size", "d_model", default=384)
    heads = {side: c.int(*_aliases(side, "attention_heads"), default=6)
             for side in ("encoder", "decoder")}
    for side, n in heads.items():
        c.head_dim(d, n, field=f"{side}_attention_heads")
    mels = c.int("num_mel_bins", default=80)
    vocab = c.int("vocab_size", default=51865)
    n_enc = c.layers(*_aliases("encoder", "layers"), default=4)
    n_dec = c.layers("decoder_layers", default=4)
    enc_ffn = c.int("encoder_ffn_dim", default=1536)
    dec_ffn = c.int("decoder_ffn_dim", default=1536)
    # the encoder reads exactly 2·max_source_positions mel frames, halved by conv2's stride
    frames = c.int("max_source_positions", default=1500)

    def layer(i: int, ffn: int, decoder: bool) -> Node:
        n = heads["decoder" if decoder else "encoder"]
        return _bart_layer(i, d, n, ffn, decoder, "Whisper", k_bias=False, encoded=frames)

    encoder = module("encoder", "WhisperEncoder", [
        conv("conv1", mels, d, (3,), (mels, 2 * frames), padding=1),
        conv("conv2", d, d, (3,), (d, 2 * frames), stride=2, padding=1),
        # the encoder's sinusoidal positions are a frozen parameter (requires_grad=False)
        roles.embedding(embedding("embed_positions", frames, d, trainable=False)),
        stack("layers", blocks(n_enc, None, lambda i: layer(i, enc_ffn, False)), d),
        norm("layer_norm", d)], d)
    decoder = module("decoder", "WhisperDecoder", [
        roles.embedding(embedding("embed_tokens", vocab, d)),
        roles.embedding(embedding("embed_positions", c.int("max_target_positions",
                                                           default=448), d)),
        stack("layers", blocks(n_dec, None, lambda i: layer(i, dec_ffn, True)), d),
        norm("layer_norm", d)], d)
    if head == "Model":
        return module("", head, [encoder, decoder], d)
    body = module("model", "WhisperModel", [encoder, decoder], d)
    tied = "model.decoder.embed_tokens" if c.bool("tie_word_embeddings", default=True) else None
    return module("", head, [body, lm_head(roles, d, vocab, tied, name="proj_out")])
