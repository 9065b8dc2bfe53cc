"""Decoder families that are Llama with other defaults and a few switches, described as data.

Each row of :data:`FAMILIES` names a family's class prefix, the defaults of its transformers
config class, which config flags give its projections a bias, and the :class:`Decoder`
switches it sets; a family whose layout depends on more of its config (sliding windows, which
layers are mixtures of experts) adds a small ``setup`` function. What the switches mean is
documented on :class:`~paramcount.architectures.decoders.Decoder` and :class:`Moe`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from paramcount.architectures import Unsupported, register
from paramcount.architectures.config import Config
from paramcount.architectures.decoders import HEADS, Decoder, Moe, _common, with_head
from paramcount.architectures.parts import Roles
from paramcount.architectures.windows import by_layer_type, everywhere, window_size
from paramcount.tree import Node

#: a bias switch: a config field and its default, or a fixed value
Flag = tuple[str, bool] | bool
LM = ("ForCausalLM", "Model")     # the families with no classification head
POST = ("post_attention_layernorm", "post_feedforward_layernorm")   # OLMo 2: norms after only


@dataclass(frozen=True)
class Spec:
    """One family: its class prefix, its config class's defaults (``_common``'s keywords),
    its biases, and the :class:`Decoder` fields it sets."""

    prefix: str
    defaults: dict[str, Any]
    qkv_bias: Flag = ("attention_bias", False)
    o_bias: Flag | None = None      # None: as qkv_bias
    mlp_bias: Flag = False
    lm_bias: Flag = False
    switches: dict[str, Any] = field(default_factory=dict)
    setup: Callable[[Config, Decoder], None] | None = None
    heads: tuple[str, ...] = HEADS
    #: head_dim, when absent, is hidden_size // num_attention_heads even when that leaves a
    #: remainder (GLM-4-MoE's attention reads it so)
    floor_head_dim: bool = False


def _flag(c: Config, flag: Flag) -> bool:
    return flag if isinstance(flag, bool) else c.bool(flag[0], default=flag[1])


def build(spec: Spec, c: Config, head: str, roles: Roles) -> Node:
    """The family's model: its defaults read from the config, its switches applied."""
    defaults = spec.defaults
    if spec.floor_head_dim:
        hidden = c.int("hidden_size", default=defaults["hidden"])
        defaults = {**defaults, "head_dim": hidden // c.int("num_attention_heads",
                                                            default=defaults["heads"])}
    d = _common(c, spec.prefix, **defaults)
    d.qkv_bias = _flag(c, spec.qkv_bias)
    d.o_bias = d.qkv_bias if spec.o_bias is None else _flag(c, spec.o_bias)
    d.mlp_bias = _flag(c, spec.mlp_bias)
    for name, value in spec.switches.items():
        setattr(d, name, value)
    if spec.setup:
        spec.setup(c, d)
    return with_head(d, c, head, roles, lm_bias=_flag(c, spec.lm_bias))


# -- what depends on more of the config ---------------------------------------------------------

def _every_nth_full(default_size: int | None, n: int, pattern: str | None = None
                    ) -> Callable[[Config, Decoder], None]:
    """Windowed attention on every layer but each ``n``-th (Cohere 2, OLMo 3, EXAONE 4), the
    period read from the field ``pattern`` where the config class reads one (0: no window);
    a string such as "LLLG" spells the pattern out (EXAONE 4)."""
    def setup(c: Config, d: Decoder) -> None:
        size = window_size(c, default_size)
        spelled = c.raw(pattern) if pattern else None
        if isinstance(spelled, str) and spelled:
            d.window = by_layer_type(c, d.layers, size,
                                      lambda i: spelled[i % len(spelled)] == "L")
            return
        p = c.int(pattern, default=n, min=0) if pattern else n
        d.window = by_layer_type(c, d.layers, size if p else None,
                                  lambda i: (i + 1) % p != 0)
    return setup


def _cohere(c: Config, d: Decoder) -> None:
    d.qk_norm = "per_head" if c.bool("use_qk_norm", default=False) else ""


def _gpt_oss(c: Config, d: Decoder) -> None:
    m = Moe(c.int("num_local_experts", default=128), c.int("num_experts_per_tok", default=4),
            d.intermediate, name="mlp", router_name="router", router_bias=True,
            expert_bias=True)
    d.moe = lambda i: m
    # even layers (0, 2, ...) attend within 128 tokens, odd ones to everything
    d.window = by_layer_type(c, d.layers, window_size(c, 128), lambda i: i % 2 == 0)


def _smollm3(c: Config, d: Decoder) -> None:
    """A window (when used) on the layers without rotary positions, as the config fills
    ``layer_types`` in; by default every 4th layer has no rotary positions."""
    size = window_size(c, None) if c.bool("use_sliding_window", default=False) else None
    every = c.int("no_rope_layer_interval", default=4)
    rope = c.ints("no_rope_layers") or tuple(int((i + 1) % every != 0) for i in range(d.layers))
    d.window = by_layer_type(c, d.layers, size, lambda i: i < len(rope) and not rope[i])


def _granitemoe(c: Config, d: Decoder) -> None:
    shared = c.int("shared_intermediate_size", default=0, min=0)
    m = Moe(c.int("num_local_experts", default=8), c.int("num_experts_per_tok", default=2),
            d.intermediate, name="block_sparse_moe", router_name="router", shared=shared,
            shared_name="shared_mlp", shared_form="granite", shared_beside=True)
    d.moe = lambda i: m


def _phimoe(c: Config, d: Decoder) -> None:
    m = Moe(c.int("num_local_experts", default=16), c.int("num_experts_per_tok", default=2),
            d.intermediate, router_name="router")
    d.moe = lambda i: m
    d.window = everywhere(window_size(c, None))


def _olmoe(c: Config, d: Decoder) -> None:
    m = Moe(c.int("num_experts", default=64), c.int("num_experts_per_tok", default=8),
            d.intermediate)
    d.moe = lambda i: m


def _glm4_moe(c: Config, d: Decoder) -> None:
    """Dense MLPs in the first ``first_k_dense_replace`` layers, then routed experts beside
    ``n_shared_experts`` always-active ones, routed with a score-correction bias (a buffer)."""
    size = c.int("moe_intermediate_size", default=1408)
    m = Moe(c.int("n_routed_experts", default=128), c.int("num_experts_per_tok", default=8),
            size, shared=size * c.int("n_shared_experts", default=1, min=0),
            shared_name="shared_experts", score_bias=True, router_first=False)
    first = c.int("first_k_dense_replace", default=1, min=0)
    d.moe = lambda i: m if i >= first else None
    d.qk_norm = "head" if c.bool("use_qk_norm", default=False) else ""


def _ernie_moe(c: Config, d: Decoder) -> None:
    """Experts on the layers from ``moe_layer_start_index`` to ``moe_layer_end_index`` (-1:
    the last), every ``moe_layer_interval``-th; a frozen score-correction parameter."""
    size = c.int("moe_intermediate_size", default=1536)
    m = Moe(c.int("moe_num_experts", "num_experts", default=64),
            c.int("moe_k", "num_experts_per_tok", default=6), size,
            shared=size * c.int("moe_num_shared_experts", default=2, min=0),
            shared_name="shared_experts", statics=True)
    start = c.int("moe_layer_start_index", default=1, min=0)
    end = c.raw("moe_layer_end_index", default=-1)
    end = d.layers - 1 if end == -1 else c.int("moe_layer_end_index", default=-1, min=0)
    every = c.int("moe_layer_interval", default=1)
    d.moe = lambda i: m if (i + 1) % every == 0 and start <= i <= end else None


def _dots1(c: Config, d: Decoder) -> None:
    """GLM-4-MoE's experts with dots.llm1's defaults; windows from ``max_window_layers`` on,
    when the config has a window."""
    size = c.int("moe_intermediate_size", default=1408)
    count = c.int("n_routed_experts", default=None)
    if count is None:
        raise c.error("n_routed_experts", None, "is required (dots1 has no default)")
    m = Moe(count, c.int("num_experts_per_tok", default=None), size,
            shared=size * c.int("n_shared_experts", default=0, min=0),
            shared_name="shared_experts", score_bias=True, router_first=False)
    first = c.int("first_k_dense_replace", default=0, min=0)
    d.moe = lambda i: m if i >= first else None
    start = c.int("max_window_layers", default=62, min=0)
    d.window = by_layer_type(c, d.layers, window_size(c, 4096), lambda i: i >= start)


def _hunyuan_moe(c: Config, d: Decoder) -> None:
    """Every layer: routed experts of the model's intermediate size beside one shared MLP of
    the same size; ``moe_topk`` (and ``num_experts``) may be given per layer, all alike."""
    count, top = (_sameeverywhere(c, name, default) for name, default in
                  (("num_experts", 1), ("moe_topk", 1)))
    m = Moe(count, top, d.intermediate, shared=d.intermediate, shared_name="shared_mlp",
            router_weight="wg.weight")
    d.moe = lambda i: m


def _sameeverywhere(c: Config, name: str, default: int) -> int:
    value = c.raw(name)
    if isinstance(value, list):
        values = set(c.ints(name))
        if len(values) != 1:
            raise Unsupported(f"{c.model_type} with {name} varying by layer is not one "
                              "paramcount declares")
        return int(min(values))
    n: int = c.int(name, default=default)
    return n


def _apertus(c: Config, d: Decoder) -> None:
    d.activation = "xielu" if c.str("hidden_act", default="xielu") == "xielu" else ""


def _stablelm(c: Config, d: Decoder) -> None:
    if c.bool("qk_layernorm", default=False):
        d.qk_norm, d.qk_names = "list_per_head", ("q_layernorm", "k_layernorm")
    if c.bool("use_parallel_residual", default=False):
        d.norms = ("input_layernorm",)


# -- the families -------------------------------------------------------------------------------

FAMILIES: dict[str, Spec] = {
    "gpt_oss": Spec("GptOss", dict(vocab=201088, hidden=2880, intermediate=2880, layers=36,
                                   heads=64, kv=8, head_dim=64),
                    qkv_bias=("attention_bias", True), switches={"sinks": True},
                    setup=_gpt_oss),
    "granite": Spec("Granite", dict(vocab=32000, hidden=4096, intermediate=11008, layers=32,
                                    heads=32), mlp_bias=("mlp_bias", False), heads=LM),
    "granitemoe": Spec("GraniteMoe", dict(vocab=32000, hidden=4096, intermediate=11008,
                                          layers=32, heads=32), setup=_granitemoe, heads=LM),
    "granitemoeshared": Spec("GraniteMoeShared", dict(vocab=32000, hidden=4096,
                                                      intermediate=11008, layers=32, heads=32),
                             setup=_granitemoe, heads=LM),
    "cohere": Spec("Cohere", dict(vocab=256000, hidden=8192, intermediate=22528, layers=40,
                                  heads=64, tie=True),
                   switches={"norm": "layernorm_nobias", "norms": ("input_layernorm",)},
                   setup=_cohere, heads=LM),
    # head_dim: hidden_size / num_attention_heads unless given (the config class derives it)
    "cohere2": Spec("Cohere2", dict(vocab=256000, hidden=8192, intermediate=22528, layers=40,
                                    heads=64, tie=True),
                    switches={"norm": "layernorm_nobias", "norms": ("input_layernorm",)},
                    setup=_every_nth_full(4096, 4, "sliding_window_pattern"), heads=LM),
    "glm": Spec("Glm", dict(vocab=151552, hidden=4096, intermediate=13696, layers=40, heads=32,
                            kv=2, head_dim=128),
                qkv_bias=("attention_bias", True), o_bias=False, switches={"mlp": "fused"}),
    "glm4": Spec("Glm4", dict(vocab=151552, hidden=4096, intermediate=13696, layers=40,
                              heads=32, kv=2, head_dim=128),
                 qkv_bias=("attention_bias", True), o_bias=False,
                 switches={"mlp": "fused", "norms": (
                     "input_layernorm", "post_attention_layernorm", "post_self_attn_layernorm",
                     "post_mlp_layernorm")}),
    "glm4_moe": Spec("Glm4Moe", dict(vocab=151552, hidden=4096, intermediate=10944, layers=46,
                                     heads=96, kv=8), o_bias=False, setup=_glm4_moe, heads=LM,
                     floor_head_dim=True),
    "phimoe": Spec("Phimoe", dict(vocab=32064, hidden=4096, intermediate=6400, layers=32,
                                  heads=32, kv=8),
                   lm_bias=("lm_head_bias", False), switches={"norm": "layernorm"},
                   setup=_phimoe),
    "olmo2": Spec("Olmo2", dict(vocab=50304, hidden=4096, intermediate=11008, layers=32,
                                heads=32), switches={"norms": POST, "qk_norm": "projection"}),
    "olmo3": Spec("Olmo3", dict(vocab=50304, hidden=4096, intermediate=11008, layers=32,
                                heads=32), switches={"norms": POST, "qk_norm": "projection"},
                  setup=_every_nth_full(4096, 4)),
    "olmoe": Spec("Olmoe", dict(vocab=50304, hidden=2048, intermediate=2048, layers=16,
                                heads=16), switches={"qk_norm": "projection"}, setup=_olmoe,
                  heads=LM),
    "exaone4": Spec("Exaone4", dict(vocab=102400, hidden=4096, intermediate=16384, layers=32,
                                    heads=32),
                    qkv_bias=False, switches={"norms": POST, "qk_norm": "head"},
                    setup=_every_nth_full(4096, 4, "sliding_window_pattern")),
    "smollm3": Spec("SmolLM3", dict(vocab=128256, hidden=2048, intermediate=11008, layers=36,
                                    heads=16, kv=4, tie=True),
                    mlp_bias=("mlp_bias", False), setup=_smollm3),
    "ernie4_5": Spec("Ernie4_5", dict(vocab=103424, hidden=1024, intermediate=3072, layers=18,
                                      heads=16, kv=2, head_dim=128, tie=True),
                     qkv_bias=("use_bias", False), mlp_bias=("use_bias", False), heads=LM),
    "ernie4_5_moe": Spec("Ernie4_5_Moe", dict(vocab=103424, hidden=2560, intermediate=12288,
                                              layers=28, heads=20, kv=4, tie=True),
                         qkv_bias=("use_bias", False), mlp_bias=("use_bias", False),
                         lm_bias=("use_bias", False), setup=_ernie_moe, heads=LM),
    "seed_oss": Spec("SeedOss", dict(vocab=155136, hidden=4096, intermediate=27648, layers=64,
                                     heads=80, kv=8, head_dim=128),
                     qkv_bias=("attention_bias", True), o_bias=("attention_out_bias", False),
                     mlp_bias=("mlp_bias", False)),
    "stablelm": Spec("StableLm", dict(vocab=50304, hidden=2560, intermediate=6912, layers=32,
                                      heads=32),
                     qkv_bias=("use_qkv_bias", False), o_bias=False,
                     switches={"norm": "layernorm"}, setup=_stablelm),
    "arcee": Spec("Arcee", dict(vocab=32000, hidden=2560, intermediate=18432, layers=32,
                                heads=32, head_dim=80),
                  mlp_bias=("mlp_bias", False), switches={"mlp": "updown"}),
    "nemotron": Spec("Nemotron", dict(vocab=256000, hidden=6144, intermediate=24576,
                                      layers=32, heads=48, head_dim=128),
                     mlp_bias=("mlp_bias", False),
                     switches={"norm": "layernorm", "mlp": "updown"}),
    "dots1": Spec("Dots1", dict(vocab=152064, hidden=4608, intermediate=10944, layers=62,
                                heads=32), switches={"qk_norm": "head"}, setup=_dots1,
                  heads=LM),
    "hunyuan_v1_dense": Spec("HunYuanDenseV1", dict(vocab=290943, hidden=4096,
                                                    intermediate=11008, layers=32, heads=32),
                             switches={"qk_norm": "head",
                                       "qk_names": ("query_layernorm", "key_layernorm")}),
    "hunyuan_v1_moe": Spec("HunYuanMoEV1", dict(vocab=290943, hidden=4096, intermediate=11008,
                                                layers=32, heads=32),
                           switches={"qk_norm": "head",
                                     "qk_names": ("query_layernorm", "key_layernorm")},
                           setup=_hunyuan_moe),
    "apertus": Spec("Apertus", dict(vocab=131072, hidden=4096, intermediate=14336, layers=32,
                                    heads=32),
                    switches={"mlp": "updown", "qk_norm": "head", "norms": (
                        "attention_layernorm", "feedforward_layernorm")},
                    setup=_apertus, heads=LM),
}

def _builder(spec: Spec) -> Callable[[Config, str, Roles], Node]:
    def build_family(c: Config, head: str, roles: Roles) -> Node:
        return build(spec, c, head, roles)
    return build_family


for _type, _spec in FAMILIES.items():
    register(_type, _spec.prefix, _spec.heads)(_builder(_spec))
