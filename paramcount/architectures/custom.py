"""A decoder-only transformer from a few numbers, for quick what-ifs
(``paramcount transformer --layers 96 --d-model 12288 --heads 96 --vocab 50257 --context 2048``).

The numbers become the ``config.json`` of the transformers family with that layout, which then
goes through the same code as any config: GPT-2's layout (learned positions, LayerNorm, biases
everywhere, a 4·d_model MLP, an LM head tied to the embedding) unless a gated MLP, RMSNorm or
grouped-query attention asks for Llama's (rotary positions, RMSNorm, a SwiGLU MLP, no biases, an
LM head of its own), or experts for Mixtral's.
"""

from __future__ import annotations

from typing import Any

from paramcount.errors import SpecError


def llama_ffn(d_model: int) -> int:
    """Llama's MLP width for a model width: two thirds of 4·d_model, rounded up to a multiple
    of 256 (Meta's ``multiple_of``).

    >>> llama_ffn(4096)
    11008
    """
    width = 2 * 4 * d_model // 3
    return -(-width // 256) * 256


def _positive(flag: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise SpecError(f"--{flag} {value}: expected a positive integer")


def transformer_config(layers: int, d_model: int, heads: int, vocab: int,
                       kv_heads: int | None = None, head_dim: int | None = None,
                       context: int | None = None, ffn: int | None = None, gated: bool = False,
                       tied: bool | None = None, norm: str | None = None,
                       experts: int | None = None, experts_per_token: int | None = None
                       ) -> dict[str, Any]:
    """The Hugging Face config of a decoder-only transformer of this shape.

    >>> transformer_config(12, 768, 12, 50257)["architectures"]
    ['GPT2LMHeadModel']
    >>> transformer_config(32, 4096, 32, 32000, kv_heads=8)["model_type"]
    'llama'
    """
    for flag, value in (("layers", layers), ("d-model", d_model), ("heads", heads),
                        ("vocab", vocab), ("kv-heads", kv_heads), ("head-dim", head_dim),
                        ("context", context), ("ffn", ffn), ("experts", experts),
                        ("experts-per-token", experts_per_token)):
        _positive(flag, value)
    if norm not in (None, "layernorm", "rmsnorm"):
        raise SpecError(f"--norm {norm}: expected layernorm or rmsnorm")
    if experts_per_token is not None and experts is None:
        raise SpecError("--experts-per-token needs --experts")
    llama_like = gated or norm == "rmsnorm" or experts is not None or \
        (kv_heads is not None and kv_heads != heads)
    if llama_like:
        return _llama(layers, d_model, heads, vocab, kv_heads, head_dim, context, ffn, tied,
                      norm, experts, experts_per_token)
    return _gpt2(layers, d_model, heads, vocab, head_dim, context, ffn, tied)


def _gpt2(layers: int, d_model: int, heads: int, vocab: int, head_dim: int | None,
          context: int | None, ffn: int | None, tied: bool | None) -> dict[str, Any]:
    if d_model % heads or (head_dim is not None and head_dim * heads != d_model):
        raise SpecError(f"--heads {heads}{f' × --head-dim {head_dim}' if head_dim else ''} "
                        f"does not make --d-model {d_model}: a GPT-style block needs "
                        "heads × head_dim = d_model (--gated builds a Llama-style one)")
    return {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": layers,
            "n_embd": d_model, "n_head": heads, "vocab_size": vocab,
            "n_positions": context or 1024, "n_inner": ffn,
            "tie_word_embeddings": True if tied is None else tied}


def _llama(layers: int, d_model: int, heads: int, vocab: int, kv_heads: int | None,
           head_dim: int | None, context: int | None, ffn: int | None, tied: bool | None,
           norm: str | None, experts: int | None, active: int | None) -> dict[str, Any]:
    if norm == "layernorm":
        raise SpecError("--norm layernorm: a gated, grouped-query or mixture-of-experts block "
                        "is built as Llama's, with RMSNorm")
    if experts is not None and (active or 2) > experts:
        raise SpecError(f"--experts-per-token {active} is more than --experts {experts}")
    doc: dict[str, Any] = {
        "model_type": "mixtral" if experts else "llama",
        "architectures": ["MixtralForCausalLM" if experts else "LlamaForCausalLM"],
        "num_hidden_layers": layers, "hidden_size": d_model, "num_attention_heads": heads,
        "num_key_value_heads": kv_heads or heads, "head_dim": head_dim,
        "vocab_size": vocab, "intermediate_size": ffn or llama_ffn(d_model),
        "max_position_embeddings": context or 4096, "tie_word_embeddings": bool(tied)}
    if experts:
        doc.update(num_local_experts=experts, num_experts_per_tok=active or 2)
    return doc
