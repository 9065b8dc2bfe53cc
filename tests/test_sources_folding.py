"""A checkpoint of many identical numbered blocks is read into one block, folded: the counts
are torch's, the table is the one every block built gives, the JSON is the same document with
each folded group written once, and what matches paths (a diff) still sees every block."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

import paramcount
from paramcount.sources.quant import schemes
from paramcount.sources.tensors import every_block
from paramcount.tree import FOLD_AT

#: a block: five Linear(3, 2) modules, six nodes; 3,000 blocks are 18,000 nodes > FOLD_AT
MODULES, BLOCKS = 5, 3_000


def state_dict(blocks: int, odd: int | None = None) -> dict[str, torch.Tensor]:
    out = {"embed.weight": torch.zeros(7, 3)}
    for i in range(blocks):
        for m in range(MODULES):
            rows = 4 if i == odd and m == 0 else 2
            out[f"model.layers.{i}.m{m}.weight"] = torch.zeros(rows, 3, dtype=torch.bfloat16)
            out[f"model.layers.{i}.m{m}.bias"] = torch.zeros(rows, dtype=torch.bfloat16)
    return out


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("fold") / "model.safetensors"
    tensors = state_dict(BLOCKS)
    save_file(tensors, str(path))
    return path, tensors


def layers(s: paramcount.Summary):
    model = next(c for c in s.root.children if c.name == "model")
    return model.children[0]


def unfold(node: dict) -> None:
    """A JSON layer with each ``"folded": N`` group written out as its N copies."""
    for child in node["children"]:
        unfold(child)
    if "folded" in node:
        n = node.pop("folded")
        (block,) = node["children"]
        node["children"] = [{**json.loads(json.dumps(block)), "name": str(i)} for i in range(n)]


def test_the_blocks_are_built_once_and_counted_as_torch_counts(checkpoint):
    path, tensors = checkpoint
    assert BLOCKS * (1 + MODULES) > FOLD_AT
    s = paramcount.summarize(path)
    assert s.total_params == sum(t.numel() for t in tensors.values())  # 21 + 3,000 × 40
    assert s.total_params == 21 + BLOCKS * MODULES * (2 * 3 + 2)
    group = layers(s)
    assert (group.folded, group.repeat, len(group.children)) == (True, BLOCKS, 1)
    # bytes as stored: 3,000 × 5 × 8 bfloat16 elements at 2 bytes, the embedding's 21 float32
    assert s.stored_bytes() == BLOCKS * MODULES * 8 * 2 + 21 * 4
    assert f"Total params: {s.total_params:,} (234.46 KiB)" in str(s)  # 240,084 bytes


def test_table_is_the_one_every_block_gives_and_json_the_same_document(checkpoint):
    path, _ = checkpoint
    folded = paramcount.summarize(path)
    with every_block():
        whole = paramcount.summarize(path)
    assert not layers(whole).folded and len(layers(whole).children) == BLOCKS
    for fmt in ("table", "csv", "markdown"):
        assert folded.render(fmt) == whole.render(fmt)
    doc, expected = folded.to_dict(), whole.to_dict()
    assert '"folded": 3000' in json.dumps(doc)
    for layer in doc["layers"]:
        unfold(layer)
    assert doc == expected


def test_blocks_that_differ_are_each_built(tmp_path):
    path = tmp_path / "odd.safetensors"
    tensors = state_dict(BLOCKS, odd=BLOCKS - 1)  # the last block's first Linear is wider
    save_file(tensors, str(path))
    s = paramcount.summarize(path)
    assert not layers(s).folded and len(layers(s).children) == BLOCKS
    assert s.total_params == sum(t.numel() for t in tensors.values())


def test_a_diff_sees_every_block(checkpoint, tmp_path):
    path, _ = checkpoint
    more = tmp_path / "more.safetensors"
    save_file(state_dict(BLOCKS + 100), str(more))
    d = paramcount.diff(path, more)
    added = [r for r in d.rows() if r.status == "added"]
    assert [(r.path, r.b[0] * r.times) for r in added] == [
        ("model.layers.{3000..3099}", 100 * MODULES * 8)]


def test_every_guessing_scheme_names_its_marks():
    """logical() tries a scheme's guess only when some name ends in one of its marks: a
    guess without marks would be tried on every header, a mark with a dot never matches."""
    for scheme in schemes():
        if scheme.guess is not None:
            assert scheme.marks, scheme.name
            assert all("." not in m for m in scheme.marks), scheme.name
