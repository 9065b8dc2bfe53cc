"""GGUF files written by the gguf package's writer and checked against its reader: element
counts, stored bytes, shapes and metadata; the type tables against gguf's constants; every
error message for bad input."""

from __future__ import annotations

import struct

import gguf
import numpy as np
import pytest
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

import paramcount
from paramcount.cli import main
from paramcount.dtypes import DTYPE_BYTES
from paramcount.errors import SpecError
from paramcount.sources.gguf import FILE_TYPES, GGML_TYPES


def test_type_tables_equal_ggufs_constants():
    theirs = {t.value: (t.name, *GGML_QUANT_SIZES[t]) for t in GGMLQuantizationType}
    assert theirs == GGML_TYPES
    assert {t.value: t.name for t in gguf.LlamaFileType if t.name != "GUESSED"} == FILE_TYPES
    for name, block, block_bytes in GGML_TYPES.values():
        if block > 1:
            assert DTYPE_BYTES[name] == block_bytes / block


def _byte_shape(shape, qtype):
    block, block_bytes = GGML_QUANT_SIZES[qtype]
    return (*shape[:-1], shape[-1] // block * block_bytes)


def write_model(path, types, arch="llama", layers=2, endian=gguf.GGUFEndian.LITTLE, **extra):
    """A GGUF file with one tensor per ggml type in ``types``, in ``layers`` blocks."""
    w = gguf.GGUFWriter(str(path), arch, endianess=endian, **extra)
    w.add_context_length(4096)
    w.add_block_count(layers)
    w.add_embedding_length(256)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_K_M)
    w.add_token_list([f"t{i}" for i in range(300)])
    w.add_token_scores([0.0] * 300)
    w.add_tensor("token_embd.weight", np.zeros((300, 16), np.float16))
    for i in range(layers):
        for j, qtype in enumerate(types):
            shape = (3 + j, 512)
            data = np.zeros(_byte_shape(shape, qtype), np.uint8)
            w.add_tensor(f"blk.{i}.t{j}.weight", data, raw_dtype=qtype)
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.zeros(256, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


QUANTIZED = [t for t in GGMLQuantizationType if GGML_QUANT_SIZES[t][0] > 1]


def test_every_type_counts_as_ggufs_reader_counts(tmp_path):
    path = tmp_path / "all.gguf"
    write_model(path, [*QUANTIZED, GGMLQuantizationType.BF16, GGMLQuantizationType.F64])
    s = paramcount.summarize(path)
    reader = gguf.GGUFReader(str(path))
    ours = dict(s.weights())
    assert len(ours) == len(reader.tensors)
    for t in reader.tensors:
        w = ours[t.name]
        assert w.size == int(t.n_elements)
        assert w.nbytes == int(t.n_bytes)
        assert w.shape == tuple(int(d) for d in reversed(t.shape))
        name = GGMLQuantizationType(t.tensor_type).name
        assert w.dtype == {"F32": "float32", "F16": "float16", "BF16": "bfloat16",
                           "F64": "float64"}.get(name, name)
    assert s.total_params == sum(int(t.n_elements) for t in reader.tensors)
    assert s.stored_bytes() == sum(int(t.n_bytes) for t in reader.tensors)


def test_metadata_is_shown(tmp_path):
    path = tmp_path / "m.gguf"
    write_model(path, [GGMLQuantizationType.Q4_K, GGMLQuantizationType.Q6_K], layers=3)
    s = paramcount.summarize(path)
    assert s.meta["architecture"] == "llama"
    assert s.meta["context_length"] == 4096 and s.meta["block_count"] == 3
    assert s.meta["embedding_length"] == 256 and s.meta["vocab_size"] == 300
    assert s.meta["file_type"] == "MOSTLY_Q4_K_M" and s.meta["format"] == "GGUF v3"
    blk = s.layers[1]
    assert (blk.name, blk.repeat) == ("blk", 3)
    assert [r.times for r in s.rows(depth=2) if r.folded] == [3]


def test_dominant_quantized_type_sizes_the_totals(tmp_path):
    path = tmp_path / "q.gguf"
    write_model(path, [GGMLQuantizationType.Q8_0] * 3)
    s = paramcount.summarize(path)
    assert s.dtype == "Q8_0" and s.bytes_per_param == 34 / 32
    assert paramcount.summarize(path, dtype="f16").to_dict()["total_bytes"] == s.total_params * 2


def test_big_endian_files(tmp_path):
    path = tmp_path / "be.gguf"
    write_model(path, [GGMLQuantizationType.Q4_0], endian=gguf.GGUFEndian.BIG)
    reader = gguf.GGUFReader(str(path))
    s = paramcount.summarize(path)
    assert s.total_params == sum(int(t.n_elements) for t in reader.tensors)


def test_split_files_are_one_model(tmp_path):
    path = tmp_path / "model.gguf"
    write_model(path, [GGMLQuantizationType.Q4_K], split_max_tensors=2)
    parts = sorted(tmp_path.glob("*.gguf"))
    assert len(parts) > 1 and parts[0].name.endswith(f"-00001-of-{len(parts):05d}.gguf")
    total = sum(int(t.n_elements) for p in parts for t in gguf.GGUFReader(str(p)).tensors)
    s = paramcount.summarize(parts[0])
    assert s.total_params == total and s.meta["shards"] == len(parts)
    parts[-1].unlink()
    with pytest.raises(SpecError, match="is missing"):
        paramcount.summarize(parts[0])


# -- hand-made files for what the writer will not write ------------------------------------

def _str(s: str) -> bytes:
    raw = s.encode()
    return struct.pack("<Q", len(raw)) + raw


def gguf_bytes(tensors, kv=(), version=3, alignment=32, data=None, magic=b"GGUF"):
    """A GGUF file: ``tensors`` are (name, ggml-order dims, type id, offset)."""
    out = magic + struct.pack("<IQQ", version, len(tensors), len(kv))
    for key, kind, payload in kv:
        out += _str(key) + struct.pack("<I", kind) + payload
    for name, dims, kind, offset in tensors:
        out += _str(name) + struct.pack("<I", len(dims))
        out += b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", kind, offset)
    out += bytes(-len(out) % alignment)
    if data is None:
        data = max((o + 4 * int(np.prod(d)) for _, d, _, o in tensors), default=0)
    return out + bytes(data)


def test_same_offsets_are_one_tensor_counted_once(tmp_path):
    path = tmp_path / "tied.gguf"
    path.write_bytes(gguf_bytes([("token_embd.weight", (4, 8), 0, 0),
                                 ("output.weight", (4, 8), 0, 0)]))
    s = paramcount.summarize(path)
    assert s.total_params == 32 and s.meta["tied"] == {"output.weight": "token_embd.weight"}


ARRAY, STRING, U32 = 9, 8, 4
BAD = [
    ("magic", dict(tensors=[], magic=b"GGML"), "wrong magic number"),
    ("v1", dict(tensors=[], version=1), "GGUF version 1 is not supported"),
    ("type", dict(tensors=[("w", (4,), 99, 0)]), "unknown ggml type 99"),
    ("rank", dict(tensors=[("w", (1, 1, 1, 1, 1), 0, 0)]), "has 5 dimensions"),
    ("negative", dict(tensors=[("w", (2**64 - 2,), 0, 0)], data=64),
     "negative or overflows"),
    ("block", dict(tensors=[("w", (33,), 2, 0)]), "stores blocks of 32 elements"),
    ("align", dict(tensors=[("w", (4,), 0, 4)]), "not a multiple of the alignment"),
    ("outside", dict(tensors=[("w", (4,), 0, 0)], data=8), "points outside the 8 bytes"),
    ("overlap", dict(tensors=[("a", (16,), 0, 0), ("b", (4,), 0, 32)]), "overlap"),
    ("alignment", dict(tensors=[], kv=[("general.alignment", U32, struct.pack("<I", 3))]),
     "not a power of two"),
    ("value", dict(tensors=[], kv=[("k", 77, b"")]), "unknown value type 77"),
    ("element", dict(tensors=[], kv=[("k", ARRAY, struct.pack("<IQ", 77, 1))]),
     "unknown element type 77"),
    ("nested", dict(tensors=[], kv=[("k", ARRAY, struct.pack("<IQ", ARRAY, 1) * 9
                                     + struct.pack("<IQ", U32, 0))]),
     "arrays nested deeper than 8"),
    ("strings", dict(tensors=[], kv=[("k", ARRAY, struct.pack("<IQQ", STRING, 2, 2**40))]),
     "truncated"),
    ("dup", dict(tensors=[("w", (4,), 0, 0), ("w", (4,), 0, 32)]), "appears twice"),
]


@pytest.mark.parametrize("case, spec, message", BAD, ids=[c[0] for c in BAD])
def test_bad_files_give_one_line_and_exit_2(tmp_path, capsys, case, spec, message):
    path = tmp_path / f"{case}.gguf"
    path.write_bytes(gguf_bytes(**spec))
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and str(path) in err


def test_truncated_files_and_absurd_counts(tmp_path):
    whole = gguf_bytes([("w", (8,), 0, 0)], kv=[("general.name", STRING, _str("x"))])
    for cut in (3, 10, 30, 40, len(whole) - 40):
        path = tmp_path / f"cut{cut}.gguf"
        path.write_bytes(whole[:cut])
        with pytest.raises(SpecError, match=r"truncated|points outside"):
            paramcount.summarize(path)
    path = tmp_path / "counts.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 2**60, 0) + bytes(64))
    with pytest.raises(SpecError, match="more than the file can hold"):
        paramcount.summarize(path)


def test_large_vocabulary_is_skipped_quickly(tmp_path):
    import time

    path = tmp_path / "vocab.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_token_list([f"token{i}" for i in range(200_000)])
    w.add_tensor("w", np.zeros(4, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    start = time.perf_counter()
    s = paramcount.summarize(path)
    assert time.perf_counter() - start < 2
    assert s.meta["vocab_size"] == 200_000 and s.total_params == 4


class CountingFile:
    """A file read by range, as a remote one is: every range read is recorded."""

    def __init__(self, path):
        self.path, self.reads = path, []

    name = property(lambda self: self.path.name)
    label = property(lambda self: str(self.path))

    def size(self):
        return self.path.stat().st_size

    def read(self, start, length):
        self.reads.append((start, length))
        with self.path.open("rb") as f:
            f.seek(start)
            return f.read(length)


@pytest.mark.parametrize("first", [64, 1000, 2**20])
def test_a_file_read_by_range_reads_the_header_in_pieces(tmp_path, monkeypatch, first):
    from paramcount.sources import gguf as reader

    path = tmp_path / "m.gguf"
    write_model(path, [GGMLQuantizationType.Q4_K, GGMLQuantizationType.Q8_0], layers=3)
    monkeypatch.setattr(reader, "FIRST_PIECE", first)
    blob = CountingFile(path)
    assert reader.read_blob(blob) == reader.read_file(path)
    # the data starts where gguf's own reader says; nothing past it is read unless the first
    # piece already covers it, and pieces only double what was read before
    data_start = gguf.GGUFReader(str(path)).data_offset
    read = sum(n for _, n in blob.reads)
    assert blob.reads[0] == (0, min(first, path.stat().st_size))
    assert [s for s, _ in blob.reads] == [sum(n for _, n in blob.reads[:i])
                                          for i in range(len(blob.reads))]
    assert read <= max(first, 2 * data_start)


def test_a_truncated_file_read_by_range(tmp_path, monkeypatch):
    from paramcount.sources import gguf as reader

    whole = gguf_bytes([("w", (8,), 0, 0)], kv=[("general.name", STRING, _str("x"))])
    path = tmp_path / "cut.gguf"
    path.write_bytes(whole[:40])
    monkeypatch.setattr(reader, "FIRST_PIECE", 16)
    with pytest.raises(SpecError, match="truncated"):
        reader.read_blob(CountingFile(path))
