"""Recurrent layers: SimpleRNN, LSTM, GRU (Keras and PyTorch) and ConvLSTM; their wrappers
(Bidirectional, TimeDistributed) are in ``wrappers``.

One class serves both frameworks. Keras keeps one ``kernel`` (inputs, gates·units), one
``recurrent_kernel`` (units, gates·units) and one bias (two rows for GRU's ``reset_after``);
PyTorch keeps ``weight_ih_l{k}``/``weight_hh_l{k}`` and two bias vectors ``bias_ih``/``bias_hh``
per layer and direction, plus ``weight_hr_l{k}`` for an LSTM projection.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from paramcount.errors import ShapeError, SpecError
from paramcount.layers.args import Args
from paramcount.layers.base import PYTORCH, Formula, Layer, Weight, register
from paramcount.layers.spatial import KERNEL_SYMBOLS, Spatial, elements
from paramcount.shapes import Shape, conv_output_length, fmt_shape, prod

_TORCH_ARGS = frozenset({"input_size", "hidden_size", "num_layers", "bidirectional", "proj_size",
                         "bias", "nonlinearity"})


class _Recurrent(Layer):
    """What SimpleRNN, LSTM and GRU share: ``gates`` blocks of ``units`` per weight matrix.

    Input shapes are ``(steps, features)``, batch excluded.
    """

    torch_args = _TORCH_ARGS
    positional = ("units",)
    gates: ClassVar[int] = 1
    torch_module: ClassVar[str] = "nn.RNN"
    projects: ClassVar[bool] = False  # only nn.LSTM has proj_size
    cell: ClassVar[bool] = False  # one step (nn.LSTMCell): input (features,), no layers

    def configure(self, a: Args) -> None:
        self.units: int = a.int("units", "hidden_size", min=1)
        self.use_bias: bool = a.bool("use_bias", "bias", default=True)
        self.input_size: int | None = a.int("input_size", default=None, min=1)
        self.num_layers, self.bidirectional, self.proj_size = 1, False, 0
        if self.cell:
            self.framework = PYTORCH  # a PyTorch module, whatever the model's framework
            self.configure_cell(a)
            return
        self.return_sequences: bool = a.bool("return_sequences", default=False)
        self.num_layers = a.int("num_layers", default=1, min=1)
        self.bidirectional = a.bool("bidirectional", default=False)
        if a.given("proj_size") and not self.projects:
            raise SpecError(f"{self.label}: proj_size is only supported by LSTM")
        self.proj_size = a.int("proj_size", default=0, min=0)
        if self.proj_size >= self.units:
            raise SpecError(f"{self.label}: proj_size={self.proj_size} has to be smaller "
                            f"than hidden_size={self.units}")
        a.given("zero_output_for_mask")  # masking only; no weight shape depends on it
        self.configure_cell(a)
        if not self.torch:
            self._refuse_torch_only()

    def configure_cell(self, a: Args) -> None:
        """Arguments of one kind of cell (GRU's ``reset_after``)."""

    def _refuse_torch_only(self) -> None:
        # Keras has no stacked, bidirectional or projected RNN layer: those are other layers.
        used = {"num_layers": self.num_layers != 1, "bidirectional": self.bidirectional,
                "proj_size": self.proj_size != 0}
        for name in (n for n, on in used.items() if on):
            raise SpecError(
                f"{self.label}: {name}={self.config[name]!r} is a PyTorch argument; in "
                f"Keras stack {self.label} layers (return_sequences=True) or wrap one "
                "in Bidirectional, or pass framework='pytorch'")

    # -- shapes --------------------------------------------------------------------------------
    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def out_size(self) -> int:
        """Size of the hidden state each direction emits (the projection when there is one)."""
        return self.proj_size or self.units

    def keras_bias_vectors(self) -> int:
        """How many bias vectors of gates·units a Keras cell keeps (PyTorch keeps two)."""
        return 1

    def bias_vectors(self) -> int:
        if not self.use_bias:
            return 0
        return 2 if self.torch else self.keras_bias_vectors()

    def default_input_shape(self) -> Shape | None:
        if self.input_size is None:
            return None
        return (self.input_size,) if self.cell else (None, self.input_size)

    def features(self, x: Shape) -> int:
        self.rank(x, 1 if self.cell else 2)
        return self.last_dim(x, expect=self.input_size)

    def weights(self, x: Shape) -> list[Weight]:
        n_in = self.features(x)
        width = self.gates * self.units
        if self.torch:
            return self._torch_weights(n_in, width)
        weights = [Weight("kernel", (n_in, width)), Weight("recurrent_kernel", (self.units, width))]
        if self.use_bias:
            bias = (width,) if self.bias_vectors() == 1 else (self.bias_vectors(), width)
            weights.append(Weight("bias", bias))
        return weights

    def _torch_weights(self, n_in: int, width: int) -> list[Weight]:
        weights = []
        for k in range(self.num_layers):
            layer_in = n_in if k == 0 else self.out_size * self.directions
            for suffix in ("", "_reverse")[: self.directions]:
                suffix = suffix if self.cell else f"_l{k}{suffix}"
                weights += [Weight(f"weight_ih{suffix}", (width, layer_in)),
                            Weight(f"weight_hh{suffix}", (width, self.out_size))]
                if self.use_bias:
                    weights += [Weight(f"bias_ih{suffix}", (width,)),
                                Weight(f"bias_hh{suffix}", (width,))]
                if self.proj_size:
                    weights.append(Weight(f"weight_hr{suffix}", (self.proj_size, self.units)))
        return weights

    def output_shape(self, x: Shape) -> Shape:
        self.rank(x, 1 if self.cell else 2)
        if self.cell:
            return (self.units,)
        if self.torch:  # nn.RNN/LSTM/GRU always return the whole sequence
            return (x[0], self.directions * self.out_size)
        return (x[0], self.units) if self.return_sequences else (self.units,)

    # -- compute -------------------------------------------------------------------------------
    def macs(self, x: Shape) -> int:
        """Every step multiplies the input and the previous state by each gate's matrices
        (the input projection and the recurrent product both count, as FlopCounterMode counts
        nn.LSTM's decomposition into one addmm pair per step), plus the LSTM projection."""
        steps, n_in = 1 if self.cell else elements(self, x[:1]), self.features(x)
        total = 0
        for k in range(self.num_layers):
            layer_in = n_in if k == 0 else self.out_size * self.directions
            cell = self.gates * self.units * (layer_in + self.out_size) + \
                self.proj_size * self.units
            total += self.directions * steps * cell
        return total

    def macs_formula(self, x: Shape) -> Formula:
        """:meth:`macs` in words: per layer and direction, each step's gate products.

        >>> LSTM({"units": 4}).macs_formula((5, 3)).numeric
        '5 × 4 × 4 × (3 + 4)'
        """
        self.macs(x)  # every size it needs known
        h, d = ("hidden", self.directions) if self.torch else ("units", 1)
        r = "proj" if self.proj_size else h
        names = {"steps": "steps", "in": "inputs", "deep": f"{d}·{r}" if d > 1 else r, "h": h,
                 "r": r, "layers": "(layers - 1)"}
        steps, n_in, out = str(x[0]), str(x[-1]), str(self.out_size)
        values = {"steps": steps, "in": n_in, "deep": f"{d}·{out}" if d > 1 else out,
                  "h": str(self.units), "r": out, "layers": str(self.num_layers - 1)}
        return Formula(self._macs_form(names), self._macs_form(values))

    def _macs_form(self, v: Mapping[str, str]) -> str:
        def cell(n_in: str) -> str:
            gates = f"{self.gates} × " if self.gates > 1 else ""
            proj = f" + {v['r']} × {v['h']}" if self.proj_size else ""
            return f"{gates}{v['h']} × ({n_in} + {v['r']}){proj}"

        def layer(n_in: str) -> str:
            body = cell(n_in)
            body = f"({body})" if self.proj_size or self.directions > 1 else body
            lead = f"{self.directions} × " if self.directions > 1 else ""
            return body if self.cell else f"{lead}{v['steps']} × {body}"

        out = layer(v["in"])
        if self.num_layers > 1:
            out += f" + {v['layers']} × ({layer(v['deep'])})"
        return out

    # -- explanation ---------------------------------------------------------------------------
    def formula(self, x: Shape) -> Formula:
        n_in = self.features(x)
        hidden = "hidden" if self.torch else "units"
        names = {"inputs": "inputs", "hidden": hidden, "proj": "proj", "more": "(layers - 1)"}
        values = {"inputs": str(n_in), "hidden": str(self.units), "proj": str(self.proj_size),
                  "more": str(self.num_layers - 1)}
        return Formula(self._closed_form(names), self._closed_form(values))

    def _closed_form(self, v: Mapping[str, str]) -> str:
        """gates·((in + out + biases)·hidden) [+ proj·hidden], per layer and direction."""
        r = v["proj"] if self.proj_size else v["hidden"]

        def cell(n_in: str) -> str:
            biases = f" + {self.bias_vectors()}" if self.use_bias else ""
            s = f"({n_in} + {r}{biases})·{v['hidden']}"
            s = f"{self.gates}·({s})" if self.gates > 1 else s
            return f"{s} + {v['proj']}·{v['hidden']}" if self.proj_size else s

        d = self.directions
        out = cell(v["inputs"]) if d == 1 else f"{d}·({cell(v['inputs'])})"
        if self.num_layers > 1:
            deeper = cell(r if d == 1 else f"{d}·{r}")
            out += f" + {v['more']}·" + (f"{d}·" if d > 1 else "") + f"({deeper})"
        return out

    def notes(self, x: Shape) -> list[str]:
        missing = 2 - self.keras_bias_vectors()  # bias vectors Keras lacks against PyTorch
        if not self.use_bias or missing == 0:
            return []
        extra = missing * self.num_layers * self.directions * self.gates * self.units
        if self.torch:
            return [f"PyTorch keeps two bias vectors (b_ih and b_hh) where Keras keeps one: "
                    f"{extra} more parameters here"]
        return [f"PyTorch's {self.torch_module} keeps a second bias vector (b_hh): it would count "
                f"{extra} more parameters here"]


@register("SimpleRNN", torch=("RNN",))
class SimpleRNN(_Recurrent):
    """A fully connected RNN: ``h = act(x·W + h·U + b)``; PyTorch's ``nn.RNN``."""

    torch_positional: ClassVar[tuple[str, ...] | None] = (
        "input_size", "hidden_size", "num_layers", "nonlinearity", "bias", "batch_first",
        "dropout", "bidirectional")

    def configure_cell(self, a: Args) -> None:
        a.str("nonlinearity", default="tanh", choices=("tanh", "relu"))


@register("LSTM")
class LSTM(_Recurrent):
    """Long short-term memory: four gates (input, forget, cell, output)."""

    gates = 4
    torch_module = "nn.LSTM"
    projects = True
    torch_positional: ClassVar[tuple[str, ...] | None] = (
        "input_size", "hidden_size", "num_layers", "bias", "batch_first",
        "dropout", "bidirectional", "proj_size")

    def configure_cell(self, a: Args) -> None:
        a.given("unit_forget_bias")  # an initializer choice; no shape depends on it


@register("GRU")
class GRU(_Recurrent):
    """Gated recurrent unit: three gates. Keras's ``reset_after=True`` (its default, and
    PyTorch's only convention) keeps separate input and recurrent biases."""

    gates = 3
    torch_module = "nn.GRU"
    torch_positional: ClassVar[tuple[str, ...] | None] = (
        "input_size", "hidden_size", "num_layers", "bias", "batch_first",
        "dropout", "bidirectional")

    def configure_cell(self, a: Args) -> None:
        self.reset_after: bool = a.bool("reset_after", default=True)
        if self.torch and not self.reset_after:
            raise SpecError(f"{self.label}: reset_after=False has no PyTorch equivalent; "
                            "nn.GRU always applies the reset gate after the recurrent product")

    def keras_bias_vectors(self) -> int:
        return 2 if self.reset_after else 1


@register(torch=("RNNCell",))
class RNNCell(SimpleRNN):
    """One step of ``nn.RNN``: input ``(features,)``, output the new state ``(hidden,)``."""

    cell = True
    torch_positional = ("input_size", "hidden_size", "bias", "nonlinearity")


@register(torch=("LSTMCell",))
class LSTMCell(LSTM):
    """One step of ``nn.LSTM`` (no projection): returns the new ``(h, c)``, each
    ``(hidden,)``."""

    cell = True
    torch_positional = ("input_size", "hidden_size", "bias")


@register(torch=("GRUCell",))
class GRUCell(GRU):
    """One step of ``nn.GRU``."""

    cell = True
    torch_positional = ("input_size", "hidden_size", "bias")


# -- convolutional LSTM ------------------------------------------------------------------------

class _ConvLSTM(Spatial):
    """An LSTM whose four gates are convolutions: input ``(steps, *spatial, channels)``
    (channels first after the steps with ``data_format='channels_first'``)."""

    positional = ("filters", "kernel_size")

    def configure(self, a: Args) -> None:
        n = self.dims
        self.filters: int = a.int("filters", min=1)
        self.kernel_size: tuple[int, ...] = a.ints("kernel_size", n=n)
        self.strides: tuple[int, ...] = a.ints("strides", n=n, default=1)
        self.dilation: tuple[int, ...] = a.ints("dilation_rate", n=n, default=1)
        self.padding: str = a.str("padding", default="valid", choices=("valid", "same"))
        self.use_bias: bool = a.bool("use_bias", default=True)
        self.return_sequences: bool = a.bool("return_sequences", default=False)
        self.read_data_format(a)
        a.given("unit_forget_bias")  # an initializer choice; no shape depends on it
        if max(self.strides) > 1 and max(self.dilation) > 1:
            raise SpecError(f"{self.label}: strides={self.config.get('strides')!r} > 1 "
                            f"cannot be combined with dilation_rate="
                            f"{self.config.get('dilation_rate')!r} > 1")

    def _split(self, x: Shape) -> tuple[tuple[int, ...], int]:
        """The known spatial dimensions and channels of one step of ``x``."""
        self.rank(x, self.dims + 2)
        channels, spatial = self.split(x[1:])
        if channels is None:
            raise ShapeError(f"{self.label} needs a known number of channels; got shape "
                             f"{fmt_shape(x)}")
        known = tuple(d for d in spatial if d is not None)
        if len(known) != len(spatial):
            raise ShapeError(f"{self.label} needs known spatial dimensions; got shape "
                             f"{fmt_shape(x)}")
        return known, channels

    def weights(self, x: Shape) -> list[Weight]:
        _, channels = self._split(x)
        width = 4 * self.filters
        weights = [Weight("kernel", (*self.kernel_size, channels, width)),
                   Weight("recurrent_kernel", (*self.kernel_size, self.filters, width))]
        return weights + ([Weight("bias", (width,))] if self.use_bias else [])

    def _out_spatial(self, x: Shape) -> Shape:
        spatial, _ = self._split(x)
        return tuple(conv_output_length(d, k, s, self.padding, r) for d, k, s, r in
                     zip(spatial, self.kernel_size, self.strides, self.dilation, strict=True))

    def output_shape(self, x: Shape) -> Shape:
        step = self.join(self.filters, self._out_spatial(x))
        return (x[0], *step) if self.return_sequences else step

    def macs(self, x: Shape) -> int:
        """Each step convolves the input, and the previous state (of the output's size, its
        convolution always ``same`` with stride 1), into the four gates."""
        _, channels = self._split(x)
        positions = prod([d or 0 for d in self._out_spatial(x)])
        return elements(self, x[:1]) * positions * prod(self.kernel_size) * 4 * self.filters * (
            channels + self.filters)

    def macs_formula(self, x: Shape) -> Formula:
        """:meth:`macs` in words.

        >>> ConvLSTM2D({"filters": 4, "kernel_size": 3}).macs_formula((5, 6, 6, 2)).numeric
        '5 × 4·4 × 3·3 × 4·4 × (2 + 4)'
        """
        self.macs(x)
        _, channels = self._split(x)
        out = "·".join(str(d) for d in self._out_spatial(x))
        k = "·".join(str(d) for d in self.kernel_size)
        return Formula(f"steps × output positions × {KERNEL_SYMBOLS[self.dims]} × 4·filters × "
                       "(channels + filters)",
                       f"{x[0]} × {out} × {k} × 4·{self.filters} × ({channels} + {self.filters})")

    def formula(self, x: Shape) -> Formula:
        _, channels = self._split(x)
        k_sym = KERNEL_SYMBOLS[self.dims]
        k_num = "·".join(str(k) for k in self.kernel_size)
        if self.use_bias:
            return Formula(f"4·({k_sym}·(channels + filters) + 1)·filters",
                           f"4·({k_num}·({channels} + {self.filters}) + 1)·{self.filters}")
        return Formula(f"4·{k_sym}·(channels + filters)·filters",
                       f"4·{k_num}·({channels} + {self.filters})·{self.filters}")


@register("ConvLSTM1D")
class ConvLSTM1D(_ConvLSTM):
    """ConvLSTM over sequences of 1-D signals: input ``(steps, length, channels)``."""

    dims = 1


@register("ConvLSTM2D")
class ConvLSTM2D(_ConvLSTM):
    """ConvLSTM over sequences of images: input ``(steps, height, width, channels)``."""

    dims = 2


@register("ConvLSTM3D")
class ConvLSTM3D(_ConvLSTM):
    """ConvLSTM over sequences of volumes: input ``(steps, depth, height, width, channels)``."""

    dims = 3
