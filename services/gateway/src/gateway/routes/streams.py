"""Live streams (SSE): an agent's events, a supervisor's notifications, the admin's cards."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from contracts.analytics import LiveCounters, SentimentScore
from contracts.calls import AgentStatusChanged, CallEnded, CallQueued, CallStarted, CallTakenOver
from contracts.envelope import utc_now
from contracts.results import ArchiveSaved, NotificationCreated
from contracts.subjects import agent_filter, supervisor_topic_filter, topic_filter
from contracts.tools import ToolPermissionRequest
from gateway.auth import active_principal, unauthorized
from gateway.deps import AuthDep, DocumentedRoute, ServicePool, SettingsDep, bearer_token
from gateway.errors import ApiError, not_found, refusals
from gateway.fanout import bus_events, parse_last_event_id
from gateway.queries import agents
from gateway.tokens import STREAM_AUDIENCE, InvalidToken, Principal, verify_token

router = APIRouter(prefix="/api/stream", tags=["streams"], route_class=DocumentedRoute)

# What each stream carries, by topic (tool.permission: the requests and their decisions; call.handled: take-overs
# and hand-backs, for the admin's list of calls taken over).
SUPERVISOR_TOPICS = tuple(event.topic for event in (NotificationCreated, ToolPermissionRequest, AgentStatusChanged,
                                                    CallQueued, CallStarted, CallEnded, LiveCounters))
ADMIN_TOPICS = tuple(event.topic for event in (AgentStatusChanged, CallQueued, CallStarted, CallEnded, CallTakenOver,
                                               SentimentScore, ArchiveSaved, LiveCounters))

StreamToken = Annotated[str | None, Query(description="A token from POST /api/stream-token (EventSource "
                                                      "cannot send an Authorization header)")]
LastEventIdHeader = Annotated[str | None, Header(alias="Last-Event-ID")]
LastEventIdQuery = Annotated[str | None, Query(alias="last_event_id", description="Resume after this event id")]


async def stream_viewer(request: Request, auth: AuthDep, settings: SettingsDep, pool: ServicePool,
                        token: StreamToken = None) -> Principal:
    """Who opens the stream: a stream token (EventSource sends no headers), else the bearer token."""
    if token is None:
        return await auth.verify(bearer_token(request))
    try:
        principal = verify_token(token, settings.jwt_secret, utc_now(), audience=STREAM_AUDIENCE)
    except InvalidToken as exc:
        raise unauthorized(f"stream token refused ({exc}); get a new one from POST /api/stream-token") from exc
    return await active_principal(pool, principal)


StreamViewer = Annotated[Principal, Depends(stream_viewer)]


def resume_point(header: str | None, query: str | None) -> int | None:
    try:
        return parse_last_event_id(header, query)
    except ValueError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from exc


def event_stream(request: Request, filters: list[str], last_event_id: int | None, slot_key: str,
                 limit: int | None, kind: str, since: datetime | None = None,
                 while_open: Callable[[], AbstractAsyncContextManager[None]] | None = None) -> EventSourceResponse:
    """The SSE response for these subjects; ``while_open`` is entered for as long as the viewer stays."""
    state = request.app.state
    slots = state.stream_slots
    if limit is not None and slots.open[slot_key] >= limit:
        raise ApiError(429, "too_many_streams",
                       f"you already have {limit} {kind} streams open, the most allowed; close one first",
                       headers={"Retry-After": "5"})

    async def events() -> AsyncIterator[ServerSentEvent]:
        with slots.hold(slot_key, limit) as admitted:
            if not admitted:  # lost a race for the last slot since the check above
                return
            state.metrics.sse_connections.labels(kind).inc()
            try:
                async with while_open() if while_open else contextlib.nullcontext():
                    async for event in bus_events(state.bus, filters, last_event_id, since):
                        yield event
            finally:
                state.metrics.sse_connections.labels(kind).dec()

    return EventSourceResponse(events(), ping=state.settings.sse_ping_seconds,
                               headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.get("/agents/{agent_id}", responses=refusals(401, 403),
            summary="One agent: status, transcript, sentiment, satisfaction, tool requests, "
                    "whisper acknowledgements")
async def agent_stream(agent_id: UUID, request: Request, viewer: StreamViewer, pool: ServicePool,
                       settings: SettingsDep, last_event_id_header: LastEventIdHeader = None,
                       last_event_id: LastEventIdQuery = None) -> EventSourceResponse:
    resume = resume_point(last_event_id_header, last_event_id)
    owner = await agents.owner(pool, agent_id)
    if owner is None:
        raise not_found("agent")
    if not viewer.is_admin and owner != viewer.user_id:
        raise ApiError(403, "forbidden", "this agent belongs to another supervisor")
    # One stream per agent card: at least the configured number, more for a supervisor an admin allowed
    # more agents.
    limit = None if viewer.is_admin else max(settings.max_streams_per_supervisor,
                                             await agents.max_agents(pool, viewer.user_id))
    return event_stream(request, [agent_filter(owner, agent_id)], resume, f"agent:{viewer.user_id}", limit, "agent")


@router.get("/supervisor", responses=refusals(401, 403),
            summary="Notifications and call activity for all of a supervisor's agents")
async def supervisor_stream(request: Request, viewer: StreamViewer, settings: SettingsDep,
                            supervisor_id: UUID | None = None, last_event_id_header: LastEventIdHeader = None,
                            last_event_id: LastEventIdQuery = None) -> EventSourceResponse:
    resume = resume_point(last_event_id_header, last_event_id)
    if viewer.is_admin:
        if supervisor_id is None:
            raise ApiError(422, "invalid_request", "an admin must name the supervisor: ?supervisor_id=")
    elif supervisor_id not in (None, viewer.user_id):
        raise ApiError(403, "forbidden", "you can only follow your own notifications")
    watched = supervisor_id or viewer.user_id
    filters = [supervisor_topic_filter(topic, watched) for topic in SUPERVISOR_TOPICS]
    return event_stream(request, filters, resume, f"supervisor:{viewer.user_id}", settings.max_streams_per_supervisor,
                        "supervisor")


@router.get("/admin", responses=refusals(401, 403), summary="Every supervisor's cards, live")
async def admin_stream(request: Request, viewer: StreamViewer, settings: SettingsDep,
                       last_event_id_header: LastEventIdHeader = None,
                       last_event_id: LastEventIdQuery = None) -> EventSourceResponse:
    if not viewer.is_admin:
        raise ApiError(403, "forbidden", "only an admin may follow every supervisor")
    resume = resume_point(last_event_id_header, last_event_id)
    filters = [topic_filter(topic) for topic in ADMIN_TOPICS]
    return event_stream(request, filters, resume, f"admin:{viewer.user_id}", settings.max_streams_per_supervisor,
                        "admin")
