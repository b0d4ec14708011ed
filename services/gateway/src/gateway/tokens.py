"""JWTs in Supabase's shape (sub, email, role "authenticated", aud, exp, app_metadata.role, session_id).

Pure functions: no I/O, the clock is a parameter.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import jwt

AppRole = Literal["admin", "supervisor"]
ACCESS_AUDIENCE = "authenticated"
STREAM_AUDIENCE = "sse-stream"
CALL_AUDIENCE = "customer-call"
ISSUER = "cs-agents-platform"
ALGORITHM = "HS256"


@dataclass(frozen=True)
class Principal:
    user_id: UUID
    email: str
    role: AppRole
    session_id: UUID | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class InvalidToken(Exception):
    """The token is malformed, expired, signed with another key or meant for something else."""


def _claims(principal: Principal, audience: str, lifetime: timedelta, now: datetime) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER, "sub": str(principal.user_id), "email": principal.email, "role": "authenticated",
        "aud": audience, "iat": int(now.timestamp()), "exp": int((now + lifetime).timestamp()),
        "app_metadata": {"role": principal.role},
    }
    if principal.session_id:
        claims["session_id"] = str(principal.session_id)
    return claims


def issue_token(principal: Principal, secret: str, lifetime: timedelta, now: datetime,
                audience: str = ACCESS_AUDIENCE) -> str:
    return jwt.encode(_claims(principal, audience, lifetime, now), secret, algorithm=ALGORITHM)


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    role = (claims.get("app_metadata") or {}).get("role")
    if role not in ("admin", "supervisor"):
        raise InvalidToken("token has no platform role")
    try:
        return Principal(UUID(claims["sub"]), claims.get("email", ""), role,
                         UUID(claims["session_id"]) if claims.get("session_id") else None)
    except (KeyError, ValueError) as exc:
        raise InvalidToken("token subject is not a user id") from exc


def verify_token(token: str, key: Any, now: datetime, audience: str = ACCESS_AUDIENCE,
                 algorithms: tuple[str, ...] = (ALGORITHM,)) -> Principal:
    try:
        claims = jwt.decode(token, key, algorithms=list(algorithms), audience=audience,
                            options={"require": ["exp", "sub", "aud"], "verify_iat": False},
                            leeway=0)
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("token expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"invalid token: {exc}") from exc
    if claims["exp"] <= now.timestamp():
        raise InvalidToken("token expired")
    return principal_from_claims(claims)


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """Only the hash is stored: a database leak does not leak usable refresh tokens."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_call_token(call_id: UUID, secret: str, lifetime: timedelta, now: datetime) -> str:
    """The customer's key to one call: no account, just this call, for a while."""
    claims = {"iss": ISSUER, "sub": str(call_id), "aud": CALL_AUDIENCE, "iat": int(now.timestamp()),
              "exp": int((now + lifetime).timestamp())}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_call_token(token: str, secret: str, now: datetime) -> UUID:
    """The call this token opens."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], audience=CALL_AUDIENCE,
                            options={"require": ["exp", "sub", "aud"]})
        call_id = UUID(claims["sub"])
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("call token expired") from exc
    except (jwt.PyJWTError, ValueError) as exc:
        raise InvalidToken(f"invalid call token: {exc}") from exc
    if claims["exp"] <= now.timestamp():
        raise InvalidToken("call token expired")
    return call_id
