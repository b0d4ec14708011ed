"""build(settings) -> the gateway's FastAPI application; nothing runs at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from contracts import outbox
from contracts.bus import connect_bus, ensure_streams
from contracts.db import create_pool, migrate
from contracts.envelope import utc_now
from contracts.health import beat_forever, read_beats
from gateway.auth import auth_backend
from gateway.config import Settings
from gateway.deps import Database, metrics_viewer
from gateway.errors import install_error_handlers, refusals
from gateway.fanout import StreamSlots
from gateway.health import health_report
from gateway.metrics import Metrics
from gateway.middleware import BodySizeLimit, RequestMetrics
from gateway.ratelimit import RateLimiter
from gateway.routes import (
    admin,
    agents,
    analytics,
    archive,
    auth,
    calls,
    dialer,
    notifications,
    streams,
    supervisors,
    tools,
)
from gateway.schemas import HealthReport
from gateway.spa import SinglePageApp
from kpis.formula import ScoreWeights

log = logging.getLogger("gateway")


def build(settings: Settings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.bus = await connect_bus(settings.nats_url, "gateway")
        await ensure_streams(app.state.bus, settings.stream_replicas)
        app.state.pool = await create_pool(settings.database_url)
        async with app.state.pool.acquire() as conn:
            await migrate(conn)
        app.state.database = Database(app.state.pool)
        app.state.auth = auth_backend(app.state.pool, settings)
        background = [asyncio.create_task(beat_forever(app.state.bus, "gateway", settings.instance,
                                                            settings.heartbeat_seconds)),
                      # What a request staged but could not publish (the bus was away) goes out on the next round.
                      asyncio.create_task(outbox.flush_forever(app.state.pool, app.state.bus))]
        log.info("gateway listening on %s:%d", settings.host, settings.port)
        try:
            yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await app.state.bus.close()
            await app.state.pool.close()

    app = FastAPI(title="Customer-service AI agents platform", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.state.score_weights = ScoreWeights()
    app.state.stream_slots = StreamSlots()
    app.state.rate_limiters = {
        "login": RateLimiter(settings.login_attempts_per_minute),
        "login-account": RateLimiter(settings.login_attempts_per_minute),
        "refresh": RateLimiter(settings.refresh_attempts_per_minute),
        "call": RateLimiter(settings.call_attempts_per_minute),
    }
    install_error_handlers(app)
    for router in (auth.router, supervisors.router, agents.router, archive.router, notifications.router,
                   admin.router, streams.router, dialer.router, calls.router, tools.router, analytics.router,
                   dialer.directory_router, agents.catalog_router):
        app.include_router(router)

    @app.get("/health", tags=["ops"], summary="Database, bus, providers and every service's liveness",
             response_model=HealthReport,
             responses={503: {"model": HealthReport, "description": "something the platform needs is down"}})
    async def health(request: Request) -> JSONResponse:
        state = request.app.state
        database_ok = await _database_ok(state.pool)
        nats_ok = state.bus.connected
        beats = await read_beats(state.bus) if nats_ok else {}
        status, body = health_report(database_ok=database_ok, nats_ok=nats_ok, beats=beats,
                                     expected_services=settings.expected_services, now=utc_now())
        return JSONResponse(body, status_code=status)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics (an admin, or GATEWAY_METRICS_TOKEN)",
             response_class=Response, dependencies=[Depends(metrics_viewer)], responses=refusals(401, 403))
    async def metrics(request: Request) -> Response:
        body = await request.app.state.metrics.render(request.app.state.bus)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(RequestMetrics, histogram=app.state.metrics.request_seconds)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.frontend_dist.is_dir():
        app.mount("/", SinglePageApp(directory=str(settings.frontend_dist)), name="frontend")
    return app


async def _database_ok(pool) -> bool:  # type: ignore[no-untyped-def]
    # The probe is not awaited past its time: a query cut short on a database that does not answer (a
    # host hung or gone from the network) hands its connection back only once PostgreSQL confirms the
    # cancel, and /health would hang as long as the outage it should report.
    probe = asyncio.ensure_future(pool.fetchval("select 1"))
    done, _ = await asyncio.wait({probe}, timeout=2)
    if not done:
        probe.cancel()
        probe.add_done_callback(lambda task: task.cancelled() or task.exception())
        return False
    return probe.exception() is None
