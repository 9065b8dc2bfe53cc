"""Running paramcount on a hostile input as an attacker would see it: the CLI in a child process
under a memory cap (RLIMIT_AS) and a time cap, every file it opens recorded by an audit hook.

:func:`attack` returns the exit status, stderr's lines, the files opened outside Python's own
(site-packages, the standard library, this checkout) and the child's peak resident memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEMORY_CAP = 2**30
TIME_CAP = 60

CHILD = r"""
import json, os, resource, sys
cap = int(os.environ["HOSTILE_MEMORY"])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
ours = tuple(os.path.realpath(p) + os.sep for p in {*sys.path, sys.prefix, sys.base_prefix}
             if p and os.path.isdir(p))
opened, done = [], []

def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes)) and not done:
        path = os.path.realpath(os.fsdecode(args[0]))
        if not path.startswith(ours) and path != os.devnull:
            opened.append(path)

sys.addaudithook(hook)
from paramcount.cli import main
try:
    status = main(json.loads(os.environ["HOSTILE_ARGS"]))
finally:
    done.append(True)  # ru_maxrss would include the parent's, from before exec: VmHWM is ours
    with open("/proc/self/status") as f:
        peak = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM"))
    os.write(int(os.environ["HOSTILE_FD"]), json.dumps({"opened": opened, "peak": peak}).encode())
sys.exit(status)
"""


@dataclass
class Outcome:
    status: int
    stderr: list[str]
    stdout: str
    opened: list[str]
    peak: int
    seconds: float

    def one_line(self, status: int = 2) -> str:
        """The single stderr line, checked to be the only one and the status ``status``."""
        assert self.status == status, (self.status, self.stderr, self.stdout[-500:])
        assert len(self.stderr) == 1, self.stderr
        return self.stderr[0]


def attack(args: list[str], inside: Path, memory: int = MEMORY_CAP,
           seconds: int = TIME_CAP) -> Outcome:
    """``paramcount ARGS`` in a child under the caps; every file it opened lies in ``inside``
    (checked here)."""
    read, write = os.pipe()
    env = {**os.environ, "HOSTILE_ARGS": json.dumps(args), "HOSTILE_MEMORY": str(memory),
           "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "HF_HUB_OFFLINE": "1", "HOSTILE_FD": str(write)}
    start = time.perf_counter()
    with subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env, pass_fds=(write,), cwd=inside) as child:
        os.close(write)
        try:
            out, err = child.communicate(timeout=seconds)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            os.close(read)
            raise AssertionError(f"paramcount {args} ran past {seconds} s") from None
    with os.fdopen(read, "rb") as f:
        record = json.loads(f.read() or b'{"opened": [], "peak": 0}')
    root = os.path.realpath(inside) + os.sep
    outside = [p for p in record["opened"] if not (p + os.sep).startswith(root)]
    assert not outside, f"opened outside {inside}: {outside}"
    return Outcome(child.returncode, err.decode(errors="replace").splitlines(),
                   out.decode(errors="replace"), record["opened"], record["peak"],
                   time.perf_counter() - start)
