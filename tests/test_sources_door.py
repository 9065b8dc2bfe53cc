"""The front door: every kind of source, from the command line and from Python, through one
``summarize``; the table of formats behind ``--help`` and the README."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import paramcount
from paramcount import memory
from paramcount.cli import main, sources_help
from paramcount.errors import SpecError
from paramcount.sources import NAMED, summarize
from paramcount.sources.formats import FORMATS, detect

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / "paramcount" / "zoo"
# GPT-2 small as transformers' GPT2LMHeadModel counts it (tests/test_architectures_gpt.py
# checks the family against transformers); here only the routing is under test
GPT2 = 124_439_808
DENSE = {"input_shape": [4], "layers": [{"Dense": {"units": 2}}]}  # 4·2 + 2 = 10


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def total_line(text: str) -> int:
    match = re.search(r"Total params: ([\d,]+)", text)
    assert match, text
    return int(match.group(1).replace(",", ""))


# -- Python -------------------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["zoo:gpt2", "gpt2", ZOO / "gpt2.json", str(ZOO / "gpt2.json")])
def test_summarize_takes_zoo_names_and_paths(source):
    assert summarize(source).total_params == GPT2


def test_summarize_takes_a_dict_a_live_object_and_a_summary():
    assert summarize(DENSE).total_params == 10
    tree = {"kernel": np.zeros((4, 2)), "bias": np.zeros(2)}
    assert summarize(tree).total_params == 10
    s = paramcount.summarize(DENSE)
    assert summarize(s) is s


def test_a_file_of_that_name_wins_over_the_zoo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("gpt2").write_text(json.dumps(DENSE))  # no suffix: read by its content
    assert summarize("gpt2").total_params == 10
    assert summarize("zoo:gpt2").total_params == GPT2  # the prefix always means the zoo


def test_zoo_head_base_is_the_backbone():
    # BertModel, the bare backbone (its published 109,482,240); the zoo's entry adds a head
    assert summarize("zoo:bert-base-uncased", head="base").total_params == 109_482_240
    assert summarize("bert-base-uncased").total_params > 109_482_240


def test_diff_and_memory_take_every_source():
    d = paramcount.diff("gpt2", "zoo:gpt2")
    assert not d.changed and d.a.totals[0] == GPT2
    est = memory.estimate(summarize("llama-3-8b"), dtype="bf16", context=1024)
    # 32 layers × 2 × 8 key/value heads × 128 × 2 bytes per token
    assert est.component("KV cache").per_gpu == 32 * 2 * 8 * 128 * 2 * 1024


@pytest.mark.parametrize(("source", "options", "message"), [
    ("llama-3-8", {}, "llama-3-8: no such file, no zoo entry of that name "
                      "(did you mean 'llama-3-8b'?)"),
    ("nowhere.yaml", {}, "nowhere.yaml: no such file"),
    ("some/dir/model", {}, "some/dir/model: no such file"),
    ("zoo:nope", {}, "no zoo entry 'nope'"),
    (ZOO / "vgg16.yaml", {"head": "base"}, "head='base' applies to a Hugging Face config.json "
                                          "or a zoo entry, not"),
    (ZOO / "gpt2.json", {"progres": None, "heads": 1}, "has no option 'heads' "
                                                       "(did you mean 'head'?)"),
])
def test_bad_sources_and_options(source, options, message):
    with pytest.raises(SpecError, match=re.escape(message)):
        summarize(source, **options)


# -- the command line --------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["gpt2", "zoo:gpt2", str(ZOO / "gpt2.json")])
def test_every_command_takes_every_source(capsys, source):
    code, out, _ = run(capsys, source)
    assert code == 0 and total_line(out) == GPT2
    code, out, _ = run(capsys, "memory", source, "--format", "json")
    assert code == 0 and json.loads(out)["components"][0]["detail"].startswith(f"{GPT2:,}")
    code, out, _ = run(capsys, "diff", source, "zoo:gpt2", "--format", "json")
    assert code == 0 and json.loads(out)["a"]["total_params"] == GPT2


def test_zoo_command_and_no_top(capsys):
    _, top, _ = run(capsys, "zoo", "resnet50")
    _, no_top, _ = run(capsys, "zoo", "resnet50", "--no-top")
    _, head, _ = run(capsys, "resnet50", "--head", "base")
    # keras.applications.ResNet50 with and without include_top (tests/test_zoo.py)
    assert total_line(top) == 25_636_712
    assert total_line(no_top) == total_line(head) == 23_587_712


def test_a_folder_with_a_config(capsys, tmp_path):
    (tmp_path / "config.json").write_text((ZOO / "gpt2.json").read_text())
    code, out, _ = run(capsys, str(tmp_path))
    assert code == 0 and total_line(out) == GPT2


# -- the table of formats ----------------------------------------------------------------------

def test_every_format_and_named_kind_is_in_the_help(capsys):
    with pytest.raises(SystemExit) as done:  # argparse prints the help and exits
        main(["--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and sources_help() in out
    for row in FORMATS:
        assert f"  {row.name} " in out
    for named in NAMED:
        assert f"  {named.name} " in out and named.forms[0] in out


def test_the_readme_lists_the_formats_of_the_table():
    readme = (ROOT / "README.md").read_text()
    from paramcount.cli import formats_markdown

    assert formats_markdown() in readme


@pytest.mark.parametrize(("name", "content", "kind"), [
    ("a.safetensors.index.json", "{}", "safetensors"),
    ("pytorch_model.bin.index.json", "{}", "torch"),
    ("model.gguf", "", "gguf"),
    ("weights", b"GGUF", "gguf"),          # no suffix: the first bytes
    ("arrays", b"\x93NUMPY", "numpy"),
    ("checkpoint", b"PK\x03\x04", "torch"),
    ("config.json", '{"model_type": "gpt2"}', "hf"),
    ("model.json", '{"layers": []}', "spec"),
    ("model.json", '{"class_name": "Sequential", "config": {}}', "keras"),
])
def test_detect(tmp_path, name, content, kind):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert detect(path).name == kind
