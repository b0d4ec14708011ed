"""SSE fan-out: each browser stream reads the bus through its own ephemeral JetStream consumer,
filtered on the bus to the subjects its viewer may see (never everything, filtered afterwards).

The SSE event id is the CALLS stream sequence, so a client that reconnects with Last-Event-ID is
replayed exactly what it missed, in order, with no duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError
from sse_starlette import ServerSentEvent

from contracts.registry import decode_event
from contracts.subjects import CALLS_STREAM

log = logging.getLogger("gateway.fanout")

# A consumer whose gateway died is removed by the server after this long without a fetch.
CONSUMER_INACTIVE_SECONDS = 30.0
READY_EVENT = "ready"


@dataclass
class StreamSlots:
    """How many streams of a kind each viewer has open; refuses past the limit."""

    open: Counter[str] = field(default_factory=Counter)

    @contextlib.contextmanager
    def hold(self, key: str, limit: int | None) -> Iterator[bool]:
        if limit is not None and self.open[key] >= limit:
            yield False
            return
        self.open[key] += 1
        try:
            yield True
        finally:
            self.open[key] -= 1
            if not self.open[key]:
                del self.open[key]

    @property
    def total(self) -> int:
        return sum(self.open.values())


def consumer_config(filter_subjects: list[str], last_event_id: int | None,
                    since: datetime | None = None) -> ConsumerConfig:
    if last_event_id is not None:
        policy = DeliverPolicy.BY_START_SEQUENCE
    else:
        policy = DeliverPolicy.NEW if since is None else DeliverPolicy.BY_START_TIME
    return ConsumerConfig(
        name=f"sse-{uuid.uuid4().hex}",
        filter_subjects=filter_subjects,
        ack_policy=AckPolicy.NONE,
        deliver_policy=policy,
        opt_start_seq=(last_event_id + 1) if last_event_id is not None else None,
        opt_start_time=since.isoformat() if policy == DeliverPolicy.BY_START_TIME and since else None,
        inactive_threshold=CONSUMER_INACTIVE_SECONDS,
        mem_storage=True,
        num_replicas=1,
    )


async def bus_events(js: JetStreamContext, filter_subjects: list[str], last_event_id: int | None,
                     since: datetime | None = None, poll_seconds: float = 5.0) -> AsyncIterator[ServerSentEvent]:
    """Yield the bus events for these subjects as SSE events: from just after ``last_event_id``; else
    from ``since``; else from now, announced by a ``ready`` event whose id a reconnect can resume from."""
    config = consumer_config(filter_subjects, last_event_id, since)
    subscription: JetStreamContext.PullSubscription | None = None
    try:
        # Inside the try: a viewer who leaves while the consumer is being created must not leak it.
        info = await js.add_consumer(CALLS_STREAM, config)
        subscription = await js.pull_subscribe_bind(consumer=config.name, stream=CALLS_STREAM)
        if config.deliver_policy == DeliverPolicy.NEW:
            yield ServerSentEvent(id=str(info.delivered.stream_seq), event=READY_EVENT, data="{}")
        while True:
            try:
                messages = await subscription.fetch(100, timeout=poll_seconds)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            for message in messages:
                try:
                    event = decode_event(message.data)
                except ValidationError:
                    log.error("invalid event on %s not forwarded to the browser", message.subject)
                    continue
                yield ServerSentEvent(id=str(message.metadata.sequence.stream), event=event.type,
                                      data=event.model_dump_json())
    finally:
        # Clean up at once on disconnect rather than waiting for the inactivity threshold; shielded so
        # the cancellation that ended the stream does not also cancel its clean-up.
        with contextlib.suppress(Exception):
            await asyncio.shield(_release(js, config.name, subscription))


async def _release(js: JetStreamContext, consumer: str, subscription: JetStreamContext.PullSubscription | None) -> None:
    if subscription is not None:
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()
    await js.delete_consumer(CALLS_STREAM, consumer)


def parse_last_event_id(header: str | None, query: str | None) -> int | None:
    raw = query if query is not None else header
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise ValueError("Last-Event-ID must be the id of an event this stream sent (a whole number)")
    return int(raw)
