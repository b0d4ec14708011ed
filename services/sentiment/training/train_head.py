"""Train the sentiment head: a logistic regression over MiniLM sentence embeddings, exported to ONNX.

Data: TweetEval sentiment (Barbieri et al., Findings of EMNLP 2020; cardiffnlp/tweeteval,
datasets/sentiment), 0 negative / 1 neutral / 2 positive. The train split was not available here, so
the head trains on TweetEval's test split (12,284 tweets) and is measured on its validation split
(2,000 tweets), which it never sees.

    make train-sentiment            # writes services/sentiment/src/sentiment/model/{head.onnx,metrics.json}

Needs the `training` dependency group (scikit-learn, skl2onnx); the service itself only runs the ONNX file.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

from sentiment.model import HEAD_INPUT, HELD_OUT_DIR, LABELS, MODEL_DIR, default_data_dir, load_split
from text_models.embedding import MODEL_NAME, shared_embedder

BATCH = 128


def embed(texts: list[str]) -> np.ndarray:
    embedder = shared_embedder()
    return np.vstack([embedder.embed(texts[i:i + BATCH]) for i in range(0, len(texts), BATCH)]).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--out", type=Path, default=MODEL_DIR)
    parser.add_argument("--c", type=float, default=2.0, help="inverse regularisation strength")
    args = parser.parse_args()

    train_texts, train_labels = load_split(args.data_dir, "test")
    eval_texts, eval_labels = load_split(HELD_OUT_DIR, "val")
    started = time.perf_counter()
    train_x, eval_x = embed(train_texts), embed(eval_texts)
    print(f"embedded {len(train_texts) + len(eval_texts)} tweets in {time.perf_counter() - started:.1f} s")

    head = LogisticRegression(C=args.c, max_iter=2000, class_weight="balanced")
    head.fit(train_x, train_labels)
    predicted = head.predict(eval_x)
    accuracy = float(accuracy_score(eval_labels, predicted))
    macro_f1 = float(f1_score(eval_labels, predicted, average="macro"))
    print(f"held-out (TweetEval val, n={len(eval_labels)}): accuracy {accuracy:.3f}, macro-F1 {macro_f1:.3f}")

    onnx_model = to_onnx(head, eval_x[:1], options={id(head): {"zipmap": False}},
                         initial_types=None, target_opset=17)
    onnx_model.graph.input[0].name = HEAD_INPUT
    for node in onnx_model.graph.node:
        node.input[:] = [HEAD_INPUT if name == "X" else name for name in node.input]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "head.onnx").write_bytes(onnx_model.SerializeToString())
    (args.out / "metrics.json").write_text(json.dumps({
        "embedding_model": MODEL_NAME, "head": f"logistic regression, C={args.c}, balanced classes",
        "labels": list(LABELS), "train": f"TweetEval sentiment test split, n={len(train_labels)}",
        "held_out": f"TweetEval sentiment val split, n={len(eval_labels)}",
        "accuracy": round(accuracy, 4), "macro_f1": round(macro_f1, 4),
        "trained_at": datetime.now(UTC).date().isoformat(),
    }, indent=2) + "\n")
    print(f"wrote {args.out / 'head.onnx'}")


if __name__ == "__main__":
    main()
