"""The REST API through a real gateway: agent configuration and its limits, bad input (always a 4xx
with a message and nothing half-written), the audit log, the archive, the admin overview and /metrics."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.bus import Bus, EventConsumer
from contracts.calls import CustomerMessage
from contracts.subjects import supervisor_filter
from gateway.queries import archive as archive_queries
from tests.factories import make_live_call, new_number
from tests.integration.conftest import (
    METRICS_TOKEN,
    RunningGateway,
    World,
    create_agent,
    create_supervisor,
    running_gateway,
)
from tests.integration.test_bus import Recorder, fresh_ids, running, unique_durable
from tests.pg import connection
from tests.waiting import eventually


@pytest.fixture
def http(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url) as created:
        yield created


@pytest.fixture
def fresh_supervisor(http: httpx.Client, world: World) -> dict[str, Any]:
    """A supervisor on the default limits, with their headers."""
    supervisor = create_supervisor(http, world.headers(http, world.admin_email), "fresh")
    return {**supervisor, "headers": world.headers(http, supervisor["email"])}


async def _fetch(database_url: str, query: str, *args: Any) -> list[dict[str, Any]]:
    async with connection(database_url) as conn:
        return [dict(r) for r in await conn.fetch(query, *args)]


def fetch(database_url: str, query: str, *args: Any) -> list[dict[str, Any]]:
    return asyncio.run(_fetch(database_url, query, *args))


FULL_AGENT = {
    "name": "Orders & Shipping", "instructions": "Be brief and kind.", "greeting": "Hi, how can I help?",
    "voice": "Kore", "tag_taxonomy": ["Shipping", "refund"],
    "tools": [{"name": "order_lookup", "description": "Find an order"},
              {"name": "refund_order", "requires_approval": True}],
    "knowledge": [{"title": "Returns", "content": "30 days, unused."}],
}


def test_an_agent_keeps_its_whole_configuration(http: httpx.Client, fresh_supervisor: dict[str, Any]) -> None:
    headers = fresh_supervisor["headers"]
    created = create_agent(http, headers, **FULL_AGENT)
    fetched = http.get(f"/api/agents/{created['id']}", headers=headers).json()
    assert fetched["tag_taxonomy"] == ["shipping", "refund"]
    assert [(t["name"], t["requires_approval"]) for t in fetched["tools"]] == [("order_lookup", False),
                                                                            ("refund_order", True)]
    assert fetched["knowledge"] == FULL_AGENT["knowledge"]
    assert fetched["supervisor_id"] == fresh_supervisor["id"] and fetched["status"] == "idle"
    patched = http.patch(f"/api/agents/{created['id']}", headers=headers,
                         json={"tools": [{"name": "create_ticket", "requires_approval": True}], "voice": "Puck"})
    assert patched.status_code == 200
    assert [t["name"] for t in patched.json()["tools"]] == ["create_ticket"] and patched.json()["voice"] == "Puck"


def test_the_fourth_agent_is_refused_with_a_message(http: httpx.Client, fresh_supervisor: dict[str, Any],
                                                    database_url: str) -> None:
    headers = fresh_supervisor["headers"]
    for n in range(3):
        create_agent(http, headers, name=f"Agent {n}")
    refused = http.post("/api/agents", headers=headers, json={"name": "Fourth", "phone_number": new_number()})
    assert refused.status_code == 409
    assert "the most allowed (3)" in refused.json()["message"]
    rows = fetch(database_url, "select name from agents where supervisor_id = $1", uuid.UUID(fresh_supervisor["id"]))
    assert len(rows) == 3  # nothing half-written


def test_concurrent_creates_cannot_pass_the_limit(gateway: RunningGateway, fresh_supervisor: dict[str, Any]) -> None:
    async def create_all() -> list[int]:
        async with httpx.AsyncClient(base_url=gateway.url) as client:
            responses = await asyncio.gather(*(
                client.post("/api/agents", headers=fresh_supervisor["headers"],
                            json={"name": f"Racer {n}", "phone_number": new_number()}) for n in range(6)))
        return sorted(r.status_code for r in responses)

    assert asyncio.run(create_all()) == [201, 201, 201, 409, 409, 409]


def test_a_taken_phone_number_is_a_conflict(http: httpx.Client, world: World,
                                            fresh_supervisor: dict[str, Any]) -> None:
    taken = http.get(f"/api/agents/{world.a['agent']}", headers=world.headers(http, world.a["email"])).json()
    response = http.post("/api/agents", headers=fresh_supervisor["headers"],
                         json={"name": "Copycat", "phone_number": taken["phone_number"]})
    assert response.status_code == 409 and "already belongs to another agent" in response.json()["message"]


@pytest.mark.parametrize(("body", "fragment"), [
    ({"name": "X"}, "phone_number"),
    ({"name": "X", "phone_number": "call me"}, "phone_number"),
    ({"name": 42, "phone_number": "+1-555-0000"}, "name"),
    ({"name": "X", "phone_number": "+1-555-0000", "tools": [{"name": "rm_rf"}]}, "unknown built-in tool"),
    ({"name": "X", "phone_number": "+1-555-0000", "tools": [{"name": "order_lookup"}, {"name": "order_lookup"}]},
     "unique"),
    ({"name": "X", "phone_number": "+1-555-0000", "colour": "red"}, "colour"),
])
def test_invalid_agent_bodies_are_422_with_the_field_named(http: httpx.Client, world: World,
                                                           body: dict[str, Any], fragment: str) -> None:
    response = http.post("/api/agents", headers=world.headers(http, world.a["email"]), json=body)
    assert response.status_code == 422
    assert fragment in json.dumps(response.json())
    assert response.json()["message"]


def test_malformed_json_is_a_422_with_a_message(http: httpx.Client, world: World) -> None:
    headers = {**world.headers(http, world.a["email"]), "Content-Type": "application/json"}
    response = http.post("/api/agents", headers=headers, content=b'{"name": "unterminated')
    assert response.status_code == 422 and response.json()["message"]


def test_a_huge_body_is_refused_before_it_is_read(http: httpx.Client, world: World) -> None:
    huge = {"name": "X", "phone_number": "+1-555-0000", "instructions": "x" * 1_000_000}
    response = http.post("/api/agents", headers=world.headers(http, world.a["email"]), json=huge)
    assert response.status_code == 413 and "larger than" in response.json()["message"]


def test_a_chunked_huge_body_is_refused_too(http: httpx.Client, world: World) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "X", "instructions": "'
        for _ in range(100):
            yield b"x" * 10_000
        yield b'"}'

    headers = {**world.headers(http, world.a["email"]), "Content-Type": "application/json"}
    response = http.post("/api/agents", headers=headers, content=chunks())
    assert response.status_code == 413


@pytest.mark.parametrize("path", ["/api/agents/not-a-uuid", "/api/archive/42"])
def test_malformed_ids_are_422(http: httpx.Client, world: World, path: str) -> None:
    response = http.get(path, headers=world.headers(http, world.admin_email))
    assert response.status_code == 422 and response.json()["message"]


def test_unknown_routes_are_404_json(http: httpx.Client) -> None:
    response = http.get("/api/nothing-here")
    assert response.status_code == 404 and response.json()["message"]


def test_changes_are_audited(http: httpx.Client, world: World, fresh_supervisor: dict[str, Any],
                             database_url: str) -> None:
    before = fetch(database_url, "select coalesce(max(id), 0) as id from audit_log")[0]["id"]
    agent = create_agent(http, fresh_supervisor["headers"], name="Audited")
    http.patch(f"/api/agents/{agent['id']}", headers=world.headers(http, world.admin_email), json={"name": "Renamed"})
    http.delete(f"/api/agents/{agent['id']}", headers=fresh_supervisor["headers"])
    http.post(f"/api/notifications/{world.a['notification']}/read", headers=world.headers(http, world.a["email"]))
    rows = fetch(database_url, "select actor_id, actor_role, action, target_id, supervisor_id, at from audit_log"
                               " where target_id = any($1::text[]) and id > $2 order by id",
                 [agent["id"], world.a["notification"]], before)
    assert [(r["action"], r["actor_role"]) for r in rows] == [
        ("agent.create", "supervisor"), ("agent.update", "admin"), ("agent.delete", "supervisor"),
        ("notification.read", "supervisor")]
    assert {str(r["supervisor_id"]) for r in rows[:3]} == {fresh_supervisor["id"]}
    assert all(r["actor_id"] and r["at"] for r in rows)
    created = fetch(database_url, "select actor_role from audit_log where action = 'supervisor.create'"
                                  " and target_id = $1", fresh_supervisor["id"])
    assert created == [{"actor_role": "admin"}]


def test_archive_search_filters_and_pages(http: httpx.Client, world: World) -> None:
    headers = world.headers(http, world.a["email"])

    def search(**params: Any) -> dict[str, Any]:
        response = http.get("/api/archive", headers=headers, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    assert world.a["call"] in [i["call_id"] for i in search()["items"]]
    assert search(tag="SHIPPING")["total"] == 1
    assert search(tag="billing")["total"] == 0
    assert search(q="parcel")["total"] == 1
    assert search(sentiment="negative")["total"] == 0
    assert search(agent_id=world.a["agent"], page_size=1, page=1)["items"][0]["call_id"] == world.a["call"]
    assert search(page=2, page_size=1)["items"] == []
    refused = http.get("/api/archive", headers=headers, params={"from": "2026-02-01T00:00:00Z",
                                                                "to": "2026-01-01T00:00:00Z"})
    assert refused.status_code == 422 and "'from' is after 'to'" in refused.json()["message"]


def test_a_broad_search_counts_only_up_to_a_limit(http: httpx.Client, world: World,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive_queries, "COUNT_LIMIT", 1)  # the admin sees both seeded calls
    page = http.get("/api/archive", headers=world.headers(http, world.admin_email)).json()
    assert (page["total"], page["total_is_lower_bound"]) == (1, True) and len(page["items"]) >= 2


def test_archived_call_in_full(http: httpx.Client, world: World) -> None:
    response = http.get(f"/api/archive/{world.a['call']}", headers=world.headers(http, world.a["email"]))
    assert response.status_code == 200
    call = response.json()
    assert call["summary"] == "Parcel tracking given" and call["tags"] == ["shipping"]
    assert call["csat"] == 4.5 and call["fcr"] is True and call["handle_seconds"] == 180
    assert [line["text"] for line in call["transcript"]] == ["Where is my parcel?"]
    assert [t["tool_name"] for t in call["tool_requests"]] == ["refund_order"] and "sentiment_timeline" in call


def test_admin_overview_has_a_card_per_supervisor(http: httpx.Client, world: World) -> None:
    response = http.get("/api/admin/overview", headers=world.headers(http, world.admin_email))
    assert response.status_code == 200
    cards = {card["id"]: card for card in response.json()["supervisors"]}
    assert {world.a["id"], world.b["id"]} <= set(cards)
    assert cards[world.a["id"]]["agents"] >= 1 and cards[world.a["id"]]["calls_today"] >= 0


def test_live_calls_filtered_by_take_over_keep_each_viewers_own(http: httpx.Client, world: World,
                                                                  database_url: str) -> None:
    admin = world.headers(http, world.admin_email)
    floors = []
    for label in ("dana", "lee"):
        supervisor = create_supervisor(http, admin, label)
        headers = world.headers(http, supervisor["email"])
        agents = [uuid.UUID(create_agent(http, headers, name=f"A{n}")["id"]) for n in range(2)]
        floors.append((uuid.UUID(supervisor["id"]), agents, headers))
    (dana, dana_agents, dana_headers), (lee, lee_agents, _) = floors

    async def calls() -> list[uuid.UUID]:  # an agent has one live call at a time
        async with connection(database_url) as conn:
            return [(await make_live_call(conn, (dana, dana_agents[0]), taken_over_by=dana)).call_id,
                    (await make_live_call(conn, (dana, dana_agents[1]))).call_id,
                    (await make_live_call(conn, (lee, lee_agents[0]), taken_over_by=lee)).call_id]

    dana_took, with_its_agent, lee_took = made = asyncio.run(calls())

    def listed(headers: dict[str, str], **query: str) -> dict[uuid.UUID, str | None]:
        """The calls listed, each with who has it."""
        response = http.get("/api/calls", headers=headers, params=query)
        assert response.status_code == 200, response.text
        return {uuid.UUID(call["id"]): call["taken_over_by_name"] for call in response.json()}

    try:
        assert listed(dana_headers, taken_over="true") == {dana_took: "Supervisor dana"}
        assert listed(dana_headers, taken_over="false") == {with_its_agent: None}
        assert listed(dana_headers).keys() == {dana_took, with_its_agent}
        # An admin's list has every floor's (and only calls taken over).
        everyones = listed(admin, taken_over="true")
        assert {dana_took: "Supervisor dana", lee_took: "Supervisor lee"}.items() <= everyones.items()
        assert all(everyones.values()) and with_its_agent not in everyones
        refused = http.get("/api/calls", headers=dana_headers, params={"taken_over": "maybe"})
        assert refused.status_code == 422 and "taken_over" in refused.json()["message"], refused.text
    finally:
        fetch(database_url, "update calls set status = 'ended', ended_at = now() where id = any($1)", made)


def test_metrics_for_an_admin_or_the_scrape_token(http: httpx.Client, world: World) -> None:
    http.get("/api/me", headers=world.headers(http, world.a["email"]))
    response = http.get("/metrics", headers=world.headers(http, world.admin_email))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'gateway_request_seconds_count{method="GET",route="/api/me",status="200"}' in text
    assert "# TYPE gateway_sse_connections gauge" in text and "# TYPE bus_consumer_pending_messages gauge" in text
    scraped = http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert scraped.status_code == 200 and "gateway_request_seconds" in scraped.text
    assert http.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_the_dialer_directory_lists_active_agents_without_an_account(http: httpx.Client, world: World) -> None:
    entries = http.get("/api/directory").json()
    assert {"name": "A1", "phone_number": world.a["phone_number"]} in entries
    catalog = http.get("/api/tool-catalog", headers=world.headers(http, world.a["email"])).json()
    assert {t["name"]: t["approval_suggested"] for t in catalog}["refund_order"] is True


def test_the_web_app_opens_on_its_own_routes_but_the_api_stays_json(nats_url: str, database_url: str,
                                                                    tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<html>the app</html>")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "app.js").write_text("console.log(1)")
    with running_gateway(nats_url, database_url, frontend_dist=tmp_path) as served, \
            httpx.Client(base_url=served.url) as client:
        reload = client.get("/supervisor/archive/123")  # a browser reloading a page of the app
        assert reload.status_code == 200 and "the app" in reload.text
        assert reload.headers["cache-control"] == "no-cache"
        assert client.get("/assets/app.js").text == "console.log(1)"
        assert client.get("/assets/gone.js").status_code == 404
        missing = client.get("/api/no-such-thing")
        assert missing.status_code == 404 and missing.json()["message"]


async def letters_of(client: httpx.AsyncClient, admin: dict[str, str], consumer: str) -> dict[str, Any]:
    """The dead-letter page of ``consumer`` once it has a letter (the consumer runs in the background)."""

    async def page() -> dict[str, Any] | None:
        listed = (await client.get("/api/admin/dead-letters", headers=admin, params={"consumer": consumer})).json()
        return listed if listed["items"] else None

    return await eventually(page)


async def test_an_admin_reads_the_dead_letters_and_an_unusable_one_is_not_replayed(
        gateway: RunningGateway, world: World, bus: Bus) -> None:
    durable = unique_durable("ops-view")
    ids = fresh_ids()
    consumer = EventConsumer(bus, durable, [supervisor_filter(ids["supervisor_id"])], Recorder(),
                             accepts=(CustomerMessage,))
    await bus.js.publish(CustomerMessage(**ids, text="x").subject, b"{not json")
    async with running(consumer):
        async with httpx.AsyncClient(base_url=gateway.url) as client:
            with httpx.Client(base_url=gateway.url) as sync:
                admin = world.headers(sync, world.admin_email)

            page = await letters_of(client, admin, durable)
            letter = page["items"][0]
            assert letter["consumer"] == durable and letter["reason"].startswith("invalid event")
            assert letter["payload"] == "{not json" and letter["sequence"] > 0
            assert page["by_consumer"][durable] == 1
            for bad in ({"limit": 0}, {"limit": 201}, {"consumer": "no spaces please"}):
                refused = await client.get("/api/admin/dead-letters", headers=admin, params=bad)
                assert refused.status_code == 422 and refused.json()["message"]
            # Sending it again would only dead-letter it again.
            refused = await client.post(f"/api/admin/dead-letters/{letter['sequence']}/replay", headers=admin)
            assert refused.status_code == 422 and "still not a valid event" in refused.json()["message"]


async def test_an_admin_replays_a_dead_letter_to_the_one_consumer_once_its_cause_is_mended(
        gateway: RunningGateway, world: World, bus: Bus) -> None:
    ids = fresh_ids()
    durable, bystander_durable = unique_durable("mended"), unique_durable("bystander")
    database_up = False
    handled: list[CustomerMessage] = []

    async def handler(event: CustomerMessage) -> None:
        if not database_up:
            raise ConnectionError("database unreachable")
        handled.append(event)

    failing = EventConsumer(bus, durable, [supervisor_filter(ids["supervisor_id"])], handler,
                            accepts=(CustomerMessage,), max_deliver=2, retry_delays=(0.05,))
    bystander = Recorder()
    watching = EventConsumer(bus, bystander_durable, [supervisor_filter(ids["supervisor_id"])], bystander,
                             accepts=(CustomerMessage,))
    message = CustomerMessage(**ids, text="please archive me")
    await bus.publish(message)
    with httpx.Client(base_url=gateway.url) as sync:
        admin = world.headers(sync, world.admin_email)
    async with running(failing), running(watching), httpx.AsyncClient(base_url=gateway.url) as client:
        letter = (await letters_of(client, admin, durable))["items"][0]
        assert letter["reason"].startswith("handler failed 2 times") and len(bystander.events) == 1

        database_up = True
        replayed = await client.post(f"/api/admin/dead-letters/{letter['sequence']}/replay", headers=admin)
        assert replayed.status_code == 202, replayed.text
        assert replayed.json() == {"consumer": durable, "subject": message.subject, "event_id": str(message.event_id)}
        await eventually(lambda: handled)
        assert handled == [message]
        await asyncio.sleep(0.3)
        assert len(bystander.events) == 1  # nobody else saw it again

        missing = await client.post("/api/admin/dead-letters/999999999/replay", headers=admin)
        assert missing.status_code == 404 and "no dead letter" in missing.json()["message"]
    async with connection(gateway.settings.database_url) as conn:
        assert await conn.fetchval("select count(*) from audit_log where action = 'dead_letter.replay' and "
                                   "target_id = $1", str(letter["sequence"])) == 1

