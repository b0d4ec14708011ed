"""Reading calls: the directory a customer dials from, a call as it stands, its transcript and tool
requests. A pool or a connection: the caller decides whether row-level security applies."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import UUID

import asyncpg

from gateway.queries import Reader
from gateway.queries.tool_requests import COLUMNS as TOOL_REQUEST_COLUMNS
from gateway.schemas import DirectoryEntry, LiveCall, ToolDecision, TranscriptLine

# The holder's name is not a column of calls: it is read apart (holder_names), from users, which row-level
# security hides from everyone but their owner.
LIVE_COLUMNS = ", ".join(name for name in LiveCall.model_fields if name != "taken_over_by_name")


async def directory(db: Reader) -> list[DirectoryEntry]:
    rows = await db.fetch(
        """select a.name, a.phone_number from agents a join users u on u.id = a.supervisor_id
           where a.active and u.active order by a.name""")
    return [DirectoryEntry(**dict(r)) for r in rows]


async def agent_answering(db: Reader, number: str) -> asyncpg.Record | None:
    return await db.fetchrow("select id, supervisor_id, name, active from agents where phone_number = $1", number)


async def live_call(db: Reader, call_id: UUID) -> asyncpg.Record | None:
    return await db.fetchrow(f"select {LIVE_COLUMNS} from calls where id = $1", call_id)


async def person_names(db: Reader, user_ids: Iterable[UUID | None]) -> dict[UUID, str]:
    """How people are named to others: their full name, else their email."""
    wanted = list({user_id for user_id in user_ids if user_id is not None})
    if not wanted:
        return {}
    rows = await db.fetch("select id, coalesce(nullif(full_name, ''), email) as name from users where id = any($1)",
                          wanted)
    return {row["id"]: row["name"] for row in rows}


async def person_name(db: Reader, user_id: UUID) -> str | None:
    return (await person_names(db, [user_id])).get(user_id)


async def live_calls(db: Reader, agent_id: UUID | None, taken_over: bool | None) -> list[asyncpg.Record]:
    """The calls not ended, of one agent or all; ``taken_over``: only those a person has (true) or not (false)."""
    return await db.fetch(
        f"""select {LIVE_COLUMNS} from calls where status <> 'ended' and ($1::uuid is null or agent_id = $1)
              and ($2::boolean is null or (taken_over_by is not null) = $2)
            order by queued_at""", agent_id, taken_over)


async def with_holder_names(people: Reader, calls: Sequence[asyncpg.Record]) -> list[LiveCall]:
    """The calls as a dashboard reads them, each naming who has it (``people``: a reader that sees users)."""
    names = await person_names(people, (call["taken_over_by"] for call in calls))
    return [LiveCall(**dict(call), taken_over_by_name=names.get(call["taken_over_by"])) for call in calls]


async def transcript(db: Reader, call_id: UUID) -> list[TranscriptLine]:
    rows = await db.fetch(
        "select seq, speaker, text, brain, occurred_at from transcript_lines where call_id = $1 order by seq", call_id)
    return [TranscriptLine(**dict(r)) for r in rows]


async def tool_requests(db: Reader, call_id: UUID) -> list[ToolDecision]:
    rows = await db.fetch(f"select {TOOL_REQUEST_COLUMNS} from tool_requests where call_id = $1 order by requested_at",
                          call_id)
    return [ToolDecision(**dict(r)) for r in rows]
