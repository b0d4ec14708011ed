"""A local stand-in for Supabase Auth (GoTrue) that speaks its HTTP API, so the gateway's Supabase
path runs through the real `supabase` client: password and refresh-token grants with single-use
refresh tokens, logout, the admin user endpoints, and a JWKS for RS256 projects.

Only what the gateway uses; the shapes follow GoTrue's responses (a session with a user, errors as
``{"code", "error_code", "msg"}``)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

ACCESS_SECONDS = 3600


def error(status: int, error_code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": status, "error_code": error_code, "msg": message}, status)


@dataclass
class FakeUser:
    id: str
    email: str
    password: str
    app_metadata: dict[str, Any]
    user_metadata: dict[str, Any]
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "aud": "authenticated", "role": "authenticated", "email": self.email,
                "app_metadata": self.app_metadata, "user_metadata": self.user_metadata,
                "created_at": self.created_at, "email_confirmed_at": self.created_at}


@dataclass
class FakeGoTrue:
    """State and token signing; ``signing`` is "HS256" (a project JWT secret) or "RS256" (JWKS)."""

    service_key: str
    signing: str = "HS256"
    jwt_secret: str = "fake-supabase-jwt-secret-of-32-bytes-at-least"
    users: dict[str, FakeUser] = field(default_factory=dict)
    refresh_tokens: dict[str, tuple[str, str, bool]] = field(default_factory=dict)  # token -> user, session, used
    ended_sessions: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def add_user(self, email: str, password: str, role: str, full_name: str = "") -> FakeUser:
        user = FakeUser(str(uuid.uuid4()), email, password, {"provider": "email", "role": role},
                        {"full_name": full_name})
        self.users[user.id] = user
        return user

    def access_token(self, user: FakeUser, session_id: str, now: datetime | None = None) -> str:
        issued = int((now or datetime.now(UTC)).timestamp())
        claims = {"iss": "http://fake-supabase/auth/v1", "sub": user.id, "aud": "authenticated",
                  "role": "authenticated", "email": user.email, "app_metadata": user.app_metadata,
                  "user_metadata": user.user_metadata, "session_id": session_id, "iat": issued,
                  "exp": issued + ACCESS_SECONDS}
        if self.signing == "RS256":
            return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": "fake-key"})
        return jwt.encode(claims, self.jwt_secret, algorithm="HS256")

    def session(self, user: FakeUser, session_id: str) -> dict[str, Any]:
        refresh = secrets.token_urlsafe(16)
        self.refresh_tokens[refresh] = (user.id, session_id, False)
        return {"access_token": self.access_token(user, session_id), "token_type": "bearer",
                "expires_in": ACCESS_SECONDS, "expires_at": int(datetime.now(UTC).timestamp()) + ACCESS_SECONDS,
                "refresh_token": refresh, "user": user.as_json()}

    def jwks(self) -> dict[str, Any]:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": "fake-key", "alg": "RS256", "use": "sig"}]}

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def record(request: Request, call_next: Any) -> Response:
            self.requests.append(f"{request.method} {request.url.path}")
            public = request.url.path.endswith("/jwks.json")  # as on Supabase: anyone may fetch the public keys
            if not public and request.headers.get("apikey") != self.service_key:
                return error(401, "no_api_key", "Invalid API key")
            return await call_next(request)

        def is_service(request: Request) -> bool:
            return request.headers.get("authorization") == f"Bearer {self.service_key}"

        @app.post("/auth/v1/token")
        async def token(request: Request, grant_type: str) -> Any:
            body = await request.json()
            if grant_type == "password":
                user = next((u for u in self.users.values() if u.email == body.get("email")), None)
                if user is None or user.password != body.get("password"):
                    return error(400, "invalid_credentials", "Invalid login credentials")
                return self.session(user, str(uuid.uuid4()))
            if grant_type == "refresh_token":
                known = self.refresh_tokens.get(body.get("refresh_token", ""))
                if known is None:
                    return error(400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found")
                user_id, session_id, used = known
                if used or session_id in self.ended_sessions or user_id not in self.users:
                    self.ended_sessions.add(session_id)
                    return error(400, "refresh_token_already_used", "Invalid Refresh Token: Already Used")
                self.refresh_tokens[body["refresh_token"]] = (user_id, session_id, True)
                return self.session(self.users[user_id], session_id)
            return error(400, "unsupported_grant_type", f"unsupported grant type {grant_type}")

        @app.post("/auth/v1/logout")
        async def logout(request: Request) -> Any:
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            claims = jwt.decode(token, options={"verify_signature": False})
            self.ended_sessions.add(claims["session_id"])
            return Response(status_code=204)

        @app.post("/auth/v1/admin/users")
        async def create_user(request: Request) -> Any:
            if not is_service(request):
                return error(403, "not_admin", "User not allowed")
            body = await request.json()
            if any(u.email == body["email"] for u in self.users.values()):
                return error(422, "email_exists", "A user with this email address has already been registered")
            user = self.add_user(body["email"], body["password"], body["app_metadata"]["role"],
                                 body.get("user_metadata", {}).get("full_name", ""))
            return user.as_json()

        @app.put("/auth/v1/admin/users/{user_id}")
        async def update_user(user_id: str, request: Request) -> Any:
            if not is_service(request) or user_id not in self.users:
                return error(404, "user_not_found", "User not found")
            body = await request.json()
            self.users[user_id].password = body.get("password", self.users[user_id].password)
            return self.users[user_id].as_json()

        @app.delete("/auth/v1/admin/users/{user_id}")
        async def delete_user(user_id: str, request: Request) -> Any:
            if not is_service(request) or self.users.pop(user_id, None) is None:
                return error(404, "user_not_found", "User not found")
            return {}

        @app.get("/auth/v1/.well-known/jwks.json")
        async def jwks() -> Any:
            return self.jwks()

        return app
