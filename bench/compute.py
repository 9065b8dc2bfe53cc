"""FLOPs of a forward pass: ``paramcount config.json --seq-len N`` against transformers building
the same model on the meta device and running one forward pass under
``torch.utils.flop_counter.FlopCounterMode``, as whole fresh processes in the same run.

    python bench/compute.py            # Llama-3-8B and GPT-2 at 2,048 tokens, 3 runs each
    python bench/compute.py --runs 5

Both sides print their total FLOPs, which must be equal; wall time is the median over the runs
and peak memory the child's maximum resident set size. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from measure import MEASURE, child_env  # bench/ is on sys.path when a script runs

PY = sys.executable
ZOO = Path(__file__).resolve().parent.parent / "paramcount" / "zoo"
SEQ = 2048

CONFIGS = {name: json.loads((ZOO / f"{name}.json").read_text())
           for name in ("llama-3-8b", "gpt2")}

THEIRS = """
import sys, torch, transformers
from torch.utils.flop_counter import FlopCounterMode

config = transformers.AutoConfig.from_pretrained(sys.argv[1])
config._attn_implementation = "sdpa"
with torch.device("meta"):
    model = transformers.AutoModelForCausalLM.from_config(config)
    tokens = torch.zeros((1, int(sys.argv[2])), dtype=torch.long)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(input_ids=tokens, use_cache=False)
print(counter.get_total_flops())
"""


def measure(cmd: list[str], runs: int) -> dict[str, float | int]:
    results = []
    for _ in range(runs):
        proc = subprocess.run([PY, "-c", MEASURE, *cmd], capture_output=True, text=True,
                              env=child_env(TRANSFORMERS_VERBOSITY="error"), check=True)
        r = json.loads(proc.stdout)
        if r["rc"] != 0:
            raise SystemExit(f"{' '.join(cmd[:4])} failed:\n{r['err']}")
        results.append(r)
    out = results[-1]["out"]
    flops = json.loads(out)["compute"]["flops"] if out.startswith("{") else int(out.split()[-1])
    return {"wall": statistics.median(r["wall"] for r in results),
            "peak_mib": max(r["peak_kib"] for r in results) / 1024, "flops": flops}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{'config':<12} {'forward FLOPs (ours = theirs)':>32} {'ours s':>7} {'theirs s':>9} "
          f"{'speed-up':>9} {'ours MiB':>9} {'theirs MiB':>11} {'memory':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, doc in CONFIGS.items():
            folder = Path(tmp) / name
            folder.mkdir()
            (folder / "config.json").write_text(json.dumps(doc))
            ours = measure([PY, "-m", "paramcount", str(folder / "config.json"), "--seq-len",
                            str(SEQ), "--format", "json"], args.runs)
            theirs = measure([PY, "-c", THEIRS, str(folder), str(SEQ)], args.runs)
            same = "ok" if ours["flops"] == theirs["flops"] else "DIFF"
            print(f"{name:<12} {ours['flops']:>28,} {same:>3} {ours['wall']:>7.3f} "
                  f"{theirs['wall']:>9.3f} {theirs['wall'] / ours['wall']:>8.1f}x "
                  f"{ours['peak_mib']:>9.1f} {theirs['peak_mib']:>11.1f} "
                  f"{theirs['peak_mib'] / ours['peak_mib']:>6.1f}x")


if __name__ == "__main__":
    main()
