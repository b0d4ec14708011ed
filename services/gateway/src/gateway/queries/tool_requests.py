"""Tool requests waiting for a supervisor, and the supervisor's decision on one."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from contracts.tools import ToolRequestStatus
from gateway.queries import Reader
from gateway.schemas import ToolDecision

COLUMNS = ", ".join(ToolDecision.model_fields)


async def newest(db: Reader, status: ToolRequestStatus | None) -> list[ToolDecision]:
    rows = await db.fetch(f"select {COLUMNS} from tool_requests where ($1::text is null or status = $1)"
                          " order by requested_at desc limit 200", status)
    return [ToolDecision(**dict(r)) for r in rows]


async def decide(conn: asyncpg.Connection, request_id: UUID, allowed: bool, by: UUID,
                 note: str) -> asyncpg.Record | None:
    """The decided request with its supervisor_id; None unless it was still pending and within its deadline."""
    return await conn.fetchrow(
        f"""update tool_requests set status = $2, decided_at = now(), decided_by = $3, note = $4
            where id = $1 and status = 'pending' and (expires_at is null or expires_at > now())
            returning {COLUMNS}, supervisor_id""",
        request_id, "allowed" if allowed else "denied", by, note)


async def status(db: Reader, request_id: UUID) -> ToolRequestStatus | None:
    return await db.fetchval("select status from tool_requests where id = $1", request_id)
