"""Golden files: every renderer in every format, for summaries, diffs and memory estimates.

Each case is the text a user sees (a command's output, or a fact's print, notebook or rich
form); ``pytest tests/test_golden.py --update-golden`` rewrites tests/golden/ from the current
output, and the diff is reviewed like code. The figures in them are checked elsewhere against
the frameworks; here a golden file guards how they are shown.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

import paramcount
from paramcount import memory
from paramcount.cli import main
from paramcount.report.diff import render_html as diff_html
from paramcount.report.diff import rich_diff
from paramcount.report.memory import render_html as memory_html
from paramcount.report.memory import rich_memory
from paramcount.report.table import rich_summary
from paramcount.view import View

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"

# A diff a reviewer can check by hand: a tiny GPT-2 of 2 blocks against one of 3, with a wider
# MLP in the new block: the third block is added, every other path is unchanged.
GPT2 = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 64, "n_head": 4,
        "vocab_size": 100, "n_positions": 32}
SMALL, LARGER = {**GPT2, "n_layer": 2}, {**GPT2, "n_layer": 3}


def cli(*args: str) -> Callable[[pytest.CaptureFixture[str]], str]:
    def run(capsys: pytest.CaptureFixture[str]) -> str:
        code = main(list(args))
        out, err = capsys.readouterr()
        assert code == 0, err
        return out
    return run


def python(make: Callable[[], str]) -> Callable[[pytest.CaptureFixture[str]], str]:
    return lambda _capsys: make() + "\n"


def rich_text(renderable: object, width: int = 100) -> str:
    """What rich prints, without colours (box drawing stays)."""
    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return out.getvalue().rstrip("\n")


def pretty(text: str) -> str:
    """A JSON document indented, so that its golden file reads (and diffs) line by line."""
    return json.dumps(json.loads(text), indent=1)


def _mnist() -> paramcount.Summary:
    return paramcount.summarize("examples/mnist_cnn.yaml")


def _diff() -> paramcount.Diff:
    return paramcount.diff(SMALL, LARGER)


def _serve() -> memory.MemoryEstimate:
    return memory.estimate(paramcount.summarize("llama-3-8b"), dtype="bf16", context=8192,
                           batch=4, gpu_memory=memory.parse_size("24GB"))


CASES: dict[str, Callable[[pytest.CaptureFixture[str]], str]] = {
    # a summary in every format
    "summary_table.txt": cli("examples/mnist_cnn.yaml"),
    "summary_rich.txt": python(lambda: rich_text(_mnist())),
    "summary_json.json": lambda capsys: pretty(cli("examples/mnist_cnn.yaml", "-f", "json")(
        capsys)) + "\n",
    "summary_csv.csv": cli("examples/mnist_cnn.yaml", "-f", "csv"),
    "summary_markdown.md": cli("examples/mnist_cnn.yaml", "-f", "markdown"),
    "summary_html.html": cli("examples/mnist_cnn.yaml", "-f", "html"),
    "summary_explain.txt": cli("examples/resnet_block.yaml", "--explain"),
    # and what the view changes
    "summary_depth2.txt": cli("examples/resnet_block.yaml", "--depth", "2"),
    "summary_flops_trainable.txt": cli("gpt2", "--seq-len", "128", "--depth", "1",
                                       "--trainable", "--dtype", "bf16"),
    "summary_narrow.txt": python(lambda: paramcount.summarize("llama-3-8b", depth=3).render(
        "table", width=60)),
    "summary_narrow_rich.txt": python(lambda: rich_text(rich_summary(
        paramcount.summarize("llama-3-8b", depth=3), View(depth=3, width=60)), width=60)),
    "layer_conv2d_explain.txt": cli("layer", "Conv2D", "filters=2", "kernel_size=3", "-i",
                                    "28,28,1", "--explain"),
    "layer_batchnorm_torch_explain.txt": cli("layer", "BatchNorm2d", "num_features=16", "-i",
                                             "16,8,8", "--explain"),
    # a diff in every format
    "diff_table.txt": python(lambda: str(_diff())),
    "diff_json.json": python(lambda: pretty(_render_diff("json"))),
    "diff_markdown.md": python(lambda: _render_diff("markdown")),
    "diff_html.html": python(lambda: diff_html(_diff())),
    "diff_rich.txt": python(lambda: rich_text(rich_diff(_diff()))),
    "diff_cli_depth.txt": cli("diff", "zoo:llama-3-8b", "zoo:llama-3-70b", "--depth", "2"),
    # a memory estimate in every format, and the other tools' conventions
    "memory_table.txt": python(lambda: str(_serve())),
    "memory_json.json": python(lambda: json.dumps(_serve().to_dict(), indent=1)),
    "memory_markdown.md": cli("memory", "llama-3-8b", "--context", "8192", "--batch", "4",
                              "--dtype", "bf16", "--gpu-memory", "24GB", "-f", "markdown"),
    "memory_html.html": python(lambda: memory_html(_serve())),
    "memory_rich.txt": python(lambda: rich_text(rich_memory(_serve()))),
    "memory_training.txt": cli("memory", "llama-3-70b", "--train", "--seq-len", "4096",
                               "--gpus", "8", "--zero", "3", "--recompute", "selective",
                               "--gpu-memory", "80GB"),
    "memory_deepspeed.txt": cli("memory", "gpt2", "--estimator", "deepspeed", "--zero", "3",
                                "--gpus", "8"),
    "memory_accelerate.md": cli("memory", "gpt2", "--estimator", "accelerate", "--head", "base",
                                "-f", "markdown"),
}


def _render_diff(fmt: str) -> str:
    from paramcount.report.diff import render_diff

    return render_diff(_diff(), fmt)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name, capsys, monkeypatch, request):
    monkeypatch.chdir(ROOT)  # sources named as a user in the repository names them
    text = CASES[name](capsys)
    path = GOLDEN / name
    if request.config.getoption("--update-golden"):
        path.write_text(text)
    assert path.exists(), f"no golden file {name}: run pytest --update-golden and review it"
    assert text == path.read_text()


def test_every_golden_file_has_a_case():
    assert sorted(p.name for p in GOLDEN.iterdir()) == sorted(CASES)
