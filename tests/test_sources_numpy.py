"""NumPy .npy and .npz files written by numpy: element counts, dtypes and bytes equal numpy's;
Keras weights saved as arrays count as Keras counts; bad headers give one line."""

from __future__ import annotations

import numpy as np
import pytest

import paramcount
from paramcount.cli import main

ARRAYS = {"conv.weight": np.zeros((8, 3, 3, 3), np.float32), "conv.bias": np.zeros(8, np.float16),
          "ids": np.zeros((2, 5), np.int64), "mask": np.zeros(4, bool),
          "z": np.zeros(3, np.complex64), "u": np.zeros((2, 2), np.uint16),
          "big": np.zeros((3, 4), ">f8"), "scalar": np.float32(1.5)}


def _check(summary, arrays):
    weights = dict(summary.weights())
    assert summary.total_params == sum(a.size for a in arrays.values())
    assert summary.stored_bytes() == sum(a.nbytes for a in arrays.values())
    for name, a in arrays.items():
        w = weights[name if "." in name else f"{name}.{name}"]  # a top-level array is a row
        assert w.shape == np.shape(a) and w.nbytes == np.asarray(a).nbytes
        assert w.dtype == np.asarray(a).dtype.name


@pytest.mark.parametrize("compressed", [False, True])
def test_npz_counts_equal_numpys(tmp_path, compressed):
    path = tmp_path / "w.npz"
    (np.savez_compressed if compressed else np.savez)(path, **ARRAYS)
    _check(paramcount.summarize(path), ARRAYS)


def test_npy_single_array_fortran_order_and_version_2(tmp_path):
    path = tmp_path / "kernel.npy"
    np.save(path, np.asfortranarray(np.zeros((5, 7), np.float32)))
    s = paramcount.summarize(path)
    assert s.total_params == 35 and s.layers[0].name == "kernel"
    from numpy.lib import format as npformat

    v2 = tmp_path / "v2.npy"
    with v2.open("wb") as f:
        npformat.write_array(f, np.zeros((2, 3), np.int8), version=(2, 0))
    assert paramcount.summarize(v2).total_params == 6


def test_keras_weights_saved_as_arrays_count_as_keras(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4),
                              keras.layers.BatchNormalization(), keras.layers.Dense(2)],
                             name="sequential")  # as named in a fresh process
    path = tmp_path / "keras.npz"
    np.savez(path, **{w.path: np.asarray(w) for w in model.weights})
    s = paramcount.summarize(path)
    assert s.total_params == model.count_params()
    assert s.framework == "keras"
    assert [n.name for n in s.layers] == [model.name]


def _npy(header: bytes, data: bytes = b"", version: int = 1) -> bytes:
    length = len(header).to_bytes(2 if version == 1 else 4, "little")
    return b"\x93NUMPY" + bytes([version, 0]) + length + header + data


BAD = {
    "magic.npy": (b"NUMPY\x01\x00", "wrong magic number"),
    "version.npy": (_npy(b"{}", version=9), "version 9 is not supported"),
    "literal.npy": (_npy(b"__import__('os')"), "not a Python dict literal"),
    "object.npy": (_npy(b"{'descr': '|O', 'fortran_order': False, 'shape': (2,)}", bytes(16)),
                   "an array of Python objects is pickled data"),
    "struct.npy": (_npy(b"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}"),
                   "is not a plain numeric type"),
    "shape.npy": (_npy(b"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}"),
                  "out of range"),
    "order.npy": (_npy(b"{'descr': '<f4', 'fortran_order': 3, 'shape': (1,)}", bytes(4)),
                  "fortran_order must be True or False"),
    "cut.npy": (_npy(b"{'descr': '<f4', 'fortran_order': False, 'shape': (1000,)}", bytes(10)),
                "truncated: shape [1000] of float32"),
    "header.npy": (b"\x93NUMPY\x01\x00\xff\x00{'descr'", "the header runs past the end"),
    "broken.npz": (b"PK\x03\x04 not really a zip", "not a readable .npz archive"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_files_give_one_line_and_exit_2(tmp_path, capsys, name):
    content, message = BAD[name]
    path = tmp_path / name
    path.write_bytes(content)
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_literal_eval_never_runs_code(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.npy"
    path.write_bytes(_npy(f"open({str(marker)!r}, 'w')".encode()))
    assert main([str(path)]) == 2
    assert not marker.exists()
