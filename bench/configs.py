"""Hugging Face configs: ``paramcount config.json`` against transformers building the same model
on the meta device, as whole fresh processes in the same run, and the ratios.

    python bench/configs.py            # GPT-3 175B and Llama-3 70B, 3 runs each
    python bench/configs.py --runs 5

For each config, written to a temporary folder as ``config.json``:

- ours: ``python -m paramcount FOLDER/config.json`` (the default table);
- theirs: a fresh Python that imports torch and transformers, reads the same config with
  ``AutoConfig.from_pretrained``, builds ``AutoModelForCausalLM.from_config`` inside
  ``with torch.device("meta")`` and sums ``numel()`` over ``model.parameters()``.

Wall time is the median over the runs; peak memory is the child's maximum resident set size
(``ru_maxrss``). Both counts are printed, and must be equal. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from measure import child_env, measure_runs  # bench/ is on sys.path when a script runs

PY = sys.executable
ZOO = Path(__file__).resolve().parent.parent / "paramcount" / "zoo"

CONFIGS = {
    # GPT-3 175B in GPT-2's layout (the paper's Table 2.1: 96 layers, d_model 12288, 96 heads)
    "gpt3-175b": {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": 96,
                  "n_embd": 12288, "n_head": 96, "vocab_size": 50257, "n_positions": 2048},
    "llama-3-70b": json.loads((ZOO / "llama-3-70b.json").read_text()),
}

THEIRS = """
import sys, torch, transformers

config = transformers.AutoConfig.from_pretrained(sys.argv[1])
with torch.device("meta"):
    model = transformers.AutoModelForCausalLM.from_config(config)
print(sum(p.numel() for p in model.parameters()))
"""



def measure(cmd: list[str], runs: int) -> dict[str, Any]:
    r = measure_runs(cmd, runs, child_env(TRANSFORMERS_VERBOSITY="error"))
    return {**r, "count": _count(str(r["out"]))}


def _count(out: str) -> int:
    match = re.search(r"Total params: ([\d,]+)", out)
    return int((match.group(1) if match else out.split()[-1]).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{'config':<12} {'params (ours = theirs)':>24} {'ours s':>7} {'theirs s':>9} "
          f"{'speed-up':>9} {'ours MiB':>9} {'theirs MiB':>11} {'memory':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, doc in CONFIGS.items():
            folder = Path(tmp) / name
            folder.mkdir()
            (folder / "config.json").write_text(json.dumps(doc))
            ours = measure([PY, "-m", "paramcount", str(folder / "config.json")], args.runs)
            theirs = measure([PY, "-c", THEIRS, str(folder)], args.runs)
            same = "ok" if ours["count"] == theirs["count"] else "DIFF"
            print(f"{name:<12} {ours['count']:>20,} {same:>3} {ours['wall']:>7.3f} "
                  f"{theirs['wall']:>9.3f} {theirs['wall'] / ours['wall']:>8.1f}x "
                  f"{ours['peak_mib']:>9.1f} {theirs['peak_mib']:>11.1f} "
                  f"{theirs['peak_mib'] / ours['peak_mib']:>6.1f}x")


if __name__ == "__main__":
    main()
