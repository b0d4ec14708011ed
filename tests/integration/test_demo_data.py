from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
from argon2 import PasswordHasher

from embedded_stack.demo import ADMIN_EMAIL, seed_demo


async def test_demo_data_fills_the_dashboards_once(pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        summary = await seed_demo(conn, "pw-for-test", now=now)
        again = await seed_demo(conn, "pw-for-test", now=now)
        roles = dict(await conn.fetch("select role, count(*) from users where email like '%@demo.local' group by 1"))
        per_supervisor = await conn.fetch(
            """select s.id, count(a.id) as agents from supervisors s join users u on u.id = s.id
               join agents a on a.supervisor_id = s.id where u.email like '%@demo.local' group by s.id""")
        span = await conn.fetchrow(
            """select count(*) as n, min(started_at) as first, max(started_at) as last,
                      count(distinct date_trunc('day', started_at)) as days,
                      count(*) filter (where fcr) as fcr, avg(csat) as csat
               from archives a join users u on u.id = a.supervisor_id where u.email like '%@demo.local'""")
        hash_ = await conn.fetchval(
            "select password_hash from local_credentials c join users u on u.id = c.user_id where u.email = $1",
            ADMIN_EMAIL)
        orphans = await conn.fetchval(
            """select count(*) from archives a join users u on u.id = a.supervisor_id
               where u.email like '%@demo.local'
                 and not exists (select 1 from transcript_lines t where t.call_id = a.call_id)""")
    assert summary.created and (summary.supervisors, summary.agents, summary.archived_calls) == (2, 6, 300)
    assert not again.created
    assert roles == {"admin": 1, "supervisor": 2}
    assert sorted(r["agents"] for r in per_supervisor) == [3, 3]
    assert span["n"] == 300 and span["days"] >= 25
    assert now - timedelta(days=30) <= span["first"] and span["last"] <= now
    assert 0.4 < span["fcr"] / span["n"] < 0.95 and 2.5 < span["csat"] < 4.5
    assert PasswordHasher().verify(hash_, "pw-for-test")
    assert orphans == 0
