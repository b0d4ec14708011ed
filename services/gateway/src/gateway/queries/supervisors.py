"""Supervisors: a user with the supervisor's row (their agent limit), and how many agents they have."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from gateway.queries import Reader
from gateway.schemas import SupervisorOut, SupervisorPatch

SELECT_SUPERVISORS = """
    select u.id, u.email, u.full_name, u.active, s.max_agents, s.created_at,
           (select count(*) from agents a where a.supervisor_id = s.id) as agent_count
    from supervisors s join users u on u.id = s.id"""


async def supervisor(db: Reader, supervisor_id: UUID) -> SupervisorOut | None:
    row = await db.fetchrow(SELECT_SUPERVISORS + " where s.id = $1", supervisor_id)
    return SupervisorOut(**dict(row)) if row else None


async def supervisors(db: Reader) -> list[SupervisorOut]:
    return [SupervisorOut(**dict(r)) for r in await db.fetch(SELECT_SUPERVISORS + " order by u.full_name")]


async def exists(db: Reader, supervisor_id: UUID) -> bool:
    return await db.fetchval("select exists(select 1 from supervisors where id = $1)", supervisor_id)


async def insert(conn: asyncpg.Connection, user_id: UUID, max_agents: int) -> None:
    """Makes the user a supervisor."""
    await conn.execute("insert into supervisors(id, max_agents) values ($1, $2)", user_id, max_agents)


async def update(conn: asyncpg.Connection, supervisor_id: UUID, patch: SupervisorPatch) -> None:
    """The name, active flag and agent limit the patch gives (the password is the auth backend's)."""
    if patch.full_name is not None or patch.active is not None:
        await conn.execute(
            """update users set full_name = coalesce($2, full_name), active = coalesce($3, active),
                                updated_at = now() where id = $1""",
            supervisor_id, patch.full_name, patch.active)
    if patch.max_agents is not None:
        await conn.execute("update supervisors set max_agents = $2 where id = $1", supervisor_id, patch.max_agents)
