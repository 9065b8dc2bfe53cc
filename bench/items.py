"""Per-item cost: checkpoint headers of many small tensors, paramcount against ``safe_open``.

Builds, in ``bench/out/`` (or ``--dir``), sparse files of N tensors named
``model.layers.{i // 10}.mod{i % 10}.weight`` (shape [4, 4]) as safetensors (BF16), a PyTorch
zip archive (bfloat16 storages) and GGUF (F32, ``blk.{i // 10}.mod{i % 10}.weight``), then
times whole processes: ``paramcount FILE --format json``, ``paramcount FILE`` (the table,
piped) and the safetensors library's ``safe_open`` listing every name and shape of the same
header (the reference a header-only count should not be slower than). Wall and user+system
CPU are medians of ``--runs`` fresh processes (``os.wait4``'s rusage of each child), the
commands of a file taking turns.

    python bench/items.py                  # 10,000 and 100,000 tensors
    python bench/items.py --n 100000 --runs 5
    python bench/items.py --tree OLD --tree .   # two versions of paramcount, interleaved
    python bench/items.py --profile FILE   # one count's time and cProfile, in this process
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from checkpoints import write_safetensors, write_torch_zip  # bench/ is on sys.path
from measure import child_env

PY = sys.executable
OUT = Path(__file__).resolve().parent / "out"

SAFE_OPEN = """
import sys
from safetensors import safe_open
with safe_open(sys.argv[1], "np") as f:
    n = 0
    for k in f.keys():
        n += len(f.get_slice(k).get_shape())
print(n)
"""


def tensors(n: int, prefix: str = "model.layers") -> list[tuple[str, tuple[int, ...]]]:
    return [(f"{prefix}.{i // 10}.mod{i % 10}.weight", (4, 4)) for i in range(n)]


def write_gguf(path: Path, n: int) -> None:
    import gguf
    import numpy as np
    from gguf.constants import GGMLQuantizationType as Q

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(n // 10)
    for name, shape in tensors(n, "blk"):
        w.add_tensor_info(name, shape, np.dtype(np.float32), 64, raw_dtype=Q.F32)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    header = -(-path.stat().st_size // 32) * 32
    os.truncate(path, header + n * 64)


def build(folder: Path, counts: list[int]) -> list[tuple[str, int, Path]]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for n in counts:
        for kind, suffix, write in (
                ("safetensors", "safetensors", lambda p, n=n: write_safetensors(p, tensors(n))),
                ("gguf", "gguf", lambda p, n=n: write_gguf(p, n)),
                ("torch", "pt", lambda p, n=n: write_torch_zip(p, tensors(n)))):
            path = folder / f"items-{n}.{suffix}"
            if not path.exists():
                write(path)
            files.append((kind, n, path))
    return files


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and user+system CPU seconds of one fresh process (run in the folder its
    PYTHONPATH names: ``-m`` puts the working directory first on the path)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=env,
                            cwd=env.get("PYTHONPATH") or None)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed")
    return wall, usage.ru_utime + usage.ru_stime


def paired(cmds: list[tuple[list[str], dict[str, str]]], runs: int
           ) -> list[tuple[float, float]]:
    """Median wall and CPU of each command, the commands taking turns run after run (so that
    a change in the machine's load falls on all of them alike)."""
    results: list[list[tuple[float, float]]] = [[] for _ in cmds]
    for _ in range(runs):
        for out, (cmd, env) in zip(results, cmds, strict=True):
            out.append(timed(cmd, env))
    return [(statistics.median(r[0] for r in out), statistics.median(r[1] for r in out))
            for out in results]


def profile(path: Path) -> None:
    """One ``--format json`` count in this process: its time, then the top of a cProfile."""
    import contextlib
    import cProfile
    import io
    import pstats

    from paramcount.cli import main as cli

    argv = [str(path), "--format", "json"]
    for _ in range(2):
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            cli(argv)
        print(f"paramcount {path.name} --format json: {time.perf_counter() - t0:.3f} s")
    prof = cProfile.Profile()
    with contextlib.redirect_stdout(io.StringIO()):
        prof.runcall(cli, argv)
    for key in ("cumulative", "tottime"):
        pstats.Stats(prof).sort_stats(key).print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, action="append", help="tensors per file (repeatable)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=OUT)
    parser.add_argument("--only", default="", help="only these formats (safetensors, gguf, torch)")
    parser.add_argument("--profile", type=Path, help="profile one count of this file")
    parser.add_argument("--tree", type=Path, action="append",
                        help="run paramcount from this source tree (repeatable: before and "
                        "after a change, runs interleaved); default: this checkout")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile)
        return
    trees = args.tree or [Path(__file__).resolve().parent.parent]
    print(f"{'file':<26} {'command':<22} {'tree':<16} {'wall s':>7} {'cpu s':>7}")
    for kind, _, path in build(args.dir, args.n or [10_000, 100_000]):
        if args.only not in kind:
            continue
        rows = [(f"paramcount {fmt}", tree, [PY, "-m", "paramcount", str(path), *flags],
                 child_env(PYTHONPATH=str(tree)))
                for fmt, flags in (("--format json", ["--format", "json"]), ("(table)", []))
                for tree in trees]
        if kind == "safetensors":
            rows.append(("safe_open", None, [PY, "-c", SAFE_OPEN, str(path)], child_env()))
        figures = paired([(cmd, env) for _, _, cmd, env in rows], args.runs)
        for (label, tree, _, _), (wall, cpu) in zip(rows, figures, strict=True):
            where = tree.name if tree else ""
            print(f"{path.name:<26} {label:<22} {where:<16} {wall:>7.3f} {cpu:>7.3f}",
                  flush=True)


if __name__ == "__main__":
    main()
