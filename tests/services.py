"""Run a bus service (its real setup, bus and database) inside the test process, on a thread and
event loop of its own, as `python -m <service>` would run it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from contracts.service import Runtime, Setup, run, start
from contracts.settings import ServiceSettings


@contextmanager
def running_service(name: str, settings: ServiceSettings, setup: Setup) -> Iterator[Runtime]:
    started = threading.Event()
    holder: dict[str, object] = {}

    async def main() -> None:
        try:
            runtime = await start(name, settings, setup)
        except BaseException as exc:
            holder["error"] = exc
            started.set()
            raise
        holder["runtime"], holder["loop"] = runtime, asyncio.get_running_loop()
        started.set()
        await run(runtime)

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True, name=name)
    thread.start()
    assert started.wait(30), f"{name} did not start"
    if "error" in holder:
        raise RuntimeError(f"{name} failed to start") from holder["error"]  # type: ignore[arg-type]
    runtime = holder["runtime"]
    assert isinstance(runtime, Runtime)
    try:
        yield runtime
    finally:
        loop = holder["loop"]
        assert isinstance(loop, asyncio.AbstractEventLoop)
        loop.call_soon_threadsafe(runtime.stop.set)
        thread.join(30)
