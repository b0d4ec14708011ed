"""setup(runtime): score customers' utterances in batches and publish each live call's sentiment at
least every ``publish_interval_seconds`` (and at once when it changes)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

import asyncpg

from contracts.analytics import SatisfactionScore, SentimentScore
from contracts.bus import Bus
from contracts.calls import CallEnded, CallRef, CallStarted
from contracts.envelope import Envelope
from contracts.logs import call_context
from contracts.metrics import LIVE_CALLS
from contracts.ownership import CallOwnership, Leases
from contracts.service import Runtime
from contracts.subscribers import Subscriber
from contracts.tools import ToolExecuted, ToolPermissionDecision, ToolPermissionRequest
from contracts.transcripts import TranscriptChunk
from sentiment.config import Settings
from sentiment.hosted_satisfaction import EstimateUnavailable, HostedEstimator, hosted_estimator
from sentiment.model import SentimentModel, load_model
from sentiment.satisfaction import estimate
from sentiment.tracker import CallMood

log = logging.getLogger("sentiment")
SATISFACTION_SOURCE = "local-formula"
# A hosted estimate that lags the conversation still stands this long; then the formula takes over.
HOSTED_FRESH_SECONDS = 15.0
HOSTED_FAILURE_BACKOFF_SECONDS = 15.0
MAX_BATCH = 64
FORGET_SILENT_CALLS_SECONDS = 3600.0
# A call taken over is read again from its start in milliseconds; its scores go out once that is done.
REBUILD_SECONDS = 1.0


@dataclass
class Scorer:
    bus: Bus
    pool: asyncpg.Pool
    model: SentimentModel
    interval: float
    lease_seconds: float
    calls: dict[UUID, CallMood] = field(default_factory=dict)  # the calls this instance owns
    pending: list[tuple[UUID, str, str | None]] = field(default_factory=list)  # call, utterance, previous turn
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    scoring: asyncio.Lock = field(default_factory=asyncio.Lock)
    hosted: HostedEstimator | None = None
    asking: set[asyncio.Task] = field(default_factory=set)
    ownership: CallOwnership[Scorer] = field(init=False)

    def __post_init__(self) -> None:
        # A call taken over from a dead instance is read again from its start: its scores lived only there.
        self.ownership = CallOwnership(self.pool, self.bus, Leases("sentiment", self.lease_seconds), call_events, self,
                                       replays_inherited_calls=True)

    async def open_call(self, call: CallRef, inherited: bool) -> bool:
        mood = CallMood(call.supervisor_id, call.agent_id, call.call_id, last_heard_at=time.monotonic())
        if inherited:  # the supervisor keeps the dead owner's last figures until the call's events are read again
            mood.held_until = time.monotonic() + REBUILD_SECONDS
        self.calls[call.call_id] = mood
        return True

    async def close_call(self, call_id: UUID) -> None:
        self.calls.pop(call_id, None)

    def mood(self, event: Envelope) -> CallMood | None:
        if (mood := self.calls.get(event.call_id)) is not None:  # type: ignore[arg-type]
            mood.last_heard_at = time.monotonic()
        return mood

    async def follow(self, event: Envelope) -> None:
        if (mood := self.mood(event)) is None:
            return
        if isinstance(event, TranscriptChunk) and event.speaker == "customer":
            mood.conversation.customer_said(event.text)
            self.pending.append((mood.call_id, event.text, mood.previous_utterance))
            mood.previous_utterance = event.text
            self.wake.set()
        elif isinstance(event, TranscriptChunk) and event.speaker == "agent":
            mood.conversation.agent_said(event.text)
        elif isinstance(event, ToolExecuted):
            mood.conversation.tool_finished(event.ok)
            mood.changed = True
        elif isinstance(event, ToolPermissionDecision) and not event.allowed and event.decided_by != "call_ended":
            mood.conversation.tool_finished(False)
            mood.changed = True
        elif isinstance(event, CallEnded):
            await self.score_pending()
            del self.calls[mood.call_id]
            mood.changed = True
            await self.publish(mood)

    async def score_pending(self) -> None:
        """One batch for everything waiting, off the event loop (inference is CPU work). Each utterance is
        read with the customer's previous turn as its context. One round at a time: a call's end waits
        for its utterances already being scored, or its last publication would miss them."""
        async with self.scoring:
            while self.pending:
                batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
                scored = await asyncio.to_thread(self.model.score, [text for _, text, _ in batch],
                                                 [context for _, _, context in batch])
                for (call_id, _, _), result in zip(batch, scored, strict=True):
                    if call_id in self.calls:
                        self.calls[call_id].add(result.score)

    async def publish(self, mood: CallMood) -> None:
        ids = {"supervisor_id": mood.supervisor_id, "agent_id": mood.agent_id, "call_id": mood.call_id}
        await self.bus.publish(SentimentScore(**ids, label=mood.label, score=round(mood.score, 4),
                                              trend=round(mood.trend, 4), utterances=len(mood.history),
                                              model=self.model.name))
        self.ask_hosted(mood)
        satisfaction, reasons, source = self.satisfaction(mood)
        await self.bus.publish(SatisfactionScore(**ids, score=satisfaction, reasons=reasons, source=source))
        mood.changed = False
        mood.last_published_at = time.monotonic()

    def satisfaction(self, mood: CallMood) -> tuple[float, list[str], str]:
        """The hosted estimate while it is current, else the local formula."""
        if self.hosted is not None and mood.hosted_estimate is not None and (
                mood.hosted_version == mood.conversation.version
                or time.monotonic() - mood.hosted_at < HOSTED_FRESH_SECONDS):
            score, reasons = mood.hosted_estimate
            return score, reasons, self.hosted.source
        score, reasons = estimate(mood.score, mood.trend, mood.conversation)
        return score, reasons, SATISFACTION_SOURCE

    def ask_hosted(self, mood: CallMood) -> None:
        """Start a hosted estimate when the conversation moved on since the last one (one at a time)."""
        if self.hosted is None or mood.asking or self.hosted.paused or not mood.conversation.recent_lines \
                or mood.hosted_version == mood.conversation.version or time.monotonic() < mood.hosted_retry_at:
            return
        mood.asking = True
        task = asyncio.create_task(self._ask(self.hosted, mood, mood.conversation.version,
                                             list(mood.conversation.recent_lines)))
        self.asking.add(task)
        task.add_done_callback(self.asking.discard)

    async def _ask(self, hosted: HostedEstimator, mood: CallMood, version: int, lines: list[tuple[str, str]]) -> None:
        with call_context(mood.call_id):
            try:
                mood.hosted_estimate = await hosted.estimate(lines)
                mood.hosted_version, mood.hosted_at, mood.changed = version, time.monotonic(), True
                self.wake.set()
            except EstimateUnavailable as exc:
                mood.hosted_retry_at = time.monotonic() + HOSTED_FAILURE_BACKOFF_SECONDS
                log.warning("hosted satisfaction estimate unavailable (%s); using the local formula", exc)
            finally:
                mood.asking = False

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=min(1.0, self.interval))
            except TimeoutError:
                pass
            self.wake.clear()
            try:
                await self.score_pending()
                now = time.monotonic()
                for mood in list(self.calls.values()):
                    if mood.stale(now, FORGET_SILENT_CALLS_SECONDS):
                        self.ownership.end(mood.call_id)
                    elif mood.due(now, self.interval):
                        await self.publish(mood)
                LIVE_CALLS.labels("sentiment").set(len(self.calls))
            except Exception:
                log.exception("scoring round failed; trying again")


# The service's shared consumer: each call's start reaches one instance, which takes the call.
call_starts = Subscriber[Scorer]("sentiment")
# A call's own consumer, read by its owner only.
call_events = Subscriber[Scorer]("sentiment")
call_events.ignores(ToolPermissionRequest)  # shares tool.permission with the decisions; the decision is what counts


@call_starts.handles(CallStarted)
async def started(scorer: Scorer, event: CallStarted) -> None:
    await scorer.ownership.claim(event)


@call_events.handles(TranscriptChunk, ToolExecuted, ToolPermissionDecision, CallEnded)
async def follow_call(scorer: Scorer, event: Envelope) -> None:
    await scorer.follow(event)
    if isinstance(event, CallEnded):
        scorer.ownership.end(event.call_id)


async def setup(runtime: Runtime[Settings]) -> None:
    settings = runtime.settings
    model = load_model(Path(settings.model_dir) if settings.model_dir else None)
    hosted = None if settings.satisfaction_llm == "off" else hosted_estimator(
        openai_base_url=settings.satisfaction_llm_base_url, openai_api_key=settings.satisfaction_llm_api_key,
        groq_api_key=settings.groq_api_key, groq_base_url=settings.groq_base_url, model=settings.satisfaction_model,
        timeout=settings.satisfaction_timeout_seconds)
    runtime.health_details.update(model=model.name, publish_interval_seconds=settings.publish_interval_seconds,
                                  satisfaction=hosted.source if hosted else SATISFACTION_SOURCE)
    assert runtime.pool is not None
    scorer = Scorer(runtime.bus, runtime.pool, model, settings.publish_interval_seconds, settings.call_lease_seconds,
                    hosted=hosted)
    runtime.run_forever(call_starts.consumer(runtime.bus, scorer).run(runtime.stop))
    runtime.run_forever(scorer.ownership.keep(runtime.stop))
    runtime.run_forever(scorer.run(runtime.stop))
