"""The gateway's Supabase Auth path, through the real `supabase` client talking to a local server that
speaks Supabase Auth's API: with a project JWT secret (HS256) and with the project's JWKS (RS256)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest

from contracts.envelope import utc_now
from embedded_stack.postgres_server import free_port
from gateway.tokens import Principal, issue_token
from tests.fakes.gotrue import FakeGoTrue, FakeUser
from tests.integration.conftest import PASSWORD, RunningGateway, running_gateway, serve

# Shaped like a Supabase service-role key (a JWT); the fake only compares it.
SERVICE_KEY = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.ZmFrZS1zZXJ2aWNlLWtleQ"


@dataclass
class SupabaseWorld:
    fake: FakeGoTrue
    gateway: RunningGateway
    admin: FakeUser

    def login(self, client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
        return client.post("/api/auth/login", json={"email": email, "password": password})

    def bearer(self, client: httpx.Client, email: str) -> dict[str, str]:
        response = self.login(client, email)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="module", params=["HS256", "RS256"])
def supabase(request: pytest.FixtureRequest, nats_url: str, database_url: str) -> Iterator[SupabaseWorld]:
    fake = FakeGoTrue(SERVICE_KEY, signing=request.param)
    admin = fake.add_user(f"root-{uuid.uuid4().hex[:6]}@supabase.test", PASSWORD, "admin", "Root Admin")
    served = serve(fake.app())
    try:
        with running_gateway(nats_url, database_url, supabase_url=served.url, supabase_key=SERVICE_KEY,
                             supabase_jwt_secret=fake.jwt_secret if request.param == "HS256" else None) as gateway:
            yield SupabaseWorld(fake, gateway, admin)
    finally:
        served.stop()


@pytest.fixture
def http(supabase: SupabaseWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=supabase.gateway.url) as created:
        yield created


def test_a_dashboard_made_admin_signs_in_and_gets_a_profile(supabase: SupabaseWorld, http: httpx.Client) -> None:
    response = supabase.login(http, supabase.admin.email)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"] == {"id": supabase.admin.id, "email": supabase.admin.email, "role": "admin"}
    assert body["expires_in"] == 3600
    assert "POST /auth/v1/token" in supabase.fake.requests
    fetched_keys = "GET /auth/v1/.well-known/jwks.json" in supabase.fake.requests
    assert fetched_keys == (supabase.fake.signing == "RS256")  # verified with the project's published keys
    me = http.get("/api/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["role"] == "admin"


def test_supervisors_are_created_in_supabase_and_hold_the_supervisor_role(
        supabase: SupabaseWorld, http: httpx.Client) -> None:
    admin = supabase.bearer(http, supabase.admin.email)
    email = f"sup-{uuid.uuid4().hex[:6]}@supabase.test"
    created = http.post("/api/supervisors", headers=admin,
                        json={"email": email, "password": PASSWORD, "full_name": "Sam Supabase"})
    assert created.status_code == 201, created.text
    assert supabase.fake.users[created.json()["id"]].app_metadata["role"] == "supervisor"
    duplicate = http.post("/api/supervisors", headers=admin,
                          json={"email": email, "password": PASSWORD, "full_name": "Again"})
    assert duplicate.status_code == 409 and "already been registered" in duplicate.json()["message"]

    supervisor = supabase.bearer(http, email)
    assert http.get("/api/me", headers=supervisor).json()["role"] == "supervisor"
    assert http.get("/api/supervisors", headers=supervisor).status_code == 403
    agent = http.post("/api/agents", headers=supervisor,
                      json={"name": "Billing", "phone_number": f"+1-555-{uuid.uuid4().int % 10**7:07d}"})
    assert agent.status_code == 201, agent.text

    assert http.delete(f"/api/supervisors/{created.json()['id']}", headers=admin).status_code == 204
    assert created.json()["id"] not in supabase.fake.users
    assert http.get("/api/me", headers=supervisor).status_code == 401


def test_wrong_password_is_refused_with_supabases_reason(supabase: SupabaseWorld, http: httpx.Client) -> None:
    response = supabase.login(http, supabase.admin.email, "not-the-password")
    assert response.status_code == 401 and response.json()["message"] == "Invalid login credentials"


def test_refresh_rotates_and_reuse_and_logout_are_refused(supabase: SupabaseWorld, http: httpx.Client) -> None:
    first = supabase.login(http, supabase.admin.email).json()
    second = http.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200 and second.json()["refresh_token"] != first["refresh_token"]
    reused = http.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401 and "Already Used" in reused.json()["message"]

    third = supabase.login(http, supabase.admin.email).json()
    logout = http.post("/api/auth/logout", headers={"Authorization": f"Bearer {third['access_token']}"})
    assert logout.status_code == 204
    assert http.post("/api/auth/refresh", json={"refresh_token": third["refresh_token"]}).status_code == 401
    # The access token is still within its lifetime, but its session has ended.
    after = http.get("/api/me", headers={"Authorization": f"Bearer {third['access_token']}"})
    assert after.status_code == 401 and "session has ended" in after.json()["message"]
    fresh = supabase.login(http, supabase.admin.email).json()  # other sessions are untouched
    assert http.get("/api/me", headers={"Authorization": f"Bearer {fresh['access_token']}"}).status_code == 200


def test_tokens_not_signed_by_the_project_are_refused(supabase: SupabaseWorld, http: httpx.Client) -> None:
    principal = Principal(uuid.UUID(supabase.admin.id), supabase.admin.email, "admin", None)
    forged = issue_token(principal, "an-attacker-secret-that-is-long-enough!", timedelta(hours=1), utc_now())
    response = http.get("/api/supervisors", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


def test_an_unreachable_supabase_is_a_503_not_a_500(nats_url: str, database_url: str) -> None:
    with running_gateway(nats_url, database_url, supabase_url=f"http://127.0.0.1:{free_port()}",
                         supabase_key=SERVICE_KEY, supabase_jwt_secret="x" * 40) as gateway, \
            httpx.Client(base_url=gateway.url) as client:
        response = client.post("/api/auth/login", json={"email": "someone@supabase.test", "password": PASSWORD})
    assert response.status_code == 503 and "cannot be reached" in response.json()["message"]
