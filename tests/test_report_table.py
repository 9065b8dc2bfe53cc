"""Tables narrower than they want to be: the layer column wraps between words, never inside a
name; rich cuts a name too long for the column with "…"; a pipe (no width) gets whole lines."""

from __future__ import annotations

import re

import pytest

import paramcount
from paramcount.view import View

LONG = {"input_shape": [16], "layers": [
    {"Dense": {"units": 8, "name": "a_rather_long_projection_layer_name"}},
    {"Dense": {"units": 4, "name": "short"}},
    {"Dense": {"units": 2, "name": "another_quite_long_output_head_name"}},
]}
NAMES = ["a_rather_long_projection_layer_name", "short", "another_quite_long_output_head_name"]


def table_lines(text: str) -> list[str]:
    """The lines between the header's rule and the closing rule."""
    lines = text.splitlines()
    rules = [i for i, line in enumerate(lines) if set(line) == {"="}]
    return lines[rules[1] + 1:rules[2]]


@pytest.mark.parametrize("width", [40, 50, 60])
def test_plain_table_wraps_between_words(width):
    text = paramcount.summarize(LONG).render("table", width=width)
    body = table_lines(text)
    for line in body:
        words = line.split()
        assert len(line) <= width or any(len(w) > 20 for w in words)
    words = {w for line in body for w in line.split()}
    assert set(NAMES) <= words  # every name whole, on one line
    # the rows keep their counts: (16 + 1)·8, (8 + 1)·4, (4 + 1)·2
    assert [int(n.replace(",", "")) for n in re.findall(r"\b\d[\d,]*$", "\n".join(body),
                                                        re.M)] == [136, 36, 10]


def test_a_pipe_gets_whole_lines():
    text = paramcount.summarize(LONG).render("table")
    assert [line.split()[0] for line in table_lines(text)] == NAMES


@pytest.mark.parametrize("width", [44, 60, 80])
def test_rich_table_never_splits_a_name(width):
    text = paramcount.summarize(LONG).render("table", width=width, color=True)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert all(len(line) <= width for line in plain.splitlines())
    cells = [line.split("│")[1].strip() for line in plain.splitlines() if "│" in line]
    for name in NAMES:
        # whole, or cut with "…" (never folded onto a second line)
        assert any(c.startswith(name) or (c.endswith("…") and name.startswith(c[:-1]))
                   for c in cells), (name, cells)
    counts = [line.split("│")[3].strip() for line in plain.splitlines() if "│" in line]
    assert [c for c in counts if c] == ["136", "36", "10"]


def test_a_view_changes_the_table_not_the_counts():
    s = paramcount.summarize(LONG)
    before = s.total_params
    shown = s.render("table", View(trainable=True, compute=(None, 2), dtype="bf16"))
    assert "Trainable" in shown and "MACs" in shown and "Convention: keras, bfloat16" in shown
    # (16·8 + 8·4 + 4·2) × batch 2 = 336 MACs; 182 parameters × 2 bytes = 364 B
    assert "Forward MACs (batch 2): 336" in shown and "Total params: 182 (364.00 B)" in shown
    assert s.total_params == before == 182 and s.view == View()
