"""Transformer FLOPs from config.json against torch.utils.flop_counter.FlopCounterMode timing a
forward pass (batch 2 × 16 tokens) of the model transformers builds from the same config; and
the attention each module declares (heads, windows, latent caches) against what transformers'
attention functions receive and what its KV cache holds.

How FlopCounterMode sees these models (torch 2.13, transformers 5):

- On the meta device, ``F.scaled_dot_product_attention`` decomposes into its math kernel (two
  ``bmm``), so "sdpa" and "eager" count alike: QKᵀ and the weighted sum over the full
  sequence², a causal mask or a sliding window discounting nothing. On a CPU tensor it runs
  ``_scaled_dot_product_flash_attention_for_cpu``, which FlopCounterMode does not count; the
  CPU cases below pin the math kernel.
- A mixture of experts cannot route tokens on the meta device (routing reads the router's
  scores), so those cases run on CPU with tiny random weights. transformers' default experts
  kernel, ``grouped_mm``, dispatches to ``torch._grouped_mm``, which FlopCounterMode does not
  count either; ``experts_implementation="eager"`` loops over the experts with ``F.linear``.
  Whatever the routing, ``tokens × experts_per_tok`` rows pass through the experts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from paramcount.errors import SpecError
from paramcount.layers.base import Attention
from paramcount.sources.hf import from_dict
from paramcount.tree import Node

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

BATCH, SEQ = 2, 16
DECODER = {"hidden_size": 64, "intermediate_size": 96, "num_attention_heads": 4,
           "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 100}
ENCODER = {k: v for k, v in DECODER.items() if k != "num_key_value_heads"}
# 32×32 images in 8×8 patches: 16 patches and the class token make a sequence of 17
VISION = {"hidden_size": 64, "intermediate_size": 96, "num_attention_heads": 4,
          "num_hidden_layers": 2, "image_size": 32, "patch_size": 8}
SEQ2SEQ = {"d_model": 64, "encoder_layers": 2, "decoder_layers": 2, "encoder_ffn_dim": 96,
           "decoder_ffn_dim": 96, "encoder_attention_heads": 4, "decoder_attention_heads": 4,
           "vocab_size": 100}
GPT = {"n_embd": 64, "n_head": 4, "n_layer": 2, "vocab_size": 100}
MOE = {"num_experts_per_tok": 2, "moe_intermediate_size": 32}
# DeepSeek's keys already have every head (kv_b_proj expands them): key/value heads = heads
DEEPSEEK = {**DECODER, **MOE, "num_key_value_heads": 4, "q_lora_rank": 24, "kv_lora_rank": 16,
            "qk_nope_head_dim": 8, "qk_rope_head_dim": 4, "v_head_dim": 12,
            "n_routed_experts": 4, "n_shared_experts": 1, "first_k_dense_replace": 1,
            "n_group": 1, "topk_group": 1}


@dataclass(frozen=True)
class Case:
    model_type: str
    architecture: str
    fields: dict[str, Any]
    inputs: str = "tokens"      # one of INPUTS
    device: str = "meta"
    attention: str = "sdpa"     # "eager" where transformers has no sdpa path for the model
    seq: int = SEQ              # the sequence length (a ViT's is fixed by its image)
    extra: int = 0              # MACs of the whole batch that no per-sample count holds

    @property
    def doc(self) -> dict[str, Any]:
        return {"model_type": self.model_type, "architectures": [self.architecture],
                **self.fields}


CASES = {
    "llama-gqa": Case("llama", "LlamaForCausalLM", DECODER),
    "llama-classifier": Case("llama", "LlamaForSequenceClassification",
                             {**DECODER, "pad_token_id": 0}),
    "mistral-sliding-window": Case("mistral", "MistralForCausalLM",
                                   {**DECODER, "sliding_window": 8}),
    "mixtral-moe": Case("mixtral", "MixtralForCausalLM",
                        {**DECODER, "num_local_experts": 4, "num_experts_per_tok": 2},
                        device="cpu"),
    "qwen2": Case("qwen2", "Qwen2ForCausalLM", DECODER),
    "qwen2-moe-shared-expert": Case("qwen2_moe", "Qwen2MoeForCausalLM", {
        **DECODER, **MOE, "num_experts": 4, "shared_expert_intermediate_size": 48},
        device="cpu"),
    "qwen3-head-dim": Case("qwen3", "Qwen3ForCausalLM", {**DECODER, "head_dim": 24}),
    "gemma2": Case("gemma2", "Gemma2ForCausalLM",
                   {**DECODER, "head_dim": 16, "sliding_window": 8}, attention="eager"),
    "gemma3-text": Case("gemma3_text", "Gemma3ForCausalLM",
                        {**DECODER, "head_dim": 16, "sliding_window": 8}),
    "phi3-fused": Case("phi3", "Phi3ForCausalLM", {**DECODER, "pad_token_id": 0}),
    "starcoder2": Case("starcoder2", "Starcoder2ForCausalLM", DECODER),
    "deepseek-v3-mla": Case("deepseek_v3", "DeepseekV3ForCausalLM", DEEPSEEK, device="cpu"),
    "gpt2": Case("gpt2", "GPT2LMHeadModel", GPT),
    "gpt-neox": Case("gpt_neox", "GPTNeoXForCausalLM", ENCODER),
    "gptj": Case("gptj", "GPTJForCausalLM", {**GPT, "rotary_dim": 8}, attention="eager"),
    "opt-projected": Case("opt", "OPTForCausalLM", {
        "hidden_size": 64, "ffn_dim": 96, "num_attention_heads": 4, "num_hidden_layers": 2,
        "vocab_size": 100, "word_embed_proj_dim": 32}),
    "falcon-multi-query": Case("falcon", "FalconForCausalLM", {
        "hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2, "vocab_size": 100}),
    "falcon-new-architecture": Case("falcon", "FalconForCausalLM", {
        "hidden_size": 64, "num_attention_heads": 4, "num_kv_heads": 2, "num_hidden_layers": 2,
        "new_decoder_architecture": True, "vocab_size": 100}),
    "bloom": Case("bloom", "BloomForCausalLM", {
        "hidden_size": 64, "n_head": 4, "n_layer": 2, "vocab_size": 100}, attention="eager"),
    "phi": Case("phi", "PhiForCausalLM", DECODER),
    "bert-mlm": Case("bert", "BertForMaskedLM", ENCODER),
    "bert-classifier-pooled": Case("bert", "BertForSequenceClassification", ENCODER),
    "bert-pretraining": Case("bert", "BertForPreTraining", ENCODER),
    "roberta-classifier": Case("roberta", "RobertaForSequenceClassification",
                               {**ENCODER, "pad_token_id": 1}),
    "distilbert-classifier": Case("distilbert", "DistilBertForSequenceClassification", {
        "dim": 64, "hidden_dim": 96, "n_heads": 4, "n_layers": 2, "vocab_size": 100}),
    "vit-classifier": Case("vit", "ViTForImageClassification", VISION, "pixels", seq=17),
    "vit-pooler": Case("vit", "ViTModel", VISION, "pixels", seq=17),
    "t5": Case("t5", "T5ForConditionalGeneration", {
        "d_model": 64, "d_kv": 16, "d_ff": 96, "num_heads": 4, "num_layers": 2,
        "vocab_size": 100}, "seq2seq"),
    "t5-v1.1-gated": Case("t5", "T5ForConditionalGeneration", {
        "d_model": 64, "d_kv": 16, "d_ff": 96, "num_heads": 4, "num_layers": 2,
        "vocab_size": 100, "feed_forward_proj": "gated-gelu", "tie_word_embeddings": False},
        "seq2seq"),
    # BART's sdpa path reads a tensor's value (.item()), which the meta device cannot
    "bart": Case("bart", "BartForConditionalGeneration", SEQ2SEQ, "seq2seq", attention="eager"),
    # finding the end-of-sentence tokens reads values: on CPU
    "bart-classifier": Case("bart", "BartForSequenceClassification", SEQ2SEQ, "ending",
                            device="cpu", attention="eager"),
    # Whisper's encoder reads 2 × max_source_positions mel frames; 16 positions match the
    # decoder's 16 tokens (see test_whisper_encoder_length for other lengths)
    "whisper": Case("whisper", "WhisperForConditionalGeneration", {
        **SEQ2SEQ, "num_mel_bins": 8, "max_source_positions": SEQ, "pad_token_id": 0,
        "decoder_start_token_id": 1}, "audio"),
    # 24×24 images in 6×6 patches: 17 positions, so the texts are 17 tokens long too; the
    # logits are the (texts × images) similarity matrix: batch² × projection_dim MACs
    "clip": Case("clip", "CLIPModel", {
        "projection_dim": 32, "text_config": {**ENCODER, "max_position_embeddings": 17},
        "vision_config": {**VISION, "image_size": 24, "patch_size": 6}}, "clip", seq=17,
        extra=BATCH * BATCH * 32),
    "clip-text-projection": Case("clip_text_model", "CLIPTextModelWithProjection",
                                 {**ENCODER, "projection_dim": 32}),
    "clip-vision-projection": Case("clip_vision_model", "CLIPVisionModelWithProjection",
                                   {**VISION, "projection_dim": 32}, "pixels", seq=17),
}


# -- running transformers ------------------------------------------------------------------------

def _tokens(config: Any, device: str, n: int) -> dict[str, Any]:
    return {"input_ids": torch.randint(0, 50, (BATCH, n), device=device)}


def _ending(config: Any, device: str, n: int) -> dict[str, Any]:
    """Token sequences that end with the end-of-sentence token (BART classifies that one)."""
    ids = torch.randint(3, 50, (BATCH, n), device=device)
    ids[:, -1] = config.eos_token_id
    return {"input_ids": ids}


def _pixels(config: Any, device: str, n: int) -> dict[str, Any]:
    vision = getattr(config, "vision_config", config)
    size = vision.image_size
    return {"pixel_values": torch.randn(BATCH, 3, size, size, device=device)}


def _seq2seq(config: Any, device: str, n: int) -> dict[str, Any]:
    return {**_tokens(config, device, n),
            "decoder_input_ids": torch.randint(0, 50, (BATCH, n), device=device)}


def _audio(config: Any, device: str, n: int) -> dict[str, Any]:
    frames = 2 * config.max_source_positions
    return {"input_features": torch.randn(BATCH, config.num_mel_bins, frames, device=device),
            "decoder_input_ids": torch.randint(0, 50, (BATCH, n), device=device)}


def _clip(config: Any, device: str, n: int) -> dict[str, Any]:
    return {**_tokens(config, device, n), **_pixels(config, device, n)}


INPUTS: dict[str, Callable[[Any, str, int], dict[str, Any]]] = {
    "tokens": _tokens, "ending": _ending, "pixels": _pixels, "seq2seq": _seq2seq,
    "audio": _audio, "clip": _clip}


def build(case: Case, attention: str | None = None) -> Any:
    fields = {k: v for k, v in case.doc.items() if k != "architectures"}
    config = transformers.AutoConfig.for_model(**fields)
    torch.manual_seed(0)  # the CPU cases route tokens by random weights: the same every run
    with torch.device(case.device):
        model = getattr(transformers, case.architecture)._from_config(
            config, attn_implementation=attention or case.attention,
            experts_implementation="eager")
    return model.eval()


def counted(case: Case) -> int:
    """The FLOPs FlopCounterMode counts in one forward pass of the case's batch."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    model = build(case)
    inputs = INPUTS[case.inputs](model.config, case.device, case.seq)
    with FlopCounterMode(display=False) as counter, torch.no_grad(), \
            sdpa_kernel(SDPBackend.MATH):
        model(**inputs)
    flops: int = counter.get_total_flops()
    return flops


# the families of paramcount/architectures/llamalike.py, hybrid.py and MPT; mixtures of experts
# on CPU (routing reads the router's scores)
CASES.update({
    "gpt-oss": Case("gpt_oss", "GptOssForCausalLM", {
        **DECODER, "head_dim": 16, "num_local_experts": 4, "num_experts_per_tok": 2,
        "sliding_window": 8}, device="cpu", attention="eager"),
    "granitemoeshared": Case("granitemoeshared", "GraniteMoeSharedForCausalLM", {
        **DECODER, "num_local_experts": 4, "num_experts_per_tok": 2,
        "shared_intermediate_size": 48}, device="cpu"),
    "cohere-parallel": Case("cohere", "CohereForCausalLM", {**DECODER, "use_qk_norm": True}),
    "glm4": Case("glm4", "Glm4ForCausalLM", {**DECODER, "head_dim": 16, "pad_token_id": 0}),
    "glm4-moe": Case("glm4_moe", "Glm4MoeForCausalLM", {
        **DECODER, **MOE, "n_routed_experts": 4, "first_k_dense_replace": 1,
        "pad_token_id": 0}, device="cpu"),
    "olmo2": Case("olmo2", "Olmo2ForCausalLM", {**DECODER, "pad_token_id": 0}),
    "olmoe": Case("olmoe", "OlmoeForCausalLM", {**DECODER, "num_experts": 4,
                                                 "num_experts_per_tok": 2, "pad_token_id": 0},
                  device="cpu"),
    "ernie4_5-moe": Case("ernie4_5_moe", "Ernie4_5_MoeForCausalLM", {
        **DECODER, **MOE, "moe_num_experts": 4, "moe_k": 2, "pad_token_id": 0},
        device="cpu"),
    "hunyuan-moe": Case("hunyuan_v1_moe", "HunYuanMoEV1ForCausalLM", {
        **DECODER, "head_dim": 16, "num_experts": 4, "moe_topk": 2}, device="cpu"),
    "nemotron": Case("nemotron", "NemotronForCausalLM", {**DECODER, "head_dim": 16,
                                                          "pad_token_id": 0}),
    "apertus": Case("apertus", "ApertusForCausalLM", {**DECODER, "pad_token_id": 0}),
    "mpt": Case("mpt", "MptForCausalLM", {"d_model": 64, "n_heads": 4, "n_layers": 2,
                                          "vocab_size": 100}, attention="eager"),
})


@pytest.fixture(autouse=True)
def _quiet() -> Iterator[None]:
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    yield
    transformers.logging.set_verbosity(verbosity)


@pytest.mark.parametrize("name", CASES)
def test_flops_equal_flop_counter_mode(name: str) -> None:
    case = CASES[name]
    flops = from_dict(case.doc).flops(seq_len=case.seq, batch=BATCH)
    assert flops.complete, (flops.unknown, flops.unsized)
    assert flops.flops + 2 * case.extra == counted(case)


def test_sdpa_and_eager_count_alike_on_meta() -> None:
    """Both attention paths of one model: the same count (sdpa decomposes on meta)."""
    case = CASES["llama-gqa"]
    assert counted(case) == counted(replace(case, attention="eager"))


# -- released models' configs from the zoo, full size on the meta device -------------------------

ZOO = {  # zoo name: (inputs, sequence length, attention implementation, extra MACs)
    "llama-3-8b": ("tokens", SEQ, "sdpa", 0),
    "mistral-7b": ("tokens", SEQ, "sdpa", 0),
    "qwen2.5-7b": ("tokens", SEQ, "sdpa", 0),
    "phi-3-mini": ("tokens", SEQ, "sdpa", 0),
    "gemma-2-9b": ("tokens", SEQ, "eager", 0),
    "falcon-7b": ("tokens", SEQ, "sdpa", 0),
    "gpt2": ("tokens", SEQ, "sdpa", 0),
    "bert-base-uncased": ("tokens", SEQ, "sdpa", 0),
    "roberta-base": ("tokens", SEQ, "sdpa", 0),
    "distilbert-base-uncased": ("tokens", SEQ, "sdpa", 0),
    "t5-small": ("seq2seq", SEQ, "sdpa", 0),
    "flan-t5-small": ("seq2seq", SEQ, "sdpa", 0),
    "bart-large": ("seq2seq", SEQ, "eager", 0),
    "vit-base-patch16-224": ("pixels", 14 * 14 + 1, "sdpa", 0),
    # 7 × 7 patches and the class token: texts of 50 tokens; the similarity matrix besides
    "clip-vit-base-patch32": ("clip", 7 * 7 + 1, "sdpa", BATCH * BATCH * 512),
    # 1,500 audio frames in the encoder (fixed by the config), 16 tokens in the decoder
    "whisper-tiny": ("audio", SEQ, "sdpa", 0),
}  # mixtral-8x7b and deepseek-v3 route tokens (no meta device)


@pytest.mark.parametrize("name", ZOO)
def test_zoo_models_equal_flop_counter_mode(name: str) -> None:
    import json

    from paramcount import zoo

    inputs, seq, attention, extra = ZOO[name]
    doc = json.loads((Path(zoo.__file__).parent / f"{name}.json").read_text())
    fields = {k: v for k, v in doc.items() if k not in ("model_type", "architectures")}
    case = Case(doc["model_type"], doc["architectures"][0], fields, inputs, attention=attention,
                seq=seq)
    # an image fixes a vision transformer's sequence: no length is given to paramcount
    flops = zoo.load(name).flops(seq_len=None if inputs == "pixels" else seq, batch=BATCH)
    assert flops.complete, (flops.unknown, flops.unsized)
    assert flops.flops + 2 * extra == counted(case)


# -- the encoder length that Whisper fixes ---------------------------------------------------------

def test_whisper_encoder_length() -> None:
    """With 24 encoder positions against 16 decoder tokens: the encoder attends over its 24²
    pairs and the decoder's cross-attention over 16 × 24, whatever the sequence length."""
    case = Case("whisper", "WhisperForConditionalGeneration", {
        **SEQ2SEQ, "num_mel_bins": 8, "max_source_positions": 24, "pad_token_id": 0,
        "decoder_start_token_id": 1}, "audio")
    assert from_dict(case.doc).flops(seq_len=SEQ, batch=BATCH).macs == counted(case) // 2


# -- the attention each module declares ------------------------------------------------------------

def attentions(root: Node) -> Iterator[tuple[str, Attention]]:
    """Every attention module with its dotted path (a block's copies each once)."""
    def walk(node: Node, path: str) -> Iterator[tuple[str, Attention]]:
        here = f"{path}.{node.name}" if path else node.name
        if node.attention is not None:
            yield here, node.attention
        for child in node.children:
            yield from walk(child, here)
    for child in root.children:
        yield from walk(child, "")


WINDOWS: dict[str, tuple[str, str, dict[str, Any]]] = {
    # name: (model_type, architecture, fields)
    "gemma2-alternating": ("gemma2", "Gemma2ForCausalLM",
                           {**DECODER, "num_hidden_layers": 5, "head_dim": 16,
                            "sliding_window": 8}),
    "gemma3-every-sixth-global": ("gemma3_text", "Gemma3ForCausalLM",
                                  {**DECODER, "num_hidden_layers": 7, "head_dim": 16}),
    "gemma3-pattern-3": ("gemma3_text", "Gemma3ForCausalLM",
                         {**DECODER, "num_hidden_layers": 7, "head_dim": 16,
                          "sliding_window_pattern": 3, "sliding_window": 512}),
    "qwen2-no-window": ("qwen2", "Qwen2ForCausalLM", {**DECODER, "num_hidden_layers": 4,
                                                      "sliding_window": 8}),
    "qwen2-upper-layers": ("qwen2", "Qwen2ForCausalLM", {
        **DECODER, "num_hidden_layers": 4, "use_sliding_window": True, "sliding_window": 8,
        "max_window_layers": 2}),
    "qwen2-layer-types": ("qwen2", "Qwen2ForCausalLM", {
        **DECODER, "num_hidden_layers": 3, "use_sliding_window": True, "sliding_window": 8,
        "layer_types": ["sliding_attention", "full_attention", "sliding_attention"]}),
    "qwen3-upper-layers": ("qwen3", "Qwen3ForCausalLM", {
        **DECODER, "num_hidden_layers": 3, "use_sliding_window": True, "sliding_window": 8,
        "max_window_layers": 1}),
    "qwen2-moe-alternating": ("qwen2_moe", "Qwen2MoeForCausalLM", {
        **DECODER, **MOE, "num_experts": 4, "num_hidden_layers": 5, "use_sliding_window": True,
        "sliding_window": 8, "max_window_layers": 3}),
    "qwen3-moe-everywhere": ("qwen3_moe", "Qwen3MoeForCausalLM", {
        **DECODER, **MOE, "num_experts": 4, "num_hidden_layers": 2, "use_sliding_window": True,
        "sliding_window": 8}),
    "mistral-default": ("mistral", "MistralForCausalLM", DECODER),
    "mistral-null": ("mistral", "MistralForCausalLM", {**DECODER, "sliding_window": None}),
    "mixtral-default": ("mixtral", "MixtralForCausalLM", {**DECODER, "num_local_experts": 4}),
    "starcoder2-window": ("starcoder2", "Starcoder2ForCausalLM",
                          {**DECODER, "sliding_window": 8}),
    "phi3-window": ("phi3", "Phi3ForCausalLM", {**DECODER, "sliding_window": 8,
                                                "pad_token_id": 0}),
    "llama-none": ("llama", "LlamaForCausalLM", DECODER),
}


WINDOWS.update({
    "gpt-oss-alternating": ("gpt_oss", "GptOssForCausalLM", {
        **DECODER, "num_hidden_layers": 3, "head_dim": 16, "num_local_experts": 4,
        "sliding_window": 8}),
    "cohere2-every-fourth-global": ("cohere2", "Cohere2ForCausalLM", {
        **DECODER, "num_hidden_layers": 5, "sliding_window": 8}),
    "olmo3-every-fourth-global": ("olmo3", "Olmo3ForCausalLM", {
        **DECODER, "num_hidden_layers": 5, "sliding_window": 8, "pad_token_id": 0}),
    "exaone4-pattern-3": ("exaone4", "Exaone4ForCausalLM", {
        **DECODER, "num_hidden_layers": 4, "sliding_window": 8, "sliding_window_pattern": 3,
        "pad_token_id": 0}),
    "smollm3-no-rope-layers": ("smollm3", "SmolLM3ForCausalLM", {
        **DECODER, "num_hidden_layers": 4, "use_sliding_window": True, "sliding_window": 8,
        "no_rope_layer_interval": 2, "pad_token_id": 0}),
    "dots1-upper-layers": ("dots1", "Dots1ForCausalLM", {
        **DECODER, **MOE, "num_hidden_layers": 3, "n_routed_experts": 4, "n_shared_experts": 1,
        "sliding_window": 8, "max_window_layers": 1}),
})


def _visible(mask: Any) -> int | None:
    """How many keys the last query may attend to, when fewer than all (a sliding window)."""
    if mask is None:
        return None  # sdpa's is_causal: the whole causal triangle
    last = mask[0, 0, -1]
    n = int(last.sum() if last.dtype == torch.bool else (last == 0).sum())
    return n if n < SEQ else None


def _spied_windows(case: Case) -> list[int | None]:
    """Each layer's window as its attention function receives it: the ``sliding_window``
    argument, or, where a model passes none (Qwen2-MoE), what its mask lets the last query
    see (so the windows here are shorter than the sequence). Run on CPU: a mask must hold
    values."""
    from transformers import AttentionInterface
    from transformers.integrations.sdpa_attention import sdpa_attention_forward
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    seen: dict[int, int | None] = {}

    def spy(module: Any, query: Any, key: Any, value: Any, mask: Any, **kwargs: Any) -> Any:
        window = kwargs.get("sliding_window")
        seen[module.layer_idx] = window if window is not None else _visible(mask)
        kwargs.pop("softcap", None)  # Gemma 2's; sdpa refuses it, and the spy needs no output
        return sdpa_attention_forward(module, query, key, value, mask, **kwargs)

    AttentionInterface.register("paramcount_spy", spy)
    AttentionMaskInterface.register("paramcount_spy", sdpa_mask)  # masks as sdpa gets them
    model = build(replace(case, device="cpu"), attention="paramcount_spy")
    with torch.no_grad():
        model(**_tokens(model.config, "cpu", SEQ))
    return [seen[i] for i in range(len(seen))]


@pytest.mark.parametrize("name", WINDOWS)
def test_sliding_windows_as_transformers_applies_them(name: str) -> None:
    case = Case(*WINDOWS[name])
    windows = [a.window for _, a in attentions(from_dict(case.doc).root)]
    assert windows == _spied_windows(case)


def _cached(past: Any) -> int:
    """Elements transformers' cache holds after the forward pass: every layer's keys and
    values (an encoder-decoder's self- and cross-attention caches both)."""
    caches = [past.self_attention_cache, past.cross_attention_cache] \
        if hasattr(past, "cross_attention_cache") else [past]
    return sum(layer.keys.numel() + layer.values.numel() for c in caches for layer in c.layers)


CACHES = {name: CASES[name] for name in (
    "llama-gqa", "mistral-sliding-window", "gemma2", "falcon-multi-query",
    "falcon-new-architecture", "deepseek-v3-mla", "gpt2", "opt-projected", "t5", "bart",
    "whisper", "qwen2-moe-shared-expert")}
CACHES["olmo2"] = Case("olmo2", "Olmo2ForCausalLM", DECODER)
CACHES["cohere2-windows"] = Case("cohere2", "Cohere2ForCausalLM", {
    **DECODER, "num_hidden_layers": 4, "sliding_window": 8})
CACHES["gpt-oss-windows"] = CASES["gpt-oss"]
# a family paramcount does not declare: transformers builds it (the fallback), and the
# attention modules are read off the modules it made
CACHES["helium-fallback"] = Case("helium", "HeliumForCausalLM", {**DECODER, "head_dim": 16,
                                                                  "pad_token_id": 0})


@pytest.mark.parametrize("name", CACHES)
def test_kv_cache_holds_what_the_attention_says(name: str) -> None:
    """``kv_per_token`` × tokens, summed over the modules a decoder caches: its
    self-attention (a sliding layer keeps its last ``window - 1`` tokens, as
    DynamicSlidingWindowLayer does) and its cross-attention (the encoder's 16 positions)."""
    case = CACHES[name]
    expected = 0
    for path, a in attentions(from_dict(case.doc).root):
        if ".encoder." in f".{path}." and not a.cross:
            continue  # an encoder's self-attention caches nothing
        tokens = SEQ if a.cross or a.window is None else min(SEQ, a.window - 1)
        expected += a.kv_per_token * tokens * BATCH
    model = build(case, attention="eager")
    with torch.no_grad():
        out = model(**INPUTS[case.inputs](model.config, case.device, SEQ), use_cache=True)
    assert _cached(out.past_key_values) == expected


def test_cross_attention_is_marked() -> None:
    kinds = {(path.rsplit(".", 1)[-1], a.cross)
             for path, a in attentions(from_dict(CASES["t5"].doc).root)}
    assert kinds == {("SelfAttention", False), ("EncDecAttention", True)}


# -- bad configs -------------------------------------------------------------------------------

@pytest.mark.parametrize("fields, message", [
    ({"layer_types": ["sliding_attention"]}, "layer_types=['sliding_attention'] is invalid; "
                                             "expected a list of 2 names"),
    ({"layer_types": "sliding"}, "expected a list of 2 names such as 'sliding_attention'"),
    ({"sliding_window": "wide"}, "sliding_window='wide' is not an integer"),
    ({"sliding_window": -1}, "sliding_window=-1 is invalid; expected an integer >= 0"),
])
def test_bad_window_fields(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
        from_dict({"model_type": "gemma2", **DECODER, **fields})

