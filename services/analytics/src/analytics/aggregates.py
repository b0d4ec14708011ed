"""Keeping ``agent_daily_kpis`` up to date from archive events: plain functions over a connection.

Each event is claimed in the same transaction as its increment, so a redelivered event or a restart
mid-way never counts a call twice. ``rebuild`` derives the same table from the archive in one pass
(after a restore, or to load generated data); a test holds the two to agreeing.
"""

from __future__ import annotations

from datetime import UTC, date

import asyncpg

from contracts.db import claim_event
from contracts.results import ArchiveSaved, FcrRevised

CONSUMER = "analytics"


class RevisionBeforeArchive(Exception):
    """The FCR revision arrived before the archive event it revises; a redelivery will find it."""


def utc_day(event: ArchiveSaved | FcrRevised) -> date:
    return event.started_at.astimezone(UTC).date()


async def add_archived_call(conn: asyncpg.Connection, saved: ArchiveSaved) -> bool:
    """Fold one archived call into its day's row; False when the event was counted before."""
    if not await claim_event(conn, CONSUMER, saved.event_id):
        return False
    await conn.execute(
        """insert into agent_daily_kpis as k (day, agent_id, supervisor_id, agent_name, calls, handle_seconds_sum,
                                              csat_sum, csat_count, fcr_count, resolved_count, sentiment_negative,
                                              sentiment_neutral, sentiment_positive, tool_requests, tools_denied)
           values ($1, $2, $3, $4, 1, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
           on conflict (supervisor_id, day, agent_id) do update set
               agent_name = excluded.agent_name,
               calls = k.calls + 1,
               handle_seconds_sum = k.handle_seconds_sum + excluded.handle_seconds_sum,
               csat_sum = k.csat_sum + excluded.csat_sum,
               csat_count = k.csat_count + excluded.csat_count,
               fcr_count = k.fcr_count + excluded.fcr_count,
               resolved_count = k.resolved_count + excluded.resolved_count,
               sentiment_negative = k.sentiment_negative + excluded.sentiment_negative,
               sentiment_neutral = k.sentiment_neutral + excluded.sentiment_neutral,
               sentiment_positive = k.sentiment_positive + excluded.sentiment_positive,
               tool_requests = k.tool_requests + excluded.tool_requests,
               tools_denied = k.tools_denied + excluded.tools_denied,
               updated_at = now()""",
        utc_day(saved), saved.agent_id, saved.supervisor_id, saved.agent_name, saved.handle_seconds,
        saved.csat or 0, int(saved.csat is not None), int(saved.fcr), int(saved.resolved),
        int(saved.sentiment_label == "negative"), int(saved.sentiment_label == "neutral"),
        int(saved.sentiment_label == "positive"), saved.tool_requests, saved.tools_denied)
    return True


async def revise_fcr(conn: asyncpg.Connection, revised: FcrRevised) -> bool:
    """Take the revised call out of its day's FCR count; False when the event was counted before."""
    if not await claim_event(conn, CONSUMER, revised.event_id):
        return False
    status = await conn.execute(
        """update agent_daily_kpis set fcr_count = fcr_count - 1, updated_at = now()
           where supervisor_id = $1 and day = $2 and agent_id = $3 and fcr_count > 0""",
        revised.supervisor_id, utc_day(revised), revised.agent_id)
    if status.endswith(" 0"):
        # Raising rolls the claim back with it, so the redelivery is handled afresh.
        raise RevisionBeforeArchive(f"no first-contact resolution counted yet for call {revised.call_id}")
    return True


async def rebuild(conn: asyncpg.Connection) -> int:
    """Recompute the whole table from the archive (inside the caller's transaction); returns its rows."""
    await conn.execute("delete from agent_daily_kpis")
    status = await conn.execute(
        """insert into agent_daily_kpis (day, agent_id, supervisor_id, agent_name, calls, handle_seconds_sum,
                                         csat_sum, csat_count, fcr_count, resolved_count, sentiment_negative,
                                         sentiment_neutral, sentiment_positive, tool_requests, tools_denied)
           select (a.started_at at time zone 'utc')::date, a.agent_id, a.supervisor_id, max(a.agent_name), count(*),
                  sum(a.handle_seconds), coalesce(sum(a.csat), 0), count(a.csat), count(*) filter (where a.fcr),
                  count(*) filter (where a.resolved),
                  count(*) filter (where a.sentiment_label = 'negative'),
                  count(*) filter (where a.sentiment_label = 'neutral'),
                  count(*) filter (where a.sentiment_label = 'positive'),
                  coalesce(sum(t.requests), 0), coalesce(sum(t.denied), 0)
           from archives a
           left join (select call_id, count(*) as requests,
                             count(*) filter (where status in ('denied', 'timed_out')) as denied
                      from tool_requests group by call_id) t on t.call_id = a.call_id
           where a.agent_id is not null
           group by 1, a.agent_id, a.supervisor_id""")
    return int(status.split()[-1])
