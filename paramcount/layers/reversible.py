"""Keras's ReversibleEmbedding: an Embedding that a second call, ``reverse=True``, turns into
the output projection onto the vocabulary, with the table transposed (``tie_weights``, the
default) or a ``reverse_embeddings`` matrix of its own. Quantized as Embedding is, its own
reverse matrix too (keras/src/layers/core/reversible_embedding.py)."""

from __future__ import annotations

from paramcount.layers.args import Args
from paramcount.layers.base import Weight, register
from paramcount.layers.core import Embedding
from paramcount.layers.keras_quant import reverse_table
from paramcount.shapes import Shape


@register("ReversibleEmbedding")
class ReversibleEmbedding(Embedding):
    """Keras's ReversibleEmbedding.

    >>> layer = ReversibleEmbedding({"input_dim": 40, "output_dim": 8, "tie_weights": False})
    >>> [w.shape for w in layer.weights((6,))], layer.reversed_output((6, 8))
    ([(40, 8), (8, 40)], (6, 40))
    """

    def configure(self, a: Args) -> None:
        super().configure(a)
        self.tie_weights: bool = a.bool("tie_weights", default=True)
        a.get("reverse_dtype", default=None)
        a.get("logit_soft_cap", default=None)

    def weights(self, x: Shape) -> list[Weight]:
        own = [] if self.tie_weights else reverse_table(self.quant, self.vocab, self.dim)
        return [*super().weights(x), *own]

    def reversed_output(self, x: Shape) -> Shape:
        """The output of a ``reverse=True`` call: logits over the vocabulary."""
        self.last_dim(x, expect=self.dim)
        return (*x[:-1], self.vocab)
