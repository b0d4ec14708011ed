"""setup(runtime): wires analytics's handlers to the bus; nothing runs at import time."""

from __future__ import annotations

import logging

import asyncpg

from analytics.aggregates import (
    ARCHIVE_CLAIMS,
    CONSUMER,
    REVISION_CLAIMS,
    add_archived_call,
    rebuild_if_empty,
    revise_fcr,
)
from analytics.config import Settings
from analytics.counters import CounterPublisher
from contracts.bus import EventConsumer
from contracts.db import prune_claims_forever
from contracts.envelope import Envelope
from contracts.results import ArchiveSaved, FcrRevised
from contracts.service import Runtime
from contracts.subjects import topic_filter

log = logging.getLogger("analytics")
ACCEPTS = (ArchiveSaved, FcrRevised)


def aggregate_handler(pool: asyncpg.Pool):
    async def handle(event: Envelope) -> None:
        async with pool.acquire() as conn, conn.transaction():
            if isinstance(event, ArchiveSaved):
                await add_archived_call(conn, event)
            elif isinstance(event, FcrRevised):
                await revise_fcr(conn, event)
    return handle


async def setup(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, Settings) and runtime.pool is not None
    runtime.health_details.update(live_counter_heartbeat_seconds=settings.live_counter_heartbeat_seconds)
    if (rows := await rebuild_if_empty(runtime.pool)) is not None:  # before consuming, so nothing counts twice
        log.info("daily KPI aggregates built from the existing archive: %d rows", rows)
    consumer = EventConsumer(runtime.bus, CONSUMER, [topic_filter(e.topic) for e in ACCEPTS],
                             aggregate_handler(runtime.pool), accepts=ACCEPTS)
    runtime.run_forever(consumer.run(runtime.stop))
    counters = CounterPublisher(runtime.pool, runtime.bus, settings.live_counter_heartbeat_seconds)
    runtime.run_forever(counters.run(runtime.stop))
    runtime.run_forever(prune_claims_forever(runtime.pool, [ARCHIVE_CLAIMS, REVISION_CLAIMS]))
