"""setup(runtime): archive every finished call exactly once, keeping the live scores it needs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import groq

from contracts import outbox
from contracts.analytics import SatisfactionScore, SentimentScore
from contracts.bus import Bus
from contracts.calls import CallEnded
from contracts.db import prune_claims_forever
from contracts.service import Runtime
from contracts.subscribers import Subscriber
from postprocess.archive import CONSUMER, archive_call, load_conversation, record_score
from postprocess.config import Settings
from postprocess.groq_summary import MODEL, SummaryUnavailable, groq_outcome
from postprocess.summary import SOURCE, Outcome
from text_models.embedding import shared_embedder

log = logging.getLogger("postprocess")


@dataclass
class Archivist:
    pool: asyncpg.Pool
    bus: Bus
    settings: Settings
    client: groq.AsyncGroq | None


subscriber = Subscriber[Archivist]("postprocess")


@subscriber.handles(SentimentScore, SatisfactionScore)
async def scored(archivist: Archivist, event: SentimentScore | SatisfactionScore) -> None:
    async with archivist.pool.acquire() as conn, conn.transaction():
        await record_score(conn, event)


@subscriber.handles(CallEnded)
async def ended(archivist: Archivist, event: CallEnded) -> None:
    pool, settings = archivist.pool, archivist.settings
    summary, note = None, ""
    if archivist.client is not None:  # the hosted summary first, outside the transaction (a network call)
        summary, note = await hosted_summary(pool, archivist.client, settings, event)
    async with pool.acquire() as conn, conn.transaction():
        events = await archive_call(conn, event, shared_embedder(), timedelta(days=settings.fcr_window_days),
                                    summary, note)
        await outbox.stage(conn, events)
    await outbox.send(pool, archivist.bus, events)


async def hosted_summary(pool: asyncpg.Pool, client: groq.AsyncGroq, settings: Settings,
                         ended: CallEnded) -> tuple[Outcome | None, str]:
    async with pool.acquire() as conn:
        call = await conn.fetchrow(
            """select id, agent_id, started_at, exists(select 1 from archives where call_id = $1) as archived
               from calls where id = $1""", ended.call_id)
        # A redelivered call.ended finds its call archived: no paid request for a summary nobody stores.
        if call is None or call["started_at"] is None or call["archived"]:
            return None, ""
        lines, taxonomy = await load_conversation(conn, call)
    try:
        return await groq_outcome(client, lines, taxonomy, ended.reason, settings.groq_attempts), ""
    except SummaryUnavailable as exc:
        log.warning("Groq summary unavailable (%s); using the offline summary", exc)
        return None, "groq unavailable"


async def setup(runtime: Runtime[Settings]) -> None:
    settings = runtime.settings
    assert runtime.pool is not None
    client = groq.AsyncGroq(api_key=settings.groq_api_key, base_url=settings.groq_base_url,
                             max_retries=0) if settings.groq_api_key else None  # we retry ourselves, then fall back
    runtime.health_details.update(summariser=f"groq:{MODEL}" if client else SOURCE,
                                  fcr_window_days=settings.fcr_window_days)
    shared_embedder()  # load the model at start-up, not on the first call
    archivist = Archivist(runtime.pool, runtime.bus, settings, client)
    runtime.run_forever(subscriber.consumer(runtime.bus, archivist, durable=CONSUMER).run(runtime.stop))
    runtime.run_forever(outbox.flush_forever(runtime.pool, runtime.bus))
    runtime.run_forever(prune_claims_forever(runtime.pool, [CONSUMER]))
