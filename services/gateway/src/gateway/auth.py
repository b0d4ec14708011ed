"""Sign-in, refresh, sign-out and token verification: the gateway's own, or Supabase Auth.

Both backends issue and accept tokens of the same shape, so everything past this module is the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

import asyncpg
import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from contracts.envelope import utc_now
from gateway.config import Settings
from gateway.errors import ApiError
from gateway.tokens import (
    AppRole,
    InvalidToken,
    Principal,
    hash_refresh_token,
    issue_token,
    new_refresh_token,
    verify_token,
)

log = logging.getLogger("gateway.auth")
_hasher = PasswordHasher()
# Verifying against this when the account does not exist keeps the timing of "no such user" and
# "wrong password" alike, so the response time does not reveal which emails have accounts.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int
    principal: Principal


class AuthBackend(Protocol):
    async def sign_in(self, email: str, password: str) -> Tokens: ...
    async def refresh(self, refresh_token: str) -> Tokens: ...
    async def sign_out(self, principal: Principal, access_token: str) -> None: ...
    async def verify(self, token: str) -> Principal: ...
    async def create_user(self, conn: asyncpg.Connection, email: str, password: str, role: AppRole,
                          full_name: str) -> UUID: ...
    async def delete_user(self, conn: asyncpg.Connection, user_id: UUID) -> None: ...
    async def set_password(self, conn: asyncpg.Connection, user_id: UUID, password: str) -> None: ...


async def active_principal(pool: asyncpg.Pool, principal: Principal) -> Principal:
    """The token is genuine; is its user still active, and (for our own tokens) its session open?"""
    row = await pool.fetchrow(
        """select u.role, u.active, s.revoked_at
           from users u left join auth_sessions s on s.id = $2 and s.user_id = u.id
           where u.id = $1""", principal.user_id, principal.session_id)
    if row is None or not row["active"]:
        raise unauthorized("this account is no longer active")
    if principal.session_id is not None and (row["revoked_at"] is not None):
        raise unauthorized("this session has ended; sign in again")
    if row["role"] != principal.role:
        raise unauthorized("this account's role has changed; sign in again")
    return principal


async def end_session(conn: asyncpg.Connection | asyncpg.Pool, session_id: UUID | None, reason: str) -> None:
    await conn.execute(
        "update auth_sessions set revoked_at = now(), revoked_reason = $2 where id = $1 and revoked_at is null",
        session_id, reason)


async def revoke_sessions(conn: asyncpg.Connection, user_id: UUID, reason: str) -> None:
    await conn.execute(
        "update auth_sessions set revoked_at = now(), revoked_reason = $2 where user_id = $1 and revoked_at is null",
        user_id, reason)


async def insert_user(conn: asyncpg.Connection, user_id: UUID | None, email: str, role: AppRole,
                      full_name: str) -> UUID:
    return await conn.fetchval(
        "insert into users(id, email, role, full_name) values (coalesce($1, gen_random_uuid()), $2, $3, $4) "
        "returning id", user_id, email, role, full_name)


def refresh_refusal(row: asyncpg.Record | None, now: datetime) -> str | None:
    """Why this refresh token may not be used (None: it may)."""
    if row is None:
        return "unknown refresh token"
    if row["used_at"] is not None:
        return "refresh token already used; the session has been ended for safety"
    if row["revoked_at"] is not None or not row["active"]:
        return "this session has ended; sign in again"
    if row["expires_at"] <= now:
        return "refresh token expired; sign in again"
    return None


class LocalAuth:
    """The embedded default: argon2 password hashes, sessions, rotating single-use refresh tokens."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool = pool
        self.secret = settings.jwt_secret
        self.access_lifetime = timedelta(seconds=settings.access_token_seconds)
        self.refresh_lifetime = timedelta(seconds=settings.refresh_token_seconds)

    async def _new_tokens(self, conn: asyncpg.Connection, principal: Principal, now: datetime) -> Tokens:
        refresh = new_refresh_token()
        await conn.execute("insert into refresh_tokens(token_hash, session_id, expires_at) values ($1, $2, $3)",
                           hash_refresh_token(refresh), principal.session_id, now + self.refresh_lifetime)
        access = issue_token(principal, self.secret, self.access_lifetime, now)
        return Tokens(access, refresh, int(self.access_lifetime.total_seconds()), principal)

    async def sign_in(self, email: str, password: str) -> Tokens:
        row = await self.pool.fetchrow(
            """select u.id, u.email, u.role, u.active, c.password_hash
               from users u left join local_credentials c on c.user_id = u.id where u.email = $1""", email)
        stored = row["password_hash"] if row and row["password_hash"] else _DUMMY_HASH
        try:
            # argon2 is deliberately slow: keep it off the event loop.
            await asyncio.to_thread(_hasher.verify, stored, password)
            matched = row is not None and row["password_hash"] is not None
        except (VerificationError, InvalidHashError):
            matched = False
        if not matched:
            raise unauthorized("wrong email or password")
        if not row["active"]:
            raise unauthorized("this account is deactivated")
        now = utc_now()
        async with self.pool.acquire() as conn, conn.transaction():
            session_id = await conn.fetchval("insert into auth_sessions(user_id) values ($1) returning id", row["id"])
            return await self._new_tokens(conn, Principal(row["id"], row["email"], row["role"], session_id), now)

    async def refresh(self, refresh_token: str) -> Tokens:
        now = utc_now()
        token_hash = hash_refresh_token(refresh_token)
        refusal: str | None = None
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """select t.session_id, t.expires_at, t.used_at, s.revoked_at, u.id as user_id, u.email, u.role,
                          u.active
                   from refresh_tokens t join auth_sessions s on s.id = t.session_id join users u on u.id = s.user_id
                   where t.token_hash = $1 for update of t""", token_hash)
            refusal = refresh_refusal(row, now)
            if row is not None and row["used_at"] is not None:
                # A used token presented again means it was copied: end the whole session. Committed before
                # the refusal is raised, which would otherwise roll it back.
                await end_session(conn, row["session_id"], "refresh token reuse")
                log.warning("refresh token reuse; session revoked", extra={"user_id": str(row["user_id"])})
            if refusal is None:
                await conn.execute("update refresh_tokens set used_at = now() where token_hash = $1", token_hash)
                await conn.execute("update auth_sessions set refreshed_at = now() where id = $1", row["session_id"])
                tokens = await self._new_tokens(
                    conn, Principal(row["user_id"], row["email"], row["role"], row["session_id"]), now)
        if refusal is not None:
            raise unauthorized(refusal)
        return tokens

    async def sign_out(self, principal: Principal, access_token: str) -> None:
        await end_session(self.pool, principal.session_id, "logout")

    async def verify(self, token: str) -> Principal:
        try:
            principal = verify_token(token, self.secret, utc_now())
        except InvalidToken as exc:
            raise unauthorized(str(exc)) from exc
        return await active_principal(self.pool, principal)

    async def create_user(self, conn: asyncpg.Connection, email: str, password: str, role: AppRole,
                          full_name: str) -> UUID:
        user_id = await insert_user(conn, None, email, role, full_name)
        await self.set_password(conn, user_id, password)
        return user_id

    async def delete_user(self, conn: asyncpg.Connection, user_id: UUID) -> None:
        await conn.execute("delete from users where id = $1", user_id)

    async def set_password(self, conn: asyncpg.Connection, user_id: UUID, password: str) -> None:
        password_hash = await asyncio.to_thread(_hasher.hash, password)
        await conn.execute(
            """insert into local_credentials(user_id, password_hash) values ($1, $2)
               on conflict (user_id) do update set password_hash = excluded.password_hash, updated_at = now()""",
            user_id, password_hash)


class SupabaseAuth:
    """Supabase Auth through the supabase client: Supabase signs tokens; the gateway verifies them
    (with the project's JWT secret, or its JWKS) and keeps a profile row per user for roles and RLS."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        assert settings.supabase_url and settings.supabase_key
        self.pool = pool
        self.url = settings.supabase_url.rstrip("/")
        self.key = settings.supabase_key
        self.jwt_secret = settings.supabase_jwt_secret
        self.max_agents = settings.max_agents_per_supervisor
        self._jwks = None if self.jwt_secret else jwt.PyJWKClient(f"{self.url}/auth/v1/.well-known/jwks.json",
                                                                  cache_keys=True)

    async def _client(self) -> Any:
        from supabase import AsyncClientOptions, acreate_client

        # One client per call: the client keeps session state, which a server must not share between users.
        return await acreate_client(self.url, self.key,
                                    options=AsyncClientOptions(auto_refresh_token=False, persist_session=False))

    @contextlib.asynccontextmanager
    async def _supabase(self, refused_status: int, refused_code: str) -> AsyncIterator[Any]:
        """A Supabase Auth call: its refusals become ``refused_status``, an outage a 503, never a 500."""
        from supabase_auth.errors import AuthApiError, AuthError

        try:
            yield await self._client()
        except AuthApiError as exc:
            raise ApiError(refused_status, refused_code, exc.message,
                           headers={"WWW-Authenticate": "Bearer"} if refused_status == 401 else None) from exc
        except AuthError as exc:
            log.error("Supabase Auth unreachable: %s", exc)
            raise ApiError(503, "auth_unavailable", "Supabase Auth cannot be reached; try again shortly") from exc

    async def _tokens(self, response: Any) -> Tokens:
        session = response.session
        if session is None:
            raise unauthorized("Supabase returned no session")
        principal = await self._verified(session.access_token)
        await self._provision(principal, response.user)
        return Tokens(session.access_token, session.refresh_token, int(session.expires_in),
                      await active_principal(self.pool, principal))

    async def _provision(self, principal: Principal, user: Any) -> None:
        """Users made in the Supabase dashboard (the first admin, say) get their profile row at first
        sign-in. Trusting the token's role is safe: only the service role can set app_metadata."""
        full_name = str((getattr(user, "user_metadata", None) or {}).get("full_name", ""))
        async with self.pool.acquire() as conn, conn.transaction():
            created = await conn.fetchval(
                "insert into users(id, email, role, full_name) values ($1, $2, $3, $4) on conflict do nothing"
                " returning true", principal.user_id, principal.email.lower(), principal.role, full_name)
            if created and principal.role == "supervisor":
                await conn.execute("insert into supervisors(id, max_agents) values ($1, $2)",
                                   principal.user_id, self.max_agents)

    async def sign_in(self, email: str, password: str) -> Tokens:
        async with self._supabase(401, "unauthorized") as client:
            response = await client.auth.sign_in_with_password({"email": email, "password": password})
        return await self._tokens(response)

    async def refresh(self, refresh_token: str) -> Tokens:
        async with self._supabase(401, "unauthorized") as client:
            response = await client.auth.refresh_session(refresh_token)
        return await self._tokens(response)

    async def sign_out(self, principal: Principal, access_token: str) -> None:
        async with self._supabase(401, "unauthorized") as client:
            await client.auth.admin.sign_out(access_token, "local")  # ends the refresh token
        # Supabase's access tokens are stateless and would stay valid until they expire: remember the
        # session as ended, so this gateway refuses them (and stream tokens from them) at once.
        if principal.session_id is not None:
            await self.pool.execute(
                """insert into auth_sessions(id, user_id, revoked_at, revoked_reason) values ($1, $2, now(), 'logout')
                   on conflict (id) do update set revoked_at = coalesce(auth_sessions.revoked_at, now())""",
                principal.session_id, principal.user_id)

    async def _verification_key(self, token: str) -> tuple[Any, tuple[str, ...]]:
        if self.jwt_secret:
            return self.jwt_secret, ("HS256",)
        assert self._jwks is not None
        signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
        return signing_key.key, ("RS256", "ES256")

    async def _verified(self, token: str) -> Principal:
        """Signature, expiry, audience and platform role (the session is checked by active_principal)."""
        try:
            key, algorithms = await self._verification_key(token)
            principal = verify_token(token, key, utc_now(), algorithms=algorithms)
        except (InvalidToken, jwt.PyJWTError) as exc:
            raise unauthorized(str(exc)) from exc
        return principal

    async def verify(self, token: str) -> Principal:
        return await active_principal(self.pool, await self._verified(token))

    async def create_user(self, conn: asyncpg.Connection, email: str, password: str, role: AppRole,
                          full_name: str) -> UUID:
        async with self._supabase(409, "supabase_refused") as client:
            response = await client.auth.admin.create_user({
                "email": email, "password": password, "email_confirm": True,
                "app_metadata": {"role": role}, "user_metadata": {"full_name": full_name}})
        return await insert_user(conn, UUID(response.user.id), email, role, full_name)

    async def delete_user(self, conn: asyncpg.Connection, user_id: UUID) -> None:
        # Our row first, in the caller's transaction: if Supabase refuses, the row comes back.
        await conn.execute("delete from users where id = $1", user_id)
        async with self._supabase(502, "supabase_refused") as client:
            await client.auth.admin.delete_user(str(user_id))

    async def set_password(self, conn: asyncpg.Connection, user_id: UUID, password: str) -> None:
        async with self._supabase(422, "invalid_request") as client:
            await client.auth.admin.update_user_by_id(str(user_id), {"password": password})


def auth_backend(pool: asyncpg.Pool, settings: Settings) -> AuthBackend:
    return SupabaseAuth(pool, settings) if settings.uses_supabase_auth else LocalAuth(pool, settings)
