"""The call archive: search and one call in full. RLS limits a supervisor to their own calls."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query

from gateway.deps import CurrentUser, Db
from gateway.errors import ApiError, not_found
from gateway.schemas import ArchiveDetail, ArchiveItem, ArchivePage, Instant, SearchWords, ToolDecision, TranscriptLine

router = APIRouter(prefix="/api/archive", tags=["archive"])

ITEM_COLUMNS = ", ".join(ArchiveItem.model_fields)
# Counting every match of a broad search over millions of calls costs more than the page itself; past
# this many the answer says "at least" (fifty pages of twenty).
COUNT_LIMIT = 1_000


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
    # Only the filters given go into the SQL, so each search shape gets a plan that uses its index; the
    # supervisor's own filter repeats what row-level security enforces, so their index serves them.
    filters = (("agent_id = {}", agent_id), ("started_at >= {}", date_from), ("started_at < {}", date_to),
               ("tags @> array[{}::text]", tag.lower() if tag else None),
               ("search @@ websearch_to_tsquery('english', {})", q or None), ("sentiment_label = {}", sentiment),
               ("supervisor_id = {}", None if principal.is_admin else principal.user_id))
    clauses: list[str] = []
    args: list[object] = []
    for template, value in filters:
        if value is not None:
            args.append(value)
            clauses.append(template.format(f"${len(args)}"))
    where = " and ".join(clauses) or "true"
    async with db.as_user(principal) as conn:
        total = await conn.fetchval(
            f"select count(*) from (select 1 from archives where {where} limit {COUNT_LIMIT + 1}) matches", *args)
        rows = await conn.fetch(
            f"select {ITEM_COLUMNS} from archives where {where} order by started_at desc"
            f" limit ${len(args) + 1} offset ${len(args) + 2}", *args, page_size, (page - 1) * page_size)
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
