"""Malformed, wrongly-typed and oversized messages published straight onto every subject the services take
(every topic in contracts.registry, so a new topic is covered by itself; each consumer's replay subject;
the health bucket the gateway reads): each stored one is dead-lettered with a reason by every durable
consumer whose filter takes it, one too big for the bus is refused at the door, no service dies, and a
chat call afterwards goes as usual."""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator

import nats.errors
import pytest

from contracts.bus import Bus, connect_bus, read_dead_letters
from contracts.examples import example_events
from contracts.health import health_bucket
from contracts.registry import TOPICS, Topic
from contracts.subjects import CALLS_STREAM, replay_subject, subject_for
from tests.bench.platform_processes import Platform
from tests.faults.chat import converse, finish, health
from tests.faults.conftest import watched_desks
from tests.waiting import eventually

pytestmark = pytest.mark.faults

# Room left under the bus's largest message for the dead letter's own fields.
NEAR_LIMIT_MARGIN = 4096


def bad_payloads(topic: Topic, near_limit: int) -> dict[str, bytes]:
    """Each kind of bad message for one topic, by name."""
    examples = {type(event): json.loads(event.model_dump_json()) for event in example_events()}
    own = examples[topic.events[0]]
    other = next(body for kind, body in examples.items() if kind.topic != topic.name)
    return {
        "not-json": b"\xff\xfe{ this is not json",
        "not-an-object": b"[1, 2, 3]",
        "no-fields": json.dumps({"type": own["type"]}).encode(),
        "wrongly-typed-field": json.dumps({**own, "supervisor_id": 12345, "occurred_at": "yesterday"}).encode(),
        "unknown-type": json.dumps({**own, "type": "no.such.event"}).encode(),
        "another-topics-event": json.dumps(other).encode(),  # valid, but its body names another subject
        "near-the-size-limit": b"{" + b"\x01" * near_limit,
    }


def taken_by(filters: list[str], subject: str) -> bool:
    """Whether a consumer with these filter subjects receives ``subject`` (NATS wildcards)."""
    def one(pattern: list[str], tokens: list[str]) -> bool:
        for index, token in enumerate(pattern):
            if token == ">":
                return len(tokens) > index
            if index >= len(tokens) or token not in ("*", tokens[index]):
                return False
        return len(tokens) == len(pattern)
    return any(one(f.split("."), subject.split(".")) for f in filters)


# A consumer of one call's subjects (its owner's, its room's) is named after the call and goes with it:
# the bad messages here name calls of their own, and such a consumer may be gone before they reach it.
ONE_CALLS_CONSUMER = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


async def durable_consumers(bus: Bus) -> dict[str, list[str]]:
    """The durable consumers of every call's events: the services' own."""
    return {info.name: list(info.config.filter_subjects or [info.config.filter_subject])
            for info in await bus.js.consumers_info(CALLS_STREAM)
            if info.config.durable_name and not ONE_CALLS_CONSUMER.search(info.name)}


@pytest.fixture
async def platform_bus(platform: Platform) -> AsyncIterator[Bus]:
    connected = await connect_bus(platform.nats_url, "fault-tests")
    yield connected
    await connected.close()


async def test_bad_messages_on_every_subject_are_dead_lettered_and_nothing_dies(platform: Platform, admin_email: str,
                                                                                platform_bus: Bus) -> None:
    bus = platform_bus
    before = {name: process.pid for name, process in platform.processes().items()}
    consumers = await durable_consumers(bus)
    assert {"call-router", "agent-worker", "sentiment", "analytics", "postprocess"} <= set(consumers)
    near_limit = bus.nc.max_payload - NEAR_LIMIT_MARGIN
    supervisor, agent = uuid.uuid4(), uuid.uuid4()
    expected: dict[tuple[str, str], str] = {}  # (consumer, subject) -> the bad message's kind
    published = 0
    for topic in TOPICS:
        for kind, payload in bad_payloads(topic, near_limit).items():
            subject = subject_for(topic.name, supervisor, agent, uuid.uuid4())  # a call id per message
            if not topic.stored:  # a live signal: only its listeners hear it, and they skip what is not an event
                await bus.nc.publish(subject, payload)
                continue
            await bus.js.publish(subject, payload)
            published += 1
            expected |= {(consumer, subject): kind for consumer, filters in consumers.items()
                         if taken_by(filters, subject)}
        with pytest.raises(nats.errors.MaxPayloadError):  # too big for the bus: refused, never delivered
            await bus.js.publish(subject_for(topic.name, supervisor, agent, uuid.uuid4()),
                                 b"x" * (2 * bus.nc.max_payload))
    for consumer in consumers:  # a consumer's own replay subject: read by it alone
        subject = replay_subject(consumer, subject_for("call.ended", supervisor, agent, uuid.uuid4()))
        await bus.js.publish(subject, b"\xff not json")
        expected[(consumer, subject.removeprefix(replay_subject(consumer, "")))] = "not-json (replayed)"
    bucket = await health_bucket(bus)  # what the gateway's /health reads
    for key, value in {"poison-not-json": b"\xff{", "poison-list": b"[]", "poison-no-time": b'{"service": 1}'}.items():
        await bucket.put(key, value)
    assert {kind for (consumer, _), kind in expected.items()} >= set(bad_payloads(TOPICS[0], 1))

    async def letters() -> dict[tuple[str, str], list[str]]:
        found: dict[tuple[str, str], list[str]] = defaultdict(list)
        for _, letter in (await read_dead_letters(bus, limit=len(expected) * 2, scan=len(expected) * 4)).newest:
            if str(supervisor) in letter.original_subject:
                found[(letter.consumer, letter.original_subject)].append(letter.reason)
        return found

    async def all_dead_lettered() -> bool:
        return set(await letters()) >= set(expected)

    with contextlib.suppress(AssertionError):
        await eventually(all_dead_lettered, within=45, every=1.0)
    dead = await letters()
    missing = sorted(f"{consumer} {subject.split('.')[0]}.{subject.split('.')[1]} {kind}"
                     for (consumer, subject), kind in expected.items() if (consumer, subject) not in dead)
    assert not missing, f"{len(missing)} of {len(expected)} not dead-lettered: {missing}"
    assert set(dead) == set(expected), "dead-lettered by a consumer that does not take the subject"
    assert all(len(reasons) == 1 and reasons[0] for reasons in dead.values()), dead

    assert {name: process.pid for name, process in platform.processes().items()} == before, "a process died"
    async with watched_desks(platform, admin_email, 1, 904) as world:
        status, report = await health(world.session)
        assert status == 200, report
        await finish(*converse(world.session, world.desks, "after-poison", think=0.2), platform.database_url,
                     world.supervisors)
    print(f"\npoison: {published} bad messages on {sum(t.stored for t in TOPICS)} stored topics (+ live signals, "
          f"replay subjects, health bucket); {len(dead)} dead letters, each with a reason, from "
          f"{len({consumer for consumer, _ in dead})} consumers; 2 MB messages refused by the bus; no process died")
