"""From summed counts to KPIs, and the performance score (docs/analytics.md explains every term).

performance score = 100 x (w_fcr x FCR + w_csat x (CSAT - 1) / 4 + w_aht x min(1, AHT target / AHT))
                    / (the sum of the weights of the terms that have data)

Every term is normalised to [0, 1] with 1 the best, so the weights say how much each matters. A
term without data (no CSAT estimate in the range) drops out and the others are re-weighted, rather
than counting as zero. The weights and the AHT target come from the environment (KPI_*).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ScoreWeights(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KPI_", extra="ignore")

    weight_fcr: float = Field(0.4, ge=0)
    weight_csat: float = Field(0.4, ge=0)
    weight_aht: float = Field(0.2, ge=0)
    aht_target_seconds: float = Field(300.0, gt=0, description="Handling at or under this scores full marks.")


@dataclass(frozen=True)
class Sums:
    """The additive counts one aggregate row (or a sum of rows) holds."""

    calls: int = 0
    handle_seconds_sum: float = 0.0
    csat_sum: float = 0.0
    csat_count: int = 0
    fcr_count: int = 0
    resolved_count: int = 0
    sentiment_negative: int = 0
    sentiment_neutral: int = 0
    sentiment_positive: int = 0
    tool_requests: int = 0
    tools_denied: int = 0
    taken_over: int = 0
    # From every call that ended, answered or not.
    ended_calls: int = 0
    answered_calls: int = 0
    abandoned_in_queue: int = 0
    abandoned_in_call: int = 0
    answer_wait_seconds_sum: float = 0.0
    answer_wait_seconds_max: float = 0.0  # combined by max, not sum

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Sums:
        return cls(**{name: row[name] for name in SUM_NAMES})


SUM_NAMES = tuple(f.name for f in fields(Sums))


class SentimentMix(BaseModel):
    negative: int
    neutral: int
    positive: int


class Abandonment(BaseModel):
    ended_calls: int = Field(description="Calls that ended in the range, answered or not.")
    before_answer: int = Field(description="Callers who left the queue before an agent answered.")
    after_answer: int = Field(description="Customers who vanished from an answered call without hanging up.")
    rate: float | None = Field(description="(before + after) / ended calls, 0-1.")
    asa_seconds: float | None = Field(description="Average speed of answer: the mean wait of answered callers.")
    longest_wait_seconds: float | None = Field(description="The longest wait of an answered caller.")


class Kpis(BaseModel):
    calls: int = Field(description="Archived calls in the range.")
    fcr: float | None = Field(description="First-contact resolution rate, 0-1.")
    csat: float | None = Field(description="Mean final satisfaction estimate, 1-5, over calls that have one.")
    aht_seconds: float | None = Field(description="Average handle time.")
    resolved_rate: float | None
    performance_score: float | None = Field(description="0-100; see docs/analytics.md.")
    sentiment_mix: SentimentMix = Field(description="Calls by their final customer sentiment.")
    tool_requests: int
    tools_denied: int
    taken_over: int = Field(description="Archived calls a person took over from the agent.")
    takeover_rate: float | None = Field(description="Share of the calls a person took over, 0-1.")
    abandonment: Abandonment


def abandonment_from(sums: Sums) -> Abandonment:
    left = sums.abandoned_in_queue + sums.abandoned_in_call
    return Abandonment(
        ended_calls=sums.ended_calls, before_answer=sums.abandoned_in_queue, after_answer=sums.abandoned_in_call,
        rate=round(left / sums.ended_calls, 4) if sums.ended_calls else None,
        asa_seconds=round(sums.answer_wait_seconds_sum / sums.answered_calls, 1) if sums.answered_calls else None,
        longest_wait_seconds=round(sums.answer_wait_seconds_max, 1) if sums.answered_calls else None)


def performance_score(fcr: float | None, csat: float | None, aht_seconds: float | None,
                      weights: ScoreWeights) -> float | None:
    terms = [(weights.weight_fcr, fcr),
             (weights.weight_csat, None if csat is None else (csat - 1.0) / 4.0),
             (weights.weight_aht, None if aht_seconds is None else min(1.0, weights.aht_target_seconds
                                                                       / max(aht_seconds, 1.0)))]
    present = [(weight, value) for weight, value in terms if value is not None and weight > 0]
    total_weight = sum(weight for weight, _ in present)
    if not present or total_weight == 0:
        return None
    return round(100.0 * sum(weight * value for weight, value in present) / total_weight, 1)


def kpis_from(sums: Sums, weights: ScoreWeights) -> Kpis:
    calls = sums.calls
    fcr = sums.fcr_count / calls if calls else None
    csat = sums.csat_sum / sums.csat_count if sums.csat_count else None
    aht = sums.handle_seconds_sum / calls if calls else None
    return Kpis(
        calls=calls,
        fcr=None if fcr is None else round(fcr, 4),
        csat=None if csat is None else round(csat, 2),
        aht_seconds=None if aht is None else round(aht, 1),
        resolved_rate=round(sums.resolved_count / calls, 4) if calls else None,
        performance_score=performance_score(fcr, csat, aht, weights),
        sentiment_mix=SentimentMix(negative=sums.sentiment_negative, neutral=sums.sentiment_neutral,
                                   positive=sums.sentiment_positive),
        tool_requests=sums.tool_requests,
        tools_denied=sums.tools_denied,
        taken_over=sums.taken_over,
        takeover_rate=round(sums.taken_over / calls, 4) if calls else None,
        abandonment=abandonment_from(sums),
    )
