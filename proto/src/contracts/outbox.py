"""Transactional outbox: events staged in the same transaction as the change that implies them,
published after it commits. A crash between commit and publish leaves them staged; the next flush
(at start-up or on the service's timer) sends them. Publishing twice is harmless: the event id is
JetStream's message id, so a duplicate inside the window is dropped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

import asyncpg

from contracts.bus import Bus
from contracts.envelope import Envelope
from contracts.registry import decode_event

log = logging.getLogger("contracts.outbox")


async def stage(conn: asyncpg.Connection, events: Iterable[Envelope]) -> None:
    await conn.executemany(
        "insert into public.outbox(event_id, subject, payload) values ($1, $2, $3::text::jsonb)",
        [(e.event_id, e.subject, e.model_dump_json()) for e in events])


async def stage_after_user_change(conn: asyncpg.Connection, events: Iterable[Envelope]) -> None:
    """Stage from inside a user's transaction (contracts.db.acting_as), once the user's change has passed
    row-level security: the outbox is no user's to write, so this steps back to the service's own role
    for the rest of the transaction. Call it last."""
    await conn.execute("set local role none")
    await stage(conn, events)


@dataclass
class Change:
    conn: asyncpg.Connection
    # The events the change implies: staged with it, published once it commits.
    events: list[Envelope] = field(default_factory=list)


@contextlib.asynccontextmanager
async def change(pool: asyncpg.Pool, bus: Bus) -> AsyncIterator[Change]:
    """A transaction and the events it implies, which cannot part: staged in it, published after it."""
    async with pool.acquire() as conn, conn.transaction():
        staged = Change(conn)
        yield staged
        await stage(conn, staged.events)
    if staged.events:
        await flush(pool, bus)


async def flush(pool: asyncpg.Pool, bus: Bus, batch: int = 500) -> int:
    """Publish staged events in order; returns how many. Concurrent flushers take turns per row."""
    sent = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "select id, payload::text as payload from public.outbox order by id limit $1 for update skip locked",
                batch)
            for row in rows:
                await bus.publish(decode_event(row["payload"]))
            if rows:
                await conn.execute("delete from public.outbox where id = any($1::bigint[])", [r["id"] for r in rows])
        sent += len(rows)
        if len(rows) < batch:
            return sent


async def flush_forever(pool: asyncpg.Pool, bus: Bus, interval_seconds: float = 1.0) -> None:
    """Catches what a crashed or disconnected publisher left behind."""
    while True:
        try:
            await flush(pool, bus)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the bus or database is away: try again next round
            log.warning("outbox flush failed (%s); retrying", exc)
        await asyncio.sleep(interval_seconds)
