"""Time paramcount against the frameworks, as whole processes, and print the ratios.

Each command runs in a fresh process; we report the median wall time over ``--runs`` runs and
the peak resident memory of the child (``ru_maxrss`` of a helper process that runs one command).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from typing import Any

from measure import (  # bench/ is on sys.path when a script runs
    child_env,
    measure_runs,
    total_params,
)

PY = sys.executable

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


COMPARISONS = {
    "gpt3-175b": (
        [PY, "-m", "paramcount", "zoo", "gpt3-175b", "--format", "json"],
        [PY, "-c", GPT3_TRANSFORMERS],
    ),
    "resnet50": (
        [PY, "-m", "paramcount", "zoo", "resnet50", "--format", "json"],
        [PY, "-c", RESNET_KERAS],
    ),
}


def measure(cmd: list[str], runs: int) -> dict[str, Any]:
    r = measure_runs(cmd, runs, child_env(TF_CPP_MIN_LOG_LEVEL="3"))
    return {**r, "count": total_params(str(r["out"]))}


IMPORT_TIME = """
import time
t = time.perf_counter()
import paramcount
print(time.perf_counter() - t)
"""


def import_time(runs: int) -> float:
    """Median seconds of ``import paramcount`` in a fresh interpreter."""
    times = [float(subprocess.run([PY, "-c", IMPORT_TIME], capture_output=True, text=True,
                                  check=True).stdout) for _ in range(max(runs, 5))]
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("only", nargs="*", help="comparisons to run (default: all)")
    args = parser.parse_args()
    print(f"import paramcount: {import_time(args.runs) * 1000:.0f} ms (median)")
    print(f"{'model':<12} {'count (ours = theirs)':>26} {'ours s':>8} {'theirs s':>9} "
          f"{'speed-up':>9} {'ours MiB':>9} {'theirs MiB':>11} {'memory':>7}")
    for name, (ours_cmd, theirs_cmd) in COMPARISONS.items():
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        ours, theirs = measure(ours_cmd, args.runs), measure(theirs_cmd, args.runs)
        same = "=" if ours["count"] == theirs["count"] else "!="
        print(f"{name:<12} {ours['count']:>15,} {same} {'':>0}{'ok' if same == '=' else 'DIFF':<8}"
              f" {ours['wall']:>8.3f} {theirs['wall']:>9.3f} "
              f"{theirs['wall'] / ours['wall']:>8.1f}x {ours['peak_mib']:>9.1f} "
              f"{theirs['peak_mib']:>11.1f} {theirs['peak_mib'] / ours['peak_mib']:>6.1f}x"
              f"   ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
