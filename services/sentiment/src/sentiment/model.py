"""Sentiment of customer utterances, run with onnxruntime and tokenizers.

The shipped model (model/): all-MiniLM-L6-v2 fine-tuned end to end for three-class sentiment on TweetEval,
most of the Apple customer tweets and the team's customer-service lines (training/train_sentiment.py;
recipe and measured figures in model/metrics.json), exported to ONNX with its MatMuls quantized to int8.
It reads an utterance together with its context, the customer's previous turn: the pair goes in as
BERT's two segments ([CLS] utterance [SEP] context [SEP]) and the graph averages the utterance's tokens
only, so context colours the reading through attention without being scored itself.

With SENTIMENT_MODEL_DIR, any ONNX sequence classifier instead (a fine-tuned RoBERTa, say): the directory
holds ``model.onnx``, ``tokenizer.json`` and a ``config.json`` whose ``id2label`` names negative / neutral /
positive. The shipped directory has the same layout. Created once.

A batch is scored one utterance at a time, unpadded: the int8 graph quantizes its activations per run, so
utterances padded into one tensor would score (slightly) otherwise than alone, and padding costs time;
batching saved under 5% per utterance when measured, so scoring alone loses nothing and a batch scores
exactly as its utterances alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import onnxruntime
from tokenizers import Encoding, Tokenizer

LABELS = ("negative", "neutral", "positive")
MODEL_DIR = Path(__file__).parent / "model"
UTTERANCE_TOKENS = 64  # the utterance itself, at most
CONTEXT_TOKENS = 32  # the end of the previous turn, at most
HANDLE = re.compile(r"@\w+")
URL = re.compile(r"\b(?:https?://|www\.)\S+")


@dataclass(frozen=True)
class Scored:
    label: str
    score: float  # P(positive) - P(negative), in [-1, 1]
    probabilities: tuple[float, float, float]


class SentimentModel(Protocol):
    name: str

    def score(self, texts: Sequence[str], contexts: Sequence[str | None] | None = None) -> list[Scored]: ...


def normalise(text: str) -> str:
    """Handles and links written the way TweetEval writes them (the model trained on that)."""
    return " ".join(URL.sub("http", HANDLE.sub("@user", text)).split())


def _session(path: Path) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def load_tokenizer(path: Path) -> Tokenizer:
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def encode(tokenizer: Tokenizer, texts: Sequence[str], contexts: Sequence[str | None] | None = None) -> list[Encoding]:
    """Each utterance (first segment, its first UTTERANCE_TOKENS) with the end of its context (second
    segment, its last CONTEXT_TOKENS), with the tokenizer's own special tokens. Training uses this too."""
    contexts = list(contexts) if contexts is not None else [None] * len(texts)
    if len(contexts) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(contexts)} contexts")
    utterances = tokenizer.encode_batch([normalise(t) for t in texts], add_special_tokens=False)
    given = [i for i, c in enumerate(contexts) if c and c.strip()]
    context_encodings = dict(zip(given, tokenizer.encode_batch([normalise(contexts[i]) for i in given],
                                                               add_special_tokens=False), strict=True))
    encodings = []
    for i, utterance in enumerate(utterances):
        utterance.truncate(UTTERANCE_TOKENS)
        context = context_encodings.get(i)
        if context is not None:
            context.truncate(CONTEXT_TOKENS, direction="left")
        encodings.append(tokenizer.post_process(utterance, context))
    return encodings


def feed(encodings: Sequence[Encoding], inputs: set[str]) -> dict[str, np.ndarray]:
    """The model's inputs, padded to the longest of ``encodings`` (pad id 0, attention 0)."""
    longest = max(len(e.ids) for e in encodings)
    arrays = {name: np.zeros((len(encodings), longest), dtype=np.int64)
              for name in ("input_ids", "attention_mask", "token_type_ids")}
    for row, e in enumerate(encodings):
        n = len(e.ids)
        arrays["input_ids"][row, :n] = e.ids
        arrays["attention_mask"][row, :n] = 1
        arrays["token_type_ids"][row, :n] = e.type_ids
    return {name: array for name, array in arrays.items() if name in inputs}


def _scored(probabilities: np.ndarray) -> list[Scored]:
    return [Scored(LABELS[int(np.argmax(p))], float(p[2] - p[0]), (float(p[0]), float(p[1]), float(p[2])))
            for p in probabilities]


class SequenceClassifierModel:
    """An ONNX sequence classifier (input_ids, attention_mask[, token_type_ids] -> logits over three
    sentiment labels) with its tokenizer.json and a config.json naming its labels: the shipped model or
    SENTIMENT_MODEL_DIR's."""

    def __init__(self, model_dir: Path = MODEL_DIR) -> None:
        self.session = _session(model_dir / "model.onnx")
        self.tokenizer = load_tokenizer(model_dir / "tokenizer.json")
        config = json.loads((model_dir / "config.json").read_text())
        names = {int(k): v.lower() for k, v in config["id2label"].items()}
        try:
            self.order = [next(i for i, n in names.items() if n.startswith(label[:3])) for label in LABELS]
        except StopIteration as exc:
            raise ValueError(f"{model_dir}/config.json id2label must name negative, neutral and positive") from exc
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.name = config.get("_name_or_path") or model_dir.name

    def score(self, texts: Sequence[str], contexts: Sequence[str | None] | None = None) -> list[Scored]:
        if not texts:
            return []
        logits = np.vstack([np.asarray(self.session.run(None, feed([e], self.inputs))[0])
                            for e in encode(self.tokenizer, texts, contexts)])[:, self.order]
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return _scored(exp / exp.sum(axis=1, keepdims=True))


def load_model(model_dir: Path | None = None) -> SentimentModel:
    return SequenceClassifierModel(model_dir or MODEL_DIR)


# The data that trains and measures the shipped model, kept in the repository (training/data/*/README.md).
DATA_DIR = Path(__file__).resolve().parents[2] / "training" / "data"


def load_split(data_dir: Path, split: str) -> tuple[list[str], list[int]]:
    texts = (data_dir / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
    labels = [int(line) for line in (data_dir / f"{split}_labels.txt").read_text().split()]
    if len(texts) != len(labels):
        raise ValueError(f"{split}: {len(texts)} texts but {len(labels)} labels")
    return texts, labels
