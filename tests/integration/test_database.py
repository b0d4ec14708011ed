"""Migrations and row-level security against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import get_args

import asyncpg
import pytest

from contracts.bus import CALLS_RETENTION_SECONDS
from contracts.calls import CallRow, CallStatus
from contracts.db import (
    CLAIM_RETENTION,
    acting_as,
    claim_event,
    create_pool,
    migrate,
    migrations,
    prune_claims,
    until_database_answers,
)
from contracts.locks import LockKey, lock_for_transaction, session_lock
from contracts.tools import ToolRequestStatus
from tests.factories import make_agent, make_user
from tests.pg import connection


@dataclass
class Team:
    supervisor: uuid.UUID
    agent: uuid.UUID
    call: uuid.UUID


async def make_team(conn: asyncpg.Connection) -> Team:
    supervisor = await make_user(conn, "supervisor")
    agent = await make_agent(conn, supervisor)
    call = uuid.uuid4()
    await conn.execute(
        """insert into calls(id, supervisor_id, agent_id, agent_name, channel, dialled_number, status)
           values ($1, $2, $3, 'A', 'chat', '+1-555-0000', 'active')""", call, supervisor, agent)
    await conn.execute(
        """insert into notifications(supervisor_id, call_id, kind, title) values ($1, $2, 'system', 'hi')""",
        supervisor, call)
    return Team(supervisor, agent, call)


async def test_migrations_are_idempotent_and_refuse_edited_history(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert await migrate(conn) == []
        applied = await conn.fetch("select version from schema_migrations order by version")
        assert [r["version"] for r in applied] == [m.version for m in migrations()]
        first = migrations()[0]
        await conn.execute("update schema_migrations set checksum = 'tampered' where version = $1", first.version)
        try:
            with pytest.raises(RuntimeError, match=f"migration {first.version} was edited"):
                await migrate(conn)
        finally:
            await conn.execute("update schema_migrations set checksum = $2 where version = $1",
                               first.version, first.checksum)


async def test_every_table_has_row_level_security(pool: asyncpg.Pool) -> None:
    rows = await pool.fetch("select tablename, rowsecurity from pg_tables where schemaname = 'public'")
    assert rows and all(r["rowsecurity"] for r in rows), [r["tablename"] for r in rows if not r["rowsecurity"]]


async def test_a_supervisor_reads_and_writes_only_their_own_rows(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        a, b = await make_team(conn), await make_team(conn)
        async with acting_as(conn, a.supervisor, "supervisor"):
            agents = {r["id"] for r in await conn.fetch("select id from agents")}
            calls = {r["id"] for r in await conn.fetch("select id from calls")}
            notes = {r["call_id"] for r in await conn.fetch("select call_id from notifications")}
            users = {r["id"] for r in await conn.fetch("select id from users")}
            hidden = await conn.execute("update agents set name = 'taken over' where id = $1", b.agent)
        assert agents == {a.agent}
        assert calls == {a.call}
        assert notes == {a.call}
        assert users == {a.supervisor}
        assert hidden == "UPDATE 0"
        assert await conn.fetchval("select name from agents where id = $1", b.agent) == "A"


async def test_a_supervisor_cannot_create_rows_for_another(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        a, b = await make_team(conn), await make_team(conn)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            async with acting_as(conn, a.supervisor, "supervisor"):
                await conn.execute("insert into agents(supervisor_id, name, phone_number) values ($1, 'X', $2)",
                                   b.supervisor, "+1-555-9999999")
        assert await conn.fetchval("select count(*) from agents where supervisor_id = $1", b.supervisor) == 1


async def test_an_admin_reads_everything(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        a, b = await make_team(conn), await make_team(conn)
        admin = await make_user(conn, "admin")
        async with acting_as(conn, admin, "admin"):
            agents = {r["id"] for r in await conn.fetch("select id from agents")}
            await conn.execute("update agents set name = 'renamed' where id = $1", b.agent)
        assert {a.agent, b.agent} <= agents
        assert await conn.fetchval("select name from agents where id = $1", b.agent) == "renamed"


async def test_a_deactivated_admin_is_no_longer_an_admin(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        a = await make_team(conn)
        admin = await make_user(conn, "admin")
        await conn.execute("update users set active = false where id = $1", admin)
        async with acting_as(conn, admin, "admin"):
            assert await conn.fetchval("select count(*) from agents where id = $1", a.agent) == 0


async def test_credentials_and_bookkeeping_are_never_readable_by_a_user(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        admin = await make_user(conn, "admin")
        for table in ("local_credentials", "processed_events", "schema_migrations"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with acting_as(conn, admin, "admin"):
                    await conn.fetch(f"select * from {table}")


async def test_claim_event_is_true_once_per_consumer(pool: asyncpg.Pool) -> None:
    event_id = uuid.uuid4()
    async with pool.acquire() as conn:
        async with conn.transaction():
            assert await claim_event(conn, "postprocess", event_id) is True
        async with conn.transaction():
            assert await claim_event(conn, "postprocess", event_id) is False
            assert await claim_event(conn, "analytics", event_id) is True
        # A claim rolled back with its work is no claim: the redelivery does the work again.
        other = uuid.uuid4()
        tx = conn.transaction()
        await tx.start()
        assert await claim_event(conn, "postprocess", other) is True
        await tx.rollback()
        async with conn.transaction():
            assert await claim_event(conn, "postprocess", other) is True


async def test_claims_are_forgotten_once_the_bus_can_no_longer_redeliver_their_events(pool: asyncpg.Pool) -> None:
    consumer, neighbour = f"prune-{uuid.uuid4().hex[:6]}", f"other-{uuid.uuid4().hex[:6]}"
    old, recent, kept_elsewhere = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with pool.acquire() as conn:
        await conn.executemany(
            "insert into processed_events(consumer, event_id, processed_at) values ($1, $2, now() - $3::interval)",
            [(consumer, old, CLAIM_RETENTION + timedelta(hours=1)),
             (consumer, recent, CLAIM_RETENTION - timedelta(hours=1)),
             (neighbour, kept_elsewhere, CLAIM_RETENTION * 2)])
        assert await prune_claims(conn, [consumer]) == 1
        left = {row["event_id"] for row in await conn.fetch(
            "select event_id from processed_events where consumer = any($1)", [consumer, neighbour])}
    assert left == {recent, kept_elsewhere}
    assert CLAIM_RETENTION > timedelta(seconds=CALLS_RETENTION_SECONDS)


# Supabase's own definition of auth.uid() (supabase/postgres, migrations/db/init-scripts).
SUPABASE_AUTH = """
create schema auth;
create table auth.users (id uuid primary key);
create function auth.uid() returns uuid language sql stable as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;
comment on function auth.uid() is 'owned by supabase';
"""


async def test_migrations_run_unchanged_on_a_supabase_shaped_database(postgres_admin_url: str) -> None:
    name = f"supabase_{uuid.uuid4().hex[:8]}"
    async with connection(postgres_admin_url) as admin:
        await admin.execute(f'create database "{name}"')
        try:
            async with connection(postgres_admin_url.rsplit("/", 1)[0] + f"/{name}") as conn:
                await conn.execute(SUPABASE_AUTH)
                assert await migrate(conn) == [m.version for m in migrations()]
                comment = await conn.fetchval("select obj_description('auth.uid()'::regprocedure, 'pg_proc')")
                assert comment == "owned by supabase"  # ours did not replace theirs
                a, b = await make_team(conn), await make_team(conn)
                async with acting_as(conn, a.supervisor, "supervisor"):
                    assert {r["id"] for r in await conn.fetch("select id from agents")} == {a.agent}
                assert b.agent != a.agent
        finally:
            await admin.execute(f'drop database "{name}" with (force)')


async def test_each_advisory_lock_has_a_key_of_its_own(pool: asyncpg.Pool) -> None:
    """Routing must not wait while analytics rebuilds (they once shared a key), nor a scoped lock on a
    global one; a repeated key would already have failed at import (``@unique``)."""
    assert len({int(key) for key in LockKey}) == len(LockKey)
    async with pool.acquire() as rebuilding, pool.acquire() as routing:
        async with session_lock(rebuilding, LockKey.AGGREGATE_REBUILD):
            async with routing.transaction():  # the locks of a routing decision, one agent's and the platform's
                await asyncio.wait_for(lock_for_transaction(routing, LockKey.ROUTING_AGENT, uuid.uuid4()), timeout=2)
                await asyncio.wait_for(lock_for_transaction(routing, LockKey.ROUTING, shared=True), timeout=2)
                await asyncio.wait_for(
                    lock_for_transaction(routing, LockKey.SUPERVISOR_AGENTS, uuid.uuid4()), timeout=2)
        agent = uuid.uuid4()
        async with routing.transaction():
            await lock_for_transaction(routing, LockKey.ROUTING_AGENT, agent)
            async with rebuilding.transaction():  # the same key from another connection does wait
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(lock_for_transaction(rebuilding, LockKey.ROUTING_AGENT, agent), timeout=0.3)


async def test_the_tool_request_statuses_in_the_database_are_the_contracts(pool: asyncpg.Pool) -> None:
    definition = await pool.fetchval(
        "select pg_get_constraintdef(oid) from pg_constraint where conname = 'tool_requests_status_check'")
    assert set(re.findall(r"'(\w+)'::text", definition)) == set(get_args(ToolRequestStatus))


async def test_the_calls_table_is_the_contracts_call_row(pool: asyncpg.Pool) -> None:
    """Two services write calls and four read it: CallRow is its one typed row, column for column."""
    columns = {row["column_name"]: row["is_nullable"] == "YES" for row in await pool.fetch(
        "select column_name, is_nullable from information_schema.columns where table_name = 'calls'")}
    assert set(columns) == set(CallRow.model_fields)
    for name, nullable in columns.items():
        assert (type(None) in get_args(CallRow.model_fields[name].annotation)) == nullable, name
    definition = await pool.fetchval(
        "select pg_get_constraintdef(oid) from pg_constraint where conname = 'calls_status_check'")
    assert set(re.findall(r"'(\w+)'::text", definition)) == set(get_args(CallStatus))


async def test_a_write_waits_for_a_database_that_is_away_and_not_for_a_wrong_one() -> None:
    attempts: list[int] = []

    async def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionRefusedError(111, "Connect call failed")
        return "stored"

    assert await until_database_answers(flaky) == "stored" and len(attempts) == 3

    async def wrong() -> None:
        attempts.append(1)
        raise asyncpg.UniqueViolationError("duplicate key")

    attempts.clear()
    with pytest.raises(asyncpg.UniqueViolationError):
        await until_database_answers(wrong)
    assert len(attempts) == 1


async def test_a_connection_back_in_the_pool_keeps_nothing_of_its_last_user(database_url: str) -> None:
    """The pool hands connections back without asyncpg's reset round trip (contracts.db.keep_session):
    what a user's transaction set, an unfinished transaction and a session lock must not outlive it."""
    pool = await create_pool(database_url, min_size=1, max_size=1)  # every acquire gets the same connection
    try:
        async with pool.acquire() as conn, acting_as(conn, uuid.uuid4(), "supervisor"):
            assert await conn.fetchval("select current_user") == "authenticated"
        async with pool.acquire() as conn, session_lock(conn, LockKey.AGGREGATE_REBUILD):
            pass
        async with pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            await conn.execute("create temporary table left_open(x int)")  # never committed
        async with pool.acquire() as conn:
            assert await conn.fetchval("select current_user") != "authenticated"
            assert await conn.fetchval("select current_setting('request.jwt.claims', true)") in (None, "")
            assert not await conn.fetchval("select exists(select 1 from pg_locks where locktype = 'advisory'"
                                           " and pid = pg_backend_pid())")
            assert not conn.is_in_transaction()
            assert await conn.fetchval("select to_regclass('left_open')") is None
    finally:
        await pool.close()
