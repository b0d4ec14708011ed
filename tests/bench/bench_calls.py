"""`make bench` (calls): how long a customer waits, through the real gateway, call-router and
agent-worker (offline brain) on embedded NATS and PostgreSQL.

- dial: POST /api/calls until the answer says "connected";
- reply: a chat message (an order question: intent, tool call, database, reply) until the agent's
  answer arrives on the customer's stream;
- the same for voice calls in LiveKit rooms, talking in text, against the tests' local LiveKit
  stand-in (agent protocol, signalling, aiortc WebRTC): dial until the agent's greeting reaches the
  customer in the room (room, dispatch, a warm job process joining, the session starting), and a
  typed question until its answer arrives in the room. Voice calls are spaced (--room-gap) so LiveKit
  has put a warm job process back in place, as between real calls; the first call starts cold.

Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from collections.abc import Iterator
from typing import Any

import httpx

from agent_worker.app import setup as worker_setup
from agent_worker.config import Settings as WorkerSettings
from call_router.app import setup as router_setup
from call_router.config import Settings as RouterSettings
from contracts.db import migrate
from embedded_stack.demo import seed_shop
from tests.bench.servers import embedded_servers, percentile
from tests.factories import make_agent, make_user
from tests.fakes.livekit_server import FakeLiveKit
from tests.integration.conftest import running_gateway, serve
from tests.integration.test_gateway_streams import reading
from tests.integration.test_voice_rooms import in_room
from tests.pg import connection
from tests.services import running_service


async def prepare(database_url: str) -> str:
    async with connection(database_url) as conn:
        await migrate(conn)
        await seed_shop(conn)
        supervisor = await make_user(conn, "supervisor")
        agent = await make_agent(conn, supervisor, "Bench desk")
        await conn.execute("insert into agent_tools(agent_id, supervisor_id, name) values ($1, $2, 'order_lookup')",
                           agent, supervisor)
        return await conn.fetchval("select phone_number from agents where id = $1", agent)


async def measure_rooms(base: str, number: str, calls: int, gap: float) -> tuple[list[float], list[float]]:
    greetings: list[float] = []
    replies: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for _ in range(calls):
            started = time.perf_counter()
            call = (await http.post("/api/calls", json={"number": number, "channel": "voice"})).json()
            async with http.stream("GET", f"/api/calls/{call['call_id']}/stream",
                                   params={"token": call["call_token"]}) as response, reading(response) as events:
                async with in_room(call["livekit"]) as customer:
                    await customer.hears("How can I help", within=60)
                    greetings.append(time.perf_counter() - started)
                    sent = time.perf_counter()
                    await customer.say("Where is ORD-1042?")
                    await customer.hears("ORD-1042")
                    replies.append(time.perf_counter() - sent)
                while (await events.next(within=30)).event != "call.ended":
                    pass  # leaving the room hung up; the agent is free for the next caller
            await asyncio.sleep(gap)
    return greetings, replies


async def measure(base: str, number: str, calls: int) -> tuple[list[float], list[float]]:
    dials: list[float] = []
    replies: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for _ in range(calls):
            started = time.perf_counter()
            call = (await http.post("/api/calls", json={"number": number})).json()
            dials.append(time.perf_counter() - started)
            auth = {"Authorization": f"Bearer {call['call_token']}"}
            async with http.stream("GET", f"/api/calls/{call['call_id']}/stream",
                                   params={"token": call["call_token"]}) as response, reading(response) as events:
                while not ((e := await events.next()).event == "transcript.chunk" and e.data["speaker"] == "agent"):
                    pass  # the greeting
                sent = time.perf_counter()
                await http.post(f"/api/calls/{call['call_id']}/messages", json={"text": "Where is ORD-1042?"},
                                headers=auth)
                while not ((e := await events.next()).event == "transcript.chunk" and e.data["speaker"] == "agent"):
                    pass
                replies.append(time.perf_counter() - sent)
            await http.post(f"/api/calls/{call['call_id']}/end", headers=auth)
            await asyncio.sleep(0.05)  # the agent frees up before the next caller
    return dials, replies


@contextlib.contextmanager
def room_platform(nats_url: str, database_url: str, **worker_settings: Any) -> Iterator[str]:
    """The gateway (its URL), call-router and agent-worker with voice calls in rooms on the room server."""
    livekit = FakeLiveKit("bench", "bench-secret-of-at-least-32-characters")
    served = serve(livekit.app())
    keys = {"livekit_url": served.url, "livekit_api_key": livekit.api_key, "livekit_api_secret": livekit.api_secret}
    try:
        router = RouterSettings(nats_url=nats_url, database_url=database_url, **keys)
        worker = WorkerSettings(nats_url=nats_url, database_url=database_url, **keys, **worker_settings)
        with running_service("call-router", router, router_setup), \
                running_service("agent-worker", worker, worker_setup), \
                running_gateway(nats_url, database_url, call_attempts_per_minute=100_000, **keys) as gateway:
            yield gateway.url
    finally:
        served.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--room-calls", type=int, default=10)
    parser.add_argument("--room-gap", type=float, default=5.0, help="seconds between voice calls")
    args = parser.parse_args()
    with embedded_servers() as (nats_url, database_url):
        number = asyncio.run(prepare(database_url))
        router = RouterSettings(nats_url=nats_url, database_url=database_url)
        worker = WorkerSettings(nats_url=nats_url, database_url=database_url)
        with running_service("call-router", router, router_setup), \
                running_service("agent-worker", worker, worker_setup), \
                running_gateway(nats_url, database_url, call_attempts_per_minute=100_000) as gateway:
            dials, replies = asyncio.run(measure(gateway.url, number, args.calls))
    with embedded_servers() as (nats_url, database_url), room_platform(nats_url, database_url) as base:
        number = asyncio.run(prepare(database_url))
        greetings, room_replies = asyncio.run(measure_rooms(base, number, args.room_calls, args.room_gap))
    for name, values in (("dial to connected", dials), ("chat reply (order lookup)", replies),
                         ("voice dial to greeting (cold)", greetings[:1]),
                         ("voice dial to greeting (warm)", greetings[1:]), ("room reply (order lookup)", room_replies)):
        print(f"{name:31s} n={len(values)}  p50 {statistics.median(values) * 1000:7.1f} ms  "
              f"p95 {percentile(values, 0.95) * 1000:7.1f} ms  max {max(values) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
