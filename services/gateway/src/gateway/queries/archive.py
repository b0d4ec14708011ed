"""The call archive: searching it, and one archived call in full."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from gateway.queries import Reader, calls
from gateway.schemas import ArchiveDetail, ArchiveItem, ArchivePage

ITEM_COLUMNS = ", ".join(ArchiveItem.model_fields)
# Counting every match of a broad search over millions of calls costs more than the page itself; past
# this many the answer says "at least" (fifty pages of twenty).
COUNT_LIMIT = 1_000


async def search(db: Reader, *, agent_id: UUID | None, date_from: datetime | None, date_to: datetime | None,
                 tag: str | None, words: str | None, sentiment: str | None, supervisor_id: UUID | None,
                 page: int, page_size: int) -> ArchivePage:
    """Newest first; a filter left as None (or empty words) does not apply."""
    # Only the filters given go into the SQL, so each search shape gets a plan that uses its index.
    filters = (("agent_id = {}", agent_id), ("started_at >= {}", date_from), ("started_at < {}", date_to),
               ("tags @> array[{}::text]", tag.lower() if tag else None),
               ("search @@ websearch_to_tsquery('english', {})", words or None), ("sentiment_label = {}", sentiment),
               ("supervisor_id = {}", supervisor_id))
    clauses: list[str] = []
    args: list[object] = []
    for template, value in filters:
        if value is not None:
            args.append(value)
            clauses.append(template.format(f"${len(args)}"))
    where = " and ".join(clauses) or "true"
    total = await db.fetchval(
        f"select count(*) from (select 1 from archives where {where} limit {COUNT_LIMIT + 1}) matches", *args)
    rows = await db.fetch(
        f"select {ITEM_COLUMNS} from archives where {where} order by started_at desc"
        f" limit ${len(args) + 1} offset ${len(args) + 2}", *args, page_size, (page - 1) * page_size)
    return ArchivePage(items=[ArchiveItem(**dict(r)) for r in rows], total=min(total, COUNT_LIMIT),
                       total_is_lower_bound=total > COUNT_LIMIT, page=page, page_size=page_size)


async def archived_call(db: Reader, call_id: UUID) -> ArchiveDetail | None:
    row = await db.fetchrow(
        f"select {ITEM_COLUMNS}, sentiment_avg, sentiment_timeline from archives where call_id = $1", call_id)
    if row is None:
        return None
    return ArchiveDetail(**dict(row), transcript=await calls.transcript(db, call_id),
                         tool_requests=await calls.tool_requests(db, call_id))
