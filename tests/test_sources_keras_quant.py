"""Keras 3's own quantization (``model.quantize``: int8, int4 by blocks or per channel, float8;
GPTQ and AWQ policies) and LoRA (``enable_lora`` on Dense, EinsumDense, Embedding), read from
JSON, .keras and .h5 against Keras 3 building, quantizing and saving the real model.

Each test compares total, trainable and non-trainable counts, each top-level layer's count and
output shape, and each layer's variables (name, shape, dtype, trainable) with what paramcount
reads from the saved file.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from paramcount.errors import SpecError
from paramcount.sources import keras as keras_source
from paramcount.sources.keras.files import LOGICAL
from paramcount.tree import tree_rows
from tests.test_sources_keras import check_all_formats, counts, from_json, keras_counts, saved

FORMATS = (".json", ".keras", ".h5")


def variables(model: Any) -> dict[str, set[tuple[str, tuple[int, ...], str, bool]]]:
    """What Keras made: each layer's variables by name, shape, dtype and trainability."""
    return {layer.name: {(v.name, tuple(v.shape), v.dtype, v.trainable) for v in layer.weights}
            for layer in model.layers if layer.weights}


def ours(summary: Any) -> dict[str, set[tuple[str, tuple[int, ...], str, bool]]]:
    return {n.name: {(w.name, w.shape, w.dtype, w.trainable) for w in n.weights}
            for n in summary.root.children if n.weights}


def read(model: Any, tmp_path: Any, suffix: str) -> Any:
    return from_json(model) if suffix == ".json" else saved(model, tmp_path, suffix)


def mlp() -> Any:
    import keras
    from keras import layers

    keras.backend.clear_session()
    return keras.Sequential([keras.Input((24,)), layers.Dense(32), layers.Dense(16),
                             layers.Dense(4)], name="mlp")


@pytest.mark.parametrize("suffix", FORMATS)
def test_the_issue_int8_example(suffix, tmp_path):
    float_params = mlp().count_params()
    model = mlp()
    model.quantize("int8")
    s = read(model, tmp_path, suffix)
    assert (s.total_params, s.trainable_params) == (1448, 52)  # the issue's figures
    assert counts(s) == keras_counts(model)
    assert ours(s) == variables(model)
    # the float model: 24·32 + 32 + 32·16 + 16 + 16·4 + 4
    assert s.figures[LOGICAL] == float_params == 1396
    # int8 kernels, float32 scales and biases
    assert s.by_dtype() == {"int8": (24 * 32 + 32 * 16 + 16 * 4, 1344),
                            "float32": (2 * (32 + 16 + 4), 4 * 104)}


def text_model() -> Any:
    """Every class Keras quantizes: Embedding, EinsumDense (2-D and 3-D kernels), Dense."""
    import keras
    from keras import layers

    keras.backend.clear_session()
    tokens = keras.Input((10,), dtype="int32")
    x = layers.Embedding(50, 16, name="embed")(tokens)
    x = layers.EinsumDense("abc,cde->abde", (10, 4, 8), bias_axes="de", name="qkv")(x)
    x = layers.Reshape((10, 32))(x)
    x = layers.EinsumDense("abc,cd->abd", (10, 12), bias_axes="d", name="proj")(x)
    x = layers.Dense(6, name="head")(layers.Flatten()(x))
    return keras.Model(tokens, x, name="text")


def _int4(block: int | None) -> dict[str, Any]:
    from keras.quantizers import Int4QuantizationConfig

    return {"config": Int4QuantizationConfig(block_size=block)}


QUANTIZED = [("int8", None), ("int4", None), ("int4", 8), ("int4", -1), ("float8", None)]


@pytest.mark.parametrize("suffix", FORMATS)
@pytest.mark.parametrize(("mode", "block"), QUANTIZED,
                         ids=["int8", "int4", "int4-block8", "int4-per-channel", "float8"])
def test_quantized_layers_in_every_format(mode, block, suffix, tmp_path):
    float_params = text_model().count_params()
    model = text_model()
    model.quantize(mode, **(_int4(block) if block is not None else {}))
    s = read(model, tmp_path, suffix)
    assert counts(s) == keras_counts(model)
    assert ours(s) == variables(model)
    assert s.figures[LOGICAL] == float_params


def test_float8_amax_history_length_follows_the_policy():
    import keras
    from keras import layers
    from keras.dtype_policies import QuantizedFloat8DTypePolicy

    keras.backend.clear_session()
    policy = QuantizedFloat8DTypePolicy("float8", "float32", amax_history_length=16)
    model = keras.Sequential([keras.Input((8,)), layers.Dense(4, dtype=policy)])
    s = from_json(model)
    assert counts(s) == keras_counts(model)
    # kernel 8·4 + bias 4 + three scalar scales + three histories of 16, all trainable
    assert s.trainable_params == 32 + 4 + 3 + 3 * 16


@pytest.mark.parametrize("mode", ["gptq/4/8", "gptq/8/-1", "gptq/3/16", "awq/4/8", "awq/4/-1"])
def test_gptq_and_awq_policies(mode, tmp_path):
    """A GPTQ or AWQ model as Keras rebuilds one from its file: its policy on each layer."""
    import keras
    from keras import layers
    from keras.dtype_policies import AWQDTypePolicy, GPTQDTypePolicy

    keras.backend.clear_session()
    cls = GPTQDTypePolicy if mode.startswith("gptq") else AWQDTypePolicy
    x = keras.Input((24,))
    y = layers.Dense(32, dtype=cls(mode, "float32"))(x)
    y = layers.Reshape((2, 16))(y)
    y = layers.EinsumDense("abc,cde->abde", (None, 4, 8), bias_axes="de",
                           dtype=cls(mode, "float32"))(y)
    y = layers.EinsumDense("abcd,cde->abe", (None, 5), dtype=cls(mode, "float32"))(y)
    model = keras.Model(x, y, name="gptq")
    s = from_json(model)
    assert counts(s) == keras_counts(model)
    assert ours(s) == variables(model)


def lora_model(quantize: str | None) -> Any:
    """LoRA on each class that has it, after a quantization or none."""
    model = text_model()
    if quantize:
        model.quantize(quantize)
    for name, rank in (("embed", 3), ("qkv", 2), ("proj", 4), ("head", 2)):
        model.get_layer(name).enable_lora(rank)
    return model


@pytest.mark.parametrize("quantize", ["int8", "int4"])
def test_lora_on_quantized_layers(quantize, tmp_path):
    """LoRA's factors beside int8 and int4 kernels (Keras has no float8 Embedding): their
    shapes are the float kernel's, unpacked."""
    model = lora_model(quantize)
    want = keras_counts(model)
    for suffix in FORMATS:
        s = read(model, tmp_path, suffix)
        assert counts(s) == want, suffix
        assert ours(s) == variables(model), suffix


def test_lora_without_quantization_freezes_as_keras_does(tmp_path):
    model = lora_model(None)
    check_all_formats(model, tmp_path)
    s = from_json(model)
    frozen = {(n.name, w.name) for n in s.root.children for w in n.weights if not w.trainable}
    assert frozen == {(layer.name, v.name) for layer in model.layers for v in layer.weights
                      if not v.trainable}
    assert frozen == {("embed", "embeddings"), ("qkv", "kernel"), ("proj", "kernel"),
                      ("head", "kernel")}
    assert LOGICAL not in s.figures  # nothing quantized


def test_quantized_ellipsis_einsum_dense_fails_as_in_keras():
    """Keras 3.15 cannot quantize an EinsumDense whose equation has '...' to int8: neither does
    a config that claims it."""
    import keras
    from keras import layers

    keras.backend.clear_session()
    model = keras.Sequential([keras.Input((5, 8)), layers.EinsumDense("...b,bc->...c", 16)])
    with pytest.raises(TypeError):
        model.quantize("int8")
    doc = json.loads(model.to_json())
    doc["config"]["layers"][1]["config"]["dtype"] = "int8_from_float32"
    with pytest.raises(SpecError, match=re.escape("Keras 3.15 cannot build EinsumDense "
                                                  "'...b,bc->...c' quantized to int8")):
        keras_source.from_dict(doc)


def test_summary_shows_the_logical_count(tmp_path):
    model = mlp()
    model.quantize("int8")
    text = str(from_json(model))
    assert "Logical params (unquantized): 1,396" in text
    assert "Stored as: int8 1,344" in text


# -- Bidirectional in a Keras 3 .keras archive -------------------------------------------------

def test_bidirectional_keras_archive_is_built_from_its_config_without_h5py(tmp_path):
    """Keras 3 serializes each initializer with its own shared_object_id, so the forward and
    backward configs differ only there: the layer is built from its config (output shape
    known) and the archive is read with h5py unimportable."""
    import keras
    from keras import layers

    keras.backend.clear_session()
    model = keras.Sequential([keras.Input((7, 5)),
                              layers.Bidirectional(layers.LSTM(6, return_sequences=True)),
                              layers.Bidirectional(layers.GRU(3)), layers.Dense(2)], name="bi")
    path = tmp_path / "bi.keras"
    model.save(path)
    want = keras_counts(model)
    script = textwrap.dedent(f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "h5py" or name.startswith("h5py."):
                    raise ImportError("h5py blocked")
        sys.meta_path.insert(0, Block())
        import paramcount
        s = paramcount.summarize({str(path)!r})
        assert "h5py" not in sys.modules
        print(s.total_params, s.trainable_params, s.non_trainable_params)
        for n in s.root.children:
            print(n.name, n.params, n.output_shape, n.remark)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0].split() == [str(want.total), str(want.trainable), str(want.non_trainable)]
    rows = [line.split(" ", 2) for line in out[1:]]
    for name, params, rest in rows:
        count, shape = want.layers[name]
        assert int(params) == count
        assert rest.strip() == str(shape)  # built from config: shape known, no remark


# -- nested models fold as Keras's summary -----------------------------------------------------

def nested_model() -> Any:
    import keras
    from keras import layers

    keras.backend.clear_session()
    backbone = keras.applications.MobileNetV3Small(
        input_shape=(32, 32, 3), include_top=False, weights=None, minimalistic=True,
        include_preprocessing=False)
    return keras.Sequential([keras.Input((32, 32, 3)), backbone,
                             layers.GlobalAveragePooling2D(), layers.Dense(10)], name="clf")


def keras_summary_rows(model: Any, expand_nested: bool) -> int:
    """The layer rows Keras's own summary prints: ``│ name (Type)``, ``│    └ name (Type)``."""
    lines: list[str] = []
    model.summary(print_fn=lambda line, **_: lines.append(line), expand_nested=expand_nested,
                  line_length=200)
    row = re.compile(r"^│[\s└]*\S+ \(\w+\)")
    return sum(1 for line in "\n".join(lines).splitlines() if row.match(line))


def test_nested_models_fold_by_default_as_keras_summary(tmp_path):
    model = nested_model()
    s = from_json(model)
    folded = s.rows()
    assert [r.node.name for r in folded] == [layer.name for layer in model.layers]
    assert len(folded) == keras_summary_rows(model, expand_nested=False) == 3
    every = tree_rows(s.root, None, fold=False)  # the rows --expand-nested shows
    assert len(every) == keras_summary_rows(model, expand_nested=True)
    assert [r.node.params for r in folded] == [layer.count_params() for layer in model.layers]
    assert sum(r.node.params for r in folded) == model.count_params()
    backbone = model.layers[0]
    expanded = s.render("table", s.view.but(depth=None))
    assert all(layer.name in expanded for layer in backbone.layers)
    assert backbone.layers[5].name not in s.render("table")


def test_command_line_folds_and_expands_nested_models(capsys, tmp_path):
    from paramcount.cli import main

    model = nested_model()
    path = tmp_path / "clf.json"
    path.write_text(model.to_json())
    inner = model.layers[0].layers[5].name
    assert main([str(path)]) == 0
    folded = capsys.readouterr().out
    assert inner not in folded and model.layers[0].name in folded
    assert main([str(path), "--expand-nested"]) == 0
    assert inner in capsys.readouterr().out
    assert main([str(path), "--depth", "2"]) == 0
    assert inner in capsys.readouterr().out


# -- ReversibleEmbedding, the other class Keras quantizes --------------------------------------

def reversible_model(tie: bool) -> Any:
    import keras
    from keras import layers

    keras.backend.clear_session()
    tokens = keras.Input((6,), dtype="int32")
    emb = layers.ReversibleEmbedding(40, 8, tie_weights=tie, name="emb")
    x = layers.Dense(8, name="mix")(emb(tokens))
    # a Dense on the logits (6, 40): its kernel (40 × 3) checks the reverse call's shape
    return keras.Model(tokens, layers.Dense(3, name="after")(emb(x, reverse=True)), name="lm")


@pytest.mark.parametrize("mode", [None, "int8", "int4", "int4-per-channel"])
@pytest.mark.parametrize("tie", [True, False], ids=["tied", "untied"])
def test_reversible_embedding(tie, mode, tmp_path):
    model = reversible_model(tie)
    if mode is not None:
        model.quantize(mode[:4], **(_int4(-1) if mode.endswith("channel") else {}))
    want = keras_counts(model)
    assert want.layers["emb"][1] == (6, 8)  # Keras shows the first call's output
    for suffix in FORMATS:
        s = read(model, tmp_path, suffix)
        assert counts(s) == want, suffix
        if mode is not None:
            assert ours(s) == variables(model), suffix
    rows = {n.name: n for n in s.root.children}
    assert rows["emb"].calls == 2 and rows["after"].input_shapes == ((6, 40),)
