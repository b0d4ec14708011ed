"""setup(runtime): wires call-router's handlers to the bus; nothing runs at import time."""

from __future__ import annotations

import logging
from functools import partial

import asyncpg

from call_router import routing
from call_router.config import Settings
from call_router.livekit_rooms import close_room, open_room
from contracts import outbox
from contracts.bus import Bus, EventConsumer
from contracts.calls import FAILURE_PREFIX, CallEnded, CallHangup, CallRequested, CallStarted, livekit_room_name
from contracts.service import Runtime
from contracts.subjects import topic_filter

log = logging.getLogger("call_router")
DURABLE = "call-router"


async def handle(pool: asyncpg.Pool, bus: Bus, settings: Settings, event: CallRequested | CallHangup) -> None:
    """One routing decision: under the router lock, in one transaction with the events it implies."""
    async with pool.acquire() as conn, conn.transaction():
        await routing.lock(conn)
        if isinstance(event, CallRequested):
            events = await routing.request_call(conn, event, settings.max_concurrent_calls, settings.voice_enabled,
                                                settings.queue_alert_length)
        else:
            events = await routing.hang_up(conn, event, settings.max_concurrent_calls, settings.voice_enabled)
        await outbox.stage(conn, events)
    # Rooms open after the decision commits (network calls stay outside the router's lock) and
    # before it is announced, so a customer told "connected" finds the room and the agent in it.
    for started in events:
        if isinstance(started, CallStarted) and started.livekit_room:
            await open_voice_room(bus, settings, started)
    await outbox.flush(pool, bus)
    for ended in events:
        if isinstance(ended, CallEnded) and ended.channel == "voice" and ended.started_at and settings.voice_enabled:
            await close_voice_room(settings, livekit_room_name(ended.call_id))


async def open_voice_room(bus: Bus, settings: Settings, started: CallStarted) -> None:
    try:
        await open_room(settings, started.livekit_room or "", started.supervisor_id, started.agent_id,
                        started.call_id)
    except Exception as exc:
        log.error("LiveKit room %s could not be opened: %s; ending the call", started.livekit_room, exc)
        await bus.publish(CallHangup(supervisor_id=started.supervisor_id, agent_id=started.agent_id,
                                     call_id=started.call_id, by="agent",
                                     reason=f"{FAILURE_PREFIX} the voice room could not be opened"))


async def close_voice_room(settings: Settings, room: str) -> None:
    try:
        await close_room(settings, room)
    except Exception as exc:  # already gone, or LiveKit away: its empty-room timeout closes it
        log.warning("LiveKit room %s could not be closed: %s", room, exc)


async def setup(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, Settings) and runtime.pool is not None
    runtime.health_details.update(
        max_concurrent_calls=settings.max_concurrent_calls,
        livekit="configured" if settings.voice_enabled else "not configured (chat only)")
    consumer = EventConsumer(
        runtime.bus, DURABLE, [topic_filter(CallRequested.topic), topic_filter(CallHangup.topic)],
        partial(handle, runtime.pool, runtime.bus, settings), accepts=(CallRequested, CallHangup))
    runtime.run_forever(consumer.run(runtime.stop))
    runtime.run_forever(outbox.flush_forever(runtime.pool, runtime.bus))
