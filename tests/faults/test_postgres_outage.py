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
from collections import Counter

import psutil
import pytest

from tests.bench.platform_processes import Platform
from tests.faults.chat import TURNS, ChatCall, agent_line, finish, health
from tests.faults.conftest import watched_desks
from tests.waiting import eventually

pytestmark = pytest.mark.faults

CALLS = 5
OUTAGE_SECONDS = 10.0


def signal_all(processes: list[psutil.Process], how: int) -> None:
    for process in processes:
        process.send_signal(how)


async def test_a_database_outage_is_reported_and_calls_carry_on_losing_nothing(platform: Platform,
                                                                                admin_email: str) -> None:
    async with watched_desks(platform, admin_email, CALLS, 902) as world:
        calls = [ChatCall(desk, f"pg-outage-{i}@example.com") for i, desk in enumerate(world.desks)]
        running = [asyncio.create_task(call.run(world.session, TURNS, think=2.0)) for call in calls]
        await eventually(lambda: all(call.customer_stream and any(map(agent_line, call.customer_stream.seen))
                                     for call in calls), within=30)
        await asyncio.sleep(1.0)  # the first turns in flight
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
        kept = await finish(calls, running, platform.database_url, within=60)
        for call in calls:
            assert world.supervisors.chunks(call.call_id) == [seq for seq, _, _ in kept[call.call_id].lines]
        retried = sum((call.retried for call in calls), Counter())
        after = sorted(took for call in calls for began, took in call.reply_seconds)
        print(f"\nPostgreSQL stopped {OUTAGE_SECONDS:.0f} s: /health said unreachable {first_reported:.1f} s in, "
              f"connected again {reported_back:.1f} s after it resumed; slowest reply {after[-1]:.1f} s; "
              f"customer requests tried again: {dict(retried)}")
