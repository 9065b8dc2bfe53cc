"""Voxtral: Mistral's speech-understanding models, Whisper's encoder (``audio_tower``), a
projector that reads four encoder frames stacked (``intermediate_size`` wide) into the
language model's width, and a Llama-layout language model with its LM head (never tied), laid out as
``VoxtralForConditionalGeneration`` lays them out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paramcount.architectures import register
from paramcount.architectures.config import Config
from paramcount.architectures.multimodal import assemble, language
from paramcount.architectures.parts import (
    Roles,
    blocks,
    conv,
    embedding,
    linear,
    module,
    norm,
    stack,
)
from paramcount.architectures.seq2seq import _bart_layer
from paramcount.tree import Node

#: VoxtralConfig's language model when ``text_config`` leaves them out (Voxtral-Mini-3B's)
TEXT: dict[str, Any] = {
    "vocab_size": 131072, "hidden_size": 3072, "intermediate_size": 8192,
    "num_hidden_layers": 30, "num_key_value_heads": 8, "head_dim": 128}


def audio_tower(c: Config, roles: Roles) -> tuple[Node, int]:
    """``VoxtralEncoder``: Whisper's encoder (two convolutions, frozen positions, pre-norm
    layers whose key projection has no bias), read from ``audio_config``; and the width of the
    four stacked frames the projector reads."""
    d = c.int("hidden_size", "d_model", default=1280)
    heads = c.int("num_attention_heads", "encoder_attention_heads", default=20)
    c.head_dim(d, heads, field="num_attention_heads")
    ffn = c.int("intermediate_size", "encoder_ffn_dim", default=5120)
    mels = c.int("num_mel_bins", default=128)
    frames = c.int("max_source_positions", default=1500)
    layers = c.layers("num_hidden_layers", "encoder_layers", default=32)
    tower = module("audio_tower", "VoxtralEncoder", [
        conv("conv1", mels, d, (3,), (mels, 2 * frames), padding=1),
        conv("conv2", d, d, (3,), (d, 2 * frames), stride=2, padding=1),
        roles.embedding(embedding("embed_positions", frames, d, trainable=False)),
        stack("layers", blocks(layers, None, lambda i: _bart_layer(
            i, d, heads, ffn, False, "Voxtral", k_bias=False, encoded=frames)), d),
        norm("layer_norm", d)], d)
    return tower, ffn


@register("voxtral", "Voxtral", ("ForConditionalGeneration", "Model"))
def voxtral(c: Config, head: str, roles: Roles) -> Node:
    given = c.raw("audio_config")
    tower, stacked = audio_tower(Config(given if isinstance(given, Mapping) else {},
                                        "voxtral_encoder", "audio_config."), roles)
    text = c.raw("text_config")
    doc = {"model_type": "llama", **TEXT, **(text if isinstance(text, Mapping) else {})}
    # transformers declares no tied weights for Voxtral: the head is its own, whatever either
    # config's tie_word_embeddings says
    body, lm_head = language(Config({"text_config": doc}, c.model_type), roles, text_ties=False)
    h = doc["hidden_size"]
    projector = module("multi_modal_projector", "VoxtralMultiModalProjector", [
        linear("linear_1", stacked, h, bias=False), linear("linear_2", h, h, bias=False)], h)
    parts = [roles.named("audio_tower", tower), roles.named("multi_modal_projector", projector),
             roles.named("language_model", body)]
    return assemble(head, "Voxtral", parts, lm_head, roles)
