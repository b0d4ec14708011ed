"""One owner per call (contracts.ownership) with two instances of the agent-worker and of sentiment on
real NATS and PostgreSQL: calls split across the instances, each event handled by its call's owner
only, and a dead owner's calls taken over by the other instance from what is stored."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime

import asyncpg
import pytest

from agent_worker.app import setup as worker_setup
from agent_worker.approval import APPROVAL_LINE
from agent_worker.config import Settings as WorkerSettings
from agent_worker.session import PAUSE_LINE, RESUME_LINE
from contracts import outbox
from contracts.analytics import SentimentScore
from contracts.bus import Bus
from contracts.calls import CallEnded, CallRef, CallStarted, CustomerMessage
from contracts.ownership import Leases, renewal_interval
from contracts.service import Runtime
from contracts.subjects import CALLS_STREAM, call_filter
from contracts.tools import ToolExecuted, ToolPermissionDecision
from contracts.transcripts import TranscriptChunk
from contracts.whisper import WhisperInject, WhisperPause
from embedded_stack.demo import seed_shop
from gateway.queries.tool_requests import decide as store_decision
from sentiment.app import setup as sentiment_setup
from sentiment.config import Settings as SentimentSettings
from sentiment.model import Scored, load_model
from tests.factories import make_live_call
from tests.services import running_service
from tests.waiting import eventually

LEASE_SECONDS = 3.0
QUESTIONS = ("Hello, can you help me with something?", "Do you have any news for me today?")


async def live_calls(pool: asyncpg.Pool, count: int) -> list[CallRef]:
    async with pool.acquire() as conn:
        return [await make_live_call(conn) for _ in range(count)]


def started(call: CallRef) -> CallStarted:
    return CallStarted(**call.fields(), channel="chat", caller="jo@example.com", agent_name="A")


def ended(call: CallRef) -> CallEnded:
    now = datetime.now(UTC)
    return CallEnded(**call.fields(), reason="customer_hangup", ended_by="customer", channel="chat",
                     caller="jo@example.com", started_at=now, ended_at=now, duration_seconds=1.0)


async def transcript(pool: asyncpg.Pool, call: CallRef) -> list[tuple[str, str]]:
    rows = await pool.fetch("select speaker, text from transcript_lines where call_id = $1 order by seq", call.call_id)
    return [(row["speaker"], row["text"]) for row in rows]


async def holders(pool: asyncpg.Pool, service: str, calls: Sequence[CallRef]) -> dict[uuid.UUID, uuid.UUID]:
    rows = await pool.fetch("select call_id, holder from call_leases where service = $1 and call_id = any($2)",
                            service, [call.call_id for call in calls])
    return {row["call_id"]: row["holder"] for row in rows}


async def per_call_consumers(bus: Bus, service: str, calls: Sequence[CallRef]) -> set[str]:
    names = {f"{service}-call-{call.call_id}" for call in calls}
    return {info.name for info in await bus.js.consumers_info(CALLS_STREAM)} & names


@contextlib.contextmanager
def two_instances(name: str, settings: object, setup: object) -> Iterator[tuple[Runtime, Runtime]]:
    with running_service(name, settings, setup) as first, running_service(name, settings, setup) as second:  # type: ignore[arg-type]
        yield first, second


def worker_settings(nats_url: str, database_url: str) -> WorkerSettings:
    return WorkerSettings(nats_url=nats_url, database_url=database_url, call_lease_seconds=LEASE_SECONDS)


# --- the leases ------------------------------------------------------------------------------------


async def test_a_lease_has_one_holder_until_it_expires_and_sweeps_take_live_chat_calls_once(
        isolated_pool: asyncpg.Pool) -> None:
    chat, voice, over = await live_calls(isolated_pool, 3)
    await isolated_pool.execute("update calls set livekit_room = 'call-room' where id = $1", voice.call_id)
    await isolated_pool.execute("update calls set status = 'ended' where id = $1", over.call_id)
    one, other = (Leases("svc", 0.5, rooms_elsewhere=True) for _ in range(2))
    for call in (chat, voice, over):
        assert await one.take(isolated_pool, call.call_id) == "new"
    assert await other.take(isolated_pool, chat.call_id) is None
    assert await one.renew(isolated_pool) == {chat.call_id, voice.call_id, over.call_id}
    assert await other.take_orphans(isolated_pool, []) == []  # none expired
    await asyncio.sleep(0.6)
    # The holder, its leases expired while the database was away, does not take its own calls again.
    assert await one.take_orphans(isolated_pool, [chat.call_id, voice.call_id, over.call_id]) == []
    # Only the live chat call: a voice call's room is LiveKit's, an ended call nobody's.
    assert await other.take_orphans(isolated_pool, []) == [chat]
    assert await one.renew(isolated_pool) == {voice.call_id, over.call_id}
    await other.let_go(isolated_pool, [chat.call_id])
    assert await one.take(isolated_pool, chat.call_id) == "taken over"
    await one.release(isolated_pool, chat.call_id)
    assert await other.take(isolated_pool, chat.call_id) == "new"


async def test_concurrent_sweeps_never_take_the_same_call(isolated_pool: asyncpg.Pool) -> None:
    calls = await live_calls(isolated_pool, 30)
    dead = Leases("svc", 0.1)
    for call in calls:
        await dead.take(isolated_pool, call.call_id)
    await asyncio.sleep(0.2)
    sweepers = [Leases("svc", 5.0) for _ in range(3)]
    taken = await asyncio.gather(*(sweeper.take_orphans(isolated_pool, [], limit=30) for sweeper in sweepers))
    ids = [call.call_id for batch in taken for call in batch]
    assert sorted(ids) == sorted(call.call_id for call in calls)  # each once, by one sweeper


# --- the agent-worker ------------------------------------------------------------------------------


async def test_two_agent_workers_split_the_calls_and_answer_each_message_once(
        nats_url: str, isolated_database_url: str, isolated_pool: asyncpg.Pool, bus: Bus) -> None:
    calls = await live_calls(isolated_pool, 10)
    with two_instances("agent-worker", worker_settings(nats_url, isolated_database_url), worker_setup):
        for call in calls:
            await bus.publish(started(call))
            await asyncio.sleep(0.05)  # calls arrive one by one, as customers dial
        for asked, question in enumerate(QUESTIONS, start=1):
            await eventually(lambda lines=1 + 2 * (asked - 1): all_have(isolated_pool, calls, lines), within=30)
            for call in calls:
                await bus.publish(CustomerMessage(**call.fields(), text=question))
        await eventually(lambda: all_have(isolated_pool, calls, 1 + 2 * len(QUESTIONS)), within=30)
        owners = await holders(isolated_pool, "agent-worker", calls)
        assert len(owners) == len(calls) and len(set(owners.values())) == 2, Counter(owners.values())
        await asyncio.sleep(2 * renewal_interval(LEASE_SECONDS))  # a second answer would have come by now
        for call in calls:
            said = await transcript(isolated_pool, call)
            assert [speaker for speaker, _ in said] == ["agent", "customer", "agent", "customer", "agent"], said
            assert [text for speaker, text in said if speaker == "customer"] == list(QUESTIONS)
        for call in calls:
            await bus.publish(ended(call))
        # The call's end frees its lease and deletes its consumer.
        await eventually(lambda: no_trace(isolated_pool, bus, "agent-worker", calls), within=10)


async def all_have(pool: asyncpg.Pool, calls: Sequence[CallRef], lines: int) -> bool:
    counts = await pool.fetch("select call_id, count(*) as n from transcript_lines where call_id = any($1)"
                              " group by call_id", [call.call_id for call in calls])
    return len(counts) == len(calls) and all(row["n"] >= lines for row in counts)


async def no_trace(pool: asyncpg.Pool, bus: Bus, service: str, calls: Sequence[CallRef]) -> bool:
    return not await holders(pool, service, calls) and not await per_call_consumers(bus, service, calls)


@contextlib.contextmanager
def agent_worker_process(nats_url: str, database_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m agent_worker`, to be killed without warning."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    env |= {"NATS_URL": nats_url, "DATABASE_URL": database_url, "CALL_LEASE_SECONDS": str(LEASE_SECONDS),
            "ORT_DISABLE_TELEMETRY": "1"}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen([sys.executable, "-m", "agent_worker"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(10)


async def test_a_killed_owners_call_is_taken_over_still_paused_and_its_waiting_messages_answered_once(
        nats_url: str, isolated_database_url: str, isolated_pool: asyncpg.Pool, bus: Bus) -> None:
    [call] = await live_calls(isolated_pool, 1)
    with agent_worker_process(nats_url, isolated_database_url) as doomed:
        await bus.publish(started(call))  # only the process is there to take it
        await eventually(lambda: all_have(isolated_pool, [call], 1), within=45)
        [dead_holder] = (await holders(isolated_pool, "agent-worker", [call])).values()
        with running_service("agent-worker", worker_settings(nats_url, isolated_database_url), worker_setup):
            # The supervisor pauses the agent, so the customer's first message is on the transcript (and
            # acked) but not answered when the owner dies; the new owner keeps the pause.
            await bus.publish(WhisperPause(**call.fields(), requested_by=uuid.uuid4()))
            await eventually(lambda: has_line(isolated_pool, call, PAUSE_LINE), within=10)
            await bus.publish(CustomerMessage(**call.fields(), text=QUESTIONS[0]))
            await eventually(lambda: has_line(isolated_pool, call, QUESTIONS[0]), within=10)
            await asyncio.sleep(0.2)  # its ack is on its way
            doomed.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            # Said while nobody owns the call: waits in the call's consumer.
            await bus.publish(CustomerMessage(**call.fields(), text=QUESTIONS[1]))
            await eventually(lambda: taken_from(isolated_pool, call, dead_holder), within=15, every=0.02)
            taken_after = time.monotonic() - killed_at
            await eventually(lambda: has_line(isolated_pool, call, QUESTIONS[1]), within=10)
            await asyncio.sleep(2 * renewal_interval(LEASE_SECONDS))  # an answer would have come by now
            held = await transcript(isolated_pool, call)
            await bus.publish(WhisperInject(**call.fields(), requested_by=uuid.uuid4(),
                                            instructions="Carry on as before."))
            await eventually(lambda: all_have(isolated_pool, [call], 7), within=20)
            await asyncio.sleep(2 * renewal_interval(LEASE_SECONDS))  # a second answer would have come by now
            said = await transcript(isolated_pool, call)
    print(f"\nowner killed: call taken over after {taken_after:.2f} s (lease {LEASE_SECONDS} s)")
    assert taken_after < LEASE_SECONDS + 2 * renewal_interval(LEASE_SECONDS) + 1.0
    assert said[:3] == [("agent", said[0][1]), ("agent", PAUSE_LINE), ("customer", QUESTIONS[0])]
    assert held == said[:4] and said[3] == ("customer", QUESTIONS[1])  # nothing answered while paused
    assert [text for speaker, text in said if speaker == "customer"] == list(QUESTIONS)  # each once
    assert said[4] == ("agent", RESUME_LINE)
    assert [speaker for speaker, _ in said[5:]] == ["agent", "agent"], said  # each answered once, on resume


async def has_line(pool: asyncpg.Pool, call: CallRef, text: str) -> bool:
    return any(said == text for _, said in await transcript(pool, call))


REFUND_ASKED = "The shoes arrived damaged, I want a refund for ORD-1042"
REFUNDED = "I've refunded $89.90 on order ORD-1042"


async def refunding_call(pool: asyncpg.Pool, requires_approval: bool = True) -> CallRef:
    """A live call whose agent refunds the demo shop's orders (with the supervisor's approval)."""
    [call] = await live_calls(pool, 1)
    async with pool.acquire() as conn:
        await seed_shop(conn)
        await conn.execute("insert into agent_tools(agent_id, supervisor_id, name, requires_approval)"
                           " values ($1, $2, 'refund_order', $3)", call.agent_id, call.supervisor_id,
                           requires_approval)
    return call


@pytest.mark.parametrize("decision_heard", [True, False], ids=["allowed-after-the-kill", "allowed-unheard"])
async def test_a_refund_waiting_for_approval_when_its_owner_is_killed_is_run_once_by_the_next(
        nats_url: str, isolated_database_url: str, isolated_pool: asyncpg.Pool, bus: Bus,
        decision_heard: bool) -> None:
    """The owner asked the supervisor and died waiting. The supervisor allows: the decision reaches
    the call's consumer, read by the next owner (allowed-after-the-kill); or only its row says so, as
    when the dead owner had taken the decision and died before running the tool (allowed-unheard).
    Either way the next owner refunds once, records it once and tells the customer once."""
    call = await refunding_call(isolated_pool)
    async with bus.listen(call_filter(call.supervisor_id, call.agent_id, call.call_id)) as events:
        executed: set[uuid.UUID] = set()  # event ids: an outbox publishes an event again after a crash

        async def collect() -> None:
            async for event in events:
                if isinstance(event, ToolExecuted):
                    executed.add(event.event_id)

        collecting = asyncio.create_task(collect())
        async with owner_and_heir(nats_url, isolated_database_url, isolated_pool, bus, call) as doomed:
            await bus.publish(CustomerMessage(**call.fields(), text=REFUND_ASKED))
            await eventually(lambda: has_line(isolated_pool, call, APPROVAL_LINE), within=20)
            request_id = await isolated_pool.fetchval(
                "select id from tool_requests where call_id = $1 and status = 'pending'", call.call_id)
            doomed.send_signal(signal.SIGKILL)
            await supervisor_allows(isolated_pool, bus, call, request_id, heard=decision_heard)
            await eventually(lambda: refund_told(isolated_pool, call), within=20)
            await asyncio.sleep(2 * renewal_interval(LEASE_SECONDS))  # a second one would have come by now
            said = await transcript(isolated_pool, call)
        collecting.cancel()
    assert said[1:3] == [("customer", REFUND_ASKED), ("agent", APPROVAL_LINE)]
    assert [text for _, text in said[3:]] == [await refund_told(isolated_pool, call)], said
    assert await isolated_pool.fetchval("select count(*) from shop_refunds where order_id = 'ORD-1042'") == 1
    assert await isolated_pool.fetchval("select status from tool_requests where id = $1", request_id) == "executed"
    assert len(executed) == 1


@contextlib.asynccontextmanager
async def owner_and_heir(nats_url: str, database_url: str, pool: asyncpg.Pool, bus: Bus,
                         call: CallRef) -> AsyncIterator[subprocess.Popen[bytes]]:
    """The call owned by an agent-worker process (to be killed; it has greeted the customer), with
    another instance beside it to inherit the call."""
    with agent_worker_process(nats_url, database_url) as doomed:
        await bus.publish(started(call))
        await eventually(lambda: all_have(pool, [call], 1), within=45)
        with running_service("agent-worker", worker_settings(nats_url, database_url), worker_setup):
            yield doomed


@contextlib.asynccontextmanager
async def killed_about_to_say(pool: asyncpg.Pool, owner: subprocess.Popen[bytes],
                              beginning: str) -> AsyncIterator[None]:
    """``owner`` is killed at the moment it writes the agent's line beginning so, which it never says:
    the line's insert waits (a trigger takes an advisory lock this holds) until the owner is killed, once
    the block, which brings the owner there, has ended; its waiting transaction is then ended with it."""
    literal = beginning.replace("'", "''")
    async with pool.acquire() as holder:
        await holder.execute(f"""
            select pg_advisory_lock({HELD_LINE_LOCK});
            create function hold_line() returns trigger language plpgsql as $$
              begin perform pg_advisory_xact_lock({HELD_LINE_LOCK}); return new; end $$;
            create trigger hold_line before insert on transcript_lines for each row
              when (new.speaker = 'agent' and starts_with(new.text, '{literal}')) execute function hold_line()""")
        try:
            yield
            await eventually(lambda: pool.fetchval(f"select count(*) > 0 from {ADVISORY_WAITERS}"), within=20)
            owner.send_signal(signal.SIGKILL)
        finally:
            await holder.execute(f"""
                select pg_terminate_backend(pid) from {ADVISORY_WAITERS};
                drop trigger hold_line on transcript_lines; drop function hold_line();
                select pg_advisory_unlock({HELD_LINE_LOCK})""")


HELD_LINE_LOCK = 4242
ADVISORY_WAITERS = ("pg_locks where locktype = 'advisory' and not granted"
                    " and database = (select oid from pg_database where datname = current_database())")


async def test_a_refund_whose_owner_was_killed_before_saying_it_waits_for_approval_is_asked_once(
        nats_url: str, isolated_database_url: str, isolated_pool: asyncpg.Pool, bus: Bus) -> None:
    """The owner recorded the request (the supervisor was asked) and was killed as it was about to tell
    the customer it waits: the next owner tells them, and the refund is the one asked for, not a second
    request for the customer's line."""
    call = await refunding_call(isolated_pool)
    async with owner_and_heir(nats_url, isolated_database_url, isolated_pool, bus, call) as doomed:
        async with killed_about_to_say(isolated_pool, doomed, APPROVAL_LINE):
            await bus.publish(CustomerMessage(**call.fields(), text=REFUND_ASKED))
        await eventually(lambda: has_line(isolated_pool, call, APPROVAL_LINE), within=20)
        [request_id] = await isolated_pool.fetch("select id from tool_requests where call_id = $1", call.call_id)
        await supervisor_allows(isolated_pool, bus, call, request_id["id"], heard=True)
        await eventually(lambda: refund_told(isolated_pool, call), within=20)
        await asyncio.sleep(2 * renewal_interval(LEASE_SECONDS))  # a second one would have come by now
        said = await transcript(isolated_pool, call)
    assert said[1:] == [("customer", REFUND_ASKED), ("agent", APPROVAL_LINE),
                        ("agent", await refund_told(isolated_pool, call))], said
    await refunded_once(isolated_pool, call)


@pytest.mark.parametrize("requires_approval", [True, False], ids=["approved", "without-approval"])
async def test_a_refund_run_when_its_owner_was_killed_before_telling_it_is_told_once_and_not_run_again(
        nats_url: str, isolated_database_url: str, isolated_pool: asyncpg.Pool, bus: Bus,
        requires_approval: bool) -> None:
    """The owner refunded and recorded it, and was killed as it was about to tell the customer: the
    next owner tells them, once, and neither refunds again nor answers the customer's line again."""
    call = await refunding_call(isolated_pool, requires_approval)
    async with owner_and_heir(nats_url, isolated_database_url, isolated_pool, bus, call) as doomed:
        async with killed_about_to_say(isolated_pool, doomed, REFUNDED):
            await bus.publish(CustomerMessage(**call.fields(), text=REFUND_ASKED))
            if requires_approval:
                await eventually(lambda: has_line(isolated_pool, call, APPROVAL_LINE), within=20)
                request_id = await isolated_pool.fetchval("select id from tool_requests where call_id = $1",
                                                          call.call_id)
                await supervisor_allows(isolated_pool, bus, call, request_id, heard=True)
        await eventually(lambda: refund_told(isolated_pool, call), within=20)
        await asyncio.sleep(2 * renewal_interval(LEASE_SECONDS))  # a second one would have come by now
        said = await transcript(isolated_pool, call)
    waited = [("agent", APPROVAL_LINE)] if requires_approval else []
    assert said[1:] == [("customer", REFUND_ASKED), *waited, ("agent", await refund_told(isolated_pool, call))], said
    await refunded_once(isolated_pool, call)


async def refunded_once(pool: asyncpg.Pool, call: CallRef) -> None:
    [request] = await pool.fetch("select status from tool_requests where call_id = $1", call.call_id)
    assert request["status"] == "executed"
    assert await pool.fetchval("select count(*) from shop_refunds where call_id = $1", call.call_id) == 1


async def supervisor_allows(pool: asyncpg.Pool, bus: Bus, call: CallRef, request_id: uuid.UUID, heard: bool) -> None:
    """The decision as the gateway stores it; announced on the bus when ``heard``."""
    async with outbox.change(pool, bus) as change:
        assert await store_decision(change.conn, request_id, True, call.supervisor_id, "") is not None
        if heard:
            change.events.append(ToolPermissionDecision(**call.fields(), request_id=request_id, allowed=True,
                                                        decided_by="supervisor", decided_by_user=call.supervisor_id))


async def refund_told(pool: asyncpg.Pool, call: CallRef) -> str | None:
    return next((text for speaker, text in await transcript(pool, call)
                 if speaker == "agent" and text.startswith(REFUNDED)), None)


async def taken_from(pool: asyncpg.Pool, call: CallRef, dead_holder: uuid.UUID) -> bool:
    owner = (await holders(pool, "agent-worker", [call])).get(call.call_id)
    return owner is not None and owner != dead_holder


# --- sentiment -------------------------------------------------------------------------------------


@pytest.fixture
def scored_texts(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every utterance the sentiment model scores, in any instance of this process."""
    model_type = type(load_model(None))
    score, seen, lock = model_type.score, Counter[str](), threading.Lock()

    def counting(self: object, texts: Sequence[str], contexts: Sequence[str | None] | None = None) -> list[Scored]:
        with lock:
            seen.update(texts)
        return score(self, texts, contexts)  # type: ignore[arg-type]

    monkeypatch.setattr(model_type, "score", counting)
    return seen


async def test_two_sentiment_instances_score_each_utterance_once_and_a_stopped_ones_calls_carry_on(
        nats_url: str, isolated_database_url: str, isolated_pool: asyncpg.Pool, bus: Bus,
        scored_texts: Counter[str]) -> None:
    calls = await live_calls(isolated_pool, 6)
    settings = SentimentSettings(nats_url=nats_url, database_url=isolated_database_url, publish_interval_seconds=5,
                                 call_lease_seconds=LEASE_SECONDS)
    scores: dict[uuid.UUID, list[int]] = {call.call_id: [] for call in calls}

    def line(call: CallRef, turn: int) -> str:
        return f"Turn {turn} of call {str(call.call_id)[:8]}: this is still not working and I am annoyed."

    async def say(turns: range) -> None:
        for turn in turns:
            for call in calls:
                await bus.publish(TranscriptChunk(**call.fields(), seq=2 * turn, speaker="customer",
                                                  text=line(call, turn)))
                await bus.publish(TranscriptChunk(**call.fields(), seq=2 * turn + 1, speaker="agent", text="I see."))

    def all_scored(utterances: int) -> bool:
        return all(counts and counts[-1] >= utterances for counts in scores.values())

    async with bus.listen("sentiment.score.>") as published:
        async def collect() -> None:
            async for event in published:
                if isinstance(event, SentimentScore) and event.call_id in scores:
                    scores[event.call_id].append(event.utterances)

        collecting = asyncio.create_task(collect())
        first = contextlib.ExitStack()
        with running_service("sentiment", settings, sentiment_setup):
            first.enter_context(running_service("sentiment", settings, sentiment_setup))
            for call in calls:
                await bus.publish(started(call))
                await asyncio.sleep(0.05)
            await say(range(3))
            await eventually(lambda: all_scored(3), within=20)
            before = await holders(isolated_pool, "sentiment", calls)
            assert len(before) == len(calls) and len(set(before.values())) == 2, Counter(before.values())
            assert all(scored_texts[line(call, turn)] == 1 for call in calls for turn in range(3)), scored_texts
            first.close()  # one instance stops mid-call; the other takes its calls over
            survivor = await eventually(lambda: sole_holder(isolated_pool, calls), within=10)
            moved = {call_id for call_id, holder in before.items() if holder != survivor}
            await say(range(3, 5))
            for call in calls:
                await bus.publish(ended(call))
            await eventually(lambda: all_scored(5), within=20)
            await eventually(lambda: no_trace(isolated_pool, bus, "sentiment", calls), within=10)
        collecting.cancel()
    assert moved and len(moved) < len(calls)
    for call in calls:
        # Continuous: the supervisor never sees a call's count of scored utterances go back.
        assert scores[call.call_id] == sorted(scores[call.call_id]) and scores[call.call_id][-1] == 5, scores
        once = all(scored_texts[line(call, turn)] == 1 for turn in range(5))
        assert once or call.call_id in moved  # read again from its start only where it changed owner


async def sole_holder(pool: asyncpg.Pool, calls: Sequence[CallRef]) -> uuid.UUID | None:
    """The one instance holding every call's lease, once there is one."""
    owners = await holders(pool, "sentiment", calls)
    return next(iter(set(owners.values()))) if len(owners) == len(calls) and len(set(owners.values())) == 1 else None
