"""Live metrics: per call for the supervisor dashboard, per supervisor for the counters."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, NonNegativeInt

from contracts.calls import CallScoped
from contracts.envelope import Envelope


class SentimentScore(CallScoped):
    topic: ClassVar[str] = "sentiment.score"
    type: Literal["sentiment.score"] = "sentiment.score"
    label: Literal["negative", "neutral", "positive"]
    score: float = Field(ge=-1.0, le=1.0)
    trend: float = Field(ge=-2.0, le=2.0, description="Change of the rolling score over the window.")
    utterances: NonNegativeInt = Field(description="Customer utterances scored so far.")
    model: str


class SatisfactionScore(CallScoped):
    topic: ClassVar[str] = "satisfaction.score"
    type: Literal["satisfaction.score"] = "satisfaction.score"
    score: float = Field(ge=1.0, le=5.0)
    reasons: list[str] = Field(default_factory=list, max_length=10)
    source: str = Field(description="Which estimator produced it.")


class LiveCounters(Envelope):
    """One supervisor's floor right now; the admin's totals are the sum over supervisors."""

    topic: ClassVar[str] = "analytics.counters"
    type: Literal["analytics.counters"] = "analytics.counters"
    active_calls: NonNegativeInt
    queued_calls: NonNegativeInt
    agents_total: NonNegativeInt
    agents_busy: NonNegativeInt = Field(description="Agents with a live call.")
    longest_wait_seconds: float = Field(ge=0.0, description="The longest-waiting queued caller; 0 when none.")
    abandoned_today: NonNegativeInt = Field(default=0, description="Calls abandoned since midnight UTC, before "
                                                                   "or after an answer.")
