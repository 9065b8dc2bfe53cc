"""Count a saved Keras model: paramcount reading the .keras file against Keras loading it.

    python bench/keras_files.py                      # ResNet50 and EfficientNetB7, 3 runs each
    python bench/keras_files.py --runs 5 --backend torch
    python bench/keras_files.py --dir /tmp/keras-bench ResNet50

The .keras files are made once (keras.applications with ``weights=None``, saved by Keras, in a
subprocess) and kept in ``--dir``. Then each command runs as a fresh process, in the same run:

- paramcount: ``python -m paramcount MODEL.keras --format json``
- Keras: ``keras.saving.load_model(MODEL.keras)`` then ``model.count_params()``

We report the median wall time over ``--runs`` runs (after one warm-up run of each, which also
lets Python cache paramcount's bytecode as an installed package has it: PYTHONDONTWRITEBYTECODE
is unset for the children) and the peak resident memory of the process (``ru_maxrss`` of a
helper that runs one command), and check that both give the same count.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from measure import (  # bench/ is on sys.path when a script runs
    child_env,
    measure_runs,
    total_params,
)

PY = sys.executable
MODELS = ("ResNet50", "EfficientNetB7")

SAVE = """
import os, sys
import keras
name, path = sys.argv[1], sys.argv[2]
keras.applications.__dict__[name](weights=None).save(path)
"""

LOAD = """
import sys
import keras

model = keras.saving.load_model(sys.argv[1], compile=False)
print(model.count_params())
"""



def make(name: str, folder: Path, env: dict[str, str]) -> Path:
    path = folder / f"{name}.keras"
    if not path.exists():
        print(f"saving {path} ...", file=sys.stderr)
        subprocess.run([PY, "-c", SAVE, name, str(path)], env=env, check=True,
                       capture_output=True)
    return path


def measure(cmd: list[str], runs: int, env: dict[str, str]) -> dict[str, Any]:
    subprocess.run(cmd, env=env, check=True, capture_output=True)  # warm-up
    r = measure_runs(cmd, runs, env)
    return {**r, "count": total_params(str(r["out"]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", default=list(MODELS),
                        help=f"keras.applications names (default: {' '.join(MODELS)})")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"),
                        help="Keras backend for loading (default: tensorflow, Keras's own)")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "pc-keras",
                        help="where the .keras files are made and kept")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    env = child_env(KERAS_BACKEND=args.backend, TF_CPP_MIN_LOG_LEVEL="3")
    print(f"Keras backend: {args.backend}; median of {args.runs} runs; peak RSS of the process")
    print(f"{'model':<16} {'file MB':>8} {'params':>12} {'ours s':>8} {'Keras s':>8} "
          f"{'speed-up':>9} {'ours MiB':>9} {'Keras MiB':>10} {'memory':>7}")
    for name in args.models:
        path = make(name, args.dir, env)
        t0 = time.perf_counter()
        ours = measure([PY, "-m", "paramcount", str(path), "--format", "json"], args.runs, env)
        theirs = measure([PY, "-c", LOAD, str(path)], args.runs, env)
        same = "" if ours["count"] == theirs["count"] else f"  COUNTS DIFFER: {theirs['count']:,}"
        print(f"{name:<16} {path.stat().st_size / 1e6:>8.0f} {ours['count']:>12,} "
              f"{ours['wall']:>8.3f} {theirs['wall']:>8.2f} "
              f"{theirs['wall'] / ours['wall']:>8.1f}x {ours['peak_mib']:>9.1f} "
              f"{theirs['peak_mib']:>10.1f} {theirs['peak_mib'] / ours['peak_mib']:>6.1f}x"
              f"{same}   ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
