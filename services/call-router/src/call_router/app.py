"""setup(runtime): wires call-router's handlers to the bus; nothing runs at import time."""

from __future__ import annotations

from call_router.config import Settings
from contracts.service import Runtime


async def setup(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    runtime.health_details.update(
        max_concurrent_calls=settings.max_concurrent_calls,
        livekit="configured" if settings.livekit_url else "not configured (chat only)")
