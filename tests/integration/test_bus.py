"""The bus against a real NATS JetStream server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from contracts.bus import (
    DEAD_LETTER_PAYLOAD_CHARS,
    Bus,
    ConsumerGone,
    EventConsumer,
    connect_bus,
    ensure_streams,
)
from contracts.calls import CustomerMessage
from contracts.deadletter import DeadLetter
from contracts.envelope import Envelope
from contracts.examples import example_events
from contracts.health import health_bucket, read_beats
from contracts.metrics import serve_metrics
from contracts.registry import EVENT_TYPES, TOPICS
from contracts.subjects import (
    CALLS_STREAM,
    DEADLETTER_STREAM,
    call_filter,
    call_token,
    deadletter_subject,
    replay_subject,
    supervisor_filter,
)
from embedded_stack.nats_server import start_nats
from embedded_stack.postgres_server import free_port
from tests.waiting import eventually


def fresh_ids() -> dict[str, uuid.UUID]:
    return {"supervisor_id": uuid.uuid4(), "agent_id": uuid.uuid4(), "call_id": uuid.uuid4()}


def unique_durable(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


@contextlib.asynccontextmanager
async def running(consumer: EventConsumer) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Recorder:
    def __init__(self) -> None:
        self.events: list[Envelope] = []

    async def __call__(self, event: Envelope) -> None:
        self.events.append(event)


async def dead_letters(bus: Bus, durable: str, expected: int) -> list[DeadLetter]:
    subscription = await bus.js.subscribe(deadletter_subject(durable), stream=DEADLETTER_STREAM,
                                          ordered_consumer=True)
    letters = []
    async with asyncio.timeout(10):
        while len(letters) < expected:
            message = await subscription.next_msg(timeout=5)
            letters.append(DeadLetter.model_validate_json(message.data))
    await subscription.unsubscribe()
    return letters


def test_every_event_type_has_an_example() -> None:
    assert {type(event) for event in example_events()} == set(EVENT_TYPES.values())


async def test_every_event_type_round_trips_through_jetstream(bus: Bus) -> None:
    ids = fresh_ids()
    stored = {topic.name for topic in TOPICS if topic.stored}  # live signals are not kept in the stream
    sent = [event for event in example_events(**ids) if event.topic in stored]
    recorder = Recorder()
    consumer = EventConsumer(bus, unique_durable("roundtrip"), [supervisor_filter(ids["supervisor_id"])],
                             recorder, accepts=tuple(EVENT_TYPES.values()))
    for event in sent:
        await bus.publish(event)
    async with running(consumer):
        await eventually(lambda: len(recorder.events) == len(sent))
    # Each call's events in the order sent (different calls' may interleave: they are handled side by side).
    def by_call(events: list[Envelope]) -> dict[str, list[Envelope]]:
        grouped: dict[str, list[Envelope]] = {}
        for event in events:
            grouped.setdefault(call_token(event.subject), []).append(event)
        return grouped

    assert by_call(recorder.events) == by_call(sent)


async def test_one_calls_slow_handler_does_not_hold_up_another_call(bus: Bus) -> None:
    slow, quick = fresh_ids(), fresh_ids()
    handled: list[str] = []
    release = asyncio.Event()

    async def handler(event: Envelope) -> None:
        if event.call_id == slow["call_id"]:
            await release.wait()  # an agent's session being built, say
        handled.append(event.text)

    consumer = EventConsumer(bus, unique_durable("side-by-side"),
                             [call_filter(**ids) for ids in (slow, quick)], handler, accepts=(CustomerMessage,))
    for ids, text in ((slow, "slow 1"), (quick, "quick 1"), (slow, "slow 2"), (quick, "quick 2")):
        await bus.publish(CustomerMessage(**ids, text=text))
    async with running(consumer):
        await eventually(lambda: handled == ["quick 1", "quick 2"])
        release.set()
        await eventually(lambda: len(handled) == 4)
    assert handled == ["quick 1", "quick 2", "slow 1", "slow 2"]


async def test_durable_consumer_catches_up_after_restart(bus: Bus) -> None:
    ids = fresh_ids()
    durable = unique_durable("catchup")
    messages = [CustomerMessage(**ids, text=f"message {n}") for n in range(6)]
    first = Recorder()
    consumer = EventConsumer(bus, durable, [supervisor_filter(ids["supervisor_id"])], first,
                             accepts=(CustomerMessage,))
    async with running(consumer):
        for message in messages[:3]:
            await bus.publish(message)
        await eventually(lambda: len(first.events) == 3)
    # The service is down while three more arrive; the restarted one gets exactly those.
    for message in messages[3:]:
        await bus.publish(message)
    second = Recorder()
    restarted = EventConsumer(bus, durable, [supervisor_filter(ids["supervisor_id"])], second,
                              accepts=(CustomerMessage,))
    async with running(restarted):
        await eventually(lambda: len(second.events) == 3)
        await asyncio.sleep(0.3)
    assert [e.text for e in second.events] == ["message 3", "message 4", "message 5"]


async def test_a_consumer_stopped_mid_event_hands_it_back_at_once(bus: Bus) -> None:
    """Not after ack_wait (30 s): a restarted service picks up the unfinished event straight away."""
    ids = fresh_ids()
    durable = unique_durable("handback")
    started, never = asyncio.Event(), asyncio.Event()

    async def stuck(event: Envelope) -> None:
        started.set()
        await never.wait()

    consumer = EventConsumer(bus, durable, [supervisor_filter(ids["supervisor_id"])], stuck,
                             accepts=(CustomerMessage,))
    task = asyncio.create_task(consumer.run())
    await bus.publish(CustomerMessage(**ids, text="interrupted"))
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    second = Recorder()
    restarted = EventConsumer(bus, durable, [supervisor_filter(ids["supervisor_id"])], second,
                              accepts=(CustomerMessage,))
    async with running(restarted):
        await eventually(lambda: len(second.events) == 1, within=5)
    assert second.events[0].text == "interrupted"


async def test_malformed_messages_are_dead_lettered_and_the_consumer_keeps_running(bus: Bus) -> None:
    ids = fresh_ids()
    durable = unique_durable("malformed")
    good = CustomerMessage(**ids, text="still here")
    subject = good.subject
    not_json = b"{not json"
    wrong_type = good.model_dump(mode="json") | {"text": 42}
    unknown_field = good.model_dump(mode="json") | {"event_id": str(uuid.uuid4()), "surprise": True}
    other_supervisor = CustomerMessage(**(ids | {"supervisor_id": uuid.uuid4()}), text="misrouted")
    recorder = Recorder()
    consumer = EventConsumer(bus, durable, [supervisor_filter(ids["supervisor_id"])], recorder,
                             accepts=(CustomerMessage,))
    await bus.js.publish(subject, not_json)
    await bus.js.publish(subject, json.dumps(wrong_type).encode())
    await bus.js.publish(subject, json.dumps(unknown_field).encode())
    await bus.js.publish(subject, other_supervisor.model_dump_json().encode())
    await bus.publish(good)
    async with running(consumer):
        await eventually(lambda: len(recorder.events) == 1)
    assert recorder.events == [good]
    letters = await dead_letters(bus, durable, 4)
    assert {letter.original_subject for letter in letters} == {subject}
    reasons = [letter.reason for letter in letters]
    assert reasons[0].startswith("invalid event") and "json" in reasons[0].lower()
    assert reasons[1].startswith("invalid event") and "text" in reasons[1]
    assert reasons[2].startswith("invalid event") and "surprise" in reasons[2]
    assert reasons[3].startswith("subject does not match body")
    assert letters[0].payload == not_json.decode()


async def test_a_message_near_the_size_limit_is_dead_lettered_cut_short(bus: Bus) -> None:
    """Its bytes escaped into a letter's JSON would not fit in a NATS message: the letter keeps its start."""
    ids = fresh_ids()
    durable = unique_durable("huge")
    good = CustomerMessage(**ids, text="after the huge one")
    recorder = Recorder()
    consumer = EventConsumer(bus, durable, [supervisor_filter(ids["supervisor_id"])], recorder,
                             accepts=(CustomerMessage,))
    huge = b"{" + b"\x01" * (bus.nc.max_payload - 1024)
    await bus.js.publish(good.subject, huge)
    await bus.publish(good)
    async with running(consumer):
        await eventually(lambda: recorder.events == [good])
    [letter] = await dead_letters(bus, durable, 1)
    assert letter.reason.startswith("invalid event") and f"of {len(huge)})" in letter.reason
    assert letter.payload == huge[:DEAD_LETTER_PAYLOAD_CHARS].decode()


async def test_health_entries_that_are_not_heartbeats_are_left_out(bus: Bus) -> None:
    """Anyone on the bus can write the bucket /health reads; a bad entry must not make it fail."""
    bucket = await health_bucket(bus)
    name = unique_durable("beating")
    bad = {f"{name}-{kind}": value for kind, value in
           {"not-json": b"\xff{", "a-list": b"[]", "no-time": b'{"service": 1}', "odd-details": json.dumps(
               {"at": "2026-01-01T00:00:00+00:00", "details": [1]}).encode()}.items()}
    for key, value in bad.items():
        await bucket.put(key, value)
    await bucket.put(name, json.dumps({"service": name, "at": "2026-01-01T00:00:00+00:00", "details": {}}).encode())
    beats = await read_beats(bus)
    assert list(beats[name]) == [name]  # its instance: the key, for a beat that names none
    assert not any(set(bad) & set(instances) for instances in beats.values())


async def test_event_of_a_type_the_consumer_does_not_take_is_dead_lettered(bus: Bus) -> None:
    ids = fresh_ids()
    durable = unique_durable("wrongtype")
    unexpected = example_events(**ids)[0]
    consumer = EventConsumer(bus, durable, [supervisor_filter(ids["supervisor_id"])], Recorder(),
                             accepts=(CustomerMessage,))
    await bus.publish(unexpected)
    async with running(consumer):
        letters = await dead_letters(bus, durable, 1)
    assert letters[0].reason == f"{durable} does not accept {unexpected.type}"


async def test_a_republished_event_is_stored_once_and_a_redelivered_one_handled_once(bus: Bus) -> None:
    ids = fresh_ids()
    event = CustomerMessage(**ids, text="once")
    first_seq = await bus.publish(event)
    assert await bus.publish(event) == first_seq  # JetStream's duplicate window, keyed by event_id
    # The same event under another message id (e.g. republished after the window) reaches the stream twice;
    # the consumer still handles it once.
    await bus.js.publish(event.subject, event.model_dump_json().encode(), headers={"Nats-Msg-Id": "other"})
    recorder = Recorder()
    consumer = EventConsumer(bus, unique_durable("dedupe"), [supervisor_filter(ids["supervisor_id"])], recorder,
                             accepts=(CustomerMessage,))
    async with running(consumer):
        await eventually(lambda: len(recorder.events) == 1)
        info = await bus.js.consumer_info(CALLS_STREAM, consumer.durable)
        async with asyncio.timeout(5):
            while info.num_ack_pending or info.num_pending:
                await asyncio.sleep(0.05)
                info = await bus.js.consumer_info(CALLS_STREAM, consumer.durable)
    assert info.delivered.stream_seq == first_seq + 1
    assert recorder.events == [event]


async def test_failing_handler_is_retried_then_dead_lettered(bus: Bus) -> None:
    ids = fresh_ids()
    attempts: dict[str, int] = {}

    async def flaky(event: CustomerMessage) -> None:
        attempts[event.text] = attempts.get(event.text, 0) + 1
        if event.text == "always fails" or attempts[event.text] == 1:
            raise RuntimeError(f"boom on {event.text}")

    durable = unique_durable("retry")
    consumer = EventConsumer(bus, durable, [supervisor_filter(ids["supervisor_id"])], flaky,
                             accepts=(CustomerMessage,), max_deliver=3, retry_delays=(0.05,))
    await bus.publish(CustomerMessage(**ids, text="fails once"))
    await bus.publish(CustomerMessage(**ids, text="always fails"))
    async with running(consumer):
        letters = await dead_letters(bus, durable, 1)
    assert attempts == {"fails once": 2, "always fails": 3}
    assert letters[0].reason == "handler failed 3 times: boom on always fails"
    assert letters[0].deliveries == 3


async def test_clients_reconnect_after_a_nats_restart(tmp_path: Path) -> None:
    port = free_port()
    server = start_nats(tmp_path, port=port)
    publisher = await connect_bus(server.url, "test-publisher")
    await ensure_streams(publisher)
    ids = fresh_ids()
    recorder = Recorder()
    consumer = EventConsumer(publisher, "restart", [supervisor_filter(ids["supervisor_id"])], recorder,
                             accepts=(CustomerMessage,))
    try:
        async with running(consumer):
            await publisher.publish(CustomerMessage(**ids, text="before"))
            await eventually(lambda: len(recorder.events) == 1)
            server.stop()
            await asyncio.sleep(0.5)
            server = start_nats(tmp_path, port=port)  # same port, same JetStream store
            await eventually(lambda: publisher.nc.is_connected, within=15)
            await publisher.publish(CustomerMessage(**ids, text="after"))
            await eventually(lambda: len(recorder.events) == 2, within=15)
        assert [e.text for e in recorder.events] == ["before", "after"]
    finally:
        await publisher.close()
        server.stop()


@pytest.mark.parametrize("event", example_events(), ids=lambda e: e.type)
def test_subject_carries_supervisor_agent_and_call(event: Envelope) -> None:
    tokens = event.subject.split(".")
    assert ".".join(tokens[:2]) == type(event).topic
    assert tokens[2] == str(event.supervisor_id)
    assert tokens[3] == (str(event.agent_id) if event.agent_id else "_")
    assert tokens[4] == (str(event.call_id) if event.call_id else "_")



@pytest.mark.parametrize("earlier_policy", [DeliverPolicy.ALL, DeliverPolicy.NEW], ids=["updatable", "fixed"])
async def test_a_durable_made_by_an_earlier_release_keeps_working(bus: Bus, earlier_policy: DeliverPolicy) -> None:
    ids = fresh_ids()
    durable = unique_durable("earlier")
    # As an earlier release made it: no replay subject, and (fixed) a setting the server cannot change in place.
    await bus.js.add_consumer(CALLS_STREAM, ConsumerConfig(
        durable_name=durable, filter_subjects=[supervisor_filter(ids["supervisor_id"])],
        ack_policy=AckPolicy.EXPLICIT, deliver_policy=earlier_policy, max_deliver=-1))
    recorder = Recorder()
    consumer = EventConsumer(bus, durable, [supervisor_filter(ids["supervisor_id"])], recorder,
                             accepts=(CustomerMessage,))
    message, replayed = CustomerMessage(**ids, text="still delivered"), CustomerMessage(**ids, text="sent again")
    await bus.publish(message)
    await bus.js.publish(replay_subject(durable, replayed.subject), replayed.model_dump_json().encode())
    # Updatable: it takes today's filters, replays included. Fixed: used as it is (with an error line).
    expected = [message, replayed] if earlier_policy == DeliverPolicy.ALL else [message]
    async with running(consumer):
        await eventually(lambda: recorder.events == expected)
        await asyncio.sleep(0.2)
    assert recorder.events == expected


async def test_a_services_consumers_are_counted_and_timed_on_its_metrics_port(bus: Bus) -> None:
    port = free_port()
    serve_metrics(port, "127.0.0.1")
    ids = fresh_ids()
    durable = unique_durable("metered")
    recorder = Recorder()
    consumer = EventConsumer(bus, durable, [supervisor_filter(ids["supervisor_id"])], recorder,
                             accepts=(CustomerMessage,))
    await bus.publish(CustomerMessage(**ids, text="one"))
    await bus.publish(CustomerMessage(**ids, text="two"))
    async with running(consumer):
        await eventually(lambda: len(recorder.events) == 2)
    async with httpx.AsyncClient() as http:
        page = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    assert f'bus_events_total{{consumer="{durable}",outcome="handled",type="call.message"}} 2.0' in page
    assert f'bus_handler_seconds_count{{consumer="{durable}",type="call.message"}} 2.0' in page


async def test_a_calls_own_consumers_are_counted_by_their_family(bus: Bus) -> None:
    """Every call has consumers of its own, named after it: a metric label each would grow without end."""
    port = free_port()
    serve_metrics(port, "127.0.0.1")
    family = unique_durable("per-call")
    calls = [fresh_ids() for _ in range(2)]
    recorder = Recorder()
    for ids in calls:
        await bus.publish(CustomerMessage(**ids, text="hello"))
        consumer = EventConsumer(bus, f"{family}-{ids['call_id']}", [call_filter(**ids)], recorder,
                                 accepts=(CustomerMessage,), forget_after_idle_seconds=60)
        async with running(consumer):
            await eventually(lambda ids=ids: any(e.call_id == ids["call_id"] for e in recorder.events))
    async with httpx.AsyncClient() as http:
        page = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    assert f'bus_events_total{{consumer="{family}",outcome="handled",type="call.message"}} 2.0' in page
    assert not any(str(ids["call_id"]) in page for ids in calls)
    assert {lag.consumer for lag in await bus.consumer_lag()} >= {family}
    assert not any(str(ids["call_id"]) in lag.consumer for lag in await bus.consumer_lag() for ids in calls)


async def test_a_reader_taking_events_one_at_a_time_keeps_one_pull_request_open(bus: Bus) -> None:
    """nats-py's fetch sent two pull requests per batch (a probe, then one that waits): a live stream,
    whose events come one at a time, cost the bus three messages more per event than it carried."""
    ids = fresh_ids()
    requests = await bus.nc.subscribe("$JS.API.CONSUMER.MSG.NEXT.>")
    async with bus.tail([call_filter(**ids)]) as tail:
        for n in range(10):
            await bus.publish(CustomerMessage(**ids, text=f"line {n}"))
            batch = await tail.next_batch(5.0)
            assert [event.text for _, event in batch] == [f"line {n}"]
        await bus.nc.flush()
        assert requests.pending_msgs == 1
    await requests.unsubscribe()


async def test_a_reader_whose_consumer_is_deleted_is_told_so(bus: Bus) -> None:
    ids = fresh_ids()
    async with bus.tail([call_filter(**ids)]) as tail:
        assert await tail.next_batch(0.2) == []  # its pull request is open
        consumer = next(info.name for info in await bus.js.consumers_info(CALLS_STREAM)
                        if info.config.filter_subjects == [call_filter(**ids)])
        await bus.delete_consumer(consumer)
        with pytest.raises(ConsumerGone):
            async with asyncio.timeout(5):
                await tail.next_batch(10.0)
