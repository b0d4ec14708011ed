"""A supervisor's notifications (row-level security shows each their own)."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from gateway.queries import Reader
from gateway.schemas import NotificationOut


async def newest(db: Reader, unread_only: bool, limit: int) -> list[NotificationOut]:
    rows = await db.fetch(
        """select * from notifications where (not $1 or read_at is null)
           order by created_at desc limit $2""", unread_only, limit)
    return [NotificationOut(**dict(r)) for r in rows]


async def mark_read(conn: asyncpg.Connection, notification_id: UUID) -> NotificationOut | None:
    """The notification marked read (marking it again keeps the first time); None if there is none by that id."""
    row = await conn.fetchrow(
        "update notifications set read_at = coalesce(read_at, now()) where id = $1 returning *", notification_id)
    return NotificationOut(**dict(row)) if row else None
