"""Voice calls with LiveKit configured: the router creates the call's room with the agent dispatched
into it (livekit-api against a local server speaking LiveKit's Twirp API), the dialer gets a token
for that room only, and the agent-worker, registered with that server through livekit-agents'
AgentServer, takes the job of its call's room and refuses others. A NATS server and a database of
their own: these services are configured differently from the shared ones."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from livekit import api

from agent_worker.app import setup as worker_setup
from agent_worker.config import Settings as WorkerSettings
from call_router.app import setup as router_setup
from call_router.config import Settings as RouterSettings
from embedded_stack.nats_server import start_nats
from tests.factories import make_agent, make_user
from tests.fakes.livekit_server import FakeLiveKit
from tests.integration.conftest import RunningGateway, running_gateway, serve
from tests.integration.test_gateway_streams import reading
from tests.pg import connection
from tests.services import running_service

API_KEY, API_SECRET = "devkey", "livekit-test-secret-of-32-bytes-or-more"


@dataclass
class VoicePlatform:
    gateway: RunningGateway
    livekit: FakeLiveKit
    number: str
    agent_id: uuid.UUID


@pytest.fixture
async def voice(tmp_path: Path, isolated_database_url: str) -> AsyncIterator[VoicePlatform]:
    async with connection(isolated_database_url) as conn:
        supervisor = await make_user(conn, "supervisor")
        agent = await make_agent(conn, supervisor, "Voice desk")
        number = await conn.fetchval("select phone_number from agents where id = $1", agent)
    livekit = FakeLiveKit(API_KEY, API_SECRET)
    served = serve(livekit.app())
    nats = start_nats(tmp_path / "nats")
    keys = {"livekit_url": served.url, "livekit_api_key": API_KEY, "livekit_api_secret": API_SECRET}
    try:
        router = RouterSettings(nats_url=nats.url, database_url=isolated_database_url, **keys)
        worker = WorkerSettings(nats_url=nats.url, database_url=isolated_database_url, **keys)
        with running_service("call-router", router, router_setup), \
                running_service("agent-worker", worker, worker_setup), \
                running_gateway(nats.url, isolated_database_url, **keys) as gateway:
            yield VoicePlatform(gateway, livekit, number, agent)
    finally:
        nats.stop()
        served.stop()


async def test_a_voice_call_gets_its_room_with_the_agent_dispatched(voice: VoicePlatform,
                                                                    isolated_database_url: str) -> None:
    async with httpx.AsyncClient(base_url=voice.gateway.url, timeout=20) as http:
        response = await http.post("/api/calls", json={"number": voice.number, "channel": "voice",
                                                       "caller": "jo@example.com"})
        assert response.status_code == 201, response.text
        call = response.json()
        room = f"call-{call['call_id']}"
        assert call["status"] == "connected" and call["livekit"]["room"] == room

        grants = jwt.decode(call["livekit"]["token"], API_SECRET, algorithms=["HS256"],
                            options={"verify_aud": False})
        assert grants["sub"] == f"customer-{call['call_id']}" and grants["iss"] == API_KEY
        assert grants["video"]["room"] == room and grants["video"]["roomJoin"] is True
        assert not grants["video"].get("roomCreate") and not grants["video"].get("roomAdmin")

        async with http.stream("GET", f"/api/calls/{call['call_id']}/stream",
                               params={"token": call["call_token"]}) as stream, reading(stream) as events:
            started = await events.next()
        assert started.event == "call.started" and started.data["livekit_room"] == room

    created = voice.livekit.rooms[room]  # opened before the call was announced
    assert [a.agent_name for a in created.agents] == ["cs-agent"]
    assert json.loads(created.agents[0].metadata)["agent_id"] == str(voice.agent_id)
    async with connection(isolated_database_url) as conn:
        assert await conn.fetchval("select livekit_room from calls where id = $1", uuid.UUID(call["call_id"])) == room


async def test_when_livekit_fails_the_call_ends_as_an_error(voice: VoicePlatform) -> None:
    voice.livekit.fail = True
    async with httpx.AsyncClient(base_url=voice.gateway.url, timeout=20) as http:
        call = (await http.post("/api/calls", json={"number": voice.number, "channel": "voice"})).json()
        async with http.stream("GET", f"/api/calls/{call['call_id']}/stream",
                               params={"token": call["call_token"]}) as stream, reading(stream) as events:
            while (event := await events.next(within=20)).event != "call.ended":
                pass
    assert event.data["reason"] == "error"


async def eventually(check: Callable[[], Any], within: float = 30.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while not (value := check()):
        assert asyncio.get_running_loop().time() < deadline, "not within the time"
        await asyncio.sleep(0.1)
    return value


async def test_the_agent_worker_takes_its_calls_room_and_ends_the_call_when_it_cannot_join(
        voice: VoicePlatform) -> None:
    registered = await eventually(lambda: voice.livekit.registered)
    assert registered[0].agent_name == "cs-agent" and registered[0].allowed_permissions.agent
    async with httpx.AsyncClient(base_url=voice.gateway.url, timeout=20) as http:
        call = (await http.post("/api/calls", json={"number": voice.number, "channel": "voice"})).json()
        offer = await eventually(lambda: (o := voice.livekit.offers.get(f"call-{call['call_id']}")) and
                                 o.available is not None and o)
        assert offer.available and offer.identity == f"agent-{voice.agent_id}" and offer.name == "Voice desk"
        # This LiveKit has no media server, so the job cannot join the room: the customer is not left
        # waiting in a silent room; the call ends as an error.
        async with http.stream("GET", f"/api/calls/{call['call_id']}/stream",
                               params={"token": call["call_token"]}) as stream, reading(stream) as events:
            while (event := await events.next(within=60)).event != "call.ended":
                pass
    assert event.data["reason"] == "error"


async def test_the_agent_worker_refuses_rooms_that_are_not_its_live_calls(voice: VoicePlatform) -> None:
    await eventually(lambda: voice.livekit.registered)
    stale = json.dumps({"call_id": str(uuid.uuid4()), "agent_id": str(voice.agent_id),
                        "supervisor_id": str(uuid.uuid4())})
    async with api.LiveKitAPI(voice.gateway.settings.livekit_url, API_KEY, API_SECRET) as livekit:
        for room, metadata in (("stale-call", stale), ("foreign-room", "not ours")):
            await livekit.room.create_room(api.CreateRoomRequest(
                name=room, agents=[api.RoomAgentDispatch(agent_name="cs-agent", metadata=metadata)]))
    for room in ("stale-call", "foreign-room"):
        offer = await eventually(lambda room=room: (o := voice.livekit.offers.get(room)) and
                                 o.available is not None and o)
        assert offer.available is False
