"""Transactional outbox: events staged in the same transaction as the change that implies them,
published after it commits by whoever made the change (``send``: its own events, in order, before it
goes on). A crash between commit and publish leaves them staged; the service's timer (``flush_forever``,
and at start-up) sends what is left. Publishing twice is harmless: the event id is JetStream's message
id, so a duplicate inside the window is dropped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
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
    async with pool.acquire() as conn:
        async with conn.transaction():
            staged = Change(conn)
            yield staged
            await stage(conn, staged.events)
        await send(conn, bus, staged.events)


async def send(db: asyncpg.Pool | asyncpg.Connection, bus: Bus, events: Sequence[Envelope]) -> None:
    """Publish the events a committed change staged, in order, and take them off the outbox. Only its own:
    taking whatever else was staged (as a flush does) let other changes' senders go on before their
    events were out, so a call's next event could overtake them; and it cost a transaction and a query."""
    if not events:
        return
    for event in events:
        await bus.publish(event)
    await db.execute("delete from public.outbox where event_id = any($1::uuid[])", [e.event_id for e in events])


async def flush(pool: asyncpg.Pool, bus: Bus, batch: int = 500, older_than_seconds: float = 0.0) -> int:
    """Publish staged events in order (those staged at least ``older_than_seconds`` ago); returns how
    many. Concurrent flushers take turns per row."""
    sent = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "select id, payload::text as payload from public.outbox"
                " where staged_at <= now() - make_interval(secs => $2)"
                " order by id limit $1 for update skip locked", batch, older_than_seconds)
            for row in rows:
                await bus.publish(decode_event(row["payload"]))
            if rows:
                await conn.execute("delete from public.outbox where id = any($1::bigint[])", [r["id"] for r in rows])
        sent += len(rows)
        if len(rows) < batch:
            return sent


async def flush_forever(pool: asyncpg.Pool, bus: Bus, interval_seconds: float = 1.0,
                        left_after_seconds: float = 2.0) -> None:
    """Catches what a crashed or disconnected sender left behind: events staged ``left_after_seconds``
    ago or more (younger ones are their sender's to send; taking them too would only contend for the
    rows)."""
    while True:
        try:
            await flush(pool, bus, older_than_seconds=left_after_seconds)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the bus or database is away: try again next round
            log.warning("outbox flush failed (%s); retrying", exc)
        await asyncio.sleep(interval_seconds)
