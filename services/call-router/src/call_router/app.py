"""setup(runtime): wires call-router's handlers to the bus; nothing runs at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from functools import partial
from uuid import UUID

import asyncpg

from call_router import routing
from call_router.config import Settings
from call_router.livekit_rooms import VoiceRooms
from contracts import outbox
from contracts.bus import Bus, EventConsumer
from contracts.calls import (
    CallEnded,
    CallHangup,
    CallRequested,
    CallStarted,
    CustomerMessage,
    CustomerPresence,
    SupervisorMessage,
)
from contracts.service import Runtime
from contracts.subjects import topic_filter
from contracts.subscribers import Subscriber

log = logging.getLogger("call_router")


@dataclass
class Router:
    pool: asyncpg.Pool
    bus: Bus
    settings: Settings
    rooms: VoiceRooms


subscriber = Subscriber[Router]("call-router")
subscriber.ignores(SupervisorMessage)  # shares call.message with the customer's; only theirs show they are there


@subscriber.handles(CallRequested)
async def requested(router: Router, event: CallRequested) -> None:
    settings = router.settings
    await decide(router, event.agent_id, lambda conn, confined_to: routing.request_call(
        conn, event, settings.max_concurrent_calls, settings.voice_enabled, settings.queue_alert_length,
        confined_to))


@subscriber.handles(CallHangup)
async def hung_up(router: Router, event: CallHangup) -> None:
    settings = router.settings
    await decide(router, event.agent_id, lambda conn, confined_to: routing.hang_up(
        conn, event, settings.max_concurrent_calls, settings.voice_enabled, confined_to))


@subscriber.handles(CustomerMessage)
async def customer_wrote(router: Router, event: CustomerMessage) -> None:
    await routing.customer_seen(router.pool, event.call_id, event.occurred_at)


# Live signals the router listens to (not stored, so no durable consumer: contracts.registry).
LISTENED = (CustomerPresence,)


async def customer_views_forever(router: Router) -> None:
    """Note each customer whose live view says they are there."""
    async with router.bus.listen(*(topic_filter(event.topic) for event in LISTENED)) as signals:
        async for signal in signals:
            if not isinstance(signal, CustomerPresence):
                continue
            try:
                await routing.customer_seen(router.pool, signal.call_id, signal.occurred_at)
            except Exception as exc:  # the database is away: the next beat says it again
                log.warning("a customer's presence not noted (%s)", exc)


async def let_go_forever(router: Router, stop: asyncio.Event, every_seconds: float = 5.0) -> None:
    """End the calls of customers who left without hanging up, and offer long waiters to leave."""
    settings = router.settings
    # Presence is not stored: a router that just started has not yet heard from the customers whose
    # views are open, so it lets nobody go before one window has passed.
    listening_since = time.monotonic()
    while not stop.is_set():
        try:
            vanished = []
            async with router.pool.acquire() as conn:
                if time.monotonic() - listening_since >= settings.abandon_after_seconds:
                    vanished = await routing.vanished_customers(conn, settings.abandon_after_seconds)
                long_waits = await routing.agents_with_long_waits(conn, settings.long_wait_seconds)
            for call_id, agent_id in vanished:
                await decide(router, agent_id, partial(routing.abandon, call_id=call_id,
                                                       window_seconds=settings.abandon_after_seconds,
                                                       max_concurrent_calls=settings.max_concurrent_calls,
                                                       voice_rooms=settings.voice_enabled))
            for agent_id in long_waits:
                await decide(router, agent_id, partial(routing.offer_to_leave,
                                                       wait_seconds=settings.long_wait_seconds))
        except Exception as exc:  # the database or bus is away: the next round tries again
            log.warning("abandoned calls not checked (%s)", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_seconds)


async def decide(router: Router, agent_id: UUID | None, decision: routing.Decision) -> None:
    """One routing decision about an agent's calls (routing.decide), then what follows it outside."""
    events = await routing.decide(router.pool, agent_id, decision)
    # Rooms open after the decision commits (network calls stay outside the routing locks) and
    # before it is announced, so a customer told "connected" finds the room and the agent in it.
    for started in events:
        if isinstance(started, CallStarted) and started.livekit_room:
            await router.rooms.open(started, started.livekit_room)
    await outbox.send(router.pool, router.bus, events)
    for ended in events:
        if isinstance(ended, CallEnded) and ended.channel == "voice" and ended.started_at \
                and router.settings.voice_enabled:
            await router.rooms.close(ended)


async def setup(runtime: Runtime[Settings]) -> None:
    settings = runtime.settings
    assert runtime.pool is not None
    runtime.health_details.update(
        max_concurrent_calls=settings.max_concurrent_calls,
        livekit="configured" if settings.voice_enabled else "not configured (chat only)")
    router = Router(runtime.pool, runtime.bus, settings, VoiceRooms(runtime.pool, runtime.bus, settings))
    runtime.run_forever(_run_then_stop_watching(subscriber.consumer(runtime.bus, router), router, runtime))
    runtime.run_forever(outbox.flush_forever(runtime.pool, runtime.bus))
    runtime.run_forever(customer_views_forever(router))
    runtime.run_forever(let_go_forever(router, runtime.stop))


async def _run_then_stop_watching(consumer: EventConsumer, router: Router, runtime: Runtime[Settings]) -> None:
    try:
        await consumer.run(runtime.stop)
    finally:
        router.rooms.stop()
