"""Offline summaries of whole scripted chat calls through the real platform (gateway, call-router,
agent-worker with the offline brain, postprocess) over real NATS and PostgreSQL: an order looked up,
a refund allowed, a refund the supervisor denies, an unanswered question handed over in a ticket and
an angry caller who hangs up. Each archive entry must name the request, the actions and the outcome."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from contracts.service import Runtime
from tests.integration.conftest import RunningGateway, World, create_agent, create_supervisor
from tests.integration.test_calls import (  # noqa: F401 (agent_worker, postprocess_service: fixtures)
    Desk,
    agent_says,
    agent_stream,
    agent_worker,
    customer_stream,
    decide,
    of_type,
    postprocess_service,
    until,
)
from tests.pg import connection

TAXONOMY = ["shipping", "order-status", "delivery-delay", "address-change"]


@pytest.fixture
async def desk(gateway: RunningGateway, world: World, agent_worker: Runtime,  # noqa: F811
               postprocess_service: Runtime) -> AsyncIterator[Desk]:  # noqa: F811
    """The demo's Orders & Shipping agent, with its tag taxonomy, for a supervisor of its own."""
    with httpx.Client(base_url=gateway.url) as sync:
        supervisor = create_supervisor(sync, world.headers(sync, world.admin_email), "summary")
        headers = world.headers(sync, supervisor["email"])
        agent = create_agent(sync, headers, name="Orders & Shipping", greeting="Hi, Orders & Shipping here.",
                             tag_taxonomy=TAXONOMY,
                             tools=[{"name": "order_lookup"}, {"name": "refund_order", "requires_approval": True},
                                    {"name": "create_ticket"}])
    async with httpx.AsyncClient(base_url=gateway.url, timeout=httpx.Timeout(10, read=30)) as http:
        yield Desk(http, {**supervisor, **headers}, agent)


@pytest.fixture
async def order(database_url: str) -> AsyncIterator[Any]:
    """Makes an order of this test's own (other tests refund the demo's), by status."""

    async def make(status: str, total: str = "120.00", carrier: str | None = None,
                   tracking: str | None = None) -> str:
        order_id = f"ORD-{uuid.uuid4().int % 10**9:09d}"
        async with connection(database_url) as conn:
            await conn.execute(
                """insert into shop_orders(id, customer_email, customer_name, items, total, status,
                                           shipping_address, carrier, tracking_number)
                   values ($1, 'jo@example.com', 'Jo Rivera', '[{"name": "Rain jacket", "quantity": 1}]'::jsonb,
                           $2::numeric, $3, '4 Mill Lane, Leeds LS1 4AP', $4, $5)""",
                order_id, total, status, carrier, tracking)
        return order_id

    yield make


async def archived(desk: Desk, call: dict[str, Any]) -> dict[str, Any]:
    auth = {"Authorization": desk.supervisor["Authorization"]}
    deadline = time.monotonic() + 20
    while (entry := await desk.http.get(f"/api/archive/{call['call_id']}", headers=auth)).status_code == 404:
        assert time.monotonic() < deadline, "the call never reached the archive"
        await asyncio.sleep(0.2)
    return entry.json()


async def test_an_order_lookup_answered(desk: Desk, order: Any) -> None:
    shipped = await order("shipped", carrier="UPS", tracking="1Z999AA10123456784")
    call = await desk.dial()
    async with customer_stream(desk, call) as customer:
        await agent_says(customer)  # greeting
        await desk.say(call, "Hello?")
        await agent_says(customer)
        await desk.say(call, f"Hi, where is my order {shipped}?")
        assert shipped in await agent_says(customer)
        await desk.say(call, "Thanks, that's all. Bye!")
        await until(customer, of_type("call.ended"))
    entry = await archived(desk, call)
    assert entry["summary"].startswith(f'The customer asked: "Where is my order {shipped}?"')
    assert f"looked up {shipped} (shipped with UPS, tracking 1Z999AA10123456784)" in entry["summary"]
    assert "Hello?" not in entry["summary"] and "Goodbye" not in entry["summary"]
    assert entry["resolved"] and "the order status was given" in entry["summary"]
    assert entry["tags"][0] == "order-status" and entry["summary_source"] == "local-extractive"


async def test_a_refund_the_supervisor_allows(desk: Desk, order: Any, database_url: str) -> None:
    delivered = await order("delivered")
    async with agent_stream(desk) as supervisor_view:
        call = await desk.dial()
        async with customer_stream(desk, call) as customer:
            await agent_says(customer)
            await desk.say(call, "Hi there.")
            await agent_says(customer)
            await desk.say(call, f"The rain jacket I got is torn, I'd like a refund for {delivered} please.")
            request = await until(supervisor_view, of_type("tool.permission.request"))
            assert (await decide(desk, request.data["request_id"], allow=True)).status_code == 200
            await until(customer, lambda e: e.event == "transcript.chunk" and "refunded" in e.data["text"])
            await desk.say(call, "Great, thank you. Bye!")
            await until(customer, of_type("call.ended"))
    async with connection(database_url) as conn:
        refund = await conn.fetchval("select id from shop_refunds where order_id = $1", delivered)
    entry = await archived(desk, call)
    assert f'"The rain jacket I got is torn, I\'d like a refund for {delivered} please."' in entry["summary"]
    assert f"refunded $120.00 on {delivered} (refund {refund}) with the supervisor's approval" in entry["summary"]
    assert entry["resolved"] and "the refund went through" in entry["summary"] and "refund" in entry["tags"]


async def test_a_refund_the_supervisor_denies(desk: Desk, order: Any) -> None:
    delivered = await order("delivered")
    async with agent_stream(desk) as supervisor_view:
        call = await desk.dial()
        async with customer_stream(desk, call) as customer:
            await agent_says(customer)
            await desk.say(call, f"I'd like a refund for {delivered}, I just don't like the colour.")
            request = await until(supervisor_view, of_type("tool.permission.request"))
            denied = await decide(desk, request.data["request_id"], allow=False,
                                  note="outside the 30-day return window")
            assert denied.status_code == 200
            await until(customer, lambda e: e.event == "transcript.chunk" and "not able" in e.data["text"])
            await desk.say(call, "No, that's all. Bye.")
            ended = await until(customer, of_type("call.ended"))
            assert ended.data["reason"] == "agent_resolved"  # the agent said goodbye: still not resolved
    entry = await archived(desk, call)
    assert f'"I\'d like a refund for {delivered}, I just don\'t like the colour."' in entry["summary"]
    assert f"asked the supervisor to refund {delivered}, who denied it (outside the 30-day return window)" \
        in entry["summary"]
    assert not entry["resolved"] and f"the supervisor denied the request to refund {delivered}" in entry["summary"]
    assert "refund" in entry["tags"]


async def test_an_unanswered_question_handed_over_in_a_ticket(desk: Desk, database_url: str) -> None:
    call = await desk.dial()
    async with customer_stream(desk, call) as customer:
        await agent_says(customer)
        await desk.say(call, "Hello.")
        await agent_says(customer)
        await desk.say(call, "Do you ship to Canada?")
        assert "open a ticket" in await agent_says(customer)
        await desk.say(call, "Yes please.")
        assert "ticket" in await agent_says(customer)
        await desk.say(call, "Ok, thanks. Bye.")
        await until(customer, of_type("call.ended"))
    async with connection(database_url) as conn:
        ticket = await conn.fetchval("select id from support_tickets where call_id = $1", uuid.UUID(call["call_id"]))
    entry = await archived(desk, call)
    assert entry["summary"].startswith('The customer asked: "Do you ship to Canada?" The agent could not answer it, '
                                       f"then opened ticket {ticket} so a colleague follows up.")
    assert not entry["resolved"] and f"handed to a colleague with ticket {ticket}" in entry["summary"]
    assert "ticket" in entry["tags"]


async def test_an_angry_caller_who_hangs_up(desk: Desk, order: Any) -> None:
    late = await order("processing")
    call = await desk.dial()
    async with customer_stream(desk, call) as customer:
        await agent_says(customer)
        await desk.say(call, "This is ridiculous!")
        await agent_says(customer)
        await desk.say(call, f"My order {late} was supposed to arrive two weeks ago and it still hasn't come!")
        assert "processing" in await agent_says(customer)
        await desk.say(call, "That's useless. Nobody ever helps me here.")
        await agent_says(customer)
        hangup = await desk.http.post(f"/api/calls/{call['call_id']}/end",
                                      headers={"Authorization": f"Bearer {call['call_token']}"})
        assert hangup.status_code == 202
        assert (await until(customer, of_type("call.ended"))).data["reason"] == "customer_hangup"
    entry = await archived(desk, call)
    assert entry["summary"].startswith(f'The customer complained: "My order {late} was supposed to arrive two weeks '
                                       "ago and it still hasn't come!\"")
    assert f"looked up {late} (still processing, not shipped yet)" in entry["summary"]
    assert not entry["resolved"]
    assert "the customer hung up unhappy (\"That's useless. Nobody ever helps me here.\")" in entry["summary"]
    assert "delivery-delay" in entry["tags"]
