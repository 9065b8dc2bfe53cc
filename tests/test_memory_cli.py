"""``paramcount memory``: sources (config, zoo entry, checkpoints), formats, the fit check, the
other tools' conventions, and one line and exit status 2 for every bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from paramcount.cli import main
from paramcount.errors import SpecError

GIB = 2**30
LLAMA2_7B = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 4096,
             "num_hidden_layers": 32, "num_attention_heads": 32, "intermediate_size": 11008,
             "vocab_size": 32000, "torch_dtype": "float16"}
LLAMA2_7B_PARAMS = 6_738_415_616  # sum(p.numel() for p in LlamaForCausalLM(config).parameters())
TINY_LLAMA = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 64,
              "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "intermediate_size": 128, "vocab_size": 100}
ONE_BILLION = {"input_shape": [1_000_000], "layers": [{"Dense": {"units": 1000,
                                                                  "use_bias": False}}]}


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["memory", *args])
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path, name: str, doc: dict) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


@pytest.fixture
def llama7b(tmp_path) -> str:
    return write(tmp_path, "config.json", LLAMA2_7B)


def as_json(capsys, *args: str) -> dict:
    code, out, err = run(capsys, *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def component(doc: dict, name: str) -> dict:
    return next(c for c in doc["components"] if c["name"] == name)


# -- serving -------------------------------------------------------------------------------------

def test_llama2_7b_serving_json(capsys, llama7b):
    doc = as_json(capsys, llama7b, "--context", "4096")
    assert doc["schema"] == "paramcount-memory/1" and doc["mode"] == "inference"
    assert doc["settings"]["dtype"] == "float16"  # the config's torch_dtype
    assert component(doc, "weights")["per_gpu_bytes"] == 2 * LLAMA2_7B_PARAMS
    assert component(doc, "KV cache")["per_gpu_bytes"] == 2 * 32 * 4096 * 4096 * 2 == 2 * GIB
    assert doc["per_gpu_bytes"] == 2 * LLAMA2_7B_PARAMS + 2 * GIB
    assert doc["fits"] is None and doc["suggestion"] is None


def test_table_shows_both_units_and_the_assumptions(capsys, llama7b):
    code, out, err = run(capsys, llama7b, "--context", "4096", "--dtype", "int4")
    assert code == 0 and err == ""
    lines = out.splitlines()
    kv = next(line for line in lines if line.startswith("KV cache"))
    assert "2.00 GiB (2.15 GB)" in kv  # 2 GiB = 2.147... × 10^9 bytes
    weights = next(line for line in lines if line.startswith("weights"))
    assert f"{LLAMA2_7B_PARAMS / 2 / GIB:.2f} GiB" in weights  # half a byte each
    assert "Assumptions:" in lines
    assert any("GiB = 2^30 bytes" in line for line in lines)
    assert any("CUDA context" in line for line in lines)


def test_markdown(capsys, llama7b):
    code, out, _ = run(capsys, llama7b, "--context", "1024", "--format", "markdown")
    assert code == 0 and out.startswith("**Memory to serve")
    assert "| component | per GPU | detail |" in out and "Assumptions:" in out


def test_zoo_entries_by_name_and_prefix(capsys):
    bare = as_json(capsys, "llama-3-8b", "--context", "8192")
    prefixed = as_json(capsys, "zoo:llama-3-8b", "--context", "8192")
    assert bare == prefixed
    # Llama-3-8B: 32 layers × 8 key/value heads × 128 × (K, V) × 8192 tokens × 2 B = 1 GiB
    assert component(bare, "KV cache")["per_gpu_bytes"] == 32 * 8 * 128 * 2 * 8192 * 2 == GIB


def test_safetensors_checkpoint_stored_bytes(capsys, tmp_path):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    tensors = {"a.weight": torch.zeros((64, 32), dtype=torch.bfloat16),
               "b.weight": torch.zeros((10, 64), dtype=torch.float32)}
    st.save_file(tensors, str(tmp_path / "model.safetensors"))
    doc = as_json(capsys, str(tmp_path / "model.safetensors"))
    assert doc["settings"]["dtype"] == "stored"
    assert doc["per_gpu_bytes"] == sum(t.numel() * t.element_size() for t in tensors.values())
    doc = as_json(capsys, str(tmp_path / "model.safetensors"), "--dtype", "fp16")
    assert doc["per_gpu_bytes"] == (64 * 32 + 10 * 64) * 2


def test_gguf_stored_bytes_are_the_quantized_blocks(capsys, tmp_path):
    gguf = pytest.importorskip("gguf")
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    path = tmp_path / "m.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    block, block_bytes = GGML_QUANT_SIZES[GGMLQuantizationType.Q4_K]
    writer.add_tensor("blk.0.ffn_up.weight", np.zeros((8, 512 // block * block_bytes), np.uint8),
                      raw_dtype=GGMLQuantizationType.Q4_K)
    writer.add_tensor("blk.0.attn_norm.weight", np.zeros(512, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    reader = gguf.GGUFReader(str(path))
    doc = as_json(capsys, str(path), "--dtype", "stored")
    assert doc["per_gpu_bytes"] == sum(int(t.n_bytes) for t in reader.tensors)


# -- training, the fit check and the suggestion --------------------------------------------------

def test_training_one_billion_fp32_adamw(capsys, tmp_path):
    spec = write(tmp_path, "dense.json", ONE_BILLION)
    doc = as_json(capsys, spec, "--train", "--precision", "fp32", "--optimizer", "adamw")
    assert doc["mode"] == "training"
    states = sum(component(doc, n)["per_gpu_bytes"]
                 for n in ("weights", "gradients", "optimizer states"))
    assert states == (4 + 4 + 8) * 10**9
    assert component(doc, "activations")["per_gpu_bytes"] == 2 * 1000 * 4  # torchinfo's way


def test_training_options_imply_training(capsys, tmp_path):
    spec = write(tmp_path, "dense.json", ONE_BILLION)
    doc = as_json(capsys, spec, "--zero", "1", "--gpus", "4")
    assert doc["mode"] == "training" and doc["parallel"]["zero"] == 1


def test_does_not_fit_and_the_smallest_layout_that_does(capsys, tmp_path):
    spec = write(tmp_path, "dense.json", ONE_BILLION)
    # 16 GB of model states on each of 8 GPUs of 10 GB: ZeRO-1 leaves 2 + 2 + 12/8 = 5.5 GB
    code, out, _ = run(capsys, spec, "--train", "--gpus", "8", "--gpu-memory", "10GB")
    assert code == 0
    assert "Does not fit in 10.00 GB (9.31 GiB) per GPU" in out
    assert "Smallest layout that fits: 8 GPUs = 8 data × 1 tensor × 1 pipeline, ZeRO-1" in out
    assert "Search: 8 GPUs first, then larger counts" in out
    doc = as_json(capsys, spec, "--train", "--gpus", "8", "--gpu-memory", "10GB")
    assert doc["fits"] is False
    assert doc["suggestion"]["parallel"]["zero"] == 1
    assert doc["suggestion"]["per_gpu_bytes"] == 5_500_000_000 + 2 * 1000 * 2


TEN_LAYERS = {"input_shape": [10_000], "layers": [{"Dense": {"units": 10_000, "use_bias": False}}
                                                 for _ in range(10)]}
# ZeRO-3 on 24 GPUs: 16 B × 10⁹ parameters / 24 (each part rounded up: 2 × 83,333,334 +
# 500,000,000), the gathered 10⁸-parameter layer at 2 + 2 B, activations 2 × 10 × 10,000 × 2 B
ON_24 = 2 * 83_333_334 + 500_000_000 + 4 * 10**8 + 400_000


def test_fits_on_more_gpus_than_asked(capsys, tmp_path):
    spec = write(tmp_path, "ten.json", TEN_LAYERS)
    # on 16 GPUs 10⁹ B of states alone: 1 GB and 0.4 GB gathered exceed 1.2 GB; on 24: 1.07 GB
    args = (spec, "--train", "--gpus", "4", "--gpu-memory", "1.2GB")
    code, out, _ = run(capsys, *args)
    assert code == 0
    assert "\nNothing fits on 4 GPUs of this size.\n" in out
    assert ("\nFits on 24 GPUs: 24 data × 1 tensor × 1 pipeline, ZeRO-3, 1,017.63 MiB "
            "(1,067.07 MB) per GPU.\n") in out
    assert f"{ON_24 / 2**20:,.2f} MiB ({ON_24 / 10**6:,.2f} MB)" == "1,017.63 MiB (1,067.07 MB)"
    assert ("Search: 4 GPUs first, then larger counts that are powers of two or multiples of 8, "
            "up to 16,384; ") in out
    assert "preferred: fewest GPUs, then least tp × pp, then lowest ZeRO stage" in out
    doc = as_json(capsys, *args)
    sug = doc["suggestion"]
    assert sug["gpus"] == 24 and sug["more_gpus"] is True and sug["asked_gpus"] == 4
    assert sug["max_gpus"] == 16_384 and sug["per_gpu_bytes"] == ON_24
    assert sug["parallel"] == {"gpus": 24, "dp": 24, "tp": 1, "pp": 1, "zero": 3,
                               "offload": False, "sequence_parallel": False}
    assert sug["search_space"].startswith("4 GPUs first")


NOTHING_FITS = [  # arguments, the one line; the gathered 1e9-parameter layer is 4 GB alone
    (["--train", "--gpu-memory", "1GiB"],
     "Nothing fits on 1 GPU of this size, nor on any larger count up to 16,384 GPUs."),
    (["--train", "--gpus", "16384", "--gpu-memory", "1GiB"],
     "Nothing fits on 16,384 GPUs of this size; larger counts are not searched (at most "
     "16,384)."),
]


@pytest.mark.parametrize(("args", "line"), NOTHING_FITS)
def test_nothing_fits_on_any_count(capsys, tmp_path, args, line):
    spec = write(tmp_path, "dense.json", ONE_BILLION)
    code, out, _ = run(capsys, spec, *args)
    assert code == 0 and f"\n{line}\n" in out
    assert "Fits on" not in out and "Smallest layout" not in out
    sug = as_json(capsys, spec, *args)["suggestion"]
    assert sug["parallel"] is None and sug["gpus"] is None and sug["per_gpu_bytes"] is None
    assert sug["more_gpus"] is False


def test_fits_with_room_to_spare(capsys, tmp_path):
    spec = write(tmp_path, "dense.json", ONE_BILLION)
    doc = as_json(capsys, spec, "--dtype", "bf16", "--gpu-memory", "80")  # plain number: GB
    assert doc["gpu_memory_bytes"] == 80 * 10**9
    assert doc["fits"] is True and doc["margin_bytes"] == 78 * 10**9
    doc = as_json(capsys, spec, "--dtype", "bf16", "--gpu-memory", "2GiB")
    assert doc["margin_bytes"] == 2 * GIB - 2 * 10**9


def test_offload_reports_cpu_memory(capsys, tmp_path):
    spec = write(tmp_path, "dense.json", ONE_BILLION)
    code, out, _ = run(capsys, spec, "--gpus", "4", "--zero", "3", "--offload")
    assert code == 0 and "CPU memory" in out and "on the CPU" in out
    doc = as_json(capsys, spec, "--gpus", "4", "--zero", "3", "--offload")
    assert doc["cpu_bytes"] == 16 * 10**9  # every model state, partitioned over 4 GPUs


# -- other tools' conventions --------------------------------------------------------------------

T5_LARGE = {"model_type": "t5", "architectures": ["T5Model"], "d_model": 1024, "d_ff": 4096,
            "num_layers": 24, "num_heads": 16, "d_kv": 64, "vocab_size": 32128}


def test_deepspeed_estimator_t5_large(capsys, tmp_path):
    config = write(tmp_path, "config.json", T5_LARGE)
    doc = as_json(capsys, config, "--estimator", "deepspeed", "--zero", "3", "--gpus", "4")
    assert doc["estimator"] == "deepspeed"
    # DeepSpeed's "Memory Requirements" page, t5-large on 4 GPUs, GPU memory in MB (>> 20):
    # case 2 (offload both) 125, case 3 (offload optimizer) 477, case 1 (none) 3291
    assert [r["gpu"] >> 20 for r in doc["rows"]] == [125, 125, 477, 477, 3291, 3291]
    code, out, _ = run(capsys, config, "--estimator", "deepspeed", "--gpus", "4")
    assert code == 0 and "offload_optimizer=cpu" in out and "per CPU" in out


def test_accelerate_estimator_matches_accelerate_on_the_backbone(capsys, tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    modeling = pytest.importorskip("accelerate.utils")
    fields = {k: v for k, v in TINY_LLAMA.items() if k not in ("model_type", "architectures")}
    with torch.device("meta"):  # accelerate builds AutoModel: LlamaModel, no LM head
        model = transformers.LlamaModel(transformers.LlamaConfig(**fields))
    total, _ = modeling.calculate_maximum_sizes(model)
    inv_freq = sum(b.numel() * b.element_size() for b in model.buffers())  # non-persistent
    config = write(tmp_path, "config.json", TINY_LLAMA)
    doc = as_json(capsys, config, "--estimator", "accelerate", "--head", "base")
    assert doc["rows"][0]["total"] == total - inv_freq
    assert doc["rows"][0]["training"] == 4 * (total - inv_freq)
    assert doc["rows"][2]["training"] is None  # int8: N/A
    code, out, _ = run(capsys, config, "--estimator", "accelerate")
    assert code == 0 and "N/A" in out and "training using Adam" in out


# -- bad input: one line, exit status 2 ----------------------------------------------------------

BAD = [
    (["--batch", "0"], "--batch must be a positive integer, got 0"),
    (["--context", "-5"], "--context must be a positive integer, got -5"),
    (["--seq-len", "0"], "--context must be a positive integer, got 0"),
    (["--encoder-length", "0"], "--encoder-length must be a positive integer"),
    (["--gpus", "0"], "--gpus must be a positive integer, got 0"),
    (["--tp", "0"], "--tp must be a positive integer, got 0"),
    (["--batch", "x"], "argument --batch: invalid int value: 'x'"),
    (["--tp", "3"], "--tp 3 does not divide the 4 attention heads"),
    (["--gpus", "6", "--tp", "4"], "--gpus 6 is not a multiple of --tp × --pp = 4 × 1 = 4"),
    (["--pp", "4"], "--pp 4: the model has only 2 layers"),
    (["--dtype", "fp12"], "unknown dtype 'fp12'"),
    (["--dtype", "stored"], "does not store its weights' dtypes"),
    (["--kv-dtype", "q4_k", "--context", "8"], "a KV cache is kept in a float dtype"),
    (["--optimizer", "lion"], "unknown optimizer 'lion'; expected adamw, adam, adam8bit, sgd "
                              "or sgd-momentum"),
    (["--precision", "fp64"], "unknown precision 'fp64'"),
    (["--recompute", "some"], "unknown recompute 'some'; expected none, selective or full"),
    (["--train", "--dtype", "bf16"], "training takes --precision"),
    (["--zero", "7"], "--zero 7: ZeRO stages are 0, 1, 2 and 3"),
    (["--offload"], "--offload moves ZeRO's partitions to the CPU: it needs --zero 1, 2 or 3"),
    (["--gpu-memory", "80XB"], "--gpu-memory '80XB': expected a size such as 80GB"),
    (["--gpu-memory", "0"], "--gpu-memory '0': the size must be positive"),
    (["--estimator", "deepspeed", "--zero", "1"], "covers ZeRO stages 2 and 3"),
    (["--estimator", "deepspeed", "--gpus", "3", "--nodes", "2"],
     "--gpus 3 is not a multiple of --nodes 2"),
    (["--estimator", "deepspeed", "--nodes", "0"], "--nodes must be a positive integer"),
    (["--estimator", "deepspeed", "--buffer-factor", "0"],
     "argument --buffer-factor: must be a positive number, got 0"),
    (["--set", "oops"], "--set 'oops': expected NAME=VALUE"),
    (["--format", "csv"], "argument --format/-f: invalid choice: 'csv'"),
]


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_input(capsys, tmp_path, args, message):
    config = write(tmp_path, "config.json", TINY_LLAMA)
    code, out, err = run(capsys, config, *args)
    assert code == 2 and out == ""
    assert err.startswith("paramcount: error: ") and err.count("\n") == 1
    assert message in err


BAD_SOURCE = [
    (["vgg16", "--context", "128"], "vgg16 has no attention layers that paramcount knows, so "
                                    "it has no KV cache; leave out --context"),
    (["bert-base-uncased", "--context", "128"],
     "bert-base-uncased has only an encoder's attention, which runs once and caches nothing, "
     "so it has no KV cache; leave out --context"),
    (["vit-base-patch16-224", "--context", "128"], "has only an encoder's attention"),
    (["vgg16", "--tp", "2"], "--tp 2: zoo:vgg16 has no attention layers"),
    (["vgg16", "--sequence-parallel"], "--sequence-parallel splits transformer activations"),
    (["llama-3-8", "--context", "8"], "llama-3-8: no such file, no zoo entry of that name "
                                      "(did you mean 'llama-3-8b'?)"),
]


@pytest.mark.parametrize(("args", "message"), BAD_SOURCE)
def test_bad_source(capsys, args, message):
    code, out, err = run(capsys, *args)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert message in err


def test_unknown_format_from_the_library():
    from paramcount import memory
    from paramcount.report.memory import render
    from paramcount.sources import summarize

    est = memory.estimate(summarize(ONE_BILLION))
    with pytest.raises(SpecError, match="unknown format 'csv' for memory"):
        render(est, "csv")
