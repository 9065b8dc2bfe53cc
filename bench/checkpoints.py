"""Checkpoint headers: paramcount against the libraries listing the same tensors.

Builds, in ``bench/out/`` (or ``--dir``), sparse files that declare real-sized tensors and take
almost no disk:

- a safetensors checkpoint of Llama-2-70B's shapes in bfloat16 (723 tensors, 138 GB declared);
- the same tensors as a PyTorch zip archive, laid out as ``torch.save`` lays them out;
- a GGUF file of a mixture-of-experts model with thousands of tensors and a Llama-3-sized
  vocabulary in its metadata;
- a 0.95 GB ONNX model of a GPT-2-medium-like transformer (16 layers, width 1024) in float32,
  its graph written by onnx and each initializer's raw_data a hole (and a 0.5 MB one of the
  same graph, one layer of width 64: the floor, what counting any ONNX file costs).

Then times, as whole processes (median of ``--runs`` runs, warm page cache; peak resident
memory, the largest of the runs), paramcount and the library that reads each format listing
every tensor's name and shape (``onnx.load`` for ONNX), and measures how many
bytes of the checkpoint each process brought into memory: the file's pages are dropped from
the page cache first (``posix_fadvise(DONTNEED)``) and counted afterwards with ``mincore``, so
read() calls, mmap page faults and the kernel's read-ahead are all included.

    python bench/checkpoints.py            # build (once) and compare
    python bench/checkpoints.py --runs 9   # more runs per command
    python bench/checkpoints.py onnx       # only the files whose name has "onnx"
"""

from __future__ import annotations

import argparse
import ctypes
import io
import json
import mmap
import os
import pickle
import statistics
import struct
import subprocess
import sys
import zlib
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from measure import MEASURE, child_env  # bench/ is on sys.path when a script runs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

PY = sys.executable
OUT = Path(__file__).resolve().parent / "out"

# -- the checkpoints ----------------------------------------------------------------------------

def llama(size: str) -> list[tuple[str, tuple[int, ...]]]:
    """Llama-2's tensors: 70B (hidden 8192, 80 layers, 8 KV heads) or 7B (4096, 32, 32)."""
    h, ffn, kv, layers = {"70b": (8192, 28672, 1024, 80), "7b": (4096, 11008, 4096, 32)}[size]
    vocab = 32000
    out = [("model.embed_tokens.weight", (vocab, h))]
    for i in range(layers):
        p = f"model.layers.{i}"
        out += [(f"{p}.self_attn.q_proj.weight", (h, h)), (f"{p}.self_attn.k_proj.weight", (kv, h)),
                (f"{p}.self_attn.v_proj.weight", (kv, h)), (f"{p}.self_attn.o_proj.weight", (h, h)),
                (f"{p}.mlp.gate_proj.weight", (ffn, h)), (f"{p}.mlp.up_proj.weight", (ffn, h)),
                (f"{p}.mlp.down_proj.weight", (h, ffn)), (f"{p}.input_layernorm.weight", (h,)),
                (f"{p}.post_attention_layernorm.weight", (h,))]
    return [*out, ("model.norm.weight", (h,)), ("lm_head.weight", (vocab, h))]


def numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def write_safetensors(path: Path, tensors: list[tuple[str, tuple[int, ...]]]) -> int:
    header, offset = {}, 0
    for name, shape in tensors:
        size = numel(shape) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape),
                        "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        f.truncate(8 + len(raw) + offset)  # the data is a hole: no disk
    return offset


# A zip archive as torch.save writes it: stored records, 64-byte aligned, zip64 sizes.
_ZERO_CRC: dict[int, int] = {}


def zero_crc(n: int) -> int:
    if n not in _ZERO_CRC:
        crc, chunk = 0, bytes(2**24)
        for start in range(0, n, len(chunk)):
            crc = zlib.crc32(chunk[:min(len(chunk), n - start)], crc)
        _ZERO_CRC[n] = crc
    return _ZERO_CRC[n]


def torch_pickle(tensors: list[tuple[str, tuple[int, ...]]]) -> bytes:
    import torch

    class Storage:
        def __init__(self, key: str, count: int) -> None:
            self.key, self.count = key, count

    class Tensor:
        def __init__(self, storage: Storage, shape: tuple[int, ...]) -> None:
            self.storage, self.shape = storage, shape

        def __reduce_ex__(self, protocol: int):  # what torch.Tensor reduces to
            stride = tuple(numel(self.shape[i + 1:]) for i in range(len(self.shape)))
            return (torch._utils._rebuild_tensor_v2,
                    (self.storage, 0, self.shape, stride, False, OrderedDict()))

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ("storage", torch.BFloat16Storage, obj.key, "cpu", obj.count)
            return None

    state = OrderedDict((name, Tensor(Storage(str(i), numel(shape)), shape))
                        for i, (name, shape) in enumerate(tensors))
    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(state)
    return buf.getvalue()


def write_torch_zip(path: Path, tensors: list[tuple[str, tuple[int, ...]]]) -> None:
    records = [("archive/data.pkl", torch_pickle(tensors)), ("archive/byteorder", b"little")]
    records += [(f"archive/data/{i}", numel(shape) * 2) for i, (_, shape) in enumerate(tensors)]
    records += [("archive/version", b"3\n")]
    central, pos = [], 0
    with path.open("wb") as f:
        for name, content in records:
            size = content if isinstance(content, int) else len(content)
            crc = zero_crc(size) if isinstance(content, int) else zlib.crc32(content)
            raw = name.encode()
            zip64 = struct.pack("<HHQQ", 1, 16, size, size)
            pad = -(pos + 30 + len(raw) + len(zip64) + 4) % 64
            extra = zip64 + struct.pack("<HH", 0x4246, pad) + bytes(pad)
            f.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF,
                                0xFFFFFFFF, len(raw), len(extra)) + raw + extra)
            if isinstance(content, int):
                f.seek(size, os.SEEK_CUR)  # a hole
            else:
                f.write(content)
            central.append((raw, crc, size, pos))
            pos = f.tell()
        start = pos
        for raw, crc, size, offset in central:
            extra = struct.pack("<HHQQQ", 1, 24, size, size, offset)
            f.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc,
                                0xFFFFFFFF, 0xFFFFFFFF, len(raw), len(extra), 0, 0, 0, 0,
                                0xFFFFFFFF) + raw + extra)
        end = f.tell()
        n = len(central)
        f.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, end - start, start))
        f.write(struct.pack("<IIQI", 0x07064B50, 0, end, 1))
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF,
                            0xFFFFFFFF, 0))


def write_gguf(path: Path, layers: int = 48, experts: int = 32) -> int:
    import gguf
    import numpy as np
    from gguf.constants import GGML_QUANT_SIZES
    from gguf.constants import GGMLQuantizationType as Q

    w = gguf.GGUFWriter(str(path), "qwen2moe")
    w.add_context_length(32768)
    w.add_block_count(layers)
    w.add_embedding_length(2048)
    w.add_expert_count(experts)
    w.add_token_list([f"token{i}" for i in range(128256)])
    w.add_token_types([1] * 128256)
    w.add_token_merges([f"a{i} b{i}" for i in range(280147)])
    total = 0

    def add(name: str, shape: tuple[int, ...], qtype: Q) -> None:
        nonlocal total
        block, size = GGML_QUANT_SIZES[qtype]
        nbytes = numel(shape) // block * size
        w.add_tensor_info(name, shape, np.dtype(np.float32), nbytes, raw_dtype=qtype)
        total += -(-nbytes // 32) * 32

    add("token_embd.weight", (128256, 2048), Q.Q4_K)
    for i in range(layers):
        for part, shape in (("attn_q", (2048, 2048)), ("attn_k", (512, 2048)),
                            ("attn_v", (512, 2048)), ("attn_output", (2048, 2048))):
            add(f"blk.{i}.{part}.weight", shape, Q.Q4_K)
        for j in range(experts):
            for part, shape in (("ffn_gate", (1408, 2048)), ("ffn_up", (1408, 2048)),
                                ("ffn_down", (2048, 1536))):
                add(f"blk.{i}.{part}.{j}.weight", shape, Q.Q4_K if part != "ffn_down" else Q.Q6_K)
        add(f"blk.{i}.attn_norm.weight", (2048,), Q.F32)
        add(f"blk.{i}.ffn_norm.weight", (2048,), Q.F32)
    add("output.weight", (128256, 2048), Q.Q6_K)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    header = -(-path.stat().st_size // 32) * 32  # the data starts aligned
    os.truncate(path, header + total)
    return len(w.tensors[0])


def transformer_onnx(layers: int, width: int = 1024, vocab: int = 32000
                     ) -> tuple[list, list[tuple[str, tuple[int, ...]]]]:
    """A GPT-2-like graph's nodes (as torch.onnx names them) and its float32 weights."""
    from onnx import helper

    nodes, weights = [], [("wte", (vocab, width)), ("wpe", (1024, width))]
    nodes.append(helper.make_node("Gather", ["wte", "ids"], ["h0"], name="/wte/Gather"))
    for i in range(layers):
        p, h = f"h.{i}", f"h{i}"
        for part, shape in (("ln_1", (width,)), ("attn.c_attn", (width, 3 * width)),
                            ("attn.c_proj", (width, width)), ("ln_2", (width,)),
                            ("mlp.c_fc", (width, 4 * width)), ("mlp.c_proj", (4 * width, width))):
            op = "LayerNormalization" if part.startswith("ln") else "MatMul"
            weights += [(f"{p}.{part}.weight", shape), (f"{p}.{part}.bias", (shape[-1],))]
            nodes.append(helper.make_node(op, [h, f"{p}.{part}.weight"], [f"{h}.{part}"],
                                          name=f"/{p}/{part.replace('.', '/')}/{op}"))
            nodes.append(helper.make_node("Add", [f"{h}.{part}", f"{p}.{part}.bias"], [h],
                                          name=f"/{p}/{part.replace('.', '/')}/Add"))
    return nodes, weights


def write_onnx(path: Path, layers: int, width: int, vocab: int) -> None:
    """The GPT-2-like graph with its weights as holes (tests/sparse_onnx.py)."""
    from sparse_onnx import write_sparse_onnx

    write_sparse_onnx(path, *transformer_onnx(layers, width, vocab), "gpt")


def build(folder: Path, only: str = "") -> dict[str, Path]:
    """The files whose kind (``safetensors-70b``, ``onnx-1gb``, ...) has ``only`` in it,
    written once."""
    folder.mkdir(parents=True, exist_ok=True)
    writers: dict[str, tuple[Path, Callable[[Path], object]]] = {}
    for name, shape in (("tiny", (1, 64, 1000)), ("1gb", (16, 1024, 32000))):
        writers[f"onnx-{name}"] = (folder / f"gpt-{name}.onnx",
                                   lambda path, shape=shape: write_onnx(path, *shape))
    for size in ("70b", "7b"):
        for kind, suffix, write in (("safetensors", "safetensors", write_safetensors),
                                    ("torch", "pt", write_torch_zip)):
            writers[f"{kind}-{size}"] = (folder / f"llama-{size}.{suffix}", lambda path,
                                         write=write, size=size: write(path, llama(size)))
    writers["gguf"] = (folder / "moe.gguf", write_gguf)
    files = {}
    for kind, (path, write) in writers.items():
        if only in kind:
            if not path.exists():
                write(path)
            files[kind] = path
    return files


# -- the commands ---------------------------------------------------------------------------

SAFE_OPEN = """
import sys
from safetensors import safe_open
with safe_open(sys.argv[1], framework="np") as f:
    shapes = {k: f.get_slice(k).get_shape() for k in f.keys()}
n = 0
for shape in shapes.values():
    c = 1
    for d in shape:
        c *= d
    n += c
print(n)
"""

TORCH_LOAD = """
import sys, torch
state = torch.load(sys.argv[1], mmap=True, weights_only=True)
print(sum(t.numel() for t in state.values()))
"""

GGUF_READER = """
import sys, gguf
print(sum(int(t.n_elements) for t in gguf.GGUFReader(sys.argv[1]).tensors))
"""


ONNX_LOAD = """
import math, sys, onnx
model = onnx.load(sys.argv[1])
print(sum(math.prod(t.dims) for t in model.graph.initializer))
"""


def commands(files: dict[str, Path]) -> list[tuple[str, Path, list[str]]]:
    ours = [PY, "-m", "paramcount", "--format", "json", "--depth", "1"]
    theirs = {"onnx": ("onnx.load", ONNX_LOAD), "safetensors": ("safetensors.safe_open", SAFE_OPEN),
              "torch": ("torch.load(mmap, weights_only)", TORCH_LOAD),
              "gguf": ("gguf.GGUFReader", GGUF_READER)}
    out = []
    for kind, path in files.items():
        tool, script = theirs[kind.split("-")[0]]
        out += [("paramcount", path, [*ours, str(path)]),
                (tool, path, [PY, "-c", script, str(path)])]
    return out


# -- measuring ------------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_long]
_libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]


def drop_cache(path: Path) -> None:
    """Evict the file's pages; dirty pages (a file just written) are written back first."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def cached_bytes(path: Path) -> int:
    """Bytes of ``path`` in the page cache (mincore over a fresh read-only mapping)."""
    size = path.stat().st_size
    fd = os.open(path, os.O_RDONLY)
    try:
        addr = _libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if addr in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), "mmap failed")
        page = mmap.PAGESIZE
        vec = ctypes.create_string_buffer((size + page - 1) // page)
        if _libc.mincore(addr, size, vec) != 0:
            raise OSError(ctypes.get_errno(), "mincore failed")
        _libc.munmap(addr, size)
    finally:
        os.close(fd)
    return sum(b & 1 for b in vec.raw) * page


class Failed(Exception):
    pass


def run(cmd: list[str]) -> tuple[float, str, float]:
    """Wall seconds, standard output and peak memory (MiB) of one run, measured by a helper
    process that runs only this command."""
    proc = subprocess.run([PY, "-c", MEASURE, *cmd], capture_output=True, text=True,
                          env=child_env(TF_CPP_MIN_LOG_LEVEL="3"), check=True)
    r = json.loads(proc.stdout)
    if r["rc"] != 0:
        raise Failed((r["err"].strip().splitlines() or ["?"])[-1][:120])
    return r["wall"], r["out"], r["peak_kib"] / 1024


def count(out: str) -> int:
    out = out.strip()
    return json.loads(out)["total_params"] if out.startswith("{") else int(out.split()[-1])


def measure(cmd: list[str], path: Path, runs: int) -> dict[str, float | int]:
    drop_cache(path)
    before = cached_bytes(path)
    _, out, _ = run(cmd)
    touched = cached_bytes(path) - before  # `before` is 0 unless another process holds pages
    results = [run(cmd) for _ in range(runs)]
    return {"wall": statistics.median(r[0] for r in results), "bytes": touched,
            "count": count(out), "peak_mib": max(r[2] for r in results)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=OUT)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("only", nargs="?", default="",
                        help="only the files whose kind has this in it (onnx, gguf, ...)")
    args = parser.parse_args()
    files = build(args.dir, args.only)
    rows = []
    for tool, path, cmd in commands(files):
        row = {"tool": tool, "file": path.name, "declared_bytes": path.stat().st_size,
               "disk_bytes": path.stat().st_blocks * 512}
        try:
            row.update(measure(cmd, path, args.runs))
        except Failed as err:
            row["failed"] = str(err)
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'file':<22} {'size':>8} {'tool':<31} {'count':>15} {'wall s':>7} "
          f"{'peak MiB':>8} {'bytes read':>13} {'of file':>8}")
    for r in rows:
        size = f"{r['declared_bytes'] / 1e9:.1f} GB"
        if "failed" in r:
            print(f"{r['file']:<22} {size:>8} {r['tool']:<31} failed: {r['failed']}")
            continue
        share = r["bytes"] / r["declared_bytes"]
        print(f"{r['file']:<22} {size:>8} {r['tool']:<31} {r['count']:>15,} {r['wall']:>7.3f} "
              f"{r['peak_mib']:>8.1f} {r['bytes']:>13,} {share:>8.4%}")


if __name__ == "__main__":
    main()
