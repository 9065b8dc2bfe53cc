"""Forward FLOPs of recurrent, wrapper and attention layers and of whole CNNs against
torch.utils.flop_counter.FlopCounterMode running the same thing: PyTorch modules on the meta
device, Keras layers on the PyTorch backend (tests/conftest.py selects it), batch 2.

What FlopCounterMode counts (torch 2.13), and so what these tests pin down:

- nn.RNN, nn.LSTM and nn.GRU decompose into one ``addmm`` pair per step, layer and direction:
  the input projection and the recurrent product both count (and an LSTM's projection
  ``weight_hr``). On a CPU tensor nn.LSTM without ``proj_size`` runs the fused oneDNN kernel
  ``mkldnn_rnn_layer``, which FlopCounterMode does not count: it reports 0 there.
- nn.MultiheadAttention counts its four projections and, for every (query, key) pair, QKᵀ and
  the weighted sum of values (an ``add_bias_kv`` or ``add_zero_attn`` key is one more). With
  ``need_weights=False`` on a CPU tensor the product runs in
  ``_scaled_dot_product_flash_attention_for_cpu``, which FlopCounterMode does not count.
- Keras's dot-product attention on the PyTorch backend goes through the same sdpa kernel: those
  cases pin the math kernel (two ``bmm``), as the meta device always does.
- Keras's generic RNN loop (SimpleRNN, GRU with ``reset_after=False``, ConvLSTM) runs the cell
  once more before the loop to learn its output shape: FlopCounterMode counts one step more
  than the layer computes; LSTM and GRU take a loop without that extra step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from oracle import eval_formula

import paramcount
from paramcount import zoo
from paramcount.errors import ShapeError
from paramcount.layers import make_layer

torch = pytest.importorskip("torch")
nn = torch.nn

BATCH = 2


def flop_counter(run: Callable[[], Any]) -> int:
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad(), \
            sdpa_kernel(SDPBackend.MATH):
        run()
    flops: int = counter.get_total_flops()
    return flops


def on_meta(module: Any, shapes: list[tuple[int, ...]], **call: Any) -> int:
    """FlopCounterMode's count of ``module`` on a batch of meta tensors of these shapes."""
    module = module.to("meta").eval()
    xs = [torch.empty((BATCH, *s), device="meta") for s in shapes]
    return flop_counter(lambda: module(*xs, **call))


def ours(name: str, shapes: list[tuple[int, ...]], framework: str | None = None,
         **config: Any) -> int:
    """paramcount's FLOPs for a batch of these shapes."""
    shape: Any = shapes if len(shapes) > 1 else shapes[0]
    summary = paramcount.layer(name, framework=framework, **config).count(shape)
    flops = summary.flops(batch=BATCH)
    assert flops.complete, (flops.unknown, flops.unsized)
    return flops.flops


def explained(name: str, shapes: list[tuple[int, ...]], framework: str | None = None,
              **config: Any) -> int:
    """The FLOPs of a batch by the closed form ``--explain`` prints, evaluated."""
    formula = make_layer(name, config, framework).macs_formula_of(shapes)
    assert formula is not None
    return 2 * BATCH * eval_formula(formula.numeric)


# -- PyTorch layers -----------------------------------------------------------------------------

@dataclass(frozen=True)
class TorchCase:
    name: str                                # the torch.nn class and paramcount layer type
    config: dict[str, Any]
    shapes: list[tuple[int, ...]]            # per sample
    call: dict[str, Any] = field(default_factory=dict)


TORCH_CASES = {
    "rnn": TorchCase("RNN", {"input_size": 3, "hidden_size": 4}, [(5, 3)]),
    "rnn-2-layers-relu-no-bias": TorchCase("RNN", {
        "input_size": 3, "hidden_size": 4, "num_layers": 2, "nonlinearity": "relu",
        "bias": False}, [(5, 3)]),
    "lstm": TorchCase("LSTM", {"input_size": 3, "hidden_size": 4}, [(5, 3)]),
    "lstm-3-layers-bidirectional": TorchCase("LSTM", {
        "input_size": 3, "hidden_size": 4, "num_layers": 3, "bidirectional": True}, [(5, 3)]),
    "lstm-projected": TorchCase("LSTM", {
        "input_size": 3, "hidden_size": 6, "proj_size": 2, "num_layers": 2,
        "bidirectional": True}, [(7, 3)]),
    "gru-2-layers-bidirectional": TorchCase("GRU", {
        "input_size": 3, "hidden_size": 4, "num_layers": 2, "bidirectional": True}, [(5, 3)]),
    "gru-no-bias": TorchCase("GRU", {"input_size": 8, "hidden_size": 5, "bias": False},
                             [(9, 8)]),
    "rnn-cell": TorchCase("RNNCell", {"input_size": 3, "hidden_size": 4}, [(3,)]),
    "lstm-cell": TorchCase("LSTMCell", {"input_size": 3, "hidden_size": 4}, [(3,)]),
    "gru-cell": TorchCase("GRUCell", {"input_size": 3, "hidden_size": 4, "bias": False}, [(3,)]),
    "mha-need-weights": TorchCase("MultiheadAttention", {"embed_dim": 8, "num_heads": 2},
                                  [(5, 8), (7, 8), (7, 8)], {"need_weights": True}),
    "mha-no-weights": TorchCase("MultiheadAttention", {"embed_dim": 8, "num_heads": 2},
                                [(5, 8), (7, 8), (7, 8)], {"need_weights": False}),
    "mha-self": TorchCase("MultiheadAttention", {"embed_dim": 8, "num_heads": 4},
                          [(6, 8)] * 3),
    "mha-kdim-vdim": TorchCase("MultiheadAttention", {
        "embed_dim": 8, "num_heads": 2, "kdim": 3, "vdim": 6}, [(5, 8), (7, 3), (7, 6)],
        {"need_weights": False}),
    "mha-bias-kv-zero-attn": TorchCase("MultiheadAttention", {
        "embed_dim": 8, "num_heads": 2, "add_bias_kv": True, "add_zero_attn": True,
        "bias": False}, [(5, 8), (7, 8), (7, 8)]),
    "transformer-encoder-layer": TorchCase("TransformerEncoderLayer", {
        "d_model": 16, "nhead": 4, "dim_feedforward": 32}, [(10, 16)]),
    "transformer-decoder-layer": TorchCase("TransformerDecoderLayer", {
        "d_model": 16, "nhead": 4, "dim_feedforward": 24, "norm_first": True},
        [(6, 16), (10, 16)]),
}

_BATCH_FIRST = {"RNN", "LSTM", "GRU", "MultiheadAttention", "TransformerEncoderLayer",
                "TransformerDecoderLayer"}


def _torch_module(case: TorchCase) -> Any:
    extra = {"batch_first": True} if case.name in _BATCH_FIRST else {}
    return getattr(nn, case.name)(**case.config, **extra)


@pytest.mark.parametrize("name", TORCH_CASES)
def test_torch_layers(name: str) -> None:
    case = TORCH_CASES[name]
    module = _torch_module(case)
    shape: Any = case.shapes if len(case.shapes) > 1 else case.shapes[0]
    params = paramcount.layer(case.name, framework="pytorch", **case.config).count(shape)
    assert params.total_params == sum(p.numel() for p in module.parameters())
    expected = on_meta(module, case.shapes, **case.call)
    assert ours(case.name, case.shapes, "pytorch", **case.config) == expected
    assert explained(case.name, case.shapes, "pytorch", **case.config) == expected


def test_lstm_on_cpu_counts_nothing() -> None:
    """The oneDNN LSTM kernel is invisible to FlopCounterMode: one reason to count on meta."""
    module = nn.LSTM(3, 4, batch_first=True)
    x = torch.randn(BATCH, 5, 3)
    assert flop_counter(lambda: module(x)) == 0
    assert ours("LSTM", [(5, 3)], "pytorch", input_size=3, hidden_size=4) == \
        2 * BATCH * 5 * 4 * 4 * (3 + 4)  # steps × gates × hidden × (inputs + hidden)


def test_multihead_attention_without_weights_on_cpu() -> None:
    """need_weights=False on CPU: the projections only (the fused attention is not counted),
    short by QKᵀ and the weighted sum: 2 × queries × keys × embed_dim MACs per sample."""
    from torch.utils.flop_counter import FlopCounterMode

    module = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    q, kv = torch.randn(BATCH, 5, 8), torch.randn(BATCH, 7, 8)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(q, kv, kv, need_weights=False)
    ours_flops = ours("MultiheadAttention", [(5, 8), (7, 8), (7, 8)], "pytorch", embed_dim=8,
                      num_heads=2)
    assert counter.get_total_flops() == ours_flops - 2 * BATCH * (2 * 5 * 7 * 8)


# -- Keras layers on the PyTorch backend -----------------------------------------------------------

@dataclass(frozen=True)
class KerasCase:
    build: Callable[[Any], Any]            # keras.layers -> the layer
    name: str
    config: dict[str, Any]
    shapes: list[tuple[int, ...]]
    as_list: bool = False                  # called on [query, value, ...] rather than q, v
    extra_step: int = 0                    # MACs of the step Keras's RNN loop runs first


KERAS_CASES = {
    "lstm": KerasCase(lambda L: L.LSTM(4), "LSTM", {"units": 4}, [(5, 3)]),
    "gru": KerasCase(lambda L: L.GRU(4, return_sequences=True), "GRU",
                     {"units": 4, "return_sequences": True}, [(5, 3)]),
    "gru-reset-before": KerasCase(lambda L: L.GRU(4, reset_after=False), "GRU",
                                  {"units": 4, "reset_after": False}, [(5, 3)],
                                  extra_step=3 * 4 * (3 + 4)),
    "simple-rnn": KerasCase(lambda L: L.SimpleRNN(4), "SimpleRNN", {"units": 4}, [(5, 3)],
                            extra_step=4 * (3 + 4)),
    "conv-lstm-2d": KerasCase(lambda L: L.ConvLSTM2D(4, 3), "ConvLSTM2D",
                              {"filters": 4, "kernel_size": 3}, [(5, 6, 6, 2)],
                              # 4 × 4 outputs × 3·3 kernel × 4 gates·4 filters × (2 + 4)
                              extra_step=4 * 4 * 3 * 3 * 16 * (2 + 4)),
    "bidirectional-lstm": KerasCase(lambda L: L.Bidirectional(L.LSTM(4)), "Bidirectional",
                                    {"layer": {"LSTM": {"units": 4}}}, [(5, 3)]),
    "bidirectional-gru-sum": KerasCase(
        lambda L: L.Bidirectional(L.GRU(6, return_sequences=True), merge_mode="sum"),
        "Bidirectional", {"layer": {"GRU": {"units": 6, "return_sequences": True}},
                          "merge_mode": "sum"}, [(7, 5)]),
    "time-distributed-dense": KerasCase(lambda L: L.TimeDistributed(L.Dense(4)),
                                        "TimeDistributed", {"layer": {"Dense": 4}}, [(5, 3)]),
    "time-distributed-conv": KerasCase(lambda L: L.TimeDistributed(L.Conv2D(2, 3)),
                                       "TimeDistributed", {"layer": {"Conv2D": [2, 3]}},
                                       [(4, 8, 8, 1)]),
    "mha-cross": KerasCase(lambda L: L.MultiHeadAttention(2, 3), "MultiHeadAttention",
                           {"num_heads": 2, "key_dim": 3}, [(5, 8), (7, 6)]),
    "mha-key-gate-output": KerasCase(
        lambda L: L.MultiHeadAttention(2, 3, value_dim=5, use_gate=True, output_shape=4),
        "MultiHeadAttention", {"num_heads": 2, "key_dim": 3, "value_dim": 5,
                               "use_gate": True, "output_shape": 4},
        [(5, 8), (7, 6), (7, 9)]),
    "mha-attention-axes": KerasCase(lambda L: L.MultiHeadAttention(2, 3, attention_axes=(2,)),
                                    "MultiHeadAttention",
                                    {"num_heads": 2, "key_dim": 3, "attention_axes": [2]},
                                    [(3, 5, 8), (3, 7, 6)]),
    "grouped-query-attention": KerasCase(lambda L: L.GroupQueryAttention(3, 4, 2),
                                         "GroupQueryAttention",
                                         {"head_dim": 3, "num_query_heads": 4,
                                          "num_key_value_heads": 2}, [(5, 8), (7, 8)]),
    "dot-attention": KerasCase(lambda L: L.Attention(use_scale=True), "Attention",
                               {"use_scale": True}, [(5, 8), (7, 6), (7, 8)], as_list=True),
    "concat-attention": KerasCase(lambda L: L.Attention(score_mode="concat"), "Attention",
                                  {"score_mode": "concat"}, [(5, 8), (7, 6), (7, 8)],
                                  as_list=True),
    "additive-attention": KerasCase(lambda L: L.AdditiveAttention(), "AdditiveAttention", {},
                                    [(5, 8), (7, 8)], as_list=True),
}


def _keras_layer(case: KerasCase) -> tuple[Any, list[Any]]:
    import keras
    import numpy as np

    layer = case.build(keras.layers)
    xs = [keras.ops.convert_to_tensor(np.random.rand(BATCH, *s).astype("float32"))
          for s in case.shapes]
    return layer, xs


def _call(layer: Any, xs: list[Any], as_list: bool) -> Any:
    return layer(xs) if as_list else layer(*xs)


@pytest.mark.parametrize("name", KERAS_CASES)
def test_keras_layers(name: str) -> None:
    case = KERAS_CASES[name]
    layer, xs = _keras_layer(case)
    _call(layer, xs, case.as_list)  # build it outside the count
    counted = flop_counter(lambda: _call(layer, xs, case.as_list))
    expected = counted - 2 * BATCH * case.extra_step
    assert ours(case.name, case.shapes, "keras", **case.config) == expected
    assert explained(case.name, case.shapes, "keras", **case.config) == expected


@pytest.mark.parametrize("name", ["dot-attention", "concat-attention", "additive-attention"])
def test_keras_attention_weights(name: str) -> None:
    case = KERAS_CASES[name]
    layer, xs = _keras_layer(case)
    _call(layer, xs, case.as_list)
    summary = paramcount.layer(case.name, **case.config).count(case.shapes)
    assert summary.total_params == layer.count_params()
    assert summary.layers[0].output_shape == tuple(_call(layer, xs, True).shape)[1:]


# -- attention descriptions and bad shapes ----------------------------------------------------

@pytest.mark.parametrize("name, config, shapes, heads, kv_heads, key, value", [
    ("MultiheadAttention", {"embed_dim": 8, "num_heads": 2}, [(5, 8)], 2, 2, 4, 4),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 3, "value_dim": 5}, [(5, 8)],
     2, 2, 3, 5),
    ("GroupQueryAttention", {"head_dim": 3, "num_query_heads": 4, "num_key_value_heads": 2},
     [(5, 8)], 4, 2, 3, 3),
    ("Attention", {}, [(5, 8), (7, 6), (7, 8)], 1, 1, 8, 6),
    ("TransformerEncoderLayer", {"d_model": 16, "nhead": 4}, [(10, 16)], 4, 4, 4, 4),
])
def test_attention_descriptions(name: str, config: dict[str, Any], shapes: list[Any],
                                heads: int, kv_heads: int, key: int, value: int) -> None:
    """Heads and widths as the layer's own weights have them (hand-read from the configs)."""
    layer = make_layer(name, config)
    a = layer.attention(shapes)
    assert (a.heads, a.kv_heads, a.head_dim, a.value_dim) == (heads, kv_heads, key, value)


@pytest.mark.parametrize("name, config, shapes, message", [
    ("Attention", {}, [(5, 8)], r"Attention takes \[query, value\] or \[query, value, key\], "
                                "got 1 input"),
    ("Attention", {}, [(5, 8), (7, 6), (7, 4)], "Attention expects 8 key features"),
    ("Attention", {}, [(2, 5, 8), (3, 7, 8)], r"query \(None, 2, 5, 8\) and key "
                                             r"\(None, 3, 7, 8\) must agree on every axis "
                                             "before the last two"),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 3, "attention_axes": [3]},
     [(3, 5, 8), (3, 7, 8)], r"attention_axes=\[3\] does not name axes of the query"),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 3}, [(None, 8)],
     "MultiHeadAttention needs every dimension known to count its MACs"),
    ("LSTM", {"units": 4}, [(None, 3)], "LSTM needs every dimension known to count its MACs"),
    ("TimeDistributed", {"layer": {"Dense": 4}}, [(5,)], "TimeDistributed expects an input "
                                                         "with a time axis"),
])
def test_bad_shapes(name: str, config: dict[str, Any], shapes: list[Any], message: str) -> None:
    layer = make_layer(name, config)
    with pytest.raises(ShapeError, match=message):
        layer.build(shapes)
        layer.macs_of(shapes)


def test_wrapped_layer_errors_name_the_wrapper() -> None:
    layer = make_layer("Bidirectional", {"layer": {"LSTM": 4}})
    with pytest.raises(ShapeError, match=r"Bidirectional \(wrapped LSTM\)"):
        layer.macs((5, 3, 2))


# -- whole CNNs ------------------------------------------------------------------------------

class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 16, 3, groups=4, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(16, 10))

    def forward(self, x: Any) -> Any:
        return self.features(x)


SMALL_CNN = {"framework": "pytorch", "input_shape": [1, 28, 28], "layers": [
    {"Conv2d": {"in_channels": 1, "out_channels": 8, "kernel_size": 3}}, "ReLU",
    {"MaxPool2d": {"kernel_size": 2}},
    {"Conv2d": {"in_channels": 8, "out_channels": 16, "kernel_size": 3, "stride": 2,
                "padding": 1, "bias": False}},
    {"BatchNorm2d": {"num_features": 16}}, "ReLU",
    {"Conv2d": {"in_channels": 16, "out_channels": 16, "kernel_size": 3, "groups": 4,
                "padding": 1}},
    {"AdaptiveAvgPool2d": {"output_size": 1}}, "Flatten",
    {"Linear": {"in_features": 16, "out_features": 10}}]}


class BasicBlock(nn.Module):
    """A ResNet basic block that halves the resolution: its shortcut is a strided 1×1."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(), nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out))
        self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=2, bias=False),
                                      nn.BatchNorm2d(c_out))

    def forward(self, x: Any) -> Any:
        return torch.relu(self.main(x) + self.shortcut(x))


def _conv(c_in: int, c_out: int, k: int, stride: int = 1, padding: int = 0) -> dict[str, Any]:
    return {"Conv2d": {"in_channels": c_in, "out_channels": c_out, "kernel_size": k,
                       "stride": stride, "padding": padding, "bias": False}}


RESNET_BLOCK = {"framework": "pytorch", "input_shape": [8, 16, 16], "layers": [
    {"Residual": {
        "main": [_conv(8, 16, 3, 2, 1), {"BatchNorm2d": {"num_features": 16}}, "ReLU",
                 _conv(16, 16, 3, 1, 1), {"BatchNorm2d": {"num_features": 16}}],
        "shortcut": [_conv(8, 16, 1, 2), {"BatchNorm2d": {"num_features": 16}}]}},
    "ReLU"]}


@pytest.mark.parametrize("spec, module, shape", [
    (SMALL_CNN, SmallCNN, (1, 28, 28)),
    (RESNET_BLOCK, lambda: BasicBlock(8, 16), (8, 16, 16)),
], ids=["small-cnn", "resnet-block"])
def test_torch_cnns(spec: dict[str, Any], module: Callable[[], Any],
                    shape: tuple[int, ...]) -> None:
    flops = paramcount.summarize(spec).flops(batch=BATCH)
    assert flops.complete, (flops.unknown, flops.unsized)
    assert flops.flops == on_meta(module(), [shape])


def test_resnet50_torchvision_at_224() -> None:
    """The zoo's ResNet-50 against test_zoo's torch.nn ResNet-50 (its modules; the forward
    pass torchvision's ResNet.forward and Bottleneck.forward make of them)."""
    from test_zoo import _torchvision_resnet50

    layers = _torchvision_resnet50()

    def bottleneck(block: Any, x: Any) -> Any:
        out = torch.relu(block.bn1(block.conv1(x)))
        out = torch.relu(block.bn2(block.conv2(out)))
        out = block.bn3(block.conv3(out))
        return torch.relu(out + (x if block.downsample is None else block.downsample(x)))

    def forward(x: Any) -> Any:
        x = nn.functional.max_pool2d(torch.relu(layers[1](layers[0](x))), 3, 2, 1)
        for block in list(layers)[2:-1]:
            x = bottleneck(block, x)
        return layers[-1](torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))

    layers = layers.to("meta").eval()
    x = torch.empty(BATCH, 3, 224, 224, device="meta")
    flops = zoo.load("resnet50-torchvision").flops(batch=BATCH)
    assert flops.complete, (flops.unknown, flops.unsized)
    assert flops.flops == flop_counter(lambda: forward(x))


def test_keras_mnist_example() -> None:
    """examples/mnist_cnn.yaml against the same Keras model on the PyTorch backend."""
    from pathlib import Path

    import keras
    import numpy as np

    L = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(), L.Dropout(0.5),
        L.Dense(10, activation="softmax")])
    x = keras.ops.convert_to_tensor(np.random.rand(BATCH, 28, 28, 1).astype("float32"))
    path = Path(__file__).parent.parent / "examples" / "mnist_cnn.yaml"
    flops = paramcount.summarize(path).flops(batch=BATCH)
    assert flops.flops == flop_counter(lambda: model(x))


@pytest.mark.slow
@pytest.mark.parametrize("name,application,shape", [
    ("resnet50", "ResNet50", (224, 224, 3)),
    ("mobilenetv2", "MobileNetV2", (224, 224, 3)),
    ("vgg16", "VGG16", (224, 224, 3)),
])
def test_keras_zoo_models(name: str, application: str, shape: tuple[int, ...]) -> None:
    """The Keras zoo entries against keras.applications building the same model and running
    one forward pass on the PyTorch backend, under FlopCounterMode."""
    import keras
    import numpy as np

    from paramcount import zoo

    model = getattr(keras.applications, application)(weights=None, input_shape=shape)
    x = keras.ops.convert_to_tensor(np.zeros((1, *shape), "float32"))
    assert 2 * zoo.load(name).flops().macs == flop_counter(lambda: model(x))


def test_a_saved_keras_file(tmp_path) -> None:
    """A functional model with a shared layer, saved as .keras and read back without Keras:
    its FLOPs equal Keras's own forward pass under FlopCounterMode."""
    import keras
    import numpy as np

    L = keras.layers
    shared = L.Dense(16, activation="relu")
    inputs = keras.Input((8, 12))
    a = shared(L.Conv1D(12, 3, padding="same")(inputs))
    b = shared(inputs)
    outputs = L.Dense(3)(L.GlobalAveragePooling1D()(L.Add()([a, b])))
    model = keras.Model(inputs, outputs)
    path = tmp_path / "model.keras"
    model.save(path)
    x = keras.ops.convert_to_tensor(np.zeros((BATCH, 8, 12), "float32"))
    assert paramcount.summarize(path).flops(batch=BATCH).flops == \
        flop_counter(lambda: model(x))
