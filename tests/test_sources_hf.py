"""Hugging Face config.json: the source, its figures and errors, the fallback, the CLI and the zoo.

The oracle is transformers itself: ``check_against_transformers`` builds the class named in
``architectures[0]`` from the same config on ``torch.device("meta")`` (not accelerate's
``init_empty_weights``, which breaks weight tying) and compares the total, the trainable count,
the persistent buffers, and every module's count: each node of our tree must name a real module
(or parameter) of the model, with as many parameters under it as ``model.named_parameters()``
yields there (a tied weight counted once, where transformers first yields it). The families are
tested in tests/test_architectures_*.py with this helper; published totals are a second check.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest

import paramcount
from paramcount import zoo
from paramcount.cli import main
from paramcount.errors import SpecError
from paramcount.model import Summary
from paramcount.tree import Node

_RUN = re.compile(r"^\d+-\d+$")  # a run of identical blocks: not a module of its own


def build_with_transformers(doc: dict[str, Any]) -> Any:
    import torch
    import transformers

    fields = {k: v for k, v in doc.items() if k != "model_type"}
    config = transformers.AutoConfig.for_model(doc["model_type"], **fields)
    cls = getattr(transformers, doc["architectures"][0])
    with torch.device("meta"):
        return cls(config)


def module_counts(model: Any) -> dict[str, int]:
    """Every module path and parameter name -> parameters under it, each counted once."""
    out: dict[str, int] = {}
    for name, p in model.named_parameters():
        parts = name.split(".")
        for k in range(len(parts) + 1):
            key = ".".join(parts[:k])
            out[key] = out.get(key, 0) + p.numel()
    return out


def persistent_buffers(model: Any) -> dict[str, int]:
    out = {}
    for prefix, module in model.named_modules():
        for name, b in module.named_buffers(recurse=False):
            if b is not None and name not in module._non_persistent_buffers_set:
                out[f"{prefix}.{name}".lstrip(".")] = b.numel()
    return out


def our_counts(node: Node, prefix: str = "", out: dict[str, int] | None = None
               ) -> dict[str, int]:
    out = {} if out is None else out
    for child in node.children:
        if _RUN.match(child.name):
            our_counts(child, prefix, out)
            continue
        path = f"{prefix}{child.name}"
        out[path] = child.params
        our_counts(child, f"{path}.", out)
    return out


def check_against_transformers(doc: dict[str, Any], model: Any = None, **options: Any
                               ) -> Summary:
    s = paramcount.summarize(doc, **options)
    model = build_with_transformers(doc) if model is None else model
    theirs = module_counts(model)
    assert s.total_params == theirs[""] == sum(p.numel() for p in model.parameters())
    assert s.trainable_params == sum(p.numel() for p in model.parameters() if p.requires_grad)
    buffers = persistent_buffers(model)
    assert s.buffers == sum(buffers.values())
    ours = our_counts(s.root)
    known = set(dict(model.named_modules())) | set(buffers) | {
        n for n, _ in model.named_parameters(remove_duplicate=False)}
    assert sorted(set(ours) - known) == []
    assert ours == {path: theirs.get(path, 0) for path in ours}
    return s


def hf(**fields: Any) -> Summary:
    return paramcount.summarize(fields)


# -- published totals (a second check) ---------------------------------------------------------

@pytest.mark.parametrize("name, total, head", [
    ("llama-3-8b", 8_030_261_248, None),
    ("mistral-7b", 7_241_732_096, None),
    ("mixtral-8x7b", 46_702_792_704, None),
    ("gpt2", 124_439_808, None),
    ("bert-base-uncased", 109_482_240, "base"),   # the BertModel figure, pooler included
    ("flan-t5-small", 76_961_152, None),
])
def test_published_totals(name, total, head):
    s = zoo.load(name, params={} if head is None else {"include_top": False})
    assert s.total_params == total


def test_zoo_configs_equal_transformers():
    for name in ("llama-3-70b", "qwen2.5-7b", "gemma-2-9b", "phi-3-mini", "falcon-7b",
                 "roberta-base", "distilbert-base-uncased", "t5-small", "bart-large",
                 "vit-base-patch16-224", "whisper-tiny", "clip-vit-base-patch32",
                 "deepseek-v3"):
        stem_doc = json.loads((zoo._files()[name]).read_text())
        assert zoo.load(name).total_params == check_against_transformers(stem_doc).total_params


def test_t5_v11_untied_head_as_loaded_from_its_checkpoint(tmp_path):
    """transformers >= 5 ties T5's LM head when building from a config, but loading a v1.1
    checkpoint (which holds its own lm_head) unties it again: that is the model users get."""
    import torch
    import transformers

    doc = {"model_type": "t5", "architectures": ["T5ForConditionalGeneration"],
           "vocab_size": 100, "d_model": 16, "d_kv": 4, "d_ff": 32, "num_layers": 2,
           "num_decoder_layers": 3, "num_heads": 2, "feed_forward_proj": "gated-gelu",
           "tie_word_embeddings": False}
    fields = {k: v for k, v in doc.items() if k != "model_type"}
    model = transformers.T5ForConditionalGeneration(transformers.T5Config(**fields))  # tiny
    model.lm_head.weight = torch.nn.Parameter(torch.randn(100, 16))
    model.save_pretrained(tmp_path)
    loaded = transformers.T5ForConditionalGeneration.from_pretrained(tmp_path)
    assert loaded.lm_head.weight is not loaded.shared.weight
    check_against_transformers(doc, model=loaded)
    saved = json.loads((tmp_path / "config.json").read_text())  # tie true, scale false
    assert hf(**saved).total_params == paramcount.summarize(doc).total_params


# -- figures -----------------------------------------------------------------------------------

def test_non_embedding_params_by_hand():
    # GPT-2 small: everything but the token (50257 × 768) and position (1024 × 768) tables
    s = zoo.load("gpt2")
    assert s.figures["Non-embedding params"] == 124_439_808 - 50257 * 768 - 1024 * 768
    assert "Active params per token" not in s.figures
    # Llama 3 8B: the untied LM head is a vocabulary matrix too
    s = zoo.load("llama-3-8b")
    assert s.figures["Non-embedding params"] == 8_030_261_248 - 2 * 128256 * 4096


def test_active_params_per_token_by_hand():
    # Mixtral 8x7B: each token skips 6 of 8 experts (3 matrices of 4096 × 14336) in 32 layers
    s = zoo.load("mixtral-8x7b")
    assert s.figures["Active params per token"] == 46_702_792_704 - 32 * 6 * 3 * 4096 * 14336
    # DeepSeek-V3: 58 sparse layers, each token skips 248 of 256 experts of 3 × 7168 × 2048
    s = zoo.load("deepseek-v3")
    assert s.figures["Active params per token"] == s.total_params - 58 * 248 * 3 * 7168 * 2048


def test_dtype_from_config_and_override():
    s = zoo.load("llama-3-8b")
    assert (s.dtype, s.framework, s.bytes()) == ("bfloat16", "pytorch", 2 * 8_030_261_248)
    assert hf(model_type="gpt2", dtype="float16").dtype == "float16"  # transformers >= 5
    assert hf(model_type="gpt2").dtype == "float32"
    assert hf(model_type="gpt2", torch_dtype="float8_e4m3fn").bytes_per_param == 1
    s = paramcount.summarize({"model_type": "gpt2"}, dtype="int8")
    assert s.view.dtype == "int8" and s.to_dict()["total_bytes"] == s.total_params


# -- heads -------------------------------------------------------------------------------------

def test_head_base_and_missing_architectures_build_the_backbone():
    causal = hf(model_type="llama", architectures=["LlamaForCausalLM"], num_hidden_layers=2)
    base = paramcount.summarize({"model_type": "llama", "architectures": ["LlamaForCausalLM"],
                                 "num_hidden_layers": 2}, head="base")
    bare = hf(model_type="llama", num_hidden_layers=2)
    assert base.name == bare.name == "LlamaModel"
    assert base.total_params == bare.total_params
    assert causal.total_params - base.total_params == 32000 * 4096  # the untied LM head


def test_architecture_without_model_type_and_old_prefixes():
    assert hf(architectures=["GPT2LMHeadModel"]).total_params == 124_439_808
    assert hf(architectures=["CLIPModel"]).total_params == 151_277_313
    assert hf(architectures=["CLIPTextModel"]).name == "CLIPTextModel"
    old = hf(model_type="llama", architectures=["LLaMAForCausalLM"], num_hidden_layers=2)
    assert old.name == "LlamaForCausalLM"


def test_registry_lists_each_model_type_in_its_module():
    from paramcount.architectures import MODULES, families

    table = families()
    assert set(table) == set(MODULES)
    for model_type, family in table.items():
        assert family.build.__module__ == f"paramcount.architectures.{MODULES[model_type]}"


def test_repeated_blocks_fold_into_one_row():
    s = zoo.load("llama-3-8b")
    folded = [r for r in s.rows() if r.folded]
    assert [(r.node.type, r.times) for r in folded] == [("LlamaDecoderLayer", 32)]
    assert len(s.rows(fold=False)) > 32 * 10
    t5 = zoo.load("t5-small")  # the first block owns the relative position bias
    assert [(r.node.name, r.times) for r in t5.rows() if r.folded] == [("1", 5), ("1", 5)]


def test_explain_formulas_evaluate_to_the_counts():
    for name in ("llama-3-8b", "mixtral-8x7b", "gpt2", "bert-base-uncased", "whisper-tiny"):
        s = zoo.load(name)
        for row in s.rows():
            f = row.node.formula
            if f is not None and not row.node.tied:
                expr = f.numeric.replace("×", "*").replace("·", "*")
                assert eval(expr, {"__builtins__": {}}) == row.node.params, (name, f)


# -- bad input: one clear line naming the field ------------------------------------------------

@pytest.mark.parametrize("doc, message", [
    ({"model_type": "llama", "hidden_size": 100, "num_attention_heads": 3},
     "num_attention_heads=3 does not divide hidden_size=100, and no head_dim is given"),
    ({"model_type": "whisper", "d_model": 64, "encoder_attention_heads": 4},
     "whisper config: decoder_attention_heads=6 does not divide hidden_size=64"),
    ({"model_type": "mistral", "num_key_value_heads": 5},
     "num_key_value_heads=5 does not divide num_attention_heads=32"),
    ({"model_type": "gpt2", "n_embd": 768, "hidden_size": 1024},
     "hidden_size=1024 but n_embd=768 (the same field under another name)"),
    ({"model_type": "llama", "hidden_size": "big"}, "llama config: hidden_size='big' is not an"),
    ({"model_type": "llama", "vocab_size": 0}, "vocab_size=0 is invalid"),
    ({"model_type": "gemma2", "num_hidden_layers": 10**9}, "(--max-nodes raises it)"),
    ({"model_type": "llama", "vocab_size": 10**400}, "is larger than paramcount accepts"),
    ({"model_type": "llama", "attention_bias": "yes"}, "attention_bias='yes' is not true"),
    ({"model_type": "qwen2_moe", "mlp_only_layers": "none"}, "is not a list of integers"),
    ({"model_type": "t5", "feed_forward_proj": "gated-gelu-x"}, "expected 'ACT' or 'gated-ACT'"),
    ({"model_type": "t5", "feed_forward_proj": 5}, "feed_forward_proj=5 is not a string"),
    ({"model_type": "vit", "image_size": [224]}, "expected an integer or two"),
    ({"model_type": "clip", "text_config": 3}, "text_config=3 is not a mapping"),
    ({"model_type": "gpt2", "torch_dtype": "float13"}, "torch_dtype='float13' is not a dtype"),
    ({"model_type": "gpt2", "torch_dtype": 16}, "torch_dtype=16 is not a dtype name"),
    ({"model_type": 7}, "model_type=7 is not a string"),
    ({"model_type": "gpt2", "architectures": "GPT2LMHeadModel"}, "is not a list of class"),
])
def test_bad_config_is_one_clear_error(doc, message):
    with pytest.raises(SpecError) as err:
        paramcount.summarize(doc)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_bad_head_and_non_object():
    from paramcount.sources.hf import from_dict

    with pytest.raises(SpecError, match="head='lm' is not known"):
        from_dict({"model_type": "gpt2"}, head="lm")
    with pytest.raises(SpecError, match="must be a JSON object, got list"):
        from_dict([1, 2])


def test_error_names_the_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "llama", "num_key_value_heads": 7}))
    with pytest.raises(SpecError, match=r"^config.json: llama config: num_key_value_heads=7"):
        paramcount.summarize(path)


# -- what paramcount does not declare ----------------------------------------------------------

def test_unknown_model_type_falls_back_to_transformers_on_meta(capsys):
    doc = {"model_type": "gpt_neo", "architectures": ["GPTNeoForCausalLM"], "num_layers": 2,
           "attention_types": [[["global", "local"], 1]], "hidden_size": 64,
           "num_heads": 4, "vocab_size": 100, "max_position_embeddings": 32}
    s = paramcount.summarize(doc)
    assert s.total_params == sum(p.numel() for p in build_with_transformers(doc).parameters())
    assert "built by transformers on the meta device in" in s.name
    blocks = next(n for n in s.layers[0].children if n.name == "h")
    assert blocks.repeat == 2  # the blocks fold
    tied = [n for _, n in s.root.walk() if n.tied]
    assert [n.name for n in tied] == ["lm_head"]


def test_unknown_architecture_of_a_known_family_falls_back():
    doc = {"model_type": "bert", "architectures": ["BertForMultipleChoice"],
           "num_hidden_layers": 2}
    s = paramcount.summarize(doc)
    assert s.meta["architecture"] == "BertForMultipleChoice"
    assert s.total_params == sum(p.numel() for p in build_with_transformers(doc).parameters())


def test_unknown_model_type_without_transformers(monkeypatch):
    from paramcount.architectures import fallback

    monkeypatch.setattr(fallback, "available", lambda: False)
    with pytest.raises(SpecError) as err:
        hf(model_type="rwkv")
    text = str(err.value)
    assert "model_type 'rwkv' is not one paramcount declares" in text
    assert "install transformers and torch" in text
    # the declared model types, sorted (whichever families other branches add between them)
    listed = text.rsplit(": ", 1)[-1].split(", ")
    assert listed == sorted(listed) and {"llama", "llava", "mistral", "mixtral"} <= set(listed)
    with pytest.raises(SpecError, match="names no model_type, and architecture 'FooForCausalLM' "
                                        "is not one paramcount declares"):
        hf(architectures=["FooForCausalLM"])
    with pytest.raises(SpecError, match="BertForMultipleChoice is not a bert architecture"):
        hf(model_type="bert", architectures=["BertForMultipleChoice"])


def test_fallback_bad_config_is_one_line():
    with pytest.raises(SpecError, match="model_type 'no_such_model': transformers cannot read"):
        hf(model_type="no_such_model")
    with pytest.raises(SpecError, match="transformers could not build 'gpt_neo'"):
        hf(model_type="gpt_neo", architectures=["GPTNeoForCausalLM"], hidden_size=10,
           num_heads=3)


# -- the command line --------------------------------------------------------------------------

def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_config_file_folder_and_head(capsys, tmp_path):
    (tmp_path / "config.json").write_text((zoo._files()["bert-base-uncased"]).read_text())
    code, out, _ = run(capsys, str(tmp_path / "config.json"))
    assert code == 0 and 'Model: "BertForMaskedLM"' in out and "×12" in out
    assert "Total params: 109,514,298" in out and "Non-embedding params: 85," in out
    code, out, _ = run(capsys, str(tmp_path), "--head", "base", "-f", "json")
    assert json.loads(out)["total_params"] == 109_482_240
    code, out, _ = run(capsys, str(tmp_path), "--set", "num_hidden_layers=2", "-f", "json")
    assert json.loads(out)["total_params"] == 109_514_298 - 10 * 7_087_872


def test_cli_explain_and_dtype(capsys):
    code, out, _ = run(capsys, "zoo", "mixtral-8x7b", "--explain", "--dtype", "bf16")
    assert code == 0
    assert "params = experts × (2 × intermediate × hidden + hidden × intermediate) = " \
           "8 × (2 × 14336 × 4096 + 4096 × 14336) = 1,409,286,144" in out
    assert "stands for 32 identical blocks" in out


def test_cli_transformer_gives_gpt3_175b(capsys):
    code, out, _ = run(capsys, "transformer", "--layers", "96", "--d-model", "12288",
                       "--heads", "96", "--vocab", "50257", "--context", "2048", "-f", "json")
    assert code == 0
    assert json.loads(out)["total_params"] == zoo.load("gpt3-175b").total_params


def test_cli_transformer_llama_and_moe_shapes(capsys):
    shape = ["transformer", "--layers", "32", "--d-model", "4096", "--heads", "32",
             "--kv-heads", "8", "--ffn", "14336", "-f", "json"]
    code, out, _ = run(capsys, *shape, "--vocab", "128256")
    assert code == 0 and json.loads(out)["total_params"] == 8_030_261_248  # Llama 3 8B
    _, out, _ = run(capsys, *shape, "--vocab", "32000", "--experts", "8",
                    "--experts-per-token", "2")
    assert json.loads(out)["total_params"] == 46_702_792_704  # Mixtral 8x7B
    _, out, _ = run(capsys, "transformer", "--layers", "2", "--d-model", "64", "--heads", "4",
                    "--vocab", "100", "--gated", "--tied", "-f", "json")
    assert json.loads(out)["total_params"] == paramcount.summarize({
        "model_type": "llama", "architectures": ["LlamaForCausalLM"], "num_hidden_layers": 2,
        "hidden_size": 64, "num_attention_heads": 4, "vocab_size": 100,
        "intermediate_size": 256, "tie_word_embeddings": True}).total_params


@pytest.mark.parametrize("args, message", [
    (["transformer", "--layers", "2", "--d-model", "100", "--heads", "7", "--vocab", "10"],
     "--heads 7 does not make --d-model 100"),
    (["transformer", "--layers", "0", "--d-model", "64", "--heads", "4", "--vocab", "10"],
     "--layers 0: expected a positive integer"),
    (["transformer", "--layers", "2", "--d-model", "64", "--heads", "4", "--vocab", "10",
      "--gated", "--norm", "layernorm"], "built as Llama's, with RMSNorm"),
    (["transformer", "--layers", "2", "--d-model", "64", "--heads", "4", "--vocab", "10",
      "--experts-per-token", "2"], "--experts-per-token needs --experts"),
    (["transformer", "--layers", "2", "--d-model", "64", "--heads", "4", "--vocab", "10",
      "--experts", "2", "--experts-per-token", "3"], "is more than --experts 2"),
    (["transformer", "--layers", "2", "--d-model", "64", "--heads", "4", "--vocab", "10",
      "--kv-heads", "3"], "num_key_value_heads=3 does not divide num_attention_heads=4"),
    (["transformer", "--layers", "2"], "required"),
])
def test_cli_transformer_bad_input(capsys, args, message):
    code, out, err = run(capsys, *args)
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err


def test_transformer_config_checks_its_arguments():
    from paramcount.architectures.custom import transformer_config

    with pytest.raises(SpecError, match="--norm groupnorm: expected layernorm or rmsnorm"):
        transformer_config(2, 64, 4, 100, norm="groupnorm")
    assert transformer_config(2, 64, 4, 100, norm="rmsnorm")["intermediate_size"] == 256


def test_cli_head_only_for_configs(capsys, tmp_path):
    spec = tmp_path / "model.yaml"
    spec.write_text("input_shape: [4]\nlayers: [{Dense: 2}]\n")
    code, _, err = run(capsys, str(spec), "--head", "base")
    assert code == 2 and "head='base' applies to a Hugging Face config.json or a zoo entry" in err


def test_cli_zoo_config_no_top_and_set(capsys):
    _, out, _ = run(capsys, "zoo", "gpt2", "--no-top", "-f", "json")
    assert json.loads(out)["name"] == "GPT2Model"
    _, out, _ = run(capsys, "zoo", "gpt2", "--set", "n_layer=1", "-f", "json")
    assert json.loads(out)["total_params"] == 124_439_808 - 11 * 7_087_872
    assert "flan-t5-small" in zoo.listing() and "llama-3-70b" in zoo.listing()


def test_config_runs_without_transformers_imported(tmp_path):
    """The runtime path never imports torch or transformers."""
    path = tmp_path / "config.json"
    path.write_text((zoo._files()["llama-3-70b"]).read_text())
    code = ("import sys, paramcount; s = paramcount.summarize(sys.argv[1]); "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules; "
            "print(s.total_params)")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                          text=True, check=True)
    assert proc.stdout.strip() == "70553706496"
