"""Who talks to whom: connect a call to its idle agent, or queue it (FIFO) while the agent is busy or
the platform is at its concurrent-call cap; end calls; serve the queue as agents free up.

Plain functions over a PostgreSQL connection. The queue is the `calls` table itself, so it survives a
restart, and every decision runs under one transaction-scoped advisory lock, so two routers never
give one agent two calls (a partial unique index backs that up). Each function returns the events
its change implies; the caller stages them in the same transaction (see contracts.outbox).

Event ids are derived from the call and what happened to it, so re-announcing after a redelivery
publishes the same ids and JetStream drops the duplicates.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal
from uuid import UUID, uuid5

import asyncpg

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
from contracts.locks import LockKey, lock_for_transaction
from contracts.results import NotificationCreated
from contracts.tools import ToolPermissionDecision

log = logging.getLogger("call_router.routing")
END_REASONS: dict[str, EndReason] = {"customer": "customer_hangup", "agent": "agent_resolved",
                                     "supervisor": "supervisor_ended"}


def event_id(call_id: UUID, what: str) -> UUID:
    return uuid5(call_id, what)


async def lock(conn: asyncpg.Connection) -> None:
    await lock_for_transaction(conn, LockKey.ROUTING)


async def request_call(conn: asyncpg.Connection, request: CallRequested, max_concurrent_calls: int,
                       voice_rooms: bool = False, queue_alert_length: int = 3) -> list[Envelope]:
    """A customer dialled: record the call as queued, then let the queue decide."""
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
    events = await serve_queue(conn, max_concurrent_calls, voice_rooms)
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
                  voice_rooms: bool = False) -> list[Envelope]:
    """Someone ended the call, or the customer left the queue."""
    status = await conn.fetchval("select status from calls where id = $1", hangup.call_id)
    if status is None:
        return []
    if status == "ended":
        return await announce(conn, hangup.call_id)
    reason: EndReason = "abandoned_in_queue" if status == "queued" else END_REASONS[hangup.by]
    if hangup.failed:
        reason = "error"
    elif hangup.abandoned:
        reason = "abandoned"
    events = await end_call(conn, hangup.call_id, reason, hangup.by, hangup.occurred_at)
    return events + await serve_queue(conn, max_concurrent_calls, voice_rooms)


async def end_call(conn: asyncpg.Connection, call_id: UUID, reason: EndReason, by: str,
                   at: datetime) -> list[Envelope]:
    before = await conn.fetchrow("select status, supervisor_id, agent_id from calls where id = $1", call_id)
    await conn.execute(
        """update calls set status = 'ended', ended_at = greatest($2, coalesce(started_at, queued_at)),
                            end_reason = $3, ended_by = $4, queue_position = null
           where id = $1 and status <> 'ended'""", call_id, at, reason, by)
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


async def serve_queue(conn: asyncpg.Connection, max_concurrent_calls: int, voice_rooms: bool = False) -> list[Envelope]:
    """Start what can start; announce where the rest now stand. ``voice_rooms``: voice calls get their
    LiveKit room name (the caller creates the room once this commits)."""
    rows = await conn.fetch(
        "select * from calls where status = 'queued'"
        " order by queued_at, id")
    queued = [CallRow(**dict(r)) for r in rows]
    busy = {r["agent_id"] for r in await conn.fetch("select agent_id from calls where status = 'active'")}
    active = len(busy)
    events: list[Envelope] = []
    starting = calls_to_start(queued, busy, active, max_concurrent_calls)
    now = utc_now()
    for call in starting:
        room = livekit_room_name(call.id) if voice_rooms and call.channel == "voice" else None
        await conn.execute(
            "update calls set status = 'active', started_at = $2, queue_position = null, livekit_room = $3"
            " where id = $1", call.id, max(now, call.queued_at), room)
        busy.add(call.agent_id)
        events += await announce(conn, call.id)
    waiting = [call for call in queued if call not in starting]
    for call in starting:
        events.append(agent_status(call.id, call.supervisor_id, call.agent_id, "busy",
                                   sum(w.agent_id == call.agent_id for w in waiting)))
    for call_id, position in queue_positions(waiting, busy).items():
        call = next(c for c in waiting if c.id == call_id)
        if call.queue_position != position:
            await conn.execute("update calls set queue_position = $2 where id = $1", call_id, position)
            events.append(_queued_event(call, position, call.agent_id in busy))
    return events


# --- customers who leave without hanging up -------------------------------------------------------

async def customer_seen(conn: asyncpg.Connection, call_id: UUID, at: datetime) -> None:
    """The customer's live view or a message of theirs: they are still there."""
    await conn.execute(
        """update calls set customer_seen_at = greatest(customer_seen_at, $2)
           where id = $1 and status <> 'ended'""", call_id, at)


VANISHED = """status in ('queued', 'active') and channel = 'chat'
              and coalesce(customer_seen_at, queued_at) < now() - make_interval(secs => $1)"""


async def vanished_customers(conn: asyncpg.Connection, window_seconds: float, limit: int = 100) -> list[UUID]:
    """Chat calls whose customer nobody has heard of for ``window_seconds`` (a first look, without the
    lock; ``abandon`` checks again under it)."""
    rows = await conn.fetch(f"select id from calls where {VANISHED} order by queued_at limit {limit}", window_seconds)
    return [row["id"] for row in rows]


async def abandon(conn: asyncpg.Connection, call_id: UUID, window_seconds: float, max_concurrent_calls: int,
                  voice_rooms: bool = False) -> list[Envelope]:
    """End a call whose customer vanished: abandoned, or abandoned in the queue; the queue moves up."""
    status = await conn.fetchval(f"select status from calls where id = $2 and {VANISHED}", window_seconds, call_id)
    if status is None:  # heard of since the first look, or ended
        return []
    reason: EndReason = "abandoned_in_queue" if status == "queued" else "abandoned"
    log.info("the customer left without hanging up; the call ends as %s", reason, extra={"call_id": str(call_id)})
    events = await end_call(conn, call_id, reason, "customer", utc_now())
    return events + await serve_queue(conn, max_concurrent_calls, voice_rooms)


async def offer_to_leave(conn: asyncpg.Connection, wait_seconds: float) -> list[Envelope]:
    """Queued callers whose wait passed ``wait_seconds``, each offered once to keep waiting or leave."""
    rows = await conn.fetch(
        """update calls set long_wait_offered_at = now()
            where status = 'queued' and long_wait_offered_at is null
              and queued_at < now() - make_interval(secs => $1) and queue_position is not null
            returning *""", wait_seconds)
    calls = [CallRow(**dict(row)) for row in rows]
    return [_queued_event(call, call.queue_position or 1, await _agent_busy(conn, call.agent_id)) for call in calls]
