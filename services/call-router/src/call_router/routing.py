"""Who talks to whom: connect a call to its idle agent, or queue it (FIFO) while the agent is busy or
the platform is at its concurrent-call cap; end calls; serve the queue as agents free up.

Plain functions over a PostgreSQL connection. The queue is the `calls` table itself, so it survives a
restart. Each function returns the events its change implies, staged in the same transaction (see
``decide`` and contracts.outbox).

Decisions are serialised per agent, not for the whole platform, so routers (and one router's
concurrent events) decide for different agents side by side, and two never give one agent two calls
(a partial unique index on the calls backs that up). A caller mostly waits for their own agent, which
concerns that agent alone. Callers whose agent is free but who wait for the platform's capacity form
one queue across every agent, first come first served; a decision that finds such callers, or finds
the capacity gone, runs again holding the whole platform (see ``lock`` for the order of the locks).
The cap itself is places in ``call_capacity``, one per live call, so decisions side by side cannot
start more calls than it allows.

Event ids are derived from the call and what happened to it, so re-announcing after a redelivery
publishes the same ids and JetStream drops the duplicates.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Literal
from uuid import UUID, uuid5

import asyncpg

from contracts import outbox
from contracts.calls import (
    AgentStatusChanged,
    CallEnded,
    CallHangup,
    CallQueued,
    CallRef,
    CallRequested,
    CallRow,
    CallStarted,
    EndReason,
    livekit_room_name,
)
from contracts.envelope import Envelope, utc_now
from contracts.locks import LockKey, lock_for_transaction, try_lock_for_transaction
from contracts.results import NotificationCreated
from contracts.tools import ToolPermissionDecision

log = logging.getLogger("call_router.routing")
END_REASONS: dict[str, EndReason] = {"customer": "customer_hangup", "agent": "agent_resolved",
                                     "supervisor": "supervisor_ended"}


def event_id(call_id: UUID, what: str) -> UUID:
    return uuid5(call_id, what)


class PlatformWide(Exception):
    """A decision confined to one agent needs the platform-wide queue: callers wait for the platform's
    capacity, or it has just run out. It runs again holding the whole platform."""


def confine(agent_id: UUID | None, confined_to: UUID | None) -> None:
    """A decision confined to one agent that meets another agent's call (or none) goes wide."""
    if confined_to is not None and agent_id != confined_to:
        raise PlatformWide


async def lock(conn: asyncpg.Connection, agent_id: UUID | None, *, confined: bool) -> None:
    """The order of the routing locks, which keeps decisions from ever waiting on each other in a
    circle: the agent's lock, then the platform's (shared by decisions confined to their agent, held
    alone by one that is not), then places under the cap (only ever tried, see ``take_place``). A
    decision holding the platform alone changes other agents' calls without their agents' locks: their
    decisions wait right after taking their agent's lock, before reading anything, until it commits."""
    if agent_id is not None:
        await lock_for_transaction(conn, LockKey.ROUTING_AGENT, agent_id)
    await lock_for_transaction(conn, LockKey.ROUTING, shared=confined)


# Called with the connection and ``confined_to`` (the agent it is confined to, or None).
Decision = Callable[..., Awaitable[list[Envelope]]]


async def decide(pool: asyncpg.Pool, agent_id: UUID | None, decision: Decision) -> list[Envelope]:
    """One routing decision about ``agent_id``'s calls, in one transaction with the events it implies
    (staged in the outbox). It runs confined to that agent, beside other agents' decisions; if it
    finds it needs the platform-wide queue, once more holding the whole platform."""
    if agent_id is not None:
        with contextlib.suppress(PlatformWide):
            return await _decide(pool, agent_id, decision, confined_to=agent_id)
    return await _decide(pool, agent_id, decision, confined_to=None)


async def _decide(pool: asyncpg.Pool, agent_id: UUID | None, decision: Decision,
                  confined_to: UUID | None) -> list[Envelope]:
    async with pool.acquire() as conn, conn.transaction():
        await lock(conn, agent_id, confined=confined_to is not None)
        events = await decision(conn, confined_to=confined_to)
        await outbox.stage(conn, events)
        return events


async def request_call(conn: asyncpg.Connection, request: CallRequested, max_concurrent_calls: int,
                       voice_rooms: bool = False, queue_alert_length: int = 3,
                       confined_to: UUID | None = None) -> list[Envelope]:
    """A customer dialled: record the call as queued, then let the queue decide."""
    confine(request.agent_id, confined_to)
    agent = await conn.fetchrow("select name, active from agents where id = $1 and supervisor_id = $2",
                                request.agent_id, request.supervisor_id)
    if agent is None and not await conn.fetchval("select exists(select 1 from calls where id = $1)",
                                                 request.call_id):
        # No such agent (deleted since, or a stray event): nothing to connect and nobody to tell.
        log.warning("call request for an unknown agent %s; ignored", request.agent_id)
        return []
    inserted = await conn.fetchval(
        """insert into calls(id, supervisor_id, agent_id, agent_name, channel, caller, dialled_number, status,
                             queued_at)
           values ($1, $2, $3, $4, $5, $6, $7, 'queued', $8) on conflict (id) do nothing returning true""",
        request.call_id, request.supervisor_id, request.agent_id, agent["name"] if agent else "deleted agent",
        request.channel, request.caller, request.dialled_number, request.occurred_at)
    if not inserted:
        return await announce(conn, request.call_id)  # a redelivery: say again where the call stands
    if agent is None or not agent["active"]:
        return await end_call(conn, request.call_id, "error", "agent", request.occurred_at)
    events = await serve_queue(conn, max_concurrent_calls, voice_rooms, confined_to)
    return events + await queue_alert(conn, request, agent["name"], queue_alert_length)


async def queue_alert(conn: asyncpg.Connection, request: CallRequested, agent_name: str,
                      threshold: int) -> list[Envelope]:
    """Tell the supervisor once, as the callers waiting for one agent reach ``threshold``, not per caller."""
    waiting = await conn.fetchval("select count(*) from calls where agent_id = $1 and status = 'queued'",
                                  request.agent_id)
    if waiting != threshold:
        return []
    notification_id = event_id(request.call_id, "queue_building")
    title = f"Queue building up: {waiting} callers waiting for {agent_name}"
    body = "Callers wait while the agent is busy or the platform is at capacity."
    await conn.execute(
        """insert into notifications(id, supervisor_id, call_id, kind, title, body)
           values ($1, $2, $3, 'queue_building', $4, $5) on conflict (id) do nothing""",
        notification_id, request.supervisor_id, request.call_id, title, body)
    return [NotificationCreated(event_id=event_id(request.call_id, "notification:queue_building"),
                                supervisor_id=request.supervisor_id, agent_id=request.agent_id,
                                call_id=request.call_id, notification_id=notification_id, kind="queue_building",
                                title=title, body=body, data={"waiting": waiting})]


async def hang_up(conn: asyncpg.Connection, hangup: CallHangup, max_concurrent_calls: int,
                  voice_rooms: bool = False, confined_to: UUID | None = None) -> list[Envelope]:
    """Someone ended the call, or the customer left the queue."""
    call = await conn.fetchrow("select status, agent_id from calls where id = $1", hangup.call_id)
    if call is None:
        return []
    confine(call["agent_id"], confined_to)
    status = call["status"]
    if status == "ended":
        return await announce(conn, hangup.call_id)
    reason: EndReason = "abandoned_in_queue" if status == "queued" else END_REASONS[hangup.by]
    if hangup.failed:
        reason = "error"
    elif hangup.abandoned:
        reason = "abandoned"
    events = await end_call(conn, hangup.call_id, reason, hangup.by, hangup.occurred_at)
    return events + await serve_queue(conn, max_concurrent_calls, voice_rooms, confined_to)


async def end_call(conn: asyncpg.Connection, call_id: UUID, reason: EndReason, by: str,
                   at: datetime) -> list[Envelope]:
    before = await conn.fetchrow("select status, supervisor_id, agent_id from calls where id = $1", call_id)
    await conn.execute(
        """update calls set status = 'ended', ended_at = greatest($2, coalesce(started_at, queued_at)),
                            end_reason = $3, ended_by = $4, queue_position = null
           where id = $1 and status <> 'ended'""", call_id, at, reason, by)
    await conn.execute("delete from call_capacity where call_id = $1", call_id)
    events = await announce(conn, call_id) + await withdraw_tool_requests(conn, call_id)
    if before["status"] == "active" and before["agent_id"] is not None:
        events.append(agent_status(call_id, before["supervisor_id"], before["agent_id"], "idle",
                                   await queue_length(conn, before["agent_id"])))
    return events


async def withdraw_tool_requests(conn: asyncpg.Connection, call_id: UUID) -> list[ToolPermissionDecision]:
    """The call's requests nobody decided on go with it, announced so the supervisor's cards go too."""
    rows = await conn.fetch(
        """update tool_requests set status = 'withdrawn', decided_at = now(), note = 'the call ended'
           where call_id = $1 and status = 'pending' returning id, supervisor_id, agent_id""", call_id)
    return [ToolPermissionDecision(event_id=event_id(row["id"], "withdrawn"), supervisor_id=row["supervisor_id"],
                                   agent_id=row["agent_id"], call_id=call_id, request_id=row["id"], allowed=False,
                                   decided_by="call_ended", note="the call ended") for row in rows]


def agent_status(call_id: UUID, supervisor_id: UUID, agent_id: UUID, status: Literal["idle", "busy"],
                 waiting: int) -> AgentStatusChanged:
    """The agent took (busy) or finished (idle) this call."""
    return AgentStatusChanged(event_id=event_id(call_id, f"agent.{status}"), supervisor_id=supervisor_id,
                              agent_id=agent_id, status=status, queue_length=waiting)


async def announce(conn: asyncpg.Connection, call_id: UUID) -> list[Envelope]:
    """The event that says where a call stands now: queued at its position, started, or ended."""
    row = await conn.fetchrow("select * from calls where id = $1", call_id)
    if row["agent_id"] is None:
        return []
    ids = CallRef(supervisor_id=row["supervisor_id"], agent_id=row["agent_id"], call_id=call_id).fields()
    queued_seconds = ((row["started_at"] or row["ended_at"] or utc_now()) - row["queued_at"]).total_seconds()
    if row["status"] == "active":
        return [CallStarted(event_id=event_id(call_id, "call.started"), **ids, channel=row["channel"],
                            caller=row["caller"], agent_name=row["agent_name"],
                            queued_seconds=max(0.0, queued_seconds), livekit_room=row["livekit_room"],
                            occurred_at=row["started_at"])]
    if row["status"] == "ended":
        started, ended = row["started_at"], row["ended_at"]
        return [CallEnded(event_id=event_id(call_id, "call.ended"), **ids, reason=row["end_reason"],
                          ended_by=row["ended_by"], channel=row["channel"], caller=row["caller"],
                          started_at=started, ended_at=ended,
                          duration_seconds=(ended - started).total_seconds() if started else 0.0,
                          queued_seconds=max(0.0, queued_seconds), brain=row["brain"], occurred_at=ended)]
    if row["queue_position"] is None:
        return []
    call = CallRow(**dict(row))
    return [_queued_event(call, row["queue_position"], await _agent_busy(conn, row["agent_id"]))]


def _queued_event(call: CallRow, position: int, agent_busy: bool) -> CallQueued:
    """Where a queued call stands; once offered to leave, every later update repeats the offer."""
    long_wait = call.long_wait_offered_at is not None
    return CallQueued(event_id=event_id(call.id, f"call.queued:{position}{':long' if long_wait else ''}"),
                      supervisor_id=call.supervisor_id, agent_id=call.agent_id, call_id=call.id, position=position,
                      reason="agent_busy" if agent_busy else "platform_at_capacity", long_wait=long_wait,
                      waited_seconds=round(max(0.0, (utc_now() - call.queued_at).total_seconds()), 1))


async def _agent_busy(conn: asyncpg.Connection, agent_id: UUID) -> bool:
    return await conn.fetchval("select exists(select 1 from calls where agent_id = $1 and status = 'active')",
                               agent_id)


async def queue_length(conn: asyncpg.Connection, agent_id: UUID) -> int:
    return await conn.fetchval("select count(*) from calls where agent_id = $1 and status = 'queued'", agent_id)


def queue_positions(queued: list[CallRow], busy_agents: set[UUID]) -> dict[UUID, int]:
    """Where each waiting call stands, counting only the calls that will be served before it: those
    for the same agent when its agent is busy, otherwise every earlier call whose agent is free."""
    positions: dict[UUID, int] = {}
    for index, call in enumerate(queued):
        ahead = queued[:index]
        if call.agent_id in busy_agents:
            positions[call.id] = 1 + sum(other.agent_id == call.agent_id for other in ahead)
        else:
            positions[call.id] = 1 + sum(other.agent_id not in busy_agents for other in ahead)
    return positions


def calls_to_start(queued: list[CallRow], busy_agents: set[UUID], active_calls: int,
                   max_concurrent_calls: int) -> list[CallRow]:
    """First come, first served: each free agent takes its earliest caller, up to the cap. A caller
    for a busy agent does not hold up the callers behind them for other agents."""
    starting: list[CallRow] = []
    taken = set(busy_agents)
    for call in queued:
        if active_calls + len(starting) >= max_concurrent_calls:
            break
        if call.agent_id is not None and call.agent_id not in taken:
            starting.append(call)
            taken.add(call.agent_id)
    return starting


async def serve_queue(conn: asyncpg.Connection, max_concurrent_calls: int, voice_rooms: bool = False,
                      confined_to: UUID | None = None) -> list[Envelope]:
    """Start what can start; announce where the rest now stand. ``voice_rooms``: voice calls get their
    LiveKit room name (the caller creates the room once this commits).

    Confined to one agent, only its callers are looked at. That is the whole story while nobody waits
    for the platform's capacity (every other queued caller then waits for their own agent, whose
    decisions are theirs); once someone does, or would, it raises PlatformWide."""
    if confined_to is None:
        queued = [CallRow(**dict(r)) for r in await conn.fetch(
            "select * from calls where status = 'queued' order by queued_at, id")]
        busy = {r["agent_id"] for r in await conn.fetch("select agent_id from calls where status = 'active'")}
    else:
        if await _waiting_for_capacity(conn, besides=confined_to):
            raise PlatformWide
        queued = [CallRow(**dict(r)) for r in await conn.fetch(
            "select * from calls where status = 'queued' and agent_id = $1 order by queued_at, id", confined_to)]
        busy = {confined_to} if await _agent_busy(conn, confined_to) else set()
    active = await conn.fetchval("select count(*) from calls where status = 'active'")
    starting: list[CallRow] = []
    for call in calls_to_start(queued, busy, active, max_concurrent_calls):
        if not await take_place(conn, call.id, max_concurrent_calls):
            break
        starting.append(call)
    waiting = [call for call in queued if call not in starting]
    busy |= {call.agent_id for call in starting}
    if confined_to is not None and any(call.agent_id not in busy for call in waiting):
        raise PlatformWide  # its agent is free, but the platform is not
    events: list[Envelope] = []
    now = utc_now()
    for call in starting:
        room = livekit_room_name(call.id) if voice_rooms and call.channel == "voice" else None
        await conn.execute(
            "update calls set status = 'active', started_at = $2, queue_position = null, livekit_room = $3"
            " where id = $1", call.id, max(now, call.queued_at), room)
        events += await announce(conn, call.id)
    for call in starting:
        events.append(agent_status(call.id, call.supervisor_id, call.agent_id, "busy",
                                   sum(w.agent_id == call.agent_id for w in waiting)))
    for call_id, position in queue_positions(waiting, busy).items():
        call = next(c for c in waiting if c.id == call_id)
        if call.queue_position != position:
            await conn.execute("update calls set queue_position = $2 where id = $1", call_id, position)
            events.append(_queued_event(call, position, call.agent_id in busy))
    return events


async def _waiting_for_capacity(conn: asyncpg.Connection, besides: UUID) -> bool:
    """Whether a caller for an agent other than ``besides`` waits for the platform's capacity: queued
    while their agent is free."""
    return await conn.fetchval(
        """select exists(select 1 from calls waiting where waiting.status = 'queued' and waiting.agent_id <> $1
                            and not exists(select 1 from calls live where live.agent_id = waiting.agent_id
                                                                      and live.status = 'active'))""", besides)


async def take_place(conn: asyncpg.Connection, call_id: UUID, max_concurrent_calls: int) -> bool:
    """A place under the cap for a call about to start, if one is free: held by no live call and not
    being taken by a decision beside this one (whose lock on it is tried; the insert finds the place
    taken if that decision committed meanwhile)."""
    taken = {row["place"] for row in await conn.fetch("select place from call_capacity")}
    for place in range(max_concurrent_calls):
        if place not in taken and await try_lock_for_transaction(conn, LockKey.CALL_CAPACITY, place) \
                and await conn.fetchval("""insert into call_capacity(place, call_id) values ($1, $2)
                                           on conflict (place) do nothing returning true""", place, call_id):
            return True
    return False


# --- customers who leave without hanging up -------------------------------------------------------

async def customer_seen(conn: asyncpg.Connection, call_id: UUID, at: datetime) -> None:
    """The customer's live view or a message of theirs: they are still there."""
    await conn.execute(
        """update calls set customer_seen_at = greatest(customer_seen_at, $2)
           where id = $1 and status <> 'ended'""", call_id, at)


VANISHED = """status in ('queued', 'active') and channel = 'chat'
              and coalesce(customer_seen_at, queued_at) < now() - make_interval(secs => $1)"""


async def vanished_customers(conn: asyncpg.Connection, window_seconds: float,
                             limit: int = 100) -> list[tuple[UUID, UUID | None]]:
    """Chat calls (and their agents) whose customer nobody has heard of for ``window_seconds`` (a first
    look, without the locks; ``abandon`` checks again under them)."""
    rows = await conn.fetch(f"select id, agent_id from calls where {VANISHED} order by queued_at limit {limit}",
                            window_seconds)
    return [(row["id"], row["agent_id"]) for row in rows]


async def abandon(conn: asyncpg.Connection, call_id: UUID, window_seconds: float, max_concurrent_calls: int,
                  voice_rooms: bool = False, confined_to: UUID | None = None) -> list[Envelope]:
    """End a call whose customer vanished: abandoned, or abandoned in the queue; the queue moves up."""
    call = await conn.fetchrow(f"select status, agent_id from calls where id = $2 and {VANISHED}",
                               window_seconds, call_id)
    if call is None:  # heard of since the first look, or ended
        return []
    confine(call["agent_id"], confined_to)
    status = call["status"]
    reason: EndReason = "abandoned_in_queue" if status == "queued" else "abandoned"
    log.info("the customer left without hanging up; the call ends as %s", reason, extra={"call_id": str(call_id)})
    events = await end_call(conn, call_id, reason, "customer", utc_now())
    return events + await serve_queue(conn, max_concurrent_calls, voice_rooms, confined_to)


LONG_WAITING = """status = 'queued' and long_wait_offered_at is null
                  and queued_at < now() - make_interval(secs => $1) and queue_position is not null"""


async def agents_with_long_waits(conn: asyncpg.Connection, wait_seconds: float) -> list[UUID | None]:
    """The agents whose callers are to be offered to leave (a first look, without the locks)."""
    return [row["agent_id"] for row in await conn.fetch(
        f"select distinct agent_id from calls where {LONG_WAITING}", wait_seconds)]


async def offer_to_leave(conn: asyncpg.Connection, wait_seconds: float,
                         confined_to: UUID | None = None) -> list[Envelope]:
    """Queued callers (of ``confined_to``, or all) whose wait passed ``wait_seconds``, each offered once
    to keep waiting or leave."""
    rows = await conn.fetch(
        f"""update calls set long_wait_offered_at = now()
            where {LONG_WAITING} and ($2::uuid is null or agent_id = $2) returning *""", wait_seconds, confined_to)
    calls = [CallRow(**dict(row)) for row in rows]
    return [_queued_event(call, call.queue_position or 1, await _agent_busy(conn, call.agent_id)) for call in calls]
