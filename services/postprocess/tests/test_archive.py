"""Post-call archiving against a real PostgreSQL: summary and tags from the conversation, CSAT and the
sentiment timeline from the live scores, exactly once under redelivery and a crash mid-way, FCR flips."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import groq
import pytest

from contracts.analytics import SatisfactionScore, SentimentScore
from contracts.calls import CallEnded
from contracts.results import ArchiveSaved, FcrRevised, NotificationCreated
from postprocess.app import hosted_summary
from postprocess.archive import archive_call, record_score
from postprocess.config import Settings
from tests.factories import make_agent, make_user
from tests.fakes.chat_completions import ScriptedChatCompletions
from tests.integration.conftest import serve
from text_models.embedding import shared_embedder

WINDOW = timedelta(days=7)
CONVERSATION = [
    ("agent", "Hello, you have reached Acme Store Billing. How can I help?"),
    ("customer", "I was charged twice for my order ORD-1042."),
    ("customer", "Can you refund the double charge please?"),
    ("agent", "I've refunded $89.90 on order ORD-1042; the refund number is RF-1A2B3C."),
    ("customer", "Perfect, thank you!"),
]


async def make_call(conn: asyncpg.Connection, caller: str, started: datetime,
                    lines: list[tuple[str, str]] = CONVERSATION) -> CallEnded:
    supervisor = await make_user(conn, "supervisor")
    agent = await make_agent(conn, supervisor, "Billing")
    await conn.execute("update agents set tag_taxonomy = $2 where id = $1", agent,
                       ["refund", "double-charge", "shipping", "password-reset"])
    call = uuid.uuid4()
    ended = started + timedelta(minutes=4)
    await conn.execute(
        """insert into calls(id, supervisor_id, agent_id, agent_name, channel, caller, dialled_number, status,
                             queued_at, started_at, ended_at, end_reason, ended_by, brain)
           values ($1, $2, $3, 'Billing', 'chat', $4, '+1-555-0102', 'ended', $5, $5, $6, 'agent_resolved',
                   'agent', 'local-minilm')""", call, supervisor, agent, caller, started, ended)
    for seq, (speaker, text) in enumerate(lines):
        await conn.execute("insert into transcript_lines(call_id, seq, supervisor_id, speaker, text, occurred_at)"
                           " values ($1, $2, $3, $4, $5, $6)", call, seq, supervisor, speaker, text, started)
    await conn.execute(
        """insert into tool_requests(id, call_id, supervisor_id, agent_id, tool_name, arguments, requires_approval,
                                     status, result)
           values (gen_random_uuid(), $1, $2, $3, 'refund_order', $4, true, 'executed', $5)""",
        call, supervisor, agent, {"order_id": "ORD-1042"},
        {"ok": True, "message": CONVERSATION[3][1], "refund_id": "RF-1A2B3C", "amount": 89.9, "order_id": "ORD-1042"})
    return CallEnded(supervisor_id=supervisor, agent_id=agent, call_id=call, reason="agent_resolved",
                     ended_by="agent", channel="chat", caller=caller, started_at=started, ended_at=ended,
                     duration_seconds=240.0)


async def archive(pool: asyncpg.Pool, ended: CallEnded) -> list:
    async with pool.acquire() as conn, conn.transaction():
        return await archive_call(conn, ended, shared_embedder(), WINDOW)


async def test_a_call_is_archived_with_summary_tags_csat_and_timeline(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        ended = await make_call(conn, f"{uuid.uuid4().hex[:8]}@example.com", datetime.now(UTC) - timedelta(hours=1))
        ids = {"supervisor_id": ended.supervisor_id, "agent_id": ended.agent_id, "call_id": ended.call_id}
        for score, label in ((-0.6, "negative"), (0.7, "positive")):
            await record_score(conn, SentimentScore(**ids, label=label, score=score, trend=0, utterances=1, model="m"))
        await record_score(conn, SatisfactionScore(**ids, score=4.4, reasons=["resolved"], source="local-formula"))
    events = await archive(pool, ended)
    assert [type(e) for e in events] == [ArchiveSaved, NotificationCreated]
    saved = events[0]  # what analytics aggregates, without reading the database
    assert (saved.started_at, saved.agent_name, saved.resolved, saved.sentiment_label) == (
        ended.started_at, "Billing", True, "positive")
    assert (saved.tool_requests, saved.tools_denied, saved.csat) == (1, 0, 4.4)
    async with pool.acquire() as conn:
        row = await conn.fetchrow("select * from archives where call_id = $1", ended.call_id)
        note = await conn.fetchval("select title from notifications where call_id = $1", ended.call_id)
    assert "charged twice" in row["summary"] or "double charge" in row["summary"]
    assert "RF-1A2B3C" in row["summary"] and "Outcome: resolved" in row["summary"]
    assert "refund" in row["tags"] and row["resolved"] and row["fcr"]
    assert float(row["csat"]) == 4.4 and row["handle_seconds"] == 240
    assert row["sentiment_label"] == "positive" and float(row["sentiment_avg"]) == pytest.approx(0.05)
    assert row["summary_source"] == "local-extractive" and note == "Billing: call resolved"


async def test_archived_exactly_once_under_redelivery_and_a_crash_mid_way(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        ended = await make_call(conn, f"{uuid.uuid4().hex[:8]}@example.com", datetime.now(UTC))
    with pytest.raises(RuntimeError):  # the service dies after archiving, before committing
        async with pool.acquire() as conn, conn.transaction():
            assert await archive_call(conn, ended, shared_embedder(), WINDOW)
            raise RuntimeError("crash")
    assert len(await archive(pool, ended)) == 2  # the redelivery after the restart does it all
    assert await archive(pool, ended) == []  # and a duplicate delivery does nothing
    async with pool.acquire() as conn:
        assert await conn.fetchval("select count(*) from archives where call_id = $1", ended.call_id) == 1
        assert await conn.fetchval("select count(*) from notifications where call_id = $1", ended.call_id) == 1


async def test_a_repeat_call_on_the_same_topic_flips_the_earlier_fcr(pool: asyncpg.Pool) -> None:
    caller = f"{uuid.uuid4().hex[:8]}@example.com"
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        first = await make_call(conn, caller, now - timedelta(days=3))
        long_ago = await make_call(conn, caller, now - timedelta(days=30))
        again = await make_call(conn, caller, now)
    for ended in (long_ago, first):
        await archive(pool, ended)
    events = await archive(pool, again)
    revisions = [e for e in events if isinstance(e, FcrRevised)]
    assert [(r.call_id, r.repeat_call_id, r.agent_id) for r in revisions] == [(first.call_id, again.call_id,
                                                                               first.agent_id)]
    async with pool.acquire() as conn:
        fcr = {r["call_id"]: r["fcr"] for r in await conn.fetch(
            "select call_id, fcr from archives where caller = $1", caller)}
    assert fcr == {first.call_id: False, long_ago.call_id: True, again.call_id: True}


async def test_an_unresolved_call_says_so(pool: asyncpg.Pool) -> None:
    lines = [("customer", "My password reset email never arrives."),
             ("agent", "I'm not sure about that. I can open a ticket."),
             ("customer", "This is useless, get me a manager.")]
    async with pool.acquire() as conn:
        ended = await make_call(conn, "anonymous", datetime.now(UTC), lines)
    await archive(pool, ended.model_copy(update={"reason": "customer_hangup", "event_id": uuid.uuid4()}))
    async with pool.acquire() as conn:
        row = await conn.fetchrow("select summary, tags, resolved, fcr from archives where call_id = $1",
                                  ended.call_id)
    assert not row["resolved"] and not row["fcr"]
    assert "escalation" in row["summary"] and "password-reset" in row["tags"]


async def test_a_redelivered_call_ended_asks_groq_for_nothing(pool: asyncpg.Pool) -> None:
    scripted = ScriptedChatCompletions([{"summary": "The customer was refunded for a double charge.",
                                         "tags": ["refund"], "resolved": True, "reason": "refund issued"}])
    served = serve(scripted.app())
    client = groq.AsyncGroq(api_key="fake-groq-key", base_url=served.url, max_retries=0)
    settings = Settings(groq_api_key="fake-groq-key")
    try:
        async with pool.acquire() as conn:
            ended = await make_call(conn, f"{uuid.uuid4().hex[:8]}@example.com", datetime.now(UTC))
        summary, _ = await hosted_summary(pool, client, settings, ended)
        assert summary is not None and len(scripted.requests) == 1
        async with pool.acquire() as conn, conn.transaction():
            await archive_call(conn, ended, shared_embedder(), WINDOW, summary)
        assert await hosted_summary(pool, client, settings, ended) == (None, "")
        assert len(scripted.requests) == 1
    finally:
        served.stop()
