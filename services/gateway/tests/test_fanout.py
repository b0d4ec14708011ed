"""The SSE fan-out when the bus cannot serve a stream."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from gateway.fanout import ERROR_EVENT, bus_events


class RefusingBus:
    """A bus that refuses another reader, as a server at its consumer limit does."""

    @contextlib.asynccontextmanager
    async def tail(self, *_args: Any, **_kwargs: Any) -> AsyncIterator[None]:
        raise RuntimeError("maximum consumers limit reached")
        yield


async def test_a_stream_the_bus_cannot_serve_ends_with_a_reason_and_a_retry() -> None:
    events = [event async for event in bus_events(RefusingBus(), ["call.>"], None)]  # type: ignore[arg-type]
    assert [event.event for event in events] == [ERROR_EVENT]
    assert json.loads(events[0].data)["error"] == "stream_unavailable" and events[0].retry
