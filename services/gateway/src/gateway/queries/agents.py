"""Reading agents where no signed-in user's row-level security applies (checked by the caller)."""

from __future__ import annotations

from uuid import UUID

from gateway.queries.calls import Reader


async def owner(db: Reader, agent_id: UUID) -> UUID | None:
    return await db.fetchval("select supervisor_id from agents where id = $1", agent_id)


async def max_agents(db: Reader, supervisor_id: UUID) -> int:
    return await db.fetchval("select max_agents from supervisors where id = $1", supervisor_id) or 0
