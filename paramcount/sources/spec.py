"""paramcount's own model format: YAML or JSON, Keras layer names and arguments.

::

    name: mnist_cnn               # optional
    framework: keras              # or pytorch; inferred from the layer names when absent
    dtype: float32                # bytes per parameter in the totals
    input_shape: [28, 28, 1]      # batch excluded; or `inputs: {image: [28, 28, 1], ...}`
    params: {top: true}           # values for ${...} in `layers`; `--set top=false` overrides
    blocks:                       # parameterized blocks, used like layer types
      conv_bn:
        params: {filters: 64}
        layers:
          - Conv2D: {filters: "${filters}", kernel_size: 3, padding: same}
          - BatchNormalization
    layers:
      - conv_bn: {filters: 32, repeat: 2}
      - Residual:                 # main + shortcut (identity when absent; none: no merge)
          main: [{conv_bn: {filters: 32}}]
      - Flatten
      - Dense: {units: 10, when: "${top}"}

An item is a type name, or a one-key mapping from a type name (a layer, a block, ``Block``,
``Residual`` or ``Parallel``) to its arguments (a mapping, or a bare value / list filling the
layer's positional arguments). Arguments every item takes: ``name``; ``inputs`` (names of earlier
items or model inputs, instead of the previous item); ``repeat`` (N copies, each with ``index``
0..N-1 among its parameters; a block also sees its ``name`` and ``input_shape``); ``share``
(call an earlier layer again: one set of weights);
``tie`` (reuse an earlier layer's weights of the same shape, transposed or not); ``when`` (skip
the item when false).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from paramcount.budget import current, exceeded
from paramcount.build import Builder, as_mapping, snake
from paramcount.errors import ParamcountError, SpecError
from paramcount.layers import lookup, make_layer
from paramcount.layers.base import KERAS, PYTORCH
from paramcount.model import Summary
from paramcount.quoting import quote
from paramcount.shapes import Shape
from paramcount.sources.blobs import Blob
from paramcount.sources.template import substitute
from paramcount.tree import FOLD_AT, Node

_ITEM_KEYS = ("name", "inputs", "repeat", "share", "tie", "when")
_SUGAR = ("Block", "Residual", "Parallel")


def load(path: Path, **options: Any) -> Summary:
    """The source protocol: a YAML or JSON model file in paramcount's format."""
    return from_file(path, **options)


def from_file(path: Path, **options: Any) -> Summary:
    """Read a YAML or JSON model file and summarize it.

    Errors name the file: ``model.yaml: layer 'dense' (Dense) ...``.
    """
    data = read_document(path)
    try:
        return from_dict(data, source=str(path), **options)
    except ParamcountError as err:
        raise err.within(path.name) from None


def read_document(path: Path) -> Any:
    """Parse a YAML or JSON file safely (no tags, no code) with a size bound."""
    from paramcount.sources.regular import read_regular, size_of

    if path.is_dir():
        raise SpecError(f"{path}: is a folder, not a model file")
    limit = current().limits.read_bytes
    size = size_of(path)
    if size > limit:
        raise exceeded("read_bytes", size, limit, str(path))
    data = read_regular(path, limit, "model description")
    text = data.decode("utf-8", errors="replace")
    return parse_document(text, str(path), json_text=path.suffix.lower() == ".json")


def read_blob_document(file: Blob) -> Any:
    """The same for a file read by range (a remote ``config.json``): the whole file, when it
    is within the size bound."""
    size = file.size()
    limit = current().limits.read_bytes
    if size > limit:
        raise exceeded("read_bytes", size, limit, file.label)
    text = file.read(0, size).decode("utf-8", errors="replace")
    return parse_document(text, file.label, json_text=file.name.lower().endswith(".json"))


def parse_document(text: str, where: str, json_text: bool) -> Any:
    """JSON, or YAML's safe subset, with one-line errors naming ``where``."""
    try:
        if json_text:
            return json.loads(text)
        import yaml

        # libyaml's safe loader when present: the same safe subset, several times faster
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        doc = yaml.load(text, Loader=loader)
        expanded(doc, where)
        return doc
    except ParamcountError:
        raise
    except json.JSONDecodeError as err:
        raise SpecError(f"{where}: invalid JSON at line {err.lineno}, column {err.colno}: "
                        f"{err.msg}") from None
    except RecursionError:
        raise SpecError(f"{where}: nested too deeply") from None
    except Exception as err:  # yaml.YAMLError, kept lazy so that yaml loads only when needed
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise SpecError(f"{where}: invalid YAML{at}: {problem}") from None


def expanded(doc: Any, where: str) -> int:
    """The nodes of ``doc`` with every YAML alias expanded, counted without expanding: each
    list or mapping once (aliases make one object appear many times). A document over the
    element budget (a billion laughs) is refused here, before anything echoes it (an error,
    the JSON ``params``); one that contains itself too.

    >>> laugh = ["lol"] * 10
    >>> expanded([laugh] * 10, "x.yaml")
    111
    """
    sizes: dict[int, int | None] = {}

    def size(value: Any) -> int:
        if not isinstance(value, list | dict):
            return 1
        key = id(value)
        if key in sizes:
            known = sizes[key]
            if known is None:
                raise SpecError(f"{where}: the document contains itself (a YAML alias inside "
                                "its own anchor)")
            return known
        sizes[key] = None
        n = 1 + sum(size(v) for v in (value.values() if isinstance(value, dict) else value))
        sizes[key] = n
        return n

    total = size(doc)
    current().check("elements", total, f"{where}: the document with its YAML aliases expanded")
    return total


def from_dict(doc: Any, source: str = "<dict>", params: Mapping[str, Any] | None = None,
              framework: str | None = None, dtype: str | None = None, **_: Any) -> Summary:
    """Summarize a model description given as a dict (the parsed YAML/JSON)."""
    spec = as_mapping(doc, "a model description")
    unknown = set(spec) - {"name", "framework", "dtype", "input_shape", "inputs", "params",
                           "blocks", "layers", "outputs", "description", "variants", "notes"}
    if unknown:
        raise SpecError(f"unknown top-level key {quote(sorted(unknown)[0])}")
    if "layers" not in spec:
        raise SpecError("a model description needs a `layers` list")
    env = dict(as_mapping(spec.get("params", {}), "params"))
    for key, value in (params or {}).items():
        if key not in env:
            raise SpecError(f"unknown parameter {quote(key)} (parameters: "
                            f"{', '.join(env) or 'none'})")
        env[key] = value
    fw = framework or spec.get("framework") or _infer_framework(spec)
    shapes = {k: substitute(spec[k], env) for k in ("inputs", "input_shape") if k in spec}
    interp = _Interpreter({**spec, **shapes}, fw)
    interp.run(spec["layers"], env)
    meta = {"params": env} if env else {}
    return interp.builder.finish(source=source, dtype=dtype or spec.get("dtype", "float32"),
                                 **meta)


def _infer_framework(spec: Mapping[str, Any]) -> str:
    """PyTorch when any layer is named as only PyTorch names it (Linear, Conv2d)."""
    def names(items: Any) -> list[str]:
        out: list[str] = []
        for item in items if isinstance(items, list) else []:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, Mapping) and len(item) == 1:
                key, value = next(iter(item.items()))
                out.append(str(key))
                if isinstance(value, Mapping):
                    for sub in ("layers", "main", "shortcut", "branches"):
                        out += names(value.get(sub))
                    for branch in value.get("branches") or []:
                        out += names(branch)
        return out

    all_names = names(spec.get("layers"))
    for block in (spec.get("blocks") or {}).values():
        if isinstance(block, Mapping):
            all_names += names(block.get("layers"))
    for name in all_names:
        try:
            if lookup(name)[1]:
                return PYTORCH
        except SpecError:
            continue
    return KERAS


def _model_inputs(spec: Mapping[str, Any]) -> dict[str, Shape]:
    if "inputs" in spec:
        raw = as_mapping(spec["inputs"], "inputs")
        return {str(k): _shape(v, f"inputs.{k}") for k, v in raw.items()}
    if "input_shape" in spec:
        return {"input": _shape(spec["input_shape"], "input_shape")}
    return {}


def _shape(value: Any, what: str) -> Shape:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list | tuple) or not all(
        d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in value
    ):
        raise SpecError(f"{what} must be a list of positive integers (or null), got {quote(value)}")
    return tuple(value)


class _Interpreter:
    """Walks the items, calling layers on shapes through a :class:`Builder`.

    ``${...}`` is substituted item by item, in the scope where the item stands: the model's
    ``params`` at the top, a block's parameters (plus ``name`` and ``index``) inside it.
    """

    def __init__(self, spec: Mapping[str, Any], framework: str) -> None:
        self.builder = Builder(str(spec.get("name", "model")), framework)
        self.blocks = {str(k): as_mapping(v, f"block {quote(k)}")
                       for k, v in as_mapping(spec.get("blocks", {}), "blocks").items()}
        self.values: dict[str, Shape] = _model_inputs(spec)
        self.depth = 0

    def run(self, items: Any, env: Mapping[str, Any]) -> None:
        current = next(iter(self.values.values()), None) if len(self.values) == 1 else None
        self.sequence(items, current, "layers", env)

    def sequence(self, items: Any, current: Shape | None, what: str,
                 env: Mapping[str, Any]) -> Shape | None:
        if not isinstance(items, list):
            raise SpecError(f"{what} must be a list of layers, got {type(items).__name__}")
        for i, item in enumerate(items):
            current = self.item(item, current, f"{what}[{i}]", env)
        return current

    def item(self, item: Any, current: Shape | None, where: str,
             env: Mapping[str, Any]) -> Shape | None:
        type_name, raw = _split_item(item, where)
        keys = _item_keys(raw)
        # `name` is read per copy: in a repeat it may use ${index}
        extra = substitute({k: v for k, v in keys.items() if k != "name"}, env)
        if extra.get("when", True) is False:
            return current
        repeat = extra.get("repeat", 1)
        if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1:
            raise SpecError(f"{where}: repeat must be a positive integer, got {quote(repeat)}")
        inputs = self.inputs_of(extra, current, where)
        if repeat == 1:
            extra["name"] = substitute(keys.get("name"), env)
            return self.once(type_name, raw, extra, inputs, where, env)
        return self.repeated(type_name, raw, keys, repeat, inputs, where, env)

    def repeated(self, type_name: str, raw: Any, keys: Mapping[str, Any], repeat: int,
                 inputs: list[Shape], where: str, env: Mapping[str, Any]) -> Shape | None:
        """``repeat`` copies in a group. Copies that cannot differ (no ``${index}``, called
        on the input the copy before was called on) are cloned, not rebuilt, and past
        :data:`~paramcount.tree.FOLD_AT` nodes folded: one block counted × the copies left.
        """
        same = "index" not in repr(raw)
        if not same:  # every copy is built: refused from the count before the first
            current().check("nodes", repeat, f"{where}: {repeat:,} copies that differ "
                            "(${index})")
        with self.builder.block(None, f"{type_name} ×{repeat}", repeat=repeat,
                                base=f"{snake(type_name)}_group") as group:
            out: Shape | None = None
            before: list[Shape] | None = None  # what the copy before was called on
            for i in range(repeat):
                if same and inputs == before and self.fold_or_clone(group, repeat - i + 1):
                    out = group.children[-1].output_shape
                    if group.folded or group.children[-1].folded:
                        break
                    inputs = [out] if out is not None else inputs
                    continue
                before = inputs
                copy_env = {**env, "index": i}
                copy = {"name": substitute(keys.get("name"), copy_env)}
                out = self.once(type_name, raw, copy, inputs, where, copy_env)
                inputs = [out]
        return out

    def fold_or_clone(self, group: Node, left: int) -> bool:
        """The last copy stands for ``left`` copies (itself and the rest): fold them when
        building them would pass FOLD_AT nodes, else clone one more; False when the copy has
        names given explicitly (it is rebuilt, and its names clash)."""
        last = group.children[-1]
        size = 1 + sum(1 for _ in last.walk())
        if (left - 1) * size > FOLD_AT and all(
                n.name_base is not None for n in [last, *(c for _, c in last.walk())]):
            self.builder.fold(group, left)
            return True
        clone = self.builder.clone(last)
        if clone is None:
            return False
        self.values.update((n.name, n.output_shape) for n in [clone, *(
            c for _, c in clone.walk())] if n.output_shape is not None)
        return True

    def inputs_of(self, extra: Mapping[str, Any], current: Shape | None,
                  where: str) -> list[Shape]:
        if "inputs" not in extra:
            if current is None:
                raise SpecError(f"{where}: no input: give the model an `input_shape` "
                                "(or `inputs:`) or the layer an `inputs:` list")
            return [current]
        names = extra["inputs"]
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list) or not names:
            raise SpecError(f"{where}: inputs must be a name or a list of names")
        missing = [n for n in names if n not in self.values]
        if missing:
            raise SpecError(f"{where}: inputs names {quote(missing[0])}, which is not an earlier "
                            f"layer or input (known: {', '.join(self.values)})")
        return [self.values[n] for n in names]

    def once(self, type_name: str, raw: Any, extra: Mapping[str, Any], inputs: list[Shape],
             where: str, env: Mapping[str, Any]) -> Shape:
        name = extra.get("name")
        if type_name in self.blocks:
            out = self.block_call(type_name, substitute(_layer_args(raw), env), name, inputs,
                                  where)
        elif type_name in _SUGAR:
            out = self.sugar(type_name, as_mapping(raw or {}, where), name, inputs, where, env)
        elif "share" in extra:
            out = self.builder.call_again(str(extra["share"]), inputs)
        else:
            args = substitute(_layer_args(raw), env)
            out = self.call_layer(type_name, args, name, inputs, where, extra.get("tie"))
        # a shared layer's second call may be given a name of its own to refer to its output
        self.values[name if name and "share" in extra else self.builder.last.name] = out
        return out

    def call_layer(self, type_name: str, args: Any, name: str | None, inputs: list[Shape],
                   where: str, tie: str | None = None) -> Shape:
        try:
            config = _layer_config(type_name, args, where)
            if name is not None:
                config["name"] = name
            layer = make_layer(type_name, config, self.builder.framework)
        except ParamcountError as err:
            label = f"{type_name} {quote(name)}" if name else type_name
            raise err.within(f"{where} ({label})") from None
        return self.builder.call(layer, inputs, name=layer.name, tie=tie)

    def block_call(self, type_name: str, args: Any, name: str | None, inputs: list[Shape],
                   where: str) -> Shape:
        block = self.blocks[type_name]
        env = dict(as_mapping(block.get("params", {}), f"block {quote(type_name)} params"))
        given = as_mapping(args or {}, f"{where} ({type_name})")
        for key, value in given.items():
            if key not in env:
                raise SpecError(f"{where}: block {quote(type_name)} has no parameter {quote(key)} "
                                f"(parameters: {', '.join(env) or 'none'})")
            env[key] = value
        base = None if name else snake(type_name)
        name = self.builder.claim(name) if name else self.builder.unique(snake(type_name))
        env["name"] = name
        env["input_shape"] = list(inputs[0]) if len(inputs) == 1 else [list(i) for i in inputs]
        return self.nested(name, type_name, block.get("layers", []), inputs,
                           f"{where} ({type_name})", env, base=base, reserved=True)

    def nested(self, name: str | None, type_name: str, items: Any, inputs: list[Shape],
               where: str, env: Mapping[str, Any], base: str | None = None,
               reserved: bool = False) -> Shape:
        self.depth += 1
        current().check("depth", self.depth, f"{where}: blocks nested (a block that uses "
                        "itself?)")
        try:
            with self.builder.block(name, type_name, base=base, reserved=reserved):
                out = self.sequence(items, inputs[0] if len(inputs) == 1 else None, where, env)
        finally:
            self.depth -= 1
        if out is None:
            raise SpecError(f"{where}: block {quote(type_name)} has no layers")
        return out

    def sugar(self, kind: str, args: Mapping[str, Any], name: str | None, inputs: list[Shape],
              where: str, env: Mapping[str, Any]) -> Shape:
        if kind == "Block":
            kind_name = str(substitute(args.get("type", "Block"), env))
            return self.nested(name, kind_name, args.get("layers", []), inputs, where, env)
        if kind == "Residual":
            shortcut = substitute(args.get("shortcut", []), env)
            main = args.get("main", args.get("layers", []))
            if shortcut is None or shortcut == "none":  # no shortcut at all: a plain block
                return self.nested(name, "Block", main, inputs, where, env)
            branches = [main, [] if shortcut == "identity" else shortcut]
        else:
            branches = args.get("branches", [])
        merge = substitute(args.get("merge", "Add"), env)
        return self.parallel(kind, branches, merge, name, inputs, where, env)

    def parallel(self, kind: str, branches: Any, merge: Any, name: str | None,
                 inputs: list[Shape], where: str, env: Mapping[str, Any]) -> Shape:
        if not isinstance(branches, list) or len(branches) < 2:
            raise SpecError(f"{where}: {kind} needs a list of at least two branches")
        if len(inputs) != 1:
            raise SpecError(f"{where}: {kind} takes one input")
        with self.builder.block(name, kind):
            outs = [self.sequence(b, inputs[0], f"{where}.branch{i}", env) or inputs[0]
                    for i, b in enumerate(branches)]
            merge_name, merge_args = _split_item(merge, f"{where}.merge")
            merge_args = merge_args if isinstance(merge_args, Mapping) else {}
            return self.call_layer(merge_name, merge_args, merge_args.get("name"), outs,
                                   f"{where}.merge")


def _split_item(item: Any, where: str) -> tuple[str, Any]:
    if isinstance(item, str):
        return item, None
    if isinstance(item, Mapping) and len(item) == 1:
        key, value = next(iter(item.items()))
        return str(key), value
    if isinstance(item, Mapping):
        raise SpecError(f"{where}: an item is one `Type: arguments` pair, got keys "
                        f"{', '.join(map(str, item))}")
    raise SpecError(f"{where}: expected a layer (a name or `Type: arguments`), got {quote(item)}")


def _item_keys(args: Any) -> dict[str, Any]:
    """The item-level keys (name, inputs, repeat, share, tie, when) of an item's arguments."""
    if not isinstance(args, Mapping):
        return {}
    return {k: args[k] for k in _ITEM_KEYS if k in args}


def _layer_args(args: Any) -> Any:
    """The layer's (or block's) own arguments: everything but the item-level keys."""
    if not isinstance(args, Mapping):
        return args
    return {k: v for k, v in args.items() if k not in _ITEM_KEYS}


def _layer_config(type_name: str, args: Any, where: str) -> dict[str, Any]:
    if args is None:
        return {}
    if isinstance(args, Mapping):
        return dict(args)
    cls, _ = lookup(type_name)
    if len(cls.positional) == 1:  # `Reshape: [7, 7, 64]`: a list is the one value
        return {cls.positional[0]: args}
    values = list(args) if isinstance(args, list) else [args]
    if len(values) > len(cls.positional):
        if not cls.positional:
            raise SpecError(f"{where}: {type_name} takes no bare value; use `{type_name}: "
                            "{argument: value}`")
        raise SpecError(f"{where}: {type_name} takes at most {len(cls.positional)} bare "
                        f"value(s) ({', '.join(cls.positional)})")
    return dict(zip(cls.positional, values, strict=False))

