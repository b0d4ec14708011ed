"""Waiting, in a test, for what another task, service or process brings about."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any


async def eventually(check: Callable[[], Any], within: float = 10.0, every: float = 0.05) -> Any:
    """The first truthy value of ``check()`` (awaited when it returns an awaitable), asked every
    ``every`` seconds; the test fails if there is none within ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, f"not within {within} s"
        await asyncio.sleep(every)
