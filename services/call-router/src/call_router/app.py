"""setup(runtime): wires call-router's handlers to the bus; nothing runs at import time."""

from __future__ import annotations

import logging
from functools import partial

import asyncpg

from call_router import routing
from call_router.config import Settings
from call_router.livekit_rooms import VoiceRooms
from contracts import outbox
from contracts.bus import Bus, EventConsumer
from contracts.calls import CallEnded, CallHangup, CallRequested, CallStarted
from contracts.service import Runtime
from contracts.subjects import topic_filter

log = logging.getLogger("call_router")
DURABLE = "call-router"


async def handle(pool: asyncpg.Pool, bus: Bus, settings: Settings, rooms: VoiceRooms,
                 event: CallRequested | CallHangup) -> None:
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
            await rooms.open(started, started.livekit_room)
    await outbox.flush(pool, bus)
    for ended in events:
        if isinstance(ended, CallEnded) and ended.channel == "voice" and ended.started_at and settings.voice_enabled:
            await rooms.close(ended)


async def setup(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, Settings) and runtime.pool is not None
    runtime.health_details.update(
        max_concurrent_calls=settings.max_concurrent_calls,
        livekit="configured" if settings.voice_enabled else "not configured (chat only)")
    rooms = VoiceRooms(runtime.pool, runtime.bus, settings)
    consumer = EventConsumer(
        runtime.bus, DURABLE, [topic_filter(CallRequested.topic), topic_filter(CallHangup.topic)],
        partial(handle, runtime.pool, runtime.bus, settings, rooms), accepts=(CallRequested, CallHangup))
    runtime.run_forever(_run_then_stop_watching(consumer, rooms, runtime))
    runtime.run_forever(outbox.flush_forever(runtime.pool, runtime.bus))


async def _run_then_stop_watching(consumer: EventConsumer, rooms: VoiceRooms, runtime: Runtime) -> None:
    try:
        await consumer.run(runtime.stop)
    finally:
        rooms.stop()
