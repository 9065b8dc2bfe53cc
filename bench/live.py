"""Live models: ``paramcount.summarize(model, input_shape=...)`` against ``torchinfo.summary``
on the same torch model already in memory, each in a fresh process of its own, in the same run.

    python bench/live.py            # GPT-2 (124M) at 1,024 tokens and ResNet-50 at 224×224
    python bench/live.py --runs 5

Each child builds the model on the CPU with random weights (the same cost on both sides, not
timed), imports the library (timed apart: ``import paramcount`` is the same for every source
and bench/run.py reports it), then times the first summary with an example input: paramcount
runs the forward pass on the meta device, torchinfo on the CPU. The child prints the seconds
the summary took, its peak resident memory before and after (MiB), its parameter count and
FLOPs, and
``sum(p.numel() for p in model.parameters())``, which paramcount's count must equal (torchinfo
counts a tied matrix again for every layer that holds it: GPT-2's LM head). torchinfo's
"mult-adds" follow its own conventions (embedding lookups count), so its FLOPs are shown, not
compared. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

from measure import child_env  # bench/ is on sys.path when a script runs

CHILD = """
import json, resource, sys, time
import torch, transformers

which, model_name, tokens = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.manual_seed(0)
if model_name == "gpt2":
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config())
    shape, dtype = (tokens,), torch.long
else:
    model = transformers.ResNetForImageClassification(transformers.ResNetConfig())
    shape, dtype = (3, 224, 224), torch.float32
model.eval()
truth = sum(p.numel() for p in model.parameters())
t0 = time.perf_counter()
if which == "ours":
    import paramcount
else:
    import torchinfo
imported = time.perf_counter() - t0
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
if which == "ours":
    s = paramcount.summarize(model, input_shape=shape)
    count = s.total_params
    flops = s.flops().flops
else:
    stats = torchinfo.summary(model, input_size=(1, *shape), dtypes=[dtype], verbose=0,
                              depth=10)
    count, flops = stats.total_params, 2 * stats.total_mult_adds
wall = time.perf_counter() - t0
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"wall": wall, "import": imported, "before_mib": before / 1024,
                  "peak_mib": after / 1024, "count": count, "flops": flops, "truth": truth}))
"""


def measure(which: str, model: str, runs: int, tokens: int = 1024) -> dict[str, float]:
    """``which`` ("ours" or "theirs") summarizing ``model`` ("gpt2" at ``tokens`` tokens or
    "resnet50"), ``runs`` fresh processes: median seconds of the summary and of the import,
    the largest peak memory before and after it (MiB), and the last run's figures."""
    results = []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-c", CHILD, which, model, str(tokens)],
                              capture_output=True, text=True,
                              env=child_env(TRANSFORMERS_VERBOSITY="error"))
        if proc.returncode != 0:
            raise SystemExit(f"{which} {model} failed:\n{proc.stderr[-2000:]}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return {"wall": statistics.median(r["wall"] for r in results),
            "import": statistics.median(r["import"] for r in results),
            "before": max(r["before_mib"] for r in results),
            "peak": max(r["peak_mib"] for r in results),
            "grown": max(r["peak_mib"] - r["before_mib"] for r in results),
            "count": results[-1]["count"], "flops": results[-1]["flops"],
            "truth": results[-1]["truth"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=1024, help="GPT-2's input length")
    args = parser.parse_args()
    print(f"{'model':<10} {'params (ours = parameters())':>32} {'ours s':>7} {'theirs s':>9} "
          f"{'speed-up':>9} {'ours +MiB':>10} {'theirs +MiB':>12} {'import s ours/theirs':>21}"
          f"  torchinfo params; FLOPs (ours / torchinfo)")
    for model in ("gpt2", "resnet50"):
        ours = measure("ours", model, args.runs, args.tokens)
        theirs = measure("theirs", model, args.runs, args.tokens)
        same = "ok" if ours["count"] == ours["truth"] else "DIFF"
        print(f"{model:<10} {ours['count']:>27,} {same:>4} {ours['wall']:>7.3f} "
              f"{theirs['wall']:>9.3f} {theirs['wall'] / ours['wall']:>8.1f}x "
              f"{ours['grown']:>10.1f} {theirs['grown']:>12.1f} "
              f"{ours['import']:>10.3f}/{theirs['import']:<10.3f}  {theirs['count']:,}; "
              f"{ours['flops']:,} / {theirs['flops']:,}")


if __name__ == "__main__":
    main()
