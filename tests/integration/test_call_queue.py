"""The platform-wide cap through the real gateway and call-router: 15 customers dial at once with the
cap at 10 (the default). A NATS server and a database of their own, because the cap counts
every live call on the platform."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from call_router.app import setup as router_setup
from call_router.config import Settings as RouterSettings
from embedded_stack.nats_server import start_nats
from tests.factories import make_agent, make_user
from tests.integration.conftest import RunningGateway, running_gateway
from tests.integration.test_gateway_streams import SseReader, reading
from tests.pg import connection
from tests.services import running_service

CAP = 10


@pytest.fixture
async def capped(tmp_path: Path, isolated_database_url: str) -> AsyncIterator[RunningGateway]:
    nats = start_nats(tmp_path / "nats")
    try:
        settings = RouterSettings(nats_url=nats.url, database_url=isolated_database_url, max_concurrent_calls=CAP)
        with running_service("call-router", settings, router_setup), \
                running_gateway(nats.url, isolated_database_url, call_attempts_per_minute=1000) as gateway:
            yield gateway
    finally:
        nats.stop()


async def numbers(database_url: str, count: int) -> list[str]:
    async with connection(database_url) as conn:
        agents: list[uuid.UUID] = []
        for _ in range(count // 3):
            supervisor = await make_user(conn, "supervisor")
            agents += [await make_agent(conn, supervisor, f"Agent {n}") for n in range(3)]
        return [await conn.fetchval("select phone_number from agents where id = $1", a) for a in agents]


async def test_fifteen_callers_ten_connected_five_queued_in_order(capped: RunningGateway,
                                                                  isolated_database_url: str) -> None:
    dialled = await numbers(isolated_database_url, 15)
    async with httpx.AsyncClient(base_url=capped.url, timeout=30) as http:
        async def dial(number: str) -> dict:
            response = await http.post("/api/calls", json={"number": number})
            assert response.status_code == 201, response.text
            return response.json()

        calls = await asyncio.gather(*(dial(number) for number in dialled))
        connected = [c for c in calls if c["status"] == "connected"]
        queued = [c for c in calls if c["status"] == "queued"]
        assert len(connected) == CAP and len(queued) == 5
        async with connection(isolated_database_url) as conn:
            order = [str(r["id"]) for r in await conn.fetch(
                "select id from calls where status = 'queued' order by queued_at, id")]
            positions = {str(r["id"]): r["queue_position"] for r in await conn.fetch(
                "select id, queue_position from calls where status = 'queued'")}
        assert [positions[call_id] for call_id in order] == [1, 2, 3, 4, 5]

        first_waiting = next(c for c in queued if c["call_id"] == order[0])
        async with http.stream("GET", f"/api/calls/{first_waiting['call_id']}/stream",
                               params={"token": first_waiting["call_token"]}) as response, \
                reading(response) as waiting:
            hung_up = await http.post(f"/api/calls/{connected[0]['call_id']}/end",
                                      headers={"Authorization": f"Bearer {connected[0]['call_token']}"})
            assert hung_up.status_code == 202
            assert await next_of(waiting, "call.started") == first_waiting["call_id"]
        async with connection(isolated_database_url) as conn:
            assert await conn.fetchval("select count(*) from calls where status = 'active'") == CAP
            left = [r["queue_position"] for r in await conn.fetch(
                "select queue_position from calls where status = 'queued' order by queued_at, id")]
        assert left == [1, 2, 3, 4]


async def next_of(reader: SseReader, kind: str) -> str:
    while True:
        event = await reader.next(within=15)
        if event.event == kind:
            return event.data["call_id"]
