"""The call archive: search and one call in full. RLS limits a supervisor to their own calls."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query

from gateway.deps import CurrentUser, Db, DocumentedRoute
from gateway.errors import ApiError, not_found
from gateway.queries import archive as queries
from gateway.schemas import ArchiveDetail, ArchivePage, Instant, SearchWords

router = APIRouter(prefix="/api/archive", tags=["archive"], route_class=DocumentedRoute)


@router.get("", response_model=ArchivePage, summary="Search archived calls, newest first")
async def search_archive(
    principal: CurrentUser, db: Db,
    agent_id: UUID | None = None,
    date_from: Annotated[Instant | None, Query(alias="from")] = None,
    date_to: Annotated[Instant | None, Query(alias="to")] = None,
    tag: Annotated[SearchWords | None, Query(max_length=50)] = None,
    q: Annotated[SearchWords | None, Query(max_length=200, description="Words in the summary, agent or caller")] = None,
    sentiment: Literal["negative", "neutral", "positive"] | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ArchivePage:
    if date_from and date_to and date_from > date_to:
        raise ApiError(422, "invalid_request", "'from' is after 'to'")
    async with db.as_user(principal) as conn:
        # A supervisor's own filter repeats what row-level security enforces, so their index serves them.
        return await queries.search(conn, agent_id=agent_id, date_from=date_from, date_to=date_to, tag=tag, words=q,
                                    sentiment=sentiment,
                                    supervisor_id=None if principal.is_admin else principal.user_id,
                                    page=page, page_size=page_size)


@router.get("/{call_id}", response_model=ArchiveDetail,
            summary="One archived call: transcript, summary, tags, CSAT, FCR, sentiment timeline, tool decisions")
async def archived_call(call_id: UUID, principal: CurrentUser, db: Db) -> ArchiveDetail:
    async with db.as_user(principal) as conn:
        call = await queries.archived_call(conn, call_id)
    if call is None:
        raise not_found("archived call")
    return call
