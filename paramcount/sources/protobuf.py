"""Protocol Buffers' wire format, read from a file field by field, skipping what is not asked for.

A message is a run of fields, each a key (``field number << 3 | wire type``) and a value: a
varint, 8 or 4 fixed bytes, or a length and that many bytes (a string, a packed array or a
message inside). A length-delimited value is handed back as a :class:`Span` of the file, not
read: its reader decides whether to read it (a name), walk it (a message) or skip it (a tensor's
bytes). So a 1 GB ONNX model is read in its few hundred kilobytes of graph.

The file is read by range through a :class:`~paramcount.sources.blobs.Blob`, a small window at a
time: the window doubles while the reader goes on reading where it stopped (a graph's nodes) and
starts small again after a skip (so skipping a tensor's bytes reads at most a little of them).

Budgets (a hostile file meets one of them, each with one clear error):

- every length is checked against the message that holds it, and so against the file;
- the budget's elements (``--max-elements``): fields and packed numbers in one file, read or
  skipped; its string bytes (``--max-string``): bytes of one string that is read; its deadline;
- the nesting depth is the caller's: a message is walked only when the caller asks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from paramcount.budget import current, exceeded
from paramcount.errors import SpecError
from paramcount.sources.blobs import Blob

VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5
_FIXED = {FIXED64: 8, FIXED32: 4}
#: the read window: its size after a skip, and the most it doubles to
MIN_READ, MAX_READ = 512, 2**16


@dataclass(frozen=True)
class Span:
    """A length-delimited value's bytes in the file: ``[start, end)``."""

    start: int
    end: int

    def __len__(self) -> int:
        return self.end - self.start


Field = tuple[int, int, "int | Span"]  # field number, wire type, value


class Reader:
    """The messages of one file, read by range; ``bytes_read`` says how much was read.

    >>> import tempfile
    >>> from pathlib import Path
    >>> from paramcount.sources.blobs import LocalFile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "m.pb"; _ = p.write_bytes(bytes([0x08, 0x96, 0x01, 0x12, 0x02]) + b"hi")
    ...     r = Reader(LocalFile(p), "message")
    ...     [(n, r.text(v) if w == LEN else v) for n, w, v in r.fields([r.whole()])]
    [(1, 150), (2, 'hi')]
    """

    def __init__(self, file: Blob, what: str) -> None:
        self.file, self.what = file, what
        self.size = file.size()
        self.bytes_read = 0
        self.budget = current()
        self.fields_left = self.budget.limits.elements
        self._buf, self._start, self._ahead = b"", 0, MIN_READ

    def whole(self) -> Span:
        """The file as one message."""
        return Span(0, self.size)

    def fail(self, at: int, why: str) -> SpecError:
        return SpecError(f"{self.file.label}: not a readable {self.what} (at byte {at:,}: "
                         f"{why})")

    def fields(self, spans: Sequence[Span]) -> Iterator[Field]:
        """Each field of the message stored in ``spans``, in order. Several spans are one
        message in parts, as protobuf merges a message field that appears more than once."""
        for span in spans:
            pos = span.start
            while pos < span.end:
                self.fields_left -= 1
                if self.fields_left < 0 or self.fields_left & 0xFFFF == 0:
                    self._spend(pos)
                key, pos = self._varint(pos, span.end)
                number, wire = key >> 3, key & 7
                if number == 0 or key >> 32:
                    raise self.fail(pos, f"field number {number} is not allowed")
                value, pos = self._value(wire, pos, span.end)
                yield number, wire, value

    def _spend(self, pos: int) -> None:
        """Every 65,536 fields and past the last allowed: the budget's deadline and bound."""
        self.budget.tick()
        if self.fields_left < 0:
            limit = self.budget.limits.elements
            raise exceeded("elements", limit - self.fields_left, limit,
                           f"{self.file.label}: fields read or skipped (at byte {pos:,})")

    def _value(self, wire: int, pos: int, end: int) -> tuple[int | Span, int]:
        if wire == VARINT:
            return self._varint(pos, end)
        if wire == LEN:
            n, pos = self._varint(pos, end)
            if n > end - pos:
                raise self.fail(pos, f"a length of {n:,} bytes runs past the end of its "
                                f"message at byte {end:,}")
            return Span(pos, pos + n), pos + n
        if wire in _FIXED:
            n = _FIXED[wire]
            if n > end - pos:
                raise self.fail(pos, f"{n} fixed bytes run past the end of the message")
            buf, at = self._window(pos, n)
            return int.from_bytes(buf[at:at + n], "little"), pos + n
        raise self.fail(pos, f"wire type {wire} is not one ONNX uses")

    def varints(self, span: Span) -> Iterator[int]:
        """The numbers of a packed array."""
        pos = span.start
        while pos < span.end:
            self.fields_left -= 1
            if self.fields_left < 0 or self.fields_left & 0xFFFF == 0:
                self._spend(pos)
            value, pos = self._varint(pos, span.end)
            yield value

    def text(self, span: Span) -> str:
        """A string field, read (invalid UTF-8 replaced, as a name is only shown)."""
        return self.data(span).decode("utf-8", errors="replace")

    def data(self, span: Span) -> bytes:
        self.budget.check("string_bytes", len(span),
                          f"{self.file.label}: a string at byte {span.start:,}")
        buf, at = self._window(span.start, len(span))
        return bytes(buf[at:at + len(span)])

    def _varint(self, pos: int, end: int) -> tuple[int, int]:
        n = min(10, end - pos)
        buf, at = self._buf, pos - self._start
        if at < 0 or at + n > len(buf):
            buf, at = self._window(pos, n)
        if n and buf[at] < 0x80:  # most keys and lengths: one byte
            return buf[at], pos + 1
        value, shift = 0, 0
        for i in range(n):
            byte = buf[at + i]
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value & (2**64 - 1), pos + i + 1
            shift += 7
        raise self.fail(pos, "a number runs past the end of its message or over 10 bytes")

    def _window(self, pos: int, n: int) -> tuple[bytes, int]:
        """A buffer holding the file's bytes ``[pos, pos + n)`` and where ``pos`` is in it."""
        start, buf = self._start, self._buf
        if start <= pos and pos + n <= start + len(buf):
            return buf, pos - start
        if start <= pos <= start + len(buf):  # reading on: read further ahead
            self._ahead = min(2 * self._ahead, MAX_READ)
            keep = buf[pos - start:]
        else:  # after a skip: read a little
            self._ahead, keep = MIN_READ, b""
        at = pos + len(keep)
        want = min(max(n - len(keep), self._ahead), self.size - at)
        more = self.file.read(at, want) if want > 0 else b""
        self.bytes_read += len(more)
        self._buf, self._start = keep + more, pos
        if len(self._buf) < n:
            raise self.fail(pos, f"the file ends at byte {pos + len(self._buf):,}: truncated")
        return self._buf, 0


def signed(value: int, bits: int = 64) -> int:
    """A varint as protobuf's ``int64`` (or ``int32``: its low 32 bits) reads it.

    >>> signed(2**64 - 2), signed(2**64 - 1, 32), signed(7)
    (-2, -1, 7)
    """
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value
