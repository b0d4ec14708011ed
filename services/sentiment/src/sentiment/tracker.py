"""Per-call sentiment over time: plain state, no I/O.

The rolling score is an exponentially weighted mean of the customer's utterance scores (recent ones
count most), except that a clearly negative utterance shows at once: the score drops to it, rather than
being averaged away by a calm start, so a customer turning annoyed is negative on the supervisor's card
in the very next publication (the service publishes on every change, and at least every 5 s). Getting
better is averaged: one polite line does not undo a complaint. The trend is how far the score moved over
the last few utterances. Labels use a dead band, so a call does not flip between neutral and positive on
every small change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from uuid import UUID

from sentiment.satisfaction import Conversation

SMOOTHING = 0.5  # weight of the newest utterance in the rolling score
TREND_SPAN = 3  # utterances over which the trend is measured
LABEL_BAND = 0.25

Label = Literal["negative", "neutral", "positive"]


def label_for(score: float) -> Label:
    if score <= -LABEL_BAND:
        return "negative"
    if score >= LABEL_BAND:
        return "positive"
    return "neutral"


@dataclass
class CallMood:
    supervisor_id: UUID
    agent_id: UUID
    call_id: UUID
    history: list[float] = field(default_factory=list)  # the rolling score after each utterance
    last_published_at: float = 0.0
    held_until: float = 0.0  # no publication before (time.monotonic()): the call's events are being read again
    last_heard_at: float = 0.0
    changed: bool = True
    conversation: Conversation = field(default_factory=Conversation)
    previous_utterance: str | None = None  # the customer's last turn: the context of their next one
    # The hosted satisfaction estimate, and the conversation version it read (see hosted_satisfaction).
    hosted_estimate: tuple[float, list[str]] | None = None
    hosted_version: int = -1
    hosted_at: float = 0.0
    hosted_retry_at: float = 0.0
    asking: bool = False

    def stale(self, now: float, after: float) -> bool:
        """Nothing heard for ``after`` seconds: its call.ended was lost (or predates this service)."""
        return now - self.last_heard_at >= after

    def add(self, utterance_score: float) -> None:
        if not self.history:
            rolling = utterance_score
        else:
            rolling = SMOOTHING * utterance_score + (1 - SMOOTHING) * self.history[-1]
            if utterance_score <= -LABEL_BAND:  # turning negative shows at once
                rolling = min(rolling, utterance_score)
        self.history.append(max(-1.0, min(1.0, rolling)))
        self.changed = True

    @property
    def score(self) -> float:
        return self.history[-1] if self.history else 0.0

    @property
    def trend(self) -> float:
        if len(self.history) < 2:
            return 0.0
        before = self.history[max(0, len(self.history) - 1 - TREND_SPAN)]
        return max(-2.0, min(2.0, self.score - before))

    @property
    def label(self) -> Label:
        return label_for(self.score)

    def due(self, now: float, interval: float) -> bool:
        """Publish now: something changed, or the interval passed (the dashboard hears at least that often)."""
        return now >= self.held_until and (self.changed or now - self.last_published_at >= interval)
