"""Access tokens checked as LiveKit checks them: HS256 JWTs signed with the API secret, issued by the API
key (``iss``), not expired, their grants under ``video``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt


class Refused(Exception):
    """A request whose token does not allow it; ``status`` is the HTTP status LiveKit answers with."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Credentials:
    api_key: str
    api_secret: str

    def claims(self, token: str) -> dict[str, Any]:
        if not token:
            raise Refused("no access token")
        try:
            claims = jwt.decode(token, self.api_secret, algorithms=["HS256"],
                                options={"verify_aud": False, "require": ["exp"]})
        except jwt.PyJWTError as exc:
            raise Refused(f"invalid token: {exc}") from exc
        if claims.get("iss") != self.api_key:
            raise Refused("invalid token: unknown API key")
        return claims

    def grant(self, token: str, permission: str, room: str | None = None) -> dict[str, Any]:
        """The token's claims if its grants hold ``permission`` (for ``room``, when the grant is room-scoped)."""
        claims = self.claims(token)
        video = claims.get("video", {})
        if not video.get(permission):
            raise Refused(f"permission denied: needs {permission}", 403)
        if room is not None and video.get("room") != room:
            raise Refused(f"permission denied: the token is not for room {room!r}", 403)
        return claims


def bearer(authorization: str) -> str:
    return authorization.removeprefix("Bearer ").strip()
