"""The lifecycle every bus service shares: connect, set up, beat, run until a signal, stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import asyncpg

from contracts.bus import Bus, connect_bus, ensure_streams
from contracts.db import create_pool, migrate
from contracts.health import beat_forever
from contracts.logs import configure_logging
from contracts.metrics import serve_metrics
from contracts.settings import MetricsSettings, ServiceSettings

log = logging.getLogger("contracts.service")
SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


@dataclass
class Runtime(Generic[SettingsT]):
    """What a service's setup function receives: its connections and a place to add work."""

    name: str
    settings: SettingsT
    bus: Bus
    pool: asyncpg.Pool | None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    health_details: dict[str, Any] = field(default_factory=dict)
    _work: list[Coroutine[Any, Any, None]] = field(default_factory=list)

    def run_forever(self, work: Coroutine[Any, Any, None]) -> None:
        self._work.append(work)


Setup = Callable[[Runtime[SettingsT]], Awaitable[None]]


async def start(name: str, settings: SettingsT, setup: Setup[SettingsT], *,
                needs_database: bool = True) -> Runtime[SettingsT]:
    bus = await connect_bus(settings.nats_url, name)
    await ensure_streams(bus, settings.stream_replicas)
    pool = None
    if needs_database:
        pool = await create_pool(settings.database_url)
        async with pool.acquire() as conn:
            await migrate(conn)
    runtime = Runtime(name=name, settings=settings, bus=bus, pool=pool)
    if isinstance(settings, MetricsSettings) and settings.metrics_port is not None:
        serve_metrics(settings.metrics_port, settings.metrics_host)
    await setup(runtime)
    runtime.run_forever(
        beat_forever(bus, name, settings.instance, settings.heartbeat_seconds, lambda: runtime.health_details))
    return runtime


async def serve(name: str, settings: SettingsT, setup: Setup[SettingsT], *, needs_database: bool = True) -> None:
    """Run a service until SIGINT/SIGTERM, then cancel its work and close its connections."""
    configure_logging(name, settings.log_level, settings.instance)
    # onnxruntime (1.32) otherwise sends usage telemetry to Microsoft from any process that runs a
    # model, and from the processes this one starts (LiveKit's job processes inherit the environment).
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    runtime = await start(name, settings, setup, needs_database=needs_database)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runtime.stop.set)
    await run(runtime)


async def run(runtime: Runtime[Any]) -> None:
    """Run a started service's work until ``runtime.stop`` is set or a task fails, then shut down."""
    tasks = [asyncio.create_task(work) for work in runtime._work]
    log.info("%s started", runtime.name, extra={"tasks": len(tasks)})
    stopper = asyncio.create_task(runtime.stop.wait())
    done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
    for task in done - {stopper}:
        if task.exception() is not None:
            log.error("a task of %s failed; stopping", runtime.name, exc_info=task.exception())
    stopper.cancel()
    await shutdown(runtime, tasks)
    log.info("%s stopped", runtime.name)


async def shutdown(runtime: Runtime[Any], tasks: list[asyncio.Task[None]]) -> None:
    runtime.stop.set()
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    await runtime.bus.close()
    if runtime.pool is not None:
        await runtime.pool.close()
