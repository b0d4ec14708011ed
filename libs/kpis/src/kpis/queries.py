"""Read queries over ``agent_daily_kpis`` and the live call state.

Every function takes a connection the caller has already scoped (the gateway acts as the signed-in
user, so row-level security limits a supervisor to their own rows). Filters are added to the SQL
only when given, so each shape of query gets its own plan and uses its index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal
from uuid import UUID

import asyncpg
from pydantic import BaseModel, Field

from contracts.calls import ABANDONED
from kpis.formula import SUM_NAMES, Sums

Bucket = Literal["day", "week", "month"]
FLOAT_SUMS = ("handle_seconds_sum", "csat_sum", "answer_wait_seconds_sum", "answer_wait_seconds_max")
MAXIMA = ("answer_wait_seconds_max",)


SUMMED = ", ".join(f"coalesce({'max' if name in MAXIMA else 'sum'}({name}), 0)::"
                   f"{'float8' if name in FLOAT_SUMS else 'int8'} as {name}" for name in SUM_NAMES)
# The sums of a left-joined aggregate ``k``, zero where it has no row.
JOINED_SUMS = ", ".join(f"coalesce(k.{name}, 0) as {name}" for name in SUM_NAMES)


def _filters(start: date, end: date, supervisor_id: UUID | None, agent_id: UUID | None) -> tuple[str, list]:
    clauses, args = ["day between $1 and $2"], [start, end]
    for column, value in (("supervisor_id", supervisor_id), ("agent_id", agent_id)):
        if value is not None:
            args.append(value)
            clauses.append(f"{column} = ${len(args)}")
    return " and ".join(clauses), args


async def range_sums(conn: asyncpg.Connection, start: date, end: date, supervisor_id: UUID | None = None,
                     agent_id: UUID | None = None) -> Sums:
    where, args = _filters(start, end, supervisor_id, agent_id)
    row = await conn.fetchrow(f"select {SUMMED} from agent_daily_kpis where {where}", *args)
    return Sums.from_row(row)


@dataclass(frozen=True)
class Group:
    id: UUID
    name: str
    sums: Sums


async def sums_by_supervisor(conn: asyncpg.Connection, start: date, end: date) -> list[Group]:
    """Every supervisor the connection may see, with or without calls in the range."""
    rows = await conn.fetch(
        f"""with k as (select supervisor_id, {SUMMED} from agent_daily_kpis
                       where day between $1 and $2 group by supervisor_id)
            select s.id, coalesce(nullif(u.full_name, ''), u.email) as name,
                   {JOINED_SUMS}
            from supervisors s join users u on u.id = s.id left join k on k.supervisor_id = s.id
            order by name""", start, end)
    return [Group(r["id"], r["name"], Sums.from_row(r)) for r in rows]


async def sums_by_agent(conn: asyncpg.Connection, start: date, end: date,
                        supervisor_id: UUID | None = None) -> list[Group]:
    """Every current agent, plus deleted agents that still have calls in the range."""
    where, args = _filters(start, end, supervisor_id, None)
    agent_scope = "" if supervisor_id is None else f"where supervisor_id = ${len(args)}"
    rows = await conn.fetch(
        f"""with k as (select agent_id, max(agent_name) as agent_name, {SUMMED} from agent_daily_kpis
                       where {where} group by agent_id),
                 a as (select id, name from agents {agent_scope})
            select coalesce(a.id, k.agent_id) as id, coalesce(a.name, k.agent_name) as name,
                   {JOINED_SUMS}
            from k full join a on a.id = k.agent_id
            order by name""", *args)
    return [Group(r["id"], r["name"], Sums.from_row(r)) for r in rows]


async def bucket_sums(conn: asyncpg.Connection, start: date, end: date, bucket: Bucket,
                      supervisor_id: UUID | None = None, agent_id: UUID | None = None) -> list[tuple[date, Sums]]:
    """One entry per day, week or month of the range, empty ones included so charts have no gaps."""
    where, args = _filters(start, end, supervisor_id, agent_id)
    args.append(bucket)
    unit = f"${len(args)}::text"
    rows = await conn.fetch(
        f"""with k as (select date_trunc({unit}, day)::date as bucket, {SUMMED} from agent_daily_kpis
                       where {where} group by 1)
            select g::date as bucket, {JOINED_SUMS}
            from generate_series(date_trunc({unit}, $1::date), $2::date, ('1 ' || {unit})::interval) g
            left join k on k.bucket = g::date
            order by 1""", *args)
    return [(r["bucket"], Sums.from_row(r)) for r in rows]


class FloorCounters(BaseModel):
    supervisor_id: UUID
    active_calls: int = Field(ge=0)
    queued_calls: int = Field(ge=0)
    agents_total: int = Field(ge=0)
    agents_busy: int = Field(ge=0)
    longest_wait_seconds: float = Field(ge=0)
    abandoned_today: int = Field(default=0, ge=0)


async def floor_counters(conn: asyncpg.Connection) -> list[FloorCounters]:
    """Each visible supervisor's live calls, queue and busy agents, from the calls still open."""
    rows = await conn.fetch(
        """with live as (
               select supervisor_id,
                      count(*) filter (where status = 'active') as active_calls,
                      count(*) filter (where status = 'queued') as queued_calls,
                      count(distinct agent_id) filter (where status = 'active') as agents_busy,
                      coalesce(extract(epoch from now() - min(queued_at) filter (where status = 'queued')), 0)
                          as longest_wait_seconds
               from calls where status <> 'ended' group by supervisor_id),
             staff as (select supervisor_id, count(*) as agents_total from agents where active group by supervisor_id),
             left_today as (select supervisor_id, count(*) as abandoned_today from calls
                            where status = 'ended' and end_reason = any($1::text[])
                              and ended_at >= date_trunc('day', now() at time zone 'utc') at time zone 'utc'
                            group by supervisor_id)
           select s.id as supervisor_id, coalesce(live.active_calls, 0) as active_calls,
                  coalesce(live.queued_calls, 0) as queued_calls, coalesce(staff.agents_total, 0) as agents_total,
                  coalesce(live.agents_busy, 0) as agents_busy,
                  round(coalesce(live.longest_wait_seconds, 0)::numeric, 1)::float8 as longest_wait_seconds,
                  coalesce(left_today.abandoned_today, 0) as abandoned_today
           from supervisors s left join live on live.supervisor_id = s.id
                left join staff on staff.supervisor_id = s.id
                left join left_today on left_today.supervisor_id = s.id
           order by s.id""", list(ABANDONED))
    return [FloorCounters(**dict(r)) for r in rows]
