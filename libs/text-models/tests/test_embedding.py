"""The local sentence embedder, on its real model file."""

from __future__ import annotations

import numpy as np

from text_models.embedding import Embedder


def test_recurring_texts_are_embedded_once_and_give_the_same_vectors() -> None:
    embedder = Embedder()
    texts = ["Where is my order?", "I want a refund", "Where is my order?"]
    first = embedder.embed_known(texts)
    runs = []
    embedder.embed = lambda batch: runs.append(batch) or Embedder.embed(embedder, batch)  # type: ignore[method-assign]
    again = embedder.embed_known(texts[:2])
    assert runs == []  # nothing embedded the second time
    assert np.allclose(first[:2], again) and np.allclose(first[0], first[2])
    assert np.allclose(again, Embedder.embed(embedder, texts[:2]), atol=1e-6)
    assert embedder.embed_known([]).shape == (0, 384)
