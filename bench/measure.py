"""Shared by the bench scripts: run one command as a fresh process, report time and memory."""

from __future__ import annotations

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

