"""Memory estimates against what frameworks hold and what papers print.

Weights: the bytes of a transformers model's parameters (meta device) at each dtype. KV cache:
the tensors transformers' DynamicCache holds after a prefill, and a hand calculation for
Llama-2-7B. Training: hand calculations of bytes per parameter, the ZeRO paper's Figure 1, and
Korthikanti et al.'s activation formulas. Activations of a CNN: torchinfo's "Forward/backward
pass size". Fits and suggestions: hand calculations.
"""

from __future__ import annotations

import math

import pytest

import paramcount
from paramcount import memory, zoo
from paramcount.errors import SpecError
from paramcount.sources import summarize

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

GIB = 2**30

LLAMA2_7B = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 4096,
             "num_hidden_layers": 32, "num_attention_heads": 32, "intermediate_size": 11008,
             "vocab_size": 32000}
TINY = {  # transformers config class -> paramcount config dict (HF config.json fields)
    "llama-gqa": ("LlamaForCausalLM", dict(model_type="llama", hidden_size=64,
                  num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
                  intermediate_size=128, vocab_size=100)),
    "llama-mqa": ("LlamaForCausalLM", dict(model_type="llama", hidden_size=64,
                  num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1,
                  intermediate_size=128, vocab_size=100)),
    "gpt2": ("GPT2LMHeadModel", dict(model_type="gpt2", n_embd=64, n_layer=2, n_head=4,
             vocab_size=100, n_positions=64)),
    "qwen2": ("Qwen2ForCausalLM", dict(model_type="qwen2", hidden_size=64, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, intermediate_size=128,
              vocab_size=100)),
}


def meta_model(architecture: str, config: dict):
    """The transformers model of this config, on the meta device (no memory, no weights)."""
    fields = {k: v for k, v in config.items() if k not in ("model_type", "architectures")}
    cfg = transformers.AutoConfig.for_model(config["model_type"], **fields)
    with torch.device("meta"):
        return getattr(transformers, architecture)(cfg)


def hf(architecture: str, config: dict) -> paramcount.Summary:
    return summarize({**config, "architectures": [architecture]})


def prefill_cache_bytes(model, batch: int, tokens: int, dtype) -> int:
    """Bytes of the key and value tensors transformers caches after a prefill."""
    model = model.to(dtype)
    ids = torch.zeros((batch, tokens), dtype=torch.long, device="meta")
    with torch.no_grad():
        cache = model(ids, use_cache=True).past_key_values
    return sum(t.numel() * t.element_size() for layer in cache.layers
               for t in (layer.keys, layer.values))


# -- inference: weights ----------------------------------------------------------------------

WEIGHT_DTYPES = [("fp32", torch.float32), ("bf16", torch.bfloat16), ("fp16", torch.float16),
                 ("fp8", torch.float8_e4m3fn)]


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize(("dtype", "torch_dtype"), WEIGHT_DTYPES)
def test_weights_are_the_parameter_bytes_torch_holds(name, dtype, torch_dtype):
    architecture, config = TINY[name]
    model = meta_model(architecture, config).to(torch_dtype)
    held = sum(p.numel() * p.element_size() for p in model.parameters())
    est = memory.estimate(hf(architecture, config), dtype=dtype)
    assert est.component("weights").per_gpu == held


def test_int4_weights_are_half_a_byte_each_rounded_up():
    dense = paramcount.layer("Dense", units=3, use_bias=False).count((3,))  # 9 params
    assert memory.estimate(dense, dtype="int4").per_gpu == 5  # ceil(9 / 2)


# -- inference: the KV cache ------------------------------------------------------------------

@pytest.fixture(scope="module")
def llama2_7b_meta():
    return meta_model("LlamaForCausalLM", LLAMA2_7B)


def test_llama2_7b_kv_cache_at_4096_tokens_is_2_gib(llama2_7b_meta):
    est = memory.estimate(summarize(LLAMA2_7B), dtype="fp16", context=4096, batch=1)
    # K and V × 32 layers × 4096 tokens × 4096 (32 heads of 128) × 2 bytes
    assert est.component("KV cache").per_gpu == 2 * 32 * 4096 * 4096 * 2 == 2 * GIB
    assert prefill_cache_bytes(llama2_7b_meta.model, 1, 4096, torch.float16) == 2 * GIB


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize(("batch", "tokens"), [(1, 7), (3, 16)])
def test_kv_cache_is_what_transformers_caches(name, batch, tokens):
    architecture, config = TINY[name]
    model = meta_model(architecture, config)
    held = prefill_cache_bytes(model, batch, tokens, torch.bfloat16)
    est = memory.estimate(hf(architecture, config), dtype="bf16", context=tokens, batch=batch)
    assert est.component("KV cache").per_gpu == held


def test_sliding_window_caches_the_window():
    config = dict(model_type="mistral", hidden_size=64, num_hidden_layers=3,
                  num_attention_heads=4, num_key_value_heads=2, intermediate_size=128,
                  vocab_size=100, sliding_window=5)
    model = meta_model("MistralForCausalLM", config)
    kept = prefill_cache_bytes(model, 2, 9, torch.float16)
    est = memory.estimate(hf("MistralForCausalLM", config), dtype="fp16", context=9, batch=2)
    # transformers keeps window - 1 = 4 tokens between steps and attends over those and the
    # new token's keys: 5 = the window; per token: 3 layers × 2 (K, V) × 2 heads × 16 × 2 B
    per_token = 3 * 2 * 2 * 16 * 2 * 2
    assert est.component("KV cache").per_gpu == kept + per_token == 5 * per_token


# The rule, by hand from each released config: a KV cache holds the model's key/value heads,
# layers × 2 (K and V) × key/value heads × head_dim × 2 bytes (bf16) per token, or a latent
# cache's layers × (kv_lora_rank + qk_rope_head_dim) × 2 bytes; 1,024 tokens is inside every
# sliding window these models have.
FALCON_40B = {"model_type": "falcon", "architectures": ["FalconForCausalLM"],
              "hidden_size": 8192, "num_attention_heads": 128, "num_kv_heads": 8,
              "new_decoder_architecture": True, "num_hidden_layers": 60, "vocab_size": 65024}
BYTES_PER_TOKEN = {
    "llama-3-8b": 32 * 2 * 8 * 128 * 2, "llama-3-70b": 80 * 2 * 8 * 128 * 2,
    "mistral-7b": 32 * 2 * 8 * 128 * 2, "mixtral-8x7b": 32 * 2 * 8 * 128 * 2,
    "gemma-2-9b": 42 * 2 * 8 * 256 * 2, "qwen2.5-7b": 28 * 2 * 4 * 128 * 2,
    "phi-3-mini": 32 * 2 * 32 * 96 * 2, "falcon-7b": 32 * 2 * 1 * 64 * 2,  # multi-query
    "gpt2": 12 * 2 * 12 * 64 * 2, "deepseek-v3": 61 * (512 + 64) * 2,
    "falcon-40b": 60 * 2 * 8 * 64 * 2,
}


@pytest.mark.parametrize("name", sorted(BYTES_PER_TOKEN))
def test_kv_cache_holds_the_key_value_heads(name):
    model = summarize(FALCON_40B) if name == "falcon-40b" else zoo.load(name)
    est = memory.estimate(model, dtype="bf16", context=1024)
    assert est.component("KV cache").per_gpu == BYTES_PER_TOKEN[name] * 1024


def test_falcon_40b_kv_cache_is_16_times_less_than_all_heads():
    """Falcon-40B at 2,048 tokens: 240 MiB; transformers 5.24 and earlier cached every query
    head (3.75 GiB), which the estimate names as a note."""
    est = memory.estimate(summarize(FALCON_40B), dtype="bf16", context=2048)
    assert est.component("KV cache").per_gpu == 240 * 2**20 == 3.75 * GIB / 16
    assert any("5.24 and earlier" in a and "16× more" in a for a in est.assumptions)


T5_TINY = dict(model_type="t5", d_model=64, d_kv=16, num_heads=4, num_layers=2,
               num_decoder_layers=3, d_ff=128, vocab_size=100)


@pytest.mark.parametrize(("encoder", "decoder"), [(11, 5), (100, 10)])
def test_cross_attention_caches_the_encoder_length(encoder, decoder):
    model = meta_model("T5ForConditionalGeneration", T5_TINY).to(torch.float16)
    ids = torch.zeros((2, encoder), dtype=torch.long, device="meta")
    dec = torch.zeros((2, decoder), dtype=torch.long, device="meta")
    with torch.no_grad():
        cache = model(input_ids=ids, decoder_input_ids=dec, use_cache=True).past_key_values
    # transformers' EncoderDecoderCache: the decoder's self-attention and cross-attention
    held = sum(t.numel() * t.element_size()
               for part in (cache.self_attention_cache, cache.cross_attention_cache)
               for layer in part.layers for t in (layer.keys, layer.values))
    est = memory.estimate(hf("T5ForConditionalGeneration", T5_TINY), dtype="fp16",
                          context=decoder, encoder_length=encoder, batch=2)
    assert est.component("KV cache").per_gpu == held


def test_kv_dtype_defaults_to_fp16_for_quantized_weights():
    est = memory.estimate(summarize(LLAMA2_7B), dtype="int4", context=4096)
    assert est.settings["kv_dtype"] == "float16"
    assert est.component("KV cache").per_gpu == 2 * GIB
    est = memory.estimate(summarize(LLAMA2_7B), dtype="int4", context=4096, kv_dtype="int8")
    assert est.component("KV cache").per_gpu == GIB


def test_tensor_parallel_splits_kv_heads_and_replicates_fewer():
    architecture, config = TINY["llama-gqa"]  # 2 key/value heads of 16, 3 layers
    s = hf(architecture, config)
    one = memory.estimate(s, dtype="fp16", context=8).component("KV cache").per_gpu
    two = memory.estimate(s, dtype="fp16", context=8, tp=2).component("KV cache").per_gpu
    four = memory.estimate(s, dtype="fp16", context=8, tp=4).component("KV cache").per_gpu
    assert one == 3 * 2 * 2 * 16 * 8 * 2  # layers × (K, V) × heads × 16 × tokens × 2 B
    assert two == one // 2 and four == two  # 2 heads over 4 ranks: one head each, replicated


def test_no_attention_no_kv_cache():
    with pytest.raises(SpecError, match="has no attention layers"):
        memory.estimate(zoo.load("vgg16"), context=128)


def test_stored_dtype_needs_a_checkpoint():
    with pytest.raises(SpecError, match="does not store its weights' dtypes"):
        memory.estimate(summarize(LLAMA2_7B), dtype="stored")


# -- training: model states -------------------------------------------------------------------

ONE_BILLION = paramcount.layer("Dense", units=1000, use_bias=False).count((1_000_000,))

STATES = [  # precision, optimizer, bytes per parameter (weights + gradients + K)
    ("fp32", "adamw", 4 + 4 + 8),
    ("fp32", "adam", 4 + 4 + 8),
    ("mixed-bf16", "adamw", 2 + 2 + 12),     # the ZeRO paper's 2 + 2 + K, K = 12
    ("mixed-fp16", "adam", 2 + 2 + 12),
    ("bf16", "adamw", 2 + 2 + 4),            # no master copy, bf16 states
    ("fp32", "sgd", 4 + 4),
    ("fp32", "sgd-momentum", 4 + 4 + 4),
    ("mixed-bf16", "adam8bit", 2 + 2 + 4 + 2),  # fp32 master + two 1-byte states
]


@pytest.mark.parametrize(("precision", "optimizer", "per_param"), STATES)
def test_model_states_per_parameter(precision, optimizer, per_param):
    est = memory.estimate(ONE_BILLION, train=True, precision=precision, optimizer=optimizer)
    states = sum(est.component(n).per_gpu for n in ("weights", "gradients", "optimizer states"))
    assert states == per_param * 10**9


def test_frozen_parameters_keep_only_their_weights():
    spec = {"input_shape": [10], "layers": [{"Dense": {"units": 10, "trainable": False}},
                                            {"Dense": {"units": 5}}]}
    est = memory.estimate(summarize(spec), train=True, precision="mixed-bf16")
    assert est.component("weights").per_gpu == 2 * (110 + 55)
    assert est.component("gradients").per_gpu == 2 * 55
    assert est.component("optimizer states").per_gpu == 12 * 55


# The ZeRO paper (Rajbhandari et al. 2020), Figure 1: Ψ = 7.5B, N_d = 64, K = 12.
ZERO_FIGURE_1 = [(0, 120_000_000_000, "120"), (1, 31_406_250_000, "31.4"),
                 (2, 16_640_625_000, "16.6"), (3, 1_875_000_000, "1.88")]


@pytest.mark.parametrize(("stage", "exact", "printed"), ZERO_FIGURE_1)
def test_zero_paper_figure_1(stage, exact, printed):
    psi = 7_500_000_000
    model = paramcount.layer("Dense", units=100_000, use_bias=False).count((75_000,))
    assert model.total_params == psi
    est = memory.estimate(model, train=True, precision="mixed-fp16", optimizer="adam",
                          gpus=64, zero=stage)
    states = sum(est.component(n).per_gpu for n in ("weights", "gradients", "optimizer states"))
    formula = {0: (2 + 2 + 12) * psi, 1: 2 * psi + 2 * psi + 12 * psi / 64,
               2: 2 * psi + (2 + 12) * psi / 64, 3: (2 + 2 + 12) * psi / 64}[stage]
    assert states == formula == exact
    assert f"{states / 1e9:.3g}" == printed  # the figure prints decimal GB


def test_offload_moves_partitions_to_the_cpu():
    est = memory.estimate(ONE_BILLION, train=True, gpus=4, zero=2, offload=True)
    # ZeRO-2: 2 B weights stay; gradients (2 B) and K (12 B) partitions go to the CPU
    assert est.component("weights").per_gpu == 2 * 10**9
    assert est.component("gradients").per_gpu == est.component("optimizer states").per_gpu == 0
    assert est.cpu == (2 + 12) * 10**9
    est = memory.estimate(ONE_BILLION, train=True, gpus=4, zero=3, offload=True)
    assert est.cpu == 16 * 10**9
    # what stays: one gathered layer, its 2 B weights and 2 B gradients (the Dense is 1B)
    assert est.component("gathered layer").per_gpu == 4 * 10**9


def test_tensor_and_pipeline_parallel_split_model_states():
    gpt2 = zoo.load("gpt2")
    one = memory.estimate(gpt2, train=True, precision="fp32")
    split = memory.estimate(gpt2, train=True, precision="fp32", gpus=8, tp=2, pp=2)
    for name in ("weights", "gradients", "optimizer states"):
        assert split.component(name).per_gpu == math.ceil(one.component(name).per_gpu / 4)
    assert split.parallel.dp == 2


# -- training: activations ----------------------------------------------------------------------

def gpt(layers: int, hidden: int, heads: int) -> paramcount.Summary:
    """A GPT-3-style decoder as a GPT-2 config (learned positions, 4h GeLU MLP)."""
    return summarize({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"],
                      "n_embd": hidden, "n_layer": layers, "n_head": heads,
                      "n_positions": 2048, "vocab_size": 51200})


def activations(model, **options) -> int:
    est = memory.estimate(model, train=True, **options)
    return est.component("activations").per_gpu


def test_korthikanti_equation_1_gpt3_175b():
    s, b, h, a, layers = 2048, 1, 12288, 96, 96
    per_layer = s * b * h * (34 + 5 * a * s // h)  # 5as/h = 80 exactly
    model = gpt(layers, h, a)
    assert activations(model, context=s, batch=b) == layers * per_layer
    # the paper: selective recomputation stores 34 of 114: "70%" of activations recomputed
    selective = activations(model, context=s, batch=b, recompute="selective")
    assert selective == layers * s * b * h * 34
    assert round(1 - selective / (layers * per_layer), 2) == 0.70


def test_korthikanti_mt_nlg_530b_recomputes_65_percent():
    model = gpt(105, 20480, 128)
    full = activations(model, context=2048)
    selective = activations(model, context=2048, recompute="selective")
    assert round(1 - selective / full, 2) == 0.65  # 5as/h = 64 of 34 + 64


def test_korthikanti_tensor_and_sequence_parallel_22b():
    s, b, h, a, t, layers = 2048, 1, 6144, 64, 8, 48  # the paper's 22B row, t = 8
    model = gpt(layers, h, a)
    tp = activations(model, context=s, batch=b, gpus=t, tp=t)
    # equation 2: sbh(10 + 24/t + 5as/(ht)), per layer
    assert tp == layers * (s * b * h * 10 + s * b * h * 24 // t + 5 * a * s * s * b // t)
    sp = activations(model, context=s, batch=b, gpus=t, tp=t, sequence_parallel=True)
    # equation 4: sbh(34/t + 5as/(ht)); 5as/h is not a whole number here
    assert sp == layers * (s * b * h * 34 + 5 * a * s * s * b) // t
    sel = activations(model, context=s, batch=b, gpus=t, tp=t, sequence_parallel=True,
                      recompute="selective")
    assert sel == layers * s * b * h * 34 // t  # equation 6
    full = activations(model, context=s, batch=b, gpus=t, tp=t, recompute="full")
    assert full == layers * 2 * s * b * h  # 2sbh per layer, not split


def test_pipeline_first_stage_holds_every_layer():
    model = gpt(8, 512, 8)
    one = memory.estimate(model, train=True, context=256)
    four = memory.estimate(model, train=True, context=256, gpus=4, pp=4)
    assert four.component("activations").per_gpu == one.component("activations").per_gpu
    # stages hold 4, 3, 2, 1 micro-batches of 2 layers: 20 layer-activations in all
    per_layer = one.component("activations").per_gpu // 8
    assert four.component("activations").whole == 20 * per_layer


def test_fp32_activations_double_the_16_bit_elements():
    s, b, h, a = 128, 2, 256, 4
    model = gpt(2, h, a)
    got = activations(model, context=s, batch=b, precision="fp32")
    # 16 elements × 4 B + 2 mask bytes per s·b·h; 2 elements × 4 B + 1 mask byte per a·s²·b
    assert got == 2 * (s * b * h * (16 * 4 + 2) + a * s * s * b * (2 * 4 + 1))


CNN_SPEC = {"framework": "pytorch", "input_shape": [3, 16, 16], "layers": [
    {"Conv2d": {"in_channels": 3, "out_channels": 8, "kernel_size": 3, "padding": 1}},
    {"BatchNorm2d": {"num_features": 8}}, {"ReLU": {}}, {"MaxPool2d": {"kernel_size": 2}},
    {"Conv2d": {"in_channels": 8, "out_channels": 16, "kernel_size": 3}},
    {"Flatten": {}}, {"Linear": {"in_features": 576, "out_features": 10}},
]}


@pytest.mark.parametrize("batch", [1, 2, 5])
def test_cnn_activations_are_torchinfo_forward_backward_pass_size(batch):
    torchinfo = pytest.importorskip("torchinfo")
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(8, 16, 3), nn.Flatten(),
                          nn.Linear(576, 10))
    stats = torchinfo.summary(model, input_size=(batch, 3, 16, 16), verbose=0)
    got = activations(summarize(CNN_SPEC), batch=batch, precision="fp32")
    assert got == stats.total_output_bytes


# -- fits, and the smallest layout that does ------------------------------------------------------

def test_fits_and_by_how_much():
    est = memory.estimate(ONE_BILLION, dtype="bf16", gpu_memory=3 * 10**9)
    assert est.fits and est.margin == 10**9  # 2 GB of weights in 3 GB
    est = memory.estimate(ONE_BILLION, train=True, gpu_memory=10 * 10**9)
    # 16 GB of model states and the Dense layer's output: 2 × 1000 × 2 B (bf16)
    assert est.fits is False and est.margin == -(6 * 10**9 + 2 * 1000 * 2)


def test_suggests_the_least_model_parallel_layout_that_fits():
    gpt2 = gpt(12, 768, 12)
    base = memory.estimate(gpt2, train=True, context=1024, gpus=8)
    need = base.per_gpu
    # a little less than ZeRO-0 needs: ZeRO-1 on 8 data-parallel GPUs is tried next
    est = memory.estimate(gpt2, train=True, context=1024, gpus=8, gpu_memory=need - 1)
    assert est.fits is False
    assert est.suggestion.parallel == memory.Parallel(gpus=8, zero=1)
    zero1 = memory.estimate(gpt2, train=True, context=1024, gpus=8, zero=1)
    assert est.suggestion.per_gpu == zero1.per_gpu < need
    tiny = memory.estimate(gpt2, train=True, context=1024, gpus=8, gpu_memory=1000)
    assert tiny.suggestion.parallel is None


def test_suggestion_uses_tensor_parallelism_when_zero_is_not_enough():
    model = gpt(4, 1024, 16)
    data_parallel = [memory.estimate(model, train=True, context=2048, gpus=4, zero=z).per_gpu
                     for z in range(4)]
    tp2 = memory.estimate(model, train=True, context=2048, gpus=4, tp=2)
    # activations dominate: no ZeRO stage fits in less than the least of them minus a byte,
    # splitting them two ways does
    budget = min(data_parallel) - 1
    assert tp2.per_gpu <= budget
    est = memory.estimate(model, train=True, context=2048, gpus=4, gpu_memory=budget)
    assert est.suggestion.parallel == memory.Parallel(gpus=4, tp=2)
    assert est.suggestion.per_gpu == tp2.per_gpu


# -- more GPUs than asked: the fewest that fit ---------------------------------------------------

# Ψ = 10⁹ parameters in ten 10⁸-parameter layers, no attention (so no tensor or pipeline
# parallelism), trained with mixed-precision AdamW: 2 + 2 + 12 = 16Ψ bytes of model states.
TEN_LAYERS = summarize({"input_shape": [10_000], "layers": [
    {"Dense": {"units": 10_000, "use_bias": False}} for _ in range(10)]})
GATHERED = 10**8 * (2 + 2)  # ZeRO-3 gathers the largest layer's weights and gradients
OUTPUTS = 2 * 10 * 10_000 * 2  # 2 × (ten outputs of 10,000) × 2 B, batch 1 (torchinfo's way)
SPACE = [1, 2, 4, *range(8, 16_385, 8)]  # powers of two and multiples of 8, up to 16,384


def zero3(n: int) -> int:
    """Bytes per GPU with ZeRO-3 over n GPUs: 16Ψ/n (each part rounded up to a byte), the
    gathered layer and the activations (neither shrinks with more GPUs)."""
    return 2 * math.ceil(2 * 10**9 / n) + math.ceil(12 * 10**9 / n) + GATHERED + OUTPUTS


MORE_GPUS = [  # GPU memory, GPUs asked for, the fewest GPUs that fit (by hand)
    (2 * 10**9, None, 16),      # 16e9/n <= 1.5996e9: n >= 10.003, the next count is 16
    (2 * 10**9, 4, 16),
    (12 * 10**8, 4, 24),        # 16e9/n <= 0.7996e9: n >= 20.01: 24, a multiple of 8
    (5 * 10**8, 8, 168),        # 16e9/n <= 0.0996e9: n >= 160.6: 168
]


@pytest.mark.parametrize(("budget", "asked", "fewest"), MORE_GPUS)
def test_zero3_on_the_fewest_more_gpus_by_hand(budget, asked, fewest):
    # other stages keep 2Ψ or more of every state on each GPU: over 2 GB, never fit
    assert fewest == next(n for n in SPACE if n > (asked or 1) and zero3(n) <= budget)
    est = memory.estimate(TEN_LAYERS, train=True, gpus=asked, gpu_memory=budget)
    assert est.fits is False
    assert est.suggestion.parallel == memory.Parallel(gpus=fewest, zero=3)
    assert est.suggestion.per_gpu == zero3(fewest)
    assert est.suggestion.more_gpus and est.suggestion.asked == (asked or 1)


def test_nothing_fits_even_on_the_largest_count():
    # the gathered layer alone takes the 4e8 bytes; it and the activations never shrink
    est = memory.estimate(TEN_LAYERS, train=True, gpus=8, gpu_memory=GATHERED)
    assert est.suggestion.parallel is None and est.suggestion.per_gpu is None
    assert not est.suggestion.more_gpus and est.suggestion.limit == 16_384 == memory.MAX_GPUS
    assert "up to 16,384" in est.suggestion.space


@pytest.fixture(scope="module")
def gqa_bytes():
    """Bytes transformers holds for the tiny GQA Llama (3 layers, 4 heads, 2 key/value heads):
    its bf16 weights, and its bf16 KV cache after a prefill of 8 tokens."""
    architecture, config = TINY["llama-gqa"]
    model = meta_model(architecture, config).to(torch.bfloat16)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    return weights, prefill_cache_bytes(model, 1, 8, torch.bfloat16)


SERVING = [  # (weights, KV) bytes -> budget; the layout that fits on the fewest GPUs
    # the weights alone, split two ways: tensor before pipeline parallelism
    (lambda w, kv: math.ceil(w / 2), False, memory.Parallel(gpus=2, tp=2)),
    # weights split 4 ways, the 2 key/value heads over 4 ranks: one each, replicated
    (lambda w, kv: math.ceil(w / 4) + kv // 2, True, memory.Parallel(gpus=4, tp=4)),
    # 4 tensor × 3 pipeline (one layer a stage): 12 ranks, and the fewest GPUs 12 and 8
    # divide is 24: two replicas; on 8 or 16 GPUs at most 8 ranks, w/8 + kv/4 does not fit
    (lambda w, kv: math.ceil(w / 12) + math.ceil(kv / 2 / 3), True,
     memory.Parallel(gpus=24, tp=4, pp=3)),
]


@pytest.mark.parametrize(("budget", "cache", "layout"), SERVING)
def test_serving_on_the_fewest_gpus_tensor_then_pipeline(gqa_bytes, budget, cache, layout):
    weights, kv = gqa_bytes
    context = {"context": 8} if cache else {}
    est = memory.estimate(hf(*TINY["llama-gqa"]), dtype="bf16", gpu_memory=budget(weights, kv),
                          **context)
    assert est.fits is False
    assert est.suggestion.parallel == layout and est.suggestion.per_gpu == budget(weights, kv)


def preferred(facts, gpus: int, train: bool) -> list[dict]:
    """Every layout of ``gpus`` GPUs in the documented order: least tp × pp, lowest ZeRO
    stage, tensor before pipeline (tp dividing the heads, pp at most one layer a stage)."""
    heads = math.gcd(*facts.heads)
    layers = sum(n for a, n in facts.attentions if not a.cross)
    out = [dict(gpus=gpus, tp=tp, pp=pp, zero=zero)
           for tp in range(1, gpus + 1) if gpus % tp == 0 and heads % tp == 0
           for pp in range(1, min(gpus // tp, layers) + 1) if (gpus // tp) % pp == 0
           for zero in (range(4) if train else [0])]
    return sorted(out, key=lambda p: (p["tp"] * p["pp"], p["zero"], p["pp"]))


EXHAUSTIVE = [  # llama-3-70b (64 heads, 80 layers): settings, GPUs asked for
    (dict(train=True, context=4096, recompute="selective", gpu_memory=80 * 10**9), 8),
    (dict(train=True, context=2048, gpu_memory=80 * 10**9), 1),
    (dict(dtype="bf16", context=131072, batch=64, gpu_memory=80 * 10**9), 1),
]


@pytest.mark.parametrize(("options", "asked"), EXHAUSTIVE)
def test_search_finds_what_trying_every_count_in_order_finds(options, asked):
    facts = memory.ModelFacts.of(zoo.load("llama-3-70b"))
    est = memory.estimate(facts, gpus=asked, **options)

    def first_fit():  # every count, every layout, in order: the slow way
        settings = {k: v for k, v in options.items() if k != "gpu_memory"}
        for n in (n for n in SPACE if n >= asked):
            for layout in preferred(facts, n, options.get("train", False)):
                fit = memory.estimate(facts, **settings, **layout)
                if fit.per_gpu <= options["gpu_memory"]:
                    return fit.parallel, fit.per_gpu
    assert (est.suggestion.parallel, est.suggestion.per_gpu) == first_fit()
    assert est.suggestion.more_gpus


# -- bad values through the library ------------------------------------------------------------

BAD = [
    (dict(zero=2), "apply to training"),
    (dict(train=True, offload=True), "needs --zero 1, 2 or 3"),
    (dict(train=True, zero=4), "ZeRO stages are 0, 1, 2 and 3"),
    (dict(bogus=1), "unknown memory option 'bogus'"),
    (dict(train=True, dtype="bf16"), "training takes --precision"),
]


@pytest.mark.parametrize(("options", "message"), BAD)
def test_bad_options(options, message):
    with pytest.raises(SpecError, match=message):
        memory.estimate(ONE_BILLION, **options)


def test_a_bert_used_as_a_decoder_caches_its_self_attention():
    """BERT with is_decoder=True generates, so its self-attention is cached; by hand:
    2 layers × (keys + values) × 64 widths × 16 tokens × 4 bytes."""
    from paramcount import memory
    from paramcount.sources import summarize

    doc = {"model_type": "bert", "architectures": ["BertModel"], "num_hidden_layers": 2,
           "hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 128,
           "vocab_size": 100}
    decoder = memory.estimate(summarize({**doc, "is_decoder": True}), context=16)
    assert decoder.component("KV cache").per_gpu == 2 * 2 * 64 * 16 * 4
    with pytest.raises(SpecError, match="only an encoder's attention"):
        memory.estimate(summarize(doc), context=16)
