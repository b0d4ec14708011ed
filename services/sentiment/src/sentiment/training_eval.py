"""`make eval-sentiment`: the loaded sentiment model (SENTIMENT_MODEL_DIR, or the shipped one) on the two
held-out sets, neither of which the shipped model trained on:

- the fixed held-back part of the Apple customer tweets (training/data/apple-twitter-sentiment,
  held_back_lines.txt: 596 distinct tweets, a seeded stratified 20%; see split_apple.py);
- TweetEval's validation split (training/data/tweeteval-sentiment, 2,000 tweets).

Prints accuracy, macro-F1 and per-class F1 for each, and the per-utterance latency on one thread, one
utterance at a time and in batches of 64 (p50)."""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from sentiment.model import DATA_DIR, LABELS, SentimentModel, load_model, load_split, normalise

APPLE_DIR = DATA_DIR / "apple-twitter-sentiment"
TWEETEVAL_DIR = DATA_DIR / "tweeteval-sentiment"
LATENCY_TEXTS = 320
LATENCY_BATCH = 64


def apple_key(text: str) -> str:
    """Texts that are the same tweet (retweets, copies) share a key."""
    return " ".join(normalise(text).lower().split())


def load_apple() -> tuple[list[str], list[int], set[int]]:
    """All Apple tweets, their labels, and the indices (0-based) of the held-back ones."""
    texts = (APPLE_DIR / "text.txt").read_text(encoding="utf-8").splitlines()
    labels = [int(x) for x in (APPLE_DIR / "labels.txt").read_text().split()]
    held = {int(x) - 1 for x in (APPLE_DIR / "held_back_lines.txt").read_text().split()}
    if len(texts) != len(labels):
        raise ValueError(f"apple: {len(texts)} texts but {len(labels)} labels")
    return texts, labels, held


def classification_figures(predicted: Sequence[int], truth: Sequence[int]) -> dict[str, object]:
    pairs = list(zip(predicted, truth, strict=True))
    f1 = {}
    for index, label in enumerate(LABELS):
        tp = sum(p == t == index for p, t in pairs)
        fp = sum(p == index != t for p, t in pairs)
        fn = sum(t == index != p for p, t in pairs)
        f1[label] = round(2 * tp / (2 * tp + fp + fn), 4) if tp else 0.0
    return {"n": len(pairs), "accuracy": round(sum(p == t for p, t in pairs) / len(pairs), 4),
            "macro_f1": round(statistics.fmean(f1.values()), 4), "f1": f1}


def measure(model: SentimentModel, texts: Sequence[str], labels: Sequence[int]) -> dict[str, object]:
    predicted = [LABELS.index(s.label) for i in range(0, len(texts), LATENCY_BATCH)
                 for s in model.score(texts[i:i + LATENCY_BATCH])]
    return classification_figures(predicted, labels)


def latency(model: SentimentModel, texts: Sequence[str]) -> dict[str, float]:
    """Per utterance, p50: scored one at a time, and in batches of LATENCY_BATCH (time / batch size)."""
    texts = list(texts[:LATENCY_TEXTS])
    model.score(texts[:LATENCY_BATCH])  # warm up
    single = []
    for text in texts:
        started = time.perf_counter()
        model.score([text])
        single.append(time.perf_counter() - started)
    batched = []
    for _ in range(3):
        for i in range(0, len(texts), LATENCY_BATCH):
            started = time.perf_counter()
            model.score(texts[i:i + LATENCY_BATCH])
            batched.append((time.perf_counter() - started) / len(texts[i:i + LATENCY_BATCH]))
    return {"single_p50_ms": round(statistics.median(single) * 1000, 2),
            "single_p95_ms": round(sorted(single)[int(0.95 * len(single))] * 1000, 2),
            "batched_p50_ms_per_utterance": round(statistics.median(batched) * 1000, 2),
            # Other work on the machine slows these figures; the load average says how busy it was.
            "load_average_1min": round(os.getloadavg()[0], 1)}


def evaluate(model_dir: Path | None = None) -> dict[str, object]:
    model = load_model(model_dir)
    texts, labels, held = load_apple()
    apple = measure(model, [texts[i] for i in sorted(held)], [labels[i] for i in sorted(held)])
    val_texts, val_labels = load_split(TWEETEVAL_DIR, "val")
    return {"model": model.name, "apple_held_back": apple, "tweeteval_val": measure(model, val_texts, val_labels),
            "latency_one_thread": latency(model, val_texts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    configured = os.environ.get("SENTIMENT_MODEL_DIR")
    parser.add_argument("--model-dir", type=Path, default=Path(configured) if configured else None)
    args = parser.parse_args()
    figures = evaluate(args.model_dir)
    print(f"sentiment model {figures['model']}")
    for name, title in (("apple_held_back", "Apple customer tweets, held back"), ("tweeteval_val", "TweetEval val")):
        f = figures[name]
        per_class = ", ".join(f"{label} {value:.3f}" for label, value in f["f1"].items())
        print(f"  {title} (n={f['n']}): accuracy {f['accuracy']:.3f}, macro-F1 {f['macro_f1']:.3f} "
              f"(F1 {per_class})")
    lat = figures["latency_one_thread"]
    print(f"  per utterance, one thread: p50 {lat['single_p50_ms']:.1f} ms alone (p95 {lat['single_p95_ms']:.1f}), "
          f"p50 {lat['batched_p50_ms_per_utterance']:.1f} ms in batches of {LATENCY_BATCH} "
          f"(load average {lat['load_average_1min']:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
