"""Routing decisions against a real PostgreSQL (a database of their own: the queue is platform-wide)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from functools import partial

import asyncpg
import pytest

from call_router import routing
from contracts.calls import (
    AgentStatusChanged,
    CallEnded,
    CallHangup,
    CallQueued,
    CallRequested,
    CallRow,
    CallStarted,
)
from contracts.envelope import Envelope, utc_now
from contracts.locks import LockKey, lock_for_transaction
from contracts.results import NotificationCreated
from tests.factories import make_agent, make_user

CAP = 10


async def agents(conn: asyncpg.Connection, count: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    supervisor = await make_user(conn, "supervisor")
    return [(supervisor, await make_agent(conn, supervisor, f"Agent {n}")) for n in range(count)]


def dial(supervisor: uuid.UUID, agent: uuid.UUID, seconds: float = 0.0) -> CallRequested:
    return CallRequested(supervisor_id=supervisor, agent_id=agent, call_id=uuid.uuid4(), channel="chat",
                         dialled_number="+1-555-0000", occurred_at=utc_now() + timedelta(seconds=seconds))


def hang(call: CallRequested, by: str = "customer") -> CallHangup:
    return CallHangup(supervisor_id=call.supervisor_id, agent_id=call.agent_id, call_id=call.call_id, by=by)


async def decide(pool: asyncpg.Pool, event: CallRequested | CallHangup, cap: int = CAP) -> list[Envelope]:
    if isinstance(event, CallRequested):
        return await routing.decide(pool, event.agent_id, partial(routing.request_call, request=event,
                                                                  max_concurrent_calls=cap))
    return await routing.decide(pool, event.agent_id, partial(routing.hang_up, hangup=event,
                                                              max_concurrent_calls=cap))


def of(events: list[Envelope], kind: type[Envelope]) -> list[Envelope]:
    return [e for e in events if isinstance(e, kind)]


async def test_an_idle_agent_takes_the_call_and_becomes_busy(isolated_pool: asyncpg.Pool) -> None:
    async with isolated_pool.acquire() as conn:
        [(supervisor, agent)] = await agents(conn, 1)
    call = dial(supervisor, agent)
    events = await decide(isolated_pool, call)
    assert [type(e) for e in events] == [CallStarted, AgentStatusChanged]
    assert events[0].agent_name == "Agent 0" and events[1].status == "busy"


async def test_a_busy_agent_queues_callers_in_order_and_serves_them_as_calls_end(isolated_pool: asyncpg.Pool) -> None:
    async with isolated_pool.acquire() as conn:
        [(supervisor, agent)] = await agents(conn, 1)
    calls = [dial(supervisor, agent, seconds=n) for n in range(4)]
    first = await decide(isolated_pool, calls[0])
    assert of(first, CallStarted)
    for position, call in enumerate(calls[1:], start=1):
        [queued] = of(await decide(isolated_pool, call), CallQueued)
        assert (queued.position, queued.reason) == (position, "agent_busy")

    ended = await decide(isolated_pool, hang(calls[0], by="agent"))
    [end] = of(ended, CallEnded)
    assert end.reason == "agent_resolved" and end.call_id == calls[0].call_id
    assert [e.call_id for e in of(ended, CallStarted)] == [calls[1].call_id]
    assert [(e.call_id, e.position) for e in of(ended, CallQueued)] == [(calls[2].call_id, 1), (calls[3].call_id, 2)]
    assert [e.status for e in of(ended, AgentStatusChanged)] == ["idle", "busy"]


async def test_a_caller_who_hangs_up_in_the_queue_leaves_it(isolated_pool: asyncpg.Pool) -> None:
    async with isolated_pool.acquire() as conn:
        [(supervisor, agent)] = await agents(conn, 1)
    calls = [dial(supervisor, agent, seconds=n) for n in range(3)]
    for call in calls:
        await decide(isolated_pool, call)
    left = await decide(isolated_pool, hang(calls[1]))
    [end] = of(left, CallEnded)
    assert end.reason == "abandoned_in_queue" and end.started_at is None and end.duration_seconds == 0
    assert [(e.call_id, e.position) for e in of(left, CallQueued)] == [(calls[2].call_id, 1)]
    assert not of(left, CallStarted)  # the agent is still busy with the first caller


async def test_fifteen_callers_the_cap_of_ten_and_first_come_first_served(isolated_pool: asyncpg.Pool) -> None:
    async with isolated_pool.acquire() as conn:
        team = (await agents(conn, 5)) + (await agents(conn, 5)) + (await agents(conn, 5))
    calls = [dial(supervisor, agent, seconds=n) for n, (supervisor, agent) in enumerate(team)]
    results = [await decide(isolated_pool, call) for call in calls]
    assert all(of(r, CallStarted) for r in results[:10])
    waiting = [of(r, CallQueued)[0] for r in results[10:]]
    assert [(q.position, q.reason) for q in waiting] == [(n, "platform_at_capacity") for n in range(1, 6)]

    freed = await decide(isolated_pool, hang(calls[3]))
    assert [e.call_id for e in of(freed, CallStarted)] == [calls[10].call_id]
    assert [(e.call_id, e.position) for e in of(freed, CallQueued)] == [
        (c.call_id, n) for n, c in enumerate(calls[11:], start=1)]
    async with isolated_pool.acquire() as conn:
        assert await conn.fetchval("select count(*) from calls where status = 'active'") == 10


async def test_a_caller_for_a_busy_agent_does_not_hold_up_the_others(isolated_pool: asyncpg.Pool) -> None:
    async with isolated_pool.acquire() as conn:
        [(sup, busy), (_, free)] = await agents(conn, 2)
    first, stuck, other = dial(sup, busy, 0), dial(sup, busy, 1), dial(sup, free, 2)
    for call in (first, stuck):
        await decide(isolated_pool, call)
    assert of(await decide(isolated_pool, other), CallStarted)


async def test_redelivered_events_change_nothing_and_re_announce_the_same_ids(isolated_pool: asyncpg.Pool) -> None:
    async with isolated_pool.acquire() as conn:
        [(supervisor, agent)] = await agents(conn, 1)
    call = dial(supervisor, agent)
    first = await decide(isolated_pool, call)
    again = await decide(isolated_pool, call)
    assert [e.event_id for e in again] == [first[0].event_id]  # CallStarted, same id: JetStream drops it
    ended = await decide(isolated_pool, hang(call))
    assert [e.event_id for e in await decide(isolated_pool, hang(call))] == [of(ended, CallEnded)[0].event_id]


async def test_concurrent_decisions_never_give_an_agent_two_calls(isolated_pool: asyncpg.Pool) -> None:
    async with isolated_pool.acquire() as conn:
        [(supervisor, agent)] = await agents(conn, 1)
    results = await asyncio.gather(*(decide(isolated_pool, dial(supervisor, agent, n)) for n in range(8)))
    assert sum(len(of(r, CallStarted)) for r in results) == 1
    async with isolated_pool.acquire() as conn:
        positions = [r["queue_position"] for r in await conn.fetch(
            "select queue_position from calls where status = 'queued' order by queued_at")]
    assert positions == list(range(1, 8))


async def test_the_cap_holds_when_decisions_for_many_agents_run_side_by_side(isolated_pool: asyncpg.Pool) -> None:
    """Fifteen agents dialled at once with the cap at ten: confined to their agents, the decisions run side
    by side until the places run out; the rest go platform-wide and queue first come, first served."""
    async with isolated_pool.acquire() as conn:
        team = (await agents(conn, 5)) + (await agents(conn, 5)) + (await agents(conn, 5))
    calls = [dial(supervisor, agent, seconds=n) for n, (supervisor, agent) in enumerate(team)]
    results = await asyncio.gather(*(decide(isolated_pool, call) for call in calls))
    assert sum(len(of(r, CallStarted)) for r in results) == CAP
    async with isolated_pool.acquire() as conn:
        assert await conn.fetchval("select count(*) from call_capacity") == CAP
        positions = [r["queue_position"] for r in await conn.fetch(
            "select queue_position from calls where status = 'queued' order by queued_at, id")]
    assert positions == [1, 2, 3, 4, 5]
    # Three live calls end (which of the callers dialled at once got places is the decisions' race).
    started = [call for call, result in zip(calls, results, strict=True) if of(result, CallStarted)]
    freed = await asyncio.gather(*(decide(isolated_pool, hang(call)) for call in started[:3]))
    assert sum(len(of(r, CallStarted)) for r in freed) == 3
    async with isolated_pool.acquire() as conn:
        assert await conn.fetchval("select count(*) from calls where status = 'active'") == CAP
        assert await conn.fetchval("select count(*) from call_capacity") == CAP


async def test_the_database_refuses_a_second_live_call_for_an_agent_or_a_shared_place(
        isolated_pool: asyncpg.Pool) -> None:
    """Behind the locks, whatever runs: one live call per agent, one live call per place under the cap."""
    async with isolated_pool.acquire() as conn:
        [(supervisor, agent), (_, other)] = await agents(conn, 2)
    first, second, elsewhere = dial(supervisor, agent), dial(supervisor, agent, 1), dial(supervisor, other, 2)
    for call in (first, second, elsewhere):
        await decide(isolated_pool, call)
    async with isolated_pool.acquire() as conn:
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute("update calls set status = 'active' where id = $1", second.call_id)
        place = await conn.fetchval("select place from call_capacity where call_id = $1", first.call_id)
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute("update call_capacity set place = $1 where call_id = $2", place, elsewhere.call_id)


async def test_a_decision_for_one_agent_does_not_wait_for_another_agents(isolated_pool: asyncpg.Pool) -> None:
    async with isolated_pool.acquire() as conn:
        [(supervisor, held), (_, other)] = await agents(conn, 2)
    async with isolated_pool.acquire() as holder, holder.transaction():
        await lock_for_transaction(holder, LockKey.ROUTING_AGENT, held)  # a decision for `held` in progress
        started = await asyncio.wait_for(decide(isolated_pool, dial(supervisor, other)), timeout=5)
        assert of(started, CallStarted)
        waiting = asyncio.ensure_future(decide(isolated_pool, dial(supervisor, held)))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # the same agent's next decision waits its turn
    assert of(await asyncio.wait_for(waiting, timeout=5), CallStarted)


async def test_a_call_to_a_deactivated_agent_ends_at_once(isolated_pool: asyncpg.Pool) -> None:
    async with isolated_pool.acquire() as conn:
        [(supervisor, agent)] = await agents(conn, 1)
        await conn.execute("update agents set active = false where id = $1", agent)
    [end] = await decide(isolated_pool, dial(supervisor, agent))
    assert isinstance(end, CallEnded) and end.reason == "error"


async def test_why_a_call_ends_is_a_field_not_words(isolated_pool: asyncpg.Pool) -> None:
    async with isolated_pool.acquire() as conn:
        [(supervisor, agent)] = await agents(conn, 1)
    reasons = []
    for n, flags in enumerate(({}, {"failed": True}, {"abandoned": True})):
        call = dial(supervisor, agent, n)
        await decide(isolated_pool, call)
        ended = await decide(isolated_pool, hang(call, "agent").model_copy(update=flags))
        reasons.append(of(ended, CallEnded)[0].reason)
    assert reasons == ["agent_resolved", "error", "abandoned"]


def test_queue_positions_count_only_who_is_served_first() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    now = utc_now()
    queued = [CallRow(id=uuid.uuid4(), supervisor_id=uuid.uuid4(), agent_id=agent, agent_name="x", channel="chat",
                      caller="c", dialled_number="+1-555-0100", status="queued", brain=None, livekit_room=None,
                      queued_at=now, started_at=None, ended_at=None, end_reason=None, ended_by=None,
                      queue_position=None, customer_seen_at=None, long_wait_offered_at=None,
                      taken_over_by=None, taken_over_at=None, takeovers=0)
              for agent in (a, b, a, b)]
    assert list(routing.queue_positions(queued, busy_agents={a}).values()) == [1, 1, 2, 2]


async def test_a_request_for_an_unknown_agent_is_ignored_not_retried(isolated_pool: asyncpg.Pool) -> None:
    assert await decide(isolated_pool, dial(uuid.uuid4(), uuid.uuid4())) == []


async def test_the_supervisor_hears_once_when_a_queue_builds_up(isolated_pool: asyncpg.Pool) -> None:
    async with isolated_pool.acquire() as conn:
        [(supervisor, agent)] = await agents(conn, 1)
    calls = [dial(supervisor, agent, seconds=n) for n in range(6)]
    alerts = [of(await decide(isolated_pool, call), NotificationCreated) for call in calls]
    # One talking, then 1, 2, 3 waiting: the third waiting caller crosses the default threshold of 3.
    assert [len(a) for a in alerts] == [0, 0, 0, 1, 0, 0]
    alert = alerts[3][0]
    assert alert.kind == "queue_building" and alert.title == "Queue building up: 3 callers waiting for Agent 0"
    async with isolated_pool.acquire() as conn:
        stored = await conn.fetchrow("select kind, title from notifications where id = $1", alert.notification_id)
    assert dict(stored) == {"kind": "queue_building", "title": alert.title}
    redelivered = await decide(isolated_pool, calls[3])  # the same request again: no second alert
    assert not of(redelivered, NotificationCreated)
