"""Live per-call metrics for the supervisor dashboard."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, NonNegativeInt

from contracts.calls import CallScoped


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
