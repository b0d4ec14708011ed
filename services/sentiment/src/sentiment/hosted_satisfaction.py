"""The hosted satisfaction estimate: a lightweight LLM on Groq (the groq SDK) or on any
OpenAI-compatible server (the openai SDK) reads the recent conversation and answers JSON
``{"score": 1-5, "reasons": [...]}``.

It is asked only when the conversation changed since its last answer, one request per call at a
time, off the scoring loop. A failed or malformed answer leaves the local formula in charge for that
round; a rate limit pauses all requests for the provider's Retry-After. Each SatisfactionScore's
``source`` names which estimator produced it.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Annotated, Any

import groq
import openai
from pydantic import BaseModel, Field, StringConstraints, ValidationError

log = logging.getLogger("sentiment.hosted")
DEFAULT_GROQ_MODEL = "llama-3.1-8b-instant"
RATE_LIMIT_PAUSE_SECONDS = 20.0
MAX_PAUSE_SECONDS = 120.0

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class HostedAnswer(BaseModel):
    score: float = Field(ge=1.0, le=5.0)
    reasons: list[Reason] = Field(min_length=1, max_length=5)


class EstimateUnavailable(Exception):
    """This round's answer could not be had; the message says why, for the log."""


SYSTEM_PROMPT = (
    "You watch a live customer-service conversation and estimate how satisfied the customer is right now, "
    "from 1 (very dissatisfied) to 5 (very satisfied). Weigh their tone, whether their problem is being "
    "solved, repeated questions, requests to escalate and failed actions. Answer with one JSON object: "
    '{"score": <number 1-5>, "reasons": ["up to 3 short reasons"]}. Only JSON.')

RATE_LIMITS = (groq.RateLimitError, openai.RateLimitError)
PROVIDER_ERRORS = (groq.APIStatusError, groq.APIConnectionError, openai.APIStatusError, openai.APIConnectionError)


@dataclass
class HostedEstimator:
    client: Any  # groq.AsyncGroq or openai.AsyncOpenAI: the same chat.completions interface
    model: str
    source: str
    paused_until: float = 0.0

    @property
    def paused(self) -> bool:
        return time.monotonic() < self.paused_until

    async def estimate(self, lines: list[tuple[str, str]]) -> tuple[float, list[str]]:
        transcript = "\n".join(f"{speaker}: {text}" for speaker, text in lines)
        try:
            response = await self.client.chat.completions.create(
                model=self.model, temperature=0, response_format={"type": "json_object"},
                messages=[{"role": "system", "content": SYSTEM_PROMPT},
                          {"role": "user", "content": f"Conversation so far:\n{transcript}"}])
            answer = HostedAnswer.model_validate(json.loads(response.choices[0].message.content or ""))
        except RATE_LIMITS as exc:
            self.paused_until = time.monotonic() + _retry_after(exc)
            raise EstimateUnavailable(f"rate limited; paused {self.paused_until - time.monotonic():.0f} s") from exc
        except PROVIDER_ERRORS as exc:
            raise EstimateUnavailable(f"{type(exc).__name__}: {exc}"[:200]) from exc
        except (ValueError, ValidationError) as exc:
            raise EstimateUnavailable(f"malformed answer: {exc}"[:200]) from exc
        return round(answer.score, 1), answer.reasons


def _retry_after(exc: Exception) -> float:
    header = exc.response.headers.get("retry-after") if getattr(exc, "response", None) is not None else None
    try:
        return min(float(header), MAX_PAUSE_SECONDS) if header else RATE_LIMIT_PAUSE_SECONDS
    except ValueError:
        return RATE_LIMIT_PAUSE_SECONDS


def hosted_estimator(*, openai_base_url: str | None, openai_api_key: str | None, groq_api_key: str | None,
                     groq_base_url: str | None, model: str | None, timeout: float) -> HostedEstimator | None:
    """The configured provider: an OpenAI-compatible server when its URL is set, else Groq when its key
    is, else none (the local formula)."""
    if openai_base_url:
        if not model:
            raise ValueError("SENTIMENT_SATISFACTION_MODEL must name the model of SATISFACTION_LLM_BASE_URL")
        client = openai.AsyncOpenAI(base_url=openai_base_url, api_key=openai_api_key or "not-needed",
                                    timeout=timeout, max_retries=0)
        return HostedEstimator(client, model, f"openai-compatible:{model}")
    if groq_api_key:
        client = groq.AsyncGroq(api_key=groq_api_key, base_url=groq_base_url, timeout=timeout, max_retries=0)
        chosen = model or DEFAULT_GROQ_MODEL
        return HostedEstimator(client, chosen, f"groq:{chosen}")
    return None
