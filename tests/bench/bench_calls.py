"""`make bench` (calls): how long a chat customer waits, through the real gateway, call-router and
agent-worker (offline brain) on embedded NATS and PostgreSQL (voice calls: bench_voice).

- dial: POST /api/calls until the answer says "connected";
- reply: a chat message (an order question: intent, tool call, database, reply) until the agent's
  answer arrives on the customer's stream.

Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx

from agent_worker.app import setup as worker_setup
from agent_worker.config import Settings as WorkerSettings
from call_router.app import setup as router_setup
from call_router.config import Settings as RouterSettings
from contracts.db import migrate
from embedded_stack.demo import seed_shop
from tests.bench.servers import embedded_servers, percentile
from tests.factories import make_agent, make_user
from tests.integration.conftest import running_gateway
from tests.integration.test_gateway_streams import reading
from tests.pg import connection
from tests.services import running_service


async def prepare(database_url: str, desks: int = 1) -> list[str]:
    """The demo shop and ``desks`` agents with the order lookup (an agent takes one call at a time):
    their phone numbers."""
    async with connection(database_url) as conn:
        await migrate(conn)
        await seed_shop(conn)
        supervisor = await make_user(conn, "supervisor")
        numbers = []
        for desk in range(desks):
            agent = await make_agent(conn, supervisor, f"Bench desk {desk + 1}")
            await conn.execute("insert into agent_tools(agent_id, supervisor_id, name) values ($1, $2, 'order_lookup')",
                               agent, supervisor)
            numbers.append(await conn.fetchval("select phone_number from agents where id = $1", agent))
        return numbers


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    with embedded_servers() as (nats_url, database_url):
        [number] = asyncio.run(prepare(database_url))
        router = RouterSettings(nats_url=nats_url, database_url=database_url)
        worker = WorkerSettings(nats_url=nats_url, database_url=database_url)
        with running_service("call-router", router, router_setup), \
                running_service("agent-worker", worker, worker_setup), \
                running_gateway(nats_url, database_url, call_attempts_per_minute=100_000) as gateway:
            dials, replies = asyncio.run(measure(gateway.url, number, args.calls))
    for name, values in (("dial to connected", dials), ("chat reply (order lookup)", replies)):
        print(f"{name:31s} n={len(values)}  p50 {statistics.median(values) * 1000:7.1f} ms  "
              f"p95 {percentile(values, 0.95) * 1000:7.1f} ms  max {max(values) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
