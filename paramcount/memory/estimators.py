"""Other tools' estimates, reproduced to the byte: DeepSpeed's ZeRO estimators and accelerate's
``estimate-memory``, each with its own conventions (which differ from paramcount's).

DeepSpeed (deepspeed/runtime/zero/stage_1_and_2.py ``estimate_zero2_model_states_mem_needs``,
stage3.py ``estimate_zero3_model_states_mem_needs``) counts model states only, assumes
mixed-precision Adam (18 bytes per parameter: 2 + 4 fp32 gradients + 4 fp32 weights + 8), adds
4 bytes per parameter of the largest layer for ZeRO-3's gathering, and multiplies CPU memory by
an ``additional_buffer_factor`` (1.5). Its arithmetic is in floating point and truncated by
``int()``; it is repeated here step by step so that the figures agree exactly.

accelerate (accelerate/commands/estimate.py) sizes the model in float32, divides by 2, 4 or 8
for float16, int8 and int4, and gives as "Training using Adam" the *largest* of the model,
gradients, optimizer and step sizes of ``estimate_training_usage`` (not their sum): 4 × the
float32 size for float32 training, 2 × for float16 (mixed precision), none for int8 and int4.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from paramcount.errors import SpecError
from paramcount.memory.facts import ModelFacts
from paramcount.memory.printing import PrintsAsTable


def deepspeed_zero2(total_params: int, num_gpus_per_node: int = 1, num_nodes: int = 1,
                    cpu_offload: bool = True, additional_buffer_factor: float = 1.5
                    ) -> tuple[int, int]:
    """(CPU bytes, GPU bytes) as DeepSpeed's ``estimate_zero2_model_states_mem_needs``.

    >>> cpu, gpu = deepspeed_zero2(2851 * 10**6, 8, cpu_offload=True)
    >>> f"{cpu / 2**30:.2f} | {gpu / 2**30:.2f}"
    '127.45 | 5.31'
    """
    total_gpus = num_nodes * num_gpus_per_node
    if cpu_offload:
        gpu_mem = 2 * total_params
        cpu_mem = total_params * max(4 * total_gpus, 16) * additional_buffer_factor
    else:
        gpu_mem = 2 * total_params + int(18 * total_params / total_gpus)
        cpu_mem = total_params * 4 * num_gpus_per_node * additional_buffer_factor
    return int(cpu_mem), int(gpu_mem)


def deepspeed_zero3(total_params: int, largest_layer_params: int, num_gpus_per_node: int = 1,
                    num_nodes: int = 1, cpu_offload: bool = True, cpu_offload_params: bool = True,
                    zero_init: bool = True, additional_buffer_factor: float = 1.5
                    ) -> tuple[int, int, int]:
    """(CPU bytes, GPU bytes, largest-layer bytes) as DeepSpeed's
    ``estimate_zero3_model_states_mem_needs``.

    >>> cpu, gpu, _ = deepspeed_zero3(2851 * 10**6, 32 * 10**6, 8)
    >>> f"{cpu / 2**30:.2f} | {gpu / 2**30:.2f}"
    '71.69 | 0.12'
    """
    total_gpus = num_nodes * num_gpus_per_node
    gpus_factor = 1 / num_nodes
    largest = 4 * largest_layer_params
    # each expression keeps DeepSpeed's order of operations: the floats round alike
    if cpu_offload:
        states = 18 if cpu_offload_params else 16
        gpu_mem = largest if cpu_offload_params else largest + int(2 * total_params / total_gpus)
        if zero_init:
            cpu_mem = total_params * states * gpus_factor * additional_buffer_factor
        else:
            cpu_mem = (total_params * max(4 * num_gpus_per_node, states * gpus_factor)
                       * additional_buffer_factor)
    else:
        gpu_mem = largest + int(18 * total_params / total_gpus)
        counted = largest_layer_params if zero_init else total_params
        cpu_mem = counted * 4 * num_gpus_per_node * additional_buffer_factor
    return int(cpu_mem), int(gpu_mem), largest


@dataclass
class EstimatorTable(PrintsAsTable):
    """Another tool's table: one row per option (DeepSpeed) or dtype (accelerate)."""

    estimator: str
    source: str
    title: str
    #: column key -> heading; values in rows are bytes (int), None (N/A) or text
    columns: dict[str, str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)


def deepspeed_table(facts: ModelFacts, stage: int, gpus: int, nodes: int = 1,
                    buffer_factor: float = 1.5) -> EstimatorTable:
    """Every offload option of DeepSpeed's estimator for ZeRO ``stage`` (2 or 3), as its
    ``..._all_cold`` functions print them."""
    if stage not in (2, 3):
        raise SpecError(f"--estimator deepspeed covers ZeRO stages 2 and 3 (DeepSpeed has an "
                        f"estimator for those only), not --zero {stage}")
    if gpus % nodes:
        raise SpecError(f"--gpus {gpus} is not a multiple of --nodes {nodes}")
    per_node = gpus // nodes
    table = EstimatorTable("deepspeed", facts.source,
                           f"DeepSpeed ZeRO-{stage} model states: {nodes} node(s), {per_node} "
                           f"GPU(s) per node, {facts.params:,} params",
                           {"cpu": "per CPU", "gpu": "per GPU", "options": "options"})
    if stage == 2:
        for offload in (True, False):
            cpu, gpu = deepspeed_zero2(facts.params, per_node, nodes, offload, buffer_factor)
            table.rows.append({"cpu": cpu, "gpu": gpu,
                               "options": f"offload_optimizer={'cpu' if offload else 'none'}"})
    else:
        for opt, params, init in ((True, True, True), (True, True, False), (True, False, True),
                                  (True, False, False), (False, False, True),
                                  (False, False, False)):
            cpu, gpu, _ = deepspeed_zero3(facts.params, facts.largest_layer, per_node, nodes,
                                          opt, params, init, buffer_factor)
            table.rows.append({"cpu": cpu, "gpu": gpu, "options": (
                f"offload_param={'cpu' if params else 'none'}, "
                f"offload_optimizer={'cpu' if opt else 'none'}, zero_init={int(init)}")})
    table.assumptions = _deepspeed_notes(facts, stage, buffer_factor)
    return table


def _deepspeed_notes(facts: ModelFacts, stage: int, factor: float) -> list[str]:
    out = ["DeepSpeed's convention: model states only (no activations), mixed-precision Adam: "
           "2 B fp16 weights on the GPU, 18 B per parameter partitioned (2 fp16 gradients, 4 "
           "fp32 gradients, 4 fp32 weights, 8 Adam states)",
           f"CPU memory multiplied by additional_buffer_factor = {factor}; without offload it "
           "is what loading the model in fp32 on each GPU's process takes"]
    if stage == 3:
        out.append(f"ZeRO-3 adds 4 B × the largest layer's {facts.largest_layer:,} parameters "
                   "(its fp16 weights and gradients, gathered)")
    out.append("sizes in GiB = 2^30 bytes (DeepSpeed prints them as 'GB')")
    return out


#: accelerate's dtypes and the divisor of the float32 size for each
ACCELERATE_DTYPES = {"float32": 1, "float16": 2, "int8": 4, "int4": 8}


def accelerate_training(fp32_bytes: int, dtype: str) -> int | None:
    """accelerate's "Training using Adam": the largest entry of ``estimate_training_usage``
    for a float32 size of ``fp32_bytes``; None (N/A) for int8 and int4.

    >>> accelerate_training(400, "float32"), accelerate_training(400, "float16")
    (1600, 800)
    """
    if dtype == "float32":
        return 4 * fp32_bytes  # step: 4 × (model 1, gradients 1, optimizer 2)
    if dtype in ("float16", "bfloat16"):
        return 2 * fp32_bytes  # optimizer and step: 2 × (model 1, gradients 1.5)
    return None


def accelerate_table(facts: ModelFacts) -> EstimatorTable:
    """accelerate's ``estimate-memory`` table for this model."""
    fp32 = 4 * (facts.params + facts.buffers)
    largest = 4 * facts.largest_unit
    table = EstimatorTable("accelerate", facts.source,
                           f"accelerate estimate-memory: {facts.params:,} params",
                           {"dtype": "dtype", "largest_layer": "largest layer",
                            "total": "total size", "training": "training using Adam"})
    for dtype, divisor in ACCELERATE_DTYPES.items():
        table.rows.append({"dtype": dtype, "largest_layer": -(-largest // divisor),
                           "total": -(-fp32 // divisor),
                           "training": accelerate_training(fp32, dtype)})
    table.assumptions = [
        "accelerate's convention: the model built in float32 (parameters and buffers), "
        "divided by 2, 4 and 8 for float16, int8 and int4 (rounded up to a byte here)",
        "training using Adam: the largest of accelerate's model, gradients, optimizer and "
        "step sizes, not their sum: 16 B per parameter in float32, 8 B in float16; int8 and "
        "int4: N/A",
        "largest layer: a leaf module or one block of a repeated stack (accelerate uses "
        "the model's _no_split_modules)",
        "accelerate builds AutoModel, the bare backbone: use --head base for a Hugging "
        "Face config to match it; buffers a config does not describe (rotary inv_freq, "
        "position_ids) are not counted",
        "sizes in GiB = 2^30 bytes (accelerate prints them as 'GB')",
    ]
    return table
