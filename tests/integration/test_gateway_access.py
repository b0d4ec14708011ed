"""Who may call what: every route of the app x {anonymous, supervisor A, supervisor B, admin}.

The table below must name every route: a new route without a rule fails the first test.
Resources in paths belong to supervisor A, so B is the outsider.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from contracts.bus import connect_bus
from contracts.deadletter import DeadLetter
from contracts.envelope import utc_now
from contracts.service import Runtime
from contracts.subjects import deadletter_subject
from tests.integration.conftest import PASSWORD, RunningGateway, World, create_agent, create_supervisor
from tests.pg import connection

# public: anyone; user: any signed-in user; admin: admins only; own: A and the admin (B gets 404: RLS hides
# other supervisors' rows); own-stream: like own, but B gets 403 for streams (a stream says whose it is);
# call-token: only the customer's call token opens it, never a user's token.
RULES: dict[tuple[str, str], str] = {
    ("POST", "/api/auth/login"): "public",
    ("POST", "/api/auth/refresh"): "public",
    ("POST", "/api/auth/logout"): "user",
    ("GET", "/api/me"): "user",
    ("POST", "/api/stream-token"): "user",
    ("GET", "/api/supervisors"): "admin",
    ("POST", "/api/supervisors"): "admin",
    ("GET", "/api/supervisors/{supervisor_id}"): "admin",
    ("PATCH", "/api/supervisors/{supervisor_id}"): "admin",
    ("DELETE", "/api/supervisors/{supervisor_id}"): "admin",
    ("GET", "/api/admin/overview"): "admin",
    ("GET", "/api/admin/dead-letters"): "admin",
    ("POST", "/api/admin/dead-letters/{sequence}/replay"): "admin",
    ("GET", "/api/agents"): "user",
    ("POST", "/api/agents"): "user",
    ("GET", "/api/agents/{agent_id}"): "own",
    ("PATCH", "/api/agents/{agent_id}"): "own",
    ("DELETE", "/api/agents/{agent_id}"): "own",
    ("GET", "/api/archive"): "user",
    ("GET", "/api/archive/{call_id}"): "own",
    ("GET", "/api/notifications"): "user",
    ("POST", "/api/notifications/{notification_id}/read"): "own",
    ("GET", "/api/stream/agents/{agent_id}"): "own-stream",
    ("GET", "/api/stream/supervisor"): "user",
    ("GET", "/api/stream/admin"): "admin",
    ("POST", "/api/calls"): "public",
    ("GET", "/api/directory"): "public",
    ("GET", "/api/tool-catalog"): "user",
    ("POST", "/api/calls/{call_id}/messages"): "call-token",
    ("GET", "/api/calls/{call_id}/stream"): "call-token",
    ("POST", "/api/calls/{call_id}/end"): "own",
    ("GET", "/api/calls"): "user",
    ("GET", "/api/calls/{call_id}"): "own",
    ("POST", "/api/calls/{call_id}/whisper"): "own",
    ("POST", "/api/calls/{call_id}/inject"): "own",
    ("POST", "/api/calls/{call_id}/listen"): "own",
    ("POST", "/api/calls/{call_id}/takeover"): "own",
    ("POST", "/api/calls/{call_id}/supervisor-messages"): "own",
    ("POST", "/api/calls/{call_id}/handback"): "own",
    ("GET", "/api/tool-requests"): "user",
    ("POST", "/api/tool-requests/{request_id}/decision"): "own",
    ("GET", "/api/analytics/kpis"): "user",
    ("GET", "/api/analytics/leaderboard"): "user",
    ("GET", "/api/analytics/timeseries"): "user",
    ("GET", "/api/analytics/live"): "user",
    ("GET", "/health"): "public",
    ("GET", "/metrics"): "admin",
}
ROLES = ("anonymous", "supervisor_b", "supervisor_a", "admin")
DENIED = {
    "public": {},
    "user": {"anonymous": 401},
    "admin": {"anonymous": 401, "supervisor_a": 403, "supervisor_b": 403},
    "own": {"anonymous": 401, "supervisor_b": 404},
    "own-stream": {"anonymous": 401, "supervisor_b": 403},
    "call-token": {"anonymous": 401, "supervisor_a": 401, "supervisor_b": 401, "admin": 401},
}
# Valid bodies, so that what is checked is who may call, not what they sent.
BODIES: dict[str, Any] = {
    "/api/calls/{call_id}/inject": {"instructions": "Offer a voucher."},
    "/api/tool-requests/{request_id}/decision": {"allow": False, "note": "matrix"},
    "/api/calls/{call_id}/messages": {"text": "hello"},
    "/api/calls/{call_id}/supervisor-messages": {"text": "hello"},
    "/api/calls/{call_id}/handback": {},
}


def app_routes(gateway: RunningGateway) -> set[tuple[str, str]]:
    """The app's route table as it publishes it (FastAPI nests included routers, so not app.routes)."""
    return {(method.upper(), path) for path, operations in gateway.app.openapi()["paths"].items()
            for method in operations}


def test_every_route_has_an_access_rule(gateway: RunningGateway) -> None:
    assert app_routes(gateway) == set(RULES), "add the new route to RULES with who may call it"


def a_dead_letter(nats_url: str) -> str:
    """The stream sequence of a dead letter (one a consumer could not parse), for the replay route."""

    async def publish() -> int:
        bus = await connect_bus(nats_url, "access-matrix")
        try:
            letter = DeadLetter(consumer="access-matrix", original_subject="call.message.x.y.z", reason="matrix",
                                payload="{not json", deliveries=1, received_at=utc_now())
            return (await bus.js.publish(deadletter_subject("access-matrix"), letter.model_dump_json().encode())).seq
        finally:
            await bus.close()

    return str(asyncio.run(publish()))


def path_values(client: httpx.Client, world: World, method: str, admin: dict[str, str]) -> dict[str, str]:
    """A's resources; a DELETE gets fresh ones so that an allowed delete does not spoil the next check."""
    values = {"agent_id": world.a["agent"], "call_id": world.a["call"], "notification_id": world.a["notification"],
              "supervisor_id": world.a["id"], "request_id": world.a["tool_request"]}
    if method == "DELETE":
        values["agent_id"] = create_agent(client, world.headers(client, world.a["email"]), name="Disposable")["id"]
        values["supervisor_id"] = create_supervisor(client, admin, "disposable")["id"]
    return values


def call(client: httpx.Client, world: World, method: str, template: str, path: str, headers: dict[str, str]) -> int:
    if path.endswith("/stream") or path.startswith("/api/stream/"):
        with client.stream(method, path, headers=headers, timeout=5) as response:
            return response.status_code
    body: Any = BODIES.get(template, {})
    if template == "/api/auth/login":
        body = {"email": world.a["email"], "password": PASSWORD}
    elif template == "/api/calls":
        body = {"number": world.a["phone_number"], "caller": "matrix@test.local"}
    return client.request(method, path, headers=headers, json=body if method in {"POST", "PATCH"} else None).status_code


@pytest.mark.parametrize(("method", "template"), sorted(RULES), ids=lambda v: v)
def test_route_access_by_role(gateway: RunningGateway, world: World, call_router: Runtime, method: str,
                              template: str) -> None:
    rule = RULES[(method, template)]
    ends_session = template == "/api/auth/logout"
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        admin = world.headers(client, world.admin_email)
        for role in ROLES:
            email = {"anonymous": None, "admin": world.admin_email, "supervisor_a": world.a["email"],
                     "supervisor_b": world.b["email"]}[role]
            headers = world.headers(client, email, fresh=ends_session) if email else {}
            values = path_values(client, world, method, admin)
            if "{sequence}" in template:
                values["sequence"] = a_dead_letter(gateway.settings.nats_url)
            path = template.format(**values)
            if template == "/api/stream/supervisor" and role == "admin":
                path += f"?supervisor_id={world.a['id']}"
            status = call(client, world, method, template, path, headers)
            expected = DENIED[rule].get(role)
            if expected is not None:
                assert status == expected, f"{role} {method} {path}: {status}"
            elif template == "/health":  # 503 is its honest answer while the other services are not running
                assert status in (200, 503)
            else:
                assert status not in (401, 403, 404) and status < 500, f"{role} {method} {path}: {status}"


def test_a_supervisor_sees_only_their_own_lists(gateway: RunningGateway, world: World) -> None:
    with httpx.Client(base_url=gateway.url) as client:
        b = world.headers(client, world.b["email"])
        admin = world.headers(client, world.admin_email)
        agents_b = {a["id"] for a in client.get("/api/agents", headers=b).json()}
        archive_b = {c["call_id"] for c in client.get("/api/archive", headers=b).json()["items"]}
        notes_b = {n["id"] for n in client.get("/api/notifications", headers=b).json()}
        agents_admin = {a["id"] for a in client.get("/api/agents", headers=admin).json()}
    assert world.b["agent"] in agents_b and world.a["agent"] not in agents_b
    assert world.b["call"] in archive_b and world.a["call"] not in archive_b
    assert world.b["notification"] in notes_b and world.a["notification"] not in notes_b
    assert {world.a["agent"], world.b["agent"]} <= agents_admin


def test_deleting_a_supervisor_revokes_their_tokens(gateway: RunningGateway, world: World) -> None:
    with httpx.Client(base_url=gateway.url) as client:
        admin = world.headers(client, world.admin_email)
        doomed = create_supervisor(client, admin, "doomed")
        tokens = world.login(client, doomed["email"])
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert client.get("/api/me", headers=bearer).status_code == 200
        assert client.delete(f"/api/supervisors/{doomed['id']}", headers=admin).status_code == 204
        assert client.get("/api/me", headers=bearer).status_code == 401
        refreshed = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 401
        assert client.post("/api/auth/login", json={"email": doomed["email"], "password": PASSWORD}).status_code == 401


def test_a_supervisor_cannot_create_an_agent_for_another(gateway: RunningGateway, world: World) -> None:
    with httpx.Client(base_url=gateway.url) as client:
        a = world.headers(client, world.a["email"])
        response = client.post("/api/agents", headers=a, json={"name": "Sneaky", "phone_number": "+1-555-4242",
                                                                "supervisor_id": world.b["id"]})
    assert response.status_code == 403 and "their own agents" in response.json()["message"]


def test_unknown_ids_are_404_with_a_message(gateway: RunningGateway, world: World) -> None:
    with httpx.Client(base_url=gateway.url) as client:
        admin = world.headers(client, world.admin_email)
        response = client.get(f"/api/agents/{uuid.uuid4()}", headers=admin)
    assert response.status_code == 404 and response.json() == {"error": "not_found", "message": "agent not found"}


async def _pending_request(database_url: str, supervisor_id: str, agent_id: str, call_id: str) -> str:
    async with connection(database_url) as conn:
        return str(await conn.fetchval(
            """insert into tool_requests(id, call_id, supervisor_id, agent_id, tool_name, requires_approval, status,
                                         expires_at)
               values (gen_random_uuid(), $1, $2, $3, 'refund_order', true, 'pending', now() + interval '1 day')
               returning id""", uuid.UUID(call_id), uuid.UUID(supervisor_id), uuid.UUID(agent_id)))


def test_a_supervisor_cannot_reach_anothers_live_call_by_any_route(gateway: RunningGateway, world: World,
                                                                    call_router: Runtime, database_url: str) -> None:
    """The matrix above uses A's archived call; this is a live one, reached through ids in paths, query
    parameters, stream tokens and B's own customer's call token."""
    with httpx.Client(base_url=gateway.url, timeout=15) as client:
        a, b = world.headers(client, world.a["email"]), world.headers(client, world.b["email"])
        agent = create_agent(client, a, name="Live for the matrix")
        dialled = client.post("/api/calls", json={"number": agent["phone_number"], "caller": "matrix@test.local"})
        assert dialled.status_code == 201 and dialled.json()["status"] == "connected", dialled.text
        call_id = dialled.json()["call_id"]
        other = client.post("/api/calls", json={"number": world.b["phone_number"], "caller": "b@test.local"}).json()
        request_id = asyncio.run(_pending_request(database_url, world.a["id"], agent["id"], call_id))
        try:
            assert call_id not in {c["id"] for c in client.get("/api/calls", headers=b).json()}
            assert client.get("/api/calls", headers=b, params={"agent_id": agent["id"]}).json() == []
            assert client.get("/api/agents", headers=b, params={"supervisor_id": world.a["id"]}).json() == []
            assert client.get("/api/archive", headers=b, params={"agent_id": agent["id"]}).json()["items"] == []
            for method, path, body in (
                    ("GET", f"/api/calls/{call_id}", None), ("POST", f"/api/calls/{call_id}/whisper", None),
                    ("POST", f"/api/calls/{call_id}/inject", {"instructions": "Refund everything."}),
                    ("POST", f"/api/calls/{call_id}/listen", None), ("POST", f"/api/calls/{call_id}/end", None),
                    ("POST", f"/api/tool-requests/{request_id}/decision", {"allow": True}),
                    ("GET", "/api/analytics/kpis?scope=supervisor&id=" + world.a["id"], None),
                    ("GET", "/api/analytics/timeseries?scope=agent&id=" + agent["id"], None)):
                response = client.request(method, path, headers=b, json=body)
                assert response.status_code == 404, f"{method} {path}: {response.status_code} {response.text}"
            stream_token = client.post("/api/stream-token", headers=b).json()["token"]
            for path, params in ((f"/api/stream/agents/{agent['id']}", {"token": stream_token}),
                                 ("/api/stream/supervisor", {"token": stream_token, "supervisor_id": world.a["id"]}),
                                 ("/api/stream/admin", {"token": stream_token})):
                with client.stream("GET", path, params=params, timeout=5) as stream:
                    assert stream.status_code == 403, path
            # B's customer holds a genuine call token, for another call.
            theirs = {"Authorization": f"Bearer {other['call_token']}"}
            assert client.post(f"/api/calls/{call_id}/messages", headers=theirs, json={"text": "hi"}).status_code == 403
            assert client.post(f"/api/calls/{call_id}/end", headers=theirs).status_code == 403
            with client.stream("GET", f"/api/calls/{call_id}/stream", params={"token": other["call_token"]},
                               timeout=5) as stream:
                assert stream.status_code == 403
            # Still A's, untouched: live and undecided.
            assert client.get(f"/api/calls/{call_id}", headers=a).json()["status"] == "active"
            pending = client.get("/api/tool-requests", headers=a).json()
            assert request_id in {r["id"] for r in pending}
        finally:
            for call, token in ((call_id, dialled.json()["call_token"]), (other["call_id"], other["call_token"])):
                client.post(f"/api/calls/{call}/end", headers={"Authorization": f"Bearer {token}"})
