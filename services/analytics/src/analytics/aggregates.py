"""Keeping ``agent_daily_kpis`` up to date from archive events: plain functions over a connection.

Each event is claimed in the same transaction as its increment, so a redelivered event or a restart
mid-way never counts a call twice. The claim is keyed by the call, not the event id: a call is
archived once and loses its FCR at most once, and ``rebuild`` (which derives the table from the archive
in one pass, for a database that had archives before analytics ran) can then claim what it counted,
so events still in the stream for those calls are not counted again. A test holds the two to agreeing.
"""

from __future__ import annotations

from datetime import UTC, date

import asyncpg

from contracts.calls import CallEnded
from contracts.db import claim_event
from contracts.locks import LockKey, session_lock
from contracts.results import ArchiveSaved, FcrRevised
from contracts.tools import REFUSED_STATUSES

ARCHIVE_CLAIMS = "analytics.archive"
REVISION_CLAIMS = "analytics.fcr_revision"
ENDED_CLAIMS = "analytics.call_ended"
# What an ended call adds to its day's row: ended, answered, abandoned before or after an answer, and
# the answered caller's wait.
ENDED_COLUMNS = ("ended_calls", "answered_calls", "abandoned_in_queue", "abandoned_in_call",
                 "answer_wait_seconds_sum")


class RevisionBeforeArchive(Exception):
    """The FCR revision arrived before the archive event it revises; a redelivery will find it."""


def utc_day(event: ArchiveSaved | FcrRevised) -> date:
    return event.started_at.astimezone(UTC).date()


async def add_archived_call(conn: asyncpg.Connection, saved: ArchiveSaved) -> bool:
    """Fold one archived call into its day's row; False when the event was counted before."""
    if not await claim_event(conn, ARCHIVE_CLAIMS, saved.call_id):
        return False
    await conn.execute(
        """insert into agent_daily_kpis as k (day, agent_id, supervisor_id, agent_name, calls, handle_seconds_sum,
                                              csat_sum, csat_count, fcr_count, resolved_count, sentiment_negative,
                                              sentiment_neutral, sentiment_positive, tool_requests, tools_denied,
                                              taken_over)
           values ($1, $2, $3, $4, 1, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
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
               taken_over = k.taken_over + excluded.taken_over,
               updated_at = now()""",
        utc_day(saved), saved.agent_id, saved.supervisor_id, saved.agent_name, saved.handle_seconds,
        saved.csat or 0, int(saved.csat is not None), int(saved.fcr), int(saved.resolved),
        int(saved.sentiment_label == "negative"), int(saved.sentiment_label == "neutral"),
        int(saved.sentiment_label == "positive"), saved.tool_requests, saved.tools_denied, int(saved.taken_over))
    return True


def ended_day(ended: CallEnded) -> date:
    return (ended.started_at or ended.ended_at).astimezone(UTC).date()


async def add_ended_call(conn: asyncpg.Connection, ended: CallEnded) -> bool:
    """Fold one ended call (answered or not) into its day's row; False when it was counted before."""
    if not await claim_event(conn, ENDED_CLAIMS, ended.call_id):
        return False
    answered = ended.started_at is not None
    wait = round(ended.queued_seconds, 1) if answered else 0.0
    await conn.execute(
        f"""insert into agent_daily_kpis as k (day, agent_id, supervisor_id, agent_name, {', '.join(ENDED_COLUMNS)},
                                               answer_wait_seconds_max)
            values ($1, $2, $3, coalesce((select agent_name from calls where id = $4), ''), 1, $5, $6, $7, $8, $8)
            on conflict (supervisor_id, day, agent_id) do update set
                {', '.join(f"{c} = k.{c} + excluded.{c}" for c in ENDED_COLUMNS)},
                answer_wait_seconds_max = greatest(k.answer_wait_seconds_max, excluded.answer_wait_seconds_max),
                updated_at = now()""",
        ended_day(ended), ended.agent_id, ended.supervisor_id, ended.call_id, int(answered),
        int(ended.reason == "abandoned_in_queue"), int(ended.reason == "abandoned"), wait)
    return True


async def revise_fcr(conn: asyncpg.Connection, revised: FcrRevised) -> bool:
    """Take the revised call out of its day's FCR count; False when the event was counted before."""
    if not await claim_event(conn, REVISION_CLAIMS, revised.call_id):
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
    """Recompute the whole table from the archive, inside the caller's (repeatable read) transaction, and
    claim the calls it counted; returns the number of rows."""
    await conn.execute("delete from agent_daily_kpis")
    await conn.execute(
        """insert into processed_events(consumer, event_id)
           select $1, call_id from archives where agent_id is not null
           union all select $2, call_id from archives where agent_id is not null and not fcr
           on conflict do nothing""", ARCHIVE_CLAIMS, REVISION_CLAIMS)
    status = await conn.execute(
        """insert into agent_daily_kpis (day, agent_id, supervisor_id, agent_name, calls, handle_seconds_sum,
                                         csat_sum, csat_count, fcr_count, resolved_count, sentiment_negative,
                                         sentiment_neutral, sentiment_positive, tool_requests, tools_denied,
                                         taken_over)
           select (a.started_at at time zone 'utc')::date, a.agent_id, a.supervisor_id, max(a.agent_name), count(*),
                  sum(a.handle_seconds), coalesce(sum(a.csat), 0), count(a.csat), count(*) filter (where a.fcr),
                  count(*) filter (where a.resolved),
                  count(*) filter (where a.sentiment_label = 'negative'),
                  count(*) filter (where a.sentiment_label = 'neutral'),
                  count(*) filter (where a.sentiment_label = 'positive'),
                  coalesce(sum(t.requests), 0), coalesce(sum(t.denied), 0),
                  count(*) filter (where c.takeovers > 0)
           from archives a
           join calls c on c.id = a.call_id
           left join (select call_id, count(*) as requests,
                             count(*) filter (where status = any($1::text[])) as denied
                      from tool_requests group by call_id) t on t.call_id = a.call_id
           where a.agent_id is not null
           group by 1, a.agent_id, a.supervisor_id""", list(REFUSED_STATUSES))
    await conn.execute(
        """insert into processed_events(consumer, event_id)
           select $1, id from calls where status = 'ended' and agent_id is not null and ended_at is not null
           on conflict do nothing""",
        ENDED_CLAIMS)
    await conn.execute(
        """insert into agent_daily_kpis as k (day, agent_id, supervisor_id, agent_name, ended_calls, answered_calls,
                                              abandoned_in_queue, abandoned_in_call, answer_wait_seconds_sum,
                                              answer_wait_seconds_max)
           select (coalesce(started_at, ended_at) at time zone 'utc')::date, agent_id, supervisor_id,
                  max(agent_name), count(*), count(started_at),
                  count(*) filter (where end_reason = 'abandoned_in_queue'),
                  count(*) filter (where end_reason = 'abandoned'),
                  coalesce(sum(round(extract(epoch from started_at - queued_at)::numeric, 1)), 0),
                  coalesce(max(round(extract(epoch from started_at - queued_at)::numeric, 1)), 0)
           from calls where status = 'ended' and agent_id is not null and ended_at is not null
           group by 1, agent_id, supervisor_id
           on conflict (supervisor_id, day, agent_id) do update set
               ended_calls = excluded.ended_calls, answered_calls = excluded.answered_calls,
               abandoned_in_queue = excluded.abandoned_in_queue, abandoned_in_call = excluded.abandoned_in_call,
               answer_wait_seconds_sum = excluded.answer_wait_seconds_sum,
               answer_wait_seconds_max = excluded.answer_wait_seconds_max""")
    return int(status.split()[-1])


async def rebuild_if_empty(pool: asyncpg.Pool) -> int | None:
    """At start-up: fill an empty table from an archive that has calls (demo data, a first deployment of
    analytics on a running platform); returns the rows written, or None when there was nothing to do."""
    async with pool.acquire() as conn:
        async with session_lock(conn, LockKey.AGGREGATE_REBUILD):
            async with conn.transaction(isolation="repeatable_read"):
                if await conn.fetchval("select exists(select 1 from agent_daily_kpis)") or \
                        not await conn.fetchval("select exists(select 1 from archives)"):
                    return None
                return await rebuild(conn)
