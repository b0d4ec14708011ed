"""A tool call's road through the supervisor: recorded as a tool request; when its tool needs approval,
announced and waited for (a decision, or the timeout, which counts as deny); then run, and its
outcome recorded. Every state change goes with its event through contracts.outbox.

The tool_requests row is the record a new owner of the call carries on from (the one before died
before telling the customer it waits for the supervisor, waiting, before running an allowed tool, or
before telling its outcome): a request with no ``result`` yet is one whose outcome the agent has not
had, so a refusal is recorded there too (``requests``, ``carry_on``). A request is stamped by the
clock that stamps the transcript's lines (the session's), so the two can be read in one order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from agent_worker import dispatch
from agent_worker.agent import ToolConfig
from contracts import outbox
from contracts.bus import Bus
from contracts.calls import CallRef
from contracts.envelope import utc_now
from contracts.tools import ToolExecuted, ToolPermissionDecision, ToolPermissionRequest, ToolRequestStatus

APPROVAL_LINE = "One moment please, I need my supervisor's approval for that."
NO_ANSWER_IN_TIME = "my supervisor isn't available to approve it"
# Marks an MCP tool's request while the tool runs: found by a new owner of the call, it says the earlier
# one may have run it, so it is not run again.
STARTED_UNRECORDED = "started; the outcome was not recorded"
UNCONFIRMED = ("I'm sorry, I couldn't confirm whether that went through. A colleague will check it and get back "
               "to you. Is there anything else I can help with?")
# Runs the tool: a built-in one on the connection given, inside the transaction that records it; an
# MCP one on its server (given None: nothing of ours can commit with it).
Execute = Callable[[asyncpg.Connection | None], Awaitable[dict[str, Any]]]


def refusal(note: str) -> dict[str, Any]:
    """What the agent is told when it may not run the tool (``note``: why, for the customer)."""
    why = f" ({note})" if note else ""
    return {"ok": False, "message": f"I'm sorry, I'm not able to do that right now{why}. "
                                    "Is there anything else I can help with?"}


@dataclass(frozen=True)
class ToolRequest:
    """A tool request of the call as stored, for a new owner of the call to carry on from."""

    id: UUID
    tool_name: str
    arguments: dict[str, Any]
    requires_approval: bool
    status: ToolRequestStatus
    requested_at: datetime
    answers_seq: int | None  # the customer line its turn was answering
    expires_at: datetime | None
    note: str
    result: dict[str, Any] | None  # the outcome the agent had (None: it had none)

    @property
    def unfinished(self) -> bool:
        """Left without an outcome: not decided on, decided while nobody could act on it, or never run."""
        return self.result is None and self.status in ("pending", "allowed", "denied", "timed_out")


@dataclass
class ToolApproval:
    ids: CallRef
    pool: asyncpg.Pool
    bus: Bus
    timeout: timedelta
    # Tells the customer we are waiting for the supervisor (the session says APPROVAL_LINE).
    announce: Callable[[str], Awaitable[None]]
    decisions: dict[UUID, asyncio.Future[ToolPermissionDecision]] = field(default_factory=dict)

    async def run(self, config: ToolConfig, arguments: dict[str, Any], execute: Execute,
                  answers_seq: int | None) -> dict[str, Any]:
        """Request, wait for approval when the tool needs it, then ``execute`` and record the outcome.
        ``answers_seq``: the customer line the turn asking for it answers (None outside a turn)."""
        request_id, requested_at = uuid4(), utc_now()
        expires_at = requested_at + self.timeout if config.requires_approval else None
        reason = str(arguments.get("reason", ""))[:1000]
        # Registered before the request is announced: a decision can never beat its waiter.
        decided = self._waiter(request_id) if config.requires_approval else None
        async with outbox.change(self.pool, self.bus) as change:
            await change.conn.execute(
                """insert into tool_requests(id, call_id, supervisor_id, agent_id, tool_name, arguments, reason,
                                             requires_approval, status, requested_at, expires_at, answers_seq)
                   values ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10, $11)""",
                request_id, self.ids.call_id, self.ids.supervisor_id, self.ids.agent_id, config.name, arguments,
                reason, config.requires_approval, requested_at, expires_at, answers_seq)
            if config.requires_approval:
                change.events.append(ToolPermissionRequest(**self.ids.fields(), request_id=request_id,
                                                           tool_name=config.name, arguments=arguments, reason=reason,
                                                           expires_at=expires_at))
        if decided is None:
            return await self._execute_once(request_id, config, arguments, execute)
        await self.announce(APPROVAL_LINE)
        allowed, note = await self._wait_for_supervisor(request_id, decided, self.timeout.total_seconds())
        return await self._outcome(request_id, config, arguments, execute, allowed, note)

    async def requests(self) -> list[ToolRequest]:
        """The call's tool requests, oldest first."""
        rows = await self.pool.fetch(
            """select id, tool_name, arguments, requires_approval, status, requested_at, answers_seq, expires_at, note,
                      result
               from tool_requests where call_id = $1 order by requested_at""", self.ids.call_id)
        return [ToolRequest(**dict(row)) for row in rows]

    async def carry_on(self, request: ToolRequest, config: ToolConfig, execute: Execute,
                       approval_said: bool = True) -> dict[str, Any]:
        """See an earlier owner's request through as ``run`` would have: its decision waited for until
        its deadline (a decision that landed while nobody owned the call is in its row; the customer told
        first that it waits, unless ``approval_said``), then the tool run once if allowed; the outcome
        returned, to be told to the customer (the one recorded, if the request has one)."""
        decided = self._waiter(request.id)  # before the row is read: a decision lands in one or the other
        status, note, result = await self.pool.fetchrow("select status, note, result from tool_requests"
                                                        " where id = $1", request.id)
        if result is not None:  # seen through already: by the earlier owner, or a session after it
            self.decisions.pop(request.id, None)
            return dict(result)
        if not request.requires_approval:
            self.decisions.pop(request.id, None)
            return await self._execute_once(request.id, config, request.arguments, execute)
        if status == "pending":
            if not approval_said:
                await self.announce(APPROVAL_LINE)
            left = (request.expires_at - utc_now()).total_seconds() if request.expires_at else 0.0
            allowed, note = await self._wait_for_supervisor(request.id, decided, max(left, 0.0))
        else:
            self.decisions.pop(request.id, None)
            allowed, note = status == "allowed", NO_ANSWER_IN_TIME if status == "timed_out" else note
        return await self._outcome(request.id, config, request.arguments, execute, allowed, note)

    def _waiter(self, request_id: UUID) -> asyncio.Future[ToolPermissionDecision]:
        waiting = self.decisions[request_id] = asyncio.get_running_loop().create_future()
        return waiting

    async def _wait_for_supervisor(self, request_id: UUID, decided: asyncio.Future[ToolPermissionDecision],
                                   seconds: float) -> tuple[bool, str]:
        try:
            decision = await asyncio.wait_for(decided, seconds)
            return decision.allowed, decision.note
        except TimeoutError:
            return await self._time_out(request_id)
        finally:
            self.decisions.pop(request_id, None)

    async def _time_out(self, request_id: UUID) -> tuple[bool, str]:
        """No answer in time counts as deny, unless a decision landed in the database first."""
        async with outbox.change(self.pool, self.bus) as change:
            if await change.conn.fetchval(
                    "update tool_requests set status = 'timed_out', decided_at = now()"
                    " where id = $1 and status = 'pending' returning true", request_id):
                change.events.append(ToolPermissionDecision(**self.ids.fields(), request_id=request_id, allowed=False,
                                                            decided_by="timeout", note="no answer in time"))
        if change.events:
            return False, NO_ANSWER_IN_TIME
        row = await self.pool.fetchrow("select status, note from tool_requests where id = $1", request_id)
        return row["status"] == "allowed", row["note"]

    async def _outcome(self, request_id: UUID, config: ToolConfig, arguments: dict[str, Any], execute: Execute,
                       allowed: bool, note: str) -> dict[str, Any]:
        if allowed:
            return await self._execute_once(request_id, config, arguments, execute)
        refused = refusal(note)
        # The agent has its answer: not one a new owner of the call would give again.
        await self.pool.execute("update tool_requests set result = $2 where id = $1 and result is null",
                                request_id, refused)
        return refused

    def decided(self, decision: ToolPermissionDecision) -> None:
        waiting = self.decisions.get(decision.request_id)
        if waiting is not None and not waiting.done():
            waiting.set_result(decision)

    async def _execute_once(self, request_id: UUID, config: ToolConfig, arguments: dict[str, Any],
                            execute: Execute) -> dict[str, Any]:
        """Run the tool and record its outcome, once whoever owns the call and whenever it dies.

        A built-in tool (a refund) runs on the connection of the transaction that records it, with the
        request's row locked: its change and the record commit together or not at all, so a request
        allowed and unrecorded was never run (the next owner runs it), and a session that lost the call
        while running it holds the row until the new owner can see it recorded. Refunds are not made
        idempotent in the shop itself: the request's row is the guard.

        An MCP tool runs on its server, beyond our transactions: the request is marked started first
        (committed), and a request found so marked is not run again but recorded as failed: at most
        once, and the customer told it could not be confirmed."""
        remote = dispatch.runs_remotely(config)
        result: dict[str, Any] | None = None
        if remote and await self.pool.fetchval(
                "update tool_requests set error = $2 where id = $1 and result is null and error is null"
                " returning true", request_id, STARTED_UNRECORDED):
            result = await execute(None)
        async with outbox.change(self.pool, self.bus) as change:
            recorded = await change.conn.fetchval("select result from tool_requests where id = $1 for update",
                                                  request_id)
            if recorded is not None:
                return dict(recorded)
            if result is None:
                result = {"ok": False, "message": UNCONFIRMED} if remote else await execute(change.conn)
            ok = bool(result.get("ok"))
            error = None if ok else str(result.get("message"))
            await change.conn.execute("update tool_requests set status = $2, result = $3, error = $4 where id = $1",
                                      request_id, "executed" if ok else "failed", result, error)
            change.events.append(ToolExecuted(**self.ids.fields(), request_id=request_id if config.requires_approval
                                              else None, tool_name=config.name, arguments=arguments, ok=ok,
                                              result=result, error=error))
        return result

    def close(self) -> None:
        for waiting in self.decisions.values():
            waiting.cancel()
