"""setup(runtime): wires agent-worker's handlers to the bus; nothing runs at import time."""

from __future__ import annotations

from agent_worker.config import Settings
from contracts.service import Runtime


async def setup(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    runtime.health_details.update(brain=settings.brain,
                                  tool_approval_timeout_seconds=settings.tool_approval_timeout_seconds)
