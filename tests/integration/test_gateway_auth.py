"""The embedded auth: token shape and lifetime, expiry, single-use rotating refresh tokens with reuse
detection, logout, and rate limits on sign-in and refresh."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest

from contracts.envelope import utc_now
from gateway.tokens import issue_token, principal_from_claims
from tests.integration.conftest import JWT_SECRET, PASSWORD, RunningGateway, World, running_gateway


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


@pytest.fixture
def http(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url) as created:
        yield created


def test_login_returns_supabase_shaped_tokens(http: httpx.Client, world: World) -> None:
    response = http.post("/api/auth/login", json={"email": world.a["email"], "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["expires_in"] == 3600
    assert body["user"] == {"id": world.a["id"], "email": world.a["email"], "role": "supervisor"}
    access = claims(body["access_token"])
    assert access["sub"] == world.a["id"] and access["email"] == world.a["email"]
    assert access["aud"] == "authenticated" and access["role"] == "authenticated"
    assert access["app_metadata"] == {"role": "supervisor"}
    assert access["exp"] - access["iat"] == 3600
    assert http.get("/api/me", headers=bearer(body["access_token"])).json() == body["user"]


@pytest.mark.parametrize(("email", "password"), [("known", "wrong-password"), ("nobody@test.local", PASSWORD)])
def test_wrong_credentials_get_one_message(http: httpx.Client, world: World, email: str, password: str) -> None:
    """The same answer for an unknown address and a wrong password: no probing which accounts exist."""
    response = http.post("/api/auth/login", json={"email": world.a["email"] if email == "known" else email,
                                                  "password": password})
    assert response.status_code == 401
    assert response.json()["message"] == "wrong email or password"


def test_an_expired_access_token_is_refused(http: httpx.Client, world: World) -> None:
    live = world.login(http, world.a["email"])["access_token"]
    principal = principal_from_claims(claims(live))
    expired = issue_token(principal, JWT_SECRET, timedelta(hours=1), utc_now() - timedelta(hours=2))
    response = http.get("/api/me", headers=bearer(expired))
    assert response.status_code == 401 and response.json()["message"] == "token expired"
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_token_signed_with_another_key_is_refused(http: httpx.Client, world: World) -> None:
    principal = principal_from_claims(claims(world.login(http, world.a["email"])["access_token"]))
    forged = issue_token(principal, "someone-elses-secret-of-at-least-32-bytes", timedelta(hours=1), utc_now())
    response = http.get("/api/me", headers=bearer(forged))
    assert response.status_code == 401 and "invalid token" in response.json()["message"]


def test_a_forged_admin_role_does_not_help(http: httpx.Client, world: World) -> None:
    """The role is signed: editing the payload breaks the signature."""
    token = world.login(http, world.a["email"])["access_token"]
    header, _payload, signature = token.split(".")
    forged_payload = jwt.utils.base64url_encode(
        jwt.api_jws.json.dumps({**claims(token), "app_metadata": {"role": "admin"}}).encode()).decode()
    response = http.get("/api/supervisors", headers=bearer(f"{header}.{forged_payload}.{signature}"))
    assert response.status_code == 401


def test_refresh_rotates_and_a_reused_refresh_token_ends_the_session(http: httpx.Client, world: World) -> None:
    first = world.login(http, world.a["email"])
    second = http.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert http.get("/api/me", headers=bearer(rotated["access_token"])).status_code == 200

    reused = http.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    assert "already used" in reused.json()["message"]
    # Reuse means the old token was copied: the whole session ends, the thief's and the owner's tokens alike.
    assert http.get("/api/me", headers=bearer(rotated["access_token"])).status_code == 401
    after = http.post("/api/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert after.status_code == 401 and "session has ended" in after.json()["message"]


def test_logout_revokes_the_session_but_not_others(http: httpx.Client, world: World) -> None:
    ending, other = world.login(http, world.a["email"]), world.login(http, world.a["email"])
    assert http.post("/api/auth/logout", headers=bearer(ending["access_token"])).status_code == 204
    refused = http.get("/api/me", headers=bearer(ending["access_token"]))
    assert refused.status_code == 401 and "session has ended" in refused.json()["message"]
    assert http.post("/api/auth/refresh", json={"refresh_token": ending["refresh_token"]}).status_code == 401
    assert http.get("/api/me", headers=bearer(other["access_token"])).status_code == 200


def test_an_unknown_refresh_token_is_refused(http: httpx.Client) -> None:
    response = http.post("/api/auth/refresh", json={"refresh_token": "x" * 43})
    assert response.status_code == 401 and response.json()["message"] == "unknown refresh token"


@pytest.fixture(scope="module")
def strict_gateway(nats_url: str, database_url: str, world: World) -> Iterator[RunningGateway]:
    """A second gateway with tight limits, so the shared one's generous limits do not hide them."""
    with running_gateway(nats_url, database_url, login_attempts_per_minute=3,
                         refresh_attempts_per_minute=2) as running:
        yield running


def test_sign_in_is_rate_limited_with_retry_after(strict_gateway: RunningGateway, world: World) -> None:
    with httpx.Client(base_url=strict_gateway.url) as client:
        statuses = [client.post("/api/auth/login", json={"email": world.b["email"], "password": "guess"}).status_code
                    for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        limited = client.post("/api/auth/login", json={"email": world.b["email"], "password": PASSWORD})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert "too many" in limited.json()["message"]


def test_refresh_is_rate_limited(strict_gateway: RunningGateway) -> None:
    with httpx.Client(base_url=strict_gateway.url) as client:
        statuses = [client.post("/api/auth/refresh", json={"refresh_token": "y" * 43}).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
