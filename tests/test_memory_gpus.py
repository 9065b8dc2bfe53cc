"""The GPU catalog: names and aliases, the datasheet figures it holds, Apple's share of unified
memory, and ``paramcount gpus`` / ``--gpu list``. Expected figures are the datasheets', typed
here from them (sparse figures halved), not read back from the code under test."""

from __future__ import annotations

import pytest

from paramcount.cli import main
from paramcount.errors import SpecError
from paramcount.memory.gpus import CATALOG, gpu

GIB, T = 2**30, 10**12


@pytest.mark.parametrize("name, memory, bandwidth, bf16", [
    # NVIDIA H100 datasheet: SXM 80GB, 3.35TB/s, BF16 1,979 TFLOPS with sparsity
    ("H100", 80 * GIB, 3.35 * T, 1979 / 2),
    ("h100-pcie", 80 * GIB, 2.0 * T, 1513 / 2),
    ("H200", 141 * GIB, 4.8 * T, 1979 / 2),
    ("a100-40gb", 40 * GIB, 1.555 * T, 312),
    ("A100_80GB", 80 * GIB, 2.039 * T, 312),
    ("L40S", 48 * GIB, 0.864 * T, 362.05),  # the datasheet prints it dense (733 sparse)
    ("l4", 24 * GIB, 0.3 * T, 242 / 2),
    ("A10", 24 * GIB, 0.6 * T, 125),
    ("RTX 4090", 24 * GIB, 1.008 * T, 165.2),
    ("rtx3090", 24 * GIB, 0.936 * T, 71),
    ("5090", 32 * GIB, 1.792 * T, 209.5),
    ("MI300X", 192 * GIB, 5.3 * T, 1307.4),
    ("b200", 180 * GIB, 8 * T, 2250),
])
def test_datasheet_figures(name, memory, bandwidth, bf16):
    g = gpu(name)
    assert g.memory == memory and g.usable == memory
    assert g.bandwidth == pytest.approx(bandwidth)
    assert g.peak("bf16") == pytest.approx(bf16 * T, rel=2e-3)


def test_apple_unified_memory_share():
    # macOS lets the GPU wire about 3/4 of unified memory above 36 GiB
    assert gpu("M2 Ultra").usable == 192 * GIB * 3 // 4
    assert gpu("m4-pro").usable == 48 * GIB
    assert gpu("M1 Max").peak("fp16") == 10.4 * T  # Apple's press release: 10.4 TFLOPS
    assert gpu("m4-max").peak("fp16") is None  # not published


def test_names_are_unique_and_every_row_cites_a_source():
    keys = [a.lower() for g in CATALOG for a in g.aliases]
    assert len(keys) == len(set(keys))
    assert all(g.source for g in CATALOG)


def test_unknown_gpu_is_one_line():
    with pytest.raises(SpecError, match=r"unknown GPU 'H900'.*h100"):
        gpu("H900")


@pytest.mark.parametrize("args", [["gpus"], ["memory", "gpt2", "--gpu", "list"]])
def test_listing(capsys, args):
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "H100 SXM" in out and "Apple M2 Ultra" in out and "Sources:" in out
    assert "144.00 GiB" in out  # the M2 Ultra's share


def test_unknown_gpu_exits_2(capsys):
    assert main(["memory", "gpt2", "--gpu", "H900"]) == 2
    assert "unknown GPU" in capsys.readouterr().err
