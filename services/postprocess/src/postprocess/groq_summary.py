"""The hosted post-call summary: openai/gpt-oss-20b on Groq (the groq SDK), asked for JSON.

Rate limits and provider errors are retried with backoff (honouring Retry-After); an answer that is
not the JSON asked for counts as an error too. When the attempts run out the caller falls back to the
offline summary, and the archive records which path produced it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Annotated

import groq
from pydantic import BaseModel, Field, StringConstraints, ValidationError

from postprocess.summary import Line, Outcome

log = logging.getLogger("postprocess.groq")
MODEL = "openai/gpt-oss-20b"
BACKOFF_SECONDS = (1.0, 3.0, 8.0)
MAX_WAIT_SECONDS = 30.0

Tag = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=50)]


class GroqAnswer(BaseModel):
    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=10, max_length=2000)]
    tags: list[Tag] = Field(max_length=8)
    resolved: bool
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""


class SummaryUnavailable(Exception):
    """Every attempt failed; the message says how, for the log."""


def prompt(lines: list[Line], taxonomy: list[str], end_reason: str) -> list[dict[str, str]]:
    transcript = "\n".join(f"{line.speaker}: {line.text}" for line in lines)
    return [
        {"role": "system", "content": (
            "You summarise customer-service conversations for a supervisor. Answer with one JSON object: "
            '{"summary": "2-3 sentences: the request, what the agent did, the outcome", '
            '"tags": ["up to 4 short lowercase tags, preferring these: ' + ", ".join(taxonomy) + '"], '
            '"resolved": true or false, "reason": "why resolved or not"}. Only JSON, no other text.')},
        {"role": "user", "content": f"The call ended: {end_reason}.\n\nTranscript:\n{transcript}"},
    ]


def _wait(exc: Exception, attempt: int) -> float:
    """The provider's Retry-After when it gives one (capped), else our backoff."""
    response = getattr(exc, "response", None)
    retry_after = response.headers.get("retry-after") if response is not None else None
    if retry_after and retry_after.replace(".", "", 1).isdigit():
        return min(float(retry_after), MAX_WAIT_SECONDS)
    return BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]


async def groq_outcome(client: groq.AsyncGroq, lines: list[Line], taxonomy: list[str], end_reason: str,
                       attempts: int = 3) -> Outcome:
    problems: list[str] = []
    for attempt in range(attempts):
        wait = BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]
        try:
            response = await client.chat.completions.create(
                model=MODEL, messages=prompt(lines, taxonomy, end_reason), temperature=0,
                response_format={"type": "json_object"})
            answer = GroqAnswer.model_validate(json.loads(response.choices[0].message.content or ""))
        except (groq.RateLimitError, groq.APIStatusError, groq.APIConnectionError) as exc:
            problems.append(f"{type(exc).__name__}: {exc}"[:200])
            wait = _wait(exc, attempt)
        except (ValueError, ValidationError) as exc:  # not the JSON we asked for
            problems.append(f"malformed answer: {exc}"[:200])
        else:
            preferred = list(dict.fromkeys([t for t in answer.tags if t in taxonomy]
                                           + [t for t in answer.tags if t not in taxonomy]))
            return Outcome(answer.summary, preferred[:5], answer.resolved, answer.reason or "per the model",
                           source=f"groq:{MODEL}")
        if attempt + 1 < attempts:
            log.warning("Groq summary attempt %d failed (%s); retrying in %.1f s", attempt + 1, problems[-1], wait)
            await asyncio.sleep(wait)
    raise SummaryUnavailable("; ".join(problems))
