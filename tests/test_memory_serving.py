"""The serving budget: the cache by layer type against what transformers' own cache holds after a
prefill (full attention, sliding windows, Mamba, Mamba-2, and the hybrids Jamba, Qwen3-Next,
Falcon-H1, Zamba2 and Bamba), the
published per-token figures (DeepSeek-V3's MLA, Gemma-3-27B's local:global windows), llama.cpp's
cache types by hand, and the engine rules: vLLM's KV pool against the measurements llm-d
published (llm-d/llm-d-benchmark, config_explorer/empirical-vllm-memory-results.md), vLLM's
pages and KV token capacity, llama.cpp's -ngl split, by hand.
"""

from __future__ import annotations

import json
import math

import pytest

from paramcount import memory
from paramcount.cli import main
from paramcount.errors import SpecError
from paramcount.memory import engines
from paramcount.sources import summarize

GIB = 2**30

LLAMA2_7B = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 4096,
             "num_hidden_layers": 32, "num_attention_heads": 32, "intermediate_size": 11008,
             "vocab_size": 32000}
LLAMA2_7B_PARAMS = 6_738_415_616  # transformers' LlamaForCausalLM, counted by test_memory

#: tiny configs of each family whose cache differs: transformers class, config fields
HYBRID = {
    "mamba": ("MambaForCausalLM", dict(hidden_size=32, num_hidden_layers=2, vocab_size=100,
              state_size=8, expand=2, conv_kernel=4)),
    "mamba2": ("Mamba2ForCausalLM", dict(hidden_size=32, num_hidden_layers=2, vocab_size=100,
               state_size=8, expand=2, conv_kernel=4, num_heads=8, head_dim=8, n_groups=2)),
    "jamba": ("JambaForCausalLM", dict(hidden_size=32, num_hidden_layers=4, vocab_size=100,
              num_attention_heads=4, num_key_value_heads=2, intermediate_size=64,
              mamba_d_state=8, mamba_expand=2, mamba_d_conv=4, attn_layer_period=2,
              attn_layer_offset=1, expert_layer_period=2, expert_layer_offset=1,
              num_experts=2, mamba_dt_rank=4)),
    "qwen3_next": ("Qwen3NextForCausalLM", dict(hidden_size=32, num_hidden_layers=4,
                   vocab_size=100, num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                   intermediate_size=64, num_experts=2, num_experts_per_tok=1,
                   moe_intermediate_size=16, shared_expert_intermediate_size=16,
                   linear_num_key_heads=2, linear_num_value_heads=4, linear_key_head_dim=8,
                   linear_value_head_dim=8, linear_conv_kernel_dim=4,
                   full_attention_interval=2)),
    "falcon_h1": ("FalconH1ForCausalLM", dict(hidden_size=32, num_hidden_layers=2,
                  vocab_size=100, num_attention_heads=4, num_key_value_heads=2,
                  intermediate_size=64, mamba_d_state=8, mamba_n_heads=8, mamba_d_head=8,
                  mamba_n_groups=1, mamba_d_conv=4, mamba_expand=2, head_dim=8,
                  mamba_d_ssm=64)),
    "zamba2": ("Zamba2ForCausalLM", dict(hidden_size=32, num_hidden_layers=4, vocab_size=100,
               num_attention_heads=4, num_key_value_heads=4, intermediate_size=64,
               mamba_d_state=8, mamba_headdim=8, n_mamba_heads=8, mamba_ngroups=1,
               mamba_d_conv=4, mamba_expand=2, attention_head_dim=16, num_mem_blocks=1,
               use_mem_rope=False, layers_block_type=["mamba", "hybrid", "mamba", "hybrid"])),
    "bamba": ("BambaForCausalLM", dict(hidden_size=32, num_hidden_layers=2, vocab_size=100,
              num_attention_heads=4, num_key_value_heads=2, intermediate_size=64,
              mamba_d_state=8, mamba_n_heads=8, mamba_d_head=8, mamba_n_groups=1,
              mamba_d_conv=4, mamba_expand=2, attn_layer_indices=[1])),
    # Gemma-3n: the last num_kv_shared_layers layers reuse earlier layers' keys and values
    "gemma3n_text": ("Gemma3nForCausalLM", dict(hidden_size=64, num_hidden_layers=6,
                     vocab_size=128, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                     intermediate_size=128, num_kv_shared_layers=2, sliding_window=4,
                     layer_types=["sliding_attention", "sliding_attention",
                                  "full_attention"] * 2, hidden_size_per_layer_input=8,
                     vocab_size_per_layer_input=128, laurel_rank=4, altup_num_inputs=2,
                     activation_sparsity_pattern=[0.0] * 6)),
    "gemma3_text": ("Gemma3ForCausalLM", dict(hidden_size=32, num_hidden_layers=6,
                    vocab_size=100, num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                    intermediate_size=64, sliding_window=4, sliding_window_pattern=3)),
}


def summary(name: str):
    architecture, fields = HYBRID[name]
    return summarize({"model_type": name, **fields, "architectures": [architecture]})


def held_after_prefill(name: str, batch: int, tokens: int) -> dict[str, int]:
    """Bytes of the tensors transformers' cache holds after a float32 prefill, by kind:
    keys and values of full and of sliding layers, and recurrent layers' states."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    architecture, fields = HYBRID[name]
    config = transformers.AutoConfig.for_model(name, **fields)
    torch.manual_seed(0)
    model = getattr(transformers, architecture)(config).eval()
    with torch.no_grad():
        cache = model(torch.zeros((batch, tokens), dtype=torch.long), use_cache=True
                      ).past_key_values
    out = {"full": 0, "sliding": 0, "state": 0}
    for layer in cache.layers:
        sliding = type(layer).__name__ == "DynamicSlidingWindowLayer"
        for t in (getattr(layer, "keys", None), getattr(layer, "values", None)):
            if isinstance(t, torch.Tensor) and t.numel() > 0:
                out["sliding" if sliding else "full"] += t.numel() * t.element_size()
        for states in (getattr(layer, "conv_states", {}), getattr(layer, "recurrent_states", {})):
            out["state"] += sum(t.numel() * t.element_size() for t in states.values()
                                if t is not None)
    return out


def parts(est) -> dict[str, int]:
    return {p.kind: p.bytes for p in est.kv_parts}


# -- the cache by layer type, against transformers' own cache ---------------------------------

@pytest.mark.parametrize("name", ["mamba", "mamba2", "jamba", "qwen3_next", "falcon_h1",
                                  "zamba2", "bamba"])
def test_recurrent_state_is_what_transformers_caches(name):
    held = held_after_prefill(name, batch=2, tokens=10)
    est = memory.estimate(summary(name), dtype="fp32", context=10, batch=2)
    assert est.component("recurrent state").per_gpu == held["state"] > 0
    kv_cache = est.component("KV cache")
    assert (kv_cache.per_gpu if kv_cache else 0) == held["full"]


def test_recurrent_state_does_not_grow_with_the_context():
    short = memory.estimate(summary("mamba"), dtype="fp32", context=10)
    long = memory.estimate(summary("mamba"), dtype="fp32", context=100_000)
    assert short.component("recurrent state") == long.component("recurrent state")
    # Mamba: per layer, 64 channels × (kernel 4 + state 8) × 4 B, 2 layers
    assert long.component("recurrent state").per_gpu == 2 * 64 * (4 + 8) * 4


def test_gemma3_local_and_global_layers_by_kind():
    held = held_after_prefill("gemma3_text", batch=2, tokens=10)
    est = memory.estimate(summary("gemma3_text"), dtype="fp32", context=10, batch=2)
    by_kind = parts(est)
    assert by_kind["full attention"] == held["full"]
    # transformers keeps window - 1 = 3 tokens between steps and attends over those and the
    # new token: 4 = the window; one token of 4 sliding layers: 2 (K, V) × 2 heads × 8 × 4 B
    assert by_kind["sliding window"] == held["sliding"] + 2 * 4 * 2 * 2 * 8 * 4


def test_gemma3n_shared_kv_layers_cache_nothing():
    held = held_after_prefill("gemma3n_text", batch=2, tokens=10)
    by_kind = parts(memory.estimate(summary("gemma3n_text"), dtype="fp32", context=10, batch=2))
    # layers 4 (sliding) and 5 (full) reuse earlier caches: one full layer of 10 tokens and
    # three sliding layers remain, 2 sequences × 2 (K, V) × 2 heads × 16 × 4 B a token
    assert by_kind["full attention"] == held["full"] == 2 * 10 * 2 * 2 * 16 * 4
    # transformers keeps window - 1 = 3 tokens of each sliding layer between steps; the
    # estimate counts the window, 4
    assert held["sliding"] == 3 * 2 * 3 * 2 * 2 * 16 * 4
    assert by_kind["sliding window"] == 3 * 2 * 4 * 2 * 2 * 16 * 4


# -- published per-token figures ----------------------------------------------------------------

GEMMA3_27B = {"model_type": "gemma3_text", "architectures": ["Gemma3ForCausalLM"],
              "hidden_size": 5376, "num_hidden_layers": 62, "num_attention_heads": 32,
              "num_key_value_heads": 16, "head_dim": 128, "intermediate_size": 21504,
              "vocab_size": 262208, "sliding_window": 1024, "sliding_window_pattern": 6}


def test_gemma3_27b_at_131072_tokens_keeps_10_4_gib():
    est = memory.estimate(summarize(GEMMA3_27B), dtype="fp16", context=131072)
    # every 6th layer global (10 of 62) keeps 131,072 tokens, the 52 local ones 1,024;
    # per token: K and V × 16 heads × 128 × 2 B
    by_hand = (10 * 131072 + 52 * 1024) * 2 * 16 * 128 * 2
    assert est.component("KV cache").per_gpu == by_hand
    assert round(by_hand / GIB, 1) == 10.4
    window_blind = 62 * 131072 * 2 * 16 * 128 * 2
    assert round(window_blind / GIB) == 62


def test_deepseek_v3_latent_cache_is_70272_bytes_per_token():
    est = memory.estimate(summarize("deepseek-v3"), dtype="bf16", context=1)
    (latent,) = est.kv_parts
    # 61 layers × (kv_lora_rank 512 + qk_rope_head_dim 64) × 2 B
    assert (latent.kind, latent.per_token) == ("latent (MLA)", 70_272)


def test_latent_cache_is_whole_on_every_tensor_rank():
    one = memory.estimate(summarize("deepseek-v3"), dtype="bf16", context=1024)
    eight = memory.estimate(summarize("deepseek-v3"), dtype="bf16", context=1024, tp=8)
    assert eight.component("KV cache").per_gpu == one.component("KV cache").per_gpu


# -- cache dtypes ---------------------------------------------------------------------------------

def test_llamacpp_cache_types_for_keys_and_values_by_hand():
    est = memory.estimate(summarize("llama-3-8b"), dtype="bf16", context=8192,
                          kv_key_dtype="q8_0", kv_value_dtype="q4_0")
    # 32 layers × 8 heads × 128 × (34/32 B for q8_0 keys + 18/32 B for q4_0 values)
    assert est.component("KV cache").per_gpu == 8192 * 32 * 8 * 128 * (34 + 18) // 32
    both = memory.estimate(summarize("llama-3-8b"), dtype="bf16", context=8192, kv_dtype="q8_0")
    assert both.component("KV cache").per_gpu == 8192 * 32 * 8 * 128 * 2 * 34 // 32


def test_a_weight_only_block_type_is_no_cache_type():
    with pytest.raises(SpecError, match=r"llama\.cpp's cache types"):
        memory.estimate(summarize("llama-3-8b"), context=8, kv_dtype="Q4_K")


# -- vLLM ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("weights", "activation", "non_torch", "logged"), [
    (14.99, 4.76, 0.13, 51.38),  # Llama-3.1-8B-Instruct, TP=1
    (1.12, 5.56, 0.13, 64.45),   # Qwen3-0.6B
    (13.47, 7.38, 0.13, 50.28),  # gpt-oss-20b
    (33.88, 4.84, 0.55, 32.0),   # Llama-3.3-70B-FP8, TP=2 (per GPU)
])
def test_vllm_pool_reproduces_llm_d_measurements_on_h100(weights, activation, non_torch, logged):
    # llm-d/llm-d-benchmark config_explorer/empirical-vllm-memory-results.md: H100 of
    # 79.18 GiB, gpu_memory_utilization 0.9, the figures vLLM logs at start-up
    pool = engines.vllm_pool(round(79.18 * GIB), 0.9, round(weights * GIB),
                             round(activation * GIB), round(non_torch * GIB))
    assert round(pool / GIB, 2) == pytest.approx(logged, abs=0.02)  # four rounded terms


def test_vllm_llama_3_1_8b_on_h100_near_the_logged_budget():
    # llm-d's measurement: H100 of 79.18 GiB, activation peak 4.76 GiB, KV cache 51.38 GiB
    # (vLLM logs it in GiB; 51.38 GiB / 128 KiB per token ≈ 420,900 tokens)
    est = memory.estimate(summarize("llama-3-8b"), dtype="bf16", context=16000, engine="vllm",
                          gpu_memory=round(79.18 * GIB))
    assert est.component("activation peak").per_gpu / GIB == pytest.approx(4.76, abs=0.25)
    per_token = 32 * 2 * 8 * 128 * 2  # Llama-3.1-8B, bf16: 128 KiB
    assert est.kv_tokens * per_token / GIB == pytest.approx(51.38, abs=0.3)


def test_vllm_kv_tokens_by_hand():
    gpu = 80 * 10**9
    est = memory.estimate(summarize(LLAMA2_7B), dtype="fp16", context=4096, engine="vllm",
                          gpu_memory=gpu)
    weights = LLAMA2_7B_PARAMS * 2
    # 74.5 GiB ≥ 70 GiB: vllm serve profiles 8192 tokens and samples 1024 rows
    peak = 8192 * 2 * (2 * 4096 + 2 * 11008) + 9 * 1024 * 32000 * 4
    assert est.component("activation peak").per_gpu == peak
    pool = math.floor(gpu * 0.9) - weights - peak - round(0.13 * GIB)
    per_token = 32 * 2 * 4096 * 2
    assert est.kv_tokens == pool // per_token // 16 * 16
    assert est.to_dict()["kv_tokens"] == est.kv_tokens
    tokens = pool // per_token // 16 * 16
    assert (f"vLLM's KV pool holds {tokens:,} tokens per GPU "
            f"({tokens // 4096:,} sequences of 4,096).") in str(est)


def test_vllm_estimate_fits_exactly_when_the_pool_holds_the_cache():
    gpu = 80 * 10**9
    est = memory.estimate(summarize(LLAMA2_7B), dtype="fp16", context=4096, engine="vllm",
                          gpu_memory=gpu)
    tokens = est.kv_tokens
    fits = memory.estimate(summarize(LLAMA2_7B), dtype="fp16", context=tokens, engine="vllm",
                           gpu_memory=gpu)
    over = memory.estimate(summarize(LLAMA2_7B), dtype="fp16", context=tokens + 16,
                           engine="vllm", gpu_memory=gpu)
    assert fits.fits and not over.fits


def test_vllm_pages_round_the_context_and_the_window():
    est = memory.estimate(summarize(GEMMA3_27B), dtype="fp16", context=1000, engine="vllm")
    by_kind = {p.kind: p.tokens for p in est.kv_parts}
    # 1,000 tokens: 63 pages of 16; window 1,024: ceil(1024 / 16) + 1 = 65 pages, capped by
    # the context's own pages
    assert by_kind == {"full attention": 1008, "sliding window": 1008}
    long = memory.estimate(summarize(GEMMA3_27B), dtype="fp16", context=131072, engine="vllm")
    assert {p.kind: p.tokens for p in long.kv_parts}["sliding window"] == 65 * 16


# -- llama.cpp and transformers --------------------------------------------------------------------

def test_llamacpp_gpu_layers_leave_the_rest_in_ram():
    full = memory.estimate(summarize(LLAMA2_7B), dtype="fp16", context=4096)
    half = memory.estimate(summarize(LLAMA2_7B), dtype="fp16", context=4096, engine="llamacpp",
                           gpu_layers=16)
    weights, cache = full.component("weights").per_gpu, full.component("KV cache").per_gpu
    assert half.component("weights").per_gpu == weights // 2
    assert half.component("weights").cpu == weights - weights // 2
    assert half.component("KV cache").per_gpu == cache // 2


def test_llamacpp_sliding_layers_keep_the_window_and_one_ubatch():
    est = memory.estimate(summarize(GEMMA3_27B), dtype="fp16", context=131072,
                          engine="llamacpp")
    assert {p.kind: p.tokens for p in est.kv_parts}["sliding window"] == 1024 + 512


def test_transformers_generate_keeps_the_last_tokens_logits():
    est = memory.estimate(summarize(LLAMA2_7B), dtype="fp16", context=100, batch=3,
                          engine="transformers")
    assert est.component("logits").per_gpu == 3 * 32000 * 4


def test_a_prefill_chunk_without_an_engine():
    est = memory.estimate(summarize(LLAMA2_7B), dtype="fp16", context=4096, chunk=2048)
    assert est.component("prefill activations").per_gpu == 2048 * 2 * (2 * 4096 + 2 * 11008)
    assert est.component("logits").per_gpu == 2048 * 32000 * 4


@pytest.mark.parametrize(("options", "message"), [
    ({"engine": "tgi"}, "unknown engine 'tgi'"),
    ({"engine": "vllm", "gpu_memory_utilization": 1.5}, "must be in \\(0, 1\\]"),
    ({"engine": "llamacpp", "gpu_layers": -1}, "--gpu-layers must be 0 or more"),
    ({"engine": "vllm", "train": True}, "leave out --train"),
    ({"block_size": 0}, "--block-size"),
])
def test_bad_serving_options(options, message):
    with pytest.raises(SpecError, match=message):
        memory.estimate(summarize(LLAMA2_7B), context=16, **options)


# -- the command line ----------------------------------------------------------------------

def test_cli_vllm_json_has_kv_tokens_and_the_parts(capsys, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(GEMMA3_27B))
    code = main(["memory", str(path), "--context", "32768", "--engine", "vllm",
                 "--gpu-memory", "80GiB", "--kv-dtype", "fp8", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert doc["settings"]["engine"] == "vllm"
    assert isinstance(doc["kv_tokens"], int) and doc["kv_tokens"] % 16 == 0
    kinds = {p["kind"]: p for p in doc["kv_parts"]}
    assert kinds["full attention"]["modules"] == 10
    assert kinds["full attention"]["bytes_per_token"] == 10 * 2 * 16 * 128


# -- GGUF ------------------------------------------------------------------------------------------

def test_gguf_hybrid_keeps_llamacpp_mamba_state_and_the_attention_cache(tmp_path):
    gguf = pytest.importorskip("gguf")
    import numpy as np

    path = tmp_path / "hybrid.gguf"
    writer = gguf.GGUFWriter(str(path), "jamba")
    writer.add_block_count(2)
    writer.add_embedding_length(32)
    writer.add_head_count([0, 4])  # layer 0 is Mamba, layer 1 attention
    writer.add_head_count_kv([0, 2])
    writer.add_ssm_conv_kernel(4)
    writer.add_ssm_inner_size(64)
    writer.add_ssm_state_size(8)
    writer.add_ssm_time_step_rank(4)
    shapes = {"token_embd.weight": (100, 32), "output_norm.weight": (32,),
              "blk.0.attn_norm.weight": (32,), "blk.0.ssm_in.weight": (128, 32),
              "blk.0.ssm_conv1d.weight": (64, 4), "blk.0.ssm_conv1d.bias": (64,),
              "blk.0.ssm_x.weight": (20, 64), "blk.0.ssm_dt.weight": (64, 4),
              "blk.0.ssm_dt.bias": (64,), "blk.0.ssm_a": (64, 8), "blk.0.ssm_d": (64,),
              "blk.0.ssm_out.weight": (32, 64), "blk.1.attn_norm.weight": (32,),
              "blk.1.attn_q.weight": (32, 32), "blk.1.attn_k.weight": (16, 32),
              "blk.1.attn_v.weight": (16, 32), "blk.1.attn_output.weight": (32, 32)}
    for name, shape in shapes.items():
        writer.add_tensor(name, np.zeros(shape, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    est = memory.estimate(summarize(str(path)), context=100, engine="llamacpp")
    by_kind = {p.kind: p for p in est.kv_parts}
    # llama.cpp (src/llama-hparams.cpp): n_embd_r = (d_conv - 1) × d_inner = 3 × 64 and
    # n_embd_s = d_state × d_inner = 8 × 64, kept in float32
    assert by_kind["recurrent state"].bytes == (3 * 64 + 8 * 64) * 4
    # the attention layer: K and V × 2 heads × (32 / 4) × 100 tokens × f16 (llama.cpp's default)
    assert by_kind["full attention"].bytes == 2 * 2 * 8 * 100 * 2


# -- parallel serving under vLLM ------------------------------------------------------------

def test_vllm_expert_parallelism_splits_the_experts_not_the_rest():
    est = memory.estimate(summarize("mixtral-8x7b"), dtype="bf16", engine="vllm", gpus=8, tp=2,
                          ep=8)
    # Mixtral-8x7B: 32 layers × 8 experts × 3 matrices of 4,096 × 14,336 split 8 ways; the
    # other 1,605,636,096 parameters (attention, routers, norms, embedding and head) 2 ways
    experts = 32 * 8 * 3 * 4096 * 14336
    rest = 46_702_792_704 - experts
    assert est.component("weights").per_gpu == 2 * (experts // 8 + rest // 2)


def test_vllm_pipeline_first_stage_holds_the_embedding():
    est = memory.estimate(summarize("gemma-2-9b"), dtype="bf16", engine="vllm", pp=2)
    # Gemma-2-9B ties its head to the 256,000 × 3,584 embedding, which the first stage holds
    embedding = 256000 * 3584
    layers = 9_241_705_984 - embedding
    assert est.component("weights").per_gpu == 2 * (layers // 2 + embedding)


def test_expert_parallelism_is_vllms():
    with pytest.raises(SpecError, match="--ep shards experts"):
        memory.estimate(summarize("mixtral-8x7b"), ep=2, gpus=2)
