"""setup(runtime): archive every finished call exactly once, keeping the live scores it needs."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import asyncpg

from contracts import outbox
from contracts.analytics import SatisfactionScore, SentimentScore
from contracts.bus import Bus, EventConsumer
from contracts.calls import CallEnded
from contracts.envelope import Envelope
from contracts.service import Runtime
from contracts.subjects import topic_filter
from postprocess.archive import CONSUMER, archive_call, record_score
from postprocess.config import Settings
from postprocess.summary import SOURCE
from text_models.embedding import shared_embedder

ACCEPTS = (SentimentScore, SatisfactionScore, CallEnded)


async def handle(pool: asyncpg.Pool, bus: Bus, settings: Settings, event: Envelope) -> None:
    async with pool.acquire() as conn, conn.transaction():
        if isinstance(event, SentimentScore | SatisfactionScore):
            await record_score(conn, event)
            return
        assert isinstance(event, CallEnded)
        events = await archive_call(conn, event, shared_embedder(), timedelta(days=settings.fcr_window_days))
        await outbox.stage(conn, events)
    await outbox.flush(pool, bus)


async def setup(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, Settings) and runtime.pool is not None
    runtime.health_details.update(summariser=SOURCE,  # the Groq path is not built yet
                                  fcr_window_days=settings.fcr_window_days)
    shared_embedder()  # load the model at start-up, not on the first call
    consumer = EventConsumer(runtime.bus, CONSUMER, sorted({topic_filter(e.topic) for e in ACCEPTS}),
                             partial(handle, runtime.pool, runtime.bus, settings), accepts=ACCEPTS)
    runtime.run_forever(consumer.run(runtime.stop))
    runtime.run_forever(outbox.flush_forever(runtime.pool, runtime.bus))
