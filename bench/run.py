"""Every comparison of the bench in one run and one table: paramcount against the tool people
would use instead, and against the floor (``python -c pass``), each command a fresh process.

    python bench/run.py              # everything, 3 runs each (about 15 minutes on 2 cores)
    python bench/run.py --quick      # one run each, the small files: under ~2 minutes
    python bench/run.py --only onnx  # the cases whose name has the word in it

The cases are the other scripts' (each still runs alone, with its own detail): the zoo
(run.py), config.json files (configs.py), forward FLOPs and accelerate's memory estimate
(compute.py), checkpoint headers (checkpoints.py), Keras files (keras_files.py) and live torch
models (live.py). bench/scan.py (300 repos on a local Hub server, hf-mem in its own virtual
environment) takes minutes and stays apart.

Columns: median wall seconds of each side and their ratio (other / paramcount: above 1,
paramcount is faster); paramcount's wall over the floor's; peak resident memory (MiB, the
largest of the runs) of each side and paramcount's over the floor's; bytes of the file each
side brought into memory, by page-cache residency (checkpoints.py: the file's pages dropped
first, counted with mincore after one run). A live row times the summary call inside a process
that already holds the model and the imported library (``import paramcount`` is the first line
printed), and its floor is that process before the call: peak memory after over before.
The figures each side prints (counts, FLOPs, bytes) are compared: ``=`` when equal.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import checkpoints  # bench/ is on sys.path when a script runs
import compute
import configs
import keras_files
import live
from measure import child_env, measure_runs, total_params

PY = sys.executable
ENV = child_env(TF_CPP_MIN_LOG_LEVEL="3", TRANSFORMERS_VERBOSITY="error",
                KERAS_BACKEND="tensorflow")

GPT3_TRANSFORMERS = """
import torch
from transformers import GPT2Config, GPT2LMHeadModel
config = GPT2Config(n_layer=96, n_embd=12288, n_head=96, vocab_size=50257, n_positions=2048)
with torch.device("meta"):
    model = GPT2LMHeadModel(config)
print(sum(p.numel() for p in model.parameters()))
"""

RESNET_KERAS = """
import os
os.environ.setdefault("KERAS_BACKEND", "torch")
import keras

print(keras.applications.ResNet50(weights=None).count_params())
"""

IMPORT_TIME = """
import time
t = time.perf_counter()
import paramcount
print(time.perf_counter() - t)
"""


@dataclass
class Case:
    """One comparison: paramcount's command and the other tool's, the file both read (for
    bytes read), and how to read the figure each prints."""

    name: str
    tool: str
    ours: list[str]
    other: list[str]
    path: Path | None = None
    figure: Callable[[str], Any] = total_params


# -- the cases ------------------------------------------------------------------------------

def zoo_cases(work: Path, quick: bool, only: str) -> list[Case]:
    zoo = [PY, "-m", "paramcount", "zoo"]
    cases = [Case("zoo gpt3-175b", "transformers on meta",
                  [*zoo, "gpt3-175b", "--format", "json"], [PY, "-c", GPT3_TRANSFORMERS]),
             Case("zoo resnet50", "keras.applications", [*zoo, "resnet50", "--format", "json"],
                  [PY, "-c", RESNET_KERAS])]
    return cases[1:] if quick else cases  # the GPT-3 build is the same as config gpt3-175b's


def config_cases(work: Path, quick: bool, only: str) -> list[Case]:
    out = []
    for name, doc in list(configs.CONFIGS.items())[:1 if quick else None]:
        if only not in f"config {name}":
            continue
        path = _config(work / "configs" / name, doc)
        out.append(Case(f"config {name}", "transformers on meta", [PY, "-m", "paramcount",
                        str(path)], [PY, "-c", configs.THEIRS, str(path.parent)], path,
                        configs._count))
    return out


def compute_cases(work: Path, quick: bool, only: str) -> list[Case]:
    out = []
    for name, doc in list(compute.CONFIGS.items())[-1 if quick else 0:]:  # quick: GPT-2
        if only not in f"flops {name} memory {name}":
            continue
        path = _config(work / "compute" / name, doc)
        seq = str(compute.SEQ)
        out.append(Case(f"flops {name}", "FlopCounterMode on meta",
                        [PY, "-m", "paramcount", str(path), "--seq-len", seq, "--batch", "2",
                         "--format", "json"], [PY, "-c", compute.THEIRS, str(path.parent), seq],
                        path, compute._figure))
        out.append(Case(f"memory {name}", "accelerate estimate",
                        [PY, "-m", "paramcount", "memory", str(path), "--estimator",
                         "accelerate", "--head", "base", "--format", "json"],
                        [PY, "-c", compute.ACCELERATE, str(path.parent)], path, compute._figure))
    return out


def checkpoint_cases(work: Path, quick: bool, only: str) -> list[Case]:
    """Sparse checkpoint files (built once, kept in ``work``): the small ones with ``quick``."""
    kinds = ("onnx-tiny", "safetensors-7b", "torch-7b", "gguf") if quick else (
        "onnx-tiny", "onnx-1gb", "safetensors-70b", "torch-70b", "gguf")
    files = {}
    for kind in kinds:
        if only in kind:
            files.update(checkpoints.build(work, kind))
    files = {k: files[k] for k in kinds if k in files}
    commands = checkpoints.commands(files)
    return [Case(kind, tool, ours, other, path, checkpoints.count)
            for kind, (_, path, ours), (tool, _, other)
            in zip(files, commands[::2], commands[1::2], strict=True)]


def keras_cases(work: Path, quick: bool, only: str) -> list[Case]:
    """``.keras`` files saved once by Keras (TensorFlow backend, as keras_files.py's default)."""
    out = []
    for name in keras_files.MODELS[:1] if quick else keras_files.MODELS:
        if only not in f"{name}.keras":
            continue
        (work / "keras").mkdir(parents=True, exist_ok=True)
        path = keras_files.make(name, work / "keras", ENV)
        out.append(Case(f"{name}.keras", "keras load_model",
                        [PY, "-m", "paramcount", str(path), "--format", "json"],
                        [PY, "-c", keras_files.LOAD, str(path)], path))
    return out


#: safe_open listing the same header as paramcount, printing the elements of every tensor
SAFE_OPEN_ELEMENTS = """
import math, sys
from safetensors import safe_open
with safe_open(sys.argv[1], "np") as f:
    print(sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys()))
"""


def item_cases(work: Path, quick: bool, only: str) -> list[Case]:
    """Per-item cost: a safetensors header of 100,000 [4, 4] tensors (10,000 with ``quick``),
    paramcount's JSON against safe_open listing it (bench/items.py has GGUF and the PyTorch
    zip, the table, and two versions of paramcount interleaved)."""
    import items

    n = 10_000 if quick else 100_000
    name = f"items-{n // 1000}k safetensors"
    if only not in name:
        return []
    ((_, _, path),) = [f for f in items.build(work / "items", [n]) if f[0] == "safetensors"]
    return [Case(name, "safetensors.safe_open",
                 [PY, "-m", "paramcount", str(path), "--format", "json"],
                 [PY, "-c", SAFE_OPEN_ELEMENTS, str(path)], path)]


CASES = [zoo_cases, config_cases, compute_cases, checkpoint_cases, keras_cases, item_cases]
LIVE = {"live resnet50": ("resnet50", 1024), "live gpt2": ("gpt2", 1024)}


def _config(folder: Path, doc: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(doc))
    return folder / "config.json"


# -- measuring ------------------------------------------------------------------------------


def side(cmd: list[str], path: Path | None, runs: int, figure: Callable[[str], Any]
         ) -> dict[str, Any]:
    """Median wall, largest peak and the figure of ``runs`` fresh runs; bytes of ``path``
    read by one more run with the file's pages dropped first."""
    read = None
    if path is not None:
        checkpoints.drop_cache(path)
        before = checkpoints.cached_bytes(path)
        measure_runs(cmd, 1, ENV)
        read = checkpoints.cached_bytes(path) - before
    r = measure_runs(cmd, runs, ENV)
    return {"wall": r["wall"], "peak": r["peak_mib"], "figure": figure(str(r["out"])),
            "read": read}


def row(case: Case, runs: int, floor: dict[str, Any]) -> dict[str, Any]:
    ours = side(case.ours, case.path, runs, case.figure)
    other = side(case.other, case.path, runs, case.figure)
    return {"case": case.name, "tool": case.tool, "ours": ours, "other": other,
            "floor_wall": floor["wall"], "floor_peak": floor["peak"],
            "same": ours["figure"] == other["figure"]}


def live_row(name: str, runs: int, quick: bool) -> dict[str, Any]:
    model, tokens = LIVE[name]
    tokens = 128 if quick else tokens
    ours, other = live.measure("ours", model, runs, tokens), live.measure("theirs", model, runs,
                                                                           tokens)
    label = f"{name} ({tokens} tokens)" if model == "gpt2" else name
    return {"case": label, "tool": "torchinfo.summary",
            "ours": {"wall": ours["wall"], "peak": ours["peak"], "read": None},
            "other": {"wall": other["wall"], "peak": other["peak"], "read": None},
            "floor_wall": None, "floor_peak": ours["before"],
            "same": ours["count"] == ours["truth"]}


def import_time(runs: int) -> float:
    """Median seconds of ``import paramcount`` in a fresh interpreter."""
    times = [float(subprocess.run([PY, "-c", IMPORT_TIME], capture_output=True, text=True,
                                  check=True).stdout) for _ in range(max(runs, 3))]
    return statistics.median(times)


# -- the table ------------------------------------------------------------------------------

COLUMNS = ("case", "other tool", "same", "paramcount s", "other s", "other / pc",
           "pc / floor", "pc MiB", "other MiB", "pc MiB / floor", "pc read", "other read")


def cells(r: dict[str, Any]) -> list[str]:
    ours, other = r["ours"], r["other"]
    floor = "" if r["floor_wall"] is None else f"{ours['wall'] / r['floor_wall']:.1f}"
    return [r["case"], r["tool"], "=" if r["same"] else "DIFF", f"{ours['wall']:.3f}",
            f"{other['wall']:.3f}", f"{other['wall'] / ours['wall']:.1f}x", floor,
            f"{ours['peak']:.0f}", f"{other['peak']:.0f}",
            f"{ours['peak'] / r['floor_peak']:.2f}", _bytes(ours["read"]),
            _bytes(other["read"])]


def _bytes(n: int | None) -> str:
    if n is None:
        return ""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |",
             "| " + " | ".join("---" if i < 3 else "---:" for i in range(len(COLUMNS))) + " |"]
    lines += ["| " + " | ".join(cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true",
                        help="one run each, the small files, GPT-2 at 128 tokens")
    parser.add_argument("--only", default="", help="only the cases whose name has this word")
    parser.add_argument("--dir", type=Path, default=checkpoints.OUT,
                        help="where the files are made and kept (default bench/out)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    t0 = time.perf_counter()
    print(f"import paramcount: {import_time(runs) * 1000:.0f} ms (median)", file=sys.stderr)
    floor = measure_runs([PY, "-c", "pass"], max(runs, 3), ENV)
    floor = {"wall": floor["wall"], "peak": floor["peak_mib"]}
    rows = []
    for make in CASES:
        for case in make(args.dir, args.quick, args.only):
            if args.only in case.name:
                print(f"  {case.name} ...", file=sys.stderr)
                rows.append(row(case, runs, floor))
    for name in LIVE:
        if args.only in name:
            print(f"  {name} ...", file=sys.stderr)
            rows.append(live_row(name, runs, args.quick))
    print(json.dumps(rows, indent=2, default=str) if args.json else markdown(rows))
    print(f"\nfloor (python -c pass): {floor['wall']:.3f} s, {floor['peak']:.0f} MiB; "
          f"{runs} run(s) each; {time.perf_counter() - t0:.0f} s in all", file=sys.stderr)


if __name__ == "__main__":
    main()
