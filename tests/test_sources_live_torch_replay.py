"""The live pass's replay of meta-device calls: a call answered from the cache, from a
formula or from the table of shape-keeping functions gives what torch itself gives (shape,
strides, dtype, requires_grad, the argument an in-place call returns) and the FLOPs that
FlopCounterMode counts for the same call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from paramcount.sources.live.torch_replay import Replay


def meta(*shape: int, grad: bool = False, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.empty(shape, dtype=dtype, device="meta", requires_grad=grad)


def layout(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return (tuple(out.shape), out.stride(), out.dtype, out.requires_grad)
    if isinstance(out, tuple | list):
        return [layout(o) for o in out]
    return out


def torch_says(call: Callable[[], Any]) -> tuple[Any, int]:
    with FlopCounterMode(display=False) as counter:
        out = call()
    return layout(out), counter.get_total_flops()


def replay_says(call: Callable[[], Any], times: int = 3) -> list[tuple[Any, int]]:
    """What the first call (run or by formula) and each replayed call gave, with FLOPs."""
    counter = FlopCounterMode(display=False)
    added = [0]
    replay = Replay(lambda: counter.get_total_flops() + added[0],
                    lambda n: added.__setitem__(0, added[0] + n))
    out = []
    with counter, replay:
        for _ in range(times):
            before = counter.get_total_flops() + added[0]
            result = call()
            out.append((layout(result), counter.get_total_flops() + added[0] - before))
    return out


x4, w4 = meta(2, 8, 11, 10, grad=True), meta(16, 4, 3, 3, grad=True)
CALLS: dict[str, Callable[[], Any]] = {
    "conv2d strided grouped": lambda: F.conv2d(x4, w4, None, 2, 1, 1, 2),
    "conv2d dilated, tuple padding": lambda: F.conv2d(x4, meta(8, 8, 3, 2), meta(8), 1, (2, 0),
                                                      (2, 1)),
    "conv2d padding same": lambda: F.conv2d(x4, meta(8, 8, 3, 3), padding="same"),
    "conv2d by keywords": lambda: F.conv2d(input=x4, weight=meta(8, 8, 1, 1)),
    "conv1d": lambda: F.conv1d(meta(1, 4, 9), meta(6, 4, 3), stride=2),
    "conv3d": lambda: F.conv3d(meta(1, 2, 5, 6, 7), meta(3, 2, 2, 3, 1), padding=1),
    "conv2d unbatched": lambda: F.conv2d(meta(8, 5, 5), meta(2, 8, 3, 3)),
    "conv2d channels last": lambda: F.conv2d(
        x4.contiguous(memory_format=torch.channels_last), meta(8, 8, 3, 3)),
    "batch_norm": lambda: F.batch_norm(x4, meta(8), meta(8), training=False),
    "layer_norm bf16": lambda: F.layer_norm(meta(3, 7, dtype=torch.bfloat16), (7,)),
    "relu": lambda: F.relu(x4),
    "gelu no grad": lambda: F.gelu(meta(3, 5)),
    "transposed relu": lambda: torch.relu(x4.transpose(1, 2)),
    "linear": lambda: F.linear(meta(4, 6, 8, grad=True), meta(5, 8)),
    "matmul": lambda: meta(2, 3, 4, 5) @ meta(5, 6),
    "split": lambda: meta(1, 9, 12).split(4, dim=2),
    "sdpa": lambda: F.scaled_dot_product_attention(meta(1, 2, 6, 8), meta(1, 2, 6, 8),
                                                   meta(1, 2, 6, 8), is_causal=True),
    "index by slices": lambda: meta(4, 5, 6)[:, 1:4, ..., None],
    "view": lambda: meta(4, 6, grad=True).view(2, 12),
    "full of an int": lambda: torch.full((2, 3), 1, device="meta"),
    "full of a float": lambda: torch.full((2, 3), 1.0, device="meta"),
    "full of a bool": lambda: torch.full((2, 3), True, device="meta"),
}


def test_equal_values_of_other_types_are_other_calls():
    """1, 1.0 and True are equal in Python; torch.full makes int64, float32 and bool of them."""
    counter = FlopCounterMode(display=False)
    with Replay(counter.get_total_flops, lambda n: None):
        made = [torch.full((2,), v, device="meta").dtype for v in (1, 1.0, True, 1, 1.0, True)]
    assert made == [torch.int64, torch.float32, torch.bool] * 2


@pytest.mark.parametrize("name", list(CALLS))
def test_replayed_calls_give_what_torch_gives(name):
    expected = torch_says(CALLS[name])
    assert replay_says(CALLS[name]) == [expected] * 3


def test_in_place_calls_return_their_argument_every_time():
    t = meta(2, 3, grad=False)
    counter = FlopCounterMode(display=False)
    with Replay(counter.get_total_flops, lambda n: None):
        for _ in range(3):
            assert F.relu(t, inplace=True) is t
            assert F.relu(t, True) is t
            assert t.add_(1) is t
            assert F.leaky_relu(t, 0.1, True) is t


def test_calls_that_change_metadata_in_place_always_run():
    counter = FlopCounterMode(display=False)
    with Replay(counter.get_total_flops, lambda n: None):
        shapes = []
        for _ in range(2):
            t = meta(2, 3)
            t.unsqueeze_(0)
            shapes.append(tuple(t.shape))
    assert shapes == [(1, 2, 3), (1, 2, 3)]


def test_a_replayed_result_takes_in_place_operations_and_gradients_as_torch_s_does():
    """ResNet's ``out += residual`` on the output of a replayed call that requires grad."""
    counter = FlopCounterMode(display=False)
    with Replay(counter.get_total_flops, lambda n: None):
        for _ in range(2):
            y = F.conv2d(x4, w4, None, 1, 1, 1, 2)
            y += meta(2, 16, 11, 10)
            assert y.requires_grad and y.grad_fn is not None
