from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from gateway import audit
from gateway.deps import CurrentUser, Db
from gateway.errors import not_found
from gateway.schemas import NotificationOut

router = APIRouter(prefix="/api/notifications", tags=["notifications"])


@router.get("", response_model=list[NotificationOut], summary="Your notifications, newest first")
async def list_notifications(principal: CurrentUser, db: Db, unread_only: bool = False,
                             limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[NotificationOut]:
    async with db.as_user(principal) as conn:
        rows = await conn.fetch(
            """select * from notifications where (not $1 or read_at is null)
               order by created_at desc limit $2""", unread_only, limit)
    return [NotificationOut(**dict(r)) for r in rows]


@router.post("/{notification_id}/read", response_model=NotificationOut, summary="Mark a notification read")
async def mark_read(notification_id: UUID, principal: CurrentUser, db: Db) -> NotificationOut:
    async with db.as_user(principal) as conn:
        row = await conn.fetchrow(
            "update notifications set read_at = coalesce(read_at, now()) where id = $1 returning *", notification_id)
        if row is None:
            raise not_found("notification")
        await audit.record(conn, principal, "notification.read", "notification", notification_id,
                           row["supervisor_id"])
    return NotificationOut(**dict(row))
