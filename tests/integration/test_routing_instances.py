"""Two call-routers on one bus and database, as `make run` with two instances runs them: dials raced at
the same agents never give one two calls and keep every queue in order, and a decision for one agent
does not wait for another agent's. A NATS server and a database of their own, because the routers
share a durable consumer and the platform's cap."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from call_router.app import setup as router_setup
from call_router.config import Settings as RouterSettings
from contracts.bus import Bus, connect_bus
from contracts.calls import CallRequested
from contracts.envelope import utc_now
from contracts.locks import LockKey, lock_for_transaction
from embedded_stack.nats_server import start_nats
from tests.factories import make_agent, make_user
from tests.pg import connection
from tests.services import running_service
from tests.waiting import eventually


@pytest.fixture
async def bus(tmp_path: Path, isolated_database_url: str) -> AsyncIterator[Bus]:
    """A bus two routers listen on."""
    nats = start_nats(tmp_path / "nats")
    try:
        settings = RouterSettings(nats_url=nats.url, database_url=isolated_database_url, max_concurrent_calls=1000)
        with running_service("call-router", settings, router_setup), \
                running_service("call-router", settings, router_setup):
            connected = await connect_bus(nats.url, "test")
            try:
                yield connected
            finally:
                await connected.close()
    finally:
        nats.stop()


def dial(supervisor: uuid.UUID, agent: uuid.UUID, seconds: float = 0.0) -> CallRequested:
    return CallRequested(supervisor_id=supervisor, agent_id=agent, call_id=uuid.uuid4(), channel="chat",
                         dialled_number="+1-555-0000", occurred_at=utc_now() + timedelta(seconds=seconds))


async def test_racing_dials_never_give_an_agent_two_calls(bus: Bus, isolated_database_url: str) -> None:
    async with connection(isolated_database_url) as conn:
        supervisor = await make_user(conn, "supervisor")
        team = [await make_agent(conn, supervisor, f"Agent {n}") for n in range(3)]
        dials = [dial(supervisor, agent, seconds=n) for n in range(20) for agent in team]
        await asyncio.gather(*(bus.publish(call) for call in dials))

        async def all_decided() -> bool:
            return await conn.fetchval(
                "select count(*) from calls where status = 'active' or queue_position is not null") == len(dials)

        await eventually(all_decided, within=30, every=0.2)
        for agent in team:
            assert await conn.fetchval(
                "select count(*) from calls where agent_id = $1 and status = 'active'", agent) == 1
            positions = [row["queue_position"] for row in await conn.fetch(
                "select queue_position from calls where agent_id = $1 and status = 'queued' order by queued_at, id",
                agent)]
            assert positions == list(range(1, 20))
        assert await conn.fetchval("select count(*) from call_capacity") == len(team)


async def test_a_decision_for_one_agent_does_not_wait_for_another_agents(bus: Bus, isolated_database_url: str) -> None:
    async with connection(isolated_database_url) as conn:
        supervisor = await make_user(conn, "supervisor")
        held, other = await make_agent(conn, supervisor, "Held"), await make_agent(conn, supervisor, "Other")
        held_call, other_call = dial(supervisor, held), dial(supervisor, other)

        async def status(call: CallRequested) -> str | None:
            return await conn.fetchval("select status from calls where id = $1", call.call_id)

        async with connection(isolated_database_url) as holder, holder.transaction():
            await lock_for_transaction(holder, LockKey.ROUTING_AGENT, held)  # a decision for `held` in progress
            await bus.publish(held_call)
            await eventually(lambda: conn.fetchval(  # a router waits for it
                "select exists(select 1 from pg_locks where locktype = 'advisory' and not granted)"), within=10)
            await bus.publish(other_call)
            assert await eventually(lambda: status(other_call), within=10) == "active"
            assert await status(held_call) is None
        assert await eventually(lambda: status(held_call), within=10) == "active"
