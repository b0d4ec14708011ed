"""Choose the fixed held-back part of the Apple customer tweets (run once; its output is committed).

Many Apple tweets are retweets of one another (one text appears 303 times), so the split is made over
distinct texts, not lines: the distinct texts (compared after sentiment.model.normalise and lower-casing:
training_eval.apple_key) are split per label (the label of each text's first line), 20% of each label
held back, with numpy's RandomState(13). held_back_lines.txt lists the line number (1-based) of the first
line of each held-back text; `make eval-sentiment` measures on those lines, and training skips every line
whose text is held back.

    .venv/bin/python services/sentiment/training/split_apple.py
"""

from __future__ import annotations

import numpy as np

from sentiment.training_eval import APPLE_DIR as APPLE
from sentiment.training_eval import apple_key as key

SEED, SHARE = 13, 0.2


def main() -> None:
    texts = (APPLE / "text.txt").read_text(encoding="utf-8").splitlines()
    labels = [int(x) for x in (APPLE / "labels.txt").read_text().split()]
    first: dict[str, int] = {}
    for index, text in enumerate(texts):
        first.setdefault(key(text), index)
    rng = np.random.RandomState(SEED)
    held: list[int] = []
    for label in sorted(set(labels)):
        lines = [i for i in first.values() if labels[i] == label]
        held += [lines[j] for j in rng.permutation(len(lines))[:round(SHARE * len(lines))]]
    (APPLE / "held_back_lines.txt").write_text("".join(f"{i + 1}\n" for i in sorted(held)))
    print(f"{len(first)} distinct texts; held back {len(held)}")


if __name__ == "__main__":
    main()
