"""The scorer reads each customer utterance with the customer's previous turn as its context, and a
customer turning annoyed is published at once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from contracts.analytics import SentimentScore
from contracts.calls import CallRef
from contracts.transcripts import TranscriptChunk
from sentiment.app import Scorer
from sentiment.model import Scored, load_model


class Recording:
    name = "recording"

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []

    def score(self, texts: Sequence[str], contexts: Sequence[str | None] | None = None) -> list[Scored]:
        self.seen += list(zip(texts, contexts or [None] * len(texts), strict=True))
        return [Scored("neutral", 0.0, (0.0, 1.0, 0.0)) for _ in texts]


class Bus:
    def __init__(self) -> None:
        self.published: list = []

    async def publish(self, event) -> None:
        self.published.append(event)


def call_ids() -> dict[str, uuid.UUID]:
    return {"supervisor_id": uuid.uuid4(), "agent_id": uuid.uuid4(), "call_id": uuid.uuid4()}


async def scorer_of_one_call(bus: Bus, model: object, ids: dict[str, uuid.UUID]) -> Scorer:
    """A scorer fed straight by the test, owning one call (no database: nobody else competes for it)."""
    scorer = Scorer(bus, None, model, interval=5, lease_seconds=5)  # type: ignore[arg-type]
    await scorer.open_call(CallRef(**ids), inherited=False)
    return scorer


async def test_each_utterance_is_scored_with_the_customers_previous_turn() -> None:
    model, ids = Recording(), call_ids()
    scorer = await scorer_of_one_call(Bus(), model, ids)
    said = [("customer", "My refund hasn't come."), ("agent", "Let me check."), ("customer", "Still nothing.")]
    for seq, (speaker, text) in enumerate(said):
        await scorer.follow(TranscriptChunk(**ids, seq=seq, speaker=speaker, text=text))
    await scorer.score_pending()
    assert model.seen == [("My refund hasn't come.", None), ("Still nothing.", "My refund hasn't come.")]


async def test_a_customer_turning_annoyed_is_negative_in_the_very_next_publication() -> None:
    bus, ids = Bus(), call_ids()
    scorer = await scorer_of_one_call(bus, load_model(), ids)
    lines = ["Hi, I'd like to check on my order please.", "Great, thanks.", "Oh, and one more thing.",
             "Hello? Are you still there? I am getting annoyed."]
    for seq, text in enumerate(lines):
        await scorer.follow(TranscriptChunk(**ids, seq=seq, speaker="customer", text=text))
        await scorer.score_pending()
        await scorer.publish(scorer.calls[ids["call_id"]])
    sentiments = [e for e in bus.published if isinstance(e, SentimentScore)]
    assert sentiments[-2].label != "negative" and sentiments[-1].label == "negative", sentiments
