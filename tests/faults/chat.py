"""Chat calls that ride out a fault, as browsers and people would: an EventSource that reconnects with
Last-Event-ID when its stream ends or breaks, a customer who tries a refused request again, a supervisor
watching every agent's stream; and the checks of what the database kept of the calls afterwards.

The load benchmark's pieces (its SSE reader, admin, desks) are reused, not copied: tests/bench/bench_load.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import aiohttp

from tests.bench.bench_load import Desk, Seen, sse
from tests.pg import connection
from tests.waiting import eventually

# Any one step (a reply, a request, a reconnection) may take this long while a fault lasts.
STEP_SECONDS = 45.0
# How soon an EventSource reconnects: the gateway's own retry hint is 2 s, browsers start at ~3 s.
RECONNECT_SECONDS = 1.0
TURNS = ("Where is my order ORD-1042?", "How long do I have to return something?", "Do you ship abroad?",
         "Thanks, and what about ORD-1042 again?")


class Refused(Exception):
    """A request the gateway refused for good (4xx): the test fails on it."""


async def json_request(session: aiohttp.ClientSession, method: str, path: str, expected: int, *,
                       retried: Counter[str], **kwargs: Any) -> dict[str, Any]:
    """A request tried again, as a person would after an error, while the platform is down (5xx, a broken
    connection, no answer): the retries are counted in ``retried`` by kind."""
    deadline = time.monotonic() + STEP_SECONDS
    while True:
        try:
            async with asyncio.timeout(STEP_SECONDS):
                async with session.request(method, path, **kwargs) as response:
                    if response.status == expected:
                        return await response.json() if response.content_type == "application/json" else {}
                    text = await response.text()
                    if response.status < 500:
                        raise Refused(f"{method} {path}: {response.status} {text}")
                    kind = f"{response.status} {json.loads(text).get('error', '') if text.startswith('{') else ''}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            kind = type(exc).__name__
        route = "/".join("{id}" if len(part) == 36 else part for part in path.split("/"))
        retried[f"{method} {route}: {kind.strip()}"] += 1
        assert time.monotonic() < deadline, f"{method} {path} kept failing ({kind})"
        await asyncio.sleep(0.5)


class EventSource:
    """A browser's EventSource on one stream: reads it into a queue; when the stream ends or breaks,
    reconnects after RECONNECT_SECONDS sending the id of the last event it had (Last-Event-ID), as the
    WHATWG specification says. ``params`` gives each connection's query (a fresh stream token)."""

    def __init__(self, session: aiohttp.ClientSession, path: str,
                 params: Callable[[], Awaitable[dict[str, str]]]) -> None:
        self.session, self.path, self.params = session, path, params
        self.queue: asyncio.Queue[Seen] = asyncio.Queue()
        self.seen: list[Seen] = []
        self.last_event_id: str | None = None
        self.connections = 0
        self.opened = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
                headers = {"Last-Event-ID": self.last_event_id} if self.last_event_id else {}
                async with self.session.get(self.path, params=await self.params(), headers=headers) as response:
                    if 400 <= response.status < 500:  # an EventSource gives up for good on these
                        raise Refused(f"GET {self.path}: {response.status} {await response.text()}")
                    if response.status == 200:
                        self.connections += 1
                        self.opened.set()
                        async for seen in sse(response):
                            if seen.id is not None:
                                self.last_event_id = seen.id
                            if seen.event != "error":  # the gateway's word that the stream ends: reconnect
                                self.seen.append(seen)
                                self.queue.put_nowait(seen)
            await asyncio.sleep(RECONNECT_SECONDS)

    async def until(self, wanted: Callable[[Seen], bool], within: float = STEP_SECONDS) -> Seen:
        async with asyncio.timeout(within):
            while True:
                seen = await self.queue.get()
                if wanted(seen):
                    return seen

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@dataclass
class Supervisors:
    """Every desk's agent stream, watched by its supervisor: what each call's transcript looked like there."""

    streams: dict[str, EventSource]

    @classmethod
    async def watch(cls, session: aiohttp.ClientSession, desks: list[Desk]) -> Supervisors:
        def token_for(desk: Desk) -> Callable[[], Awaitable[dict[str, str]]]:
            async def params() -> dict[str, str]:
                token = await json_request(session, "POST", "/api/stream-token", 200, retried=Counter(),
                                           headers=desk.auth)
                return {"token": token["token"]}
            return params

        streams = {desk.agent_id: EventSource(session, f"/api/stream/agents/{desk.agent_id}", token_for(desk))
                   for desk in desks}
        # Watching from now: the stream says it is ready (and where it starts) before any call is dialled.
        await asyncio.gather(*(stream.until(lambda seen: seen.event == "ready") for stream in streams.values()))
        return cls(streams)

    def chunks(self, call_id: str) -> list[int]:
        """The seq of each transcript chunk of the call, as the supervisor's stream delivered them."""
        return [seen.data["seq"] for stream in self.streams.values() for seen in stream.seen
                if seen.event == "transcript.chunk" and seen.data["call_id"] == call_id]

    @property
    def reconnections(self) -> int:
        return sum(stream.connections - 1 for stream in self.streams.values())

    async def close(self) -> None:
        await asyncio.gather(*(stream.close() for stream in self.streams.values()))


@dataclass
class ChatCall:
    """One customer's call: dial, wait for the greeting, say each of ``turns`` and wait for the agent's
    reply to it, hang up, see the call end."""

    desk: Desk
    caller: str
    call_id: str = ""
    said: list[str] = field(default_factory=list)  # the messages the gateway accepted, in order
    retried: Counter[str] = field(default_factory=Counter)
    reply_seconds: list[tuple[float, float]] = field(default_factory=list)  # (sent at, time.time(); took)
    customer_stream: EventSource | None = None
    stage: str = "not dialled"  # what it was doing last: said when it fails

    async def run(self, session: aiohttp.ClientSession, turns: tuple[str, ...], think: float,
                  dial_after: float = 0.0) -> ChatCall:
        await asyncio.sleep(dial_after)
        self.stage = "dial"
        call = await json_request(session, "POST", "/api/calls", 201, retried=self.retried,
                                  json={"number": self.desk.number, "caller": self.caller})
        assert call["status"] in ("connected", "queued"), call
        self.call_id = call["call_id"]
        auth = {"Authorization": f"Bearer {call['call_token']}"}

        async def params() -> dict[str, str]:
            return {"token": call["call_token"]}

        stream = self.customer_stream = EventSource(session, f"/api/calls/{self.call_id}/stream", params)
        try:
            if call["status"] == "queued":  # behind a call the router took after the gateway had given up on it
                self.stage = "queued"
                await stream.until(lambda seen: seen.event == "call.started")
            self.stage = "greeting"
            await stream.until(agent_line)
            for turn, text in enumerate(turns, start=1):
                await asyncio.sleep(think)
                self.stage = f"turn {turn}: sending"
                began = time.time()
                await json_request(session, "POST", f"/api/calls/{self.call_id}/messages", 202,
                                   retried=self.retried, headers=auth, json={"text": text})
                self.said.append(text)
                self.stage = f"turn {turn}: own line"
                await stream.until(lambda seen, text=text: customer_line(seen) and seen.data["text"] == text)
                self.stage = f"turn {turn}: reply"
                await stream.until(agent_line)
                self.reply_seconds.append((began, time.time() - began))
            self.stage = "hangup"
            await json_request(session, "POST", f"/api/calls/{self.call_id}/end", 202, retried=self.retried,
                               headers=auth)
            self.stage = "end"
            await stream.until(lambda seen: seen.event == "call.ended")
            self.stage = "done"
        finally:
            await stream.close()
        return self


def converse(session: aiohttp.ClientSession, desks: list[Desk], caller: str, think: float,
             dial_every: float = 0.0) -> tuple[list[ChatCall], list[asyncio.Task[ChatCall]]]:
    """A customer at each desk holding the TURNS conversation (thinking ``think`` seconds before each
    turn), the i-th dialling ``i * dial_every`` seconds on: the calls, and the tasks running them."""
    calls = [ChatCall(desk, f"{caller}-{i}@example.com") for i, desk in enumerate(desks)]
    return calls, [asyncio.create_task(call.run(session, TURNS, think, i * dial_every))
                   for i, call in enumerate(calls)]


async def in_conversation(calls: list[ChatCall]) -> None:
    """Once every call has its greeting, and a moment more: the first turns are in flight."""
    await eventually(lambda: all(call.customer_stream and any(map(agent_line, call.customer_stream.seen))
                                 for call in calls), within=30)
    await asyncio.sleep(1.0)


@dataclass
class Outcome:
    kept: dict[str, Kept]
    retried: Counter[str]  # the customers' requests tried again, by what went wrong
    replies: list[float]  # seconds from each message sent to its reply, shortest first


async def finish(calls: list[ChatCall], running: list[asyncio.Task[ChatCall]], database_url: str,
                 supervisors: Supervisors, within: float = 60.0) -> Outcome:
    """Wait for every call to end (``within`` seconds at most), then for its archive; fails naming each
    call that went wrong (where it was stuck, what the database kept of it), or whose transcript the
    supervisor's stream did not give exactly once and in order."""
    _, late = await asyncio.wait(running, timeout=within)
    for task in late:
        task.cancel()
    outcomes = await asyncio.gather(*running, return_exceptions=True)
    kept = await archived(database_url, [call for call in calls if call.call_id])
    wrong = {}
    for call, outcome in zip(calls, outcomes, strict=True):
        found = [] if call.stage == "done" else [f"stuck at {call.stage} ({type(outcome).__name__} {outcome})"]
        if call.call_id:
            found += problems(call, kept[call.call_id])
            streamed = supervisors.chunks(call.call_id)
            if streamed != [seq for seq, _, _ in kept[call.call_id].lines]:
                found.append(f"the supervisor's stream gave chunks {streamed}")
        if found:
            wrong[call.call_id or call.caller] = found
    assert not wrong, "\n".join(f"{call}: {found}" for call, found in wrong.items())
    return Outcome(kept, sum((call.retried for call in calls), Counter()),
                   sorted(took for call in calls for _, took in call.reply_seconds))


def agent_line(seen: Seen) -> bool:
    return seen.event == "transcript.chunk" and seen.data["speaker"] == "agent"


def customer_line(seen: Seen) -> bool:
    return seen.event == "transcript.chunk" and seen.data["speaker"] == "customer"


# ------------------------------------------------------------------------------------ what was kept


@dataclass
class Kept:
    status: str
    lines: list[tuple[int, str, str]]  # (seq, speaker, text)
    archives: int
    summary: str | None


async def kept(database_url: str, call_id: str) -> Kept:
    async with connection(database_url) as conn:
        call = await conn.fetchrow("select status from calls where id = $1", UUID(call_id))
        lines = await conn.fetch("select seq, speaker, text from transcript_lines where call_id = $1 order by seq",
                                 UUID(call_id))
        archives = await conn.fetch("select summary from archives where call_id = $1", UUID(call_id))
    return Kept(call["status"] if call else "missing", [(r["seq"], r["speaker"], r["text"]) for r in lines],
                len(archives), archives[0]["summary"] if archives else None)


async def archived(database_url: str, calls: list[ChatCall], within: float = 60.0) -> dict[str, Kept]:
    """What the database kept of each call, once every one is archived (or ``within`` seconds on)."""
    async def all_archived() -> dict[str, Kept] | None:
        found = {call.call_id: await kept(database_url, call.call_id) for call in calls}
        return found if all(k.archives for k in found.values()) else None

    with contextlib.suppress(AssertionError):
        return await eventually(all_archived, within=within, every=0.5)
    return {call.call_id: await kept(database_url, call.call_id) for call in calls}


def problems(call: ChatCall, record: Kept) -> list[str]:
    """Everything wrong with how one call was kept: its end and archive, its transcript's numbering, each
    customer message stored once and in order, an agent reply after each."""
    found = []
    if record.status != "ended":
        found.append(f"status {record.status}")
    if record.archives != 1 or not record.summary:
        found.append(f"{record.archives} archive rows, summary {record.summary!r}")
    seqs = [seq for seq, _, _ in record.lines]
    if seqs != list(range(len(seqs))):
        found.append(f"transcript seq not contiguous and unique: {seqs}")
    customer = [text for _, speaker, text in record.lines if speaker == "customer"]
    if customer != call.said:
        found.append(f"customer lines {customer} != said {call.said}")
    speakers = [speaker for _, speaker, _ in record.lines]
    unanswered = [i for i, speaker in enumerate(speakers) if speaker == "customer" and "agent" not in speakers[i + 1:]]
    if unanswered or speakers[:1] != ["agent"]:
        found.append(f"no greeting or a customer line without an agent reply after it: {speakers}")
    return found


# --------------------------------------------------------------------------------------- /health


async def health(session: aiohttp.ClientSession) -> tuple[int, dict[str, Any]]:
    """/health's status and body (a 503 carries the report too); (0, {}) when the gateway does not answer."""
    try:
        async with asyncio.timeout(5), session.get("/health") as response:
            return response.status, await response.json()
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return 0, {}
