"""The shipped sentiment model: its held-out figures (the Apple tweets held back and TweetEval's validation
split, neither seen in training) above floors a little under those measured when it was trained
(model/metrics.json), customer-service lines, context, batching, and SENTIMENT_MODEL_DIR classifiers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from sentiment.model import DATA_DIR, MODEL_DIR, SequenceClassifierModel, load_model, normalise
from sentiment.training_eval import TWEETEVAL_DIR, load_apple, load_split, measure

MODEL = load_model()
# Measured at training time (model/metrics.json); a little room below for the noise of int8 batching.
APPLE_FLOOR = {"accuracy": 0.75, "macro_f1": 0.70}
TWEETEVAL_FLOOR = {"accuracy": 0.65, "macro_f1": 0.64}
# Written for these tests; none of them is in the training data (see the last test).
NEGATIVE = ["my bag never arrived", "Hello? Are you still there? I am getting annoyed.",
            "This is the third time I call about my router.", "The washing machine is still not fixed.",
            "I was charged twice and nobody answers my emails."]
NEUTRAL = ["The account number is 55-2039-7.", "What are your opening hours on Saturday?"]
POSITIVE = ["Thank you so much, that was really helpful!", "Thanks, that fixed it."]


def test_the_shipped_model_meets_its_figures_on_the_held_back_apple_tweets() -> None:
    texts, labels, held = load_apple()
    figures = measure(MODEL, [texts[i] for i in sorted(held)], [labels[i] for i in sorted(held)])
    assert figures["n"] == 596
    assert all(figures[k] >= floor for k, floor in APPLE_FLOOR.items()), figures


def test_the_shipped_model_meets_its_figures_on_tweeteval_val() -> None:
    figures = measure(MODEL, *load_split(TWEETEVAL_DIR, "val"))
    assert figures["n"] == 2000
    assert all(figures[k] >= floor for k, floor in TWEETEVAL_FLOOR.items()), figures


def test_customer_service_utterances_score_as_expected() -> None:
    scored = MODEL.score(NEGATIVE + NEUTRAL + POSITIVE)
    assert [s.label for s in scored] == ["negative"] * len(NEGATIVE) + ["neutral"] * len(NEUTRAL) + \
        ["positive"] * len(POSITIVE), [(s.label, round(s.score, 2)) for s in scored]
    assert all(s.score < -0.3 for s in scored[:len(NEGATIVE)])
    assert all(s.score > 0.5 for s in scored[-len(POSITIVE):])
    assert all(abs(sum(s.probabilities) - 1) < 1e-4 for s in scored)


def test_context_colours_a_reply_that_says_little_by_itself() -> None:
    reply = "Same as yesterday."
    [alone, after_complaint, after_praise] = MODEL.score(
        [reply] * 3, [None, "The app crashed again when I tried to pay.", "Your new app is lovely, by the way."])
    assert after_complaint.score < alone.score < after_praise.score
    assert after_complaint.label == "negative"
    # A clear utterance stands on its own, whatever came before.
    [thanks] = MODEL.score(["Thank you, that's sorted now."], ["I've been waiting for an hour!"])
    assert thanks.label == "positive"


def test_a_batch_scores_as_each_utterance_alone() -> None:
    texts = NEGATIVE + NEUTRAL + POSITIVE + ["ok", "I have been trying to get through to someone for two days now "
                                                   "about the bill that came in at twice the usual amount"]
    contexts = [None, *texts[:-1]]
    batched = MODEL.score(texts, contexts)
    alone = [MODEL.score([t], [c])[0] for t, c in zip(texts, contexts, strict=True)]
    assert batched == alone  # each utterance runs alone, unpadded: exactly the same figures


def test_handles_and_links_are_written_as_in_training() -> None:
    assert normalise("@AppleSupport my phone  died http://t.co/xyz") == "@user my phone died http"


def test_the_shipped_files_stay_small_and_say_what_they_are() -> None:
    assert (MODEL_DIR / "model.onnx").stat().st_size < 60e6
    metrics = json.loads((MODEL_DIR / "metrics.json").read_text())
    assert metrics["apple_held_back"]["n"] == 596 and metrics["tweeteval_val"]["n"] == 2000


def test_the_phrases_tested_here_are_not_training_data() -> None:
    written = (DATA_DIR / "customer-service" / "utterances.tsv").read_text(encoding="utf-8").lower()
    for phrase in NEGATIVE + NEUTRAL + POSITIVE:
        assert phrase.lower() not in written, phrase


def constant_classifier(directory: Path, logits: list[float], id2label: dict[str, str]) -> Path:
    """An exported-classifier-shaped ONNX model (input_ids, attention_mask -> logits) with fixed logits."""
    graph = helper.make_graph(
        [helper.make_node("Shape", ["input_ids"], ["shape"]),
         helper.make_node("Slice", ["shape", "zero", "one"], ["batch"]),
         helper.make_node("Concat", ["batch", "three"], ["out_shape"], axis=0),
         helper.make_node("Expand", ["row", "out_shape"], ["logits"])],
        "constant", [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "s"]),
                     helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["b", "s"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["b", 3])],
        [helper.make_tensor("zero", TensorProto.INT64, [1], [0]),
         helper.make_tensor("one", TensorProto.INT64, [1], [1]),
         helper.make_tensor("three", TensorProto.INT64, [1], [3]),
         helper.make_tensor("row", TensorProto.FLOAT, [1, 3], logits)])
    directory.mkdir(parents=True, exist_ok=True)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), directory / "model.onnx")
    shutil.copyfile(MODEL_DIR / "tokenizer.json", directory / "tokenizer.json")
    (directory / "config.json").write_text(json.dumps({"id2label": id2label, "_name_or_path": "constant-test"}))
    return directory


def test_a_model_dir_classifier_is_used_with_its_own_label_order(tmp_path: Path) -> None:
    model_dir = constant_classifier(tmp_path / "model", [3.0, 0.0, 1.0],
                                    {"0": "Positive", "1": "Negative", "2": "Neutral"})
    model = load_model(model_dir)
    assert isinstance(model, SequenceClassifierModel) and model.name == "constant-test"
    [scored, with_context] = model.score(["anything at all", "and more"], [None, "before"])
    assert scored.label == with_context.label == "positive" and scored.score > 0.8


def test_a_model_dir_without_sentiment_labels_is_refused(tmp_path: Path) -> None:
    model_dir = constant_classifier(tmp_path / "model", [0.0, 0.0, 0.0], {"0": "spam", "1": "ham", "2": "eggs"})
    with pytest.raises(ValueError, match="must name negative, neutral and positive"):
        load_model(model_dir)
