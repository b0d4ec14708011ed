"""Analytics end to end: archive events on the bus -> the real analytics service's aggregates -> the
gateway's KPI, leaderboard and chart endpoints, scoped by role; live counters on the supervisor stream."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from analytics.app import setup as analytics_setup
from analytics.config import Settings as AnalyticsSettings
from contracts.bus import Bus
from contracts.calls import CallStarted
from contracts.results import ArchiveSaved, FcrRevised
from contracts.service import Runtime
from tests.integration.conftest import RunningGateway, World, create_agent, create_supervisor
from tests.integration.test_gateway_streams import reading, stream_token
from tests.pg import connection
from tests.services import running_service
from tests.waiting import eventually

# Far from today, so calls other tests archive never land in these days.
DAY = date(2025, 1, 14)


@pytest.fixture(scope="module")
def analytics_service(nats_url: str, database_url: str) -> Iterator[Runtime]:
    settings = AnalyticsSettings(nats_url=nats_url, database_url=database_url, live_counter_heartbeat_seconds=30)
    with running_service("analytics", settings, analytics_setup) as runtime:
        yield runtime


@pytest.fixture
def team(gateway: RunningGateway, world: World) -> dict[str, Any]:
    """A supervisor of their own with two agents, so the figures are this test's alone."""
    with httpx.Client(base_url=gateway.url) as http:
        supervisor = create_supervisor(http, world.headers(http, world.admin_email), "kpi")
        headers = world.headers(http, supervisor["email"])
        agents = [create_agent(http, headers, name=name)["id"] for name in ("Billing", "Orders")]
    return {**supervisor, "agents": agents}


def archived(team: dict[str, Any], agent: int, handle: float, csat: float | None, resolved: bool) -> ArchiveSaved:
    return ArchiveSaved(supervisor_id=team["id"], agent_id=team["agents"][agent], call_id=uuid.uuid4(),
                        agent_name=("Billing", "Orders")[agent],
                        started_at=datetime.combine(DAY, datetime.min.time(), UTC) + timedelta(hours=10),
                        summary="s", tags=["billing"], csat=csat, fcr=resolved, resolved=resolved,
                        handle_seconds=handle, sentiment_label="positive" if resolved else "negative",
                        summary_source="test")


def get(http: httpx.Client, world: World, email: str, path: str, **params: Any) -> httpx.Response:
    return http.get(path, headers=world.headers(http, email), params=params)


async def test_kpis_leaderboard_and_charts_follow_the_archive_events(
        gateway: RunningGateway, world: World, bus: Bus, analytics_service: Runtime, team: dict[str, Any]) -> None:
    calls = [archived(team, 0, 200, 4.0, True), archived(team, 0, 400, 3.0, True),
             archived(team, 1, 300, 2.0, False)]
    for event in calls:
        await bus.publish(event)
    await bus.publish(calls[0])  # a duplicate delivery counts once
    await bus.publish(FcrRevised(supervisor_id=team["id"], agent_id=calls[1].agent_id, call_id=calls[1].call_id,
                                 started_at=calls[1].started_at, repeat_call_id=uuid.uuid4()))
    day = {"from": DAY.isoformat(), "to": DAY.isoformat()}
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        async def revised() -> bool:
            kpis = get(http, world, team["email"], "/api/analytics/kpis", **day).json()["kpis"]
            return kpis["calls"] == 3 and kpis["fcr"] == pytest.approx(1 / 3, abs=1e-4)
        await eventually(revised)

        mine = get(http, world, team["email"], "/api/analytics/kpis", scope="supervisor", **day).json()
        assert (mine["from"], mine["to"]) == (DAY.isoformat(), DAY.isoformat())
        # CSAT (4 + 3 + 2) / 3; AHT 300 s = the target; 100 x (0.4/3 + 0.4 x 0.5 + 0.2)
        assert (mine["kpis"]["csat"], mine["kpis"]["aht_seconds"], mine["kpis"]["performance_score"]) == (
            3.0, 300.0, 53.3)
        assert {b["name"]: b["kpis"]["calls"] for b in mine["breakdown"]} == {"Billing": 2, "Orders": 1}

        billing = get(http, world, world.admin_email, "/api/analytics/kpis", scope="agent", id=team["agents"][0],
                      **day).json()
        assert (billing["kpis"]["calls"], billing["kpis"]["fcr"], billing["breakdown"]) == (2, 0.5, [])

        board = get(http, world, world.admin_email, "/api/analytics/leaderboard", **day).json()
        assert board["by"] == "supervisor"
        entry = next(e for e in board["entries"] if e["id"] == team["id"])
        assert entry["rank"] == 1 and entry["kpis"]["performance_score"] == 53.3  # nobody else called that day
        agents = get(http, world, team["email"], "/api/analytics/leaderboard", **day).json()
        assert [e["name"] for e in agents["entries"]] == ["Billing", "Orders"] and agents["by"] == "agent"

        series = get(http, world, team["email"], "/api/analytics/timeseries", scope="agent", id=team["agents"][1],
                     bucket="day", **{"from": (DAY - timedelta(days=2)).isoformat(), "to": DAY.isoformat()}).json()
        assert [(p["start"], p["kpis"]["calls"]) for p in series["points"]] == [
            ((DAY - timedelta(days=2)).isoformat(), 0), ((DAY - timedelta(days=1)).isoformat(), 0),
            (DAY.isoformat(), 1)]


async def test_a_supervisor_sees_only_their_own_numbers(
        gateway: RunningGateway, world: World, analytics_service: Runtime, team: dict[str, Any]) -> None:
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        outsider = world.b["email"]
        assert get(http, world, outsider, "/api/analytics/kpis", scope="agent", id=team["agents"][0]).status_code == 404
        assert get(http, world, outsider, "/api/analytics/kpis", scope="supervisor", id=team["id"]).status_code == 404
        assert get(http, world, outsider, "/api/analytics/timeseries", scope="agent",
                   id=team["agents"][0]).status_code == 404
        refused = get(http, world, outsider, "/api/analytics/leaderboard", by="supervisor")
        assert refused.status_code == 403 and "admin" in refused.json()["message"]
        overall = get(http, world, outsider, "/api/analytics/kpis").json()
        assert team["id"] not in {b["id"] for b in overall["breakdown"]}
        live = get(http, world, outsider, "/api/analytics/live").json()
        assert [s["supervisor_id"] for s in live["supervisors"]] == [world.b["id"]]


@pytest.mark.parametrize(("params", "message"), [
    ({"from": "2026-02-01", "to": "2026-01-01"}, "'from' is after 'to'"),
    ({"from": "2000-01-01", "to": "2026-01-01"}, "at most"),
    ({"scope": "agent"}, "needs id"),
    ({"scope": "team"}, "scope"),
    ({"from": "yesterday"}, "from"),
])
def test_bad_queries_are_explained(gateway: RunningGateway, world: World, params: dict[str, str],
                                   message: str) -> None:
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        response = get(http, world, world.admin_email, "/api/analytics/kpis", **params)
    assert response.status_code == 422 and message in response.json()["message"], response.text


async def test_live_counters_reach_the_supervisor_stream_when_a_call_starts(
        gateway: RunningGateway, world: World, bus: Bus, database_url: str, analytics_service: Runtime,
        team: dict[str, Any]) -> None:
    call_id, agent = uuid.uuid4(), team["agents"][0]
    with httpx.Client(base_url=gateway.url) as sync:
        token = stream_token(sync, world, team["email"])
    async with httpx.AsyncClient(base_url=gateway.url, timeout=httpx.Timeout(10, read=30)) as http, \
            http.stream("GET", "/api/stream/supervisor", params={"token": token}) as response, \
            reading(response) as events:
        assert (await events.next()).event == "ready"
        async with connection(database_url) as conn:  # what the call-router writes before announcing the call
            await conn.execute(
                """insert into calls(id, supervisor_id, agent_id, agent_name, channel, caller, dialled_number, status,
                                     started_at)
                   values ($1, $2, $3, 'Billing', 'chat', 'c', '+1-555-9', 'active', now())""",
                call_id, team["id"], agent)
        await bus.publish(CallStarted(supervisor_id=team["id"], agent_id=agent, call_id=call_id, channel="chat",
                                      caller="c", agent_name="Billing"))
        while (event := await events.next(within=5)).event != "analytics.counters" \
                or event.data["active_calls"] == 0:
            pass  # a heartbeat from before the call
    assert event.data["supervisor_id"] == team["id"]
    assert (event.data["active_calls"], event.data["agents_busy"], event.data["agents_total"]) == (1, 1, 2)
    async with connection(database_url) as conn:
        await conn.execute("update calls set status = 'ended', ended_at = now() where id = $1", call_id)
