"""The satisfaction formula on scripted conversations, with the real sentiment model scoring them."""

from __future__ import annotations

import uuid

from sentiment.model import EmbeddingHeadModel
from sentiment.satisfaction import Conversation, estimate
from sentiment.tracker import CallMood

MODEL = EmbeddingHeadModel()


def play(customer_lines: list[str], tools: list[bool] = ()) -> tuple[float, list[str]]:
    mood, conversation = CallMood(uuid.uuid4(), uuid.uuid4(), uuid.uuid4()), Conversation()
    for scored, line in zip(MODEL.score(customer_lines), customer_lines, strict=True):
        mood.add(scored.score)
        conversation.customer_said(line)
    for ok in tools:
        conversation.tool_finished(ok)
    return estimate(mood.score, mood.trend, conversation)


def test_a_smooth_call_that_ends_in_thanks_scores_high() -> None:
    score, reasons = play(["Hi, where is my order ORD-1042?", "Great, thank you so much, that was really helpful!"],
                          tools=[True])
    assert score >= 4.0, reasons
    assert "customer signalled the issue is resolved" in reasons


def test_an_angry_customer_who_repeats_and_escalates_scores_low() -> None:
    score, reasons = play(["My refund still hasn't arrived, this is ridiculous.",
                           "My refund still hasn't arrived, this is absolutely ridiculous!",
                           "I want to speak to a manager right now, this is unacceptable."], tools=[False])
    assert score <= 2.0, reasons
    assert any("escalate" in r for r in reasons) and any("repeated" in r for r in reasons)


def test_a_plain_question_sits_in_the_middle() -> None:
    score, _ = play(["What are your opening hours on Saturday?"])
    assert 2.5 <= score <= 3.5


def test_the_estimate_is_bounded() -> None:
    conversation = Conversation(escalations=5, repeats=9, tools_failed=9)
    assert estimate(-1.0, -2.0, conversation)[0] == 1.0
    assert estimate(1.0, 2.0, Conversation(resolved=True, tools_ok=9))[0] == 5.0
