"""`make bench` (analytics): the dashboard's KPI queries at one million archived calls.

Generates supervisors, agents and N archived calls spread over a year in an embedded PostgreSQL,
builds the daily aggregates from them (timed), folds further archive events in one at a time as the
analytics service does (timed), then times the gateway's analytics endpoints over HTTP, as the
dashboard calls them. For contrast it also times the same year's KPIs computed straight from the
archive, which is what the aggregates avoid. Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from argon2 import PasswordHasher

from analytics.aggregates import add_archived_call, rebuild
from contracts.db import migrate
from contracts.results import ArchiveSaved
from tests.bench.servers import embedded_servers, percentile
from tests.factories import make_agent, make_user
from tests.integration.conftest import running_gateway
from tests.pg import connection

PASSWORD = "bench-password-123"
AGENTS_PER_SUPERVISOR = 3
GENERATE_CALLS = """
    with staff as (select id, supervisor_id, name, phone_number, row_number() over (order by id) - 1 as n
                   from agents),
         generated as (select g, now() - random() * $2 * interval '1 day' as started,
                              30 + random() * 900 as handle from generate_series(1, $1) g)
    insert into calls(id, supervisor_id, agent_id, agent_name, channel, caller, dialled_number, status,
                      queued_at, started_at, ended_at, end_reason, ended_by)
    select gen_random_uuid(), s.supervisor_id, s.id, s.name, 'chat', 'caller' || (g % 50000) || '@example.com',
           s.phone_number, 'ended', started, started, started + make_interval(secs => handle), 'agent_resolved', 'agent'
    from generated join staff s on s.n = g % $3"""
ARCHIVE_CALLS = """
    insert into archives(call_id, supervisor_id, agent_id, agent_name, channel, caller, started_at, ended_at,
                         handle_seconds, summary, tags, csat, fcr, resolved, sentiment_label, summary_source)
    select id, supervisor_id, agent_id, agent_name, channel, caller, started_at, ended_at,
           round(extract(epoch from ended_at - started_at)::numeric, 1),
           'The customer asked about an order; the agent helped.',
           array[(array['billing', 'shipping', 'refund', 'password-reset'])[1 + floor(random() * 4)::int]],
           case when random() < 0.9 then round((1 + 4 * random())::numeric, 2) end, x < 0.7, x < 0.8,
           (array['negative', 'neutral', 'positive'])[1 + floor(random() * 3)::int], 'bench'
    from (select c.*, random() as x from calls c) c"""
# What a dashboard without aggregates would run: a year of KPIs straight from the archive.
NAIVE_KPIS = """
    select count(*), avg(fcr::int), avg(csat), avg(handle_seconds) from archives
    where started_at >= now() - interval '365 days'"""


async def generate(database_url: str, calls: int, supervisors: int, days: int) -> None:
    async with connection(database_url) as conn:
        await migrate(conn)
        password_hash = PasswordHasher().hash(PASSWORD)
        admin = await make_user(conn, "admin")
        await conn.execute("update users set email = 'admin@bench.local' where id = $1", admin)
        for index in range(supervisors):
            supervisor = await make_user(conn, "supervisor")
            await conn.execute("update users set email = $2, full_name = $3 where id = $1", supervisor,
                               f"supervisor{index}@bench.local", f"Supervisor {index:02d}")
            for agent in range(AGENTS_PER_SUPERVISOR):
                await make_agent(conn, supervisor, f"Desk {index:02d}-{agent}")
        await conn.execute("insert into local_credentials(user_id, password_hash) select id, $1 from users",
                           password_hash)
        agents = supervisors * AGENTS_PER_SUPERVISOR
        started = time.perf_counter()
        await conn.execute(GENERATE_CALLS, calls, float(days), agents)
        await conn.execute(ARCHIVE_CALLS)
        await conn.execute("analyze")
        print(f"generated {calls:,} archived calls ({supervisors} supervisors, {agents} agents, {days} days) "
              f"in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        async with conn.transaction(isolation="repeatable_read"):
            rows = await rebuild(conn)
        await conn.execute("analyze agent_daily_kpis")
        took = time.perf_counter() - started
        print(f"aggregates rebuilt from the archive: {rows:,} day x agent rows in {took:.1f} s")


async def fold_events(database_url: str, count: int) -> None:
    """The analytics service's per-event work: claim + increment, one transaction per event."""
    async with connection(database_url) as conn:
        agent = await conn.fetchrow("select id, supervisor_id, name from agents limit 1")
        events = [ArchiveSaved(supervisor_id=agent["supervisor_id"], agent_id=agent["id"], call_id=uuid.uuid4(),
                               agent_name=agent["name"], started_at=datetime.now(UTC) - timedelta(hours=n % 48),
                               summary="s", tags=[], csat=4.0, fcr=True, resolved=True, handle_seconds=200.0,
                               summary_source="bench") for n in range(count)]
        timings = []
        for event in events:
            started = time.perf_counter()
            async with conn.transaction():
                await add_archived_call(conn, event)
            timings.append(time.perf_counter() - started)
    print(f"{'fold one archive event':34s} n={count}  p50 {statistics.median(timings) * 1000:6.2f} ms  "
          f"p95 {percentile(timings, 0.95) * 1000:6.2f} ms  ({count / sum(timings):,.0f} events/s)")


async def naive(database_url: str, repeat: int) -> list[float]:
    async with connection(database_url) as conn:
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            await conn.fetchrow(NAIVE_KPIS)
            timings.append(time.perf_counter() - started)
    return timings


def measure_endpoints(base: str, repeat: int) -> list[tuple[str, list[float]]]:
    today = datetime.now(UTC).date()
    year = {"from": (today - timedelta(days=364)).isoformat(), "to": today.isoformat()}
    month = {"from": (today - timedelta(days=29)).isoformat(), "to": today.isoformat()}
    results = []
    with httpx.Client(base_url=base, timeout=30) as http:
        def login(email: str) -> dict[str, str]:
            token = http.post("/api/auth/login", json={"email": email, "password": PASSWORD}).json()["access_token"]
            return {"Authorization": f"Bearer {token}"}
        admin, supervisor = login("admin@bench.local"), login("supervisor0@bench.local")
        agent_id = http.get("/api/agents", headers=supervisor).json()[0]["id"]
        cases = [
            ("admin kpis, 30 days", admin, "/api/analytics/kpis", month),
            ("admin kpis, 365 days", admin, "/api/analytics/kpis", year),
            ("admin leaderboard, 365 days", admin, "/api/analytics/leaderboard", year),
            ("admin timeseries, 365 days", admin, "/api/analytics/timeseries", year),
            ("supervisor kpis, 365 days", supervisor, "/api/analytics/kpis", year),
            ("agent timeseries by week, 365 d", supervisor, "/api/analytics/timeseries",
             {**year, "scope": "agent", "id": agent_id, "bucket": "week"}),
            ("admin live counters", admin, "/api/analytics/live", {}),
            ("admin archive search, page 1", admin, "/api/archive", {}),
            ("supervisor archive, tag filter", supervisor, "/api/archive", {"tag": "refund"}),
        ]
        for name, headers, path, params in cases:
            assert http.get(path, headers=headers, params=params).status_code == 200  # warm the plan cache
            timings = []
            for _ in range(repeat):
                started = time.perf_counter()
                response = http.get(path, headers=headers, params=params)
                timings.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
            results.append((name, timings))
        calls = http.get("/api/analytics/kpis", headers=admin, params=year).json()["kpis"]["calls"]
    print(f"the admin's year covers {calls:,} calls")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--supervisors", type=int, default=20)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    with embedded_servers() as (nats_url, database_url):
        asyncio.run(generate(database_url, args.calls, args.supervisors, args.days))
        asyncio.run(fold_events(database_url, 500))
        with running_gateway(nats_url, database_url, login_attempts_per_minute=1000) as gateway:
            results = measure_endpoints(gateway.url, args.repeat)
        results.append(("(no aggregates: archive scan, 365 d)", asyncio.run(naive(database_url, 5))))
    for name, values in results:
        print(f"{name:36s} n={len(values):3d}  p50 {statistics.median(values) * 1000:7.1f} ms  "
              f"p95 {percentile(values, 0.95) * 1000:7.1f} ms  max {max(values) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
