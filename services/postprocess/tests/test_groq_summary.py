"""The Groq summary path with the real groq SDK against a local server speaking the chat-completions
protocol: a good answer, a rate limit then success, malformed JSON, and a fallback when it never works."""

from __future__ import annotations

from collections.abc import Iterator

import groq
import pytest

from postprocess import groq_summary
from postprocess.groq_summary import MODEL, SummaryUnavailable, groq_outcome
from postprocess.summary import Line
from tests.fakes.chat_completions import ScriptedChatCompletions
from tests.integration.conftest import serve

Fake = tuple[ScriptedChatCompletions, groq.AsyncGroq]
LINES = [Line("customer", "I was charged twice for ORD-1042."), Line("agent", "I've refunded the duplicate charge.")]
GOOD = {"summary": "The customer was charged twice; the agent refunded the duplicate.", "tags": ["billing", "refund"],
        "resolved": True, "reason": "refund issued"}


@pytest.fixture
def fake(request: pytest.FixtureRequest,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[Fake]:
    scripted = ScriptedChatCompletions(list(request.param), model=MODEL)
    served = serve(scripted.app())
    monkeypatch.setattr(groq_summary, "BACKOFF_SECONDS", (0.05,))
    try:
        yield scripted, groq.AsyncGroq(api_key="fake-groq-key", base_url=served.url, max_retries=0)
    finally:
        served.stop()


@pytest.mark.parametrize("fake", [[GOOD]], indirect=True)
async def test_a_structured_answer_becomes_the_summary(fake: Fake) -> None:
    scripted, client = fake
    outcome = await groq_outcome(client, LINES, ["refund", "shipping"], "agent_resolved")
    assert outcome.summary == GOOD["summary"] and outcome.resolved and outcome.source == f"groq:{MODEL}"
    assert outcome.tags == ["refund", "billing"]  # the agent's own taxonomy first
    sent = scripted.requests[0]
    assert sent["model"] == "openai/gpt-oss-20b" and sent["response_format"] == {"type": "json_object"}
    assert "I was charged twice" in sent["messages"][1]["content"]
    assert "refund, shipping" in sent["messages"][0]["content"]


@pytest.mark.parametrize("fake", [[429, "this is not json", {"summary": "too short"}, GOOD]], indirect=True)
async def test_rate_limits_and_malformed_answers_are_retried(fake: Fake) -> None:
    scripted, client = fake
    outcome = await groq_outcome(client, LINES, [], "agent_resolved", attempts=4)
    assert outcome.summary == GOOD["summary"] and len(scripted.requests) == 4


@pytest.mark.parametrize("fake", [[429, 503, "{not json"]], indirect=True)
async def test_it_gives_up_after_its_attempts_with_the_reasons(fake: Fake) -> None:
    _, client = fake
    with pytest.raises(SummaryUnavailable) as failed:
        await groq_outcome(client, LINES, [], "agent_resolved", attempts=3)
    assert "RateLimitError" in str(failed.value) and "malformed answer" in str(failed.value)


@pytest.mark.parametrize("fake", [[{**GOOD, "tags": ["billing", "refund", "billing", "refund"]}]], indirect=True)
async def test_a_tag_the_model_repeats_is_kept_once(fake: Fake) -> None:
    _, client = fake
    outcome = await groq_outcome(client, LINES, ["refund"], "agent_resolved")
    assert outcome.tags == ["refund", "billing"]
