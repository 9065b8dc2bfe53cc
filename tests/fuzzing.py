"""A small coverage-guided fuzzer over hypothesis, for a fixed time per reader.

:func:`fuzz` runs one reader on mutated inputs for ``seconds`` in a forked child under a memory
cap (RLIMIT_AS, on top of what the parent already maps) and a wall-clock alarm per input. Its
corpus starts from the reader's seed files; an input that runs lines of paramcount no earlier
input ran joins the corpus and is mutated in later rounds (as AFL keeps inputs that find new
edges), and hypothesis's ``target()`` steers each round toward inputs that run more lines.
Rounds are hypothesis runs of :data:`ROUND` examples, each with its own seed, so a failure is
shrunk to a minimal input and reported with the bytes to keep as a regression case.

Whatever the bytes, reading them must give a summary or raise paramcount's own error: any other
exception, a MemoryError under the cap, or an input running past the alarm fails.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings, target
from hypothesis import strategies as st

import paramcount
from paramcount.errors import ParamcountError

#: examples per hypothesis run; the corpus grows between runs
ROUND = 40
SECONDS_PER_INPUT = 5
#: address space the child may add to the parent's
MEMORY_CAP = 2**30
PACKAGE = str(Path(paramcount.__file__).resolve().parent)


@dataclass
class Target:
    """One reader: seed files and how a fuzzed input becomes the path paramcount reads."""

    name: str
    seeds: list[bytes]
    #: writes ``data`` (with any fixed files beside it) under a folder, returns what to read
    place: Callable[[Path, bytes], Path]
    #: field-aware generators of whole inputs, beside the mutations of the corpus
    generators: list[st.SearchStrategy[bytes]] = field(default_factory=list)


def mutations(corpus: list[bytes]) -> st.SearchStrategy[bytes]:
    """An input of the corpus cut short, with bytes overwritten, inserted, deleted, or a
    stretch repeated, or spliced with another; or random bytes."""
    pick = st.sampled_from(corpus)
    pos = st.integers(0, 2**16)

    def flip(data: bytes, edits: list[tuple[int, int]]) -> bytes:
        out = bytearray(data or b"\0")
        for at, value in edits:
            out[at % len(out)] = value
        return bytes(out)

    def cut(data: bytes, at: int, n: int) -> bytes:
        at %= len(data) + 1
        return data[:at] + data[at + n:]

    def repeat(data: bytes, at: int, n: int, times: int) -> bytes:
        at %= len(data) + 1
        return data[:at] + data[at:at + n] * times + data[at:]

    def splice(a: bytes, b: bytes, at: int) -> bytes:
        at %= min(len(a), len(b)) + 1
        return a[:at] + b[at:]

    edits = st.lists(st.tuples(pos, st.integers(0, 255)), min_size=1, max_size=8)
    small = st.integers(0, 64)
    return st.one_of(
        st.builds(lambda d, n: d[:n % (len(d) + 1)], pick, pos),
        st.builds(flip, pick, edits),
        st.builds(lambda d, at, extra: d[:at] + extra + d[at:], pick, st.integers(0, 4096),
                  st.binary(min_size=1, max_size=64)),
        st.builds(cut, pick, pos, small),
        st.builds(repeat, pick, pos, small, st.integers(2, 16)),
        st.builds(splice, pick, pick, pos),
        st.binary(max_size=256),
    )


@contextmanager
def alarm(seconds: int) -> Iterator[None]:
    def hang(signum: int, frame: object) -> None:
        raise TimeoutError(f"an input took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def lines_run() -> Iterator[set[tuple[str, int]]]:
    """The (file, line) pairs of paramcount run inside; nothing when a tracer (coverage.py)
    is already installed, which this would replace."""
    seen: set[tuple[str, int]] = set()
    if sys.gettrace() is not None:
        yield seen
        return

    def local(frame, event, arg):  # type: ignore[no-untyped-def]
        if event == "line":
            seen.add((frame.f_code.co_filename, frame.f_lineno))
        return local

    def call(frame, event, arg):  # type: ignore[no-untyped-def]
        return local if frame.f_code.co_filename.startswith(PACKAGE) else None

    sys.settrace(call)
    try:
        yield seen
    finally:
        sys.settrace(None)


def read_one(t: Target, folder: Path, data: bytes, seconds: int = SECONDS_PER_INPUT
             ) -> set[tuple[str, int]]:
    """Read one input: only ParamcountError may escape, within the alarm."""
    path = t.place(folder, data)
    with alarm(seconds), lines_run() as seen, suppress(ParamcountError):
        paramcount.summarize(path)
    return seen


def _loop(t: Target, seconds: float, work: Path) -> dict[str, object]:
    corpus, covered = list(t.seeds), set()
    stop, inputs, rounds = time.monotonic() + seconds, 0, 0
    while time.monotonic() < stop:
        strategy = st.one_of(mutations(corpus), *t.generators)

        @settings(max_examples=ROUND, deadline=None, database=None, derandomize=False,
                  suppress_health_check=list(HealthCheck),
                  phases=(Phase.generate, Phase.target, Phase.shrink))
        @seed(rounds)
        @given(strategy)
        def one(data: bytes) -> None:
            nonlocal inputs, covered
            if time.monotonic() > stop and inputs:
                return
            inputs += 1
            seen = read_one(t, work, data)
            if seen - covered:
                covered |= seen
                corpus.append(data)
            target(float(len(seen)), label="lines of paramcount run")

        one()
        rounds += 1
    return {"inputs": inputs, "lines": len(covered), "corpus": len(corpus)}


def fuzz(t: Target, seconds: float, work: Path) -> dict[str, object]:
    """Fuzz ``t`` for ``seconds`` in a forked child under :data:`MEMORY_CAP`; returns how many
    inputs ran, the lines they reached and the corpus size, or fails with the minimal input."""
    for data in t.seeds:  # imports what the reader needs (transformers) before the alarm runs
        read_one(t, work, data, seconds=600)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read)
        try:
            with open("/proc/self/status") as f:
                mapped = next(int(line.split()[1]) * 1024 for line in f
                              if line.startswith("VmSize"))
            cap = mapped + MEMORY_CAP
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
            out: dict[str, object] = _loop(t, seconds, work)
        except BaseException:  # reported to the parent, which fails the test
            out = {"failure": traceback.format_exc()[-6000:]}
        os.write(write, json.dumps(out).encode())
        os._exit(0)
    os.close(write)
    chunks, limit = [], time.monotonic() + seconds + 120
    while (left := limit - time.monotonic()) > 0 and select.select([read], [], [], left)[0]:
        chunk = os.read(read, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read)
    if time.monotonic() >= limit:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert chunks, f"{t.name}: the fuzzing child ended with status {status} and no report"
    report: dict[str, object] = json.loads(b"".join(chunks))
    assert "failure" not in report, f"{t.name}:\n{report['failure']}"
    return report
