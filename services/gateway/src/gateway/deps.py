"""Request dependencies as Annotated aliases: CurrentUser, AdminUser, Db, and rate limits; and the route class
that documents the refusals they imply."""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request, Response, params
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant
from fastapi.routing import APIRoute

from contracts.bus import Bus
from contracts.db import acting_as
from contracts.subjects import CALLS_STREAM
from gateway.auth import AuthBackend, unauthorized
from gateway.config import Settings
from gateway.errors import ApiError, refusals
from gateway.ratelimit import RateLimiter
from gateway.tokens import Principal

log = logging.getLogger("gateway.deps")


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("sign in first: send 'Authorization: Bearer <access token>'")
    return token.strip()


async def current_user(request: Request) -> Principal:
    auth: AuthBackend = request.app.state.auth
    principal = await auth.verify(bearer_token(request))
    request.state.principal = principal
    return principal


async def admin_user(principal: Annotated[Principal, Depends(current_user)]) -> Principal:
    if not principal.is_admin:
        raise ApiError(403, "forbidden", "only an admin may do this")
    return principal


async def metrics_viewer(request: Request) -> None:
    token = bearer_token(request)
    expected = request.app.state.settings.metrics_token
    if expected and secrets.compare_digest(token.encode(), expected.encode()):
        return
    await admin_user(await current_user(request))


CurrentUser = Annotated[Principal, Depends(current_user)]
AdminUser = Annotated[Principal, Depends(admin_user)]
AccessToken = Annotated[str, Depends(bearer_token)]


@dataclass
class Database:
    """The pool, and transactions in which row-level security applies to the signed-in user."""

    pool: asyncpg.Pool

    @contextlib.asynccontextmanager
    async def as_user(self, principal: Principal) -> AsyncIterator[asyncpg.Connection]:
        async with self.pool.acquire() as conn, acting_as(conn, principal.user_id, principal.role):
            yield conn

    @contextlib.asynccontextmanager
    async def as_service(self) -> AsyncIterator[asyncpg.Connection]:
        """For what no user may do through RLS (accounts, sessions): the gateway's own checks guard it."""
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn


# The dependencies below only read the app's state, and are coroutines for it: FastAPI runs a plain
# function dependency in a worker thread, a thread hop (and a fight for the GIL) per dependency of every
# request; a profile of the load benchmark found the gateway's threads busy with nothing else.
async def database(request: Request) -> Database:
    return request.app.state.database


async def service_pool(request: Request) -> asyncpg.Pool:
    return request.app.state.database.pool


async def bus(request: Request) -> Bus:
    return request.app.state.bus


async def settings(request: Request) -> Settings:
    return request.app.state.settings


async def auth_backend(request: Request) -> AuthBackend:
    return request.app.state.auth


Db = Annotated[Database, Depends(database)]
# Row-level security does not apply: for what has no signed-in user to check it against, and is
# guarded by the route itself. The public directory and a dialled number's agent (no account); a
# customer's own call, once their call token is verified; a stream's owner, read to refuse a stream
# before it opens; the viewer's account, to check it is still active.
ServicePool = Annotated[asyncpg.Pool, Depends(service_pool)]
BusDep = Annotated[Bus, Depends(bus)]
SettingsDep = Annotated[Settings, Depends(settings)]
AuthDep = Annotated[AuthBackend, Depends(auth_backend)]


# On a read a live view starts from: the id of the last bus event its answer reflects.
LAST_EVENT_ID_HEADER = "X-Last-Event-ID"


async def last_event_reflected(response: Response, bus: BusDep) -> None:
    """For a read a dashboard follows with a live stream: the id of the last bus event its answer reflects, in
    ``X-Last-Event-ID``, so the stream opened with ``last_event_id`` set to it misses nothing published
    meanwhile. Taken before the route reads: the services change the database before they announce the change
    (contracts.outbox), so every event up to it is in the answer; a later one may be too, and comes again. With
    the bus away the header is left out (the stream cannot open either; it starts from now once it does)."""
    if not bus.connected:
        return
    try:
        info = await bus.js.stream_info(CALLS_STREAM)
    except Exception as exc:  # the read is still worth answering: only its live view loses its starting point
        log.warning("the bus position of a read is unknown (%s); its stream will start from now", exc)
        return
    response.headers[LAST_EVENT_ID_HEADER] = str(info.state.last_seq)


# The dependency of a route whose answer a live view follows with its stream (documented by DocumentedRoute).
REFLECTS_EVENTS = Depends(last_event_reflected)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def enforce_rate_limit(request: Request, name: str, key: str) -> None:
    """Refuse with 429 + Retry-After when ``key`` has used up the ``name`` limit."""
    limiter: RateLimiter = request.app.state.rate_limiters[name]
    wait = limiter.retry_after(f"{name}:{key}")
    if wait is not None:
        raise ApiError(429, "rate_limited", f"too many {name} attempts; try again in {wait} s",
                       headers={"Retry-After": str(wait)})


def rate_limit(name: str) -> Any:
    """A dependency applying the ``name`` limit per client address."""

    async def check(request: Request) -> None:
        enforce_rate_limit(request, name, client_address(request))

    return Depends(check)


def _calls_and_inputs(dependant: Dependant) -> tuple[set[Callable[..., Any]], bool]:
    """Every dependency a route runs, and whether it reads any input (path, query, header, cookie, body)."""
    calls: set[Callable[..., Any]] = set()
    reads = bool(dependant.path_params or dependant.query_params or dependant.header_params
                 or dependant.cookie_params or dependant.body_params)
    for sub in dependant.dependencies:
        if sub.call is not None:
            calls.add(sub.call)
        sub_calls, sub_reads = _calls_and_inputs(sub)
        calls |= sub_calls
        reads = reads or sub_reads
    return calls, reads


class DocumentedRoute(APIRoute):
    """A route whose OpenAPI entry lists the refusals its dependencies and path imply, with the body the
    gateway really sends: 401 when it needs a signed-in user, 403 when an admin, 404 when it names a record
    in its path, 422 when it reads input (in place of FastAPI's default body, which the gateway never sends),
    and any other 4xx. Refusals a route's own code makes (409, a call token's 401 and 403) it declares with
    ``responses=refusals(...)``. A route with ``REFLECTS_EVENTS`` documents the header it adds."""

    def __init__(self, path: str, endpoint: Callable[..., Any], *,
                 responses: dict[int | str, dict[str, Any]] | None = None,
                 dependencies: Sequence[params.Depends] | None = None, **kwargs: Any) -> None:
        dependant = get_dependant(path=path, call=endpoint)
        calls, reads = _calls_and_inputs(dependant)
        calls |= {depends.dependency for depends in dependencies or () if depends.dependency is not None}
        implied = [status for status, applies in (
            (401, bool(calls & {bearer_token, current_user, admin_user, metrics_viewer})),
            (403, bool(calls & {admin_user, metrics_viewer})),
            (404, "{" in path),
            (422, reads),
            ("4XX", True),
        ) if applies]
        reflects = {200: {"headers": {LAST_EVENT_ID_HEADER: {
            "description": "The id of the last bus event this answer reflects: open the live stream with "
                           "last_event_id set to it to miss nothing published since (left out while the bus "
                           "is away)",
            "schema": {"type": "string", "pattern": "^[0-9]+$"}}}}} if last_event_reflected in calls else {}
        super().__init__(path, endpoint, responses={**refusals(*implied), **reflects, **(responses or {})},
                         dependencies=dependencies, **kwargs)
