"""setup(runtime): wires postprocess's handlers to the bus; nothing runs at import time."""

from __future__ import annotations

from contracts.service import Runtime
from postprocess.config import Settings


async def setup(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    runtime.health_details.update(summariser="groq" if settings.groq_api_key else "local",
                                  fcr_window_days=settings.fcr_window_days)
