"""PostgreSQL access shared by the services: migrations, acting-user transactions, event claims."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from typing import Literal, TypeVar
from uuid import UUID

import asyncpg

from contracts.bus import CALLS_RETENTION_SECONDS
from contracts.locks import LockKey, session_lock

log = logging.getLogger("contracts.db")

# A claim only has to outlive the chance of its event coming back: as long as the CALLS stream keeps
# events, and a day more for one redelivered at the edge.
CLAIM_RETENTION = timedelta(seconds=CALLS_RETENTION_SECONDS) + timedelta(days=1)

Role = Literal["admin", "supervisor"]
T = TypeVar("T")


@dataclass(frozen=True)
class Migration:
    version: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations() -> list[Migration]:
    folder = resources.files("contracts") / "migrations"
    files = sorted(f for f in folder.iterdir() if f.name.endswith(".sql"))
    return [Migration(version=f.name.removesuffix(".sql"), sql=f.read_text()) for f in files]


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply the migrations not applied yet, each in its own transaction; returns their versions.

    Refuses to run when an applied migration's file has changed since: migrations are append-only.
    """
    async with session_lock(conn, LockKey.MIGRATIONS):
        await conn.execute(
            """create table if not exists public.schema_migrations (
                   version text primary key,
                   checksum text not null,
                   applied_at timestamptz not null default now())"""
        )
        applied = {r["version"]: r["checksum"] for r in await conn.fetch(
            "select version, checksum from public.schema_migrations")}
        done: list[str] = []
        for migration in migrations():
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise RuntimeError(f"migration {migration.version} was edited after it was applied")
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "insert into public.schema_migrations(version, checksum) values ($1, $2)",
                    migration.version, migration.checksum)
            log.info("applied migration %s", migration.version)
            done.append(migration.version)
        return done


# What asyncpg raises when the database is away (restarting after a crash, shutting down, refusing or
# cutting connections, out of them), not because of the statement: worth trying again in a moment.
DATABASE_AWAY: tuple[type[Exception], ...] = (
    ConnectionError, TimeoutError, asyncpg.PostgresConnectionError, asyncpg.OperatorInterventionError,
    asyncpg.TooManyConnectionsError, asyncpg.InterfaceError, asyncpg.InternalClientError)


async def until_database_answers(attempt: Callable[[], Awaitable[T]], patience_seconds: float = 60.0) -> T:
    """``attempt()``, tried again while the database is away (DATABASE_AWAY) for up to
    ``patience_seconds``; any other error, or the database still away then, is raised."""
    deadline = asyncio.get_running_loop().time() + patience_seconds
    delay = 0.2
    while True:
        try:
            return await attempt()
        except DATABASE_AWAY as exc:
            if asyncio.get_running_loop().time() + delay > deadline:
                raise
            log.warning("the database is away (%s); trying again in %.1f s", exc, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)


async def keep_session(conn: asyncpg.Connection) -> None:
    """What a connection going back to the pool needs beyond asyncpg's own clean-up (which rolls back a
    transaction left open): nothing. By default asyncpg sends every released connection a round trip
    (unlock advisory locks, close cursors, unlisten, reset settings), and every query on the pool
    releases one; we hold none of that past a transaction: settings are ``set local``, cursors live in
    transactions, nobody listens, and a session lock (locks.session_lock) is released by its block or
    its connection closed."""


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    async def init(conn: asyncpg.Connection) -> None:
        await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
        await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")

    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=init, reset=keep_session)
    assert pool is not None
    return pool


@contextlib.asynccontextmanager
async def acting_as(conn: asyncpg.Connection, user_id: UUID, role: Role) -> AsyncIterator[asyncpg.Connection]:
    """A transaction in which row-level security applies to ``user_id``.

    Uses the same mechanism as Supabase's PostgREST (role ``authenticated`` plus the
    ``request.jwt.claims`` setting read by ``auth.uid()``), so the policies behave identically on a
    Supabase database and on our own.
    """
    claims = json.dumps({"sub": str(user_id), "role": "authenticated", "app_role": role})
    async with conn.transaction():
        await conn.execute("set local role authenticated")
        await conn.execute("select set_config('request.jwt.claims', $1, true)", claims)
        yield conn


async def claim_event(conn: asyncpg.Connection, consumer: str, event_id: UUID) -> bool:
    """Inside the caller's transaction: True the first time this consumer handles the event.

    Used by consumers whose effects must happen exactly once: the claim commits or rolls back with
    the work it guards, so a redelivery after a crash either finds the claim or redoes everything.
    """
    row = await conn.fetchrow(
        """insert into public.processed_events(consumer, event_id) values ($1, $2)
           on conflict do nothing returning event_id""",
        consumer, event_id)
    return row is not None


async def prune_claims(conn: asyncpg.Connection, consumers: Sequence[str], keep: timedelta = CLAIM_RETENTION) -> int:
    """Forget these consumers' claims older than ``keep``; returns how many."""
    status = await conn.execute(
        "delete from public.processed_events where consumer = any($1) and processed_at < now() - $2::interval",
        list(consumers), keep)
    return int(status.split()[-1])


async def prune_claims_forever(pool: asyncpg.Pool, consumers: Sequence[str], interval_seconds: float = 3600.0) -> None:
    """Keeps the claims table as small as the bus's retention allows (a row per event otherwise)."""
    while True:
        try:
            async with pool.acquire() as conn:
                if forgotten := await prune_claims(conn, consumers):
                    log.info("forgot %d event claims older than %s", forgotten, CLAIM_RETENTION)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database is away: try again next round
            log.warning("pruning event claims failed (%s); retrying", exc)
        await asyncio.sleep(interval_seconds)
