"""One forward pass of a live ``torch.nn.Module`` on the meta device: output shapes and the
MACs of every module, the user's model left exactly as it was.

``torch.func.functional_call`` runs the model with meta-device copies of its parameters and
buffers (``requires_grad`` as the originals, one copy per tensor so tied weights stay tied);
``FlopCounterMode``'s operator counter counts FLOPs as paramcount does (matrix products and
convolutions, 1 MAC = 2 FLOPs), and :class:`~paramcount.sources.live.torch_replay.Replay`
answers a call already made on the same shapes from what it returned then, with the FLOPs
counted then (most of a deep model's calls); two global forward hooks, removed in
``finally``, keep the stack of running modules, so each module's own FLOPs are what ran while
it was innermost. Nothing is registered on the model's modules and no data is allocated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from paramcount.dtypes import dtype_name
from paramcount.errors import SpecError
from paramcount.model import Summary
from paramcount.shapes import Shape, fmt_shape
from paramcount.sources.live.common import first_line, input_shapes
from paramcount.tree import Compute, Node


@dataclass
class _Record:
    """What the pass saw of one module: calls, own FLOPs (all calls), first shapes."""

    calls: int = 0
    flops: int = 0
    output: Shape | None = None
    inputs: tuple[Shape, ...] = ()


@dataclass
class _Frame:
    module: Any
    start: int  # total FLOPs when the module was entered
    inner: int = 0  # FLOPs of the known modules it called


@dataclass
class _Pass:
    known: set[int]
    total: Callable[[], int]
    records: dict[int, _Record] = field(default_factory=dict)
    stack: list[_Frame] = field(default_factory=list)

    def enter(self, module: Any, args: Any) -> None:
        if id(module) not in self.known:
            return  # a module outside the tree: its FLOPs are its caller's
        with _plain():
            self._enter(module, args)

    def _enter(self, module: Any, args: Any) -> None:
        rec = self.records.setdefault(id(module), _Record())
        if rec.calls == 0:
            rec.inputs = tuple(_batchless(t) for t in _tensors(args))
        self.stack.append(_Frame(module, self.total()))

    def leave(self, module: Any, args: Any, output: Any) -> None:
        if id(module) not in self.known or not self.stack or self.stack[-1].module is not module:
            return
        with _plain():
            self._leave(module, output)

    def _leave(self, module: Any, output: Any) -> None:
        frame = self.stack.pop()
        spent = self.total() - frame.start
        rec = self.records[id(module)]
        rec.flops += spent - frame.inner
        rec.calls += 1
        if rec.output is None:
            first = next(iter(_tensors(output)), None)
            rec.output = None if first is None else _batchless(first)
        if self.stack:
            self.stack[-1].inner += spent


def _plain() -> Any:
    """Reading shapes in a hook with the pass's torch-function mode out of the way."""
    import torch

    return torch._C.DisableTorchFunction()


def measure(summary: Summary, model: Any, nodes: dict[int, Node], input_shape: Any,
            example_inputs: Any, input_dtype: Any) -> None:
    """Run the pass and put shapes, calls and MACs on ``nodes`` (id(module) -> node); when
    the model cannot run on the meta device, say so in the summary's notes and keep it
    shape-free."""
    import torch

    args, kwargs, batch, what = _inputs(torch, model, input_shape, example_inputs, input_dtype)
    try:
        records = _run(torch, model, set(nodes), args, kwargs)
    except Exception as err:  # any failure of the user's forward on meta tensors
        summary.notes.append(f"could not run on the meta device: {first_line(err)}; shapes and "
                             "FLOPs omitted")
        return
    batch = _apply(nodes, records, id(model), batch)
    summary.view = summary.view.but(compute=(None, batch))  # shown with the measured pass
    summary.meta["input"] = what
    summary.notes.append(f"Shapes and FLOPs from one forward pass on the meta device ({what})")


def _run(torch: Any, model: Any, known: set[int], args: tuple[Any, ...],
         kwargs: dict[str, Any]) -> dict[int, _Record]:
    from torch.func import functional_call
    from torch.nn.modules.module import (
        register_module_forward_hook,
        register_module_forward_pre_hook,
    )

    from paramcount.sources.live.torch_replay import Replay

    slots = _slots(model)
    state = meta_state(torch, slots)
    counter, counting = _counter()
    replayed = [0]

    def total() -> int:
        return int(counter.get_total_flops()) + replayed[0]

    def add(flops: int) -> None:
        replayed[0] += flops

    run = _Pass(known, total)
    handles = [register_module_forward_pre_hook(run.enter),
               register_module_forward_hook(run.leave)]
    try:
        with counting, Replay(total, add):
            # tie_weights=False: each slot is swapped once, which torch restores exactly (a
            # slot swapped twice, a shared module's under two names, would keep the meta copy)
            functional_call(model, state, args, kwargs, tie_weights=False)
    finally:
        for handle in handles:
            handle.remove()
        _restore(slots)
    return run.records


def _counter() -> tuple[Any, Any]:
    """FlopCounterMode and the mode to enter: its operator counter alone where this torch
    has it (``_FlopCounterMode``, without the module tracker whose hooks and per-module
    tables the pass does not need), else the whole of it."""
    from torch.utils import flop_counter

    counter = flop_counter.FlopCounterMode(display=False)
    inner = getattr(flop_counter, "_FlopCounterMode", None)
    return counter, counter if inner is None else inner(counter)


Slot = tuple[Any, str, str, str, Any]  # module, "_parameters" or "_buffers", attribute, path,
#                                        the tensor it holds


def _slots(model: Any) -> list[Slot]:
    """Every parameter and buffer slot of the model once: a shared module's under its first
    path; a tied weight under each module that holds it."""
    out = []
    for path, module in model.named_modules():
        for kind in ("_parameters", "_buffers"):
            for attr, t in getattr(module, kind).items():
                if t is not None:
                    out.append((module, kind, attr, f"{path}.{attr}" if path else attr, t))
    return out


def meta_state(torch: Any, slots: list[Slot]) -> dict[str, Any]:
    """Slot path -> a meta-device tensor like the one it holds; one copy per tensor, so that
    tied weights stay tied."""
    from paramcount.sources.live.torch_replay import like

    copies: dict[int, Any] = {}
    state = {}
    for _, _, _, path, t in slots:
        if id(t) not in copies:
            copy = like(t)
            if t.requires_grad:
                copy.requires_grad_(True)
            copies[id(t)] = copy
        state[path] = copies[id(t)]
    return state


def _restore(slots: list[Slot]) -> None:
    """Put back any tensor the call left swapped: the model ends as it began, whatever the
    forward did."""
    for module, kind, attr, _, t in slots:
        held = getattr(module, kind)
        if held.get(attr) is not t:
            held[attr] = t


def _apply(nodes: dict[int, Node], records: dict[int, _Record], root: int, batch: int) -> int:
    """Shapes and MACs onto the nodes; MACs per sample when every module's split evenly
    across the batch (else for the whole batch, which is then returned as 1)."""
    macs = _split(nodes, records, root, batch)
    if macs is None:
        batch, macs = 1, _split(nodes, records, root, 1)
        assert macs is not None
    for key, node in nodes.items():
        rec = records.get(key, _Record())
        node.calls, node.compute = rec.calls, Compute(fixed=macs.get(key, 0))
        node.output_shape, node.input_shapes = rec.output, rec.inputs
    ran = {id(node) for node in nodes.values() if node.calls}
    for node in nodes.values():
        # a container (ModuleList) is never called itself; say so only of unused modules
        if id(node) not in ran and not any(id(d) in ran for _, d in node.walk()):
            node.remark = "not run in the forward pass"
    return batch


def _split(nodes: dict[int, Node], records: dict[int, _Record], root: int, batch: int
           ) -> dict[int, int] | None:
    """Each module's own MACs for one call of one sample; what does not divide evenly (a
    shared module called on several shapes) is put on the model's own row."""
    out: dict[int, int] = {}
    rest = 0
    for key in nodes:
        rec = records.get(key, _Record())
        if key == root:
            continue
        out[key], r = divmod(rec.flops // 2, max(rec.calls, 1) * batch)
        rest += r
    own = records.get(root, _Record()).flops // 2 + rest
    if own % batch:
        return None
    out[root] = own // batch
    return out


def _inputs(torch: Any, model: Any, input_shape: Any, example_inputs: Any, input_dtype: Any
            ) -> tuple[tuple[Any, ...], dict[str, Any], int, str]:
    """Meta-device inputs: positional, keyword, the batch size, and a description."""
    if example_inputs is not None:
        return _examples(torch, example_inputs)
    shapes = input_shapes(input_shape)
    dtype = _dtype(torch, model, input_dtype)
    args = tuple(torch.empty((1, *s), dtype=dtype, device="meta") for s in shapes)
    what = "input " + ", ".join(fmt_shape(s, batch=False) for s in shapes)
    return args, {}, 1, f"{what}, batch 1"


def _examples(torch: Any, value: Any) -> tuple[tuple[Any, ...], dict[str, Any], int, str]:
    def meta(x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            return torch.empty_like(x, device="meta")
        if isinstance(x, list | tuple):
            return type(x)(meta(v) for v in x)
        if isinstance(x, dict):
            return {k: meta(v) for k, v in x.items()}
        return x

    if isinstance(value, dict):
        args, kwargs = (), meta(value)
    else:
        args, kwargs = tuple(meta(value)) if isinstance(value, list | tuple) else (meta(value),), {}
    first = next(iter(_tensors((args, kwargs))), None)
    if first is None:
        raise SpecError("example_inputs holds no tensor")
    batch = int(first.shape[0]) if first.dim() else 1
    shapes = ", ".join(fmt_shape(tuple(t.shape), batch=False) for t in _tensors((args, kwargs)))
    return args, kwargs, max(batch, 1), f"example inputs {shapes}"


def _dtype(torch: Any, model: Any, given: Any) -> Any:
    """The input dtype: the one given, else int64 token ids for a model that starts with an
    embedding, else the dtype of the model's first floating-point parameter."""
    if given is not None:
        found = given if isinstance(given, torch.dtype) else getattr(
            torch, dtype_name(str(given)), None)
        if not isinstance(found, torch.dtype):
            raise SpecError(f"input_dtype {given!r} is not a torch dtype")
        return found
    first = next((m for m in model.modules() if any(True for _ in m.parameters(recurse=False))),
                 None)
    if first is not None and "Embedding" in type(first).__name__:
        return torch.long
    floats = (p.dtype for p in model.parameters() if p.is_floating_point())
    return next(floats, torch.float32)


def _tensors(value: Any) -> list[Any]:
    """The tensors in a structure of tuples, lists and dicts (a ModelOutput is a dict), in
    order."""
    import torch

    out: list[Any] = []

    def walk(x: Any, depth: int) -> None:
        if isinstance(x, torch.Tensor):
            out.append(x)
        elif depth < 16 and isinstance(x, list | tuple):
            for v in x:
                walk(v, depth + 1)
        elif depth < 16 and isinstance(x, dict):
            for v in x.values():
                walk(v, depth + 1)

    walk(value, 0)
    return out


def _batchless(t: Any) -> Shape:
    return tuple(int(d) for d in t.shape[1:])
