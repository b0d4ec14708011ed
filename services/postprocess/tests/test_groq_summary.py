"""The Groq summary path with the real groq SDK against a local server speaking the chat-completions
protocol: a good answer, a rate limit then success, malformed JSON, and a fallback when it never works."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import groq
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from postprocess import groq_summary
from postprocess.groq_summary import MODEL, SummaryUnavailable, groq_outcome
from postprocess.summary import Line
from tests.integration.conftest import serve

LINES = [Line("customer", "I was charged twice for ORD-1042."), Line("agent", "I've refunded the duplicate charge.")]
GOOD = {"summary": "The customer was charged twice; the agent refunded the duplicate.", "tags": ["billing", "refund"],
        "resolved": True, "reason": "refund issued"}


@dataclass
class ScriptedGroq:
    """Answers each request with the next scripted reply: a JSON body for the message, or an HTTP error."""

    replies: list[Any]
    requests: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/openai/v1/chat/completions")
        async def chat(request: Request) -> Any:
            self.requests.append(await request.json())
            reply = self.replies.pop(0)
            if isinstance(reply, int):
                return JSONResponse({"error": {"message": "rate limited", "type": "tokens"}}, reply,
                                    headers={"retry-after": "0.1"})
            content = reply if isinstance(reply, str) else json.dumps(reply)
            return {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": MODEL,
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}}

        return app


@pytest.fixture
def fake(request: pytest.FixtureRequest,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ScriptedGroq, groq.AsyncGroq]]:
    scripted = ScriptedGroq(list(request.param))
    served = serve(scripted.app())
    monkeypatch.setattr(groq_summary, "BACKOFF_SECONDS", (0.05,))
    try:
        yield scripted, groq.AsyncGroq(api_key="fake-groq-key", base_url=served.url, max_retries=0)
    finally:
        served.stop()


@pytest.mark.parametrize("fake", [[GOOD]], indirect=True)
async def test_a_structured_answer_becomes_the_summary(fake: tuple[ScriptedGroq, groq.AsyncGroq]) -> None:
    scripted, client = fake
    outcome = await groq_outcome(client, LINES, ["refund", "shipping"], "agent_resolved")
    assert outcome.summary == GOOD["summary"] and outcome.resolved and outcome.source == f"groq:{MODEL}"
    assert outcome.tags == ["refund", "billing"]  # the agent's own taxonomy first
    sent = scripted.requests[0]
    assert sent["model"] == "openai/gpt-oss-20b" and sent["response_format"] == {"type": "json_object"}
    assert "I was charged twice" in sent["messages"][1]["content"]
    assert "refund, shipping" in sent["messages"][0]["content"]


@pytest.mark.parametrize("fake", [[429, "this is not json", {"summary": "too short"}, GOOD]], indirect=True)
async def test_rate_limits_and_malformed_answers_are_retried(fake: tuple[ScriptedGroq, groq.AsyncGroq]) -> None:
    scripted, client = fake
    outcome = await groq_outcome(client, LINES, [], "agent_resolved", attempts=4)
    assert outcome.summary == GOOD["summary"] and len(scripted.requests) == 4


@pytest.mark.parametrize("fake", [[429, 503, "{not json"]], indirect=True)
async def test_it_gives_up_after_its_attempts_with_the_reasons(fake: tuple[ScriptedGroq, groq.AsyncGroq]) -> None:
    _, client = fake
    with pytest.raises(SummaryUnavailable) as failed:
        await groq_outcome(client, LINES, [], "agent_resolved", attempts=3)
    assert "RateLimitError" in str(failed.value) and "malformed answer" in str(failed.value)
