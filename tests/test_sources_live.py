"""Objects in memory that are not models: pytrees of arrays (a dict of NumPy arrays, a PyTorch
state_dict, a Flax-layout params tree); how summarize() tells them from model descriptions and
paths; and the one error for an object paramcount does not read."""

from __future__ import annotations

import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import paramcount
from paramcount.errors import SpecError

ROOT = Path(__file__).resolve().parent.parent


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 4)


class TiedNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(20, 6)
        self.head = nn.Linear(6, 20, bias=False)
        self.head.weight = self.emb.weight


def flax_tree() -> dict:
    """Flax's layout, NumPy leaves: {"params": {module: {"kernel", "bias"}}}, with a list."""
    return {"params": {
        "Dense_0": {"kernel": np.zeros((4, 8), np.float32), "bias": np.zeros(8, np.float32)},
        "blocks": [{"scale": np.ones(8, np.float32)}, {"scale": np.ones(8, np.float32)}],
        "Dense_1": {"kernel": np.zeros((8, 2), np.float16), "bias": np.zeros(2, np.float16)},
    }}


def test_dict_of_numpy_arrays():
    tree = {"w": np.zeros((3, 4)), "b": np.zeros(4, dtype=np.int8)}
    s = paramcount.summarize(tree)
    assert s.total_params == 3 * 4 + 4
    assert s.by_dtype() == {"float64": (12, 12 * 8), "int8": (4, 4)}
    assert s.stored_bytes() == sum(a.nbytes for a in tree.values())


def test_flax_params_tree_is_grouped_by_key_path():
    tree = flax_tree()
    s = paramcount.summarize(tree)
    assert [name for name, _ in s.weights()] == [
        "params.Dense_0.kernel", "params.Dense_0.bias", "params.blocks.0.scale",
        "params.blocks.1.scale", "params.Dense_1.kernel", "params.Dense_1.bias"]
    assert s.total_params == (4 * 8 + 8) + 2 * 8 + (8 * 2 + 2)
    params = s.layers[0]
    assert [c.name for c in params.children] == ["Dense_0", "blocks", "Dense_1"]
    assert params.children[1].repeat == 2  # numbered children make a group, as checkpoints do
    assert s.by_dtype()["float16"] == (18, 36)
    assert s.framework == "keras"  # `kernel` names: Keras's and Flax's layout


def test_state_dict_equals_the_model():
    model = Net()
    sd = model.state_dict()
    s = paramcount.summarize(sd)
    assert s.total_params + s.buffers == sum(t.numel() for t in sd.values())
    assert s.total_params == sum(p.numel() for p in model.parameters())
    assert s.buffers == sum(b.numel() for b in model.buffers())
    assert (s.framework, s.name) == ("pytorch", "state_dict")


def test_state_dict_counts_a_tied_weight_once():
    model = TiedNet()
    s = paramcount.summarize(model.state_dict())
    assert s.total_params == sum(p.numel() for p in model.parameters()) == 20 * 6
    assert s.meta["tied"] == {"head.weight": "emb.weight"}


def test_meta_tensors_in_a_state_dict_are_not_tied_by_address():
    with torch.device("meta"):
        model = Net()
    s = paramcount.summarize(model.state_dict())
    assert s.total_params == sum(p.numel() for p in model.parameters())
    assert "tied" not in s.meta


def test_one_array_object_twice_is_counted_once():
    shared = np.zeros((5, 5))
    s = paramcount.summarize({"a": {"w": shared}, "b": {"w": shared}})
    assert s.total_params == 25
    assert s.meta["tied"] == {"b.w": "a.w"}


def test_unknown_dtype_is_still_counted():
    s = paramcount.summarize({"w": np.zeros((2, 3), dtype=object), "v": np.zeros(2)})
    assert s.total_params == 8
    assert s.weights()[0][1].dtype is None and s.stored_bytes() is None


def test_none_is_an_empty_subtree_as_in_jax():
    s = paramcount.summarize({"w": np.zeros(3), "opt": None, "more": [None, np.zeros(2)]})
    assert s.total_params == 5


def test_depth_and_options():
    s = paramcount.summarize(flax_tree(), depth=1, name="mlp", framework="pytorch")
    assert [(r.depth, r.node.name) for r in s.rows()] == [(1, "params")]
    assert (s.name, s.framework, s.total_params) == ("mlp", "pytorch", 74)


def test_model_descriptions_still_go_to_their_readers():
    spec = {"input_shape": [4], "layers": [{"Dense": {"units": 2}}]}
    assert paramcount.summarize(spec).total_params == 4 * 2 + 2
    with pytest.raises(SpecError, match="not a model description paramcount knows"):
        paramcount.summarize({"layers_": 3})


def test_a_numpy_pytree_imports_neither_torch_nor_keras():
    code = ("import sys, numpy as np, paramcount\n"
            "s = paramcount.summarize({'a': {'kernel': np.zeros((2, 3))}})\n"
            "assert s.total_params == 6\n"
            "print(sorted(m for m in ('torch', 'keras', 'tensorflow') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


BAD = [
    (42, "cannot summarize a builtins.int; paramcount reads a file or folder path, a model "
         "description dict, a torch.nn.Module, a Keras model or layer, or a mapping/list of "
         "arrays (objects with .shape and .dtype)"),
    (object(), "cannot summarize a builtins.object; paramcount reads"),
    ([1, 2], "cannot summarize a builtins.list; paramcount reads"),
    ({"w": np.zeros(2), "step": 3}, "step: int is not an array (a pytree's leaves need .shape "
                                    "and .dtype)"),
    (OrderedDict(w=np.zeros(2), n=[np.zeros(1), "x"]), "n.1: str is not an array"),
]


@pytest.mark.parametrize(("obj", "message"), BAD, ids=[b[1][:25] for b in BAD])
def test_what_paramcount_does_not_read_is_one_error(obj, message):
    with pytest.raises(SpecError) as err:
        paramcount.summarize(obj)
    assert str(err.value).startswith(message)


def test_nesting_is_bounded():
    tree: dict = {"w": np.zeros(1)}
    for _ in range(70):
        tree = {"a": tree}
    with pytest.raises(SpecError, match=r"^a\.a\.a\.a\.\.\.: nested more than 64 levels deep$"):
        paramcount.summarize(tree)


def test_two_leaves_under_one_dotted_name_are_one_error():
    with pytest.raises(SpecError, match=r"^<dict>: the tensor name 'a\.b' appears twice$"):
        paramcount.summarize({"a.b": np.zeros(1), "a": {"b": np.zeros(2)}})


def test_pytree_option_error():
    with pytest.raises(SpecError, match=r"summarize\(\) of a pytree of arrays has no option "
                                        r"'input_shape'; options: framework, depth, name"):
        paramcount.summarize({"w": np.zeros(2)}, input_shape=(2,))


class FakeArray:
    """Any object with .shape and .dtype is a leaf (a JAX array, a TensorFlow tensor)."""

    def __init__(self, shape: tuple[int, ...], dtype: str) -> None:
        self.shape, self.dtype = shape, dtype


def test_any_object_with_shape_and_dtype_is_a_leaf():
    s = paramcount.summarize([FakeArray((3, 4), "bfloat16"), FakeArray((4,), "weird")])
    assert s.total_params == 16
    assert s.by_dtype() == {"bfloat16": (12, 24)}


LEAF_ERRORS = [
    ([FakeArray((None, 4), "float32")], "0: shape (None, 4) is not a list of known sizes"),
    ({"w": FakeArray((-1, 4), "float32")}, "w: shape (-1, 4) has a negative size"),
]


@pytest.mark.parametrize(("tree", "message"), LEAF_ERRORS, ids=["unknown", "negative"])
def test_a_leaf_with_a_bad_shape_is_one_error(tree, message):
    with pytest.raises(SpecError) as err:
        paramcount.summarize(tree)
    assert str(err.value) == message


def test_an_unknown_framework_is_one_error():
    with pytest.raises(SpecError, match="unknown framework 'jax'; expected 'keras' or 'pytorch'"):
        paramcount.summarize({"w": np.zeros(2)}, framework="jax")
