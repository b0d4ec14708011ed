"""Daily aggregates from archive events against a real PostgreSQL, checked against KPIs computed by
hand for a small data set; exactly once under redelivery; FCR revisions; rebuild agrees."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from analytics.aggregates import (
    RevisionBeforeArchive,
    add_archived_call,
    add_ended_call,
    rebuild_if_empty,
    revise_fcr,
)
from contracts.calls import CallEnded
from contracts.results import ArchiveSaved, FcrRevised
from kpis.formula import ScoreWeights, kpis_from, performance_score
from kpis.queries import bucket_sums, range_sums, sums_by_agent
from tests.factories import make_agent, make_user

DAY_1, DAY_2 = date(2026, 3, 2), date(2026, 3, 3)
WEIGHTS = ScoreWeights(weight_fcr=0.4, weight_csat=0.4, weight_aht=0.2, aht_target_seconds=300)


@dataclass(frozen=True)
class Call:
    agent: str
    day: date
    handle: float
    csat: float | None
    resolved: bool
    sentiment: str
    tools: int = 0
    denied: int = 0
    taken_over: bool = False


# Call 0 is revised later: the same caller came back, so it loses its first-contact resolution.
CALLS = [
    Call("X", DAY_1, 120, 4.0, True, "positive", tools=1),
    Call("X", DAY_1, 300, 2.0, False, "negative", tools=2, denied=1, taken_over=True),
    Call("X", DAY_2, 180, None, True, "neutral"),
    Call("Y", DAY_2, 600, 5.0, True, "positive"),
]


@dataclass
class DataSet:
    supervisor: uuid.UUID
    agents: dict[str, uuid.UUID]
    events: list[ArchiveSaved]
    revision: FcrRevised
    # Every call's end: the archived ones, answered at once, and one caller who left the queue after 40 s.
    ended: list[CallEnded]


async def make_data_set(conn: asyncpg.Connection) -> DataSet:
    supervisor = await make_user(conn, "supervisor")
    agents = {name: await make_agent(conn, supervisor, name) for name in ("X", "Y")}
    events = [ArchiveSaved(supervisor_id=supervisor, agent_id=agents[c.agent], call_id=uuid.uuid4(), agent_name=c.agent,
                           started_at=datetime.combine(c.day, datetime.min.time(), UTC) + timedelta(hours=23),
                           summary="s", tags=[], csat=c.csat, fcr=c.resolved, resolved=c.resolved,
                           handle_seconds=c.handle, sentiment_label=c.sentiment, tool_requests=c.tools,
                           tools_denied=c.denied, taken_over=c.taken_over, summary_source="test")
              for c in CALLS]
    first = events[0]
    revision = FcrRevised(supervisor_id=supervisor, agent_id=first.agent_id, call_id=first.call_id,
                          started_at=first.started_at, repeat_call_id=uuid.uuid4())
    ended = [CallEnded(supervisor_id=supervisor, agent_id=e.agent_id, call_id=e.call_id, reason="customer_hangup",
                       ended_by="customer", channel="chat", caller="c", started_at=e.started_at,
                       ended_at=e.started_at + timedelta(seconds=c.handle), duration_seconds=c.handle)
             for c, e in zip(CALLS, events, strict=True)]
    left_at = datetime.combine(DAY_1, datetime.min.time(), UTC) + timedelta(hours=22)
    ended.append(CallEnded(supervisor_id=supervisor, agent_id=agents["X"], call_id=uuid.uuid4(),
                           reason="abandoned_in_queue", ended_by="customer", channel="chat", caller="c",
                           started_at=None, ended_at=left_at, duration_seconds=0, queued_seconds=40))
    return DataSet(supervisor, agents, events, revision, ended)


async def fold_in(pool: asyncpg.Pool, event: ArchiveSaved | FcrRevised | CallEnded) -> bool:
    async with pool.acquire() as conn, conn.transaction():
        if isinstance(event, ArchiveSaved):
            return await add_archived_call(conn, event)
        if isinstance(event, CallEnded):
            return await add_ended_call(conn, event)
        return await revise_fcr(conn, event)


async def test_kpis_match_the_hand_computed_values(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        data = await make_data_set(conn)
    for event in [*data.events, data.revision]:
        assert await fold_in(pool, event)
    async with pool.acquire() as conn:
        overall = kpis_from(await range_sums(conn, DAY_1, DAY_2, supervisor_id=data.supervisor), WEIGHTS)
        agents = {g.name: kpis_from(g.sums, WEIGHTS)
                  for g in await sums_by_agent(conn, DAY_1, DAY_2, supervisor_id=data.supervisor)}
        days = [(day, kpis_from(sums, WEIGHTS)) for day, sums in
                await bucket_sums(conn, DAY_1 - timedelta(days=1), DAY_2, "day", supervisor_id=data.supervisor)]

    # 4 calls; FCR: calls 2 and 3 (call 0 revised, call 1 unresolved); CSAT over the 3 that have one.
    assert (overall.calls, overall.fcr, overall.csat, overall.aht_seconds, overall.resolved_rate) == (
        4, 0.5, 3.67, 300.0, 0.75)
    # 100 x (0.4 x 0.5 + 0.4 x (3.667 - 1) / 4 + 0.2 x min(1, 300 / 300))
    assert overall.performance_score == 66.7
    assert overall.sentiment_mix.model_dump() == {"negative": 1, "neutral": 1, "positive": 2}
    assert (overall.tool_requests, overall.tools_denied) == (3, 1)
    assert (overall.taken_over, overall.takeover_rate) == (1, 0.25)

    # X: FCR 1/3, CSAT (4 + 2) / 2, AHT 200 (under target: full marks) -> 100 x (0.4/3 + 0.4 x 0.5 + 0.2)
    assert (agents["X"].calls, agents["X"].fcr, agents["X"].csat, agents["X"].performance_score) == (
        3, 0.3333, 3.0, 53.3)
    # Y: one call of 600 s, twice the target: the AHT term is 0.5 -> 100 x (0.4 + 0.4 + 0.1)
    assert (agents["Y"].aht_seconds, agents["Y"].performance_score) == (600.0, 90.0)
    assert (agents["X"].takeover_rate, agents["Y"].takeover_rate) == (0.3333, 0.0)

    # One point per day, the empty day included; day 1 lost its only FCR to the revision.
    assert [(d, k.calls, k.fcr, k.aht_seconds) for d, k in days] == [
        (DAY_1 - timedelta(days=1), 0, None, None), (DAY_1, 2, 0.0, 210.0), (DAY_2, 2, 1.0, 390.0)]


def test_a_term_without_data_drops_out_of_the_score() -> None:
    assert performance_score(1.0, None, 300.0, WEIGHTS) == 100.0  # no CSAT: FCR and AHT re-weighted
    assert performance_score(None, None, None, WEIGHTS) is None
    assert performance_score(0.5, 3.0, 150.0, ScoreWeights(weight_fcr=1, weight_csat=0, weight_aht=0)) == 50.0


async def test_each_event_counts_once_however_often_it_arrives(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        data = await make_data_set(conn)
    assert await fold_in(pool, data.events[0])
    assert not await fold_in(pool, data.events[0])  # a redelivery
    assert await fold_in(pool, data.revision)
    assert not await fold_in(pool, data.revision)
    with pytest.raises(RuntimeError):  # a crash after the increment, before the commit
        async with pool.acquire() as conn, conn.transaction():
            await add_archived_call(conn, data.events[1])
            raise RuntimeError("crash")
    assert await fold_in(pool, data.events[1])  # the redelivery after the restart counts it
    async with pool.acquire() as conn:
        sums = await range_sums(conn, DAY_1, DAY_1, supervisor_id=data.supervisor)
    assert (sums.calls, sums.fcr_count, sums.tool_requests) == (2, 0, 3)


async def test_a_revision_that_overtakes_its_archive_event_waits_for_it(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        data = await make_data_set(conn)
    with pytest.raises(RevisionBeforeArchive):
        await fold_in(pool, data.revision)
    assert await fold_in(pool, data.events[0])
    assert await fold_in(pool, data.revision)  # the redelivery is not mistaken for a duplicate
    async with pool.acquire() as conn:
        assert (await range_sums(conn, DAY_1, DAY_1, agent_id=data.agents["X"])).fcr_count == 0


async def test_rebuilding_from_the_archive_gives_the_same_table_and_replays_count_nothing(
        isolated_pool: asyncpg.Pool) -> None:
    async with isolated_pool.acquire() as conn:
        data = await make_data_set(conn)
    events = [*data.events, data.revision, *data.ended]
    for event in events:
        await fold_in(isolated_pool, event)
    async with isolated_pool.acquire() as conn:
        incremental = await aggregate_rows(conn)
        # Now as if analytics first ran on a database that already had these calls archived.
        await conn.execute("delete from agent_daily_kpis; delete from processed_events")
        for index, (call, event) in enumerate(zip(CALLS, data.events, strict=True)):
            await write_archive(conn, call, event, fcr=event.fcr and index != 0)
        left = data.ended[-1]
        await conn.execute(
            """insert into calls(id, supervisor_id, agent_id, agent_name, channel, caller, dialled_number, status,
                                 queued_at, ended_at, end_reason) values ($1, $2, $3, 'X', 'chat', 'c', '+1-555-0100',
                                 'ended', $4, $5, 'abandoned_in_queue')""",
            left.call_id, left.supervisor_id, left.agent_id, left.ended_at - timedelta(seconds=40), left.ended_at)
    assert await rebuild_if_empty(isolated_pool) == 3
    assert await rebuild_if_empty(isolated_pool) is None  # not empty any more: left alone
    for event in events:  # the same calls' events, still in the stream
        assert not await fold_in(isolated_pool, event)
    async with isolated_pool.acquire() as conn:
        assert await aggregate_rows(conn) == incremental


async def aggregate_rows(conn: asyncpg.Connection) -> list[dict]:
    rows = await conn.fetch("select * from agent_daily_kpis order by day, agent_name")
    return [{k: v for k, v in dict(r).items() if k != "updated_at"} for r in rows]


async def write_archive(conn: asyncpg.Connection, call: Call, event: ArchiveSaved, fcr: bool) -> None:
    ended = event.started_at + timedelta(seconds=call.handle)
    await conn.execute(
        """insert into calls(id, supervisor_id, agent_id, agent_name, channel, caller, dialled_number, status,
                             queued_at, started_at, ended_at, takeovers)
           values ($1, $2, $3, $4, 'chat', 'c', '+1-555-0100', 'ended', $5, $5, $6, $7)""",
        event.call_id, event.supervisor_id, event.agent_id, event.agent_name, event.started_at, ended,
        int(call.taken_over))
    await conn.execute(
        """insert into archives(call_id, supervisor_id, agent_id, agent_name, channel, caller, started_at, ended_at,
                                handle_seconds, summary, csat, fcr, resolved, sentiment_label, summary_source)
           values ($1, $2, $3, $4, 'chat', 'c', $5, $6, $7, 's', $8, $9, $10, $11, 'test')""",
        event.call_id, event.supervisor_id, event.agent_id, event.agent_name, event.started_at, ended, call.handle,
        call.csat, fcr, call.resolved, call.sentiment)
    for n in range(call.tools):
        await conn.execute(
            """insert into tool_requests(id, call_id, supervisor_id, agent_id, tool_name, requires_approval, status)
               values (gen_random_uuid(), $1, $2, $3, 'refund_order', true, $4)""",
            event.call_id, event.supervisor_id, event.agent_id, "denied" if n < call.denied else "executed")


async def test_abandonment_and_speed_of_answer_count_every_ended_call_once(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        data = await make_data_set(conn)
    for event in data.ended:
        assert await fold_in(pool, event)
        assert not await fold_in(pool, event)  # a redelivery
    async with pool.acquire() as conn:
        day_1 = kpis_from(await range_sums(conn, DAY_1, DAY_1, agent_id=data.agents["X"]), WEIGHTS).abandonment
        both = kpis_from(await range_sums(conn, DAY_1, DAY_2, supervisor_id=data.supervisor), WEIGHTS).abandonment
    assert (day_1.ended_calls, day_1.before_answer, day_1.after_answer, day_1.rate) == (3, 1, 0, 0.3333)
    assert (day_1.asa_seconds, day_1.longest_wait_seconds) == (0.0, 0.0)  # answered at once; the leaver never was
    assert (both.ended_calls, both.rate) == (5, 0.2)
