from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from gateway import audit
from gateway.deps import REFLECTS_EVENTS, CurrentUser, Db, DocumentedRoute
from gateway.errors import not_found
from gateway.queries import notifications as queries
from gateway.schemas import NotificationOut

router = APIRouter(prefix="/api/notifications", tags=["notifications"], route_class=DocumentedRoute)


@router.get("", dependencies=[REFLECTS_EVENTS], response_model=list[NotificationOut],
            summary="Your notifications, newest first")
async def list_notifications(principal: CurrentUser, db: Db, unread_only: bool = False,
                             limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[NotificationOut]:
    async with db.as_user(principal) as conn:
        return await queries.newest(conn, unread_only, limit)


@router.post("/{notification_id}/read", response_model=NotificationOut, summary="Mark a notification read")
async def mark_read(notification_id: UUID, principal: CurrentUser, db: Db) -> NotificationOut:
    async with db.as_user(principal) as conn:
        notification = await queries.mark_read(conn, notification_id)
        if notification is None:
            raise not_found("notification")
        await audit.record(conn, principal, "notification.read", "notification", notification_id,
                           notification.supervisor_id)
    return notification
