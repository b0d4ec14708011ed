"""setup(runtime): one CallSession per live call this instance owns, fed from the bus; nothing runs at
import time."""

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
from contracts.bus import Bus
from contracts.calls import CallEnded, CallRef, CallStarted
from contracts.envelope import Envelope
from contracts.metrics import LIVE_CALLS
from contracts.ownership import CallOwnership, Leases
from contracts.service import Runtime
from contracts.subscribers import Subscriber
from text_models.embedding import shared_embedder

log = logging.getLogger("agent_worker")


@dataclass
class Worker:
    """The calls this instance serves over the bus: the chat calls it owns (contracts.ownership), and
    voice calls too when no LiveKit rooms are served (those run in LiveKit job processes:
    agent_worker.rooms)."""

    pool: asyncpg.Pool
    bus: Bus
    settings: Settings
    sessions: dict[UUID, CallSession] = field(default_factory=dict)
    ownership: CallOwnership[Worker] = field(init=False)

    def __post_init__(self) -> None:
        leases = Leases("agent-worker", self.settings.call_lease_seconds, rooms_elsewhere=self.settings.voice_enabled)
        self.ownership = CallOwnership(self.pool, self.bus, leases, owned_calls, self)

    async def open_call(self, call: CallRef, inherited: bool) -> bool:
        # Inherited or not, the session carries on from what is stored (a transcript begun says another
        # instance had the call); what that one had not acked comes again from the call's consumer.
        session = await open_session(self.pool, self.bus, self.settings, call.call_id, greet=True)
        if session is None:
            return False
        self.sessions[call.call_id] = session
        LIVE_CALLS.labels("agent-worker").set(len(self.sessions))
        return True

    async def close_call(self, call_id: UUID) -> None:
        if (session := self.sessions.pop(call_id, None)) is not None:
            LIVE_CALLS.labels("agent-worker").set(len(self.sessions))
            await session.close()


# The service's shared consumer: each call's start reaches one instance, which takes the call.
chat_calls = Subscriber[Worker]("agent-worker")
# A call's own consumer, read by its owner only.
owned_calls = Subscriber[Worker]("agent-worker")


@chat_calls.handles(CallStarted)
async def started(worker: Worker, event: CallStarted) -> None:
    await worker.ownership.claim(event)


@owned_calls.handles(CallEnded)
async def ended(worker: Worker, event: CallEnded) -> None:
    worker.ownership.end(event.call_id)


async def _owned_session(worker: Worker, event: Envelope) -> CallSession | None:
    return worker.sessions.get(event.call_id) if event.call_id is not None else None


declare_steering(owned_calls, _owned_session)


async def setup(runtime: Runtime[Settings]) -> None:
    settings = runtime.settings
    assert runtime.pool is not None
    runtime.health_details.update(brain=settings.brain, speech_to_text=settings.speech_to_text,
                                  text_to_speech=settings.text_to_speech,
                                  tool_approval_timeout_seconds=settings.tool_approval_timeout_seconds,
                                  livekit_rooms="not configured (chat only)")
    shared_embedder()  # load the model before the first call, not during it
    worker = Worker(runtime.pool, runtime.bus, settings)
    runtime.run_forever(chat_calls.consumer(runtime.bus, worker).run(runtime.stop))
    runtime.run_forever(worker.ownership.keep(runtime.stop))
    runtime.run_forever(outbox.flush_forever(runtime.pool, runtime.bus))
    if settings.voice_enabled:
        runtime.run_forever(rooms.serve_rooms(settings, runtime.pool, runtime.stop, runtime.health_details))

