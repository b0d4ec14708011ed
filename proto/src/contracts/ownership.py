"""One owner per call: for a service that keeps a live call's state in memory (the agent-worker's
session, sentiment's rolling score) and runs as several instances.

Every instance reads ``call.started`` from the service's shared durable consumer, so one of them gets
each call; that one takes the call's lease (a row in ``call_leases``, for this service and call) and
follows the call through a durable consumer of the call's own subjects (``<service>-call-<call_id>``),
acking each event once handled. The others never see the call's events. The owner renews its leases
every third of their lifetime (``CALL_LEASE_SECONDS``) and, when the call ends, deletes the call's
consumer and its lease.

An owner that dies stops renewing. Every instance sweeps for live calls whose lease expired and takes
them with one update that succeeds for one instance only; the new owner rebuilds the call's state and
attaches to the same per-call consumer, so what the dead owner had not acked is delivered again and
nothing the customer said is lost. How the state is rebuilt is the service's: from the database (the
agent-worker's transcript), or by reading the call's events again from the start (``replays_inherited_calls``:
sentiment, whose scores live nowhere else). An instance that cannot renew for a whole lease stops
following its calls (another may have them by then); one that stops cleanly frees its leases at once.

Why PostgreSQL and not NATS KV: the calls the sweep looks for (live ones, not served by a LiveKit room)
are rows of the calls table, and ``update … where expires_at < now() returning`` takes an expired lease
atomically in the same statement that finds it, against the database's one clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, Literal, Protocol, TypeVar
from uuid import UUID, uuid4

import asyncpg
from nats.js.errors import NotFoundError

from contracts.bus import Bus, EventConsumer
from contracts.calls import CallRef, CallStarted
from contracts.logs import call_context
from contracts.subscribers import Subscriber

log = logging.getLogger("contracts.ownership")

# A call's consumer outlives its owner (the next owner attaches to it); the server forgets one nobody
# took over (its call ended meanwhile) once idle this long.
CALL_CONSUMER_IDLE_SECONDS = 3600.0
# Calls one sweep takes over at most: an instance does not take every orphan before the others look.
TAKEOVER_BATCH = 20
# Expired leases of calls that are over are forgotten after this long.
FORGET_EXPIRED_SECONDS = 60.0

Claim = Literal["new", "taken over"]


class CallService(Protocol):
    """What a service does with the calls it owns."""

    async def open_call(self, call: CallRef, inherited: bool) -> bool:
        """Build the call's state (``inherited``: another instance had it); False when the call is
        not live (ended meanwhile, unknown): not followed, its lease released."""

    async def close_call(self, call_id: UUID) -> None:
        """Drop the call's state: it ended, or this instance no longer owns it."""


ServiceT = TypeVar("ServiceT", bound=CallService)


def renewal_interval(lease_seconds: float) -> float:
    """How often leases are renewed and orphans looked for: a renewal can fail twice before a lease
    expires, and an orphan waits at most a third of a lease past its expiry."""
    return lease_seconds / 3


def lost_calls(followed_since: Mapping[UUID, float], renewed: set[UUID], renewal_started: float) -> set[UUID]:
    """The calls followed since before the renewal began whose lease it did not renew: another instance
    has them. A call taken while the renewal ran is not among them (its lease was not there to renew)."""
    return {call_id for call_id, since in followed_since.items() if since < renewal_started and call_id not in renewed}


@dataclass(frozen=True)
class Leases:
    """The leases one instance (``holder``) of ``service`` holds, each valid for ``seconds``."""

    service: str
    seconds: float
    # Calls with a LiveKit room are served there (LiveKit dispatches each to one job): no lease for them.
    rooms_elsewhere: bool = False
    holder: UUID = field(default_factory=uuid4)

    async def take(self, pool: asyncpg.Pool, call_id: UUID) -> Claim | None:
        """The call's lease, when nobody holds it or its holder let it expire; None when another has it."""
        new = await pool.fetchval(
            """insert into call_leases(service, call_id, holder, expires_at)
               values ($1, $2, $3, now() + make_interval(secs => $4))
               on conflict (service, call_id) do update set holder = excluded.holder, expires_at = excluded.expires_at
                 where call_leases.expires_at < now()
               returning xmax = 0""", self.service, call_id, self.holder, self.seconds)
        return None if new is None else "new" if new else "taken over"

    async def renew(self, pool: asyncpg.Pool) -> set[UUID]:
        """Extend every lease still ours; returns their calls."""
        rows = await pool.fetch(
            """update call_leases set expires_at = now() + make_interval(secs => $3)
               where service = $1 and holder = $2 returning call_id""", self.service, self.holder, self.seconds)
        return {row["call_id"] for row in rows}

    async def take_orphans(self, pool: asyncpg.Pool, following: list[UUID],
                           limit: int = TAKEOVER_BATCH) -> list[CallRef]:
        """Take live calls whose lease expired (their owner died), at most ``limit``, but none of the
        calls this instance is ``following`` (after the database was away, our own leases look expired
        until the next renewal: taking them again would serve a call twice); forget expired leases of
        calls that are over."""
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """delete from call_leases l where l.service = $1
                     and l.expires_at < now() - make_interval(secs => $2)
                     and not exists (select 1 from calls c where c.id = l.call_id and c.status = 'active')""",
                self.service, FORGET_EXPIRED_SECONDS)
            rows = await conn.fetch(
                """with orphans as (
                     select l.call_id from call_leases l join calls c on c.id = l.call_id
                     where l.service = $1 and l.expires_at < now() and c.status = 'active'
                       and not ($4 and c.livekit_room is not null) and l.call_id <> all($6::uuid[])
                     order by l.expires_at limit $5
                     for update of l skip locked)
                   update call_leases l set holder = $2, expires_at = now() + make_interval(secs => $3)
                   from orphans o, calls c
                   where l.service = $1 and l.call_id = o.call_id and c.id = o.call_id
                   returning c.supervisor_id, c.agent_id, l.call_id""",
                self.service, self.holder, self.seconds, self.rooms_elsewhere, limit, following)
        return [CallRef(supervisor_id=r["supervisor_id"], agent_id=r["agent_id"], call_id=r["call_id"]) for r in rows]

    async def release(self, pool: asyncpg.Pool, call_id: UUID) -> None:
        """The call is over (or not live): nobody needs its lease."""
        await pool.execute("delete from call_leases where service = $1 and call_id = $2 and holder = $3",
                           self.service, call_id, self.holder)

    async def let_go(self, pool: asyncpg.Pool, call_ids: list[UUID] | None = None) -> None:
        """Expire these leases (all of ours when None) now: the next sweep of any instance takes them."""
        await pool.execute(
            """update call_leases set expires_at = now() where service = $1 and holder = $2
                 and ($3::uuid[] is null or call_id = any($3::uuid[]))""", self.service, self.holder, call_ids)


@dataclass
class _Followed:
    since: float  # time.monotonic() when this instance took the call
    over: asyncio.Event = field(default_factory=asyncio.Event)
    ended: bool = False  # the call is over (not merely no longer ours)
    task: asyncio.Task[None] | None = None


@dataclass
class CallOwnership(Generic[ServiceT]):
    """The calls one instance of a service owns: claimed from their ``call.started``, taken over from
    dead owners, each followed by its own consumer of ``calls`` (the service's per-call handlers, whose
    ``call.ended`` handler calls ``end``), with ``service`` as the handlers' context."""

    pool: asyncpg.Pool
    bus: Bus
    leases: Leases
    calls: Subscriber[ServiceT]
    service: ServiceT
    # Inheriting a dead owner's call (not a supervisor's take-over) reads its events again from the
    # start instead of resuming after the last one the dead owner acked: for a service that rebuilds
    # its state from them.
    replays_inherited_calls: bool = False
    _followed: dict[UUID, _Followed] = field(default_factory=dict)
    _last_renewed: float = field(default_factory=time.monotonic)

    def durable(self, call_id: UUID) -> str:
        return f"{self.leases.service}-call-{call_id}"

    def owns(self, call_id: UUID) -> bool:
        return call_id in self._followed

    async def claim(self, event: CallStarted) -> None:
        """A call started: ours to follow unless another live instance has it (or LiveKit does)."""
        if self.owns(event.call_id) or (self.leases.rooms_elsewhere and event.livekit_room is not None):
            return
        claim = await self.leases.take(self.pool, event.call_id)
        if claim is None:
            log.info("call owned by another instance", extra={"holder": str(self.leases.holder)})
            return
        await self._follow(CallRef(supervisor_id=event.supervisor_id, agent_id=event.agent_id,
                                   call_id=event.call_id), inherited=claim == "taken over")

    def end(self, call_id: UUID) -> None:
        """The call is over: stop following it once the event at hand is acked, then delete its
        consumer and lease."""
        if (followed := self._followed.get(call_id)) is not None:
            followed.ended = True
            followed.over.set()

    async def _follow(self, call: CallRef, inherited: bool) -> None:
        followed = _Followed(since=time.monotonic())
        self._followed[call.call_id] = followed
        try:
            opened = await self.service.open_call(call, inherited)
        except BaseException:
            # Free for whoever tries next (this call.started again, or a sweep), not held while nobody serves it.
            del self._followed[call.call_id]
            with contextlib.suppress(Exception):
                await asyncio.shield(self.leases.let_go(self.pool, [call.call_id]))
            raise
        if not opened:
            del self._followed[call.call_id]
            await self.leases.release(self.pool, call.call_id)
            return
        durable = self.durable(call.call_id)
        if inherited and self.replays_inherited_calls:
            with contextlib.suppress(NotFoundError):
                await self.bus.delete_consumer(durable)
        consumer = self.calls.consumer(
            self.bus, self.service, durable=durable, call=(call.supervisor_id, call.agent_id, call.call_id),
            forget_after_idle_seconds=CALL_CONSUMER_IDLE_SECONDS,
            # Only this instance reads the consumer; should it die, what it held comes back this soon.
            ack_wait_seconds=self.leases.seconds)
        followed.task = asyncio.create_task(self._serve(call.call_id, followed, consumer), name=durable)
        log.info("following the call (%s)", "taken over" if inherited else "new",
                 extra={"holder": str(self.leases.holder)})

    async def _serve(self, call_id: UUID, followed: _Followed, consumer: EventConsumer) -> None:
        with call_context(call_id):
            try:
                await consumer.run(followed.over)
            finally:
                self._followed.pop(call_id, None)
                await self.service.close_call(call_id)
                if followed.ended:
                    with contextlib.suppress(Exception):
                        await self.bus.delete_consumer(self.durable(call_id))
                    await self.leases.release(self.pool, call_id)

    async def keep(self, stop: asyncio.Event) -> None:
        """Renew our leases and take over orphans until ``stop``; then stop following our calls and
        free their leases for the other instances."""
        interval = renewal_interval(self.leases.seconds)
        tasks = [asyncio.create_task(self._every(interval, stop, self._renew)),
                 asyncio.create_task(self._every(interval, stop, self._take_orphans))]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.shield(self._stop_following())

    async def _every(self, interval: float, stop: asyncio.Event, work: Callable[[], Awaitable[None]]) -> None:
        while not stop.is_set():
            try:
                await work()
            except Exception as exc:  # the database is away: try again next round
                log.warning("%s failed (%s); retrying", work.__name__, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    async def _renew(self) -> None:
        started = time.monotonic()
        try:
            renewed = await self.leases.renew(self.pool)
        except Exception:
            if self._followed and time.monotonic() - self._last_renewed > self.leases.seconds:
                # Our leases have expired by now and another instance may have our calls: stop serving them.
                log.error("leases not renewed for %.0f s; letting %d call(s) go",
                          time.monotonic() - self._last_renewed, len(self._followed))
                for followed in self._followed.values():
                    followed.over.set()
            raise
        self._last_renewed = started
        since = {call_id: followed.since for call_id, followed in self._followed.items()}
        for call_id in lost_calls(since, renewed, started):
            with call_context(call_id):
                log.warning("another instance has taken the call over; letting it go")
            self._followed[call_id].over.set()

    async def _take_orphans(self) -> None:
        orphans = await self.leases.take_orphans(self.pool, list(self._followed))
        for call in orphans:
            with call_context(call.call_id):
                log.info("taking over a call whose owner stopped renewing its lease")
        results = await asyncio.gather(*(self._follow(call, inherited=True) for call in orphans),
                                       return_exceptions=True)
        for call, result in zip(orphans, results, strict=True):
            if isinstance(result, Exception):
                with call_context(call.call_id):
                    log.error("could not take the call over (%s); another round will try", result)

    async def _stop_following(self) -> None:
        tasks = [followed.task for followed in self._followed.values() if followed.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.leases.let_go(self.pool)
