"""Voice calls with LiveKit configured: the router creates the call's room with the agent dispatched
into it (livekit-api against a local server speaking LiveKit's Twirp API), the dialer gets a token
for that room only, and the agent-worker, registered with that server through livekit-agents'
AgentServer, takes the job of its call's room and refuses others. A NATS server and a database of
their own: these services are configured differently from the shared ones."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import jwt
import psutil
import pytest
from livekit import api, rtc
from livekit.agents.types import ATTRIBUTE_AGENT_STATE
from nats.js.errors import NotFoundError

from agent_worker.app import setup as worker_setup
from agent_worker.config import Settings as WorkerSettings
from agent_worker.session import APPROVAL_LINE, PAUSE_LINE, RESUME_LINE
from call_router.app import setup as router_setup
from call_router.config import Settings as RouterSettings
from contracts.bus import Bus, connect_bus
from contracts.calls import CallHangup, CallRef
from contracts.service import Runtime
from contracts.subjects import CALLS_STREAM
from contracts.tools import ToolPermissionDecision
from contracts.whisper import WhisperInject, WhisperPause
from embedded_stack.demo import seed_shop
from embedded_stack.nats_server import start_nats
from tests.factories import make_agent, make_user
from tests.fakes.livekit_server import FakeLiveKit
from tests.integration.conftest import RunningGateway, running_gateway, serve
from tests.integration.test_gateway_streams import SseEvent, SseReader, reading
from tests.pg import connection
from tests.services import running_service
from tests.waiting import eventually

API_KEY, API_SECRET = "devkey", "livekit-test-secret-of-32-bytes-or-more"
# How long a test waits for what the agent-worker's job processes do (one may be starting cold).
WORKER_WAIT = 30.0
ROOM_JOIN_TIMEOUT = 8.0  # for the customer (agent-worker)
AGENT_JOIN_TIMEOUT = 15.0  # for the agent (call-router): well above a job process's cold start


@dataclass
class VoicePlatform:
    gateway: RunningGateway
    livekit: FakeLiveKit
    number: str
    agent_id: uuid.UUID
    supervisor_id: uuid.UUID
    nats_url: str
    worker: Runtime


@pytest.fixture
async def voice(tmp_path: Path, isolated_database_url: str) -> AsyncIterator[VoicePlatform]:
    async with connection(isolated_database_url) as conn:
        await seed_shop(conn)
        supervisor = await make_user(conn, "supervisor")
        agent = await make_agent(conn, supervisor, "Voice desk")
        await conn.execute("""insert into agent_tools(agent_id, supervisor_id, name, requires_approval)
                              values ($1, $2, 'order_lookup', false), ($1, $2, 'refund_order', true)""",
                           agent, supervisor)
        number = await conn.fetchval("select phone_number from agents where id = $1", agent)
    livekit = FakeLiveKit(API_KEY, API_SECRET)
    served = serve(livekit.app())
    nats = start_nats(tmp_path / "nats")
    keys = {"livekit_url": served.url, "livekit_api_key": API_KEY, "livekit_api_secret": API_SECRET}
    # livekit-agents' AgentServer exports LIVEKIT_* into the process for its job processes; in this
    # process every later test's settings would read them, so they are put back afterwards.
    environment = {name: value for name, value in os.environ.items() if name.startswith("LIVEKIT_")}
    try:
        router = RouterSettings(nats_url=nats.url, database_url=isolated_database_url,
                                agent_join_timeout_seconds=AGENT_JOIN_TIMEOUT, **keys)
        worker = WorkerSettings(nats_url=nats.url, database_url=isolated_database_url,
                                room_join_timeout_seconds=ROOM_JOIN_TIMEOUT, **keys)
        with running_service("call-router", router, router_setup), \
                running_service("agent-worker", worker, worker_setup) as worker_runtime, \
                running_gateway(nats.url, isolated_database_url, **keys) as gateway:
            yield VoicePlatform(gateway, livekit, number, agent, supervisor, nats.url, worker_runtime)
    finally:
        nats.stop()
        served.stop()
        for name in [name for name in os.environ if name.startswith("LIVEKIT_")]:
            del os.environ[name]
        os.environ.update(environment)


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
    assert CallRef.model_validate_json(created.agents[0].metadata).agent_id == voice.agent_id
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


async def consumer_gone(bus: Bus, durable: str) -> bool:
    try:
        await bus.js.consumer_info(CALLS_STREAM, durable)
    except NotFoundError:
        return True
    return False


async def pending_request(database_url: str, call_id: uuid.UUID) -> uuid.UUID | None:
    async with connection(database_url) as conn:
        return await conn.fetchval("select id from tool_requests where call_id = $1 and status = 'pending'", call_id)


@contextlib.asynccontextmanager
async def voice_call(voice: VoicePlatform) -> AsyncIterator[tuple[dict[str, Any], SseReader]]:
    """Dial the voice desk as the dialer does: the answer, and the call's event stream."""
    async with httpx.AsyncClient(base_url=voice.gateway.url, timeout=20) as http:
        call = (await http.post("/api/calls", json={"number": voice.number, "channel": "voice"})).json()
        async with http.stream("GET", f"/api/calls/{call['call_id']}/stream",
                               params={"token": call["call_token"]}) as stream, reading(stream) as events:
            yield call, events


async def transcript(database_url: str, call_id: uuid.UUID) -> list[tuple[str, str]]:
    """The call's stored transcript: (speaker, text) in order."""
    async with connection(database_url) as conn:
        rows = await conn.fetch("select speaker, text from transcript_lines where call_id = $1 order by seq", call_id)
    return [(row["speaker"], row["text"]) for row in rows]


async def has_lines(database_url: str, call_id: uuid.UUID, count: int) -> list[tuple[str, str]] | None:
    lines = await transcript(database_url, call_id)
    return lines if len(lines) >= count else None


async def until_ended(events: SseReader, within: float = 30.0) -> SseEvent:
    while (event := await events.next(within=within)).event != "call.ended":
        pass
    return event


@contextlib.asynccontextmanager
async def supervisor_bus(voice: VoicePlatform) -> AsyncIterator[Bus]:
    """The bus, as the gateway would publish on it for the supervisor."""
    bus = await connect_bus(voice.nats_url, "test")
    try:
        yield bus
    finally:
        await bus.close()


async def test_the_agent_worker_takes_its_calls_room_and_ends_the_call_when_it_cannot_join(
        voice: VoicePlatform) -> None:
    voice.livekit.rooms_open = False
    registered = await eventually(lambda: voice.livekit.registered, within=WORKER_WAIT)
    assert registered[0].agent_name == "cs-agent" and registered[0].allowed_permissions.agent
    await eventually(lambda: voice.worker.health_details["livekit_rooms"].startswith("registered as cs-agent"),
                     within=WORKER_WAIT)
    async with voice_call(voice) as (call, events):
        offer = await eventually(lambda: (o := voice.livekit.offers.get(f"call-{call['call_id']}")) and
                                 o.available is not None and o, within=WORKER_WAIT)
        assert offer.available and offer.identity == f"agent-{voice.agent_id}" and offer.name == "Voice desk"
        # The job cannot join the room: the customer is not left waiting in a silent room; the call
        # ends as an error.
        assert (await until_ended(events, within=60)).data["reason"] == "error"


async def test_the_agent_worker_refuses_rooms_that_are_not_its_live_calls(voice: VoicePlatform) -> None:
    await eventually(lambda: voice.livekit.registered, within=WORKER_WAIT)
    stale = CallRef(call_id=uuid.uuid4(), agent_id=voice.agent_id, supervisor_id=uuid.uuid4()).model_dump_json()
    async with api.LiveKitAPI(voice.gateway.settings.livekit_url, API_KEY, API_SECRET) as livekit:
        for room, metadata in (("stale-call", stale), ("foreign-room", "not ours")):
            await livekit.room.create_room(api.CreateRoomRequest(
                name=room, agents=[api.RoomAgentDispatch(agent_name="cs-agent", metadata=metadata)]))
    for room in ("stale-call", "foreign-room"):
        offer = await eventually(lambda room=room: (o := voice.livekit.offers.get(room)) and
                                 o.available is not None and o, within=WORKER_WAIT)
        assert offer.available is False


@dataclass
class Customer:
    """The dialer's side of a voice call's room: the real rtc SDK with the gateway's customer token."""

    room: rtc.Room
    heard: asyncio.Queue[str]
    disconnected: asyncio.Event

    async def say(self, text: str) -> None:
        await self.room.local_participant.send_text(text, topic="lk.chat")

    async def hears(self, expected: str, within: float = 30.0) -> str:
        async with asyncio.timeout(within):
            while expected.lower() not in (line := await self.heard.get()).lower():
                pass
        return line


@contextlib.asynccontextmanager
async def in_room(join: dict[str, str], options: rtc.RoomOptions | None = None) -> AsyncIterator[Customer]:
    room = rtc.Room()
    heard: asyncio.Queue[str] = asyncio.Queue()

    async def read(reader: rtc.TextStreamReader) -> None:
        heard.put_nowait(await reader.read_all())

    room.register_text_stream_handler(
        "lk.transcription", lambda reader, _identity: asyncio.ensure_future(read(reader)))
    disconnected = asyncio.Event()
    room.on("disconnected", lambda _reason: disconnected.set())
    await room.connect(join["url"], join["token"], options or rtc.RoomOptions())
    try:
        yield Customer(room, heard, disconnected)
    finally:
        await room.disconnect()


async def test_a_customer_talks_with_the_agent_in_the_room_and_leaving_hangs_up(
        voice: VoicePlatform, isolated_database_url: str) -> None:
    await eventually(lambda: voice.livekit.registered, within=WORKER_WAIT)
    async with voice_call(voice) as (call, events):
        call_id = uuid.UUID(call["call_id"])
        async with in_room(call["livekit"]) as customer:
            await customer.hears("How can I help", within=60)  # the agent's job started and joined
            await customer.say("Hi, where is my parcel? The order is ORD-3003.")
            answer = await customer.hears("ORD-3003")
            assert "camping stove" in answer.lower()
            # The supervisor whispers: the agent excuses itself in the room, holds what the customer
            # types meanwhile, and answers it once the instructions are in.
            ids = {"supervisor_id": voice.supervisor_id, "agent_id": voice.agent_id, "call_id": call_id}
            async with supervisor_bus(voice) as bus:
                await bus.publish(WhisperPause(**ids, requested_by=voice.supervisor_id))
                await customer.hears(PAUSE_LINE)
                await customer.say("Can you also check ORD-1042?")
                with pytest.raises(TimeoutError):
                    await customer.hears("ORD-1042", within=2)
                await bus.publish(WhisperInject(**ids, requested_by=voice.supervisor_id,
                                                instructions="Offer free delivery on the next order."))
                await customer.hears(RESUME_LINE)
                await customer.hears("ORD-1042")
                # A tool that needs the supervisor: the agent says so in the room and waits for them.
                await customer.say("The shoes arrived damaged, I want a refund for ORD-1042")
                await customer.hears(APPROVAL_LINE)
                request_id = await eventually(lambda: pending_request(isolated_database_url, call_id),
                                              within=WORKER_WAIT)
                await bus.publish(ToolPermissionDecision(**ids, request_id=request_id, allowed=True,
                                                         decided_by="supervisor"))
                refund = await customer.hears("refunded")
                assert "ORD-1042" in refund
        assert (await until_ended(events)).data["reason"] == "customer_hangup"
    async with supervisor_bus(voice) as bus:  # the room's own bus consumer went with the call
        await eventually(lambda: consumer_gone(bus, f"agent-room-{call_id}"), within=10)
    lines = await transcript(isolated_database_url, call_id)
    async with connection(isolated_database_url) as conn:
        brain = await conn.fetchval("select brain from calls where id = $1", call_id)
    assert [speaker for speaker, _ in lines][:3] == ["agent", "customer", "agent"]
    texts = [text for _, text in lines]
    asked, resumed = texts.index("Can you also check ORD-1042?"), texts.index(RESUME_LINE)
    assert texts.index(PAUSE_LINE) < asked < resumed and any("ORD-1042" in text for text in texts[resumed + 1:])
    assert texts[1] == "Hi, where is my parcel? The order is ORD-3003." and brain == "local-minilm"
    room = f"call-{call_id}"
    assert (f"customer-{call_id}", "lk.chat", texts[1]) in voice.livekit.sfu.texts[room]


def job_process_in_room(livekit_url: str) -> psutil.Process | None:
    """The job process LiveKit gave a room to: the agent-worker's child connected to the room server
    (the warm spare beside it is not)."""
    port = urlparse(livekit_url).port
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if any(connection.raddr and connection.raddr.port == port for connection in child.net_connections("tcp")):
                return child
    return None


def agent_listening(customer: Customer, agent_id: uuid.UUID, not_sid: str = "") -> str | None:
    """The sid of the agent in the customer's room once its session listens (livekit-agents' own
    ``lk.agent.state`` attribute), unless it is ``not_sid`` (a job that has gone)."""
    agent = customer.room.remote_participants.get(f"agent-{agent_id}")
    ready = agent is not None and agent.sid != not_sid and agent.attributes.get(ATTRIBUTE_AGENT_STATE) == "listening"
    return agent.sid if ready else None


async def test_a_rooms_job_whose_process_dies_is_restarted_and_takes_the_call_up(
        voice: VoicePlatform, isolated_database_url: str) -> None:
    """LiveKit restarts a job that failed (its default restart policy; the embedded room server does the
    same): the restarted job takes the call up from its transcript, greets no one again, and answers."""
    await eventually(lambda: voice.livekit.registered, within=WORKER_WAIT)
    async with voice_call(voice) as (call, _events):
        call_id = uuid.UUID(call["call_id"])
        async with in_room(call["livekit"]) as customer:
            await customer.hears("How can I help", within=60)
            first = await eventually(lambda: agent_listening(customer, voice.agent_id), within=WORKER_WAIT)
            job = await eventually(lambda: job_process_in_room(call["livekit"]["url"]), within=WORKER_WAIT)
            job.kill()
            await eventually(lambda: agent_listening(customer, voice.agent_id, not_sid=first), within=60)
            await customer.say("Hi, where is my parcel? The order is ORD-3003.")
            assert "camping stove" in (await customer.hears("ORD-3003", within=60)).lower()
            # On the transcript once said in full; greeted once.
            lines = await eventually(lambda: has_lines(isolated_database_url, call_id, 3), within=WORKER_WAIT)
    assert [speaker for speaker, _ in lines] == ["agent", "customer", "agent"], lines
    assert voice.livekit.offers[f"call-{call_id}"].restarts == 1


async def test_a_customer_who_never_joins_the_room_is_hung_up(voice: VoicePlatform) -> None:
    async with voice_call(voice) as (_call, events):
        while (event := await events.next(within=ROOM_JOIN_TIMEOUT + 30)).event != "call.ended":
            assert event.event != "transcript.chunk", "nobody is there to greet"
    assert event.data["reason"] == "customer_hangup"


async def test_when_the_supervisor_ends_a_voice_call_the_room_closes_for_the_customer(voice: VoicePlatform) -> None:
    async with voice_call(voice) as (call, events):
        call_id = uuid.UUID(call["call_id"])
        async with in_room(call["livekit"]) as customer:
            await customer.hears("How can I help", within=60)
            async with supervisor_bus(voice) as bus:
                await bus.publish(CallHangup(supervisor_id=voice.supervisor_id, agent_id=voice.agent_id,
                                             call_id=call_id, by="supervisor"))
            await asyncio.wait_for(customer.disconnected.wait(), 20)
        assert (await until_ended(events)).data["reason"] == "supervisor_ended"
    assert f"call-{call_id}" in voice.livekit.deleted


async def test_a_voice_call_no_agent_joins_ends_as_an_error(voice: VoicePlatform) -> None:
    voice.livekit.dispatching = False  # as if no agent-worker were registered
    async with voice_call(voice) as (call, events):
        async with in_room(call["livekit"]):
            ended = await until_ended(events, within=AGENT_JOIN_TIMEOUT + 30)
    assert ended.data["reason"] == "error"
    # The router closes the room on call.ended, which the stream may show first.
    await eventually(lambda: f"call-{call['call_id']}" in voice.livekit.deleted)
