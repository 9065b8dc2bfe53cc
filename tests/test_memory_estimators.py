"""DeepSpeed's and accelerate's memory estimators, reproduced.

DeepSpeed: microsoft/DeepSpeed, deepspeed/runtime/zero/stage_1_and_2.py
``estimate_zero2_model_states_mem_needs`` and deepspeed/runtime/zero/stage3.py
``estimate_zero3_model_states_mem_needs``; the figures of its docs page "Memory Requirements"
(docs/code-docs/source/memory.rst); and, when deepspeed is installed, the functions themselves.

accelerate: accelerate/commands/estimate.py (``estimate-memory``): ``calculate_maximum_sizes``
on the model built on the meta device, ``estimate_training_usage``.
"""

from __future__ import annotations

import itertools

import pytest

from paramcount import memory
from paramcount.memory import deepspeed_zero2, deepspeed_zero3
from paramcount.memory.facts import ModelFacts
from paramcount.sources import summarize

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


def gib(n: int) -> str:
    return f"{n / 2**30:.2f}"  # DeepSpeed prints f"{x/2**30:7.2f}GB"


# -- DeepSpeed's docs page, "Memory Requirements" ----------------------------------------------

def test_docs_zero2_cold_2851m_params_8_gpus():
    # estimate_zero2_model_states_mem_needs_all_cold(total_params=2851e6, num_gpus_per_node=8)
    assert [gib(b) for b in deepspeed_zero2(2851 * 10**6, 8, 1, True)] == ["127.45", "5.31"]
    # Without offload the page prints 15.93 GB per GPU, from an older estimator's
    # 4·params + 16·params/gpus; today's code (and so paramcount) has 2·params + 18·params/gpus
    params = 2851 * 10**6
    assert gib(4 * params + 16 * params // 8) == "15.93"
    cpu, gpu = deepspeed_zero2(params, 8, 1, False)
    assert (gib(cpu), gpu) == ("127.45", 2 * params + 18 * params // 8)


DOCS_ZERO3 = [  # (cpu_offload, cpu_offload_params, zero_init) -> per CPU, per GPU
    ((True, True, True), "71.69", "0.12"), ((True, True, False), "127.45", "0.12"),
    ((True, False, True), "63.72", "0.78"), ((True, False, False), "127.45", "0.78"),
    ((False, False, True), "1.43", "6.09"), ((False, False, False), "127.45", "6.09"),
]


@pytest.mark.parametrize(("options", "cpu", "gpu"), DOCS_ZERO3)
def test_docs_zero3_cold_2851m_params_32m_largest_8_gpus(options, cpu, gpu):
    got = deepspeed_zero3(2851 * 10**6, 32 * 10**6, 8, 1, *options)
    assert (gib(got[0]), gib(got[1])) == (cpu, gpu)


T5_LARGE = {"model_type": "t5", "architectures": ["T5Model"], "d_model": 1024, "d_ff": 4096,
            "num_layers": 24, "num_heads": 16, "d_kv": 64, "vocab_size": 32128}


def test_docs_t5_large_zero3_cases_on_4_gpus():
    facts = ModelFacts.of(summarize(T5_LARGE))
    # the page's figures for AutoModel.from_pretrained("t5-large")
    assert f"{facts.params / 1e6:6.2f}" == "737.67"
    assert f"{facts.largest_layer / 1e6:6.2f}" == " 32.90"
    cases = {(False, False): 3291, (True, True): 125, (True, False): 477}  # MB (>> 20)
    for (offload, params), mb in cases.items():
        _, gpu, largest = deepspeed_zero3(facts.params, facts.largest_layer, 4, 1, offload,
                                          params)
        assert largest >> 20 == 125 and gpu >> 20 == mb


# -- DeepSpeed itself, when installed ------------------------------------------------------------

GRID2 = list(itertools.product([10**6 + 7, 2851 * 10**6, 175 * 10**9 + 3], [1, 3, 8],
                               [1, 2, 3], [True, False], [1.5, 1.0, 1.3]))


@pytest.fixture(scope="module")
def deepspeed_zero():
    pytest.importorskip("deepspeed")
    from deepspeed.runtime.zero import stage3, stage_1_and_2

    return stage_1_and_2, stage3


@pytest.mark.parametrize(("params", "per_node", "nodes", "offload", "factor"), GRID2)
def test_zero2_is_deepspeeds(deepspeed_zero, params, per_node, nodes, offload, factor):
    theirs = deepspeed_zero[0].estimate_zero2_model_states_mem_needs(
        params, per_node, nodes, offload, factor)
    assert deepspeed_zero2(params, per_node, nodes, offload, factor) == theirs


GRID3 = list(itertools.product([10**6 + 7, 2851 * 10**6, 175 * 10**9 + 3], [1, 8], [1, 3],
                               [(True, True), (True, False), (False, False)], [True, False],
                               [1.5, 1.3]))


@pytest.mark.parametrize(("params", "per_node", "nodes", "offload", "init", "factor"), GRID3)
def test_zero3_is_deepspeeds(deepspeed_zero, params, per_node, nodes, offload, init, factor):
    largest = params // 97 + 1
    theirs = deepspeed_zero[1].estimate_zero3_model_states_mem_needs(
        params, largest, per_node, nodes, *offload, init, factor)
    assert deepspeed_zero3(params, largest, per_node, nodes, *offload, init, factor) == theirs


TINY = {
    "gpt2-tied": ("GPT2LMHeadModel", dict(model_type="gpt2", n_embd=32, n_layer=2, n_head=4,
                                          vocab_size=97, n_positions=16)),
    "llama": ("LlamaForCausalLM", dict(model_type="llama", hidden_size=32, num_hidden_layers=2,
                                       num_attention_heads=4, num_key_value_heads=2,
                                       intermediate_size=200, vocab_size=50)),
    "t5": ("T5Model", dict(model_type="t5", d_model=32, d_kv=8, num_heads=4, num_layers=2,
                           d_ff=64, vocab_size=50)),
    "bert": ("BertModel", dict(model_type="bert", hidden_size=32, num_hidden_layers=2,
                               num_attention_heads=4, intermediate_size=64, vocab_size=300)),
}


def build(architecture: str, config: dict, device: str):
    fields = {k: v for k, v in config.items() if k != "model_type"}
    cfg = transformers.AutoConfig.for_model(config["model_type"], **fields)
    with torch.device(device):
        return getattr(transformers, architecture)(cfg)


def facts_of(architecture: str, config: dict) -> ModelFacts:
    return ModelFacts.of(summarize({**config, "architectures": [architecture]}))


@pytest.mark.parametrize("name", sorted(TINY))
def test_total_and_largest_layer_are_deepspeeds_model_to_params(deepspeed_zero, name):
    architecture, config = TINY[name]
    model = build(architecture, config, "cpu")  # model_to_params reads data_ptr(): real tensors
    total, largest = deepspeed_zero[1].model_to_params(model)
    facts = facts_of(architecture, config)
    assert (facts.params, facts.largest_layer) == (total, largest)


@pytest.mark.parametrize("stage", [2, 3])
def test_deepspeed_table_is_deepspeeds(deepspeed_zero, stage):
    architecture, config = TINY["llama"]
    model = build(architecture, config, "cpu")
    total, largest = deepspeed_zero[1].model_to_params(model)
    table = memory.deepspeed(facts_of(architecture, config), stage, gpus=8, nodes=2)
    if stage == 2:
        expected = [deepspeed_zero[0].estimate_zero2_model_states_mem_needs(total, 4, 2, o)
                    for o in (True, False)]
    else:
        expected = [deepspeed_zero[1].estimate_zero3_model_states_mem_needs(
            total, largest, 4, 2, *opts)[:2] for opts in
            [(True, True, True), (True, True, False), (True, False, True),
             (True, False, False), (False, False, True), (False, False, False)]]
    assert [(r["cpu"], r["gpu"]) for r in table.rows] == expected


# -- accelerate's estimate-memory ------------------------------------------------------------

ACCELERATE = {
    "gpt2-base": ("GPT2Model", dict(model_type="gpt2")),
    "bert-base": ("BertModel", dict(model_type="bert")),
    "llama-tiny": ("LlamaModel", dict(model_type="llama", hidden_size=256, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2,
                                      intermediate_size=512, vocab_size=1000)),
    "llama-2-7b": ("LlamaModel", dict(model_type="llama", hidden_size=4096,
                                      num_hidden_layers=32, num_attention_heads=32,
                                      intermediate_size=11008, vocab_size=32000)),
    "t5-small": ("T5Model", dict(model_type="t5")),
    "gpt2-lm": ("GPT2LMHeadModel", dict(model_type="gpt2", n_layer=3)),
}


def non_persistent_bytes(model) -> int:
    """Buffers a checkpoint does not store (position_ids, rotary inv_freq): a config.json
    does not describe them, so paramcount cannot count them."""
    return sum(buf.numel() * buf.element_size()
               for module in model.modules() for name, buf in module.named_buffers(recurse=False)
               if name in module._non_persistent_buffers_set)


@pytest.fixture(scope="module")
def accelerate_sizes():
    modeling = pytest.importorskip("accelerate.utils")
    estimate = pytest.importorskip("accelerate.commands.estimate")
    cache = {}

    def sizes(name):
        if name not in cache:
            model = build(*ACCELERATE[name], "meta").float()  # as create_empty_model does
            total, (largest, _) = modeling.calculate_maximum_sizes(model)
            cache[name] = (total - non_persistent_bytes(model), largest)
        return cache[name]
    return sizes, estimate.estimate_training_usage


@pytest.mark.parametrize("name", sorted(ACCELERATE))
def test_accelerate_total_size_and_training_per_dtype(accelerate_sizes, name):
    sizes, training_usage = accelerate_sizes
    total, _ = sizes(name)
    table = memory.accelerate(facts_of(*ACCELERATE[name]))
    divisors = {"float32": 1, "float16": 2, "int8": 4, "int4": 8}
    for row in table.rows:
        # gather_data: dtype_total_size /= 2, 4 or 8 (a float); rounded up to a byte here
        assert row["total"] == -(-total // divisors[row["dtype"]])
        usage = max(training_usage(total, row["dtype"]).values())
        assert row["training"] == (None if usage == -1 else usage)


@pytest.mark.parametrize("name", ["gpt2-base", "gpt2-lm", "llama-tiny", "t5-small"])
def test_accelerate_largest_layer(accelerate_sizes, name):
    # BERT differs: its _no_split_modules names BertEmbeddings, which paramcount does not know
    # to keep whole, so its largest layer is the word embedding alone
    _, largest = accelerate_sizes[0](name)
    table = memory.accelerate(facts_of(*ACCELERATE[name]))
    assert table.rows[0]["largest_layer"] == largest
