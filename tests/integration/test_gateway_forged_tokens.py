"""Forged and tampered tokens are refused with 401 (our error body), never honoured and never a 500:
unsigned, signed with another key, expired, a supervisor's token edited to say admin, a token from
another Supabase project, and tokens of one kind used as another."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest

from contracts.envelope import utc_now
from gateway.tokens import CALL_AUDIENCE, STREAM_AUDIENCE, Principal, issue_call_token, issue_token
from tests.fakes.gotrue import FakeGoTrue
from tests.integration.conftest import JWT_SECRET, RunningGateway, World
from tests.integration.test_gateway_supabase import SupabaseWorld, supabase  # noqa: F401  (the fixture)

WRONG_KEY = "an-attacker-secret-that-is-long-enough-to-sign"


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unsigned(claims: dict[str, Any], alg: str = "none") -> str:
    return f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(claims)}."


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def with_payload(token: str, claims: dict[str, Any]) -> str:
    """The same header and signature over an edited payload."""
    header, _, signature = token.split(".")
    return f"{header}.{b64(claims)}.{signature}"


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error"] == "unauthorized" and body["message"]
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.fixture(scope="module")
def supervisor_token(gateway: RunningGateway, world: World) -> str:
    with httpx.Client(base_url=gateway.url) as client:
        return world.login(client, world.a["email"])["access_token"]


def forgeries(token: str) -> dict[str, str]:
    claims = claims_of(token)
    as_admin = {**claims, "app_metadata": {**claims["app_metadata"], "role": "admin"}}
    expired = {**claims, "iat": claims["iat"] - 7200, "exp": claims["iat"] - 3600}
    return {
        "alg none": unsigned(claims),
        "alg None": unsigned(claims, "None"),
        "wrong key": jwt.encode(claims, WRONG_KEY, algorithm="HS256"),
        "expired": jwt.encode(expired, JWT_SECRET, algorithm="HS256"),
        "edited to admin, signature kept": with_payload(token, as_admin),
        "edited to admin, re-signed with the wrong key": jwt.encode(as_admin, WRONG_KEY, algorithm="HS256"),
        "edited to admin, unsigned": unsigned(as_admin),
        "another audience": jwt.encode({**claims, "aud": "someone-else"}, JWT_SECRET, algorithm="HS256"),
        "no expiry": jwt.encode({k: v for k, v in claims.items() if k != "exp"}, JWT_SECRET, algorithm="HS256"),
        "not a user id": jwt.encode({**claims, "sub": "admin"}, JWT_SECRET, algorithm="HS256"),
        "garbage": "not.a.jwt",
    }


FORGERIES = list(forgeries(issue_token(Principal(uuid.uuid4(), "x@test.local", "supervisor", uuid.uuid4()),
                                       JWT_SECRET, timedelta(hours=1), utc_now())))


@pytest.mark.parametrize("kind", FORGERIES)
def test_forged_access_tokens_are_refused(gateway: RunningGateway, world: World, supervisor_token: str,
                                          kind: str) -> None:
    forged = forgeries(supervisor_token)[kind]
    with httpx.Client(base_url=gateway.url) as client:
        for method, path in (("GET", "/api/me"), ("GET", "/api/supervisors"),
                             ("GET", f"/api/agents/{world.a['agent']}"), ("POST", "/api/stream-token")):
            assert_refused(client.request(method, path, headers={"Authorization": f"Bearer {forged}"}))
        with client.stream("GET", "/api/stream/supervisor", params={"token": forged}, timeout=5) as stream:
            assert stream.status_code == 401


def test_a_supervisor_token_re_signed_as_admin_with_the_real_key_is_still_refused(
        gateway: RunningGateway, supervisor_token: str) -> None:
    """Were the key ever to leak: the account's role in the database must match the token's."""
    claims = claims_of(supervisor_token)
    as_admin = jwt.encode({**claims, "app_metadata": {"role": "admin"}}, JWT_SECRET, algorithm="HS256")
    with httpx.Client(base_url=gateway.url) as client:
        response = client.get("/api/supervisors", headers={"Authorization": f"Bearer {as_admin}"})
    assert_refused(response)
    assert "role has changed" in response.json()["message"]


def test_tokens_of_one_kind_do_not_open_another(gateway: RunningGateway, world: World, supervisor_token: str) -> None:
    claims = claims_of(supervisor_token)
    stream_token = jwt.encode({**claims, "aud": STREAM_AUDIENCE}, JWT_SECRET, algorithm="HS256")
    call_token = issue_call_token(uuid.UUID(world.a["call"]), JWT_SECRET, timedelta(hours=1), utc_now())
    forged_call = issue_call_token(uuid.UUID(world.a["call"]), WRONG_KEY, timedelta(hours=1), utc_now())
    call_shaped_user = jwt.encode({**claims, "aud": CALL_AUDIENCE, "sub": world.a["call"]}, WRONG_KEY,
                                  algorithm="HS256")
    with httpx.Client(base_url=gateway.url) as client:
        for token in (stream_token, call_token):  # neither is an access token
            assert_refused(client.get("/api/me", headers={"Authorization": f"Bearer {token}"}))
        for token in (supervisor_token, forged_call, call_shaped_user, unsigned(claims_of(call_token))):
            sent = client.post(f"/api/calls/{world.a['call']}/messages", json={"text": "hello"},
                               headers={"Authorization": f"Bearer {token}"})
            assert_refused(sent)
            with client.stream("GET", f"/api/calls/{world.a['call']}/stream", params={"token": token},
                               timeout=5) as stream:
                assert stream.status_code == 401


@pytest.fixture
def http(supabase: SupabaseWorld) -> Iterator[httpx.Client]:  # noqa: F811
    with httpx.Client(base_url=supabase.gateway.url) as created:
        yield created


def test_a_token_from_another_supabase_project_is_refused(supabase: SupabaseWorld,  # noqa: F811
                                                         http: httpx.Client) -> None:
    """Same shape, same user id and role, even the same key id: signed by another project."""
    signed_in = supabase.login(http, supabase.admin.email)
    assert signed_in.status_code == 200, signed_in.text
    session_id = claims_of(signed_in.json()["access_token"])["session_id"]
    other = FakeGoTrue(supabase.fake.service_key, signing=supabase.fake.signing,
                       jwt_secret="another-projects-jwt-secret-of-32-bytes-at-least")
    impostor = other.add_user(supabase.admin.email, "irrelevant", "admin")
    impostor.id = supabase.admin.id
    token = other.access_token(impostor, session_id)
    assert_refused(http.get("/api/supervisors", headers={"Authorization": f"Bearer {token}"}))
    # Nor does the project's own token pass once edited, or stripped of its signature.
    own = signed_in.json()["access_token"]
    assert_refused(http.get("/api/me", headers={"Authorization": f"Bearer {unsigned(claims_of(own))}"}))
    tampered = with_payload(own, {**claims_of(own), "exp": claims_of(own)["exp"] + 86400})
    assert_refused(http.get("/api/me", headers={"Authorization": f"Bearer {tampered}"}))
