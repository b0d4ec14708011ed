"""PostgreSQL gone for 10 s mid-run: every one of its processes stopped (SIGSTOP), as a database host that
hangs or drops off the network looks to its clients (connections neither answer nor fail), then resumed.
The launcher restarts a PostgreSQL that exits within a second, which would be no outage at all.

While it lasts, /health says the database is unreachable (the admin's Platform panel shows that field,
"Database unreachable", and "Degraded"); writes wait and go through afterwards; the live calls carry on,
and nothing a customer said is lost or stored twice; each call ends with one archive row."""

from __future__ import annotations

import asyncio
import signal
import time

import psutil
import pytest

from tests.bench.platform_processes import Platform
from tests.faults.chat import converse, finish, health, in_conversation
from tests.faults.conftest import killed_mid_conversation, watched_desks
from tests.waiting import eventually

pytestmark = pytest.mark.faults

CALLS = 5
CRASH_CALLS = 12
OUTAGE_SECONDS = 10.0


def signal_all(processes: list[psutil.Process], how: int) -> None:
    for process in processes:
        process.send_signal(how)


async def test_a_database_outage_is_reported_and_calls_carry_on_losing_nothing(platform: Platform,
                                                                                admin_email: str) -> None:
    async with watched_desks(platform, admin_email, CALLS, 902) as world:
        calls, running = converse(world.session, world.desks, "pg-outage", think=2.0)
        await in_conversation(calls)
        postmaster = platform.processes()["postgres"]
        database = [postmaster, *postmaster.children(recursive=True)]
        signal_all(database, signal.SIGSTOP)
        stopped_at = time.monotonic()
        reported: list[tuple[float, int, str, str]] = []  # (seconds into the outage, status, database, status)
        try:
            while time.monotonic() - stopped_at < OUTAGE_SECONDS:
                status, report = await health(world.session)
                reported.append((time.monotonic() - stopped_at, status, report.get("database", "no answer"),
                                 report.get("status", "")))
                await asyncio.sleep(0.5)
        finally:
            signal_all(database, signal.SIGCONT)
        resumed_at = time.monotonic()
        outage = [(status, database, overall) for at, status, database, overall in reported if at > 3.0]
        assert outage and all(seen == (503, "unreachable", "degraded") for seen in outage), reported
        first_reported = next(at for at, _, database, _ in reported if database == "unreachable")

        async def database_back() -> bool:
            return (await health(world.session))[1].get("database") == "connected"
        await eventually(database_back, within=30, every=0.2)
        reported_back = time.monotonic() - resumed_at
        outcome = await finish(calls, running, platform.database_url, world.supervisors)
        print(f"\nPostgreSQL stopped {OUTAGE_SECONDS:.0f} s: /health said unreachable {first_reported:.1f} s in, "
              f"connected again {reported_back:.1f} s after it resumed; slowest reply {outcome.replies[-1]:.1f} s; "
              f"customer requests tried again: {dict(outcome.retried)}")


async def test_calls_carry_on_losing_nothing_when_postgresql_crashes_and_restarts(platform: Platform,
                                                                                  admin_email: str) -> None:
    """The other kind of outage: PostgreSQL killed (-9) and started again by the launcher (crash recovery):
    connections break and new ones are refused for a while; the writes that failed are tried again. More
    calls, thinking little: lines are being written when the database dies."""
    recovery = await killed_mid_conversation(platform, admin_email, "postgres", CRASH_CALLS, 905, think=0.1)
    print(f"\nPostgreSQL killed: back and /health well {recovery.seconds:.1f} s after the kill; slowest reply "
          f"{recovery.outcome.replies[-1]:.1f} s; customer requests tried again: {dict(recovery.outcome.retried)}")
