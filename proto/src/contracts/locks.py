"""Every PostgreSQL advisory lock the platform takes, in one place.

Two services that picked the same number would wait on each other for no reason (routing stalled while
analytics rebuilt its aggregates, when both used 7_301_978). ``@unique`` makes a repeated key an import
error, so keys stay apart by construction. A lock on one thing (a supervisor, an agent) takes the
two-key form: its class here, the thing's hash second; PostgreSQL keeps the one-key and two-key spaces
apart, so a scoped lock never meets a global one.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from enum import IntEnum, unique
from uuid import UUID

import asyncpg


@unique
class LockKey(IntEnum):
    # Serialises concurrent start-ups' migrations.
    MIGRATIONS = 7_301_977
    # The call-router's platform-wide queue: decisions confined to one agent hold it shared, side by
    # side; a decision that reads callers waiting for the platform's capacity holds it alone.
    ROUTING = 7_301_978
    # One analytics instance rebuilds the daily aggregates at a time.
    AGGREGATE_REBUILD = 7_301_979
    # Per supervisor: two concurrent agent creations cannot both take the last place.
    SUPERVISOR_AGENTS = 7_301_980
    # Per agent: one routing decision at a time for an agent, so it is never given two calls.
    ROUTING_AGENT = 7_301_981
    # Per place under the platform's concurrent-call cap: a call starting takes a free one (tried, never
    # waited for), so two routers starting calls side by side cannot both take the last.
    CALL_CAPACITY = 7_301_982


async def lock_for_transaction(conn: asyncpg.Connection, key: LockKey, scope: UUID | None = None, *,
                               shared: bool = False) -> None:
    """Held until the surrounding transaction ends; ``scope`` narrows it to one thing. ``shared``
    holders do not wait for each other, only for (and hold off) one who takes it unshared."""
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    if scope is None:
        await conn.execute(f"select {function}($1)", int(key))
    else:
        await conn.execute(f"select {function}($1, hashtext($2::uuid::text))", int(key), scope)


async def try_lock_for_transaction(conn: asyncpg.Connection, key: LockKey, number: int) -> bool:
    """Take the lock on ``number`` of ``key``'s kind if nobody holds it, without waiting; held until the
    surrounding transaction ends."""
    return bool(await conn.fetchval("select pg_try_advisory_xact_lock($1, $2)", int(key), number))


@contextlib.asynccontextmanager
async def session_lock(conn: asyncpg.Connection, key: LockKey) -> AsyncIterator[None]:
    """Held across transactions on this connection, released on leaving the block; a connection that
    cannot release it is closed (which releases it), not handed back to its pool holding it."""
    await conn.execute("select pg_advisory_lock($1)", int(key))
    try:
        yield
    finally:
        try:
            await conn.execute("select pg_advisory_unlock($1)", int(key))
        except BaseException:
            conn.terminate()
            raise
