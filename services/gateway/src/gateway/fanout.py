"""SSE fan-out: each browser stream reads the bus through its own ephemeral JetStream consumer,
filtered on the bus to the subjects its viewer may see (never everything, filtered afterwards).

The SSE event id is the CALLS stream sequence, so a client that reconnects with Last-Event-ID is
replayed exactly what it missed, in order, with no duplicates.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sse_starlette import ServerSentEvent

from contracts.bus import Bus

READY_EVENT = "ready"
ERROR_EVENT = "error"
# How soon a browser whose stream ended on an error tries again.
RETRY_MS = 2000

log = logging.getLogger("gateway.fanout")


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


async def bus_events(bus: Bus, filter_subjects: list[str], last_event_id: int | None,
                     since: datetime | None = None, poll_seconds: float = 5.0) -> AsyncIterator[ServerSentEvent]:
    """Yield the bus events for these subjects as SSE events: from just after ``last_event_id``; else
    from ``since``; else from now, announced by a ``ready`` event whose id a reconnect can resume from.
    When the bus cannot serve the stream (it is away, or refuses another reader), a last ``error`` event
    says so and the stream ends: the browser reconnects from its last event id."""
    try:
        async with bus.tail(filter_subjects, after=last_event_id, since=since) as tail:
            if last_event_id is None and since is None:
                yield ServerSentEvent(id=str(tail.start_sequence), event=READY_EVENT, data="{}")
            while True:
                for sequence, event in await tail.next_batch(poll_seconds):
                    yield ServerSentEvent(id=str(sequence), event=event.type, data=event.model_dump_json())
    except Exception as exc:  # whatever the bus says, the viewer gets a reason, not a dead stream
        log.warning("a live stream ended: the bus could not serve it (%s)", exc)
        yield ServerSentEvent(event=ERROR_EVENT, retry=RETRY_MS, data=json.dumps({
            "error": "stream_unavailable", "message": "the live stream was interrupted; reconnecting"}))


def parse_last_event_id(header: str | None, query: str | None) -> int | None:
    raw = query if query is not None else header
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise ValueError("Last-Event-ID must be the id of an event this stream sent (a whole number)")
    return int(raw)
