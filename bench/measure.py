"""Shared by the bench scripts: run one command as a fresh process, report time and memory."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

# Runs one command, then prints its wall time and peak memory (KiB) as JSON. Run in a helper
# process so that RUSAGE_CHILDREN covers exactly the one command.
MEASURE = """
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"wall": wall, "peak_kib": peak, "rc": proc.returncode,
                  "out": proc.stdout, "err": proc.stderr[-2000:]}))
"""



def child_env(**extra: str) -> dict[str, str]:
    """The environment for measured commands: Python may cache paramcount's bytecode, as an
    installed package has it compiled (PYTHONDONTWRITEBYTECODE, where set, is dropped)."""
    env = {**os.environ, **extra}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def measure_runs(cmd: list[str], runs: int, env: dict[str, str]) -> dict[str, float | str]:
    """Run ``cmd`` ``runs`` times, each as a fresh process measured alone: the median wall
    time, the largest peak memory (MiB) and the last run's standard output."""
    results = []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True,
                              text=True, env=env, check=True)
        r = json.loads(proc.stdout)
        if r["rc"] != 0:
            raise SystemExit(f"{' '.join(cmd[:4])} failed:\n{r['err']}")
        results.append(r)
    return {"wall": statistics.median(r["wall"] for r in results),
            "peak_mib": max(r["peak_kib"] for r in results) / 1024,
            "out": results[-1]["out"].strip()}


def total_params(out: str) -> int:
    """The count a command printed: paramcount's JSON, or a framework's bare number."""
    return int(json.loads(out)["total_params"]) if out.startswith("{") else int(out.split()[-1])
