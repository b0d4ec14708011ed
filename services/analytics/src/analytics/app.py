"""setup(runtime): wires analytics's handlers to the bus; nothing runs at import time."""

from __future__ import annotations

from analytics.config import Settings
from contracts.service import Runtime


async def setup(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    runtime.health_details.update(live_counter_interval_seconds=settings.live_counter_interval_seconds)
