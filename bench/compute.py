"""Compute and memory estimates against the frameworks doing the same job, as whole fresh
processes in the same run.

- FLOPs of a forward pass: ``paramcount config.json --seq-len N`` against transformers building
  the same model on the meta device and running one forward pass under
  ``torch.utils.flop_counter.FlopCounterMode``.
- Memory: ``paramcount memory config.json --estimator accelerate --head base`` against
  accelerate's own estimate (what ``accelerate estimate-memory`` computes: ``AutoModel`` built on
  the meta device, ``calculate_maximum_sizes`` and ``estimate_training_usage``).

    python bench/compute.py            # Llama-3-8B and GPT-2, 3 runs each
    python bench/compute.py --runs 5

Both sides print their figure (total FLOPs; float32 bytes of the model and of training with
Adam), which must be equal; wall time is the median over the runs and peak memory the child's
maximum resident set size. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from measure import child_env, measure_runs  # bench/ is on sys.path when a script runs

PY = sys.executable
ZOO = Path(__file__).resolve().parent.parent / "paramcount" / "zoo"
SEQ = 2048

CONFIGS = {name: json.loads((ZOO / f"{name}.json").read_text())
           for name in ("llama-3-8b", "gpt2")}

THEIRS = """
import sys, torch, transformers
from torch.utils.flop_counter import FlopCounterMode

config = transformers.AutoConfig.from_pretrained(sys.argv[1])
with torch.device("meta"):
    model = transformers.AutoModelForCausalLM.from_config(config, attn_implementation="sdpa")
tokens = torch.zeros((2, int(sys.argv[2])), dtype=torch.long, device="meta")
with FlopCounterMode(display=False) as counter, torch.no_grad():
    model.eval()(input_ids=tokens)  # with a cache, transformers reads no position values
print(counter.get_total_flops())
"""


# accelerate's estimate-memory, less its hub download: the model's float32 size and the
# "Training using Adam" figure (the largest of its components), for the config at argv[1];
# its buffers that no checkpoint saves are left out, as paramcount's estimate says it does
ACCELERATE = """
import sys, torch, transformers
from accelerate.commands.estimate import estimate_training_usage
from accelerate.utils import calculate_maximum_sizes

config = transformers.AutoConfig.from_pretrained(sys.argv[1])
with torch.device("meta"):  # float32, as accelerate's create_empty_model asks for
    model = transformers.AutoModel.from_config(config, dtype=torch.float32)
total, _ = calculate_maximum_sizes(model)
# buffers saved with no checkpoint (rotary inv_freq), which no config.json describes
saved = set(model.state_dict())
total -= sum(b.numel() * b.element_size() for n, b in model.named_buffers() if n not in saved)
print(total, max(estimate_training_usage(total, "float32").values()))
"""


def measure(cmd: list[str], runs: int) -> dict[str, Any]:
    r = measure_runs(cmd, runs, child_env(TRANSFORMERS_VERBOSITY="error"))
    return {**r, "figure": _figure(str(r["out"]))}


def _figure(out: str) -> tuple[int, ...]:
    if not out.startswith("{"):
        return tuple(int(v) for v in out.split())
    doc = json.loads(out)
    if "compute" in doc:
        return (doc["compute"]["flops"],)
    fp32 = next(r for r in doc["rows"] if r["dtype"] == "float32")
    return fp32["total"], fp32["training"]


def _line(name: str, ours: dict[str, Any], theirs: dict[str, Any]) -> str:
    same = "ok" if ours["figure"] == theirs["figure"] else "DIFF"
    shown = " / ".join(f"{v:,}" for v in ours["figure"])
    return (f"{name:<12} {shown:>40} {same:>4} {ours['wall']:>7.3f} {theirs['wall']:>9.3f} "
            f"{theirs['wall'] / ours['wall']:>8.1f}x {ours['peak_mib']:>9.1f} "
            f"{theirs['peak_mib']:>11.1f} {theirs['peak_mib'] / ours['peak_mib']:>6.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    header = (f"{'ours s':>7} {'theirs s':>9} {'speed-up':>9} {'ours MiB':>9} "
              f"{'theirs MiB':>11} {'memory':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        folders = {}
        for name, doc in CONFIGS.items():
            folders[name] = Path(tmp) / name
            folders[name].mkdir()
            (folders[name] / "config.json").write_text(json.dumps(doc))
        print(f"{'FLOPs':<12} {f'forward FLOPs, 2 × {SEQ} tokens (ours = theirs)':>45} {header}")
        for name, folder in folders.items():
            ours = measure([PY, "-m", "paramcount", str(folder / "config.json"), "--seq-len",
                            str(SEQ), "--batch", "2", "--format", "json"], args.runs)
            theirs = measure([PY, "-c", THEIRS, str(folder), str(SEQ)], args.runs)
            print(_line(name, ours, theirs))
        print(f"\n{'memory':<12} {'float32 bytes: model / training with Adam':>45} {header}")
        for name, folder in folders.items():
            ours = measure([PY, "-m", "paramcount", "memory", str(folder / "config.json"),
                            "--estimator", "accelerate", "--head", "base", "--format", "json"],
                           args.runs)
            theirs = measure([PY, "-c", ACCELERATE, str(folder)], args.runs)
            print(_line(name, ours, theirs))


if __name__ == "__main__":
    main()
