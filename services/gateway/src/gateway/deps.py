"""Request dependencies as Annotated aliases: CurrentUser, AdminUser, Db, and rate limits."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request

from contracts.bus import Bus
from contracts.db import acting_as
from gateway.auth import AuthBackend, unauthorized
from gateway.config import Settings
from gateway.errors import ApiError
from gateway.ratelimit import RateLimiter
from gateway.tokens import Principal


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


def database(request: Request) -> Database:
    return request.app.state.database


def service_pool(request: Request) -> asyncpg.Pool:
    return request.app.state.database.pool


def bus(request: Request) -> Bus:
    return request.app.state.bus


def settings(request: Request) -> Settings:
    return request.app.state.settings


def auth_backend(request: Request) -> AuthBackend:
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
