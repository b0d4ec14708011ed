"""A tool call's road through the supervisor: recorded as a tool request; when its tool needs approval,
announced and waited for (a decision, or the timeout, which counts as deny); then run, and its
outcome recorded. Every state change goes with its event through contracts.outbox."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from agent_worker.agent import ToolConfig
from contracts import outbox
from contracts.bus import Bus
from contracts.calls import CallRef
from contracts.envelope import utc_now
from contracts.tools import ToolExecuted, ToolPermissionDecision, ToolPermissionRequest

APPROVAL_LINE = "One moment please, I need my supervisor's approval for that."
Execute = Callable[[], Awaitable[dict[str, Any]]]


@dataclass
class ToolApproval:
    ids: CallRef
    pool: asyncpg.Pool
    bus: Bus
    timeout: timedelta
    # Tells the customer we are waiting for the supervisor (the session says APPROVAL_LINE).
    announce: Callable[[str], Awaitable[None]]
    decisions: dict[UUID, asyncio.Future[ToolPermissionDecision]] = field(default_factory=dict)

    async def run(self, config: ToolConfig, arguments: dict[str, Any], execute: Execute) -> dict[str, Any]:
        """Request, wait for approval when the tool needs it, then ``execute`` and record the outcome."""
        request_id = uuid4()
        expires_at = utc_now() + self.timeout if config.requires_approval else None
        reason = str(arguments.get("reason", ""))[:1000]
        # Registered before the request is announced: a decision can never beat its waiter.
        decided: asyncio.Future[ToolPermissionDecision] | None = None
        if config.requires_approval:
            decided = self.decisions[request_id] = asyncio.get_running_loop().create_future()
        async with outbox.change(self.pool, self.bus) as change:
            await change.conn.execute(
                """insert into tool_requests(id, call_id, supervisor_id, agent_id, tool_name, arguments, reason,
                                             requires_approval, status, expires_at)
                   values ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9)""",
                request_id, self.ids.call_id, self.ids.supervisor_id, self.ids.agent_id, config.name, arguments,
                reason, config.requires_approval, expires_at)
            if config.requires_approval:
                change.events.append(ToolPermissionRequest(**self.ids.fields(), request_id=request_id,
                                                           tool_name=config.name, arguments=arguments, reason=reason,
                                                           expires_at=expires_at))
        if decided is not None:
            allowed, note = await self._wait_for_supervisor(request_id, decided)
            if not allowed:
                why = f" ({note})" if note else ""
                return {"ok": False, "message": f"I'm sorry, I'm not able to do that right now{why}. "
                                                "Is there anything else I can help with?"}
        result = await execute()
        await self._record(request_id, config.name, arguments, result, approved=config.requires_approval)
        return result

    async def _wait_for_supervisor(self, request_id: UUID,
                                   decided: asyncio.Future[ToolPermissionDecision]) -> tuple[bool, str]:
        await self.announce(APPROVAL_LINE)
        try:
            decision = await asyncio.wait_for(decided, self.timeout.total_seconds())
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
            return False, "my supervisor isn't available to approve it"
        row = await self.pool.fetchrow("select status, note from tool_requests where id = $1", request_id)
        return row["status"] == "allowed", row["note"]

    def decided(self, decision: ToolPermissionDecision) -> None:
        waiting = self.decisions.get(decision.request_id)
        if waiting is not None and not waiting.done():
            waiting.set_result(decision)

    async def _record(self, request_id: UUID, tool: str, arguments: dict[str, Any], result: dict[str, Any],
                      approved: bool) -> None:
        ok = bool(result.get("ok"))
        async with outbox.change(self.pool, self.bus) as change:
            await change.conn.execute(
                "update tool_requests set status = $2, result = $3, error = $4 where id = $1",
                request_id, "executed" if ok else "failed", result, None if ok else result.get("message"))
            change.events.append(ToolExecuted(**self.ids.fields(), request_id=request_id if approved else None,
                                              tool_name=tool, arguments=arguments, ok=ok, result=result,
                                              error=None if ok else str(result.get("message"))))

    def close(self) -> None:
        for waiting in self.decisions.values():
            waiting.cancel()
