"""The NATS JetStream runtime every service uses: publish validated events, consume them durably.

We use nats-py directly rather than a framework: the platform depends on explicit control of
acks, redelivery back-off, dead-lettering with a reason, consumers with several filter subjects
and replay from a stream sequence (the gateway's Last-Event-ID), all of which are first-class here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import nats.aio.subscription
import nats.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import APIError, NotFoundError
from pydantic import ValidationError

from contracts.deadletter import DeadLetter
from contracts.envelope import Envelope, utc_now
from contracts.logs import call_context
from contracts.metrics import EVENTS, HANDLER_SECONDS
from contracts.registry import decode_event, stream_subjects
from contracts.subjects import (
    CALLS_STREAM,
    DEADLETTER_PREFIX,
    DEADLETTER_STREAM,
    call_token,
    deadletter_subject,
    replay_filter,
    replay_subject,
)

log = logging.getLogger("contracts.bus")

DAY = 24 * 3600.0
CALLS_RETENTION_SECONDS = 7 * DAY
DEADLETTER_RETENTION_SECONDS = 30 * DAY
DUPLICATE_WINDOW_SECONDS = 120.0
# Every browser stream reads the CALLS stream through a consumer of its own. nats-server 2.15 gives a
# stream 1000 consumers unless it says otherwise (and takes no "unlimited"): 500 watched calls, each
# with its customer's and its supervisor's view, went past it.
CALLS_MAX_CONSUMERS = 100_000

# A dead letter carries at most this much of the message: a message near the bus's largest, escaped into
# the letter's JSON, would not fit in one, and a consumer that cannot dead-letter cannot move on.
DEAD_LETTER_PAYLOAD_CHARS = 64 * 1024

Handler = Callable[[Any], Awaitable[None]]


@dataclass
class Bus:
    service: str
    nc: NatsClient
    js: JetStreamContext
    # Told of every reconnection: a server that restarted has forgotten the pull requests they left
    # open on it, so they ask again at once instead of when theirs would have expired.
    feeds: weakref.WeakSet[ConsumerFeed] = field(default_factory=weakref.WeakSet)

    def on_reconnect(self) -> None:
        for feed in list(self.feeds):
            feed.ask_again()

    async def publish(self, event: Envelope) -> int:
        """Publish one event; returns its stream sequence. The event id doubles as JetStream's
        message id, so a retried publish inside the duplicate window is stored once."""
        ack = await self.js.publish(
            event.subject, event.model_dump_json().encode(), headers={"Nats-Msg-Id": str(event.event_id)}
        )
        return ack.seq

    async def signal(self, event: Envelope) -> None:
        """Send a live signal (a topic the registry marks not stored): straight to whoever listens now,
        kept nowhere."""
        await self.nc.publish(event.subject, event.model_dump_json().encode())

    @property
    def connected(self) -> bool:
        return self.nc.is_connected

    @contextlib.asynccontextmanager
    async def listen(self, *subjects: str) -> AsyncIterator[AsyncIterator[Envelope]]:
        """The events published on ``subjects`` from now on while the block lasts, straight off the wire
        (no stream, no replay, no ack): for waiting on an answer, or a nudge to look again. A message
        that is not a valid event is skipped (its durable consumers dead-letter it)."""
        subscriptions = [await self.nc.subscribe(subject) for subject in subjects]
        queue: asyncio.Queue[Msg] = asyncio.Queue()

        async def pump(subscription: nats.aio.subscription.Subscription) -> None:
            async for message in subscription.messages:
                queue.put_nowait(message)

        async def events() -> AsyncIterator[Envelope]:
            while True:
                message = await queue.get()
                try:
                    yield decode_event(message.data)
                except (ValidationError, ValueError):
                    log.warning("invalid event on %s ignored by a listener", message.subject)

        pumps = [asyncio.create_task(pump(subscription)) for subscription in subscriptions]
        try:
            yield events()
        finally:
            for task in pumps:
                task.cancel()
            for subscription in subscriptions:
                with contextlib.suppress(Exception):
                    await subscription.unsubscribe()

    @contextlib.asynccontextmanager
    async def tail(self, filter_subjects: list[str], *, after: int | None = None,
                   since: datetime | None = None) -> AsyncIterator[Tail]:
        """Read the CALLS stream for these subjects through a consumer of our own: from just after
        stream sequence ``after``; else from ``since``; else from now. The consumer goes when the block
        ends (or, should this process die, once idle for ``TAIL_IDLE_SECONDS``)."""
        config = tail_config(filter_subjects, after, since)
        feed: ConsumerFeed | None = None
        try:
            # Inside the try: a reader who leaves while the consumer is being created must not leak it.
            info = await self.js.add_consumer(CALLS_STREAM, config)
            feed = await ConsumerFeed.open(self, config.name, batch=TAIL_BATCH, expires_seconds=TAIL_ASK_SECONDS)
            yield Tail(feed, info.delivered.stream_seq)
        finally:
            # At once rather than after the idle threshold; shielded so the cancellation that ended the
            # reader does not also cancel its clean-up.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._release(config.name, feed))

    async def _release(self, consumer: str, feed: ConsumerFeed | None) -> None:
        if feed is not None:
            with contextlib.suppress(Exception):
                await feed.close()
        await self.delete_consumer(consumer)

    async def delete_consumer(self, name: str) -> None:
        await self.js.delete_consumer(CALLS_STREAM, name)

    async def consumer_lag(self) -> list[ConsumerLag]:
        """How far each durable consumer of the CALLS stream lags, a call's own consumers summed by
        family (consumer_family): for the metrics endpoint."""
        lag: dict[str, ConsumerLag] = {}
        for info in await self.js.consumers_info(CALLS_STREAM):
            if info.config.durable_name:
                family = consumer_family(info.name)
                before = lag.get(family, ConsumerLag(family, 0, 0))
                lag[family] = ConsumerLag(family, before.pending + (info.num_pending or 0),
                                          before.unacked + (info.num_ack_pending or 0))
        return list(lag.values())

    async def close(self) -> None:
        if not self.nc.is_closed:
            await self.nc.drain()


# A reader's consumer whose process died is removed by the server after this long without a pull request.
TAIL_IDLE_SECONDS = 90.0
# A reader's open pull request: how many events it may bring, and for how long (well within the idle
# threshold above, so a live reader's consumer is never taken for a dead one's).
TAIL_BATCH = 256
TAIL_ASK_SECONDS = 30.0


CALL_ID_SUFFIX = re.compile(r"-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def consumer_family(durable: str) -> str:
    """A durable consumer's name for metrics: a call's own consumer (named after the call) by the
    family it belongs to, as every call has one and a label per call would grow without end."""
    return CALL_ID_SUFFIX.sub("", durable)


@dataclass(frozen=True)
class ConsumerLag:
    consumer: str
    pending: int
    unacked: int


class ConsumerGone(RuntimeError):
    """The consumer a feed reads no longer exists (deleted, or lost with a restarted server)."""


# Statuses nats-server answers a pull request with (none of them a message): the request is over.
REQUEST_OVER = {"404", "408", "409"}
# ... and the ones that say there is nothing left to ask: no consumer (503: no responders).
CONSUMER_GONE = {"503"}
ASK_GRACE_SECONDS = 1.0


class ConsumerFeed:
    """The messages of one pull consumer as they are published: one pull request kept open, asking for
    ``batch`` messages for ``expires_seconds``, and asked again once answered in full or over.

    nats-py's ``fetch`` sends two requests for every batch it returns (a probe that gets a "no
    messages" status back, then one that waits), so a consumer that takes events one at a time, as a
    live call's do, cost nats-server and the client three more messages for each event; on the 100-call
    load run the bus carries a third fewer messages. Nothing here waits in a task of its own: an arriving
    message wakes the one reader."""

    def __init__(self, bus: Bus, consumer: str, batch: int, expires_seconds: float) -> None:
        self.bus = bus
        self.batch = batch
        self.expires_seconds = expires_seconds
        self._ask_subject = f"$JS.API.CONSUMER.MSG.NEXT.{CALLS_STREAM}.{consumer}"
        self._inbox = bus.nc.new_inbox()
        self._subscription: nats.aio.subscription.Subscription | None = None
        self._arrived: deque[Msg] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._woken = False
        self._may_bring = 0  # messages the open request may still bring
        self._asked_until = 0.0  # the loop time at which the open request expires

    @classmethod
    async def open(cls, bus: Bus, consumer: str, *, batch: int, expires_seconds: float) -> ConsumerFeed:
        feed = cls(bus, consumer, batch, expires_seconds)
        feed._subscription = await bus.nc.subscribe(feed._inbox, cb=feed._arrive)
        bus.feeds.add(feed)
        return feed

    async def _arrive(self, message: Msg) -> None:
        self._arrived.append(message)
        self._wake_reader()

    def _wake_reader(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def wake(self) -> None:
        """The reader waiting in ``next_batch`` returns now (with what has come, maybe nothing)."""
        self._woken = True
        self._wake_reader()

    def ask_again(self) -> None:
        """The open request is lost (the bus reconnected): ask anew at once."""
        self._may_bring = 0
        self.wake()

    async def next_batch(self, wait_seconds: float, limit: int) -> list[Msg]:
        """At most ``limit`` messages: those that have come, else the first to come within
        ``wait_seconds`` with any that came with it; none after the wait or when woken. Raises
        ConsumerGone when the consumer no longer exists."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while True:
            await self._ask_when_due(loop.time())
            messages = self._take(limit)
            if messages or self._woken:
                self._woken = False
                return messages
            now = loop.time()
            if now >= deadline:
                return []
            await self._wait(min(deadline, self._asked_until) - now)

    async def _ask_when_due(self, now: float) -> None:
        if self._may_bring > 0 and now < self._asked_until:
            return
        self._may_bring = self.batch
        # A little after the server's expiry: its "request timeout" normally comes first and says so.
        self._asked_until = now + self.expires_seconds + ASK_GRACE_SECONDS
        request = {"batch": self.batch, "expires": int(self.expires_seconds * 1e9)}
        await self.bus.nc.publish(self._ask_subject, json.dumps(request).encode(), reply=self._inbox)

    def _take(self, limit: int) -> list[Msg]:
        messages: list[Msg] = []
        while self._arrived and len(messages) < limit:
            message = self._arrived.popleft()
            status = JetStreamContext.is_status_msg(message)
            description = (message.headers or {}).get("Description", "")
            if status in CONSUMER_GONE or (status == "409" and "deleted" in description.lower()):
                raise ConsumerGone(f"the pull request was answered {status} {description}".strip())
            if status in REQUEST_OVER:
                self._may_bring = 0
            elif status is None:
                self._may_bring -= 1
                messages.append(message)
        return messages

    async def _wait(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        timer = loop.call_later(max(seconds, 0.0), self._wake_reader)
        try:
            await self._waiter
        finally:
            timer.cancel()
            self._waiter = None

    async def close(self, unfinished: Sequence[Msg] | None = None) -> None:
        """Stop reading. ``unfinished``: messages of a shared consumer taken and not handled, handed
        back with those that came and were not taken, so another reader gets them at once rather than
        after the ack wait; only once this reader's interest is withdrawn, or the server would hand them
        straight back to its open request."""
        self.bus.feeds.discard(self)
        if self._subscription is not None:
            await self._subscription.unsubscribe()
        came = [m for m in self._arrived if JetStreamContext.is_status_msg(m) is None]
        self._arrived.clear()
        if unfinished is not None:
            await asyncio.gather(*(m.nak() for m in [*unfinished, *came]), return_exceptions=True)


@dataclass
class Tail:
    feed: ConsumerFeed
    # The stream's last sequence when the reader started: a client reading "from now" resumes after it.
    start_sequence: int

    async def next_batch(self, wait_seconds: float, limit: int = 100) -> list[tuple[int, Envelope]]:
        """The next events with their stream sequence; empty when none came within ``wait_seconds``. A
        message that is not a valid event is left out (its durable consumers dead-letter it)."""
        events = []
        for message in await self.feed.next_batch(wait_seconds, limit):
            try:
                events.append((message.metadata.sequence.stream, decode_event(message.data)))
            except ValidationError:
                log.error("invalid event on %s not passed to a reader", message.subject)
        return events


def tail_config(filter_subjects: list[str], after: int | None, since: datetime | None) -> ConsumerConfig:
    if after is not None:
        policy = DeliverPolicy.BY_START_SEQUENCE
    else:
        policy = DeliverPolicy.NEW if since is None else DeliverPolicy.BY_START_TIME
    return ConsumerConfig(
        name=f"tail-{uuid4().hex}",
        filter_subjects=filter_subjects,
        ack_policy=AckPolicy.NONE,
        deliver_policy=policy,
        opt_start_seq=(after + 1) if after is not None else None,
        opt_start_time=since.isoformat() if policy == DeliverPolicy.BY_START_TIME and since else None,
        inactive_threshold=TAIL_IDLE_SECONDS,
        mem_storage=True,
        num_replicas=1,
    )


async def connect_bus(url: str, service: str, *, connect_timeout: float = 5.0) -> Bus:
    """Connect and keep reconnecting forever: a NATS restart must not take a service down."""

    async def on_error(exc: Exception) -> None:
        log.warning("nats error: %s", exc)

    async def on_disconnect() -> None:
        if not (nc.is_closed or nc.is_draining):
            log.warning("disconnected from nats; reconnecting")

    async def on_reconnect() -> None:
        log.info("reconnected to nats")
        bus.on_reconnect()

    nc = NatsClient()
    await nc.connect(
        url,
        name=service,
        connect_timeout=connect_timeout,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        allow_reconnect=True,
        error_cb=on_error,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
    )
    bus = Bus(service=service, nc=nc, js=nc.jetstream())
    return bus


def stream_configs(replicas: int = 1) -> list[StreamConfig]:
    return [
        StreamConfig(
            name=CALLS_STREAM,
            description="Every call event, in one sequence so a client can resume from one id.",
            subjects=[*stream_subjects(), replay_filter("*")],
            storage=StorageType.FILE,
            max_consumers=CALLS_MAX_CONSUMERS,
            num_replicas=replicas,
            max_age=CALLS_RETENTION_SECONDS,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
        ),
        StreamConfig(
            name=DEADLETTER_STREAM,
            description="Messages a consumer could not use, with the reason.",
            subjects=[f"{DEADLETTER_PREFIX}.>"],
            storage=StorageType.FILE,
            max_age=DEADLETTER_RETENTION_SECONDS,
            num_replicas=replicas,
        ),
    ]


async def ensure_streams(bus: Bus, replicas: int = 1) -> None:
    """Create the streams, or bring an existing one's configuration up to date (``replicas``: copies
    each stream keeps, on a NATS cluster)."""
    for config in stream_configs(replicas):
        try:
            await bus.js.stream_info(config.name)
        except NotFoundError:
            await bus.js.add_stream(config)
        else:
            await bus.js.update_stream(config)


class SeenEvents:
    """Event ids already handled by this process, bounded; catches JetStream redeliveries."""

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[UUID, None] = OrderedDict()

    def __contains__(self, event_id: UUID) -> bool:
        return event_id in self._ids

    def add(self, event_id: UUID) -> None:
        self._ids[event_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)


@dataclass
class EventConsumer:
    """A durable pull consumer on the CALLS stream that hands typed events to ``handler``.

    - malformed message (bad JSON, failed validation, subject that does not match the body,
      an event type this consumer does not take): dead-lettered with the reason, then acked;
    - handler raises: redelivered with back-off, dead-lettered after ``max_deliver`` attempts;
    - an event id seen before: acked without calling the handler again.
    """

    bus: Bus
    durable: str
    filter_subjects: list[str]
    handler: Handler
    accepts: tuple[type[Envelope], ...]
    max_deliver: int = 5
    # Bounds how long a message caught in flight by a stopping instance waits before redelivery.
    ack_wait_seconds: float = 10.0
    batch: int = 64
    seen: SeenEvents = field(default_factory=SeenEvents)
    retry_delays: tuple[float, ...] = (0.5, 2.0, 5.0, 15.0)
    # For consumers that live as long as one call: the server deletes them once idle this long, and keeps
    # their state (what was delivered and acked) in memory. On file, every call's consumers cost a
    # directory and files when made and an atomic file write after acks: profiled under load, 63% of
    # nats-server's CPU. What memory loses, with a restart of the server, costs one replay: the reader
    # makes the consumer again, from the call's first event, and skips the events it has seen.
    forget_after_idle_seconds: float | None = None
    # How long one pull request stays open. Every live call has a consumer in the agent-worker and one in
    # sentiment, so a short one costs messages and CPU per idle call (at 500 calls and 1 s: a tenth of a
    # core in each service; at 10 s, a fifth of the bus's messages in calls of two minutes, measured);
    # stopping and reconnecting cut the wait short, a deleted consumer is told at once.
    ask_seconds: float = 30.0

    def __post_init__(self) -> None:
        self.metrics_label = consumer_family(self.durable)

    async def _subscribe(self) -> ConsumerFeed:
        config = ConsumerConfig(
            durable_name=self.durable,
            filter_subjects=[*self.filter_subjects, replay_filter(self.durable)],
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait_seconds,
            # Redelivery is bounded by us (to dead-letter with a reason), not by the server.
            max_deliver=-1,
            inactive_threshold=self.forget_after_idle_seconds,
            mem_storage=True if self.forget_after_idle_seconds is not None else None,
        )
        # Created, or brought up to date: a consumer made by an earlier release keeps its position but
        # takes today's filters (pull_subscribe alone would bind to it as it was).
        try:
            await self.bus.js.add_consumer(CALLS_STREAM, config)
        except APIError as exc:
            if isinstance(exc, NotFoundError) or not await self._exists():
                raise
            # A setting the server cannot change in place: better to go on with the consumer as it is.
            log.error("durable consumer %s cannot take today's settings (%s); using it as it is",
                      self.durable, exc.description)
        return await ConsumerFeed.open(self.bus, self.durable, batch=self.batch, expires_seconds=self.ask_seconds)

    async def _exists(self) -> bool:
        try:
            await self.bus.js.consumer_info(CALLS_STREAM, self.durable)
        except NotFoundError:
            return False
        return True

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        feed: ConsumerFeed | None = None

        async def wake_when_stopped() -> None:
            await stop.wait()
            if feed is not None:
                feed.wake()

        waker = asyncio.create_task(wake_when_stopped())
        unfinished: dict[int, Msg] = {}  # of the batch in hand, by its place: handed back if stopped
        try:
            while not stop.is_set():
                try:
                    if feed is None:
                        feed = await self._subscribe()
                    messages = await feed.next_batch(self.ask_seconds, self.batch)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the bus is down or restarting, or the consumer went: keep trying
                    log.warning("consumer %s cannot fetch (%s); retrying", self.durable, exc)
                    if feed is not None:
                        with contextlib.suppress(Exception):
                            await feed.close()
                    feed = None
                    await asyncio.sleep(0.5)
                    continue
                await self._process_batch(messages, unfinished)
        finally:
            waker.cancel()
            # Withdraw interest at once and hand back what was not finished: another instance of this
            # consumer (or this one restarted) gets it now rather than after ack_wait.
            if feed is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(feed.close(list(unfinished.values())))

    async def _process_batch(self, messages: list[Msg], unfinished: dict[int, Msg]) -> None:
        """Each call's messages in order, different calls' side by side: one call's slow handler (an
        agent's session being built, a database round trip) does not hold up every other call.
        ``unfinished`` holds the messages not yet handled, for ``run`` to hand back if stopped."""
        unfinished.update(enumerate(messages))

        async def in_order(indexes: list[int]) -> None:
            for index in indexes:
                await self.process(messages[index])
                del unfinished[index]

        by_call: dict[str, list[int]] = {}
        for index, message in enumerate(messages):
            by_call.setdefault(call_token(self._original_subject(message.subject)), []).append(index)
        await asyncio.gather(*(in_order(indexes) for indexes in by_call.values()))

    async def process(self, message: Msg) -> None:
        try:
            event = decode_event(message.data)
        except (ValidationError, ValueError) as exc:
            await self._dead_letter(message, f"invalid event: {_short(exc)}")
            return
        if event.subject != self._original_subject(message.subject):
            await self._dead_letter(message, f"subject does not match body (body says {event.subject})")
            return
        if not isinstance(event, self.accepts):
            await self._dead_letter(message, f"{self.durable} does not accept {event.type}")
            return
        if event.event_id in self.seen:
            EVENTS.labels(self.metrics_label, event.type, "duplicate").inc()
            await message.ack()
            return
        with call_context(event.call_id):
            started = time.perf_counter()
            try:
                await self.handler(event)
            except Exception as exc:
                deliveries = message.metadata.num_delivered
                if deliveries >= self.max_deliver:
                    log.exception("handler failed %d times; dead-lettering %s", deliveries, event.event_id)
                    await self._dead_letter(message, f"handler failed {deliveries} times: {_short(exc)}")
                    return
                delay = self.retry_delays[min(deliveries - 1, len(self.retry_delays) - 1)]
                log.warning("handler failed (%s); retry %d in %.1fs", _short(exc), deliveries, delay)
                EVENTS.labels(self.metrics_label, event.type, "retried").inc()
                await message.nak(delay=delay)
                return
            finally:
                HANDLER_SECONDS.labels(self.metrics_label, event.type).observe(time.perf_counter() - started)
        EVENTS.labels(self.metrics_label, event.type, "handled").inc()
        self.seen.add(event.event_id)
        await message.ack()

    def _original_subject(self, subject: str) -> str:
        """The subject a message was first published on (a replayed one carries it after a prefix)."""
        return subject.removeprefix(replay_subject(self.durable, ""))

    async def _dead_letter(self, message: Msg, reason: str) -> None:
        payload = message.data.decode("utf-8", errors="replace")
        if len(payload) > DEAD_LETTER_PAYLOAD_CHARS:
            reason += f" (the letter keeps the first {DEAD_LETTER_PAYLOAD_CHARS} characters of {len(payload)})"
            payload = payload[:DEAD_LETTER_PAYLOAD_CHARS]
        letter = DeadLetter(
            consumer=self.durable,
            original_subject=self._original_subject(message.subject),
            reason=reason,
            payload=payload,
            deliveries=message.metadata.num_delivered,
            received_at=utc_now(),
        )
        log.error("dead-lettered message on %s: %s", message.subject, reason,
                  extra={"consumer": self.durable})
        EVENTS.labels(self.metrics_label, "unknown", "dead_lettered").inc()
        await self.bus.js.publish(deadletter_subject(self.durable), letter.model_dump_json().encode())
        await message.ack()


@dataclass(frozen=True)
class DeadLetters:
    """What the DEADLETTER stream holds: counts per consumer, and the newest letters with their
    stream sequence."""

    by_consumer: dict[str, int]
    newest: list[tuple[int, DeadLetter]]


async def read_dead_letters(bus: Bus, limit: int, consumer: str | None = None,
                            scan: int = 5000) -> DeadLetters:
    """The newest ``limit`` letters (of ``consumer``, when given), looking back at most ``scan``
    messages: for operators, who otherwise need the nats CLI."""
    js = bus.js
    info = await js.stream_info(DEADLETTER_STREAM, subjects_filter=f"{DEADLETTER_PREFIX}.>")
    by_consumer = {subject.removeprefix(f"{DEADLETTER_PREFIX}."): count
                   for subject, count in (info.state.subjects or {}).items()}
    wanted = deadletter_subject(consumer) if consumer else None
    newest: list[tuple[int, DeadLetter]] = []
    sequence = info.state.last_seq
    while sequence >= max(info.state.first_seq, 1) and len(newest) < limit and info.state.last_seq - sequence < scan:
        try:
            message = await js.get_msg(DEADLETTER_STREAM, seq=sequence)
        except NotFoundError:  # removed (retention) between the stream info and now
            message = None
        if message is not None and (wanted is None or message.subject == wanted) and message.data:
            with contextlib.suppress(ValidationError):
                newest.append((sequence, DeadLetter.model_validate_json(message.data)))
        sequence -= 1
    return DeadLetters(by_consumer, newest)


class NotReplayable(ValueError):
    """A dead letter that cannot be sent again as it is (still not a valid event)."""


class NoSuchDeadLetter(NotReplayable):
    """No dead letter at that sequence (never was, or past the stream's retention)."""


async def replay_dead_letter(bus: Bus, sequence: int) -> tuple[DeadLetter, Envelope]:
    """Send dead letter ``sequence`` again to the consumer that gave up on it, and to no other: for
    after the cause is mended (a database that was away, a fixed handler). The consumer's usual
    guards (event-id dedupe, exactly-once claims) keep a second replay harmless."""
    try:
        message = await bus.js.get_msg(DEADLETTER_STREAM, seq=sequence)
        letter = DeadLetter.model_validate_json(message.data or b"")
    except (NotFoundError, ValidationError) as exc:
        raise NoSuchDeadLetter(f"there is no dead letter {sequence}") from exc
    try:
        event = decode_event(letter.payload)
    except (ValidationError, ValueError) as exc:
        raise NotReplayable(f"the message is still not a valid event: {_short(exc, 300)}") from exc
    if event.subject != letter.original_subject:
        raise NotReplayable(f"the message's body belongs on {event.subject}, not {letter.original_subject}")
    await bus.js.publish(replay_subject(letter.consumer, letter.original_subject), letter.payload.encode())
    return letter, event


def _short(exc: Exception, limit: int = 500) -> str:
    text = str(exc).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"

