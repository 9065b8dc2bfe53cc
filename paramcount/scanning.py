"""Many models at once: one :class:`ScanRow` per source, for auditing a model registry.

A source is anything :func:`paramcount.summarize` takes as a string (a file, a folder, a Hub
id, ``hf://``, a zoo name). Sources are read by a pool of threads (reading is waiting on disks
and round trips, not computing) and the rows come back **in input order**, so that two scans
of one list line up; at most ``4 * workers`` sources are in flight or waiting to be handed
back, so thousands of sources keep memory bounded (one slow source holds the rows after it
until it is done, never more than that window).

A source that fails is a row too: status ``error`` and the one-line message, and the scan goes
on. Each source keeps its own reader's budgets (header sizes, file counts, timeouts).

>>> from paramcount.scanning import scan
>>> [(r.source, r.status, r.total_params) for r in scan(["zoo:vgg16", "zoo:nope"])]
[('zoo:vgg16', 'ok', 138357544), ('zoo:nope', 'error', None)]
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from paramcount.errors import ParamcountError, SpecError, check_positive
from paramcount.model import Summary

DEFAULT_WORKERS = 8
#: rows in flight or waiting per worker: the bound on what a scan holds at once
WINDOW = 4
#: meta keys that name a quantization scheme, first found wins: a Hugging Face config's
#: ``quantization_config.quant_method`` (gptq, awq, fp8, ...), a GGUF file's ``file_type``
QUANTIZATION_KEYS = ("quantization", "file_type")
#: meta keys that name what the model is, first found wins
ARCHITECTURE_KEYS = ("architecture", "model_type")


@dataclass(frozen=True)
class ScanRow:
    """One source's line of a scan; counts are None where the source gave none (an error, a
    description that stores no weights)."""

    source: str
    status: str  # "ok" or "error"
    total_params: int | None = None
    #: parameters one token passes through (a mixture of experts' routed share), else total
    active_params: int | None = None
    #: bytes of the weights as stored; None for a description (it stores none)
    stored_bytes: int | None = None
    dtype: str = ""
    quantization: str = ""
    architecture: str = ""
    #: bytes of configs and headers received from the Hub or a URL (0: read from disk or the
    #: cache)
    bytes_read: int | None = None
    seconds: float = 0.0
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: the columns of a scan, in order: the fields of :class:`ScanRow`
COLUMNS = tuple(ScanRow.__dataclass_fields__)


def scan(sources: Iterable[str | os.PathLike[str]], workers: int = DEFAULT_WORKERS,
         progress: Callable[[ScanRow], None] | None = None,
         **options: Any) -> Generator[ScanRow, None, None]:
    """Summarize each source on ``workers`` threads and yield its row, in input order;
    ``progress(row)`` is called as each source finishes (in completion order, from the
    worker's thread, one call at a time); ``options`` go to :func:`~paramcount.summarize`.

    >>> rows = list(scan(["zoo:gpt2", "./no/such/model.safetensors"], workers=2))
    >>> rows[0].total_params, rows[0].architecture, rows[1].error
    (124439808, 'GPT2LMHeadModel', './no/such/model.safetensors: no such file')
    """
    check_positive(workers, "workers")
    lock = threading.Lock()

    def one(source: str | os.PathLike[str]) -> ScanRow:
        row = scan_one(source, **options)
        if progress is not None:
            with lock:
                progress(row)
        return row

    pool = ThreadPoolExecutor(workers, thread_name_prefix="paramcount-scan")
    pending: deque[Future[ScanRow]] = deque()
    try:
        for source in sources:
            pending.append(pool.submit(one, source))
            if len(pending) >= WINDOW * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:  # a reader that stops early (`| head`, Ctrl-C) leaves no queued work behind
        pool.shutdown(wait=True, cancel_futures=True)


def scan_one(source: str | os.PathLike[str], **options: Any) -> ScanRow:
    """One source's row: its summary's figures, or status ``error`` and why."""
    from paramcount.sources import summarize

    text = os.fspath(source)
    start = time.perf_counter()
    try:
        summary = summarize(text, **options)
    except ParamcountError as err:
        return _failed(text, str(err), start)
    except RecursionError:
        return _failed(text, "too deeply nested to read", start)
    except Exception as err:  # a reader's bug must not end an audit of thousands: said as such
        return _failed(text, f"unexpected {type(err).__name__}: {err}", start)
    return row_of(text, summary, time.perf_counter() - start)


def row_of(source: str, summary: Summary, seconds: float = 0.0) -> ScanRow:
    """The row of a summary read from ``source``."""
    total = summary.total_params
    remote = summary.meta.get("hub") or summary.meta.get("url") or {}
    return ScanRow(
        source=source, status="ok", total_params=total,
        active_params=summary.figures.get("Active params per token", total),
        stored_bytes=summary.stored_bytes(), dtype=summary.dtype,
        quantization=_first(summary.meta, QUANTIZATION_KEYS),
        architecture=_first(summary.meta, ARCHITECTURE_KEYS),
        bytes_read=int(remote.get("bytes_read", 0)), seconds=round(seconds, 4))


def _failed(source: str, message: str, start: float) -> ScanRow:
    line = " ".join(message.split())  # one line, whatever the error held
    return ScanRow(source=source, status="error", error=line,
                   seconds=round(time.perf_counter() - start, 4))


def _first(meta: dict[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = meta.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
            return str(value)
    return ""


def read_list(lines: Iterable[str], where: str = "the list") -> Iterator[str]:
    """The sources of a list: one a line, blank lines and ``#`` comments skipped, each line
    stripped of surrounding spaces.

    >>> list(read_list(["# registry", "zoo:gpt2", "", "  ./models/a  # the first", "org/x@v1"]))
    ['zoo:gpt2', './models/a', 'org/x@v1']
    """
    for number, line in enumerate(lines, 1):
        text = line.split(" #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if "\0" in text:
            raise SpecError(f"{where}, line {number}: a NUL byte is no source")
        if text:
            yield text
