"""From a finished call to its archive entry: plain functions over a PostgreSQL connection.

Exactly once: the call.ended event is claimed in the same transaction as the archive row, the FCR
flips, the notification and the staged events, so a redelivery or a restart mid-way either finds the
claim or redoes everything.
"""

from __future__ import annotations

import asyncio
import json
import statistics
from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import asyncpg

from contracts.analytics import SatisfactionScore, SentimentScore
from contracts.calls import ANONYMOUS_CALLER, CallEnded, CallRef
from contracts.db import claim_event
from contracts.envelope import Envelope
from contracts.results import ArchiveSaved, FcrRevised, NotificationCreated
from contracts.tools import REFUSED_STATUSES
from postprocess.summary import Line, Outcome, ToolUse, summarise
from text_models.embedding import Embedder

CONSUMER = "postprocess"


async def record_score(conn: asyncpg.Connection, event: SentimentScore | SatisfactionScore) -> None:
    """Keep a live score for the archive (sentiment timeline, last satisfaction estimate)."""
    if event.call_id is None or not await conn.fetchval("select exists(select 1 from calls where id = $1)",
                                                        event.call_id):
        return
    if isinstance(event, SentimentScore):
        point = json.dumps([{"at": event.occurred_at.isoformat(), "score": event.score, "label": event.label}])
        await conn.execute(
            """insert into call_scores(call_id, sentiment_timeline) values ($1, $2::text::jsonb)
               on conflict (call_id) do update
               set sentiment_timeline = call_scores.sentiment_timeline || excluded.sentiment_timeline,
                   updated_at = now()""", event.call_id, point)
    else:
        await conn.execute(
            """insert into call_scores(call_id, satisfaction, satisfaction_reasons)
               values ($1, $2, $3::text::jsonb)
               on conflict (call_id) do update set satisfaction = excluded.satisfaction,
                   satisfaction_reasons = excluded.satisfaction_reasons, updated_at = now()""",
            event.call_id, event.score, json.dumps(event.reasons))


async def load_conversation(conn: asyncpg.Connection, call: asyncpg.Record) -> tuple[list[Line], list[str]]:
    """The call's transcript and its agent's tag taxonomy."""
    lines = [Line(r["speaker"], r["text"]) for r in await conn.fetch(
        "select speaker, text from transcript_lines where call_id = $1 order by seq", call["id"])]
    taxonomy = await conn.fetchval("select tag_taxonomy from agents where id = $1", call["agent_id"]) or []
    return lines, list(taxonomy)


async def archive_call(conn: asyncpg.Connection, ended: CallEnded, embedder: Embedder,
                       fcr_window: timedelta, summary: Outcome | None = None,
                       fallback_note: str = "") -> list[Envelope]:
    """Archive the call (inside the caller's transaction); returns the events to publish. ``summary``: one
    made already (by Groq); otherwise the offline one, its source marked with ``fallback_note``."""
    if not await claim_event(conn, CONSUMER, ended.event_id):
        return []
    call = await conn.fetchrow("select * from calls where id = $1", ended.call_id)
    if call is None or call["started_at"] is None:
        return []  # a caller who left the queue was never served: nothing to archive
    lines, taxonomy = await load_conversation(conn, call)
    tools = await conn.fetch(
        """select tool_name, status, arguments, result, error, note, requires_approval from tool_requests
           where call_id = $1 order by requested_at""", ended.call_id)
    # CPU work (embeddings): on a thread, so the event loop goes on taking scores and other calls' ends
    outcome = summary or await asyncio.to_thread(
        summarise, embedder, lines, taxonomy,
        [ToolUse(t["tool_name"], t["status"], t["arguments"], t["result"], t["error"], t["note"],
                 t["requires_approval"]) for t in tools],
        ended.reason)
    if summary is None and fallback_note:
        outcome = replace(outcome, source=f"{outcome.source} ({fallback_note})")
    scores = await conn.fetchrow("select * from call_scores where call_id = $1", ended.call_id)
    timeline = scores["sentiment_timeline"] if scores else []
    sentiment_avg = statistics.fmean(p["score"] for p in timeline) if timeline else None
    handle = (call["ended_at"] - call["started_at"]).total_seconds()
    inserted = await conn.fetchval(
        """insert into archives(call_id, supervisor_id, agent_id, agent_name, channel, caller, started_at, ended_at,
                                handle_seconds, summary, tags, csat, fcr, resolved, sentiment_label, sentiment_avg,
                                sentiment_timeline, summary_source, brain)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15, $16::text::jsonb, $17, $18)
           on conflict (call_id) do nothing returning true""",
        ended.call_id, call["supervisor_id"], call["agent_id"], call["agent_name"], call["channel"], call["caller"],
        call["started_at"], call["ended_at"], round(handle, 1), outcome.summary, outcome.tags,
        scores["satisfaction"] if scores else None, outcome.resolved,
        timeline[-1]["label"] if timeline else None, round(sentiment_avg, 3) if sentiment_avg is not None else None,
        json.dumps(timeline), outcome.source, call["brain"])
    if not inserted:
        return []
    revisions = await flip_earlier_fcr(conn, call, outcome.tags, fcr_window)
    notification_id = uuid4()
    title = f"{call['agent_name']}: call {'resolved' if outcome.resolved else 'ended unresolved'}"
    if ended.reason == "abandoned":  # the supervisor should know nobody hung up: the customer vanished
        title += " (abandoned: the customer left without hanging up)"
    await conn.execute(
        """insert into notifications(id, supervisor_id, call_id, kind, title, body)
           values ($1, $2, $3, 'call_ended', $4, $5)""",
        notification_id, call["supervisor_id"], ended.call_id, title, outcome.summary[:2000])
    ids = CallRef(supervisor_id=call["supervisor_id"], agent_id=call["agent_id"], call_id=ended.call_id).fields()
    return [ArchiveSaved(**ids, agent_name=call["agent_name"], started_at=call["started_at"], summary=outcome.summary,
                         tags=outcome.tags,
                         csat=float(scores["satisfaction"]) if scores and scores["satisfaction"] else None,
                         fcr=outcome.resolved, resolved=outcome.resolved, handle_seconds=round(handle, 1),
                         sentiment_label=timeline[-1]["label"] if timeline else None,
                         tool_requests=len(tools), tools_denied=sum(t["status"] in REFUSED_STATUSES for t in tools),
                         taken_over=call["takeovers"] > 0, summary_source=outcome.source),
            NotificationCreated(**ids, notification_id=notification_id, kind="call_ended", title=title,
                                body=outcome.summary[:2000]),
            *revisions]


async def flip_earlier_fcr(conn: asyncpg.Connection, call: asyncpg.Record, tags: list[str],
                           window: timedelta) -> list[FcrRevised]:
    """This caller came back about the same thing: their earlier calls were not first-contact resolutions."""
    if call["caller"] == ANONYMOUS_CALLER or not tags:
        return []
    flipped = await conn.fetch(
        """update archives set fcr = false
           where caller = $1 and call_id <> $2 and fcr and started_at >= $3::timestamptz - $4::interval
             and started_at < $3
             and tags && $5
           returning call_id, supervisor_id, agent_id, started_at""",
        call["caller"], call["id"], call["started_at"], window, tags)
    return [FcrRevised(call_id=r["call_id"], supervisor_id=r["supervisor_id"], agent_id=r["agent_id"],
                       started_at=r["started_at"], repeat_call_id=call["id"])
            for r in flipped if r["agent_id"] is not None]  # a deleted agent's history is not aggregated
