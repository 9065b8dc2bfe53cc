"""Gemma 3n's language model (``gemma3n_text``): Gemma 3's sandwich-normed decoder with three
additions made for phones, each a few weights per layer, and key/value sharing.

- per-layer inputs: a second token embedding (``embed_tokens_per_layer``,
  ``vocab_size_per_layer_input`` rows of ``hidden_size_per_layer_input`` per layer) and a
  projection of the hidden state to the same, gated into each layer;
- AltUp: ``altup_num_inputs`` copies of the hidden state, the extra ones made and folded back by
  ``altup_projections`` / ``altup_unembed_projections``, mixed in each layer by small learned
  coefficients and a router;
- LAuReL: a low-rank (``laurel_rank``) residual beside attention;
- the last ``num_kv_shared_layers`` layers reuse the keys and values of the last earlier layer
  of their type: no key or value projections, no cache of their own.

Gemma 3n's vision (MobileNet-V5) and audio (a Conformer) towers are not declared here.
"""

from __future__ import annotations

from paramcount.architectures import register
from paramcount.architectures.config import Config
from paramcount.architectures.decoders import SANDWICH
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
)
from paramcount.architectures.windows import window_size
from paramcount.tree import Node

SLIDING, FULL = "sliding_attention", "full_attention"


def _layer_types(c: Config, layers: int) -> list[str]:
    types = c.raw("layer_types")
    if types is None:
        return [FULL if (i + 1) % 5 == 0 else SLIDING for i in range(layers)]
    if not isinstance(types, list) or len(types) != layers or not set(types) <= {SLIDING, FULL}:
        raise c.error("layer_types", types, f"is invalid; expected a list of {layers} of "
                      f"'{SLIDING}' and '{FULL}'")
    return [str(t) for t in types]


@register("gemma3n_text", "Gemma3n", ("ForCausalLM", "TextModel"), base="TextModel")
def gemma3n_text(c: Config, head: str, roles: Roles) -> Node:
    h = c.int("hidden_size", default=2048)
    layers = c.layers("num_hidden_layers", default=35)
    heads, kv = c.int("num_attention_heads", default=8), c.int("num_key_value_heads", default=2)
    d = c.int("head_dim", default=256)
    vocab = c.int("vocab_size", default=262400)
    per_layer = c.int("hidden_size_per_layer_input", default=256)
    copies = c.int("altup_num_inputs", default=4, min=1)
    rank = c.int("laurel_rank", default=64)
    bias = c.bool("attention_bias", default=False)
    inner = c.ints("intermediate_size") if isinstance(c.raw("intermediate_size"), list) \
        else [c.int("intermediate_size", default=16384)] * layers
    if len(inner) != layers:
        raise c.error("intermediate_size", inner, f"is invalid; expected one or {layers} sizes")
    types = _layer_types(c, layers)
    window = window_size(c, 512)
    shared = c.int("num_kv_shared_layers", default=15, min=0)
    first_shared = layers - shared if shared else layers

    def layer(i: int) -> Node:
        owns_kv = i < first_shared
        attn = [linear("q_proj", h, heads * d, bias), norm("q_norm", d, "rmsnorm")]
        if owns_kv:
            attn += [linear("k_proj", h, kv * d, bias), linear("v_proj", h, kv * d, bias),
                     norm("k_norm", d, "rmsnorm")]
        attn.append(linear("o_proj", heads * d, h, bias))
        self_attn = attends(module("self_attn", "Gemma3nTextAttention", attn, h), heads, d, h,
                            kv_heads=kv, cached=owns_kv,
                            window=window if types[i] == SLIDING else None)
        if not owns_kv:
            self_attn.remark = "keys and values shared with an earlier layer"
        altup = module("altup", "Gemma3nTextAltUp", [
            parameter("correct_output_scale", (h,)),
            linear("correction_coefs", copies, copies, bias=False),
            linear("prediction_coefs", copies, copies * copies, bias=False),
            linear("modality_router", h, copies, bias=False), norm("router_norm", h, "rmsnorm")],
            h)
        laurel = module("laurel", "Gemma3nTextLaurelBlock", [
            linear("linear_left", h, rank, bias=False), linear("linear_right", rank, h, bias=False),
            norm("post_laurel_norm", h, "rmsnorm")], h)
        return module(str(i), "Gemma3nTextDecoderLayer", [
            self_attn,
            module("mlp", "Gemma3nTextMLP", [linear("gate_proj", h, inner[i], bias=False),
                                             linear("up_proj", h, inner[i], bias=False),
                                             linear("down_proj", inner[i], h, bias=False)], h),
            *[norm(n, h, "rmsnorm") for n in SANDWICH], altup, laurel,
            linear("per_layer_input_gate", h, per_layer, bias=False),
            linear("per_layer_projection", per_layer, h, bias=False),
            norm("post_per_layer_input_norm", h, "rmsnorm")], h)

    name = "model" if head != "TextModel" else ""
    body = module(name, "Gemma3nTextModel", [
        roles.embedding(embedding("embed_tokens", vocab, h)),
        stack("layers", blocks(layers, lambda i: (inner[i], types[i], i < first_shared), layer),
              h),
        norm("norm", h, "rmsnorm"),
        roles.embedding(embedding("embed_tokens_per_layer",
                                  c.int("vocab_size_per_layer_input", default=262144),
                                  layers * per_layer)),
        linear("per_layer_model_projection", h, layers * per_layer, bias=False),
        norm("per_layer_projection_norm", per_layer, "rmsnorm"),
        stack("altup_projections", [linear(str(i), h, h, bias=False)
                                    for i in range(copies - 1)], h),
        stack("altup_unembed_projections", [linear(str(i), h, h, bias=False)
                                            for i in range(copies - 1)], h)], h)
    if head == "TextModel":
        return body
    tied = "model.embed_tokens" if c.bool("tie_word_embeddings", default=True) else None
    return module("", head, [body, lm_head(roles, h, vocab, tied)], vocab)
