"""Handlers declared per event type: the one way a service takes events from the bus.

A service declares ``subscriber = Subscriber[Context]("service")`` at module level and decorates one
function per event type (``@subscriber.handles(CallStarted)``); each takes the service's context
object and the typed event. From the declarations come the consumer's filter subjects and the types
it accepts (anything else on those subjects is dead-lettered by EventConsumer), and the topic table's
consumers column is checked against them (tests/contracts), so "who handles X" is one grep for
``handles(X``. In the spirit of FastStream's typed subscribers, on our own bus runtime.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Generic, TypeVar
from uuid import UUID

from contracts.bus import Bus, EventConsumer
from contracts.envelope import Envelope
from contracts.subjects import subject_for, topic_filter

ContextT = TypeVar("ContextT")
Handler = Callable[[Any, Any], Awaitable[None]]
HandlerT = TypeVar("HandlerT", bound=Handler)

# Every subscriber declared in this process, by service: what the topic table is checked against.
DECLARED: list[Subscriber[Any]] = []


class Subscriber(Generic[ContextT]):
    def __init__(self, service: str) -> None:
        self.service = service
        self._handlers: dict[type[Envelope], Handler | None] = {}
        DECLARED.append(self)

    def handles(self, *event_types: type[Envelope]) -> Callable[[HandlerT], HandlerT]:
        """Register the decorated ``async def handler(context, event)`` for these event types."""
        def register(handler: HandlerT) -> HandlerT:
            self._add(event_types, handler)
            return handler
        return register

    def ignores(self, *event_types: type[Envelope]) -> None:
        """Accept these without handling them: they share a subject with events we do handle (the
        agent-worker's own tool request travels with the decisions it waits for)."""
        self._add(event_types, None)

    def _add(self, event_types: tuple[type[Envelope], ...], handler: Handler | None) -> None:
        for event_type in event_types:
            if event_type in self._handlers:
                raise ValueError(f"{self.service} declares {event_type.__name__} twice")
            self._handlers[event_type] = handler

    @property
    def accepts(self) -> tuple[type[Envelope], ...]:
        return tuple(self._handlers)

    @property
    def handled(self) -> tuple[type[Envelope], ...]:
        return tuple(event_type for event_type, handler in self._handlers.items() if handler is not None)

    @property
    def topics(self) -> list[str]:
        return sorted({event_type.topic for event_type in self._handlers})

    async def dispatch(self, context: ContextT, event: Envelope) -> None:
        handler = self._handlers[type(event)]
        if handler is not None:
            await handler(context, event)

    def consumer(self, bus: Bus, context: ContextT, *, durable: str | None = None,
                 call: tuple[UUID, UUID, UUID] | None = None, **options: Any) -> EventConsumer:
        """A durable consumer of every declared topic (of one call's subjects, when ``call`` gives
        its supervisor, agent and call ids), dispatching to the declared handlers."""
        filters = [topic_filter(topic) if call is None else subject_for(topic, *call) for topic in self.topics]
        return EventConsumer(bus, durable or self.service, filters, partial(self.dispatch, context),
                             accepts=self.accepts, **options)
