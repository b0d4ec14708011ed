"""Whole chat calls through the real gateway, call-router and agent-worker (offline brain) over real
NATS and PostgreSQL: the customer dials and chats over HTTP + SSE, the supervisor watches the agent's
stream and answers tool requests and whispers through the API."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from agent_worker.app import setup as worker_setup
from agent_worker.config import Settings as WorkerSettings
from contracts.service import Runtime
from embedded_stack.demo import seed_shop
from postprocess.app import setup as postprocess_setup
from postprocess.config import Settings as PostprocessSettings
from tests.integration.conftest import RunningGateway, World, create_agent, create_supervisor
from tests.integration.test_gateway_streams import SseEvent, SseReader, reading
from tests.pg import connection
from tests.services import running_service

APPROVAL_TIMEOUT = 3.0
HUMAN_WAIT = 4.0  # how long a customer who asked for a person waits for one


@pytest.fixture(scope="module")
def agent_worker(nats_url: str, database_url: str, call_router: Runtime) -> Iterator[Runtime]:
    async def shop() -> None:
        async with connection(database_url) as conn:
            await seed_shop(conn)

    asyncio.run(shop())
    settings = WorkerSettings(nats_url=nats_url, database_url=database_url,
                              tool_approval_timeout_seconds=APPROVAL_TIMEOUT,
                              human_request_timeout_seconds=HUMAN_WAIT)
    with running_service("agent-worker", settings, worker_setup) as runtime:
        yield runtime


@pytest.fixture(scope="module")
def postprocess_service(nats_url: str, database_url: str) -> Iterator[Runtime]:
    settings = PostprocessSettings(nats_url=nats_url, database_url=database_url)
    with running_service("postprocess", settings, postprocess_setup) as runtime:
        yield runtime


@dataclass
class Desk:
    """A supervisor with one agent configured for the tests, and clients for both sides (and, where a
    test needs them, another supervisor's headers, who must see nothing of these calls, and an admin's,
    who sees every call)."""

    http: httpx.AsyncClient
    supervisor: dict[str, str]
    agent: dict[str, Any]
    stranger: dict[str, str] = field(default_factory=dict)
    admin: dict[str, str] = field(default_factory=dict)

    async def dial(self, caller: str = "jo@example.com") -> dict[str, Any]:
        response = await self.http.post("/api/calls", json={"number": self.agent["phone_number"], "caller": caller})
        assert response.status_code == 201, response.text
        return response.json()

    async def say(self, call: dict[str, Any], text: str) -> None:
        response = await self.http.post(f"/api/calls/{call['call_id']}/messages", json={"text": text},
                                        headers={"Authorization": f"Bearer {call['call_token']}"})
        assert response.status_code == 202, response.text


@pytest.fixture
async def desk(gateway: RunningGateway, world: World, agent_worker: Runtime) -> AsyncIterator[Desk]:
    with httpx.Client(base_url=gateway.url) as sync:
        supervisor = create_supervisor(sync, world.headers(sync, world.admin_email), "calls")
        headers = world.headers(sync, supervisor["email"])
        stranger = world.headers(sync, world.b["email"])
        admin = world.headers(sync, world.admin_email)
        agent = create_agent(sync, headers, name="Orders & Shipping", greeting="Hi, Orders & Shipping here.",
                             tools=[{"name": "order_lookup"}, {"name": "refund_order", "requires_approval": True},
                                    {"name": "change_address", "requires_approval": True},
                                    {"name": "create_ticket"}],
                             knowledge=[{"title": "Returns", "content": "You can return unused items within 30 days "
                                                                        "of delivery. Refunds reach your account in "
                                                                        "3 to 5 working days."}])
    async with httpx.AsyncClient(base_url=gateway.url, timeout=httpx.Timeout(10, read=30)) as http:
        yield Desk(http, {**supervisor, **headers}, agent, stranger, admin)


@contextlib.asynccontextmanager
async def customer_stream(desk: Desk, call: dict[str, Any]) -> AsyncIterator[SseReader]:
    async with desk.http.stream("GET", f"/api/calls/{call['call_id']}/stream",
                                params={"token": call["call_token"]}) as response:
        assert response.status_code == 200, (await response.aread()).decode()
        async with reading(response) as reader:
            yield reader


@contextlib.asynccontextmanager
async def agent_stream(desk: Desk) -> AsyncIterator[SseReader]:
    auth = {"Authorization": desk.supervisor["Authorization"]}
    token = (await desk.http.post("/api/stream-token", headers=auth)).json()["token"]
    async with desk.http.stream("GET", f"/api/stream/agents/{desk.agent['id']}",
                                params={"token": token}) as response, reading(response) as reader:
        assert (await reader.next()).event == "ready"
        yield reader


async def until(reader: SseReader, wanted: Callable[[SseEvent], bool], within: float = 20.0) -> SseEvent:
    """The next event ``wanted`` accepts, skipping others."""
    deadline = time.monotonic() + within
    while True:
        event = await reader.next(within=max(0.1, deadline - time.monotonic()))
        if wanted(event):
            return event


def spoken_by(speaker: str) -> Callable[[SseEvent], bool]:
    return lambda e: e.event == "transcript.chunk" and e.data["speaker"] == speaker


def of_type(kind: str) -> Callable[[SseEvent], bool]:
    return lambda e: e.event == kind


async def agent_says(reader: SseReader) -> str:
    return (await until(reader, spoken_by("agent"))).data["text"]


async def decide(desk: Desk, request_id: str, allow: bool, note: str = "") -> httpx.Response:
    return await desk.http.post(f"/api/tool-requests/{request_id}/decision", json={"allow": allow, "note": note},
                                headers={"Authorization": desk.supervisor["Authorization"]})


async def test_a_chat_call_from_greeting_to_goodbye_with_an_approved_refund(desk: Desk, database_url: str) -> None:
    async with agent_stream(desk) as supervisor_view:
        call = await desk.dial()
        assert call["status"] == "connected" and call["agent"] == {"name": "Orders & Shipping"}
        async with customer_stream(desk, call) as customer:
            assert (await until(customer, of_type("call.started"))).data["agent_name"] == "Orders & Shipping"
            assert await agent_says(customer) == "Hi, Orders & Shipping here."

            await desk.say(call, "How long do I have to return something?")
            assert "30 days" in await agent_says(customer)

            await desk.say(call, "Where is my order ORD-1042?")
            answer = await agent_says(customer)
            assert "ORD-1042" in answer and "shipped" in answer and "1Z999AA10123456784" in answer

            await desk.say(call, "The shoes arrived damaged, I want a refund for ORD-1042")
            assert "approval" in await agent_says(customer)
            request = await until(supervisor_view, of_type("tool.permission.request"))
            assert request.data["tool_name"] == "refund_order" and request.data["arguments"]["order_id"] == "ORD-1042"
            decided = await decide(desk, request.data["request_id"], allow=True, note="damaged on arrival")
            assert decided.status_code == 200 and decided.json()["status"] == "allowed"
            refund = await agent_says(customer)
            assert "refunded $89.90 on order ORD-1042" in refund

            await desk.say(call, "Thanks, that's all. Bye!")
            assert "Goodbye" in await agent_says(customer)
            ended = await until(customer, of_type("call.ended"))
            assert ended.data["reason"] == "agent_resolved" and ended.data["brain"] == "local-minilm"
        status = await until(supervisor_view, lambda e: e.event == "agent.status" and e.data["status"] == "idle")
        assert status.data["agent_id"] == desk.agent["id"]

    async with connection(database_url) as conn:
        lines = await conn.fetch("select speaker, text from transcript_lines where call_id = $1 order by seq",
                                 uuid.UUID(call["call_id"]))
        tools = await conn.fetch("select tool_name, status, decided_by from tool_requests where call_id = $1"
                                 " order by requested_at", uuid.UUID(call["call_id"]))
        order = await conn.fetchval("select status from shop_orders where id = 'ORD-1042'")
    assert [line["speaker"] for line in lines[:3]] == ["agent", "customer", "agent"]
    assert [(t["tool_name"], t["status"]) for t in tools] == [("order_lookup", "executed"),
                                                              ("refund_order", "executed")]
    assert tools[1]["decided_by"] == uuid.UUID(desk.supervisor["id"]) and order == "refunded"


async def test_a_denied_tool_and_a_timed_out_one_are_refused_politely(desk: Desk, database_url: str) -> None:
    async with agent_stream(desk) as supervisor_view:
        call = await desk.dial()
        async with customer_stream(desk, call) as customer:
            await agent_says(customer)  # greeting
            await desk.say(call, "Please send order ORD-2001 to 9 New Street, Manchester M1 1AA instead")
            request = await until(supervisor_view, of_type("tool.permission.request"))
            assert request.data["arguments"]["new_address"].startswith("9 New Street")
            denied = await decide(desk, request.data["request_id"], allow=False, note="needs ID check")
            assert denied.status_code == 200
            await until(customer, lambda e: spoken_by("agent")(e) and "approval" not in e.data["text"])
            # The previous answer was the refusal; check its words and that nothing changed.
            async with connection(database_url) as conn:
                assert await conn.fetchval("select shipping_address from shop_orders where id = 'ORD-2001'") \
                    == "4 Mill Lane, Leeds LS1 4AP"

            await desk.say(call, "Then I want a refund for ORD-2001")
            timed = await until(supervisor_view, of_type("tool.permission.request"))
            timeout = await until(supervisor_view, lambda e: e.event == "tool.permission.decision")
            assert timeout.data["decided_by"] == "timeout" and timeout.data["allowed"] is False
            refusal = await until(customer, lambda e: spoken_by("agent")(e) and "approval" not in e.data["text"])
            assert "not able to do that" in refusal.data["text"]
            late = await decide(desk, timed.data["request_id"], allow=True)
            assert late.status_code == 409 and "timed out" in late.json()["message"]
    async with connection(database_url) as conn:
        statuses = [r["status"] for r in await conn.fetch(
            "select status from tool_requests where call_id = $1 order by requested_at", uuid.UUID(call["call_id"]))]
    assert statuses == ["denied", "timed_out"]


async def test_a_tool_request_of_a_call_that_ends_is_withdrawn_and_leaves_the_supervisors_list(
        desk: Desk, database_url: str) -> None:
    auth = {"Authorization": desk.supervisor["Authorization"]}
    async with agent_stream(desk) as supervisor_view:
        call = await desk.dial()
        async with customer_stream(desk, call) as customer:
            await agent_says(customer)  # greeting
            await desk.say(call, "I want a refund for ORD-1042, it arrived broken")
            request = await until(supervisor_view, of_type("tool.permission.request"))
            hung_up = await desk.http.post(f"/api/calls/{call['call_id']}/end",
                                           headers={"Authorization": f"Bearer {call['call_token']}"})
            assert hung_up.status_code == 202, hung_up.text
            withdrawn = await until(supervisor_view, of_type("tool.permission.decision"))
    assert withdrawn.data["request_id"] == request.data["request_id"]
    assert withdrawn.data["decided_by"] == "call_ended" and withdrawn.data["allowed"] is False
    pending = (await desk.http.get("/api/tool-requests", headers=auth)).json()
    assert request.data["request_id"] not in {r["id"] for r in pending}
    late = await decide(desk, request.data["request_id"], allow=True)
    assert late.status_code == 409 and "withdrawn" in late.json()["message"]
    async with connection(database_url) as conn:
        assert await conn.fetchval("select status from tool_requests where id = $1",
                                   uuid.UUID(request.data["request_id"])) == "withdrawn"


async def test_whisper_pauses_the_agent_and_inject_resumes_it_answering_every_waiting_message(desk: Desk) -> None:
    auth = {"Authorization": desk.supervisor["Authorization"]}
    async with agent_stream(desk) as supervisor_view:
        call = await desk.dial()
        async with customer_stream(desk, call) as customer:
            await agent_says(customer)
            paused = await desk.http.post(f"/api/calls/{call['call_id']}/whisper", headers=auth)
            assert paused.status_code == 202
            assert "Excuse me for a moment" in await agent_says(customer)
            assert (await until(supervisor_view, of_type("whisper.ack"))).data["stage"] == "paused"

            await desk.say(call, "Hello? Are you still there?")
            await desk.say(call, "Where is my order ORD-3003?")
            # Both reach the transcript at once, unanswered while the agent is paused.
            assert (await until(customer, spoken_by("customer"))).data["text"] == "Hello? Are you still there?"
            assert (await until(customer, spoken_by("customer"))).data["text"] == "Where is my order ORD-3003?"

            injected = await desk.http.post(f"/api/calls/{call['call_id']}/inject", headers=auth,
                                            json={"instructions": "Customers with a delivered order may get a "
                                                                  "10% voucher: the code is SORRY10."})
            assert injected.status_code == 202
            acks = [await until(supervisor_view, of_type("whisper.ack")) for _ in range(2)]
            assert [(a.data["stage"], a.data["message"][:8]) for a in acks] == [("received", "Received"),
                                                                               ("resumed", "Resumed;")]
            assert await agent_says(customer) == "Thank you for waiting."
            await agent_says(customer)  # the answer to "are you still there?"
            assert "ORD-3003" in await agent_says(customer)
            await desk.say(call, "Is there any voucher you can give me?")
            assert "SORRY10" in await agent_says(customer)
            ended = await desk.http.post(f"/api/calls/{call['call_id']}/end", headers=auth)
            assert ended.status_code == 202
            final = await until(customer, of_type("call.ended"))
            assert final.data["reason"] == "supervisor_ended"
            assert not any(e.event == "whisper.ack" for e in [final])  # the customer's stream never carries them


async def test_a_queued_customer_sees_the_position_and_can_leave(desk: Desk) -> None:
    first = await desk.dial()
    second = await desk.dial(caller="sam@example.com")
    assert first["status"] == "connected"
    assert second["status"] == "queued" and second["queue_position"] == 1
    refused = await desk.http.post(f"/api/calls/{second['call_id']}/messages", json={"text": "hi"},
                                   headers={"Authorization": f"Bearer {second['call_token']}"})
    assert refused.status_code == 409 and "in the queue" in refused.json()["message"]
    async with customer_stream(desk, second) as waiting:
        assert (await until(waiting, of_type("call.queued"))).data["position"] == 1
        left = await desk.http.post(f"/api/calls/{second['call_id']}/end",
                                    headers={"Authorization": f"Bearer {second['call_token']}"})
        assert left.status_code == 202
        assert (await until(waiting, of_type("call.ended"))).data["reason"] == "abandoned_in_queue"
    third = await desk.dial(caller="ana@example.com")
    assert third["status"] == "queued" and third["queue_position"] == 1  # the one who left is gone
    await desk.http.post(f"/api/calls/{first['call_id']}/end",
                         headers={"Authorization": f"Bearer {first['call_token']}"})
    async with customer_stream(desk, third) as served:
        assert (await until(served, of_type("call.started"))).data["call_id"] == third["call_id"]


async def test_customer_endpoints_refuse_bad_numbers_and_tokens(desk: Desk) -> None:
    unknown = await desk.http.post("/api/calls", json={"number": "+1-555-9999999"})
    assert unknown.status_code == 404 and "no agent answers" in unknown.json()["message"]
    voice = await desk.http.post("/api/calls", json={"number": desk.agent["phone_number"], "channel": "voice"})
    assert voice.status_code == 422 and "LiveKit" in voice.json()["message"]
    call = await desk.dial()
    other = await desk.dial()
    wrong = await desk.http.post(f"/api/calls/{call['call_id']}/messages", json={"text": "hi"},
                                 headers={"Authorization": f"Bearer {other['call_token']}"})
    assert wrong.status_code == 403 and "another call" in wrong.json()["message"]
    forged = await desk.http.post(f"/api/calls/{call['call_id']}/messages", json={"text": "hi"},
                                  headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 401
    for finished in (call, other):
        await desk.http.post(f"/api/calls/{finished['call_id']}/end",
                             headers={"Authorization": f"Bearer {finished['call_token']}"})


async def test_a_finished_call_reaches_the_archive_with_a_summary_and_a_notification(
        desk: Desk, postprocess_service: Runtime) -> None:
    auth = {"Authorization": desk.supervisor["Authorization"]}
    call = await desk.dial()
    async with customer_stream(desk, call) as customer:
        await agent_says(customer)
        await desk.say(call, "Where is my order ORD-3003?")
        assert "delivered" in await agent_says(customer)
        await desk.say(call, "Great, thanks, bye!")
        await until(customer, of_type("call.ended"))
    deadline = time.monotonic() + 15
    while (archived := await desk.http.get(f"/api/archive/{call['call_id']}", headers=auth)).status_code == 404:
        assert time.monotonic() < deadline, "the call never reached the archive"
        await asyncio.sleep(0.2)
    entry = archived.json()
    assert "ORD-3003" in entry["summary"] and "Outcome: resolved" in entry["summary"]
    assert "order-status" in entry["tags"] and entry["resolved"] and entry["fcr"]
    assert entry["summary_source"] == "local-extractive" and entry["brain"] == "local-minilm"
    assert [line["speaker"] for line in entry["transcript"]][:2] == ["agent", "customer"]
    notes = (await desk.http.get("/api/notifications", headers=auth)).json()
    assert any(n["call_id"] == call["call_id"] and n["kind"] == "call_ended" for n in notes)


async def test_a_supervisor_takes_a_chat_call_over_writes_to_the_customer_and_hands_it_back(
        desk: Desk, database_url: str, postprocess_service: Runtime) -> None:
    auth = {"Authorization": desk.supervisor["Authorization"]}
    async with agent_stream(desk) as supervisor_view:
        call = await desk.dial()
        path = f"/api/calls/{call['call_id']}"
        async with customer_stream(desk, call) as customer:
            await agent_says(customer)  # greeting
            as_customer = await desk.http.post(f"{path}/takeover",
                                               headers={"Authorization": f"Bearer {call['call_token']}"})
            assert as_customer.status_code == 401
            as_stranger = await desk.http.post(f"{path}/takeover", headers=desk.stranger)
            assert as_stranger.status_code == 404
            too_soon = await desk.http.post(f"{path}/supervisor-messages", headers=auth, json={"text": "Hi"})
            assert too_soon.status_code == 409

            taken = await desk.http.post(f"{path}/takeover", headers=auth)
            assert taken.status_code == 200, taken.text
            assert taken.json()["name"] == "Supervisor calls" and taken.json()["livekit"] is None
            assert (await desk.http.post(f"{path}/takeover", headers=auth)).status_code == 409
            handled = await until(customer, of_type("call.taken_over"))
            assert handled.data["by_name"] == "Supervisor calls"
            assert "Supervisor calls from our team is joining" in await agent_says(customer)

            written = await desk.http.post(f"{path}/supervisor-messages", headers=auth,
                                           json={"text": "Hello, I'm the team lead. How can I help?"})
            assert written.status_code == 202
            line = await until(customer, spoken_by("supervisor"))
            assert line.data["text"] == "Hello, I'm the team lead. How can I help?"
            assert (await until(supervisor_view, spoken_by("supervisor"))).data["seq"] == line.data["seq"]

            await desk.say(call, "Where is my order ORD-3003?")
            assert (await until(customer, spoken_by("customer"))).data["text"] == "Where is my order ORD-3003?"
            with pytest.raises(TimeoutError):  # the agent stays silent while the person has the call
                await until(customer, spoken_by("agent"), within=4.0)

            back = await desk.http.post(f"{path}/handback", headers=auth,
                                        json={"instructions": "Offer the voucher SORRY10 to delivered orders."})
            assert back.status_code == 202, back.text
            assert (await until(customer, of_type("call.handed_back"))).data["agent_name"] == "Orders & Shipping"
            answer = await agent_says(customer)  # what the customer asked while the person had the call
            assert "ORD-3003" in answer and "delivered" in answer
            assert (await desk.http.post(f"{path}/handback", headers=auth)).status_code == 409
            await desk.say(call, "Is there any voucher you can give me?")
            assert "SORRY10" in await agent_says(customer)
            assert (await desk.http.post(f"{path}/end", headers=auth)).status_code == 202
            await until(customer, of_type("call.ended"))
    async with connection(database_url) as conn:
        row = await conn.fetchrow("select taken_over_by, takeovers from calls where id = $1",
                                  uuid.UUID(call["call_id"]))
    assert row["taken_over_by"] is None and row["takeovers"] == 1
    deadline = time.monotonic() + 15
    while (archived := await desk.http.get(f"/api/archive/{call['call_id']}", headers=auth)).status_code == 404:
        assert time.monotonic() < deadline, "the call never reached the archive"
        await asyncio.sleep(0.2)
    entry = archived.json()
    assert "supervisor" in [line["speaker"] for line in entry["transcript"]]
    assert "A supervisor stepped in" in entry["summary"]


async def test_only_the_person_who_took_a_call_over_writes_to_its_customer_and_an_admin_may_hand_it_back(
        desk: Desk) -> None:
    owner = {"Authorization": desk.supervisor["Authorization"]}
    call = await desk.dial()
    path = f"/api/calls/{call['call_id']}"

    async def refused(response: httpx.Response, holder: str) -> None:
        assert response.status_code == 409, response.text
        assert response.json()["error"] == "taken_over_by_someone_else"
        assert response.json()["message"].startswith(f"{holder} has this call")

    async with customer_stream(desk, call) as customer:
        await agent_says(customer)  # greeting
        assert (await desk.http.post(f"{path}/takeover", headers=desk.admin)).status_code == 200
        await refused(await desk.http.post(f"{path}/supervisor-messages", headers=owner, json={"text": "Hi"}),
                      "Test Admin")
        await refused(await desk.http.post(f"{path}/takeover", headers=owner), "Test Admin")
        await refused(await desk.http.post(f"{path}/handback", headers=owner), "Test Admin")
        written = await desk.http.post(f"{path}/supervisor-messages", headers=desk.admin, json={"text": "Admin here."})
        assert written.status_code == 202, written.text
        assert (await until(customer, spoken_by("supervisor"))).data["text"] == "Admin here."
        assert (await desk.http.post(f"{path}/handback", headers=desk.admin)).status_code == 202
        await until(customer, of_type("call.handed_back"))

        assert (await desk.http.post(f"{path}/takeover", headers=owner)).status_code == 200
        await refused(await desk.http.post(f"{path}/supervisor-messages", headers=desk.admin, json={"text": "Hi"}),
                      "Supervisor calls")
        # An admin may hand back anyone's call (its holder may have walked away).
        assert (await desk.http.post(f"{path}/handback", headers=desk.admin)).status_code == 202
        await until(customer, of_type("call.handed_back"))
        assert (await desk.http.post(f"{path}/end", headers=owner)).status_code == 202
        await until(customer, of_type("call.ended"))


async def test_a_call_taken_over_names_its_holder_to_a_dashboard_read_later_and_refuses_a_whisper_pause(
        desk: Desk) -> None:
    owner = {"Authorization": desk.supervisor["Authorization"]}
    call = await desk.dial()
    path = f"/api/calls/{call['call_id']}"

    async def holder_as_read_by(headers: dict[str, str]) -> list[tuple[str | None, str | None]]:
        """Who has the call, as the live-calls list and the call itself say it."""
        listed = (await desk.http.get("/api/calls", headers=headers)).json()
        [entry] = [c for c in listed if c["id"] == call["call_id"]]
        detail = (await desk.http.get(path, headers=headers)).json()
        return [(c["taken_over_by"], c["taken_over_by_name"]) for c in (entry, detail)]

    async with customer_stream(desk, call) as customer:
        await agent_says(customer)  # greeting
        assert await holder_as_read_by(owner) == [(None, None)] * 2
        taken = await desk.http.post(f"{path}/takeover", headers=desk.admin)
        assert taken.status_code == 200, taken.text
        admin_id = taken.json()["taken_over_by"]
        # RLS hides the admin's user row from the supervisor: the name still reaches them.
        assert await holder_as_read_by(owner) == [(admin_id, "Test Admin")] * 2
        assert await holder_as_read_by(desk.admin) == [(admin_id, "Test Admin")] * 2

        paused = await desk.http.post(f"{path}/whisper", headers=owner)
        assert paused.status_code == 409 and paused.json()["error"] == "call_taken_over", paused.text
        assert "silent already" in paused.json()["message"]

        assert (await desk.http.post(f"{path}/handback", headers=desk.admin)).status_code == 202
        await until(customer, of_type("call.handed_back"))
        assert await holder_as_read_by(owner) == [(None, None)] * 2
        assert (await desk.http.post(f"{path}/end", headers=owner)).status_code == 202
        await until(customer, of_type("call.ended"))


async def test_asking_for_a_person_notifies_the_supervisor_and_the_agent_carries_on_when_nobody_comes(
        desk: Desk) -> None:
    auth = {"Authorization": desk.supervisor["Authorization"]}
    async with agent_stream(desk) as supervisor_view:
        call = await desk.dial()
        async with customer_stream(desk, call) as customer:
            await agent_says(customer)  # greeting
            await desk.say(call, "Can I talk to a human, please?")
            reply = await agent_says(customer)
            assert "AI assistant" in reply and "asked my supervisor to join" in reply
            notified = await until(supervisor_view, of_type("notification.created"))
            assert notified.data["kind"] == "human_requested"
            assert notified.data["data"]["takeover_path"] == f"/api/calls/{call['call_id']}/takeover"
            started = time.monotonic()
            assert "nobody from the team is free" in await agent_says(customer)
            assert time.monotonic() - started > HUMAN_WAIT - 1.5
            await desk.say(call, "Where is my order ORD-3003?")
            assert "ORD-3003" in await agent_says(customer)  # and it carries on
            await desk.http.post(f"/api/calls/{call['call_id']}/end", headers=auth)
    notes = (await desk.http.get("/api/notifications", headers=auth)).json()
    assert any(n["call_id"] == call["call_id"] and n["kind"] == "human_requested" for n in notes)
