"""Shared by the bench scripts: run one command as a fresh process, report time and memory."""

from __future__ import annotations

import os

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
