"""setup(runtime): wires call-router's handlers to the bus; nothing runs at import time."""

from __future__ import annotations

from functools import partial

import asyncpg

from call_router import routing
from call_router.config import Settings
from contracts import outbox
from contracts.bus import Bus, EventConsumer
from contracts.calls import CallHangup, CallRequested
from contracts.service import Runtime
from contracts.subjects import topic_filter

DURABLE = "call-router"


async def handle(pool: asyncpg.Pool, bus: Bus, settings: Settings, event: CallRequested | CallHangup) -> None:
    """One routing decision: under the router lock, in one transaction with the events it implies."""
    async with pool.acquire() as conn, conn.transaction():
        await routing.lock(conn)
        if isinstance(event, CallRequested):
            events = await routing.request_call(conn, event, settings.max_concurrent_calls)
        else:
            events = await routing.hang_up(conn, event, settings.max_concurrent_calls)
        await outbox.stage(conn, events)
    await outbox.flush(pool, bus)


async def setup(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, Settings) and runtime.pool is not None
    runtime.health_details.update(
        max_concurrent_calls=settings.max_concurrent_calls,
        livekit="configured" if settings.livekit_url else "not configured (chat only)")
    consumer = EventConsumer(
        runtime.bus, DURABLE, [topic_filter(CallRequested.topic), topic_filter(CallHangup.topic)],
        partial(handle, runtime.pool, runtime.bus, settings), accepts=(CallRequested, CallHangup))
    runtime.run_forever(consumer.run(runtime.stop))
    runtime.run_forever(outbox.flush_forever(runtime.pool, runtime.bus))
