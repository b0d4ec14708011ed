"""The transactional outbox on a real PostgreSQL and NATS: a change publishes its own events, in order,
before its maker goes on; what a sender left behind (it crashed after the commit) is sent by the timer."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import asyncpg

from contracts import outbox
from contracts.bus import Bus
from contracts.calls import CustomerMessage
from contracts.subjects import call_filter
from tests.waiting import eventually


def messages(ids: dict[str, uuid.UUID], *texts: str) -> list[CustomerMessage]:
    return [CustomerMessage(**ids, text=text) for text in texts]


async def published(bus: Bus, ids: dict[str, uuid.UUID], count: int) -> list[str]:
    async with bus.tail([call_filter(**ids)], after=0) as tail:
        seen: list[str] = []
        while len(seen) < count:
            batch = await tail.next_batch(2.0)
            assert batch, f"only {seen} were published"
            seen += [event.text for _, event in batch]
        return seen


async def staged(pool: asyncpg.Pool, events: list[CustomerMessage]) -> int:
    return await pool.fetchval("select count(*) from public.outbox where event_id = any($1::uuid[])",
                               [e.event_id for e in events])


async def test_a_change_publishes_its_own_events_in_order_and_leaves_another_changes_rows(
        isolated_pool: asyncpg.Pool, bus: Bus) -> None:
    ids = {"supervisor_id": uuid.uuid4(), "agent_id": uuid.uuid4(), "call_id": uuid.uuid4()}
    # Another change committed whose sender has not sent yet: not this change's to take.
    theirs = messages({**ids, "call_id": uuid.uuid4()}, "someone else's")
    async with isolated_pool.acquire() as conn:
        await outbox.stage(conn, theirs)
    ours = messages(ids, "first", "second", "third")
    async with outbox.change(isolated_pool, bus) as change:
        change.events.extend(ours)
    # Published before the block returned, in order, and off the outbox.
    assert await published(bus, ids, 3) == ["first", "second", "third"]
    assert await staged(isolated_pool, ours) == 0
    assert await staged(isolated_pool, theirs) == 1


async def test_events_a_sender_left_behind_are_sent_by_the_timer_once_they_are_old_enough(
        isolated_pool: asyncpg.Pool, bus: Bus) -> None:
    ids = {"supervisor_id": uuid.uuid4(), "agent_id": uuid.uuid4(), "call_id": uuid.uuid4()}
    left = messages(ids, "left behind")
    async with isolated_pool.acquire() as conn:
        await outbox.stage(conn, left)  # committed; the sender died before send()
    timer = asyncio.create_task(outbox.flush_forever(isolated_pool, bus, interval_seconds=0.1,
                                                     left_after_seconds=2.0))
    try:
        assert await staged(isolated_pool, left) == 1  # young: still its sender's
        async def sent() -> bool:
            return await staged(isolated_pool, left) == 0

        await eventually(sent)
        assert await published(bus, ids, 1) == ["left behind"]
    finally:
        timer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await timer


async def test_an_event_is_stamped_when_it_is_staged_not_when_its_transaction_began(isolated_pool: asyncpg.Pool,
                                                                                    bus: Bus) -> None:
    """A change that takes a while (an archive on a busy machine) must not look left behind to the timer
    the moment it commits: the timer would send its events alongside their own sender."""
    ids = {"supervisor_id": uuid.uuid4(), "agent_id": uuid.uuid4(), "call_id": uuid.uuid4()}
    events = messages(ids, "slow change")
    async with isolated_pool.acquire() as conn, conn.transaction():
        began = await conn.fetchval("select now()")
        await asyncio.sleep(0.3)
        await outbox.stage(conn, events)
        stamped = await conn.fetchval("select staged_at from public.outbox where event_id = $1", events[0].event_id)
    assert (stamped - began).total_seconds() >= 0.3
    await isolated_pool.execute("delete from public.outbox where event_id = $1", events[0].event_id)
