"""A call's session in parts and whole, on a real database and bus, with a scripted brain
(tests/fakes/scripted_llm.py: a livekit-agents LLM) in place of a model."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from agent_worker import dispatch
from agent_worker.agent import AgentConfig, ToolConfig
from agent_worker.approval import APPROVAL_LINE, STARTED_UNRECORDED, UNCONFIRMED, ToolApproval, ToolRequest
from agent_worker.calls import open_session
from agent_worker.config import Settings
from agent_worker.dispatch import perform
from agent_worker.session import (
    NOT_PAUSED_TAKEN_OVER,
    PAUSE_LINE,
    RESUME_LINE,
    STILL_THERE_LINE,
    CallSession,
    answered_lines,
    left_to_see_through,
    paused_when_left,
    takeover_line,
)
from agent_worker.transcript import LineNumberTaken, TranscriptWriter
from contracts.bus import Bus
from contracts.calls import CallHangup, CallRef
from contracts.envelope import Envelope
from contracts.subjects import call_filter
from contracts.tools import ToolExecuted, ToolPermissionDecision, ToolPermissionRequest
from contracts.transcripts import TranscriptChunk
from contracts.whisper import WhisperAck
from embedded_stack.demo import seed_shop
from tests.factories import make_live_call
from tests.fakes.scripted_llm import ScriptedLLM, ToolCall
from tests.waiting import eventually

LOOKUP = ToolConfig("order_lookup", "", False, "builtin", None)
REFUND = ToolConfig("refund_order", "", True, "builtin", None)


@pytest.fixture
async def call(pool: asyncpg.Pool) -> CallRef:
    async with pool.acquire() as conn:
        await seed_shop(conn)
        return await make_live_call(conn)


@contextlib.asynccontextmanager
async def heard(bus: Bus, call: CallRef) -> AsyncIterator[list[Envelope]]:
    """The call's events published while the block lasts, gathered as they come."""
    got: list[Envelope] = []
    async with bus.listen(call_filter(call.supervisor_id, call.agent_id, call.call_id)) as events:
        async def gather() -> None:
            async for event in events:
                got.append(event)
        task = asyncio.create_task(gather())
        try:
            yield got
        finally:
            task.cancel()


async def lines(pool: asyncpg.Pool, call: CallRef) -> list[tuple[str, str]]:
    rows = await pool.fetch("select speaker, text from transcript_lines where call_id = $1 order by seq", call.call_id)
    return [(r["speaker"], r["text"]) for r in rows]


async def test_the_transcript_writer_numbers_stores_and_announces_each_line(pool: asyncpg.Pool, bus: Bus,
                                                                            call: CallRef) -> None:
    writer = TranscriptWriter(call, pool, bus, brain="scripted", next_seq=3)
    async with heard(bus, call) as events:
        await writer.write("customer", "Hello")
        await writer.write("agent", "Hi there")
        chunks = await eventually(lambda: [e for e in events if isinstance(e, TranscriptChunk)][:2] if sum(
            isinstance(e, TranscriptChunk) for e in events) >= 2 else None)
    assert [(c.seq, c.speaker, c.brain) for c in chunks] == [(3, "customer", None), (4, "agent", "scripted")]
    assert await lines(pool, call) == [("customer", "Hello"), ("agent", "Hi there")]


async def test_a_line_number_another_session_wrote_is_refused_and_not_announced(pool: asyncpg.Pool, bus: Bus,
                                                                                call: CallRef) -> None:
    """A session that lost the call while it waited for the database finds its next number taken by the
    new owner: it stops there (its message goes to the new owner) instead of announcing a line nobody
    stored; the same line tried again (its commit's answer lost) is stored and announced once."""
    new_owner, stale = (TranscriptWriter(call, pool, bus, brain="scripted") for _ in range(2))
    async with heard(bus, call) as events:
        await new_owner.write("customer", "Hello")
        with pytest.raises(LineNumberTaken):
            await stale.write("customer", "Where is ORD-3003?")
        again = TranscriptWriter(call, pool, bus, brain="scripted")
        await again.write("customer", "Hello")  # line 0 again, as a retry would write it
        await eventually(lambda: [e for e in events if isinstance(e, TranscriptChunk)] or None)
        await asyncio.sleep(0.2)
    assert [(c.seq, c.text) for c in events if isinstance(c, TranscriptChunk)] == [(0, "Hello")]
    assert await lines(pool, call) == [("customer", "Hello")]


async def test_built_in_tools_are_dispatched_by_their_specs(pool: asyncpg.Pool, call: CallRef) -> None:
    async with pool.acquire() as conn:
        found = await perform(conn, "order_lookup", {"order_id": "ORD-3003"}, call)
        missing = await perform(conn, "order_lookup", {}, call)
        unknown = await perform(conn, "launch_rocket", {}, call)
        not_a_shop_tool = await perform(conn, "end_call", {}, call)
    assert found["ok"] and "ORD-3003" in found["message"]
    assert missing == {"ok": False, "message": "I still need the order id."}
    assert not unknown["ok"] and "not available" in unknown["message"]
    assert not not_a_shop_tool["ok"]


async def test_approval_waits_for_the_decision_then_runs_and_records_the_tool(pool: asyncpg.Pool, bus: Bus,
                                                                              call: CallRef) -> None:
    said: list[str] = []

    async def announce(text: str) -> None:
        said.append(text)

    approval = ToolApproval(call, pool, bus, timedelta(seconds=10), announce)
    ran: list[bool] = []

    async def execute(_conn: asyncpg.Connection | None) -> dict[str, Any]:
        ran.append(True)
        return {"ok": True, "message": "done"}

    async with heard(bus, call) as events:
        running = asyncio.create_task(approval.run(REFUND, {"order_id": "ORD-1"}, execute, answers_seq=None))
        request = await eventually(lambda: next((e for e in events if isinstance(e, ToolPermissionRequest)), None))
        assert await eventually(lambda: said) == [APPROVAL_LINE] and not ran
        approval.decided(ToolPermissionDecision(**call.fields(), request_id=request.request_id, allowed=True,
                                                decided_by="supervisor"))
        assert await running == {"ok": True, "message": "done"}
        executed = await eventually(lambda: next((e for e in events if isinstance(e, ToolExecuted)), None))
    assert executed.request_id == request.request_id and executed.ok
    assert await pool.fetchval("select status from tool_requests where id = $1", request.request_id) == "executed"


async def test_no_decision_in_time_is_a_refusal_and_the_tool_never_runs(pool: asyncpg.Pool, bus: Bus,
                                                                        call: CallRef) -> None:
    async def nothing(_text: str) -> None:
        return None

    async def execute(_conn: asyncpg.Connection | None) -> dict[str, Any]:
        raise AssertionError("a refused tool must not run")

    approval = ToolApproval(call, pool, bus, timedelta(seconds=0.3), nothing)
    result = await approval.run(REFUND, {"order_id": "ORD-1"}, execute, answers_seq=None)
    assert not result["ok"] and "not able to do that" in result["message"]
    assert await pool.fetchval("select status from tool_requests where call_id = $1", call.call_id) == "timed_out"


def session_for(pool: asyncpg.Pool, bus: Bus, call: CallRef, brain: ScriptedLLM, **options: Any) -> CallSession:
    config = AgentConfig(id=call.agent_id, supervisor_id=call.supervisor_id, name="Orders", instructions="",
                         greeting="Hi, Orders here.", tools=[LOOKUP, REFUND], knowledge=[])
    return CallSession(ids=call, config=config, caller="jo@example.com", pool=pool, bus=bus, brain="scripted",
                       model=brain, engine=None, approval_timeout=timedelta(seconds=10), **options)


async def test_a_session_greets_answers_in_order_and_runs_a_tool(pool: asyncpg.Pool, bus: Bus,
                                                                 call: CallRef) -> None:
    brain = ScriptedLLM("Hello Jo.", ToolCall("order_lookup", {"order_id": "ORD-3003"}), "It was delivered.")
    session = session_for(pool, bus, call, brain)
    await session.start()
    try:
        await session.receive("Hi")
        await session.receive("Where is ORD-3003?")
        assert await eventually(lambda: _has(lines(pool, call), 5), within=10) == [
            ("agent", "Hi, Orders here."), ("customer", "Hi"), ("customer", "Where is ORD-3003?"),
            ("agent", "Hello Jo."), ("agent", "It was delivered.")]
        assert await pool.fetchval("select status from tool_requests where call_id = $1", call.call_id) == "executed"
        # The tool's output was in the brain's context for its reply.
        outputs = [item for item in brain.seen[-1].items if item.type == "function_call_output"]
        assert "Camping stove" in outputs[-1].output
    finally:
        await session.close()


async def test_end_call_is_carried_out_by_the_session(pool: asyncpg.Pool, bus: Bus, call: CallRef) -> None:
    session = session_for(pool, bus, call, ScriptedLLM(ToolCall("end_call"), "Goodbye!"))
    async with heard(bus, call) as events:
        await session.start(greet=False)
        try:
            await session.receive("That's all, bye")
            hangup = await eventually(lambda: next((e for e in events if isinstance(e, CallHangup)), None))
        finally:
            await session.close()
    assert hangup.by == "agent" and hangup.reason == "resolved"
    assert await pool.fetchval("select count(*) from tool_requests where call_id = $1", call.call_id) == 0


async def test_a_message_the_dead_owner_stored_is_answered_once_by_the_next(pool: asyncpg.Pool, bus: Bus,
                                                                            call: CallRef) -> None:
    """The owner stored the customer's line, then died before acknowledging the message: the next owner
    answers the line from the transcript, and the redelivered message is not stored or answered again."""
    message = uuid4()
    dead = session_for(pool, bus, call, ScriptedLLM())
    await dead.transcript.write("customer", "Where is ORD-3003?", source_event_id=message)
    brain = ScriptedLLM("It was delivered.", "Anything else?")
    session = session_for(pool, bus, call, brain, next_seq=1)
    await session.start(greet=False)
    try:
        await session.take_up()
        await session.receive("Where is ORD-3003?", event_id=message)  # the redelivery
        await eventually(lambda: _has(lines(pool, call), 2), within=10)
        await session.receive("Thanks")
        assert await eventually(lambda: _has(lines(pool, call), 4), within=10) == [
            ("customer", "Where is ORD-3003?"), ("agent", "It was delivered."), ("customer", "Thanks"),
            ("agent", "Anything else?")]
    finally:
        await session.close()


async def _has(rows: Any, count: int) -> list[tuple[str, str]] | None:
    got = await rows
    return got if len(got) >= count else None


async def test_a_taken_over_session_stays_silent_and_hands_back_with_the_whole_conversation(
        pool: asyncpg.Pool, bus: Bus, call: CallRef) -> None:
    brain = ScriptedLLM("It was delivered yesterday.")
    session = session_for(pool, bus, call, brain)
    await session.start(greet=False)
    try:
        await session.take_over("Dana")
        async with heard(bus, call) as events:
            await session.pause()  # a whisper pause sent just before the take-over: nothing to pause now
            ack = await eventually(lambda: next((e for e in events if isinstance(e, WhisperAck)), None))
        assert (ack.stage, ack.message) == ("resumed", NOT_PAUSED_TAKEN_OVER)
        await session.say(STILL_THERE_LINE)  # nothing the agent would say outside a turn is said now
        await session.supervisor_said("Hi, I'm Dana. Let me check.")
        await session.receive("Thanks. And where is ORD-3003?")
        await asyncio.sleep(1.0)
        assert brain.seen == []  # the brain was never asked while Dana had the call
        refused = await session.use_tool(LOOKUP, {"order_id": "ORD-3003"})
        assert not refused["ok"] and "taken this call over" in refused["message"]
        await session.hand_back()
        got = await eventually(lambda: _has(lines(pool, call), 4))
        assert got == [("agent", "Dana from our team is joining the conversation now and will take it from here."),
                       ("supervisor", "Hi, I'm Dana. Let me check."), ("customer", "Thanks. And where is ORD-3003?"),
                       ("agent", "It was delivered yesterday.")]
        context = [(item.role, item.text_content) for item in brain.seen[0].items if item.type == "message"
                   and item.role in ("user", "assistant")]
        assert ("assistant", "[Supervisor] Hi, I'm Dana. Let me check.") in context
        assert context[-1] == ("user", "Thanks. And where is ORD-3003?")
    finally:
        await session.close()


async def test_a_silent_customer_is_asked_once_then_let_go_as_abandoned(pool: asyncpg.Pool, bus: Bus,
                                                                        call: CallRef) -> None:
    session = session_for(pool, bus, call, ScriptedLLM("Sure."), silence=timedelta(seconds=0.6))
    async with heard(bus, call) as events:
        await session.start(greet=False)
        try:
            await asyncio.sleep(0.4)
            await session.receive("Hello?")  # speaking puts the clock back
            await eventually(lambda: _has(lines(pool, call), 2))
            await asyncio.sleep(0.4)
            assert not any(isinstance(e, CallHangup) for e in events)
            hangup = await eventually(lambda: next((e for e in events if isinstance(e, CallHangup)), None), within=5)
        finally:
            await session.close()
    assert hangup.abandoned and hangup.by == "agent"
    assert [text for speaker, text in await lines(pool, call) if speaker == "agent"] == ["Sure.", STILL_THERE_LINE]


async def test_a_session_built_after_a_take_over_says_it_once_and_stays_silent(
        pool: asyncpg.Pool, bus: Bus, call: CallRef, nats_url: str, database_url: str) -> None:
    """The agent-worker restarted after the call was taken over, perhaps before the agent could say so:
    the session is built taken over, and the take-over is said once, by whichever session comes first."""
    name = await pool.fetchval("select email from users where id = $1", call.supervisor_id)
    earlier = TranscriptWriter(call, pool, bus, brain="scripted")
    await earlier.write("agent", takeover_line(name))  # an earlier take-over's, since handed back
    await earlier.write("customer", "Hello?")
    await pool.execute("update calls set taken_over_by = supervisor_id, taken_over_at = now() where id = $1",
                       call.call_id)
    settings = Settings(nats_url=nats_url, database_url=database_url)
    for _restart in range(2):
        session = await open_session(pool, bus, settings, call.call_id, greet=True)
        assert session is not None and session.taken_over
        try:
            await session.take_over(name)  # its CallTakenOver, delivered again: nothing more to do
            await session.receive("Is anyone there?")
            await asyncio.sleep(0.5)
        finally:
            await session.close()
    assert await lines(pool, call) == [("agent", takeover_line(name)), ("customer", "Hello?"),
                                       ("agent", takeover_line(name)), ("customer", "Is anyone there?"),
                                       ("customer", "Is anyone there?")]


# --- a call inherited from an owner that died ----------------------------------------------------

@pytest.fixture
async def a_dollar(pool: asyncpg.Pool) -> dict[str, Any]:
    """A dollar of an order of this test's own (other tests refund the demo shop's orders in full)."""
    order_id = f"ORD-{uuid4().int % 10**9:09d}"
    await pool.execute(
        """insert into shop_orders(id, customer_email, customer_name, items, total, status, shipping_address)
           values ($1, 'jo@example.com', 'Jo Rivera', '[{"name": "Rain jacket", "quantity": 1}]'::jsonb, 120,
                   'delivered', '4 Mill Lane, Leeds LS1 4AP')""", order_id)
    return {"order_id": order_id, "amount": 1.0}


def refunded(arguments: dict[str, Any]) -> str:
    return f"I've refunded $1.00 on order {arguments['order_id']}"


def refunding(call: CallRef, arguments: dict[str, Any]) -> Any:
    return lambda conn: dispatch.execute(conn, call, REFUND, arguments)


async def left_waiting(pool: asyncpg.Pool, bus: Bus, call: CallRef, arguments: dict[str, Any],
                       tool: ToolConfig = REFUND, answers_seq: int = 0) -> None:
    """A request its owner asked the supervisor about, then died waiting; made by the turn answering line
    ``answers_seq`` (the customer's first line, in these tests)."""
    said: list[str] = []

    async def announce(text: str) -> None:
        said.append(text)

    dead = ToolApproval(call, pool, bus, timedelta(seconds=10), announce)
    waiting = asyncio.create_task(dead.run(tool, arguments, refunding(call, arguments), answers_seq))
    await eventually(lambda: said)
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting


async def decide(pool: asyncpg.Pool, call: CallRef, status: str) -> None:
    """The supervisor's decision, as the gateway stores it, while no owner of the call is there to hear it."""
    await pool.execute("update tool_requests set status = $2, decided_at = now() where call_id = $1"
                       " and status = 'pending'", call.call_id, status)


async def allowed_and_heard(pool: asyncpg.Pool, session: CallSession, call: CallRef) -> None:
    """The supervisor allows the call's one request: stored as the gateway stores it, then heard by ``session``."""
    await decide(pool, call, "allowed")
    [request] = await session.approval.requests()
    session.decided(ToolPermissionDecision(**call.fields(), request_id=request.id, allowed=True,
                                           decided_by="supervisor"))


async def unfinished(approval: ToolApproval) -> list[ToolRequest]:
    return [request for request in await approval.requests() if request.unfinished]


async def refunds(pool: asyncpg.Pool, call: CallRef) -> int:
    return await pool.fetchval("select count(*) from shop_refunds where call_id = $1", call.call_id)


async def test_an_inherited_request_waits_for_its_decision_then_runs_once(
        pool: asyncpg.Pool, bus: Bus, call: CallRef, a_dollar: dict[str, Any]) -> None:
    await left_waiting(pool, bus, call, a_dollar)
    heir = ToolApproval(call, pool, bus, timedelta(seconds=10), announce=None)  # type: ignore[arg-type]
    [request] = await unfinished(heir)
    async with heard(bus, call) as events:
        running = asyncio.create_task(heir.carry_on(request, REFUND, refunding(call, a_dollar)))
        await asyncio.sleep(0.2)
        assert not running.done() and await refunds(pool, call) == 0
        heir.decided(ToolPermissionDecision(**call.fields(), request_id=request.id, allowed=True,
                                            decided_by="supervisor"))
        result = await running
        assert result["ok"] and result["message"].startswith(refunded(a_dollar))
        # Another session that read the request before (one that lost the call) finds it done.
        assert await heir.carry_on(request, REFUND, refunding(call, a_dollar)) == result
        await eventually(lambda: [e for e in events if isinstance(e, ToolExecuted)] or None)
        await asyncio.sleep(0.2)
    assert [e.request_id for e in events if isinstance(e, ToolExecuted)] == [request.id]
    assert await refunds(pool, call) == 1 and await unfinished(heir) == []


async def test_an_allowed_request_nobody_ran_runs_once_however_many_sessions_race(
        pool: asyncpg.Pool, bus: Bus, call: CallRef, a_dollar: dict[str, Any]) -> None:
    """Allowed while the call had no owner (or its owner died before running it): not run, since a
    built-in tool's change commits with its record; two sessions racing for it run it once."""
    await left_waiting(pool, bus, call, a_dollar)
    await decide(pool, call, "allowed")
    sessions = [ToolApproval(call, pool, bus, timedelta(seconds=10), announce=None)  # type: ignore[arg-type]
                for _ in range(2)]
    [request] = await unfinished(sessions[0])
    results = await asyncio.gather(*(s.carry_on(request, REFUND, refunding(call, a_dollar)) for s in sessions))
    assert results[0] == results[1] and results[0]["message"].startswith(refunded(a_dollar))
    assert await refunds(pool, call) == 1
    assert await pool.fetchval("select status from tool_requests where id = $1", request.id) == "executed"


async def test_an_inherited_refusal_is_told_once_and_the_tool_never_runs(
        pool: asyncpg.Pool, bus: Bus, call: CallRef, a_dollar: dict[str, Any]) -> None:
    await left_waiting(pool, bus, call, a_dollar)
    await decide(pool, call, "denied")
    await left_waiting(pool, bus, call, a_dollar)
    await pool.execute("update tool_requests set expires_at = now() where call_id = $1 and status = 'pending'",
                       call.call_id)  # its deadline passed while nobody owned the call
    heir = ToolApproval(call, pool, bus, timedelta(seconds=10), announce=None)  # type: ignore[arg-type]
    denied, expired = await unfinished(heir)
    assert (denied.status, expired.status) == ("denied", "pending")
    refused = await heir.carry_on(denied, REFUND, refunding(call, a_dollar))
    assert refused["message"].startswith("I'm sorry, I'm not able")
    assert "isn't available" in (await heir.carry_on(expired, REFUND, refunding(call, a_dollar)))["message"]
    assert await unfinished(heir) == [] and await refunds(pool, call) == 0
    assert await pool.fetchval("select status from tool_requests where id = $1", expired.id) == "timed_out"


async def test_an_mcp_tool_its_earlier_owner_started_is_not_called_again(pool: asyncpg.Pool, bus: Bus,
                                                                        call: CallRef) -> None:
    """Its server's change cannot commit with our record: started and unrecorded, it may have run."""
    remote = ToolConfig("book_visit", "", True, "mcp", "http://127.0.0.1:9/mcp")
    await left_waiting(pool, bus, call, {"day": "Monday"}, remote)
    await decide(pool, call, "allowed")
    await pool.execute("update tool_requests set error = $2 where call_id = $1", call.call_id, STARTED_UNRECORDED)

    async def never(_conn: asyncpg.Connection | None) -> dict[str, Any]:
        raise AssertionError("a tool that may have run must not run again")

    heir = ToolApproval(call, pool, bus, timedelta(seconds=10), announce=None)  # type: ignore[arg-type]
    [request] = await unfinished(heir)
    assert await heir.carry_on(request, remote, never) == {"ok": False, "message": UNCONFIRMED}
    assert await pool.fetchval("select status from tool_requests where id = $1", request.id) == "failed"


async def test_a_session_carries_on_with_the_request_before_answering_later_lines(
        pool: asyncpg.Pool, bus: Bus, call: CallRef, a_dollar: dict[str, Any]) -> None:
    dead = TranscriptWriter(call, pool, bus, brain="scripted")
    await dead.write("customer", f"Refund a dollar on {a_dollar['order_id']} please")
    await left_waiting(pool, bus, call, a_dollar)
    await dead.write("agent", APPROVAL_LINE)
    await dead.write("customer", "Hello?")
    session = session_for(pool, bus, call, ScriptedLLM("Still here."), next_seq=3)
    await session.start(greet=False)
    try:
        await session.take_up()
        await asyncio.sleep(0.3)
        assert len(await lines(pool, call)) == 3  # "Hello?" waits for the refund's outcome
        await allowed_and_heard(pool, session, call)
        said = await eventually(lambda: _has(lines(pool, call), 5), within=10)
    finally:
        await session.close()
    assert said[3][0] == "agent" and said[3][1].startswith(refunded(a_dollar))
    assert said[4] == ("agent", "Still here.") and await refunds(pool, call) == 1


async def test_a_line_said_while_the_turn_asking_for_a_tool_ran_gets_its_own_answer(
        pool: asyncpg.Pool, bus: Bus, call: CallRef, a_dollar: dict[str, Any]) -> None:
    """The customer spoke again while the agent worked out the refund, before it asked for it, and the
    owner died waiting for approval: the next session sees the refund through, then answers that line
    once (not the refund's line: the request was its answer)."""
    also = "And when does my other order arrive?"
    dead = TranscriptWriter(call, pool, bus, brain="scripted")
    await dead.write("customer", f"Refund a dollar on {a_dollar['order_id']} please")
    await dead.write("customer", also)
    await left_waiting(pool, bus, call, a_dollar, answers_seq=0)
    await dead.write("agent", APPROVAL_LINE)
    brain = ScriptedLLM("It arrives on Friday.")
    session = session_for(pool, bus, call, brain, next_seq=3)
    await session.start(greet=False)
    try:
        await session.take_up()
        await asyncio.sleep(0.3)
        assert len(await lines(pool, call)) == 3  # the line waits for the refund's outcome
        await allowed_and_heard(pool, session, call)
        said = await eventually(lambda: _has(lines(pool, call), 5), within=10)
        await asyncio.sleep(0.3)  # a second answer would have come by now
    finally:
        await session.close()
    assert said[3][1].startswith(refunded(a_dollar)) and said[4] == ("agent", "It arrives on Friday.")
    assert len(await lines(pool, call)) == 5 and await refunds(pool, call) == 1
    [asked] = brain.seen
    assert [item.text_content for item in asked.items if item.type == "message" and item.role == "user"][-1] == also


async def test_a_request_its_owner_died_before_announcing_is_announced_and_run_once_not_asked_again(
        pool: asyncpg.Pool, bus: Bus, call: CallRef, a_dollar: dict[str, Any]) -> None:
    """The owner recorded the request (the supervisor asked) and died before saying it waits for them:
    the customer's line is answered by that request, not by a second one."""
    dead = TranscriptWriter(call, pool, bus, brain="scripted")
    await dead.write("customer", f"Refund a dollar on {a_dollar['order_id']} please")
    await left_waiting(pool, bus, call, a_dollar)
    brain = ScriptedLLM()
    session = session_for(pool, bus, call, brain, next_seq=1)
    await session.start(greet=False)
    try:
        await session.take_up()
        assert await eventually(lambda: _has(lines(pool, call), 2)) == [
            ("customer", f"Refund a dollar on {a_dollar['order_id']} please"), ("agent", APPROVAL_LINE)]
        await allowed_and_heard(pool, session, call)
        said = await eventually(lambda: _has(lines(pool, call), 3), within=10)
        await asyncio.sleep(0.3)  # a second answer would have come by now
    finally:
        await session.close()
    assert len(await lines(pool, call)) == 3 and said[2][1].startswith(refunded(a_dollar))
    assert brain.seen == [] and await refunds(pool, call) == 1


async def test_an_outcome_its_owner_died_before_telling_is_told_once(
        pool: asyncpg.Pool, bus: Bus, call: CallRef, a_dollar: dict[str, Any]) -> None:
    """The refund ran and was recorded; the owner died before the agent's reply: the next session tells
    the outcome, and the one after it (the outcome on the transcript now) tells it no more."""
    dead = TranscriptWriter(call, pool, bus, brain="scripted")
    await dead.write("customer", f"Refund a dollar on {a_dollar['order_id']} please")
    await left_waiting(pool, bus, call, a_dollar)
    await dead.write("agent", APPROVAL_LINE)
    await decide(pool, call, "allowed")
    dying = ToolApproval(call, pool, bus, timedelta(seconds=10), announce=None)  # type: ignore[arg-type]
    [request] = await dying.requests()
    outcome = await dying.carry_on(request, REFUND, refunding(call, a_dollar))
    brain = ScriptedLLM()
    for restart in range(2):
        session = session_for(pool, bus, call, brain, next_seq=2 + restart)
        await session.start(greet=False)
        try:
            await session.take_up()
            await eventually(lambda: _has(lines(pool, call), 3), within=10)
            await asyncio.sleep(0.3)  # a second telling would have come by now
        finally:
            await session.close()
    assert [text for _, text in await lines(pool, call)][1:] == [APPROVAL_LINE, outcome["message"]]
    assert brain.seen == [] and await refunds(pool, call) == 1


async def test_a_session_opened_on_a_begun_transcript_takes_the_call_up_where_it_was_left(
        pool: asyncpg.Pool, bus: Bus, call: CallRef, nats_url: str, database_url: str,
        a_dollar: dict[str, Any]) -> None:
    """open_session, as a chat call's new owner and a voice room's restarted job both build the session:
    the request the earlier session left unannounced is announced, and the whisper pause it was in holds
    the customer's later line."""
    earlier = TranscriptWriter(call, pool, bus, brain="scripted")
    await earlier.write("customer", f"Refund a dollar on {a_dollar['order_id']} please")
    await left_waiting(pool, bus, call, a_dollar)
    await earlier.write("agent", PAUSE_LINE)
    await earlier.write("customer", "Hello?")
    session = await open_session(pool, bus, Settings(nats_url=nats_url, database_url=database_url), call.call_id,
                                 greet=True)
    assert session is not None
    try:
        said = await eventually(lambda: _has(lines(pool, call), 4))
        await asyncio.sleep(0.5)  # an answer to "Hello?" would have come by now
        assert not session.resumed.is_set()
    finally:
        await session.close()
    assert said[3:] == [("agent", APPROVAL_LINE)] and len(await lines(pool, call)) == 4
    assert len(await session.approval.requests()) == 1


def request_at(minute: int, result: dict[str, Any] | None = None, status: str = "pending",
               answers_seq: int | None = None) -> ToolRequest:
    """A refund request made at ``minute`` past noon (by the turn answering line ``answers_seq``)."""
    return ToolRequest(id=uuid4(), tool_name="refund_order", arguments={}, requires_approval=True,
                       status=status, requested_at=noon(minute), answers_seq=answers_seq, expires_at=None, note="",
                       result=result)


def noon(minute: int) -> datetime:
    return datetime(2025, 1, 1, 12, minute, tzinfo=UTC)


def said(*lines: tuple[int, str, str]) -> list[dict[str, Any]]:
    return [{"seq": seq, "occurred_at": noon(minute), "speaker": speaker, "text": text}
            for seq, (minute, speaker, text) in enumerate(lines)]


def test_the_customer_line_a_tool_request_answers_is_answered_by_it_and_no_other() -> None:
    transcript = said((1, "agent", "Hi"), (2, "customer", "Refund ORD-1"), (4, "customer", "Hello?"))
    assert answered_lines(transcript) == 1
    assert answered_lines(transcript, [request_at(3, answers_seq=1)]) == 2  # "Hello?" waits for its own answer
    # Said while the turn that asked for the refund ran, before it asked: still not that turn's to answer.
    assert answered_lines(transcript, [request_at(5, answers_seq=1)]) == 2
    assert answered_lines(transcript, [request_at(5, answers_seq=2)]) == 3  # both lines waited as one turn
    assert answered_lines(transcript, [request_at(5)]) == 1  # a request made outside a turn answers no line
    # The agent telling the customer it waits answers nothing.
    waited = said((1, "customer", "Refund ORD-1"), (2, "customer", "Hello?"), (4, "agent", APPROVAL_LINE))
    assert answered_lines(waited, [request_at(3, answers_seq=0)]) == 1


def test_lines_the_agent_says_while_waiting_answer_nothing_and_a_person_s_line_does() -> None:
    assert answered_lines(said((1, "customer", "Where is ORD-1?"), (2, "agent", PAUSE_LINE))) == 0
    assert answered_lines(said((1, "customer", "Hi"), (2, "agent", PAUSE_LINE), (3, "agent", RESUME_LINE))) == 0
    assert answered_lines(said((1, "customer", "Hi"), (2, "agent", "Hello!"), (3, "agent", STILL_THERE_LINE))) == 2
    assert answered_lines(said((1, "customer", "Hi"), (2, "supervisor", "Dana here."), (3, "customer", "Hi Dana"))) == 2


def test_requests_left_without_their_outcome_told_are_seen_through_with_the_approval_line_once() -> None:
    done = {"ok": True, "message": "Refunded."}
    unannounced, announced, untold = request_at(3), request_at(3), request_at(3, done, "executed")
    line = (2, "customer", "Refund ORD-1")
    assert left_to_see_through(said(line), [unannounced]) == [(unannounced, False)]
    assert left_to_see_through(said(line, (4, "agent", APPROVAL_LINE)), [announced]) == [(announced, True)]
    # Recorded, and only lines said while it waited after it: its outcome was never told.
    assert left_to_see_through(said(line, (4, "agent", APPROVAL_LINE), (5, "agent", PAUSE_LINE),
                                    (6, "customer", "Hello?")), [untold]) == [(untold, True)]
    assert left_to_see_through(said(line, (4, "agent", APPROVAL_LINE), (6, "agent", "Refunded, anything else?")),
                               [untold]) == []
    # An approval line said for a later request is not this one's.
    earlier, later = request_at(3), request_at(5)
    assert left_to_see_through(said(line, (6, "agent", APPROVAL_LINE)), [earlier, later]) == [
        (earlier, False), (later, True)]
    refused, withdrawn = request_at(3, {"ok": False, "message": "No."}, "denied"), request_at(4, status="withdrawn")
    assert left_to_see_through(said(line), [refused, withdrawn]) == [(refused, False)]


def test_a_transcript_ends_paused_until_the_agent_resumes_or_a_person_takes_over() -> None:
    def ends_paused(*said: tuple[str, str]) -> bool:
        return paused_when_left([{"speaker": speaker, "text": text} for speaker, text in said])

    assert not ends_paused()
    assert not ends_paused(("agent", "Hi"), ("customer", "Hello"))
    assert ends_paused(("agent", "Hi"), ("agent", PAUSE_LINE), ("customer", "Hello?"), ("customer", "Anyone?"))
    assert not ends_paused(("agent", PAUSE_LINE), ("agent", RESUME_LINE), ("customer", "Hello?"))
    assert ends_paused(("agent", PAUSE_LINE), ("agent", RESUME_LINE), ("agent", "Sure."), ("agent", PAUSE_LINE))
    assert not ends_paused(("agent", PAUSE_LINE), ("agent", takeover_line("Dana")), ("customer", "Hi"))
    assert not ends_paused(("agent", PAUSE_LINE), ("supervisor", "Dana here."))


async def test_a_session_resumed_from_a_paused_transcript_stays_paused_until_the_supervisor_resumes(
        pool: asyncpg.Pool, bus: Bus, call: CallRef) -> None:
    dead = TranscriptWriter(call, pool, bus, brain="scripted")
    for speaker, text in (("agent", "Hi, Orders here."), ("agent", PAUSE_LINE), ("customer", "Where is ORD-3003?")):
        await dead.write(speaker, text)  # type: ignore[arg-type]
    session = session_for(pool, bus, call, ScriptedLLM("It was delivered."), next_seq=3)
    await session.start(greet=False)
    try:
        await session.take_up()
        await asyncio.sleep(0.5)
        assert len(await lines(pool, call)) == 3
        await session.inject("Tell them it was delivered.")
        said = await eventually(lambda: _has(lines(pool, call), 5), within=10)
    finally:
        await session.close()
    assert said[3:] == [("agent", RESUME_LINE), ("agent", "It was delivered.")]
