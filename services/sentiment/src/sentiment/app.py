"""setup(runtime): wires sentiment's handlers to the bus; nothing runs at import time."""

from __future__ import annotations

from contracts.service import Runtime
from sentiment.config import Settings


async def setup(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    runtime.health_details.update(model=settings.model_dir or "shipped",
                                  publish_interval_seconds=settings.publish_interval_seconds)
