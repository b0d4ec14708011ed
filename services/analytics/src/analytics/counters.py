"""Live counters: recomputed when a call or agent event goes by, published when they change.

A change is published at once (after a short settle, so a burst of events makes one update). Every
heartbeat re-sends the floors with calls live or waiting (their wait times move, and a lost update is
mended); an idle floor is not repeated: dashboards read the current counters from GET
/api/analytics/live when they open, and the stream need not fill with idle snapshots.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg

from contracts.analytics import LiveCounters
from contracts.bus import Bus
from contracts.calls import AgentStatusChanged, CallEnded, CallQueued, CallStarted
from contracts.envelope import Envelope
from contracts.subjects import topic_filter
from kpis.queries import FloorCounters, floor_counters

log = logging.getLogger("analytics.counters")
# The events after which a counter may have changed (the router has written the calls and agents).
TRIGGERS = (CallQueued, CallStarted, CallEnded, AgentStatusChanged)


def changed_counters(previous: dict[UUID, FloorCounters], current: list[FloorCounters],
                     heartbeat: bool) -> list[FloorCounters]:
    """What to publish; the wait time alone ticks every second, so it does not count as a change."""
    def settled(counters: FloorCounters | None) -> dict | None:
        return None if counters is None else counters.model_dump(exclude={"longest_wait_seconds"})

    def live(counters: FloorCounters) -> bool:
        return counters.active_calls > 0 or counters.queued_calls > 0

    return [c for c in current
            if settled(previous.get(c.supervisor_id)) != settled(c) or (heartbeat and live(c))]


@dataclass
class CounterPublisher:
    pool: asyncpg.Pool
    bus: Bus
    heartbeat_seconds: float
    settle_seconds: float = 0.2
    published: dict[UUID, FloorCounters] = field(default_factory=dict)
    poked: asyncio.Event = field(default_factory=asyncio.Event)

    def poke(self) -> None:
        self.poked.set()

    async def publish(self, heartbeat: bool) -> int:
        async with self.pool.acquire() as conn:
            current = await floor_counters(conn)
        due = changed_counters(self.published, current, heartbeat)
        for counters in due:
            await self.bus.publish(LiveCounters(**counters.model_dump()))
        self.published = {c.supervisor_id: c for c in current}
        return len(due)

    async def run(self, stop: asyncio.Event) -> None:
        async with self.bus.listen(*(topic_filter(event.topic) for event in TRIGGERS)) as events:
            poking = asyncio.create_task(self._poke_on(events))
            try:
                await self._publish_until(stop)
            finally:
                poking.cancel()

    async def _poke_on(self, events: AsyncIterator[Envelope]) -> None:
        async for _ in events:
            self.poke()

    async def _publish_until(self, stop: asyncio.Event) -> None:
        next_heartbeat = 0.0
        while not stop.is_set():
            try:
                await asyncio.wait_for(self.poked.wait(), max(0.0, next_heartbeat - time.monotonic()))
                await asyncio.sleep(self.settle_seconds)
            except TimeoutError:
                pass
            self.poked.clear()
            heartbeat = time.monotonic() >= next_heartbeat
            try:
                await self.publish(heartbeat)
            except Exception as exc:  # database or bus away: the next event or heartbeat tries again
                log.warning("live counters not published (%s)", exc)
                await asyncio.sleep(1.0)
                continue
            if heartbeat:
                next_heartbeat = time.monotonic() + self.heartbeat_seconds
