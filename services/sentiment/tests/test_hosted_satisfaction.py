"""The hosted satisfaction estimate with the real groq and openai SDKs against a local server speaking
the chat-completions protocol, and in the scorer on a real bus: the hosted answer replaces the
formula while current; rate limits and malformed answers fall back to the formula."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import pytest

from contracts.analytics import SatisfactionScore
from contracts.bus import Bus
from contracts.calls import CallRef
from contracts.registry import decode_event
from contracts.transcripts import TranscriptChunk
from sentiment import app as sentiment_app
from sentiment.app import Scorer
from sentiment.hosted_satisfaction import EstimateUnavailable, HostedEstimator, hosted_estimator
from sentiment.model import load_model
from tests.fakes.chat_completions import ScriptedChatCompletions
from tests.integration.conftest import ServedApp, serve

CONVERSATION = [("customer", "My order ORD-1042 is two weeks late."), ("agent", "I'm sorry, let me check."),
                ("customer", "This is the third time I ask!")]
ANSWER = {"score": 2.2, "reasons": ["order late", "customer repeated the question"]}


@pytest.fixture
def scripted(request: pytest.FixtureRequest) -> Iterator[tuple[ScriptedChatCompletions, ServedApp]]:
    fake = ScriptedChatCompletions(list(request.param))
    served = serve(fake.app())
    try:
        yield fake, served
    finally:
        served.stop()


def groq_estimator(served: ServedApp) -> HostedEstimator:
    estimator = hosted_estimator(openai_base_url=None, openai_api_key=None, groq_api_key="fake-key",
                                 groq_base_url=served.url, model=None, timeout=5)
    assert estimator is not None
    return estimator


@pytest.mark.parametrize("scripted", [[ANSWER]], indirect=True)
async def test_groq_answers_with_a_score_and_reasons(scripted: tuple[ScriptedChatCompletions, ServedApp]) -> None:
    fake, served = scripted
    estimator = groq_estimator(served)
    assert await estimator.estimate(CONVERSATION) == (2.2, ANSWER["reasons"])
    sent = fake.requests[0]
    assert sent["model"] == "llama-3.1-8b-instant" and sent["response_format"] == {"type": "json_object"}
    assert "customer: This is the third time I ask!" in sent["messages"][1]["content"]
    assert estimator.source == "groq:llama-3.1-8b-instant"


@pytest.mark.parametrize("scripted", [[ANSWER]], indirect=True)
async def test_an_openai_compatible_server_is_used_when_its_url_is_set(
        scripted: tuple[ScriptedChatCompletions, ServedApp]) -> None:
    fake, served = scripted
    estimator = hosted_estimator(openai_base_url=f"{served.url}/v1", openai_api_key=None, groq_api_key="also-set",
                                 groq_base_url=None, model="qwen2.5-1.5b", timeout=5)
    assert estimator is not None and estimator.source == "openai-compatible:qwen2.5-1.5b"
    assert await estimator.estimate(CONVERSATION) == (2.2, ANSWER["reasons"])
    assert fake.requests[0]["model"] == "qwen2.5-1.5b"
    with pytest.raises(ValueError, match="SENTIMENT_SATISFACTION_MODEL"):
        hosted_estimator(openai_base_url=served.url, openai_api_key=None, groq_api_key=None, groq_base_url=None,
                         model=None, timeout=5)


@pytest.mark.parametrize("scripted", [[429, "not json at all", {"score": 9, "reasons": ["out of range"]}, 503]],
                         indirect=True)
async def test_rate_limits_errors_and_malformed_answers_are_unavailable(
        scripted: tuple[ScriptedChatCompletions, ServedApp]) -> None:
    _, served = scripted
    estimator = groq_estimator(served)
    with pytest.raises(EstimateUnavailable, match="rate limited"):
        await estimator.estimate(CONVERSATION)
    assert estimator.paused  # for the provider's Retry-After (0.1 s here)
    await asyncio.sleep(0.15)
    assert not estimator.paused
    for problem in ("malformed answer", "malformed answer", "InternalServerError"):
        with pytest.raises(EstimateUnavailable, match=problem):
            await estimator.estimate(CONVERSATION)


@pytest.mark.parametrize("scripted", [[ANSWER, "{broken"]], indirect=True)
async def test_the_scorer_publishes_the_hosted_estimate_while_current_then_the_formula(
        scripted: tuple[ScriptedChatCompletions, ServedApp], bus: Bus, monkeypatch: pytest.MonkeyPatch) -> None:
    _, served = scripted
    monkeypatch.setattr(sentiment_app, "HOSTED_FRESH_SECONDS", 0.0)  # a lagging estimate no longer stands
    ids = {"supervisor_id": uuid.uuid4(), "agent_id": uuid.uuid4(), "call_id": uuid.uuid4()}
    received: asyncio.Queue[SatisfactionScore] = asyncio.Queue()

    async def collect(message) -> None:  # type: ignore[no-untyped-def]
        await received.put(decode_event(message.data))

    subscription = await bus.nc.subscribe(f"satisfaction.score.{ids['supervisor_id']}.>", cb=collect)
    scorer = Scorer(bus, None, load_model(None), interval=5.0, lease_seconds=5.0,  # type: ignore[arg-type]
                    hosted=groq_estimator(served))
    await scorer.open_call(CallRef(**ids), inherited=False)  # fed by the test: no database, no other instance

    async def customer_says(seq: int, text: str) -> None:
        await scorer.follow(TranscriptChunk(**ids, seq=seq, speaker="customer", text=text))
        await scorer.score_pending()
        await scorer.publish(scorer.calls[ids["call_id"]])
        await asyncio.gather(*scorer.asking)

    await customer_says(0, CONVERSATION[0][1])
    first = await asyncio.wait_for(received.get(), 5)
    assert first.source == "local-formula"  # the hosted answer was not back yet
    await scorer.publish(scorer.calls[ids["call_id"]])
    hosted = await asyncio.wait_for(received.get(), 5)
    assert (hosted.score, hosted.reasons, hosted.source) == (2.2, ANSWER["reasons"], "groq:llama-3.1-8b-instant")

    await customer_says(1, "Thanks, that's sorted then.")  # the model now answers garbage
    after = await asyncio.wait_for(received.get(), 5)
    assert after.source == "local-formula" and "resolved" in json.dumps(after.reasons)
    await subscription.unsubscribe()
