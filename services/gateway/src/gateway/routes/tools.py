"""Tool requests that wait for a supervisor: list them, allow or deny.

The database decides who was first: a decision only lands on a request still pending, so a
supervisor's answer and the agent's timeout can never both count.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from contracts import outbox
from contracts.tools import ToolPermissionDecision, ToolRequestStatus
from gateway import audit
from gateway.deps import REFLECTS_EVENTS, BusDep, CurrentUser, Db, DocumentedRoute
from gateway.errors import ApiError, not_found, refusals
from gateway.queries import tool_requests as queries
from gateway.schemas import DecisionIn, ToolDecision

router = APIRouter(prefix="/api/tool-requests", tags=["tools"], route_class=DocumentedRoute)
# Why a decision came too late, by the request's status (a pending one is past its deadline).
ALREADY: dict[ToolRequestStatus, str] = {
    "pending": "timed out (denied)", "timed_out": "timed out (denied)", "allowed": "been allowed",
    "denied": "been denied", "withdrawn": "been withdrawn: the call ended", "executed": "been allowed and run",
    "failed": "been allowed and failed"}


@router.get("", dependencies=[REFLECTS_EVENTS], response_model=list[ToolDecision],
            summary="Your agents' tool requests, newest first")
async def list_requests(principal: CurrentUser, db: Db,
                        status: ToolRequestStatus | None = "pending") -> list[ToolDecision]:
    async with db.as_user(principal) as conn:
        return await queries.newest(conn, status)


@router.post("/{request_id}/decision", responses=refusals(409), response_model=ToolDecision,
             summary="Allow or deny a tool call the agent is waiting on")
async def decide(request_id: UUID, body: DecisionIn, principal: CurrentUser, db: Db, bus: BusDep) -> ToolDecision:
    async with db.as_user(principal) as conn:
        row = await queries.decide(conn, request_id, body.allow, principal.user_id, body.note)
        if row is None:
            status = await queries.status(conn, request_id)
            if status is None:
                raise not_found("tool request")
            raise ApiError(409, "already_decided", f"too late: this request has already {ALREADY[status]}")
        await audit.record(conn, principal, "tool_request.decide", "tool_request", request_id, row["supervisor_id"],
                           allowed=body.allow, note=body.note)
        decision = ToolPermissionDecision(
            supervisor_id=row["supervisor_id"], agent_id=row["agent_id"], call_id=row["call_id"],
            request_id=request_id, allowed=body.allow, decided_by="supervisor", decided_by_user=principal.user_id,
            note=body.note)
        await outbox.stage_after_user_change(conn, [decision])
    await outbox.send(db.pool, bus, [decision])
    return ToolDecision(**{k: row[k] for k in ToolDecision.model_fields})
