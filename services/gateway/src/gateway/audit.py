"""Who changed what, when: written in the same transaction as the change itself."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from gateway.tokens import Principal


async def record(conn: asyncpg.Connection, actor: Principal, action: str, target_type: str,
                 target_id: UUID | str | None, supervisor_id: UUID | None, **details: Any) -> None:
    await conn.execute(
        """insert into audit_log(actor_id, actor_role, supervisor_id, action, target_type, target_id, details)
           values ($1, $2, $3, $4, $5, $6, $7)""",
        actor.user_id, actor.role, supervisor_id, action, target_type,
        None if target_id is None else str(target_id), details)
