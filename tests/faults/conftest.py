"""The whole platform as `make run` runs it (tests/bench/platform_processes.py: the launcher, each service
its own process, embedded NATS and PostgreSQL on loopback), shared by the fault tests, which kill and stop
its processes; and a signed-in admin to create the supervisors and agents each test needs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
import psutil
import pytest

from tests.bench.bench_load import Desk, login, make_desks, seed_admin
from tests.bench.platform_processes import Platform, running_platform
from tests.faults.chat import Outcome, Supervisors, converse, finish, health, in_conversation

# Room for every test's calls at once, and no rate limit in the customers' way.
CAPS = {"CALL_ROUTER_MAX_CONCURRENT_CALLS": "200", "GATEWAY_CALL_ATTEMPTS_PER_MINUTE": "1000000",
        "GATEWAY_LOGIN_ATTEMPTS_PER_MINUTE": "100000", "GATEWAY_REFRESH_ATTEMPTS_PER_MINUTE": "100000"}
BACK_WITHIN_SECONDS = 60.0


@pytest.fixture(scope="package")
def platform() -> Iterator[Platform]:
    with running_platform(CAPS, ready_within=120.0) as running:
        yield running


@pytest.fixture(scope="package")
def admin_email(platform: Platform) -> str:
    return asyncio.run(seed_admin(platform.database_url))


@dataclass
class Desks:
    """A test's HTTP session on the gateway, its agents (one per call) and their supervisors' streams."""

    session: aiohttp.ClientSession
    desks: list[Desk]
    supervisors: Supervisors


@contextlib.asynccontextmanager
async def watched_desks(platform: Platform, admin_email: str, calls: int, label: int) -> AsyncIterator[Desks]:
    """``calls`` agents (the load benchmark's: order lookup, the returns policy) under supervisors who
    watch every agent's stream from before the first call; ``label`` keeps each test's numbers apart."""
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
    async with aiohttp.ClientSession(platform.url, connector=aiohttp.TCPConnector(limit=0),
                                     timeout=timeout) as session:
        desks = await make_desks(session, await login(session, admin_email), calls, label)
        supervisors = await Supervisors.watch(session, desks)
        try:
            yield Desks(session, desks, supervisors)
        finally:
            await supervisors.close()


def kill(platform: Platform, name: str, how: int = signal.SIGKILL) -> psutil.Process:
    """Signal one of the platform's processes (a service, nats-server, the PostgreSQL postmaster)."""
    process = platform.processes()[name]
    os.kill(process.pid, how)
    return process


async def back_up(platform: Platform, session: aiohttp.ClientSession, name: str, old: psutil.Process,
                  killed_at: float) -> float:
    """Seconds from ``killed_at`` (time.time()) until ``name`` runs again as a new process and /health is
    well again, with a beat since from the restarted service (after nats-server: from every service)."""
    deadline = time.monotonic() + BACK_WITHIN_SECONDS
    report: dict[str, Any] = {}
    while time.monotonic() < deadline:
        now = platform.processes().get(name)
        if now is not None and now.pid != old.pid:
            status, report = await health(session)
            beats = [s for service, s in report.get("services", {}).items() if name in ("nats-server", service)]
            if status == 200 and all(datetime.fromisoformat(s["last_seen"]).timestamp() > killed_at for s in beats):
                return time.time() - killed_at
        await asyncio.sleep(0.2)
    raise AssertionError(f"{name} not back within {BACK_WITHIN_SECONDS:.0f} s: {report}")


@dataclass
class Recovery:
    seconds: float  # from the kill until the process is back and /health well (back_up)
    outcome: Outcome
    stream_reconnections: int  # of the supervisors' streams


async def killed_mid_conversation(platform: Platform, admin_email: str, process: str, calls: int, label: int,
                                  think: float) -> Recovery:
    """``calls`` chat calls (customers thinking ``think`` s before each turn); once all are talking,
    ``process`` is killed (-9) and the launcher starts it again; the calls are then seen through."""
    async with watched_desks(platform, admin_email, calls, label) as world:
        talking, running = converse(world.session, world.desks, f"{process}-killed", think=think)
        await in_conversation(talking)
        killed_at = time.time()
        recovered = await back_up(platform, world.session, process, kill(platform, process), killed_at)
        outcome = await finish(talking, running, platform.database_url, world.supervisors)
        return Recovery(recovered, outcome, world.supervisors.reconnections)
