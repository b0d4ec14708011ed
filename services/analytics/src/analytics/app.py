"""setup(runtime): wires analytics's handlers to the bus; nothing runs at import time."""

from __future__ import annotations

import logging

import asyncpg

from analytics.aggregates import (
    ARCHIVE_CLAIMS,
    ENDED_CLAIMS,
    REVISION_CLAIMS,
    add_archived_call,
    add_ended_call,
    rebuild_if_empty,
    revise_fcr,
)
from analytics.config import Settings
from analytics.counters import CounterPublisher
from contracts.calls import CallEnded
from contracts.db import prune_claims_forever
from contracts.results import ArchiveSaved, FcrRevised
from contracts.service import Runtime
from contracts.subscribers import Subscriber

log = logging.getLogger("analytics")
subscriber = Subscriber[asyncpg.Pool]("analytics")


@subscriber.handles(ArchiveSaved)
async def archived(pool: asyncpg.Pool, event: ArchiveSaved) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await add_archived_call(conn, event)


@subscriber.handles(CallEnded)
async def call_ended(pool: asyncpg.Pool, event: CallEnded) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await add_ended_call(conn, event)


@subscriber.handles(FcrRevised)
async def fcr_revised(pool: asyncpg.Pool, event: FcrRevised) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await revise_fcr(conn, event)


async def setup(runtime: Runtime[Settings]) -> None:
    settings = runtime.settings
    assert runtime.pool is not None
    runtime.health_details.update(live_counter_heartbeat_seconds=settings.live_counter_heartbeat_seconds)
    if (rows := await rebuild_if_empty(runtime.pool)) is not None:  # before consuming, so nothing counts twice
        log.info("daily KPI aggregates built from the existing archive: %d rows", rows)
    runtime.run_forever(subscriber.consumer(runtime.bus, runtime.pool).run(runtime.stop))
    counters = CounterPublisher(runtime.pool, runtime.bus, settings.live_counter_heartbeat_seconds)
    runtime.run_forever(counters.run(runtime.stop))
    runtime.run_forever(prune_claims_forever(runtime.pool, [ARCHIVE_CLAIMS, REVISION_CLAIMS, ENDED_CLAIMS]))
