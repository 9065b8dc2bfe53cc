"""The layer protocol and the registry of layer types.

A layer type declares, for a given input shape, the weight tensors it creates (name, shape,
trainable or not, parameter or buffer) and its output shape. Counts are derived from those
shapes, never typed in. A framework convention that changes shapes (PyTorch's second RNN bias,
BatchNorm statistics as buffers) is the ``framework`` argument of the layer, not a second class.

Writing a layer type::

    @register("Dense", torch=("Linear",))
    class Dense(Layer):
        positional = ("units",)                                   # Dense(2)
        torch_positional = ("in_features", "out_features", "bias")  # nn.Linear(4, 2)

        def configure(self, a: Args) -> None:
            self.units = a.int("units", "out_features", min=1)

        def weights(self, x: Shape) -> list[Weight]: ...
        def output_shape(self, x: Shape) -> Shape: ...
        def formula(self, x: Shape) -> Formula | None: ...   # optional closed form
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import import_module
from typing import Any, ClassVar, TypeVar

from paramcount.errors import ShapeError, SpecError
from paramcount.layers.args import Args
from paramcount.quoting import quote
from paramcount.shapes import Dim, Shape, fmt_shape, prod

KERAS = "keras"
PYTORCH = "pytorch"
FRAMEWORKS = {KERAS: KERAS, "tensorflow": KERAS, "tf": KERAS, "tf.keras": KERAS,
              PYTORCH: PYTORCH, "torch": PYTORCH}


def framework_name(name: str) -> str:
    """Normalise a framework name: ``"torch"`` -> ``"pytorch"``, ``"tf"`` -> ``"keras"``."""
    try:
        return FRAMEWORKS[name.lower()]
    except KeyError:
        raise SpecError(f"unknown framework {quote(name)}; expected 'keras' or 'pytorch'") from None


@dataclass(frozen=True, init=False)
class Weight:
    """One weight tensor: its name, shape and role.

    ``buffer`` marks PyTorch state that is not a parameter (BatchNorm running statistics):
    PyTorch's ``model.parameters()`` does not count it, Keras counts the same tensors as
    non-trainable parameters. ``dtype`` and ``nbytes`` are known when the weight was read from a
    file (a checkpoint stores them; a quantized type's bytes follow from its block size).

    >>> Weight("kernel", (4, 2)).size
    8
    """

    name: str
    shape: tuple[int, ...]
    trainable: bool = True
    buffer: bool = False
    dtype: str | None = None
    nbytes: int | None = None
    #: elements, the product of the shape: computed once (every total sums it)
    size: int = field(init=False, repr=False, compare=False)

    def __init__(self, name: str, shape: tuple[int, ...], trainable: bool = True,
                 buffer: bool = False, dtype: str | None = None,
                 nbytes: int | None = None) -> None:
        # A frozen dataclass's own __init__ sets each field through object.__setattr__: three
        # times slower, and a checkpoint of 100,000 tensors makes 100,000 weights.
        d = self.__dict__
        d["name"], d["shape"], d["trainable"], d["buffer"] = name, shape, trainable, buffer
        d["dtype"], d["nbytes"], d["size"] = dtype, nbytes, prod(shape)


@dataclass(frozen=True)
class Formula:
    """A closed form: ``symbolic`` in words, ``numeric`` with the numbers plugged in.

    ``numeric`` uses only integers, ``+``, ``-``, ``×``, ``·`` and parentheses, so a test can
    evaluate it and compare with the count derived from the weight shapes.
    """

    symbolic: str
    numeric: str


@dataclass(frozen=True)
class Attention:
    """What an attention module computes beyond its projections, for FLOPs and the KV cache.

    Scores and mixing cost ``heads × (head_dim + v_head_dim)`` multiply-accumulates for each
    (query, key) pair; a KV cache holds ``kv_heads × (head_dim + v_head_dim)`` elements per
    token (``cache_dims`` when a model caches something else, such as a latent). ``hidden`` is
    the model width the module reads (the ``h`` of activation-memory formulas); ``window`` a
    sliding window, if any; ``cross`` marks attention over another sequence (an encoder's).
    """

    heads: int
    head_dim: int
    kv_heads: int | None = None
    v_head_dim: int | None = None
    hidden: int | None = None
    window: int | None = None
    cross: bool = False
    cache_dims: int | None = None
    #: positions of the queries and of the keys when the model fixes them (a vision
    #: transformer's patches, Whisper's audio frames); None: the sequence's length
    queries: int | None = None
    keys: int | None = None
    #: whether generation caches this module's keys and values: a decoder's self- or
    #: cross-attention; False for an encoder's, which runs once over its whole input
    cached: bool = True

    @property
    def value_dim(self) -> int:
        return self.head_dim if self.v_head_dim is None else self.v_head_dim

    @property
    def pair_macs(self) -> int:
        """MACs per (query, key) pair: QKᵀ then the weighted sum of values, all heads."""
        return self.heads * (self.head_dim + self.value_dim)

    @property
    def kv_per_token(self) -> int:
        """Elements a KV cache keeps for each token of this module."""
        if self.cache_dims is not None:
            return self.cache_dims
        kv = self.heads if self.kv_heads is None else self.kv_heads
        return kv * (self.head_dim + self.value_dim)


@dataclass(frozen=True)
class Recurrent:
    """The fixed state a recurrent token mixer (Mamba, Mamba-2, a gated delta net) keeps for
    each sequence, whatever its length: its causal convolution's last inputs (``channels`` ×
    ``kernel`` as transformers' cache holds them; vLLM and llama.cpp keep ``kernel - 1``) and
    ``ssm`` elements of its recurrent (state-space or linear-attention) state.

    >>> Recurrent(64, 4, 512).elements(), Recurrent(64, 4, 512).elements(full_kernel=False)
    (768, 704)
    """

    channels: int
    kernel: int
    ssm: int

    def elements(self, full_kernel: bool = True) -> int:
        return self.channels * (self.kernel if full_kernel else self.kernel - 1) + self.ssm


@dataclass(frozen=True)
class Built:
    """What a layer makes of its inputs: weights, output shape, closed form and notes."""

    weights: tuple[Weight, ...]
    output_shape: Shape
    formula: Formula | None = None
    notes: tuple[str, ...] = ()


class Layer:
    """Base class of every layer type. Subclasses override ``configure`` and, for one input,
    ``weights``/``output_shape``/``formula``/``notes``; layers of several inputs override
    ``build``."""

    type_name: ClassVar[str] = "Layer"
    #: argument names that only PyTorch uses: passing one selects PyTorch conventions
    torch_args: ClassVar[frozenset[str]] = frozenset()
    #: argument names that a bare value or list fills in order (``Dense: 10``, ``Conv2D: [32, 3]``)
    positional: ClassVar[tuple[str, ...]] = ()
    #: the same for a PyTorch name or convention, in the order of the torch.nn signature
    #: (``Linear(in_features, out_features, bias)``); None where it is ``positional``
    torch_positional: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, config: Mapping[str, Any] | None = None, framework: str = KERAS,
                 strict: bool = True, label: str | None = None) -> None:
        self.config = dict(config or {})
        self.framework = framework_name(framework)
        # the name shown in tables and errors: the one the user wrote (Linear, Conv2d)
        self.label = label or self.type_name
        args = Args(self.label, self.config)
        self.name: str | None = args.get("name", default=None)
        self.trainable = args.bool("trainable", default=True)
        self.configure(args)
        args.finish(strict)

    # -- to override -------------------------------------------------------------------------
    def configure(self, a: Args) -> None:
        """Read and check the arguments."""

    def default_input_shape(self) -> Shape | None:
        """The input shape fixed by the arguments alone (PyTorch's ``in_features``), if any."""
        return None

    def weights(self, x: Shape) -> list[Weight]:
        return []

    def output_shape(self, x: Shape) -> Shape:
        return x

    def formula(self, x: Shape) -> Formula | None:
        return None

    def notes(self, x: Shape) -> list[str]:
        return []

    def macs(self, x: Shape) -> int | None:
        """Forward multiply-accumulates for one sample of shape ``x`` (every dim known).

        The convention, torch.utils.flop_counter's: matrix products and convolutions only
        (a bias add, an activation, a norm, a softmax or a pooling is not counted), so a layer
        with none of them returns 0. ``None`` means the layer type has no formula: it is then
        reported as unknown, never counted as 0.
        """
        return None

    def macs_formula(self, x: Shape) -> Formula | None:
        """The closed form of :meth:`macs` for ``--explain`` (its numeric part evaluates to the
        same number); None where the count needs no words (0) or has no closed form yet."""
        return None

    def macs_formula_of(self, inputs: Sequence[Shape]) -> Formula | None:
        """:meth:`macs_formula` for these input shapes; layers of several inputs override it."""
        return self.macs_formula(inputs[0]) if len(inputs) == 1 else None

    def macs_of(self, inputs: Sequence[Shape]) -> int | None:
        """MACs for these input shapes; layers of several inputs override it."""
        return self.macs(inputs[0]) if len(inputs) == 1 else None

    def attention(self, inputs: Sequence[Shape]) -> Attention | None:
        """The :class:`Attention` this layer computes, for attention layers
        (for its score FLOPs and its KV cache); None for every other layer."""
        return None

    # -- the protocol the model uses ---------------------------------------------------------
    @property
    def torch(self) -> bool:
        return self.framework == PYTORCH

    def build(self, inputs: Sequence[Shape]) -> Built:
        """Weights and output shape for these input shapes (one per input)."""
        if len(inputs) != 1:
            raise ShapeError(f"{self.label} takes one input, got {len(inputs)}")
        x = inputs[0]
        return Built(tuple(self.weights(x)), self.output_shape(x), self.formula(x),
                     tuple(self.notes(x)))

    def build_checked(self, inputs: Sequence[Shape]) -> Built:
        """``build`` plus what every layer shares: ``trainable=False`` freezes all weights."""
        built = self.build(inputs)
        if not self.trainable:
            frozen = tuple(replace(w, trainable=False) for w in built.weights)
            built = replace(built, weights=frozen)
        return built

    def describe(self) -> str:
        args = ", ".join(f"{k}={quote(v)}" for k, v in self.config.items() if k != "name")
        return f"{self.label}({args})"

    # -- helpers for subclasses --------------------------------------------------------------
    def last_dim(self, x: Shape, what: str = "features", expect: int | None = None) -> int:
        """The known last dimension of ``x``, checked against ``expect`` when given."""
        if not x:
            raise ShapeError(
                f"{self.label} needs an input with {what}; got shape {fmt_shape(x)}")
        d = x[-1]
        if d is None:
            raise ShapeError(
                f"{self.label} needs a known number of {what}; got shape {fmt_shape(x)}")
        if expect is not None and d != expect:
            raise ShapeError(f"{self.label} expects {expect} {what}, got shape {fmt_shape(x)}")
        return d

    def rank(self, x: Shape, *ranks: int) -> None:
        """Check that ``x`` has one of the given ranks (batch excluded)."""
        if len(x) not in ranks:
            want = " or ".join(str(r) for r in ranks)
            raise ShapeError(f"{self.label} expects an input of rank {want} (batch excluded), "
                             f"got shape {fmt_shape(x)}")


# -- the registry ----------------------------------------------------------------------------

@dataclass
class _Entry:
    cls: type[Layer]
    torch_name: bool  # the name itself implies PyTorch conventions (Linear, Conv2d)


_REGISTRY: dict[str, _Entry] = {}
_TORCH_PREFIXES = ("torch.nn.", "nn.")
_PREFIXES = (*_TORCH_PREFIXES, "keras.layers.", "layers.", "tf.keras.layers.")
L = TypeVar("L", bound=type[Layer])


def register(*names: str, torch: Iterable[str] = ()) -> Callable[[L], L]:
    """Register a layer class under Keras-style ``names`` and PyTorch-only ``torch`` names.

    The first name is the canonical type name; a class that only PyTorch has gives no Keras
    name, and its first PyTorch name is canonical. A name registered twice is an error.
    """
    torch_names = tuple(torch)

    def deco(cls: L) -> L:
        cls.type_name = (names or torch_names)[0]
        for name, is_torch in [(n, False) for n in names] + [(n, True) for n in torch_names]:
            if name in _REGISTRY:
                raise RuntimeError(f"layer name {name!r} registered twice")
            _REGISTRY[name] = _Entry(cls, is_torch)
        return cls
    return deco


def _strip(name: str) -> str:
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _find(name: str) -> tuple[str, _Entry]:
    """The registered name that ``name`` stands for (prefix stripped, case folded) and its entry;
    the family that registers it is imported on first use (:mod:`paramcount.layers.index`)."""
    from paramcount.layers.index import FAMILIES

    key = _strip(name)
    if key not in FAMILIES:
        key = {k.lower(): k for k in FAMILIES}.get(key.lower(), key)
    if key in FAMILIES and key not in _REGISTRY:
        import_module(f"paramcount.layers.{FAMILIES[key]}")
    entry = _REGISTRY.get(key)
    if entry is None:
        import difflib

        hint = difflib.get_close_matches(key, list(FAMILIES), n=1, cutoff=0.6)
        more = f" (did you mean {quote(hint[0])}?)" if hint else ""
        raise SpecError(f"unknown layer type {quote(name)}{more}")
    return key, entry


def load_all() -> dict[str, _Entry]:
    """The whole registry, every family imported (for listings, completion and docs)."""
    from paramcount.layers.index import MODULES

    for module in MODULES:
        import_module(f"paramcount.layers.{module}")
    return _REGISTRY


def lookup(name: str) -> tuple[type[Layer], bool]:
    """Find a layer class by name or alias; return it and whether the name implies PyTorch
    (a PyTorch-only name such as ``Linear``, or any name written ``nn.X``)."""
    _, entry = _find(name)
    return entry.cls, entry.torch_name or name.startswith(_TORCH_PREFIXES)


def positional_order(name: str, framework: str | None = None) -> tuple[str, ...]:
    """The argument names that bare values fill, in order: the torch.nn signature's for a name
    that implies PyTorch or under ``framework="pytorch"``, the Keras order otherwise.

    >>> positional_order("Linear"), positional_order("Dense")
    (('in_features', 'out_features', 'bias'), ('units',))
    >>> positional_order("nn.LSTM")[:3], positional_order("LazyLinear")
    (('input_size', 'hidden_size', 'num_layers'), ('out_features', 'bias'))
    """
    key, entry = _find(name)
    cls = entry.cls
    torch = lookup(name)[1] or (framework is not None and framework_name(framework) == PYTORCH)
    if not torch or cls.torch_positional is None:
        return cls.positional
    # PyTorch's Lazy modules infer their first argument (in_features, in_channels) from the input
    return cls.torch_positional[1:] if key.startswith("Lazy") else cls.torch_positional


def bind_positional(name: str, values: Sequence[Any], framework: str | None = None
                    ) -> dict[str, Any]:
    """Bare values as the arguments they fill, in the order :func:`positional_order` gives.

    >>> bind_positional("Conv2d", [1, 2, 3])
    {'in_channels': 1, 'out_channels': 2, 'kernel_size': 3}
    """
    order = positional_order(name, framework)
    if len(values) > len(order):
        listed = ", ".join(order) or "none"
        raise SpecError(f"{name} takes {len(order)} positional value(s) ({listed}), got "
                        f"{len(values)}; give the others as NAME=VALUE"
                        f"{_torch_hint(name, order, len(values))}")
    return dict(zip(order, values, strict=False))


def _torch_hint(name: str, order: tuple[str, ...], n: int) -> str:
    """Where Keras's order refused ``n`` values, the PyTorch order that would take them."""
    key, entry = _find(name)
    torch_order = entry.cls.torch_positional
    if torch_order is None or torch_order == order or n > len(torch_order):
        return ""
    torch_name = next((k for k, e in _REGISTRY.items() if e.cls is entry.cls and e.torch_name),
                      key)
    listed = ", ".join(torch_order[:3]) + (", ..." if len(torch_order) > 3 else "")
    return f", or write nn.{torch_name} for PyTorch's order ({listed})"


def registered_names() -> dict[str, list[str]]:
    """Canonical type name -> every name it answers to, for listings and docs."""
    out: dict[str, list[str]] = {}
    for name, entry in load_all().items():
        out.setdefault(entry.cls.type_name, []).append(name)
    return out


def make_layer(name: str, config: Mapping[str, Any] | None = None,
               framework: str | None = None, strict: bool = True) -> Layer:
    """Instantiate a registered layer; ``framework=None`` infers it from the name and arguments.

    >>> make_layer("Linear", {"in_features": 4, "out_features": 2}).framework
    'pytorch'
    """
    cls, torch_name = lookup(name)
    config = dict(config or {})
    if framework is None:
        framework = PYTORCH if torch_name or (set(config) & cls.torch_args) else KERAS
    stripped = _strip(name)
    label = stripped if stripped in _REGISTRY else cls.type_name
    return cls(config, framework=framework, strict=strict, label=label)


__all__ = [
    "KERAS",
    "PYTORCH",
    "Attention",
    "Built",
    "Dim",
    "Formula",
    "Layer",
    "Shape",
    "Weight",
    "bind_positional",
    "lookup",
    "make_layer",
    "positional_order",
    "register",
    "registered_names",
]
