"""SSE fan-out through a real gateway, a real HTTP client and real JetStream: resume with
Last-Event-ID, a stream opened from where a dashboard's reads stood, the per-supervisor stream limit,
ownership, heartbeats and clean-up on disconnect."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from contracts.bus import Bus
from contracts.calls import AgentStatusChanged, CallHandedBack
from contracts.results import NotificationCreated
from contracts.subjects import CALLS_STREAM
from contracts.transcripts import TranscriptChunk
from tests.integration.conftest import RunningGateway, World, create_agent, create_supervisor
from tests.waiting import eventually


@dataclass(frozen=True)
class SseEvent:
    id: str
    event: str
    data: dict[str, Any]


class SseReader:
    """Reads an event stream as EventSource does (comments are heartbeats). A pump task owns the
    connection's line iterator, so a test that stops waiting never cancels a read mid-flight."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines: asyncio.Queue[str | None] = asyncio.Queue()
        self.comments = 0
        self._pump = asyncio.create_task(self._read(response))

    async def _read(self, response: httpx.Response) -> None:
        try:
            async for line in response.aiter_lines():
                self.lines.put_nowait(line)
        except httpx.HTTPError:
            pass  # the connection closed under us: the stream is over
        finally:
            self.lines.put_nowait(None)

    async def line(self, within: float = 10.0) -> str:
        line = await asyncio.wait_for(self.lines.get(), within)
        if line is None:
            raise EOFError("the stream ended")
        if line.startswith(":"):
            self.comments += 1
        return line

    async def next(self, within: float = 10.0) -> SseEvent:
        deadline = time.monotonic() + within
        fields: dict[str, str] = {}
        while True:
            line = await self.line(max(0.01, deadline - time.monotonic()))
            if line.startswith(":"):
                continue
            if line == "":
                if "data" in fields:
                    return SseEvent(fields.get("id", ""), fields.get("event", "message"), json.loads(fields["data"]))
            else:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")

    async def finish(self) -> None:
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(self._pump, 5)


@contextlib.asynccontextmanager
async def reading(response: httpx.Response) -> AsyncIterator[SseReader]:
    """An SseReader for ``response``, stopped cleanly however the test leaves."""
    reader = SseReader(response)
    try:
        yield reader
    finally:
        await response.aclose()
        await reader.finish()


@contextlib.asynccontextmanager
async def open_stream(client: httpx.AsyncClient, path: str, **params: str) -> AsyncIterator[SseReader]:
    async with client.stream("GET", path, params=params) as response:
        assert response.status_code == 200, (await response.aread()).decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        async with reading(response) as reader:
            yield reader


def stream_token(http: httpx.Client, world: World, email: str) -> str:
    response = http.post("/api/stream-token", headers=world.headers(http, email))
    assert response.status_code == 200, response.text
    return response.json()["token"]


def chunk(team: dict[str, Any], text: str, seq: int, agent_id: str | None = None) -> TranscriptChunk:
    return TranscriptChunk(supervisor_id=team["id"], agent_id=agent_id or team["agent"], call_id=team["call"],
                           seq=seq, speaker="customer", text=text)


async def stream_readers(bus: Bus) -> set[str]:
    """The browser streams' consumers on the bus (of any gateway on it)."""
    return {info.name for info in await bus.js.consumers_info(CALLS_STREAM) if info.name.startswith("tail-")}


@pytest.fixture
def http(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url) as created:
        yield created


@pytest.fixture
async def client(gateway: RunningGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=httpx.Timeout(10, read=15)) as created:
        yield created


async def test_reconnect_with_last_event_id_gets_exactly_the_missed_events(
        client: httpx.AsyncClient, http: httpx.Client, world: World, bus: Bus) -> None:
    token = stream_token(http, world, world.a["email"])
    path = f"/api/stream/agents/{world.a['agent']}"
    other_agent = create_agent(http, world.headers(http, world.a["email"]), name="Elsewhere")["id"]
    async with open_stream(client, path, token=token) as reader:
        ready = await reader.next()
        assert ready.event == "ready"
        seen = []
        for seq in range(3):
            await bus.publish(chunk(world.a, f"live {seq}", seq))
            seen.append(await reader.next())
    assert [e.data["text"] for e in seen] == ["live 0", "live 1", "live 2"]
    assert [int(e.id) for e in seen] == sorted(int(e.id) for e in seen)

    missed = [chunk(world.a, f"missed {seq}", seq) for seq in (3, 4)]
    for event in missed[:1]:
        await bus.publish(event)
    await bus.publish(chunk(world.b, "another supervisor's call", 0))  # must never reach A
    await bus.publish(chunk(world.a, "another agent of A", 0, agent_id=other_agent))  # not this agent's stream
    await bus.publish(missed[1])

    async with client.stream("GET", path, params={"token": token},
                             headers={"Last-Event-ID": seen[-1].id}) as response:
        assert response.status_code == 200
        async with reading(response) as reader:
            replayed = [await reader.next(), await reader.next()]
            marker = chunk(world.a, "after the reconnect", 5)
            await bus.publish(marker)
            following = await reader.next()
    assert [e.data["event_id"] for e in replayed] == [str(e.event_id) for e in missed]
    assert following.data["event_id"] == str(marker.event_id)  # nothing duplicated or extra in between
    assert int(seen[-1].id) < int(replayed[0].id) < int(replayed[1].id) < int(following.id)


async def test_resuming_from_the_ready_event_loses_nothing_published_while_away(
        client: httpx.AsyncClient, http: httpx.Client, world: World, bus: Bus) -> None:
    token = stream_token(http, world, world.a["email"])
    path = f"/api/stream/agents/{world.a['agent']}"
    async with open_stream(client, path, token=token) as reader:
        ready = await reader.next()
    event = chunk(world.a, "published while the browser was away", 7)
    await bus.publish(event)
    async with open_stream(client, path, token=token, last_event_id=ready.id) as reader:
        assert (await reader.next()).data["event_id"] == str(event.event_id)


async def test_a_stream_opened_from_a_reads_position_gets_what_was_published_after_the_read(
        client: httpx.AsyncClient, http: httpx.Client, world: World, bus: Bus) -> None:
    """A card reloaded as an admin hands its call back: the hand-back lands between the card's read of the
    live calls and its stream's opening, and still reaches the card; what came before the read does not."""
    headers = world.headers(http, world.a["email"])
    await bus.publish(chunk(world.a, "before the read", 0))
    read = await client.get("/api/calls", headers=headers)
    assert read.status_code == 200, read.text
    handed_back = CallHandedBack(supervisor_id=world.a["id"], agent_id=world.a["agent"], call_id=world.a["call"],
                                 by=world.a["id"], agent_name="A1")
    await bus.publish(handed_back)
    token = stream_token(http, world, world.a["email"])
    async with open_stream(client, f"/api/stream/agents/{world.a['agent']}", token=token,
                           last_event_id=read.headers["X-Last-Event-ID"]) as reader:
        first = await reader.next()
    assert (first.event, first.data["event_id"]) == ("call.handed_back", str(handed_back.event_id))


@pytest.mark.parametrize("path", ["/api/agents", "/api/calls", "/api/calls/{call}", "/api/notifications",
                                  "/api/tool-requests", "/api/analytics/live", "/api/admin/overview"])
async def test_every_read_a_dashboard_follows_with_a_stream_says_where_the_bus_stood(
        client: httpx.AsyncClient, http: httpx.Client, world: World, bus: Bus, path: str) -> None:
    reader = world.admin_email if path.startswith("/api/admin") else world.a["email"]
    await bus.publish(chunk(world.a, "just before the read", 0))
    last = (await bus.js.stream_info(CALLS_STREAM)).state.last_seq
    read = await client.get(path.format(call=world.a["call"]), headers=world.headers(http, reader))
    assert read.status_code == 200, read.text
    assert int(read.headers["X-Last-Event-ID"]) >= last


async def test_disconnect_removes_the_bus_consumer_and_frees_the_slot(
        client: httpx.AsyncClient, http: httpx.Client, world: World, bus: Bus, gateway: RunningGateway) -> None:
    slots = gateway.app.state.stream_slots
    # Streams of earlier tests close as this gateway notices each disconnect; on a loaded machine that can
    # take longer than this test's own bound, which is what it measures. Readers of other tests' gateways,
    # stopped with their streams open, are left to the server's idle threshold: not this one's to count.
    await eventually(lambda: slots.total == 0, within=30)
    before = await stream_readers(bus)
    token = stream_token(http, world, world.a["email"])
    async with open_stream(client, f"/api/stream/agents/{world.a['agent']}", token=token) as reader:
        await reader.next()
        ours = await stream_readers(bus) - before
        assert len(ours) == 1 and slots.total == 1
    await eventually(lambda: slots.total == 0, within=5)
    await eventually(lambda: _gone(bus, ours), within=5)


async def _gone(bus: Bus, readers: set[str]) -> bool:
    return not readers & await stream_readers(bus)


async def watch_every_agent(streams: contextlib.AsyncExitStack, client: httpx.AsyncClient, token: str,
                            agents: list[str]) -> list[SseReader]:
    """One open stream per agent, each past its ready event; the caller keeps the readers referenced
    (a collected line iterator closes its connection)."""
    readers = [await streams.enter_async_context(open_stream(client, f"/api/stream/agents/{agent}", token=token))
               for agent in agents]
    assert [(await reader.next()).event for reader in readers] == ["ready"] * len(agents)
    return readers


async def test_a_supervisor_allowed_more_agents_may_watch_them_all(
        client: httpx.AsyncClient, http: httpx.Client, world: World) -> None:
    admin = world.headers(http, world.admin_email)
    supervisor = create_supervisor(http, admin, "more-agents")
    raised = await client.patch(f"/api/supervisors/{supervisor['id']}", headers=admin, json={"max_agents": 4})
    assert raised.status_code == 200, raised.text
    headers = world.headers(http, supervisor["email"])
    agents = [create_agent(http, headers, name=f"Agent {n}")["id"] for n in range(4)]
    token = stream_token(http, world, supervisor["email"])
    async with contextlib.AsyncExitStack() as streams:
        _open = await watch_every_agent(streams, client, token, agents)
        refused = await client.get(f"/api/stream/agents/{agents[0]}", params={"token": token})
        assert refused.status_code == 429 and "4 agent streams open" in refused.json()["message"]


async def test_the_fourth_agent_stream_is_refused_until_one_closes(
        client: httpx.AsyncClient, http: httpx.Client, world: World) -> None:
    supervisor = create_supervisor(http, world.headers(http, world.admin_email), "streams")
    headers = world.headers(http, supervisor["email"])
    agents = [create_agent(http, headers, name=f"Agent {n}")["id"] for n in range(3)]
    token = stream_token(http, world, supervisor["email"])
    async with contextlib.AsyncExitStack() as streams:
        _open = await watch_every_agent(streams, client, token, agents)
        refused = await client.get(f"/api/stream/agents/{agents[0]}", params={"token": token})
        assert refused.status_code == 429
        assert refused.headers["retry-after"].isdigit()
        assert "3 agent streams open" in refused.json()["message"]
    # Once one closes, a new one is admitted (the slot frees as soon as the server sees the disconnect).
    deadline = time.monotonic() + 5
    while True:
        async with client.stream("GET", f"/api/stream/agents/{agents[0]}", params={"token": token}) as response:
            if response.status_code == 200:
                break
        assert time.monotonic() < deadline, "the closed streams' slots were never freed"
        await asyncio.sleep(0.1)


async def test_a_supervisor_cannot_open_another_supervisors_agent_stream(
        client: httpx.AsyncClient, http: httpx.Client, world: World) -> None:
    token = stream_token(http, world, world.b["email"])
    response = await client.get(f"/api/stream/agents/{world.a['agent']}", params={"token": token})
    assert response.status_code == 403
    assert response.json()["message"] == "this agent belongs to another supervisor"


@pytest.mark.parametrize("token", ["not-a-jwt", "access"])
async def test_stream_tokens_are_checked(client: httpx.AsyncClient, http: httpx.Client, world: World,
                                         token: str) -> None:
    if token == "access":  # an access token is not a stream token: the audience differs
        token = world.headers(http, world.a["email"])["Authorization"].removeprefix("Bearer ")
    response = await client.get(f"/api/stream/agents/{world.a['agent']}", params={"token": token})
    assert response.status_code == 401
    assert "stream token refused" in response.json()["message"]


async def test_a_malformed_last_event_id_is_a_clear_422(client: httpx.AsyncClient, http: httpx.Client,
                                                        world: World) -> None:
    token = stream_token(http, world, world.a["email"])
    response = await client.get(f"/api/stream/agents/{world.a['agent']}", params={"token": token},
                                headers={"Last-Event-ID": "yesterday"})
    assert response.status_code == 422 and "Last-Event-ID" in response.json()["message"]


async def test_idle_streams_get_heartbeat_comments(client: httpx.AsyncClient, http: httpx.Client, world: World) -> None:
    token = stream_token(http, world, world.a["email"])
    async with open_stream(client, f"/api/stream/agents/{world.a['agent']}", token=token) as reader:
        await reader.next()
        async with asyncio.timeout(5):  # the test gateway pings every second
            while reader.comments < 2:
                await reader.line()


async def test_supervisor_stream_carries_only_their_own_notifications(
        client: httpx.AsyncClient, http: httpx.Client, world: World, bus: Bus) -> None:
    token = stream_token(http, world, world.a["email"])

    def note(team: dict[str, Any], title: str) -> NotificationCreated:
        return NotificationCreated(supervisor_id=team["id"], agent_id=team["agent"], call_id=team["call"],
                                   notification_id=uuid.uuid4(), kind="call_ended", title=title)

    async with open_stream(client, "/api/stream/supervisor", token=token) as reader:
        await reader.next()
        await bus.publish(note(world.b, "for B"))
        mine = note(world.a, "for A")
        await bus.publish(mine)
        received = await reader.next()
    assert received.event == "notification.created" and received.data["event_id"] == str(mine.event_id)


async def test_admin_stream_sees_every_supervisor(client: httpx.AsyncClient, http: httpx.Client, world: World,
                                                  bus: Bus) -> None:
    token = stream_token(http, world, world.admin_email)
    async with open_stream(client, "/api/stream/admin", token=token) as reader:
        await reader.next()
        events = [AgentStatusChanged(supervisor_id=team["id"], agent_id=team["agent"], status="idle",
                                     queue_length=0) for team in (world.a, world.b)]
        for event in events:
            await bus.publish(event)
        received = [await reader.next(), await reader.next()]
    assert [e.data["event_id"] for e in received] == [str(e.event_id) for e in events]
