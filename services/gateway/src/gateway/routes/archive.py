"""The call archive: search and one call in full. RLS limits a supervisor to their own calls."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query

from gateway.deps import CurrentUser, Db
from gateway.errors import ApiError, not_found
from gateway.schemas import ArchiveDetail, ArchiveItem, ArchivePage, ToolDecision, TranscriptLine

router = APIRouter(prefix="/api/archive", tags=["archive"])

ITEM_COLUMNS = ", ".join(ArchiveItem.model_fields)
# Counting every match of a broad search over millions of calls costs more than the page itself; past
# this many the answer says "at least".
COUNT_LIMIT = 10_000


@router.get("", response_model=ArchivePage, summary="Search archived calls, newest first")
async def search_archive(
    principal: CurrentUser, db: Db,
    agent_id: UUID | None = None,
    date_from: Annotated[datetime | None, Query(alias="from")] = None,
    date_to: Annotated[datetime | None, Query(alias="to")] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Words in the summary, agent or caller")] = None,
    sentiment: Literal["negative", "neutral", "positive"] | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ArchivePage:
    if date_from and date_to and date_from > date_to:
        raise ApiError(422, "invalid_request", "'from' is after 'to'")
    where = """($1::uuid is null or agent_id = $1) and ($2::timestamptz is null or started_at >= $2)
               and ($3::timestamptz is null or started_at < $3) and ($4::text is null or tags @> array[$4::text])
               and ($5::text is null or search @@ websearch_to_tsquery('english', $5))
               and ($6::text is null or sentiment_label = $6)"""
    args = (agent_id, date_from, date_to, tag.lower() if tag else None, q or None, sentiment)
    async with db.as_user(principal) as conn:
        total = await conn.fetchval(
            f"select count(*) from (select 1 from archives where {where} limit {COUNT_LIMIT + 1}) matches", *args)
        rows = await conn.fetch(
            f"select {ITEM_COLUMNS} from archives where {where} order by started_at desc limit $7 offset $8",
            *args, page_size, (page - 1) * page_size)
    return ArchivePage(items=[ArchiveItem(**dict(r)) for r in rows], total=min(total, COUNT_LIMIT),
                       total_is_lower_bound=total > COUNT_LIMIT, page=page, page_size=page_size)


@router.get("/{call_id}", response_model=ArchiveDetail,
            summary="One archived call: transcript, summary, tags, CSAT, FCR, sentiment timeline, tool decisions")
async def archived_call(call_id: UUID, principal: CurrentUser, db: Db) -> ArchiveDetail:
    async with db.as_user(principal) as conn:
        row = await conn.fetchrow(
            f"select {ITEM_COLUMNS}, sentiment_avg, sentiment_timeline from archives where call_id = $1", call_id)
        if row is None:
            raise not_found("archived call")
        transcript = await conn.fetch(
            "select seq, speaker, text, brain, occurred_at from transcript_lines where call_id = $1 order by seq",
            call_id)
        tools = await conn.fetch(
            f"select {', '.join(ToolDecision.model_fields)} from tool_requests where call_id = $1"
            " order by requested_at", call_id)
    return ArchiveDetail(**dict(row), transcript=[TranscriptLine(**dict(t)) for t in transcript],
                         tool_requests=[ToolDecision(**dict(t)) for t in tools])
