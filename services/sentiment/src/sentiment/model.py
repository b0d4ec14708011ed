"""Sentiment of customer utterances, run with onnxruntime.

Default: MiniLM sentence embeddings (text-models) and a logistic-regression head trained on TweetEval
(training/train_head.py; its measured accuracy is in model/metrics.json). With SENTIMENT_MODEL_DIR, any
ONNX sequence classifier instead (a fine-tuned RoBERTa, say): the directory holds ``model.onnx``,
``tokenizer.json`` and a ``config.json`` whose ``id2label`` names negative / neutral / positive.
Both are created once and score batches.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import onnxruntime
from tokenizers import Tokenizer

from text_models.embedding import MODEL_NAME, shared_embedder

LABELS = ("negative", "neutral", "positive")
HEAD_INPUT = "embedding"
MODEL_DIR = Path(__file__).parent / "model"
MAX_TOKENS = 256


@dataclass(frozen=True)
class Scored:
    label: str
    score: float  # P(positive) - P(negative), in [-1, 1]
    probabilities: tuple[float, float, float]


class SentimentModel(Protocol):
    name: str

    def score(self, texts: list[str]) -> list[Scored]: ...


def _scored(probabilities: np.ndarray) -> list[Scored]:
    return [Scored(LABELS[int(np.argmax(p))], float(p[2] - p[0]), (float(p[0]), float(p[1]), float(p[2])))
            for p in probabilities]


def _session(path: Path) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class EmbeddingHeadModel:
    """MiniLM embeddings and the trained head (both ONNX)."""

    def __init__(self, model_dir: Path = MODEL_DIR) -> None:
        self.head = _session(model_dir / "head.onnx")
        self.probabilities_output = next(o.name for o in self.head.get_outputs() if "prob" in o.name)
        self.name = f"{MODEL_NAME}+tweeteval-head"

    def score(self, texts: list[str]) -> list[Scored]:
        if not texts:
            return []
        vectors = shared_embedder().embed(texts).astype(np.float32)
        (probabilities,) = self.head.run([self.probabilities_output], {HEAD_INPUT: vectors})
        return _scored(np.asarray(probabilities))


class SequenceClassifierModel:
    """Any exported ONNX sequence classifier (logits over three sentiment labels)."""

    def __init__(self, model_dir: Path) -> None:
        self.session = _session(model_dir / "model.onnx")
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding()
        config = json.loads((model_dir / "config.json").read_text())
        names = {int(k): v.lower() for k, v in config["id2label"].items()}
        try:
            self.order = [next(i for i, n in names.items() if n.startswith(label[:3])) for label in LABELS]
        except StopIteration as exc:
            raise ValueError(f"{model_dir}/config.json id2label must name negative, neutral and positive") from exc
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.name = config.get("_name_or_path") or model_dir.name

    def score(self, texts: list[str]) -> list[Scored]:
        if not texts:
            return []
        encodings = self.tokenizer.encode_batch(texts)
        feed = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64)}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
        (logits,) = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})
        logits = np.asarray(logits)[:, self.order]
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return _scored(exp / exp.sum(axis=1, keepdims=True))


def load_model(model_dir: Path | None) -> SentimentModel:
    return SequenceClassifierModel(model_dir) if model_dir else EmbeddingHeadModel()


# TweetEval's validation split, kept in the repository so every checkout can measure the model.
HELD_OUT_DIR = Path(__file__).resolve().parents[2] / "training" / "held_out"


def default_data_dir() -> Path:
    """The full TweetEval data (for training) next to the repository (../shared/data)."""
    if configured := os.environ.get("TWEETEVAL_DIR"):
        return Path(configured)
    here = Path(__file__).resolve()
    candidates = [parent.parent / "shared" / "data" / "tweeteval-sentiment" for parent in here.parents]
    return next((c for c in candidates if c.is_dir()), candidates[0])


def load_split(data_dir: Path, split: str) -> tuple[list[str], list[int]]:
    texts = (data_dir / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
    labels = [int(line) for line in (data_dir / f"{split}_labels.txt").read_text().split()]
    if len(texts) != len(labels):
        raise ValueError(f"{split}: {len(texts)} texts but {len(labels)} labels")
    return texts, labels
