"""Start-up stays light: ``import paramcount`` and one-model commands import only what they use.

Each case runs in a fresh interpreter and lists ``sys.modules`` after the command; a module on
the case's forbidden list fails the test. The lists name what a change would most likely pull in
again: a renderer or optional library (rich, yaml, h5py, huggingface_hub), a framework, every
layer family for one layer, the memory or diff machinery for a plain count.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

#: never imported by a command that does not read such a file or draw on a terminal
HEAVY = ("yaml", "rich", "numpy", "torch", "h5py", "huggingface_hub", "fsspec", "safetensors",
         "onnx", "gguf", "keras")
#: the machinery of other commands
OTHER_COMMANDS = ("paramcount.comparison", "paramcount.memory", "paramcount.scanning",
                  "paramcount.cli.diff", "paramcount.cli.memory", "paramcount.cli.scan",
                  "paramcount.report.html", "paramcount.report.explain",
                  "paramcount.cli.report", "paramcount.cli.serve", "paramcount.report.page",
                  "paramcount.report.treemap", "http.server", "socketserver")
#: layer families a Dense does not need
OTHER_FAMILIES = ("paramcount.layers.recurrent", "paramcount.layers.conv",
                  "paramcount.layers.attention", "paramcount.layers.pooling",
                  "paramcount.layers.preprocessing", "paramcount.layers.activations")

CHILD = """
import os, sys
if sys.argv[1:] == ["--import-only"]:
    import paramcount
else:
    from paramcount.cli import main
    stdout = sys.stdout
    sys.stdout = open(os.devnull, "w")  # piped, as in a script
    status = main(sys.argv[1:])
    sys.stdout = stdout
    assert status == 0, status
print(" ".join(sorted(sys.modules)))
"""


def _modules(args: list[str] | None) -> set[str]:
    out = subprocess.run([sys.executable, "-c", CHILD, *(args or ["--import-only"])],
                         capture_output=True, text=True, timeout=120, check=True)
    return set(out.stdout.split())


def _imported(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules for f in forbidden if m == f or m.startswith(f + "."))


def test_import_paramcount_imports_no_submodule() -> None:
    modules = _modules(None)
    assert sorted(m for m in modules if m.startswith("paramcount.")) == []
    assert _imported(modules, (*HEAVY, "dataclasses", "argparse", "json")) == []


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_one_layer_imports_its_family_only(fmt: str) -> None:
    modules = _modules(["layer", "Dense", "units=2", "--input-shape", "4", "--format", fmt])
    assert "paramcount.layers.core" in modules  # the family that registers Dense
    forbidden = (*HEAVY, *OTHER_COMMANDS, *OTHER_FAMILIES, "paramcount.sources",
                 "paramcount.architectures", "paramcount.zoo", "difflib", "fractions",
                 "concurrent")
    assert _imported(modules, forbidden) == []
    if fmt == "table":  # piped: a plain-text table, no JSON and no rich
        assert "json" not in modules


def test_zoo_config_entry_parses_no_yaml() -> None:
    modules = _modules(["zoo", "gpt2", "--format", "json"])
    forbidden = (*HEAVY, *OTHER_COMMANDS, "paramcount.layers.recurrent",
                 "paramcount.layers.conv", "paramcount.layers.pooling", "concurrent")
    assert _imported(modules, forbidden) == []


def test_safetensors_header_builds_no_layer(tmp_path: Path) -> None:
    header = json.dumps({"fc.weight": {"dtype": "F32", "shape": [4, 2], "data_offsets": [0, 32]},
                         "fc.bias": {"dtype": "F32", "shape": [4], "data_offsets": [32, 48]}})
    path = tmp_path / "model.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header.encode() + bytes(48))
    modules = _modules([str(path), "--format", "json"])
    forbidden = (*HEAVY, *OTHER_COMMANDS, "paramcount.architectures", "paramcount.zoo",
                 "paramcount.layers.core", "paramcount.build")
    assert _imported(modules, forbidden) == []


def test_layer_index_lists_every_registered_name() -> None:
    """The name -> family index equals the registry after importing every family (after adding
    a layer type, ``python -m paramcount.layers.index`` rewrites it)."""
    from paramcount.layers import index

    generated = index.generate()
    assert {n: m for m, names in generated.items() for n in names} == index.FAMILIES
    assert sorted(generated) == sorted(index.MODULES)


def test_zoo_index_equals_the_files() -> None:
    """The zoo's index equals what its files say (after changing the zoo,
    ``paramcount.zoo.write_index()`` rewrites it)."""
    from paramcount import zoo

    assert zoo.entries() == zoo.index_from_files()
