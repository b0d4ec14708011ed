"""setup(runtime): one CallSession per live call, fed from the bus; nothing runs at import time."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg

from agent_worker import rooms
from agent_worker.calls import declare_steering, open_session
from agent_worker.config import Settings
from agent_worker.session import CallSession
from contracts import outbox
from contracts.bus import Bus, EventConsumer
from contracts.calls import CallEnded, CallStarted
from contracts.envelope import Envelope
from contracts.metrics import LIVE_CALLS
from contracts.service import Runtime
from contracts.subscribers import Subscriber
from text_models.embedding import shared_embedder

log = logging.getLogger("agent_worker")


@dataclass
class Worker:
    """The calls this process serves over the bus: every chat call, and voice calls when no LiveKit
    rooms are served (those run in LiveKit job processes: agent_worker.rooms)."""

    pool: asyncpg.Pool
    bus: Bus
    settings: Settings
    sessions: dict[UUID, CallSession] = field(default_factory=dict)

    async def session_for(self, call_id: UUID | None, greet: bool) -> CallSession | None:
        if call_id is None:
            return None
        if call_id in self.sessions:
            return self.sessions[call_id]
        if self.settings.voice_enabled and await self.pool.fetchval(
                "select livekit_room is not null from calls where id = $1", call_id):
            return None
        session = await open_session(self.pool, self.bus, self.settings, call_id, greet=greet)
        if session is not None:
            self.sessions[call_id] = session
            LIVE_CALLS.labels("agent-worker").set(len(self.sessions))
        return session

    async def close(self) -> None:
        for session in list(self.sessions.values()):
            await session.close()
        self.sessions.clear()


chat_calls = Subscriber[Worker]("agent-worker")


@chat_calls.handles(CallStarted)
async def started(worker: Worker, event: CallStarted) -> None:
    await worker.session_for(event.call_id, greet=True)


@chat_calls.handles(CallEnded)
async def ended(worker: Worker, event: CallEnded) -> None:
    if (session := worker.sessions.pop(event.call_id, None)) is not None:
        LIVE_CALLS.labels("agent-worker").set(len(worker.sessions))
        await session.close()


async def _live_session(worker: Worker, event: Envelope) -> CallSession | None:
    return await worker.session_for(event.call_id, greet=False)


declare_steering(chat_calls, _live_session)


async def setup(runtime: Runtime[Settings]) -> None:
    settings = runtime.settings
    assert runtime.pool is not None
    runtime.health_details.update(brain=settings.brain, speech_to_text=settings.speech_to_text,
                                  text_to_speech=settings.text_to_speech,
                                  tool_approval_timeout_seconds=settings.tool_approval_timeout_seconds,
                                  livekit_rooms="not configured (chat only)")
    shared_embedder()  # load the model before the first call, not during it
    worker = Worker(runtime.pool, runtime.bus, settings)
    runtime.run_forever(_run_then_close(chat_calls.consumer(runtime.bus, worker), worker, runtime))
    runtime.run_forever(outbox.flush_forever(runtime.pool, runtime.bus))
    if settings.voice_enabled:
        runtime.run_forever(rooms.serve_rooms(settings, runtime.pool, runtime.stop, runtime.health_details))


async def _run_then_close(consumer: EventConsumer, worker: Worker, runtime: Runtime[Settings]) -> None:
    try:
        await consumer.run(runtime.stop)
    finally:
        await worker.close()
