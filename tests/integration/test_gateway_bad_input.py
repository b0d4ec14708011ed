"""Bad text from outside: what cannot be text is refused with a 422 that names the field; what is merely
hostile (markup, SQL) is stored and returned verbatim, as JSON strings, and does nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest

from contracts.service import Runtime
from contracts.tools import BUILTIN_TOOL_NAMES
from tests.factories import new_number
from tests.integration.conftest import PASSWORD, RunningGateway, World, create_supervisor
from tests.pg import connection

CONTROL_AND_UNASSIGNED = ["\x7f", "\x05", "\U000345e8", "\x00", "\x1b[31m", "\ud800"]


def refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_request"
    named = {detail["field"] for detail in body["details"]}
    assert field in named or f"query.{field}" in named, body
    assert f"{field}: " in body["message"], body


def send(client: httpx.Client, method: str, path: str, headers: dict[str, str], body: Any) -> httpx.Response:
    """JSON as the standard encoder writes it (non-ASCII escaped), so a lone surrogate can be sent at all."""
    return client.request(method, path, headers={**headers, "Content-Type": "application/json"},
                          content=json.dumps(body))


def unique_email(local: str = "x") -> str:
    return f"{local}-{uuid.uuid4().hex[:6]}@test.local"


@pytest.fixture(scope="module")
def disposable(gateway: RunningGateway, world: World) -> dict[str, Any]:
    """A supervisor to change: were a refusal to regress, the shared world's stay as they are."""
    with httpx.Client(base_url=gateway.url) as client:
        return create_supervisor(client, world.headers(client, world.admin_email), "bad-input")


@pytest.mark.parametrize("char", CONTROL_AND_UNASSIGNED, ids=repr)
def test_a_supervisor_with_an_unprintable_email_or_name_is_refused(gateway: RunningGateway, world: World,
                                                                   disposable: dict[str, Any], char: str) -> None:
    with httpx.Client(base_url=gateway.url) as client:
        admin = world.headers(client, world.admin_email)
        bad_email = send(client, "POST", "/api/supervisors", admin,
                         {"email": unique_email(f"a{char}b"), "password": PASSWORD, "full_name": "Ok"})
        refused(bad_email, "email")
        bad_name = send(client, "POST", "/api/supervisors", admin,
                        {"email": unique_email(), "password": PASSWORD, "full_name": f"Jo{char}"})
        refused(bad_name, "full_name")
        renamed = send(client, "PATCH", f"/api/supervisors/{disposable['id']}", admin, {"full_name": f"A{char}"})
        refused(renamed, "full_name")
        bad_password = send(client, "POST", "/api/auth/login", {}, {"email": world.admin_email,
                                                                    "password": f"{PASSWORD}{char}"})
        refused(bad_password, "password")


@pytest.mark.parametrize(("field", "value"), [
    ("name", "Two\nlines"), ("name", "Tab\there"), ("voice", "Pu\x00ck"), ("instructions", "Be kind\x00"),
    ("greeting", "Hi\x07"), ("tag_taxonomy", ["bil\x00ling"]), ("knowledge", [{"title": "T\nT", "content": "c"}]),
    ("knowledge", [{"title": "T", "content": "c\x00"}]),
    ("tools", [{"name": BUILTIN_TOOL_NAMES[0], "description": "\U000345e8"}]),
], ids=repr)
def test_agent_text_is_validated_for_what_it_is(gateway: RunningGateway, world: World, field: str,
                                                value: Any) -> None:
    with httpx.Client(base_url=gateway.url) as client:
        a = world.headers(client, world.a["email"])
        created = client.post("/api/agents", headers=a, json={"name": "Ok", "phone_number": new_number(), field: value})
        patched = client.patch(f"/api/agents/{world.a['agent']}", headers=a, json={field: value})
    where = {"tag_taxonomy": "tag_taxonomy.0", "knowledge": "knowledge.0.", "tools": "tools.0.description"}
    for response in (created, patched):
        assert response.status_code == 422, response.text
        fields = {detail["field"] for detail in response.json()["details"]}
        assert any(f.startswith(where.get(field, field)) for f in fields), fields


def test_line_breaks_and_tabs_are_kept_where_they_make_sense(gateway: RunningGateway, world: World) -> None:
    text = "First line\r\nsecond line\n\tindented"
    with httpx.Client(base_url=gateway.url) as client:
        a = world.headers(client, world.a["email"])
        created = client.post("/api/agents", headers=a, json={
            "name": "Multiline", "phone_number": new_number(), "instructions": text, "greeting": "Hello,\nwelcome",
            "knowledge": [{"title": "Returns", "content": text}]})
        assert created.status_code == 201, created.text
        assert created.json()["instructions"] == text and created.json()["knowledge"][0]["content"] == text
        assert client.delete(f"/api/agents/{created.json()['id']}", headers=a).status_code == 204


def test_text_stored_before_the_rules_still_reads_back(gateway: RunningGateway, world: World,
                                                      database_url: str) -> None:
    with httpx.Client(base_url=gateway.url) as client:
        a = world.headers(client, world.a["email"])
        created = client.post("/api/agents", headers=a, json={
            "name": "Legacy", "phone_number": new_number(), "knowledge": [{"title": "Returns", "content": "ok"}],
            "tools": [{"name": "lookup", "source": "mcp", "mcp_server_url": "http://127.0.0.1:9/mcp"}]})
        assert created.status_code == 201, created.text

        async def stored_long_ago() -> None:
            async with connection(database_url) as conn:
                agent_id = uuid.UUID(created.json()["id"])
                await conn.execute("update knowledge_entries set title = E'Tab\\tand\\x05' where agent_id = $1",
                                   agent_id)
                await conn.execute("update agent_tools set description = E'\\x07' where agent_id = $1", agent_id)

        asyncio.run(stored_long_ago())
        fetched = client.get(f"/api/agents/{created.json()['id']}", headers=a)
        assert fetched.status_code == 200, fetched.text
        assert fetched.json()["knowledge"][0]["title"] == "Tab\tand\x05"
        assert fetched.json()["tools"][0] == {"name": "lookup", "description": "\x07", "requires_approval": False,
                                              "source": "mcp", "mcp_server_url": "http://127.0.0.1:9/mcp"}
        assert client.delete(f"/api/agents/{created.json()['id']}", headers=a).status_code == 204


@pytest.mark.parametrize("value", ["\x00", "parcel\x00", "\U000345e8", "\x1b"], ids=repr)
@pytest.mark.parametrize("parameter", ["q", "tag"])
def test_archive_search_text_that_cannot_be_text_is_a_422(gateway: RunningGateway, world: World, parameter: str,
                                                          value: str) -> None:
    with httpx.Client(base_url=gateway.url) as client:
        response = client.get("/api/archive", headers=world.headers(client, world.a["email"]),
                              params={parameter: value})
    refused(response, parameter)


@pytest.mark.parametrize(("path", "params"), [
    ("/api/analytics/kpis", {"to": "0"}), ("/api/analytics/timeseries", {"from": "1700000000"}),
    ("/api/archive", {"to": "0.5"}), ("/api/archive", {"from": "12"}),
], ids=repr)
def test_dates_are_dates_not_seconds_since_1970(gateway: RunningGateway, world: World, path: str,
                                               params: dict[str, str]) -> None:
    with httpx.Client(base_url=gateway.url) as client:
        headers = world.headers(client, world.a["email"])
        refused(client.get(path, headers=headers, params=params), "from" if "from" in params else "to")
        iso = {key: "2025-01-31" if "analytics" in path else "2025-01-31T10:00:00Z" for key in params}
        assert client.get(path, headers=headers, params=iso).status_code == 200


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/supervisors", {"max_agents": False}, "max_agents"), ("/api/supervisors", {"max_agents": "5"}, "max_agents"),
    ("/api/supervisors/{a}", {"active": "no"}, "active"), ("/api/supervisors/{a}", {"active": 0}, "active"),
], ids=repr)
def test_numbers_and_booleans_are_not_guessed_from_other_types(gateway: RunningGateway, world: World,
                                                               disposable: dict[str, Any], path: str,
                                                               body: dict[str, Any], field: str) -> None:
    with httpx.Client(base_url=gateway.url) as client:
        admin = world.headers(client, world.admin_email)
        if path == "/api/supervisors":
            response = client.post(path, headers=admin,
                                   json={"email": unique_email(), "password": PASSWORD, "full_name": "Ok", **body})
        else:
            response = client.patch(path.format(a=disposable["id"]), headers=admin, json=body)
    refused(response, field)


HOSTILE = ["<script>alert('x')</script>", "'; drop table agents; --", "\" or 1=1 --", "Robert'); DROP TABLE users;--",
           "<img src=x onerror=alert(1)>", "{{7*7}} ${7*7} %s %n", "\\'\\\"\\\\"]


async def _pending_tool_request(database_url: str, world: World) -> str:
    """A pending request of A's, on a call of its own (the shared world's call keeps its one request)."""
    supervisor, agent = uuid.UUID(world.a["id"]), uuid.UUID(world.a["agent"])
    async with connection(database_url) as conn:
        call = await conn.fetchval(
            """insert into calls(id, supervisor_id, agent_id, agent_name, channel, dialled_number, status, ended_at)
               values (gen_random_uuid(), $1, $2, 'A1', 'chat', '+1-555-1', 'ended', now()) returning id""",
            supervisor, agent)
        return str(await conn.fetchval(
            """insert into tool_requests(id, call_id, supervisor_id, agent_id, tool_name, requires_approval, status,
                                         expires_at)
               values (gen_random_uuid(), $1, $2, $3, 'refund_order', true, 'pending', now() + interval '1 day')
               returning id""", call, supervisor, agent))


@pytest.fixture(scope="module")
def hostile_owner(gateway: RunningGateway, world: World) -> dict[str, Any]:
    """A supervisor whose email holds a quote and markup, as an address may."""
    with httpx.Client(base_url=gateway.url) as client:
        email = f"o'hara+{uuid.uuid4().hex[:6]}<b>@test.local"
        created = client.post("/api/supervisors", headers=world.headers(client, world.admin_email),
                              json={"email": email, "password": PASSWORD, "full_name": "O'Hara", "max_agents": 20})
        assert created.status_code == 201, created.text
        assert created.json()["email"] == email.lower()
        return created.json()


@pytest.mark.parametrize("payload", HOSTILE, ids=repr)
def test_markup_and_sql_in_every_stored_text_come_back_verbatim(gateway: RunningGateway, world: World,
                                                                database_url: str, call_router: Runtime,
                                                                hostile_owner: dict[str, Any], payload: str) -> None:
    with httpx.Client(base_url=gateway.url, timeout=15) as client:
        admin = world.headers(client, world.admin_email)
        renamed = client.patch(f"/api/supervisors/{hostile_owner['id']}", headers=admin, json={"full_name": payload})
        assert renamed.status_code == 200 and renamed.json()["full_name"] == payload
        assert renamed.headers["content-type"] == "application/json"
        listed = {s["id"]: s for s in client.get("/api/supervisors", headers=admin).json()}
        assert listed[hostile_owner["id"]]["full_name"] == payload

        own = world.headers(client, hostile_owner["email"])
        fields = {"name": payload[:100], "instructions": payload, "greeting": payload, "voice": payload[:50],
                  "tag_taxonomy": [payload[:50]],
                  "tools": [{"name": BUILTIN_TOOL_NAMES[0], "description": payload}],
                  "knowledge": [{"title": payload, "content": payload}]}
        created = client.post("/api/agents", headers=own, json={"phone_number": new_number(), **fields})
        assert created.status_code == 201, created.text
        fetched = client.get(f"/api/agents/{created.json()['id']}", headers=own).json()
        expected = {**fields, "tag_taxonomy": [payload[:50].strip().lower()],
                    "tools": [{**fields["tools"][0], "requires_approval": False, "source": "builtin",
                               "mcp_server_url": None}]}
        assert {key: fetched[key] for key in fields} == {key: expected[key] for key in fields}

        dialled = client.post("/api/calls", json={"number": created.json()["phone_number"], "caller": payload})
        assert dialled.status_code == 201, dialled.text
        call = client.get(f"/api/calls/{dialled.json()['call_id']}", headers=own)
        assert call.status_code == 200 and call.json()["caller"] == payload
        token = {"Authorization": f"Bearer {dialled.json()['call_token']}"}
        assert client.post(f"/api/calls/{dialled.json()['call_id']}/end", headers=token).status_code == 202

        request_id = asyncio.run(_pending_tool_request(database_url, world))
        a = world.headers(client, world.a["email"])
        decided = client.post(f"/api/tool-requests/{request_id}/decision", headers=a,
                              json={"allow": False, "note": payload})
        assert decided.status_code == 200 and decided.json()["note"] == payload

        for parameter in ("q", "tag"):
            searched = client.get("/api/archive", headers=a, params={parameter: payload[:50]})
            assert searched.status_code == 200, searched.text
        # Nothing was executed: the tables the payloads name are still there, and whole.
        assert client.get("/api/agents", headers=a).status_code == 200
        assert client.get("/api/archive", headers=a).json()["total"] >= 1
        assert client.get("/api/me", headers=own).json()["email"] == hostile_owner["email"]
