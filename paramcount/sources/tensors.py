"""Named tensors read from a checkpoint, grouped into a module tree by their dotted names.

Every checkpoint reader (safetensors, GGUF, ONNX, PyTorch, NumPy) produces a flat list of
:class:`Tensor` records (name, shape, stored dtype and bytes, storage key) and
:func:`summarize_tensors` turns it into the same :class:`~paramcount.model.Summary` as every other
source: ``model.layers.0.self_attn.q_proj.weight`` is the weight ``weight`` of the node ``q_proj``
in ``self_attn`` in block ``0`` of the group ``layers``.

Conventions:

- children named ``0 .. N-1`` (N >= 2) make a group of N blocks (``Node.repeat = N``), so that
  identical blocks fold into one row; a tensor with no dotted prefix is a row of its own;
- tensors with the same storage ``key`` are one tensor stored once: the first is counted, the
  others are listed as tied to it;
- PyTorch's BatchNorm running statistics are buffers, not parameters (:func:`is_torch_buffer`);
- node types are guessed from weight names and shapes (``Linear``, ``Embedding``, ``Norm``), for
  display only: counts never depend on them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from paramcount.dtypes import DTYPE_BYTES
from paramcount.errors import SpecError
from paramcount.layers.base import PYTORCH, Weight
from paramcount.model import Summary
from paramcount.quoting import decimal, quote
from paramcount.sources.blobs import Blob, LocalFile
from paramcount.tree import FOLD_AT, Node, Tied

#: called as ``progress(done, total)`` after each file is read
Progress = Callable[[int, int], None]

#: tensors of a PyTorch state_dict that are buffers (``model.buffers()``), not parameters
BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")
MAX_DIM = 2**63 - 1
#: elements in one tensor beyond which no file (of 2**63 bytes at most) can hold it
MAX_NUMEL = 2**63
_MAX_PATH = 32  # module nesting kept in the tree; deeper names keep their tail as one name


class Tensor:
    """One stored tensor: what a checkpoint header says about it.

    ``key`` identifies the stored data (a storage, a byte range): tensors with equal keys are
    the same data, counted once. ``path`` and ``label`` place the tensor in the tree when its
    name is not a dotted module path (ONNX rows are graph nodes).

    A plain class with slots, not a dataclass: readers make one per stored tensor, and a
    frozen dataclass's fields cost three times as much to set and more to read. It is not
    changed once made: :meth:`but` makes a changed copy.

    >>> t = Tensor("fc.weight", (4, 2), "float32", 32)
    >>> t.size, t.but(name="fc.w") == Tensor("fc.w", (4, 2), "float32", 32)
    (8, True)
    """

    __slots__ = ("buffer", "dtype", "key", "label", "name", "nbytes", "path", "shape",
                 "trainable")
    _FIELDS = ("name", "shape", "dtype", "nbytes", "key", "buffer", "path", "label",
               "trainable")

    def __init__(self, name: str, shape: tuple[int, ...], dtype: str, nbytes: int,
                 key: Hashable | None = None, buffer: bool = False,
                 path: tuple[str, ...] | None = None, label: str | None = None,
                 trainable: bool = True) -> None:
        self.name, self.shape, self.dtype, self.nbytes = name, shape, dtype, nbytes
        self.key, self.buffer, self.path, self.label = key, buffer, path, label
        self.trainable = trainable

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f) for f in self._FIELDS)

    def but(self, **changes: Any) -> Tensor:
        """This tensor with some fields changed."""
        return Tensor(**{**dict(zip(self._FIELDS, self._fields(), strict=True)), **changes})

    def __eq__(self, other: object) -> bool:
        return type(other) is Tensor and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}={v!r}" for f, v in zip(self._FIELDS, self._fields(), strict=True))
        return f"Tensor({inner})"

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


def is_torch_buffer(name: str) -> bool:
    """Whether a state_dict entry is a BatchNorm statistic (a buffer in PyTorch).

    >>> is_torch_buffer("bn1.running_var"), is_torch_buffer("fc.weight")
    (True, False)
    """
    return name.endswith(BUFFER_SUFFIXES) and name.rsplit(".", 1)[-1] in BUFFER_SUFFIXES


def check_shape(dims: Any, where: str) -> tuple[int, ...]:
    """A list of dimensions from a header, checked: non-negative integers below 2**63."""
    if not isinstance(dims, list | tuple):
        raise SpecError(f"{where}: shape must be a list of integers, got {type(dims).__name__}")
    for d in dims:
        if not isinstance(d, int) or isinstance(d, bool):
            raise SpecError(f"{where}: dimension {quote(d)} is not an integer")
        if d < 0 or d > MAX_DIM:
            raise SpecError(f"{where}: dimension {d} is out of range")
    return tuple(dims)


def fast_shape(dims: Any) -> tuple[int, ...] | None:
    """``dims`` as a shape when it plainly is one (a list or tuple of ints in range), else
    None: :func:`check_shape` then says what is wrong (the common case without building a
    message).

    >>> fast_shape([4, 4]), fast_shape([4, -1]), fast_shape([True])
    ((4, 4), None, None)
    """
    if type(dims) is not list and type(dims) is not tuple:
        return None
    for d in dims:
        if type(d) is not int or d < 0 or d > MAX_DIM:  # bool is not a size
            return None
    return tuple(dims)


def check_numel(shape: tuple[int, ...], where: str) -> int:
    """The element count of a checked shape, refused beyond :data:`MAX_NUMEL` (no file holds
    more; a stride-0 tensor over one element can claim any shape).

    >>> check_numel((2**40, 2**40), "w")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    paramcount.errors.SpecError: w: shape [1099511627776, 1099511627776] has ... elements, ...
    """
    numel = 1
    for d in shape:
        numel *= d
    if numel > MAX_NUMEL:
        raise SpecError(f"{where}: shape {list(shape)} has {numel} elements, more than any "
                        "file holds")
    return numel


def check_overlaps(where: str, spans: list[tuple[int, int, str]]) -> None:
    """Byte ranges ``(begin, end, name)`` may be equal (one tensor under two names), never
    partly shared.

    >>> check_overlaps("f", [(0, 8, "a"), (0, 8, "b"), (8, 12, "c")])
    >>> check_overlaps("f", [(0, 100, "a"), (10, 20, "b"), (30, 40, "c")])
    Traceback (most recent call last):
    ...
    paramcount.errors.SpecError: f: the data of 'a' [0, 100] and 'b' [10, 20] overlap
    """
    spans = sorted(s for s in spans if s[1] > s[0])
    if not spans:
        return
    last = spans[0]  # the range reaching furthest so far
    for begin, end, name in spans[1:]:
        if begin < last[1] and (begin, end) != last[:2]:
            raise SpecError(f"{where}: the data of {quote(last[2])} [{last[0]}, {last[1]}] and "
                            f"{quote(name)} [{begin}, {end}] overlap")
        if end > last[1]:
            last = (begin, end, name)


# -- the tree -------------------------------------------------------------------------------

#: whether :func:`build_tree` folds a large group of identical blocks (see :func:`every_block`)
_FOLDING: ContextVar[bool] = ContextVar("folding", default=True)


@contextmanager
def every_block() -> Iterator[None]:
    """Within this block checkpoints are read with every block built, none folded: for what
    matches trees path by path (a diff, a config checked against its checkpoint, an adapter
    applied to its base)."""
    token = _FOLDING.set(False)
    try:
        yield
    finally:
        _FOLDING.reset(token)


class _Trie:
    __slots__ = ("children", "tied", "weights")

    def __init__(self) -> None:
        self.children: dict[str, _Trie] = {}
        self.weights: list[tuple[str, Tensor]] = []  # (label, tensor): a Weight once built
        self.tied: list[Tied] = []


def _place(t: Tensor) -> tuple[Sequence[str], str]:
    path: Sequence[str]
    if t.path is not None:
        path, label = t.path, t.label or t.name
    else:
        parts = t.name.split(".")
        if "" in parts:  # "a..b", ".a", "": empty parts dropped
            parts = [p for p in parts if p] or [t.name or "?"]
        label = parts.pop()
        path = parts
    if len(path) > _MAX_PATH:
        path = (*path[:_MAX_PATH - 1], ".".join(path[_MAX_PATH - 1:]))
    return path or (label,), label  # a top-level tensor is a row of its own


def _weight(label: str, t: Tensor) -> Weight:
    return Weight(label, t.shape, t.trainable and not t.buffer, t.buffer, t.dtype, t.nbytes)


def build_tree(tensors: Iterable[Tensor], name: str,
               types: Mapping[tuple[str, ...], str] | None = None,
               tied: Mapping[str, str] | None = None) -> Node:
    """The module tree of ``tensors``; ``types`` names some nodes' types by their path;
    ``tied``: each tied tensor's owner by name, when the caller has them (see
    :func:`_tied_names`).

    A group of numbered blocks that are identical (names, shapes, dtypes, bytes, types) and
    would pass :data:`~paramcount.tree.FOLD_AT` nodes is built once and folded
    (``Node.folded``), as a config's repeated layers are: 100,000 tensors in 10,000 equal
    blocks cost one block (not within :func:`every_block`).

    >>> root = build_tree([Tensor("layers.0.w", (2, 3), "float32", 24),
    ...                    Tensor("layers.1.w", (2, 3), "float32", 24)], "m")
    >>> layers = root.children[0]
    >>> (layers.name, layers.repeat, root.params)
    ('layers', 2, 12)
    """
    tensors = list(tensors)
    if tied is None:
        tied = _tied_names(tensors)
    root = _Trie()
    for t in tensors:
        parts = t.name.split(".") if t.path is None else None
        if parts is not None and 1 < len(parts) <= _MAX_PATH + 1 and "" not in parts:
            label = parts.pop()  # the common name, placed as _place would
            path: Sequence[str] = parts
        else:
            path, label = _place(t)
        node = root
        for part in path:
            below = node.children.get(part)
            if below is None:
                below = node.children[part] = _Trie()
            node = below
        if tied and t.name in tied:
            node.tied.append(Tied(_weight(label, t), tied[t.name]))
        else:
            node.weights.append((label, t))
    return _node(name, root, (), types or {}, _FOLDING.get())


def _numbered(trie: _Trie) -> bool:
    keys = list(trie.children)
    if len(keys) < 2 or trie.weights or not all(
            (n := decimal(k)) is not None and k == str(n) for k in keys):
        return False
    return sorted(int(k) for k in keys) == list(range(len(keys)))


def _node(name: str, trie: _Trie, path: tuple[str, ...],
          types: Mapping[tuple[str, ...], str], fold: bool) -> Node:
    group = _numbered(trie)
    items = sorted(trie.children.items(), key=lambda kv: int(kv[0])) if group \
        else list(trie.children.items())
    folded = group and fold and _foldable(items, path, types)
    children = [_node(k, sub, (*path, k), types, fold)
                for k, sub in items[:1 if folded else None]]
    node = Node(name=name, type="", weights=tuple(_weight(*w) for w in trie.weights),
                children=children, tied=tuple(trie.tied), repeat=len(items) if group else 1,
                folded=folded)
    node.type = types.get(path) or _guess_type(node, path)
    return node


def _foldable(items: list[tuple[str, _Trie]], path: tuple[str, ...],
              types: Mapping[tuple[str, ...], str]) -> bool:
    """Whether a group's numbered blocks are one block repeated and, built one by one, would
    pass FOLD_AT nodes (below that each copy is its own node, as it always was)."""
    first = _signature(items[0][1], (*path, items[0][0]), types)
    if first is None or len(items) * first[1] <= FOLD_AT:
        return False
    return all(_signature(sub, (*path, k), types) == first for k, sub in items[1:])


def _signature(trie: _Trie, path: tuple[str, ...], types: Mapping[tuple[str, ...], str]
               ) -> tuple[Any, int] | None:
    """What a block builds into, apart from its name (weights' names, shapes, dtypes, bytes
    and roles; its type where ``types`` names one; its children's, in order), and its
    nodes; None for a block with a tied weight (the tie names its owner's path)."""
    if trie.tied:
        return None
    nodes = 1
    below: list[Any] = [types.get(path)] if types else []
    for k, sub in trie.children.items():
        sig = _signature(sub, (*path, k) if types else path, types)
        if sig is None:
            return None
        below += (k, sig[0])
        nodes += sig[1]
    return ([(label, t.shape, t.dtype, t.nbytes, t.trainable, t.buffer)
             for label, t in trie.weights], below), nodes


_EMBEDDING = re.compile(r"emb|wte|wpe|tok|shared|word", re.IGNORECASE)
_NORM = re.compile(r"norm|ln|bn", re.IGNORECASE)


def _guess_type(node: Node, path: tuple[str, ...]) -> str:
    if not path:
        return "Model"
    if node.repeat > 1:
        return "ModuleList"
    if node.children:
        return "Block" if path[-1].isdigit() else "Module"
    weights = [*node.weights, *(t.weight for t in node.tied)] if node.tied else node.weights
    main = kernel = None  # the last of each name, as a dict of them keeps
    for w in weights:
        if w.name == "weight":
            main = w
        elif w.name == "kernel":
            kernel = w
        elif w.name == "running_mean":
            return "BatchNorm"
    main = main or kernel
    if main is None:
        return "Tensors"
    rank, label = len(main.shape), path[-1]
    if rank == 1 and _NORM.search(label):
        return "Norm"
    if rank == 2:
        return "Embedding" if _EMBEDDING.search(label) else "Linear"
    if rank in (3, 4, 5) and "conv" in label.lower():
        return f"Conv{rank - 2}d"
    return "Tensors"


# -- the summary ----------------------------------------------------------------------------

def dominant_dtype(tensors: Iterable[Tensor]) -> str:
    """The stored dtype holding the most elements (float32 when none is a known dtype).

    >>> dominant_dtype([Tensor("a", (4,), "bfloat16", 8), Tensor("b", (2,), "float32", 8)])
    'bfloat16'
    """
    tally: dict[str, int] = {}
    for t in tensors:
        tally[t.dtype] = tally.get(t.dtype, 0) + t.size
    return _dominant(tally)


def _dominant(tally: Mapping[str, int]) -> str:
    known = {d: n for d, n in tally.items() if d in DTYPE_BYTES}
    return max(known, key=lambda d: known[d]) if known else "float32"


def summarize_tensors(tensors: Iterable[Tensor], name: str, source: str,
                      framework: str = PYTORCH, meta: Mapping[str, Any] | None = None,
                      types: Mapping[tuple[str, ...], str] | None = None,
                      notes: Iterable[str] = ()) -> Summary:
    """A :class:`Summary` of stored tensors: the module tree, the stored dtype, what is tied.

    ``meta`` (``format``, ``file_bytes``, ``shards``, ...) goes to the JSON document; ``notes``
    are shown under the totals, after one on the files read and one on tied tensors.

    >>> s = summarize_tensors([Tensor("fc.weight", (4, 2), "float32", 32),
    ...                        Tensor("fc.bias", (4,), "float32", 16)], "m", "m.pt")
    >>> s.total_params, s.stored_bytes(), s.layers[0].type
    (12, 48, 'Linear')
    """
    tensors = list(tensors)
    seen: set[str] = set()
    tally: dict[str, int] = {}  # elements by stored dtype
    for t in tensors:  # what every reader found, checked once more before it is believed
        if t.name in seen:
            raise SpecError(f"{source}: the tensor name {quote(t.name)} appears twice")
        tally[t.dtype] = tally.get(t.dtype, 0) + _check(t, source)
        seen.add(t.name)
    tied = _tied_names(tensors)
    info = {**(meta or {}), "tensors": len(tensors) - len(tied)}  # stored once each
    if tied:
        info["tied"] = tied
    root = build_tree(tensors, name, types, tied)
    summary = Summary(root, source=source, framework=framework, dtype=_dominant(tally),
                      meta=info)
    summary.notes += [*_file_note(info), *_tied_note(tied), *notes]
    return summary


def _check(t: Tensor, source: str) -> int:
    """The tensor's elements, its shape and bytes checked."""
    numel = 1
    plain = type(t.shape) is tuple
    if plain:
        for d in t.shape:
            if type(d) is not int or d < 0 or d > MAX_DIM:
                plain = False
                break
            numel *= d
    if not plain or numel > MAX_NUMEL:  # the message, only for a tensor refused
        where = f"{source}: tensor {quote(t.name)}"
        numel = check_numel(check_shape(t.shape, where), where)
    if not isinstance(t.nbytes, int) or t.nbytes < 0:
        raise SpecError(f"{source}: tensor {quote(t.name)} has {t.nbytes} bytes")
    return numel


def _file_note(meta: Mapping[str, Any]) -> list[str]:
    size = meta.get("file_bytes")
    if not isinstance(size, int):
        return []
    files = meta.get("shards", 1)
    what = f"{meta.get('format', 'checkpoint')}, {files} file{'s' if files > 1 else ''}"
    return [f"Read from the headers of {what} ({size:,} bytes); tensors: {meta['tensors']:,}"]


def _tied_note(tied: Mapping[str, str], shown: int = 3) -> list[str]:
    if not tied:
        return []
    pairs = [f"{name} = {owner}" for name, owner in list(tied.items())[:shown]]
    more = f", and {len(tied) - shown} more" if len(tied) > shown else ""
    return [f"Tied (stored once, counted once): {', '.join(pairs)}{more}"]


def _tied_names(tensors: list[Tensor]) -> dict[str, str]:
    owners: dict[Hashable, str] = {}
    tied: dict[str, str] = {}
    for t in tensors:
        if t.key is None:
            continue
        if t.key in owners:
            tied[t.name] = owners[t.key]
        else:
            owners[t.key] = t.name
    return tied


# -- Hugging Face configs next to the weights ------------------------------------------------

_HEADS = ("lm_head.weight", "output.weight", "embed_out.weight")
_INPUT_EMBEDDINGS = ("embed_tokens.weight", "wte.weight", "word_embeddings.weight",
                     "tok_embeddings.weight", "token_embd.weight", "embed_in.weight",
                     "shared.weight")


def hf_ties(config: Mapping[str, Any] | None, tensors: list[Tensor]) -> list[Tensor]:
    """Apply a Hugging Face ``config.json``'s ``tie_word_embeddings: true`` (the one next to
    the weights, :func:`folder_config`).

    transformers then makes the output head share the input embedding: a head stored in the
    checkpoint is listed as tied (counted once); a head left out of it (save_pretrained drops
    tied copies) is listed, for a causal LM, where transformers puts it.
    """
    if not config or not _ties_embeddings(config):
        return tensors
    embed = next((t for t in tensors if len(t.shape) == 2
                  and t.name.endswith(_INPUT_EMBEDDINGS)), None)
    if embed is None:
        return tensors
    key = embed.key if embed.key is not None else ("tie_word_embeddings", embed.name)
    out = [t.but(key=key) if t is embed else t for t in tensors]
    head = next((i for i, t in enumerate(out) if t.name in _HEADS), None)
    if head is not None:
        if sorted(out[head].shape) == sorted(embed.shape):
            out[head] = out[head].but(key=key)
        return out
    if _is_causal_lm(config) and "." in embed.name:
        out.append(Tensor("lm_head.weight", embed.shape, embed.dtype, embed.nbytes, key=key))
    return out


def folder_config(folder: Path) -> dict[str, Any] | None:
    """The Hugging Face ``config.json`` in ``folder``, if there is a readable one."""
    from paramcount.sources.regular import is_regular

    path = folder / "config.json"
    if not is_regular(path):
        return None
    return blob_config(LocalFile(path))


def blob_config(file: Blob) -> dict[str, Any] | None:
    """A ``config.json`` as a dict; None when it cannot be read (the weights are what is
    counted; a broken config only loses the tie)."""
    from paramcount.sources.spec import read_blob_document

    try:
        doc = read_blob_document(file)
    except SpecError:
        return None
    return doc if isinstance(doc, dict) else None


def _ties_embeddings(config: Mapping[str, Any]) -> bool:
    if "tie_word_embeddings" in config:
        return config["tie_word_embeddings"] is True
    text = config.get("text_config")
    return isinstance(text, dict) and text.get("tie_word_embeddings") is True


def _is_causal_lm(config: Mapping[str, Any]) -> bool:
    arch = config.get("architectures")
    names = [a for a in arch if isinstance(a, str)] if isinstance(arch, list) else []
    return any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in names)
