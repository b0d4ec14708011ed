"""The satisfaction formula on scripted conversations, with the real sentiment model scoring them."""

from __future__ import annotations

import uuid

from sentiment.model import load_model
from sentiment.satisfaction import Conversation, estimate
from sentiment.tracker import CallMood

MODEL = load_model(None)


def play(customer_lines: list[str], tools: list[bool] = ()) -> tuple[float, list[str]]:
    mood, conversation = CallMood(uuid.uuid4(), uuid.uuid4(), uuid.uuid4()), Conversation()
    contexts = [None, *customer_lines[:-1]]
    for scored, line in zip(MODEL.score(customer_lines, contexts), customer_lines, strict=True):
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


def test_frustration_without_angry_words_still_lowers_the_estimate() -> None:
    score, reasons = play(["Hi, I'm calling about my broadband.",
                           "This is the third time I call, it is still not working.",
                           "I already told your colleague all of this.",
                           "Hello? Are you still there?"])
    assert score <= 2.0, reasons
    assert any("frustration cues" in r for r in reasons)


def test_the_frustration_cues_customers_use() -> None:
    conversation = Conversation()
    for line in ["This is the third time I call.", "It's still not fixed.", "How many times do I have to say it?",
                 "I've been waiting for forty minutes.", "Hello? Are you still there?", "I already explained that."]:
        conversation.customer_said(line)
    assert conversation.frustrations == 6
    calm = Conversation()
    for line in ["I still have the receipt.", "Is it the second door on the left?", "Thanks, that's great."]:
        calm.customer_said(line)
    assert calm.frustrations == 0 and calm.resolved


def test_asking_for_a_person_is_an_escalation_and_thanks_for_nothing_is_no_resolution() -> None:
    conversation = Conversation()
    for line in ["Can I talk to someone who can actually help?", "I want a real person.", "Thanks for nothing."]:
        conversation.customer_said(line)
    assert conversation.escalations == 2 and not conversation.resolved
    sorted_then_not = Conversation()
    for line in ["Thanks, that's sorted.", "Wait, it's still not working."]:
        sorted_then_not.customer_said(line)
    assert not sorted_then_not.resolved


def test_the_estimate_is_bounded() -> None:
    conversation = Conversation(escalations=5, repeats=9, tools_failed=9)
    assert estimate(-1.0, -2.0, conversation)[0] == 1.0
    assert estimate(1.0, 2.0, Conversation(resolved=True, tools_ok=9))[0] == 5.0
