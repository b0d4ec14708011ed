"""`make eval-sentiment`: the loaded sentiment model (SENTIMENT_MODEL_DIR, or the shipped head) on the
held-out TweetEval validation split: accuracy, macro-F1, and per-utterance latency."""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from sentiment.model import HELD_OUT_DIR, LABELS, load_model, load_split


def evaluate(model_dir: Path | None, data_dir: Path, batch: int = 64) -> dict[str, float]:
    model = load_model(model_dir)
    texts, labels = load_split(data_dir, "val")
    predicted = [LABELS.index(s.label) for i in range(0, len(texts), batch) for s in model.score(texts[i:i + batch])]
    accuracy = sum(p == t for p, t in zip(predicted, labels, strict=True)) / len(labels)
    f1s = []
    for label in range(len(LABELS)):
        tp = sum(p == t == label for p, t in zip(predicted, labels, strict=True))
        fp = sum(p == label != t for p, t in zip(predicted, labels, strict=True))
        fn = sum(t == label != p for p, t in zip(predicted, labels, strict=True))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    single = []
    for text in texts[:200]:
        started = time.perf_counter()
        model.score([text])
        single.append(time.perf_counter() - started)
    return {"n": len(labels), "accuracy": accuracy, "macro_f1": statistics.fmean(f1s),
            "latency_p50_ms": statistics.median(single) * 1000,
            "latency_p95_ms": sorted(single)[int(0.95 * len(single))] * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=HELD_OUT_DIR, help="holds val_text.txt, val_labels.txt")
    configured = os.environ.get("SENTIMENT_MODEL_DIR")
    parser.add_argument("--model-dir", type=Path, default=Path(configured) if configured else None)
    args = parser.parse_args()
    figures = evaluate(args.model_dir, args.data_dir)
    print(f"sentiment model {load_model(args.model_dir).name} on TweetEval val (n={figures['n']:.0f}): "
          f"accuracy {figures['accuracy']:.3f}, macro-F1 {figures['macro_f1']:.3f}; per utterance "
          f"p50 {figures['latency_p50_ms']:.1f} ms, p95 {figures['latency_p95_ms']:.1f} ms")


if __name__ == "__main__":
    main()
