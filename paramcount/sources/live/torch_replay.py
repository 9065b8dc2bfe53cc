"""Torch calls on the meta device answered from their arguments' shapes: the forward pass of
:mod:`~paramcount.sources.live.torch_pass` without paying for each call's meta kernel.

On the meta device a call's result depends on nothing but its arguments' shapes, strides,
dtypes and plain values (there is no data). A ResNet or a transformer makes the same calls on
the same shapes block after block, and a meta kernel is slow (many are Python decompositions:
``batch_norm`` under a FLOP counter is most of a ResNet-50's pass). So a
``TorchFunctionMode`` keeps, per call signature, what the first such call returned (shapes,
strides, dtypes, which argument an in-place call returned) and the FLOPs the counter saw inside
it, and answers every later call with new empty meta tensors of those shapes and the same FLOPs.

A handful of functions that keep their input's shape and do no matrix product (norms and
activations, :data:`SAME_SHAPE`) are answered without running even once: they contain no
operation that ``FlopCounterMode`` counts, so their FLOPs are 0 by its rules.

A convolution met for the first time is answered by formula (:func:`_conv`): its output
shape by PyTorch's arithmetic and its FLOPs by ``flop_counter.conv_flop_count``, the function
``FlopCounterMode`` itself counts a convolution with; any case the formula does not cover
(string padding, an unbatched input, mismatched channels or dtypes) runs as it is.

A call whose arguments hold anything but tensors and plain values (a Python object, a
callable), or whose result is not tensors and plain values, runs as it is, every time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils.flop_counter import conv_flop_count

Signature = tuple[Any, ...]
_PLAIN = (int, float, bool, str, type(None), torch.dtype, torch.device, torch.memory_format,
          torch.layout)
_VALUES = (int, float, bool, str, type(None), torch.Size, torch.dtype, torch.device)

#: functions whose result is a new tensor shaped, strided and typed as their first argument,
#: with no matrix product inside (0 FLOPs by FlopCounterMode's rules); the value is where a
#: positional ``inplace`` flag goes (``inplace=True`` returns the input itself)
SAME_SHAPE: dict[Any, int | None] = {
    F.batch_norm: None, F.layer_norm: None, F.group_norm: None, F.instance_norm: None,
    F.gelu: None, F.relu: 1, F.relu6: 1, F.silu: 1, F.mish: 1, F.hardswish: 1,
    F.hardsigmoid: 1, F.elu: 2, F.leaky_relu: 2, torch.relu: None, torch.tanh: None,
    torch.sigmoid: None, torch.Tensor.relu: None, torch.Tensor.tanh: None,
    torch.Tensor.sigmoid: None,
}
#: calls that change a tensor's metadata in place (or set an attribute): always run
_MUTATE = frozenset({"__set__", "__setattr__", "requires_grad_", "resize_", "resize_as_",
                     "transpose_", "t_", "squeeze_", "unsqueeze_", "as_strided_", "set_",
                     "swapdims_", "swapaxes_", "detach_", "retain_grad", "share_memory_"})
_TENSORS = (torch.Tensor, torch.nn.Parameter)
#: the dispatch keys of Python modes: a replayed result is made with the FLOP counter (a
#: dispatch mode that decomposes every operator it has no formula for) out of the way
_NO_MODES = (torch._C.DispatchKeySet(torch._C.DispatchKey.Python)
             | torch._C.DispatchKeySet(torch._C.DispatchKey.PythonTLSSnapshot))


class _Unknown(Exception):
    """An argument or a result that is not tensors and plain values: not replayed."""


class Replay(TorchFunctionMode):
    """Answers repeated meta-device calls from a cache; ``total`` reads the FLOP counter and
    ``add`` adds FLOPs to it (the replayed calls' FLOPs go where the counter's would)."""

    def __init__(self, total: Callable[[], int], add: Callable[[int], None]) -> None:
        super().__init__()
        self.total, self.add = total, add
        self.seen: dict[Signature, tuple[Any, int]] = {}

    def __torch_function__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name == "__get__" or name in _MUTATE:  # an attribute read or set: run it
            return func(*args, **kwargs)
        tensors: list[Any] = []
        try:
            key = (func, torch.is_grad_enabled(), _sig(args, tensors), _sig(kwargs, tensors))
        except _Unknown:
            return func(*args, **kwargs)
        grad = key[1] and any(t.requires_grad for t in tensors)
        if func in SAME_SHAPE and args and tensors and tensors[0] is args[0]:
            with torch._C._ExcludeDispatchKeyGuard(_NO_MODES):
                return _same_shape(func, args, kwargs, grad)
        known = self.seen.get(key)
        if known is None:
            known = _by_formula(func, args, kwargs, grad)
            if known is None:
                return self._first(key, func, args, kwargs, tensors)
            self.seen[key] = known
        self.add(known[1])
        with torch._C._ExcludeDispatchKeyGuard(_NO_MODES):
            return _rebuild(known[0], tensors)

    def _first(self, key: Signature, func: Any, args: Any, kwargs: Any,
               tensors: list[Any]) -> Any:
        """Run a call met for the first time; keep what it returned and the FLOPs it cost."""
        before = self.total()
        out = func(*args, **kwargs)
        with contextlib.suppress(_Unknown):  # a result not made of tensors and plain values
            self.seen[key] = (_describe(out, tensors), self.total() - before)
        return out


def _sig(value: Any, tensors: list[Any]) -> Any:
    """A hashable signature of the arguments; their tensors appended to ``tensors``."""
    if isinstance(value, torch.Tensor):
        if type(value) not in _TENSORS or value.device.type != "meta":
            raise _Unknown  # a real tensor, or a subclass with rules of its own: run it
        tensors.append(value)
        return (tuple(value.shape), value.stride(), value.dtype, value.requires_grad)
    if isinstance(value, _PLAIN):  # with its type: 1, 1.0 and True are equal keys, not calls
        return (type(value), value)
    if isinstance(value, tuple | list):
        return (type(value), *(_sig(v, tensors) for v in value))
    if isinstance(value, dict):
        return (dict, *((k, _sig(v, tensors)) for k, v in value.items()))
    if isinstance(value, slice):
        return (slice, _sig(value.start, tensors), _sig(value.stop, tensors),
                _sig(value.step, tensors))
    if value is Ellipsis:
        return value
    raise _Unknown


def _describe(out: Any, tensors: list[Any]) -> Any:
    """What a call returned, to make again: an argument (an in-place call), a new tensor's
    layout, a plain value, or a tuple or list of those."""
    if isinstance(out, torch.Tensor):
        for i, t in enumerate(tensors):
            if out is t:
                return ("argument", i)
        return ("tensor", tuple(out.shape), out.stride(), out.dtype, out.requires_grad)
    if isinstance(out, _VALUES):
        return ("value", out)
    if type(out) in (tuple, list):
        return ("sequence", type(out), tuple(_describe(o, tensors) for o in out))
    raise _Unknown


def _rebuild(what: Any, tensors: list[Any]) -> Any:
    kind = what[0]
    if kind == "argument":
        return tensors[what[1]]
    if kind == "tensor":
        t = torch.empty_strided(what[1], what[2], dtype=what[3], device="meta")
        # a copy of a leaf that requires grad has a grad_fn and takes in-place operations, as
        # an operation's result does
        return t.requires_grad_().clone() if what[4] else t
    if kind == "value":
        return what[1]
    return what[1](_rebuild(o, tensors) for o in what[2])


def _same_shape(func: Any, args: Any, kwargs: Any, requires_grad: bool) -> Any:
    where = SAME_SHAPE[func]
    if kwargs.get("inplace") or (where is not None and len(args) > where and args[where]):
        return args[0]
    t = like(args[0])
    return t.requires_grad_().clone() if requires_grad and t.is_floating_point() else t


def like(t: Any, device: Any = "meta") -> Any:
    """An empty meta tensor shaped, strided and typed as ``t``: ``empty_strided`` for a dense
    tensor (``empty_like`` on the meta device is a Python reference implementation, ten times
    slower), ``empty_like`` for any other."""
    if t.is_contiguous() or (t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last)):
        return torch.empty_strided(t.shape, t.stride(), dtype=t.dtype, device=device)
    return torch.empty_like(t, device=device)


def _by_formula(func: Any, args: Any, kwargs: Any, grad: bool) -> tuple[Any, int] | None:
    """A new tensor's layout and the FLOPs of a call with a formula, else None."""
    formula = FORMULAS.get(func)
    if formula is None:
        return None
    try:
        found = formula(*args, **kwargs)
    except TypeError:  # arguments by other names than the formula's: let torch read them
        return None
    if found is None:
        return None
    shape, flops = found
    return ("tensor", shape, _contiguous(shape), args[0].dtype, grad), flops


def _conv(dims: int) -> Callable[..., tuple[tuple[int, ...], int] | None]:
    """``F.conv{dims}d``'s output shape and FLOPs, or None where the formula does not hold."""
    def formula(x: Any, w: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                dilation: Any = 1, groups: int = 1) -> tuple[tuple[int, ...], int] | None:
        if (x.dim() != dims + 2 or w.dim() != dims + 2 or isinstance(padding, str)
                or not x.is_contiguous() or x.dtype != w.dtype
                or (bias is not None and bias.dtype != x.dtype)
                or x.shape[1] != w.shape[1] * groups or w.shape[0] % groups):
            return None
        s, p, d = (_per_dim(v, dims) for v in (stride, padding, dilation))
        if not len(s) == len(p) == len(d) == dims:
            return None
        spatial = tuple((size + 2 * p[i] - d[i] * (w.shape[2 + i] - 1) - 1) // s[i] + 1
                        for i, size in enumerate(x.shape[2:]))
        if min(spatial, default=1) < 1:
            return None
        shape = (int(x.shape[0]), int(w.shape[0]), *spatial)
        return shape, int(conv_flop_count(list(x.shape), list(w.shape), list(shape)))
    return formula


def _per_dim(value: Any, dims: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, tuple | list) else (value,) * dims


def _contiguous(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(reversed(strides))


#: calls answered by formula the first time they are met
FORMULAS = {F.conv1d: _conv(1), F.conv2d: _conv(2), F.conv3d: _conv(3)}
