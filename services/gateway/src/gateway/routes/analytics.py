"""KPIs, leaderboard, charts and live counters, read from the analytics service's daily aggregates.

Row-level security scopes every query: a supervisor's "overall" is their own floor, and asking for
another supervisor or their agent is a 404, as for any row they cannot see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Literal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from contracts.envelope import utc_now
from gateway.deps import REFLECTS_EVENTS, CurrentUser, Db, DocumentedRoute
from gateway.errors import ApiError, not_found, refusals
from gateway.queries import agents, supervisors
from gateway.schemas import Day
from gateway.tokens import Principal
from kpis.formula import Kpis, ScoreWeights, Sums, kpis_from
from kpis.queries import (
    Bucket,
    FloorCounters,
    Group,
    bucket_sums,
    floor_counters,
    range_sums,
    sums_by_agent,
    sums_by_supervisor,
)

router = APIRouter(prefix="/api/analytics", tags=["analytics"], route_class=DocumentedRoute)

DEFAULT_DAYS = 30
MAX_DAYS = 3660
Scope = Literal["overall", "supervisor", "agent"]
ScopeQuery = Annotated[Scope, Query(description="overall (a supervisor's overall is their own floor), one "
                                                "supervisor, or one agent")]
IdQuery = Annotated[UUID | None, Query(description="The supervisor or agent; a supervisor may omit their own id")]
FromQuery = Annotated[Day | None, Query(alias="from", description="First day (UTC), default 29 days before 'to'")]
ToQuery = Annotated[Day | None, Query(alias="to", description="Last day (UTC), inclusive; default today")]


class Breakdown(BaseModel):
    id: UUID
    name: str
    kpis: Kpis


class KpiReport(BaseModel):
    scope: Scope
    id: UUID | None
    date_from: date = Field(serialization_alias="from")
    date_to: date = Field(serialization_alias="to")
    kpis: Kpis
    breakdown: list[Breakdown] = Field(description="Per supervisor (admin overall) or per agent (a supervisor).")


class LeaderboardEntry(Breakdown):
    rank: int


class Leaderboard(BaseModel):
    by: Literal["supervisor", "agent"]
    date_from: date = Field(serialization_alias="from")
    date_to: date = Field(serialization_alias="to")
    entries: list[LeaderboardEntry]


class TimePoint(BaseModel):
    start: date
    kpis: Kpis


class TimeSeries(BaseModel):
    scope: Scope
    id: UUID | None
    bucket: Bucket
    date_from: date = Field(serialization_alias="from")
    date_to: date = Field(serialization_alias="to")
    points: list[TimePoint]


class LiveFloor(BaseModel):
    supervisors: list[FloorCounters]
    active_calls: int
    queued_calls: int
    agents_busy: int
    agents_total: int
    abandoned_today: int


@dataclass(frozen=True)
class Target:
    """Whose numbers: the filters a scope resolves to."""

    scope: Scope
    id: UUID | None
    supervisor_id: UUID | None = None
    agent_id: UUID | None = None


def date_range(date_from: date | None, date_to: date | None) -> tuple[date, date]:
    end = date_to or utc_now().date()
    start = date_from or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ApiError(422, "invalid_request", "'from' is after 'to'")
    if (end - start).days >= MAX_DAYS:
        raise ApiError(422, "invalid_request", f"the range may span at most {MAX_DAYS} days")
    return start, end


async def resolve_target(conn: asyncpg.Connection, principal: Principal, scope: Scope, target: UUID | None) -> Target:
    if scope == "overall":
        # Row-level security would limit a supervisor anyway; the explicit filter lets the index serve it.
        return Target(scope, None, supervisor_id=None if principal.is_admin else principal.user_id)
    if scope == "supervisor":
        target = target or (None if principal.is_admin else principal.user_id)
        if target is None:
            raise ApiError(422, "invalid_request", "scope=supervisor needs id=<supervisor id>")
        if not await supervisors.exists(conn, target):
            raise not_found("supervisor")
        return Target(scope, target, supervisor_id=target)
    if target is None:
        raise ApiError(422, "invalid_request", "scope=agent needs id=<agent id>")
    # A deleted agent's history remains in the aggregates, so it counts as visible there too.
    if not await agents.exists_or_has_history(conn, target):
        raise not_found("agent")
    return Target(scope, target, agent_id=target)


def weights(request: Request) -> ScoreWeights:
    return request.app.state.score_weights


def ranked(groups: list[Group], score_weights: ScoreWeights) -> list[LeaderboardEntry]:
    """Best performance score first; no score (no calls) last; ties broken by volume, then name."""
    scored = [(group, kpis_from(group.sums, score_weights)) for group in groups]
    scored.sort(key=lambda item: (item[1].performance_score is None, -(item[1].performance_score or 0),
                                  -item[1].calls, item[0].name))
    return [LeaderboardEntry(rank=rank, id=group.id, name=group.name, kpis=kpis)
            for rank, (group, kpis) in enumerate(scored, start=1)]


@router.get("/kpis", responses=refusals(404), response_model=KpiReport, response_model_by_alias=True,
            summary="FCR, CSAT, AHT, performance score, volume, sentiment mix and tool usage over a date range")
async def kpis(request: Request, principal: CurrentUser, db: Db, scope: ScopeQuery = "overall", id: IdQuery = None,
               date_from: FromQuery = None, date_to: ToQuery = None) -> KpiReport:
    start, end = date_range(date_from, date_to)
    score_weights = weights(request)
    async with db.as_user(principal) as conn:
        target = await resolve_target(conn, principal, scope, id)
        total: Sums = await range_sums(conn, start, end, target.supervisor_id, target.agent_id)
        if target.scope == "agent":
            groups: list[Group] = []
        elif target.scope == "overall" and principal.is_admin:
            groups = await sums_by_supervisor(conn, start, end)
        else:
            groups = await sums_by_agent(conn, start, end, target.supervisor_id)
    return KpiReport(scope=scope, id=target.id, date_from=start, date_to=end, kpis=kpis_from(total, score_weights),
                     breakdown=[Breakdown(id=g.id, name=g.name, kpis=kpis_from(g.sums, score_weights))
                                for g in groups])


@router.get("/leaderboard", responses=refusals(403), response_model=Leaderboard, response_model_by_alias=True,
            summary="Supervisors (admin) or agents ranked by performance score")
async def leaderboard(request: Request, principal: CurrentUser, db: Db,
                      by: Annotated[Literal["supervisor", "agent"] | None,
                                    Query(description="Default: supervisors for an admin, agents for a supervisor")]
                      = None,
                      date_from: FromQuery = None, date_to: ToQuery = None,
                      limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Leaderboard:
    start, end = date_range(date_from, date_to)
    by = by or ("supervisor" if principal.is_admin else "agent")
    if by == "supervisor" and not principal.is_admin:
        raise ApiError(403, "forbidden", "only an admin sees the supervisors leaderboard; ask for by=agent")
    async with db.as_user(principal) as conn:
        groups = await (sums_by_supervisor(conn, start, end) if by == "supervisor" else sums_by_agent(conn, start, end))
    return Leaderboard(by=by, date_from=start, date_to=end, entries=ranked(groups, weights(request))[:limit])


@router.get("/timeseries", responses=refusals(404), response_model=TimeSeries, response_model_by_alias=True,
            summary="KPIs per day, week or month, for the charts (empty periods included)")
async def timeseries(request: Request, principal: CurrentUser, db: Db, scope: ScopeQuery = "overall",
                     id: IdQuery = None, date_from: FromQuery = None, date_to: ToQuery = None,
                     bucket: Bucket = "day") -> TimeSeries:
    start, end = date_range(date_from, date_to)
    score_weights = weights(request)
    async with db.as_user(principal) as conn:
        target = await resolve_target(conn, principal, scope, id)
        rows = await bucket_sums(conn, start, end, bucket, target.supervisor_id, target.agent_id)
    return TimeSeries(scope=scope, id=target.id, bucket=bucket, date_from=start, date_to=end,
                      points=[TimePoint(start=day, kpis=kpis_from(sums, score_weights)) for day, sums in rows])


@router.get("/live", dependencies=[REFLECTS_EVENTS], response_model=LiveFloor,
            summary="Live counters now (active calls, queue, busy agents); the streams push changes")
async def live(principal: CurrentUser, db: Db) -> LiveFloor:
    async with db.as_user(principal) as conn:
        floors = await floor_counters(conn)
    return LiveFloor(supervisors=floors, active_calls=sum(f.active_calls for f in floors),
                     queued_calls=sum(f.queued_calls for f in floors), agents_busy=sum(f.agents_busy for f in floors),
                     agents_total=sum(f.agents_total for f in floors),
                     abandoned_today=sum(f.abandoned_today for f in floors))
