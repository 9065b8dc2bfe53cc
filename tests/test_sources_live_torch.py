"""Live torch.nn.Module objects: counts equal model.parameters() and model.buffers(), rows equal
torchinfo's, FLOPs per module equal FlopCounterMode run on the real model, and the model is left
exactly as it was (no hook, no device, dtype, value, requires_grad or training flag changed)."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torchinfo
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import paramcount
from paramcount.errors import SpecError
from paramcount.model import Summary
from paramcount.tree import Node

warnings.filterwarnings("ignore", message=".*enable_nested_tensor.*")


class TiedLM(nn.Module):
    """An LM head that reuses the embedding matrix (one Parameter in two modules)."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(50, 16)
        self.body = nn.Sequential(nn.Linear(16, 16), nn.GELU(), nn.LayerNorm(16))
        self.head = nn.Linear(16, 50, bias=False)
        self.head.weight = self.emb.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.emb(ids)))


class Shared(nn.Module):
    """One block held under two names and called three times."""

    def __init__(self) -> None:
        super().__init__()
        self.inp = nn.Linear(8, 12)
        self.block = nn.Sequential(nn.Linear(12, 12), nn.ReLU())
        self.again = self.block
        self.out = nn.Linear(12, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inp(x)
        return self.out(self.again(self.block(self.block(x))))


class Recurrent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(8, 16, num_layers=2, batch_first=True)
        self.head = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


class Bottleneck(nn.Module):
    """A residual block as ResNet's: an in-place ReLU and an in-place sum with the input."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1, self.bn = nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c)
        self.act, self.conv2 = nn.ReLU(inplace=True), nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.act(self.bn(self.conv1(x))))
        y += x
        return torch.relu(y)


class Convolutions(nn.Module):
    """Repeated blocks (the calls the pass answers from its cache) and the convolutions its
    formula reads or leaves to torch: strided, grouped and dilated, padding="same", 1-D."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=(1, 1), bias=False)
        self.blocks = nn.Sequential(*(Bottleneck(8) for _ in range(3)))
        self.depthwise = nn.Conv2d(8, 8, 3, padding="same", groups=8, dilation=2)
        self.grouped = nn.Conv2d(8, 4, (3, 1), stride=(2, 1), groups=2)
        self.line = nn.Conv1d(4, 4, 3, padding=1, padding_mode="circular")
        self.head = nn.Linear(4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.grouped(self.depthwise(self.blocks(self.stem(x))))
        return self.head(self.line(x.flatten(2)).mean(-1))


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 10))


def cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(8, 16, 3), nn.BatchNorm2d(16), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


def transformer() -> nn.Module:
    layer = nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32,
                                       batch_first=True)
    return nn.TransformerEncoder(layer, num_layers=2)


def frozen() -> nn.Module:
    """A CNN in eval mode whose first convolution and norm do not train."""
    model = cnn().eval()
    for p in [*model[0].parameters(), *model[1].parameters()]:
        p.requires_grad_(False)
    return model


def gpt2_meta() -> nn.Module:
    import transformers

    transformers.logging.set_verbosity_error()
    config = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=100,
                                     n_positions=32, bos_token_id=0, eos_token_id=0)
    with torch.device("meta"):
        return transformers.GPT2LMHeadModel(config)


LONG = torch.long
#: name, factory, input shape (batch excluded), input dtype
MODELS: list[tuple[str, Callable[[], nn.Module], tuple[int, ...], torch.dtype]] = [
    ("mlp", mlp, (16,), torch.float32),
    ("cnn_batchnorm", cnn, (3, 8, 8), torch.float32),
    ("convolutions_residual", Convolutions, (3, 10, 9), torch.float32),
    ("lstm", Recurrent, (5, 8), torch.float32),
    ("transformer_encoder", transformer, (6, 16), torch.float32),
    ("shared_submodule", Shared, (8,), torch.float32),
    ("tied_embedding_head", TiedLM, (7,), LONG),
    ("partly_frozen_eval", frozen, (3, 8, 8), torch.float32),
    ("gpt2_meta_tied", gpt2_meta, (8,), LONG),
]
IDS = [m[0] for m in MODELS]
ON_CPU = [m for m in MODELS if m[0] != "gpt2_meta_tied"]


def build(factory: Callable[[], nn.Module]) -> nn.Module:
    torch.manual_seed(0)
    return factory()


def real_input(model: nn.Module, shape: tuple[int, ...], dtype: torch.dtype,
               batch: int = 1) -> torch.Tensor:
    device = next(model.parameters()).device
    if dtype == LONG:
        return torch.zeros((batch, *shape), dtype=dtype, device=device)
    return torch.randn((batch, *shape), device=device)


def node_at(s: Summary, path: str) -> Node:
    node = s.root
    for part in path.split(".") if path else []:
        node = next(c for c in node.children if c.name == part)
    return node


@pytest.mark.parametrize(("name", "factory", "shape", "dtype"), MODELS, ids=IDS)
def test_counts_equal_pytorch(name, factory, shape, dtype):
    model = build(factory)
    s = paramcount.summarize(model)
    assert s.total_params == sum(p.numel() for p in model.parameters())
    assert s.trainable_params == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert s.buffers == sum(b.numel() for b in model.buffers())
    assert s.framework == "pytorch"
    assert s.view.compute is None  # no input shape: no forward pass, no FLOPs columns


# -- torchinfo ------------------------------------------------------------------------------

def _path(info: Any) -> str:
    parts = []
    while info is not None and info.depth > 0:
        parts.append(info.var_name)
        info = info.parent_info
    return ".".join(reversed(parts))


def _held(node: Node, path: str) -> int:
    """Parameters a module holds, each once (what torchinfo counts for a module: its
    named_parameters()), from paramcount's tree: owned ones by path, tied ones by owner."""
    sizes: dict[str, int] = {}
    for rel, w in node.all_weights():
        if not w.buffer:
            sizes[f"{path}.{rel}" if path else rel] = w.size
    for sub in (node, *(n for _, n in node.walk())):
        for t in sub.tied:
            if not t.weight.buffer:
                sizes[t.owner] = t.weight.size
    return sum(sizes.values())


@pytest.mark.parametrize(("name", "factory", "shape", "dtype"), ON_CPU, ids=[m[0] for m in ON_CPU])
def test_rows_match_torchinfo(name, factory, shape, dtype):
    """Every module torchinfo lists: type, depth, parameters held, output shape and how often
    it ran. torchinfo names a shared module by the last place that holds it, paramcount by the
    first (where model.parameters() counts it): modules are matched by identity."""
    model = build(factory)
    stats = torchinfo.summary(model, input_data=[real_input(model, shape, dtype)], depth=8,
                              verbose=0)
    s = paramcount.summarize(model, input_shape=shape)
    first = {id(m): path for path, m in model.named_modules()}
    depth_of = {id(n): d for d, n in s.root.walk()}
    runs: dict[str, int] = {}
    for info in stats.summary_list:
        if info.depth == 0:
            continue
        path = first[id(info.module)]
        node = node_at(s, path)
        runs[path] = runs.get(path, 0) + info.executed
        assert node.type == info.class_name, path
        assert _held(node, path) == info.num_params, path
        if path == _path(info):
            assert depth_of[id(node)] == info.depth, path
        if info.executed and info.output_size:
            assert node.output_shape == tuple(info.output_size[1:]), path
    for path, _ in model.named_modules():
        if path:
            assert node_at(s, path).calls == runs.get(path, 0), path
    # torchinfo adds a tied matrix once per leaf layer holding it: compare untied models
    if name != "tied_embedding_head":
        assert (s.total_params, s.trainable_params) == (stats.total_params,
                                                        stats.trainable_params)


def test_torchinfo_counts_a_tied_matrix_in_each_layer_holding_it():
    """Why the tied model's totals are compared with model.parameters() instead: torchinfo
    sums leaf layers, and the embedding matrix is in two of them."""
    model = build(TiedLM)
    stats = torchinfo.summary(model, input_data=[torch.zeros(1, 7, dtype=LONG)], verbose=0)
    s = paramcount.summarize(model)
    assert s.total_params == sum(p.numel() for p in model.parameters())
    assert stats.total_params == s.total_params + model.emb.weight.numel()


# -- FLOPs -----------------------------------------------------------------------------------

def _shared_paths(model: nn.Module) -> set[str]:
    """Modules (and their ancestors) whose tracker name FlopCounterMode may give to another
    place of the same module: left out of the per-module comparison."""
    seen: dict[int, int] = {}
    for m in model.modules():
        for child in m._modules.values():
            if child is not None:
                seen[id(child)] = seen.get(id(child), 0) + 1
    out = set()
    for path, m in model.named_modules(remove_duplicate=False):
        if seen.get(id(m), 0) > 1 or any(seen.get(id(c), 0) > 1 for c in m.modules()):
            out.add(path)
    return out


@pytest.mark.parametrize(("name", "factory", "shape", "dtype"), MODELS, ids=IDS)
def test_flops_per_module_equal_flop_counter_on_the_real_model(name, factory, shape, dtype):
    model = build(factory)
    s = paramcount.summarize(model, input_shape=shape)
    # on CPU an LSTM runs one fused kernel that FlopCounterMode does not count; a copy on the
    # meta device runs its matrix products one by one
    real = copy.deepcopy(model).to("meta") if name == "lstm" else model
    with FlopCounterMode(display=False) as counter:
        real(real_input(real, shape, dtype))
    counts = {k: sum(v.values()) for k, v in counter.get_flop_counts().items()}
    f = s.flops()
    assert f.complete and f.flops == counter.get_total_flops() > 0
    root = type(model).__name__
    skip = _shared_paths(model)
    for path, _ in model.named_modules():
        if path in skip or node_at(s, path).calls == 0:
            continue  # FlopCounterMode names no module that was never called (a ModuleList)
        key = f"{root}.{path}" if path else root
        assert 2 * (f.node_macs(node_at(s, path)) or 0) == counts.get(key, 0), path


def test_one_module_is_a_model_of_one_row():
    model = nn.Conv2d(3, 4, 3)
    s = paramcount.summarize(model, input_shape=(3, 6, 6))
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, 6, 6))
    assert [(r.node.name, r.node.params) for r in s.rows()] == [("Conv2d", 3 * 3 * 3 * 4 + 4)]
    assert s.layers[0].output_shape == (4, 4, 4)
    assert 2 * s.flops().macs == counter.get_total_flops()


def test_a_fused_cpu_fast_path_is_counted_as_its_matrix_products():
    """A frozen TransformerEncoder in eval mode takes a fused CPU kernel that FlopCounterMode
    does not count; on the meta device it runs its matrix products, which are counted."""
    model = transformer().eval().requires_grad_(False)
    s = paramcount.summarize(model, input_shape=(6, 16))
    with FlopCounterMode(display=False) as counter:
        copy.deepcopy(model).to("meta")(torch.zeros(1, 6, 16, device="meta"))
    # per layer: QKV 6·16·48, output 6·16·16, scores 6·6·2 heads·(8 + 8), MLP 2 × 6·16·32
    per_layer = 6 * 16 * 48 + 6 * 16 * 16 + 6 * 6 * 2 * (8 + 8) + 2 * 6 * 16 * 32
    assert 2 * s.flops().macs == counter.get_total_flops() == 2 * 2 * per_layer


def test_lstm_macs_by_hand():
    s = paramcount.summarize(build(Recurrent), input_shape=(5, 8))
    # 5 steps × 4 gates × 16 units × (inputs + 16 recurrent): 8 inputs, then 16; head 16 × 4
    assert s.flops().macs == 5 * 4 * 16 * (8 + 16) + 5 * 4 * 16 * (16 + 16) + 16 * 4


@pytest.mark.parametrize("batch", [1, 4])
def test_example_inputs_give_flops_per_sample_for_their_batch(batch):
    model = build(cnn)
    x = torch.randn(batch, 3, 8, 8)
    s = paramcount.summarize(model, example_inputs=x)
    with FlopCounterMode(display=False) as counter:
        model(x)
    assert s.view.compute == (None, batch)
    assert s.flops().flops == counter.get_total_flops()
    assert s.flops(batch=1).flops * batch == counter.get_total_flops()
    assert s.layers[0].output_shape == tuple(model[0](x).shape[1:])


def test_example_inputs_as_keyword_arguments():
    model = gpt2_meta()
    ids = torch.zeros(2, 5, dtype=LONG, device="meta")
    s = paramcount.summarize(model, example_inputs={"input_ids": ids})
    with FlopCounterMode(display=False) as counter:
        model(input_ids=ids)
    assert s.flops().flops == counter.get_total_flops()
    assert node_at(s, "lm_head").output_shape == (5, 100)


# -- the model is left as it was -------------------------------------------------------------

def _snapshot(model: nn.Module) -> list[Any]:
    hooks = torch.nn.modules.module
    out: list[Any] = [len(hooks._global_forward_hooks), len(hooks._global_forward_pre_hooks)]
    for name, t in [*model.named_parameters(remove_duplicate=False),
                    *model.named_buffers(remove_duplicate=False)]:
        data = None if t.is_meta else t.detach().clone()
        out.append((name, id(t), type(t), t.device, t.dtype, t.requires_grad, tuple(t.shape),
                    data))
    for name, m in model.named_modules(remove_duplicate=False):
        out.append((name, id(m), m.training, dict(m._forward_hooks),
                    dict(m._forward_pre_hooks), dict(m._backward_hooks),
                    sorted(m.__dict__)))
    return out


def _same(a: list[Any], b: list[Any]) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if isinstance(x, tuple) and x and isinstance(x[-1], torch.Tensor):
            if x[:-1] != y[:-1] or not torch.equal(x[-1], y[-1]):
                return False
        elif x != y:
            return False
    return True


STATES = ["cnn_batchnorm", "convolutions_residual", "shared_submodule", "tied_embedding_head",
          "partly_frozen_eval", "gpt2_meta_tied", "transformer_encoder"]


@pytest.mark.parametrize(("name", "factory", "shape", "dtype"),
                         [m for m in MODELS if m[0] in STATES], ids=STATES)
def test_model_is_left_exactly_as_it_was(name, factory, shape, dtype):
    model = build(factory)
    before = _snapshot(model)
    s = paramcount.summarize(model, input_shape=shape)
    assert s.view.compute is not None  # the pass ran
    assert _same(before, _snapshot(model))
    if not next(model.parameters()).is_meta:
        model(real_input(model, shape, dtype))  # still runs where it lives


def test_a_forward_that_fails_on_meta_leaves_a_note_and_the_counts():
    class NeedsData(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x) * float(x.sum().item())

    model = NeedsData()
    before = _snapshot(model)
    s = paramcount.summarize(model, input_shape=(4,))
    assert s.total_params == 20  # 4 × 4 weights + 4 biases
    assert s.view.compute is None and s.layers[0].output_shape is None
    assert any(n.startswith("could not run on the meta device: ") and
               n.endswith("; shapes and FLOPs omitted") for n in s.notes)
    assert _same(before, _snapshot(model))


# -- dtypes, depth, errors -------------------------------------------------------------------

def test_any_dtype_and_device_is_read_without_data():
    model = mlp().to(torch.bfloat16)
    s = paramcount.summarize(model, input_shape=(16,))
    assert s.dtype == "bfloat16"
    assert s.stored_bytes() == 2 * sum(p.numel() for p in model.parameters())
    assert s.flops().flops == 2 * (16 * 32 + 32 * 10)  # two matrix products for one sample


def test_buffers_include_non_persistent_ones_as_model_buffers_does():
    model = mlp()
    model.register_buffer("mask", torch.ones(5, 5), persistent=False)
    s = paramcount.summarize(model)
    assert s.buffers == sum(b.numel() for b in model.buffers()) == 25
    assert "mask" not in model.state_dict()


@pytest.mark.parametrize("depth", [1, 2])
def test_depth_keeps_totals_and_flops(depth):
    model = gpt2_meta()
    full = paramcount.summarize(model, input_shape=(8,))
    s = paramcount.summarize(model, input_shape=(8,), depth=depth)
    assert max(r.depth for r in s.rows()) == depth
    assert (s.total_params, s.buffers, s.flops().macs) == (full.total_params, full.buffers,
                                                           full.flops().macs)
    assert [r.node.params for r in s.rows()] == [r.node.params for r in full.rows(depth, False)]


BAD: list[tuple[dict[str, Any], str]] = [
    ({"input_shape": (0, 3)}, "input_shape (0, 3) must hold positive integers (batch excluded)"),
    ({"input_shape": "3x224"}, "input_shape must be a tuple of sizes (batch excluded), got"),
    ({"input_shape": (16,), "example_inputs": torch.zeros(1, 16)},
     "give input_shape or example_inputs, not both"),
    ({"input_dtype": "int64"}, "input_dtype goes with input_shape"),
    ({"input_shape": (16,), "input_dtype": "Q4_K"}, "input_dtype 'Q4_K' is not a torch dtype"),
    ({"input_shape": (16,), "input_dtype": "nope"}, "unknown dtype 'nope'"),
    ({"example_inputs": [1, 2]}, "example_inputs holds no tensor"),
    ({"input_size": (16,)}, "summarize() of a torch.nn.Module has no option 'input_size' "
                            "(did you mean 'input_shape'?)"),
    ({"depth": 0}, "depth must be a positive integer, got 0"),
]


@pytest.mark.parametrize(("options", "message"), BAD, ids=[b[1][:30] for b in BAD])
def test_bad_options_are_one_clear_error(options, message):
    with pytest.raises(SpecError) as err:
        paramcount.summarize(mlp(), **options)
    assert message in str(err.value)


def test_a_module_s_own_weights_have_a_row_so_rows_add_up():
    """A root (or any module) holding an nn.Parameter beside its submodules: the top rows add
    up to what model.parameters() counts."""
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(torch.ones(3))
            self.fc = nn.Linear(2, 2)

    model = Scaled()
    s = paramcount.summarize(model)
    top = [r for r in s.rows() if r.depth == 1]
    assert [(r.node.name, r.node.params) for r in top] == [
        ("scale", model.scale.numel()), ("fc", sum(p.numel() for p in model.fc.parameters()))]
    assert sum(r.node.params for r in top) == sum(p.numel() for p in model.parameters())


def test_the_trainable_column_follows_requires_grad():
    model = nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.Linear(4, 2), nn.Linear(2, 2)),
                          nn.ReLU())
    model[0].requires_grad_(False)
    model[1][1].weight.requires_grad_(False)

    def mark(module: nn.Module) -> str:  # what requires_grad says of a module's parameters
        flags = [p.requires_grad for p in module.parameters()]
        return "-" if not flags else "Y" if all(flags) else "N" if not any(flags) else "partly"

    s = paramcount.summarize(model)
    s.view = s.view.but(trainable=True)
    lines = str(s).splitlines()
    assert lines[2].split()[-1] == "Trainable"
    shown = [line.split()[-1] for line in lines[4:9]]
    expected = [mark(m) for m in (model[0], model[1], model[1][0], model[1][1], model[2])]
    assert shown == expected == ["N", "partly", "Y", "partly", "-"]
