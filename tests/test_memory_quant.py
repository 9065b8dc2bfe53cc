"""Memory of quantized models: the weights at the bytes of the tensors each format writes.

The expected bytes never come from paramcount: transformers builds the model on the meta device
and says which modules are ``nn.Linear`` (and their features); each format's tensors for such a
module are written here from the format's own rules (auto-gptq's ``QuantLinear`` buffers,
AutoAWQ's GEMM, gpt-oss's ``_blocks``/``_scales``, compressed-tensors' NVFP4, transformers'
block FP8), or written by bitsandbytes itself when it is installed; what a scheme keeps is the
model's other parameters at 2 bytes. DeepSeek-V3's block scales and gpt-oss-20b's checkpoint are
hand calculations.
"""

from __future__ import annotations

import importlib.util
import json
import math

import pytest

from paramcount import memory, summarize
from paramcount.cli import main
from paramcount.errors import SpecError
from paramcount.zoo import _document

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

LLAMA = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 64,
         "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2, "vocab_size": 256, "torch_dtype": "bfloat16"}
MIXTRAL = {"model_type": "mixtral", "architectures": ["MixtralForCausalLM"], "hidden_size": 64,
           "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
           "num_key_value_heads": 2, "vocab_size": 256, "num_local_experts": 4,
           "num_experts_per_tok": 2, "torch_dtype": "bfloat16"}


def nbytes(dtype, shape) -> int:
    return torch.empty(shape, dtype=dtype, device="meta").element_size() * math.prod(shape)


# -- each format's tensors for one Linear of in_features -> out_features, as the format says --

def gptq(o, i, bits=4, g=128):
    g = i if g == -1 else g
    return [(torch.int32, (i // 32 * bits, o)), (torch.int32, (math.ceil(i / g), o // 32 * bits)),
            (torch.float16, (math.ceil(i / g), o)), (torch.int32, (i,))]


def awq(o, i, g=128):
    return [(torch.int32, (i, o // 8)), (torch.int32, (i // g, o // 8)),
            (torch.float16, (i // g, o))]


def mxfp4(o, i):
    return [(torch.uint8, (o, i // 32, 16)), (torch.uint8, (o, i // 32))]


def nvfp4(o, i):
    return [(torch.uint8, (o, i // 2)), (torch.float8_e4m3fn, (o, i // 16)),
            (torch.float32, (1,)), (torch.float32, (1,))]


def fp8_block(o, i):
    scales = (math.ceil(o / 128), math.ceil(i / 128))
    return [(torch.float8_e4m3fn, (o, i)), (torch.float32, scales)]


def bnb_rule(o, i, double=False):
    n = o * i
    blocks = math.ceil(n / 64)
    if not double:
        return [(torch.uint8, (n // 2, 1)), (torch.float32, (blocks,)), (torch.float32, (16,))]
    return [(torch.uint8, (n // 2, 1)), (torch.uint8, (blocks,)), (torch.float32, (16,)),
            (torch.float32, (math.ceil(blocks / 256),)), (torch.float32, (256,))]


def format_bytes(rule, o, i, **kw) -> int:
    return sum(nbytes(dt, shape) for dt, shape in rule(o, i, **kw))


# -- the model transformers builds ----------------------------------------------------------

def built(config: dict):
    cfg = transformers.AutoConfig.for_model(**{k: v for k, v in config.items()
                                               if k not in ("architectures", "torch_dtype")})
    with torch.device("meta"):
        return transformers.AutoModelForCausalLM.from_config(cfg)


def linears(model) -> list[tuple[str, int, int]]:
    """(name, out, in) of every nn.Linear a scheme quantizes: not the LM head, not a router."""
    return [(name, m.out_features, m.in_features) for name, m in model.named_modules()
            if isinstance(m, torch.nn.Linear) and name != "lm_head"
            and not name.endswith((".gate", ".router"))]


def expected(config: dict, rule, experts: bool = False, **kw) -> int:
    """The format's tensors for every quantized matrix, plus every other parameter at 2 B."""
    model = built(config)
    mats = [(o, i) for _, o, i in linears(model)]
    quantized = sum(o * i for o, i in mats)
    if experts:  # a quantized MoE checkpoint stores each expert's w1, w3 [I, H] and w2 [H, I]
        h, inter = config["hidden_size"], config["intermediate_size"]
        per_layer = [(inter, h), (inter, h), (h, inter)] * config["num_local_experts"]
        mats += per_layer * config["num_hidden_layers"]
        quantized += sum(o * i for o, i in per_layer) * config["num_hidden_layers"]
    total = sum(p.numel() for p in model.parameters())
    return sum(format_bytes(rule, o, i, **kw) for o, i in mats) + 2 * (total - quantized)


def write(tmp_path, config: dict, quant: dict | None = None) -> str:
    doc = {**config, **({"quantization_config": quant} if quant else {})}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    return str(path)


def weights(source: str, **options) -> int:
    return memory.estimate(summarize(source), **options).component("weights").per_gpu


# -- --scheme on any model, and quantization_config ----------------------------------------

@pytest.mark.parametrize(("config", "experts"), [(LLAMA, False), (MIXTRAL, True)])
@pytest.mark.parametrize(("options", "rule", "kw"), [
    ({"scheme": "gptq", "dtype": "int4"}, gptq, {}),
    ({"scheme": "gptq", "dtype": "int8", "group_size": 32}, gptq, {"bits": 8, "g": 32}),
    ({"scheme": "gptq", "dtype": "int4", "group_size": -1}, gptq, {"g": -1}),
    ({"scheme": "awq", "group_size": 32}, awq, {"g": 32}),
    ({"scheme": "mxfp4"}, mxfp4, {}),
    ({"scheme": "nvfp4"}, nvfp4, {}),
    ({"scheme": "fp8", "group_size": 128}, fp8_block, {}),
    ({"scheme": "nf4"}, bnb_rule, {}),
], ids=["gptq4", "gptq8-g32", "gptq4-row", "awq-g32", "mxfp4", "nvfp4", "fp8-block", "nf4"])
def test_scheme_bytes_equal_the_formats_tensors(tmp_path, config, experts, options, rule, kw):
    source = write(tmp_path, config)
    assert weights(source, **options) == expected(config, rule, experts, **kw)


@pytest.mark.parametrize(("quant", "rule", "kw"), [
    ({"quant_method": "gptq", "bits": 4, "group_size": 32, "desc_act": True}, gptq, {"g": 32}),
    ({"quant_method": "awq", "bits": 4, "group_size": 64, "version": "gemm"}, awq, {"g": 64}),
    ({"quant_method": "fp8", "weight_block_size": [128, 128]}, fp8_block, {}),
    ({"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4",
      "bnb_4bit_use_double_quant": True}, bnb_rule, {"double": True}),
    ({"quant_method": "compressed-tensors", "format": "nvfp4-pack-quantized", "ignore": ["lm_head"],
      "config_groups": {"group_0": {"targets": ["Linear"], "weights": {
          "num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16}}}},
     nvfp4, {}),
], ids=["gptq", "awq", "fp8", "bnb-nf4-double", "ct-nvfp4"])
def test_config_quantization_sizes_by_its_scheme(tmp_path, quant, rule, kw):
    source = write(tmp_path, LLAMA, quant)
    assert weights(source) == expected(LLAMA, rule, **kw)
    assert weights(source, dtype="bf16") == 2 * summarize(source).total_params


def test_compressed_tensors_w4a16_with_ignored_modules(tmp_path):
    """pack-quantized: int32 words of 8 values, bf16 scales per group, an int64 shape; the
    ignored modules (a regex) stay bf16."""
    quant = {"quant_method": "compressed-tensors", "format": "pack-quantized",
             "ignore": ["lm_head", "re:.*down_proj$"],
             "config_groups": {"g": {"targets": ["Linear"], "weights": {
                 "num_bits": 4, "type": "int", "strategy": "group", "group_size": 32,
                 "symmetric": True}}}}
    model = built(LLAMA)
    total = sum(p.numel() for p in model.parameters())
    quant_bytes = kept = 0
    for name, o, i in linears(model):
        if name.endswith("down_proj"):
            continue
        kept += o * i
        quant_bytes += (nbytes(torch.int32, (o, i // 8)) + nbytes(torch.bfloat16, (o, i // 32))
                        + nbytes(torch.int64, (2,)))
    assert weights(write(tmp_path, LLAMA, quant)) == quant_bytes + 2 * (total - kept)


@pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is None,
                    reason="bitsandbytes is not installed")
@pytest.mark.parametrize("kind", ["nf4", "nf4-double", "fp4", "int8"])
def test_bitsandbytes_writes_what_the_scheme_counts(tmp_path, kind):
    """bitsandbytes quantizes each Linear on the CPU; its state dict's tensors (not the JSON
    quant_state blob, metadata that is not GPU memory) are the bytes counted."""
    import bitsandbytes as bnb

    torch.manual_seed(0)
    model = built(LLAMA)
    got = 0
    for _, o, i in linears(model):
        w = torch.randn(o, i, dtype=torch.float16)
        if kind == "int8":
            layer = bnb.nn.Linear8bitLt(i, o, bias=False, has_fp16_weights=False)
            layer.weight = bnb.nn.Int8Params(w, requires_grad=False, has_fp16_weights=False)
        else:
            layer = bnb.nn.Linear4bit(i, o, bias=False, quant_type=kind[:3],
                                      compress_statistics=kind.endswith("double"))
            layer.weight = bnb.nn.Params4bit(w, requires_grad=False, quant_type=kind[:3],
                                             compress_statistics=kind.endswith("double"))
        layer = layer.to("cpu")
        got += sum(t.numel() * t.element_size() for k, t in layer.state_dict().items()
                   if "quant_state" not in k)
    quantized = sum(o * i for _, o, i in linears(model))
    total = sum(p.numel() for p in model.parameters())
    quant = ({"load_in_8bit": True} if kind == "int8" else
             {"load_in_4bit": True, "bnb_4bit_quant_type": kind[:3],
              "bnb_4bit_use_double_quant": kind.endswith("double")})
    source = write(tmp_path, LLAMA, {"quant_method": "bitsandbytes", **quant})
    assert weights(source) == got + 2 * (total - quantized)


def test_deepseek_v3_fp8_block_scales_by_hand(tmp_path):
    """DeepSeek-V3's checkpoint: float8 weights and one float32 ``weight_scale_inv`` per
    128×128 block of every linear layer; embeddings, head, norms and routers in bf16."""
    config = {**_document("deepseek-v3"), "torch_dtype": "bfloat16"}
    source = write(tmp_path, config, {"quant_method": "fp8", "fmt": "e4m3",
                                      "activation_scheme": "dynamic",
                                      "weight_block_size": [128, 128]})
    q = memory.estimate(summarize(source)).quantization
    blocks = lambda o, i: math.ceil(o / 128) * math.ceil(i / 128)  # noqa: E731
    attention = (blocks(1536, 7168) + blocks(128 * 192, 1536) + blocks(576, 7168)
                 + blocks(128 * 256, 512) + blocks(7168, 128 * 128))
    expert = 2 * blocks(2048, 7168) + blocks(7168, 2048)
    dense = 2 * blocks(18432, 7168) + blocks(7168, 18432)
    scales = 61 * attention + 58 * 257 * expert + 3 * dense  # 256 routed + 1 shared expert
    assert (attention, expert, dense, scales) == (11448, 2688, 24192, 40_838_232)
    assert q.quantized_bytes == q.quantized_params + 4 * scales
    assert set(q.kept) == {"embedding", "head", "vector", "router", "buffer"}


GPT_OSS_20B = {
    "architectures": ["GptOssForCausalLM"], "model_type": "gpt_oss", "hidden_size": 2880,
    "num_hidden_layers": 24, "num_attention_heads": 64, "num_key_value_heads": 8,
    "head_dim": 64, "intermediate_size": 2880, "num_local_experts": 32,
    "num_experts_per_tok": 4, "vocab_size": 201088, "sliding_window": 128,
    "tie_word_embeddings": False, "attention_bias": True, "torch_dtype": "bfloat16",
    "quantization_config": {"quant_method": "mxfp4", "modules_to_not_convert": [
        "model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens",
        "lm_head"]}}


def gpt_oss_bytes(c: dict) -> int:
    """gpt-oss's checkpoint by hand: the experts' gate_up and down in MXFP4 (16 bytes of
    values and one scale byte per 32), everything else bf16."""
    h, inter, e, n = c["hidden_size"], c["intermediate_size"], c["num_local_experts"], \
        c["num_hidden_layers"]
    q, kv = c["num_attention_heads"] * c["head_dim"], c["num_key_value_heads"] * c["head_dim"]
    mx = e * (2 * inter * (h // 32) + h * (inter // 32)) * 17
    attention = (q * h + q) + 2 * (kv * h + kv) + (h * q + h) + c["num_attention_heads"]
    bf16 = attention + (e * h + e) + e * (2 * inter + h) + 2 * h
    return n * (mx + 2 * bf16) + 2 * (2 * c["vocab_size"] * h + h)


def test_gpt_oss_mxfp4_experts_only(tmp_path):
    tiny = {**GPT_OSS_20B, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
            "num_key_value_heads": 2, "head_dim": 16, "intermediate_size": 64,
            "num_local_experts": 4, "num_experts_per_tok": 2, "vocab_size": 128}
    assert weights(write(tmp_path, tiny)) == gpt_oss_bytes(tiny)


@pytest.mark.slow
def test_gpt_oss_20b_checkpoint_is_12_8_gib(tmp_path):
    """openai/gpt-oss-20b: about 12.8 GiB of checkpoint (its model card)."""
    got = weights(write(tmp_path, GPT_OSS_20B))
    assert got == gpt_oss_bytes(GPT_OSS_20B) == 13_761_264_768
    assert round(got / 2**30, 1) == 12.8


def test_gguf_type_keeps_vectors_in_float32(tmp_path):
    source = write(tmp_path, LLAMA)
    model = built(LLAMA)
    vectors = sum(p.numel() for p in model.parameters() if p.dim() == 1)
    matrices = sum(p.numel() for p in model.parameters() if p.dim() == 2)
    assert weights(source, dtype="Q4_K") == matrices * 144 // 256 + 4 * vectors


def test_stored_checkpoint_bytes_win_over_the_scheme_of_its_config(tmp_path):
    """A checkpoint's own bytes are its memory; a config alone is sized by its scheme."""
    source = write(tmp_path, LLAMA, {"quant_method": "gptq", "bits": 4, "group_size": 32})
    summary = summarize(source)
    assert memory.estimate(summary).quantization is not None
    assert memory.estimate(summary, dtype="bf16").quantization is None


# -- the CLI, its output and JSON -----------------------------------------------------------

def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["memory", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_json_carries_the_scheme(capsys, tmp_path):
    source = write(tmp_path, LLAMA)
    code, out, _ = run(capsys, source, "--dtype", "int4", "--scheme", "gptq", "--group-size",
                       "32", "--format", "json")
    assert code == 0
    q = json.loads(out)["quantization"]
    assert (q["scheme"], q["bits"], q["group_size"], q["kept_dtype"]) == ("gptq", 4, 32,
                                                                         "bfloat16")
    assert q["quantized_bytes"] + q["kept_bytes"] == expected(LLAMA, gptq, g=32)
    assert set(q["kept"]) == {"embedding", "head", "vector"}
    assert q["bits_per_weight"] == 8 * (q["quantized_bytes"] + q["kept_bytes"]) / (
        q["quantized_params"] + q["kept_params"])


def test_cli_table_names_scheme_and_bits(capsys, tmp_path):
    code, out, _ = run(capsys, write(tmp_path, LLAMA), "--scheme", "awq", "--context", "64")
    assert code == 0
    assert "awq 4-bit, group 128" in out and "bits per weight" in out
    assert "kept in bfloat16 (embeddings" in out


@pytest.mark.parametrize(("quant", "args", "message"), [
    ({"quant_method": "gptq", "bits": 5}, (), "quantization_config.bits=5: gptq stores 2, 3, "
                                              "4, 8-bit weights, not 5"),
    ({"quant_method": "hqq"}, (), "quantization_config.quant_method='hqq' is not a scheme"),
    ({"quant_method": "awq", "bits": 3}, (), "quantization_config.bits=3: awq stores 4-bit"),
    ({"quant_method": "bitsandbytes"}, (), "bitsandbytes without load_in_4bit or load_in_8bit"),
    ({"quant_method": "compressed-tensors"}, (), "quantization_config.config_groups is missing"),
    (None, ("--scheme", "hqq"), "unknown --scheme 'hqq'"),
    (None, ("--scheme", "gptq", "--dtype", "bf16"), "--dtype bf16 does not say how many bits"),
    (None, ("--scheme", "awq", "--dtype", "int8"), "awq stores 4-bit weights, not 8"),
    (None, ("--group-size", "64"), "--group-size sizes the groups of a --scheme"),
    (None, ("--scheme", "int8", "--group-size", "64"), "int8 has a fixed layout"),
    (None, ("--scheme", "gptq", "--group-size", "0"), "--group-size must be positive"),
    (None, ("--scheme", "gptq", "--train"), "--scheme and --group-size size the weights for"),
])
def test_bad_schemes_are_one_line(capsys, tmp_path, quant, args, message):
    code, out, err = run(capsys, write(tmp_path, LLAMA, quant), *args)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_python_api_rejects_bits_a_scheme_lacks(tmp_path):
    with pytest.raises(SpecError, match="nf4 stores 4-bit weights, not 8"):
        memory.estimate(summarize(write(tmp_path, LLAMA)), scheme="nf4", dtype="int8")
