"""`make bench` (load): N customers in chat calls at once through the real gateway, against the whole
platform run as `make run` runs it (`python -m embedded_stack`: six services, each its own process,
on embedded NATS and PostgreSQL), every agent's stream watched by its supervisor.

For each level N (default 10, 100 and 500) the benchmark creates, through the API, the supervisors
and N agents it needs (one call at a time per agent), then N customers dial (spread over a short ramp),
wait until all N are connected, and each holds the same conversation: an order lookup, a question the
agent's knowledge answers, a refund that needs approval (which the scripted supervisor allows through
the API when the request appears on the agent's stream), then hangs up. The supervisors and agents are
deleted afterwards.

Figures (docs/benchmarks.md says what each one means) are printed and written to
bench/results/latest.json. Nothing is asserted: the goals are printed next to the figures.

    python -m tests.bench.bench_load                    # 10, 100 and 500
    python -m tests.bench.bench_load --calls 10 100 --note "taken on a busy machine"
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import resource
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from argon2 import PasswordHasher

from contracts.db import migrate
from embedded_stack.demo import seed_shop
from tests.bench.platform_processes import Meter, Platform, running_platform
from tests.bench.servers import percentile
from tests.pg import connection

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "bench-load-password-1"
AGENTS_PER_SUPERVISOR = 25
FIRST_BENCH_ORDER = 900_000
GOALS = {"errors": 0, "chunk_to_supervisor_ms.p95": 50, "chunk_to_sentiment_ms.p95": 300, "reply_ms.p95": 1000,
         "end_to_archive_ms.p95": 5000}
FIGURES = ("dial_ms", "dial_to_greeting_ms", "reply_ms", "chunk_to_supervisor_ms", "message_to_supervisor_ms",
           "chunk_to_sentiment_ms", "approval_to_result_ms", "end_to_archive_ms")
KNOWLEDGE = [{"title": "Returns", "content": "You can return unused items within 30 days of delivery. Refunds "
                                             "reach your account in 3 to 5 working days."}]
TOOLS = [{"name": "order_lookup"}, {"name": "refund_order", "requires_approval": True}, {"name": "create_ticket"}]


# ---------------------------------------------------------------------------------------------- SSE


@dataclass
class Seen:
    event: str
    data: dict[str, Any]
    at: float  # wall clock (time.time()) when the event's last line was read
    id: str | None = None  # its id field: what a reconnecting EventSource sends back as Last-Event-ID


async def sse(response: aiohttp.ClientResponse) -> AsyncIterator[Seen]:
    """The events of an event stream, each stamped with its arrival (comments are heartbeats)."""
    kind, data, event_id = "message", [], None
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if data:
                yield Seen(kind, json.loads("\n".join(data)), time.time(), event_id)
            kind, data, event_id = "message", [], None
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                kind = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                event_id = value


class Stream:
    """A stream read by a task of its own into a queue, so arrival times do not wait for the reader."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.queue: asyncio.Queue[Seen | None] = asyncio.Queue()
        self.task = asyncio.create_task(self._pump(response))

    async def _pump(self, response: aiohttp.ClientResponse) -> None:
        try:
            async for seen in sse(response):
                self.queue.put_nowait(seen)
        except (TimeoutError, aiohttp.ClientError):
            pass
        finally:
            self.queue.put_nowait(None)

    async def until(self, wanted: Callable[[Seen], bool], within: float) -> Seen:
        async with asyncio.timeout(within):
            while True:
                seen = await self.queue.get()
                if seen is None:
                    raise EOFError
                if wanted(seen):
                    return seen


def agent_chunk(seen: Seen) -> bool:
    return seen.event == "transcript.chunk" and seen.data["speaker"] == "agent"


def stamp(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


# -------------------------------------------------------------------------------------------- a run


class Failure(Exception):
    """A call that went wrong: its kind is counted in errors_by_kind."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass
class CallSeen:
    """What the supervisor's agent stream showed of one call."""

    chunks: list[tuple[str, float, float]] = field(default_factory=list)  # (speaker, occurred_at, arrival)
    scores: list[tuple[int, float]] = field(default_factory=list)  # (utterances scored, arrival)
    archived: asyncio.Event = field(default_factory=asyncio.Event)
    archived_at: float = 0.0


@dataclass
class Run:
    calls: int
    timeout: float
    think: float
    rng: random.Random
    errors: Counter[str] = field(default_factory=Counter)
    seen: defaultdict[str, CallSeen] = field(default_factory=lambda: defaultdict(CallSeen))
    figures: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    connected: int = 0
    all_connected: asyncio.Event = field(default_factory=asyncio.Event)
    live: int = 0
    peak_live: int = 0
    completed: int = 0
    first_dial: float = math.inf
    last_hangup: float = 0.0

    def arrived(self) -> None:
        """One more customer connected (or gave up): the conversations start when all have."""
        self.connected += 1
        if self.connected >= self.calls:
            self.all_connected.set()

    def ms(self, name: str, seconds: float) -> None:
        self.figures[name].append(seconds * 1000)


@dataclass
class Desk:
    supervisor_id: str
    auth: dict[str, str]
    agent_id: str
    number: str


async def expect(response: aiohttp.ClientResponse, status: int, what: str) -> dict[str, Any]:
    if response.status != status:
        raise Failure(f"http_{response.status}:{what}")
    return await response.json() if response.content_type == "application/json" else {}


async def watch(session: aiohttp.ClientSession, desk: Desk, run: Run, ready: asyncio.Event,
                deciding: set[asyncio.Task]) -> None:
    """The supervisor's view of one agent: records what arrives and allows every tool request."""
    try:
        async with session.post("/api/stream-token", headers=desk.auth) as response:
            token = (await expect(response, 200, "stream-token"))["token"]
        async with session.get(f"/api/stream/agents/{desk.agent_id}", params={"token": token}) as response:
            await expect(response, 200, "agent-stream")
            async for seen in sse(response):
                call = run.seen[seen.data["call_id"]] if seen.data.get("call_id") else None
                if seen.event == "ready":
                    ready.set()
                elif call is None:
                    continue
                elif seen.event == "transcript.chunk":
                    call.chunks.append((seen.data["speaker"], stamp(seen.data["occurred_at"]), seen.at))
                elif seen.event == "sentiment.score":
                    call.scores.append((seen.data["utterances"], seen.at))
                elif seen.event == "tool.permission.request":
                    task = asyncio.create_task(allow(session, desk, seen.data["request_id"], run))
                    deciding.add(task)
                    task.add_done_callback(deciding.discard)
                elif seen.event == "archive.saved":
                    call.archived_at = seen.at
                    call.archived.set()
    except asyncio.CancelledError:
        raise
    except Failure as failure:
        run.errors[failure.kind] += 1
    except Exception as exc:  # counted, the run goes on
        run.errors[f"agent_stream:{type(exc).__name__}"] += 1
    finally:
        ready.set()


async def allow(session: aiohttp.ClientSession, desk: Desk, request_id: str, run: Run) -> None:
    try:
        async with asyncio.timeout(run.timeout):
            async with session.post(f"/api/tool-requests/{request_id}/decision", headers=desk.auth,
                                    json={"allow": True, "note": "bench"}) as response:
                await expect(response, 200, "decision")
    except Failure as failure:
        run.errors[failure.kind] += 1
    except TimeoutError:
        run.errors["timeout:decision"] += 1


async def customer(session: aiohttp.ClientSession, desk: Desk, index: int, order_id: str, run: Run,
                   start_after: float) -> None:
    await asyncio.sleep(start_after)
    stage = "dial"
    arrived = False
    call: dict[str, Any] | None = None
    auth: dict[str, str] = {}
    try:
        started = time.perf_counter()
        run.first_dial = min(run.first_dial, time.time())
        async with asyncio.timeout(run.timeout):
            async with session.post("/api/calls", json={"number": desk.number,
                                                        "caller": f"bench-{index}@example.com"}) as response:
                call = await expect(response, 201, "dial")
        if call["status"] != "connected":
            raise Failure(f"dial_{call['status']}")
        run.ms("dial_ms", time.perf_counter() - started)
        auth = {"Authorization": f"Bearer {call['call_token']}"}
        run.live += 1
        run.peak_live = max(run.peak_live, run.live)
        stage = "customer-stream"
        async with session.get(f"/api/calls/{call['call_id']}/stream",
                               params={"token": call["call_token"]}) as response:
            await expect(response, 200, "customer-stream")
            stream = Stream(response)
            stage = "greeting"
            await stream.until(agent_chunk, run.timeout)
            run.ms("dial_to_greeting_ms", time.perf_counter() - started)
            run.arrived()
            arrived = True
            await run.all_connected.wait()
            sent: list[float] = []
            turns = (("order", "Where is my order ORD-1042?", "ORD-1042"),
                     ("knowledge", "How long do I have to return something?", "30 days"),
                     ("refund", f"The shoes arrived damaged, I want a refund for {order_id}", "approval"))
            for name, text, expected in turns:
                await asyncio.sleep(run.rng.uniform(0.5, 1.5) * run.think)
                stage = f"reply:{name}"
                sent.append(time.time())
                began = time.perf_counter()
                async with asyncio.timeout(run.timeout):
                    async with session.post(f"/api/calls/{call['call_id']}/messages", json={"text": text},
                                            headers=auth) as response:
                        await expect(response, 202, "message")
                reply = await stream.until(agent_chunk, run.timeout)
                run.ms("reply_ms", time.perf_counter() - began)
                if expected not in reply.data["text"]:
                    raise Failure(f"wrong_reply:{name}")
            stage = "approved-refund"
            asked = time.perf_counter()
            refund = await stream.until(agent_chunk, run.timeout)
            run.ms("approval_to_result_ms", time.perf_counter() - asked)
            if "refunded" not in refund.data["text"]:
                raise Failure("wrong_reply:refund-result")
            await asyncio.sleep(run.rng.uniform(0.5, 1.5) * run.think)
            stage = "hangup"
            ended = time.time()
            async with asyncio.timeout(run.timeout):
                async with session.post(f"/api/calls/{call['call_id']}/end", headers=auth) as response:
                    await expect(response, 202, "end")
            auth = {}
            run.last_hangup = max(run.last_hangup, time.time())
            run.live -= 1
            await stream.until(lambda s: s.event == "call.ended", run.timeout)
        stage = "archive"
        seen = run.seen[call["call_id"]]
        await asyncio.wait_for(seen.archived.wait(), run.timeout)
        run.ms("end_to_archive_ms", seen.archived_at - ended)
        stage = "sentiment"
        score_call(run, seen, sent)
        run.completed += 1
    except Failure as failure:
        run.errors[failure.kind] += 1
    except TimeoutError:
        run.errors[f"timeout:{stage}"] += 1
    except EOFError:
        run.errors[f"stream_closed:{stage}"] += 1
    except (aiohttp.ClientError, KeyError, ValueError) as exc:  # a broken connection or answer: counted
        run.errors[f"{type(exc).__name__}:{stage}"] += 1
    finally:
        if not arrived:
            run.arrived()
        if call is not None and auth:  # leave no call behind
            run.live -= 1
            with contextlib.suppress(Exception):
                async with asyncio.timeout(10):
                    async with session.post(f"/api/calls/{call['call_id']}/end", headers=auth):
                        pass


def score_call(run: Run, seen: CallSeen, sent: list[float]) -> None:
    """Chunk figures of one finished call, from what its supervisor saw."""
    for _, occurred, arrival in seen.chunks:
        run.ms("chunk_to_supervisor_ms", arrival - occurred)
    customer = [(occurred, arrival) for speaker, occurred, arrival in seen.chunks if speaker == "customer"]
    for (_, arrival), sent_at in zip(customer, sent, strict=False):
        run.ms("message_to_supervisor_ms", arrival - sent_at)
    if len(customer) < len(sent):
        run.errors["missing:customer transcript.chunk on the agent stream"] += len(sent) - len(customer)
    for k, (occurred, _) in enumerate(customer, start=1):
        scored = [at for utterances, at in seen.scores if utterances >= k]
        if scored:
            run.ms("chunk_to_sentiment_ms", min(scored) - occurred)
        else:
            run.errors["missing:sentiment.score"] += 1


# ---------------------------------------------------------------------------------------- the level


async def seed_admin(database_url: str) -> str:
    email = f"bench-admin-{uuid.uuid4().hex[:6]}@bench.local"
    async with connection(database_url) as conn:
        await migrate(conn)
        await seed_shop(conn)
        user_id = await conn.fetchval("insert into users(email, role, full_name) values ($1, 'admin', 'Bench Admin')"
                                      " returning id", email)
        await conn.execute("insert into local_credentials(user_id, password_hash) values ($1, $2)",
                           user_id, PasswordHasher().hash(PASSWORD))
    return email


async def login(session: aiohttp.ClientSession, email: str) -> dict[str, str]:
    async with session.post("/api/auth/login", json={"email": email, "password": PASSWORD}) as response:
        return {"Authorization": f"Bearer {(await expect(response, 200, 'login'))['access_token']}"}


async def bounded(limit: int, jobs: list[Any]) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(job: Any) -> Any:
        async with gate:
            return await job

    return await asyncio.gather(*(one(job) for job in jobs))


async def make_desks(session: aiohttp.ClientSession, admin: dict[str, str], calls: int, level: int) -> list[Desk]:
    """ceil(calls / 25) supervisors allowed 25 agents each (and as many agent streams), and an agent per call."""
    async def supervisor(s: int) -> tuple[str, dict[str, str]]:
        email = f"bench-{level}-{s}-{uuid.uuid4().hex[:4]}@bench.local"
        async with session.post("/api/supervisors", headers=admin,
                                json={"email": email, "password": PASSWORD, "full_name": f"Bench {s}"}) as response:
            created = await expect(response, 201, "create supervisor")
        async with session.patch(f"/api/supervisors/{created['id']}", headers=admin,
                                 json={"max_agents": AGENTS_PER_SUPERVISOR}) as response:
            await expect(response, 200, "raise max_agents")
        return created["id"], await login(session, email)

    async def agent(a: int, owner: tuple[str, dict[str, str]]) -> Desk:
        async with session.post("/api/agents", headers=owner[1], json={
                "name": f"Bench desk {a}", "phone_number": f"+1-555-{level:03d}{a:04d}",
                "greeting": "Hi, bench desk here.", "tools": TOOLS, "knowledge": KNOWLEDGE}) as response:
            created = await expect(response, 201, "create agent")
        return Desk(owner[0], owner[1], created["id"], created["phone_number"])

    owners = await bounded(4, [supervisor(s) for s in range(math.ceil(calls / AGENTS_PER_SUPERVISOR))])
    return await bounded(8, [agent(a, owners[a // AGENTS_PER_SUPERVISOR]) for a in range(calls)])


def summary(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "n": 0}
    return {"p50": round(percentile(values, 0.50), 1), "p95": round(percentile(values, 0.95), 1),
            "p99": round(percentile(values, 0.99), 1), "n": len(values)}


async def level(platform: Platform, admin_email: str, calls: int, args: argparse.Namespace) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    async with aiohttp.ClientSession(platform.url, connector=connector, timeout=timeout) as session:
        admin = await login(session, admin_email)
        began = time.perf_counter()
        desks = await make_desks(session, admin, calls, calls)
        orders = [f"ORD-{FIRST_BENCH_ORDER + calls * 1000 + i}" for i in range(calls)]
        async with connection(platform.database_url) as conn:
            await conn.executemany(
                """insert into shop_orders(id, customer_email, customer_name, items, total, status, shipping_address)
                   values ($1, $2, 'Bench Customer', '[{"name": "Trail running shoes", "quantity": 1}]', 89.90,
                           'delivered', '1 Bench Road')""",
                [(order, f"bench-{i}@example.com") for i, order in enumerate(orders)])
        run = Run(calls, args.timeout, args.think, random.Random(calls))
        deciding: set[asyncio.Task] = set()
        readies = [asyncio.Event() for _ in desks]
        watchers = [asyncio.create_task(watch(session, desk, run, ready, deciding))
                    for desk, ready in zip(desks, readies, strict=True)]
        await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in readies)), 300)
        print(f"  N={calls}: {len(desks)} agents of {math.ceil(calls / AGENTS_PER_SUPERVISOR)} supervisors ready "
              f"and watched in {time.perf_counter() - began:.0f}s; dialling over {args.ramp_per_call * calls:.1f}s",
              flush=True)
        processes = {**platform.processes(), "bench-client": psutil.Process()}
        nats_before = platform.nats_message_counts()
        with Meter(processes, alone=frozenset({"bench-client"})) as meter:
            load_began = time.perf_counter()
            customers = [asyncio.create_task(customer(session, desk, i, orders[i], run, i * args.ramp_per_call))
                         for i, desk in enumerate(desks)]
            _, late = await asyncio.wait(customers, timeout=args.level_timeout)
            for task in late:  # a level that runs away is cut short, and says how many calls it cut
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            if late:
                run.errors["timeout:level (customers cut short)"] += len(late)
            load_seconds = time.perf_counter() - load_began
        nats_after = platform.nats_message_counts()
        await asyncio.gather(*deciding, return_exceptions=True)
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        # Deleting a supervisor deletes their calls: first let every call of the level end and reach the
        # archive (a call cut short is still being archived), or post-processing would retry on rows gone.
        supervisors = sorted({desk.supervisor_id for desk in desks})
        settled = time.perf_counter()
        while True:
            async with connection(platform.database_url) as conn:
                unsettled = await conn.fetchval(
                    """select count(*) from calls c where c.supervisor_id = any($1::uuid[])
                       and (c.status <> 'ended' or (c.started_at is not null
                            and not exists(select 1 from archives a where a.call_id = c.id)))""",
                    [uuid.UUID(s) for s in supervisors])
            if not unsettled or time.perf_counter() - settled > args.cleanup_timeout:
                break
            await asyncio.sleep(1.0)
        settle_seconds = time.perf_counter() - settled
        for supervisor_id in supervisors:
            async with session.delete(f"/api/supervisors/{supervisor_id}", headers=admin) as response:
                if response.status != 204:
                    print(f"  could not delete supervisor {supervisor_id}: {response.status}", file=sys.stderr)
        async with connection(platform.database_url) as conn:
            await conn.execute("delete from shop_refunds where order_id = any($1::text[])", orders)
            await conn.execute("delete from shop_orders where id = any($1::text[])", orders)
    span = run.last_hangup - run.first_dial
    services = meter.report(calls)
    platform_cpu = sum(v["cpu_s"] for name, v in services.items() if name != "bench-client")
    return {
        "concurrent_calls": calls,
        "errors": sum(run.errors.values()),
        "errors_by_kind": dict(run.errors.most_common()),
        "completed_calls": run.completed,
        "peak_live_calls": run.peak_live,
        "calls_per_second": round(run.completed / span, 2) if span > 0 else None,
        "load_seconds": round(load_seconds, 1),
        **{name: summary(run.figures[name]) for name in FIGURES},
        "settle_seconds": round(settle_seconds, 1),
        "unsettled_at_cleanup": unsettled,
        "per_call": {name: {"cpu_s": v["cpu_s"], "rss_mb": v["rss_mb"]} for name, v in services.items()},
        # The machine's ceiling at this CPU per call: however the calls are paced, it cannot complete more
        # calls a second than its cores can pay for.
        "platform_cpu_s_per_call": round(platform_cpu, 4),
        "calls_per_second_at_full_cpu": round((os.cpu_count() or 1) / platform_cpu, 2) if platform_cpu else None,
        "processes": services,
        # Clients are counted by name; a client that connected during the level counts from zero.
        "nats_messages_per_call": {
            client: {way: round((counts[way] - nats_before.get(client, {}).get(way, 0)) / calls, 1)
                     for way in ("in", "out")}
            for client, counts in nats_after.items()},
    }


# ---------------------------------------------------------------------------------------------- main


def machine() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def git_commit() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def show(result: dict[str, Any]) -> None:
    n = result["concurrent_calls"]
    print(f"\nN={n}: {result['completed_calls']}/{n} calls completed, peak {result['peak_live_calls']} live, "
          f"{result['calls_per_second']} calls/s, errors {result['errors']} (goal 0) {result['errors_by_kind']}")
    goals = {"reply_ms": 1000, "chunk_to_supervisor_ms": 50, "chunk_to_sentiment_ms": 300, "end_to_archive_ms": 5000}
    for name in FIGURES:
        f = result[name]
        if f["n"]:
            goal = f"   (goal p95 < {goals[name]} ms)" if name in goals else ""
            print(f"  {name:26s} n={f['n']:<5d} p50 {f['p50']:8.1f}  p95 {f['p95']:8.1f}  p99 {f['p99']:8.1f}{goal}")
        else:
            print(f"  {name:26s} no samples")
    print("  per call:  " + "  ".join(f"{name} {v['cpu_s'] * 1000:.0f} ms CPU / {v['rss_mb']:.2f} MB"
                                      for name, v in result["per_call"].items()))
    print(f"  platform CPU per call {result['platform_cpu_s_per_call'] * 1000:.0f} ms: at most "
          f"{result['calls_per_second_at_full_cpu']} calls/s on this machine's cores")
    print(f"  NATS messages per call: {result['nats_messages_per_call']}")


async def measure_all(platform: Platform, args: argparse.Namespace,
                      done: Callable[[list[dict[str, Any]]], None]) -> list[dict[str, Any]]:
    admin = await seed_admin(platform.database_url)
    # One call first, not recorded: services load their models on first use (the agent-worker's
    # embedding model, the sentiment classifier), which is no call's cost.
    print("  warm-up: one call, not recorded", flush=True)
    await level(platform, admin, 1, args)
    results = []
    for calls in args.calls:
        result = await level(platform, admin, calls, args)
        show(result)
        results.append(result)
        done(results)  # written after each level: a later one that breaks the platform loses nothing
        await asyncio.sleep(args.settle)  # archives, counters and streams of this level settle
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, nargs="+", default=[10, 100, 500], help="concurrent calls per level")
    parser.add_argument("--ramp-per-call", type=float, default=0.04,
                        help="seconds between two customers' dials (0.04: 25 dials a second)")
    parser.add_argument("--think", type=float, default=1.0, help="mean seconds a customer waits before each turn")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds any one step may take")
    parser.add_argument("--level-timeout", type=float, default=900.0,
                        help="seconds after which a level's unfinished calls are cut short (and counted)")
    parser.add_argument("--cleanup-timeout", type=float, default=300.0,
                        help="seconds to wait, after a level, for its calls to end and be archived before deleting "
                             "its supervisors")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds between levels")
    parser.add_argument("--note", default="", help="recorded with the figures (e.g. the machine was busy)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    args = parser.parse_args()
    caps = {"CALL_ROUTER_MAX_CONCURRENT_CALLS": str(max(args.calls) + 10),
            "GATEWAY_CALL_ATTEMPTS_PER_MINUTE": "1000000", "GATEWAY_LOGIN_ATTEMPTS_PER_MINUTE": "100000",
            "GATEWAY_REFRESH_ATTEMPTS_PER_MINUTE": "100000"}
    started = machine()
    commit = git_commit()

    def write(runs: list[dict[str, Any]]) -> None:
        report = {"machine": started, "git": commit, "taken_at": datetime.now().astimezone().isoformat(),
                  "note": args.note, "settings": {"ramp_per_call_s": args.ramp_per_call, "think_s": args.think,
                                                  "step_timeout_s": args.timeout,
                                                  "open_files_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
                                                  **caps},
                  "goals": GOALS, "runs": runs}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"written to {args.out}", flush=True)

    with running_platform(caps) as platform:
        print(f"platform up at {platform.url} (log: {platform.log_path})", flush=True)
        asyncio.run(measure_all(platform, args, write))


if __name__ == "__main__":
    main()
