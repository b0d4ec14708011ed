"""Customers who leave without hanging up, through the real gateway, call-router and analytics over
real NATS and PostgreSQL: a vanished customer's call ends as abandoned and frees the agent, a vanished
queued caller leaves the queue and the next moves up, a customer back in time keeps the call, a long
wait is offered a way out, and the KPIs count each once. The window is seconds here (60 s by default)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import httpx
import pytest

from call_router.app import setup as router_setup
from call_router.config import Settings as RouterSettings
from contracts.service import Runtime
from tests.integration.conftest import RunningGateway, World, create_agent, create_supervisor, running_gateway
from tests.integration.test_analytics import analytics_service  # noqa: F401 (a fixture)
from tests.integration.test_calls import Desk, customer_stream, of_type, until
from tests.integration.test_gateway_streams import SseReader
from tests.services import running_service

WINDOW = 3.0
LONG_WAIT = 4.0


@pytest.fixture(scope="module")
def quick_router(nats_url: str, database_url: str) -> Iterator[Runtime]:
    settings = RouterSettings(nats_url=nats_url, database_url=database_url, max_concurrent_calls=1000,
                              abandon_after_seconds=WINDOW, long_wait_seconds=LONG_WAIT)
    with running_service("call-router", settings, router_setup) as runtime:
        yield runtime


@pytest.fixture(scope="module")
def beating_gateway(nats_url: str, database_url: str) -> Iterator[RunningGateway]:
    """A gateway that tells the router of an open customer view every half second (15 s by default)."""
    with running_gateway(nats_url, database_url, presence_beat_seconds=0.5, call_attempts_per_minute=100_000,
                         login_attempts_per_minute=100_000) as running:
        yield running


@pytest.fixture
async def desk(beating_gateway: RunningGateway, world: World, quick_router: Runtime,
               analytics_service: Runtime) -> AsyncIterator[Desk]:  # noqa: F811
    with httpx.Client(base_url=beating_gateway.url) as sync:
        supervisor = create_supervisor(sync, world.headers(sync, world.admin_email), "abandon")
        headers = world.headers(sync, supervisor["email"])
        agent = create_agent(sync, headers, name="Orders")
    async with httpx.AsyncClient(base_url=beating_gateway.url, timeout=httpx.Timeout(10, read=30)) as http:
        yield Desk(http, {**supervisor, **headers}, agent)


def supervisor_auth(desk: Desk) -> dict[str, str]:
    return {"Authorization": desk.supervisor["Authorization"]}


async def call_status(desk: Desk, call: dict[str, Any]) -> dict[str, Any]:
    response = await desk.http.get(f"/api/calls/{call['call_id']}", headers=supervisor_auth(desk))
    assert response.status_code == 200, response.text
    return response.json()


async def ended_within(desk: Desk, call: dict[str, Any], seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while (detail := await call_status(desk, call))["status"] != "ended":
        assert time.monotonic() < deadline, f"still {detail['status']} after {seconds} s"
        await asyncio.sleep(0.3)
    return detail


async def hang_up(desk: Desk, call: dict[str, Any]) -> None:
    response = await desk.http.post(f"/api/calls/{call['call_id']}/end",
                                       headers={"Authorization": f"Bearer {call['call_token']}"})
    assert response.status_code in (202, 409), response.text


async def next_position(reader: SseReader) -> int:
    return (await until(reader, of_type("call.queued"), within=20)).data["position"]


async def test_a_customer_who_vanishes_mid_call_is_let_go_and_frees_the_agent(desk: Desk) -> None:
    call = await desk.dial()
    assert call["status"] == "connected"
    async with customer_stream(desk, call):
        await asyncio.sleep(WINDOW + 1)  # the view open: the customer is there, however long it lasts
    assert (await call_status(desk, call))["status"] == "active"
    started = time.monotonic()
    detail = await ended_within(desk, call, WINDOW + 10)  # the view closed: gone after the window
    assert detail["end_reason"] == "abandoned" and time.monotonic() - started >= WINDOW - 1
    following = await desk.dial()  # the agent is free for the next caller
    assert following["status"] == "connected"
    await hang_up(desk, following)


async def test_a_vanished_queued_caller_leaves_the_queue_and_the_next_moves_up(desk: Desk) -> None:
    talking, vanishing = await desk.dial(), None
    async with customer_stream(desk, talking):
        vanishing = await desk.dial()  # never opens their view
        assert vanishing["status"] == "queued" and vanishing["queue_position"] == 1
        waiting = await desk.dial()
        async with customer_stream(desk, waiting) as view:
            assert await next_position(view) == 2
            assert await next_position(view) == 1  # told at once when the one ahead is dropped
            assert (await ended_within(desk, vanishing, 1))["end_reason"] == "abandoned_in_queue"
            offer = await until(view, lambda e: e.event == "call.queued" and e.data["long_wait"], within=20)
            assert offer.data["waited_seconds"] >= LONG_WAIT and offer.data["position"] == 1
        await hang_up(desk, waiting)
    await hang_up(desk, talking)


async def test_a_customer_back_within_the_window_keeps_the_call(desk: Desk) -> None:
    call = await desk.dial()
    async with customer_stream(desk, call):
        pass
    await asyncio.sleep(WINDOW / 2)
    async with customer_stream(desk, call):  # a dropped connection, back in time
        await asyncio.sleep(WINDOW * 2)
        assert (await call_status(desk, call))["status"] == "active"
    await hang_up(desk, call)


async def test_the_kpis_count_each_abandonment_once(desk: Desk) -> None:
    left = await desk.dial()
    await ended_within(desk, left, WINDOW + 10)  # connected, and never looked: abandoned after the answer
    talking = await desk.dial()
    async with customer_stream(desk, talking):
        gone = await desk.dial()
        await ended_within(desk, gone, WINDOW + 10)  # queued, and never looked: abandoned before
    await hang_up(desk, talking)
    today = date.today().isoformat()
    deadline = time.monotonic() + 15
    while True:
        response = await desk.http.get("/api/analytics/kpis", headers=supervisor_auth(desk),
                                          params={"date_from": today, "date_to": today})
        assert response.status_code == 200, response.text
        abandonment = response.json()["kpis"]["abandonment"]
        if abandonment["ended_calls"] == 3 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert (abandonment["ended_calls"], abandonment["before_answer"], abandonment["after_answer"]) == (3, 1, 1)
    assert abandonment["rate"] == round(2 / 3, 4)
    live = (await desk.http.get("/api/analytics/live", headers=supervisor_auth(desk))).json()
    assert [floor["abandoned_today"] for floor in live["supervisors"]] == [2]
