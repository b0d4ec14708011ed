"""The customer's side of a call (the mock dialer), which needs no account: dialling returns a call
token that opens that one call, to write in it, follow it and hang up."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial
from typing import Annotated
from uuid import UUID, uuid4

import asyncpg
from fastapi import APIRouter, Query, Request
from sse_starlette import EventSourceResponse

from contracts.bus import Bus
from contracts.calls import (
    CallEnded,
    CallHangup,
    CallQueued,
    CallRef,
    CallRequested,
    CallStarted,
    CallTakenOver,
    CustomerMessage,
    CustomerPresence,
    Party,
)
from contracts.envelope import Envelope, utc_now
from contracts.subjects import call_filter, subject_for
from contracts.transcripts import TranscriptChunk
from gateway.auth import unauthorized
from gateway.deps import BusDep, DocumentedRoute, ServicePool, SettingsDep, bearer_token, rate_limit
from gateway.errors import ApiError, not_found, refusals
from gateway.queries import calls as queries
from gateway.rooms import customer_join
from gateway.routes.streams import LastEventIdHeader, LastEventIdQuery, event_stream, resume_point
from gateway.schemas import Accepted, CallAgent, CallIn, CallOut, DirectoryEntry, MessageIn
from gateway.tokens import InvalidToken, issue_call_token, verify_call_token

router = APIRouter(prefix="/api/calls", tags=["calls"], route_class=DocumentedRoute)
directory_router = APIRouter(prefix="/api/directory", tags=["calls"], route_class=DocumentedRoute)

# What the customer sees of their call: never tool requests, whispers or scores; who handles it (the
# agent, or a person who took it over).
CUSTOMER_TOPICS = (CallQueued.topic, CallStarted.topic, CallEnded.topic, TranscriptChunk.topic, CallTakenOver.topic)
CUSTOMER_STREAMS_PER_CALL = 3
# The router's first word on a dial, which the dialling customer waits for.
DIAL_ANSWERS = (CallStarted, CallQueued, CallEnded)

CallTokenQuery = Annotated[str | None, Query(alias="token", description="The call token (EventSource cannot "
                                                                         "send headers)")]


@directory_router.get("", response_model=list[DirectoryEntry],
                      summary="The numbers a customer can dial (the mock dialer lists them; no account)")
async def directory(pool: ServicePool) -> list[DirectoryEntry]:
    return await queries.directory(pool)


async def answer(bus: Bus, request: CallRequested, within_seconds: float) -> Envelope | None:
    """Publish the request and wait for the router's first word on it: started, queued or ended."""
    async with bus.listen(call_filter(request.supervisor_id, request.agent_id, request.call_id)) as events:
        await bus.publish(request)
        try:
            async with asyncio.timeout(within_seconds):
                async for event in events:
                    if isinstance(event, DIAL_ANSWERS):
                        return event
        except TimeoutError:
            return None
    return None


@router.post("", responses=refusals(404, 409),
             response_model=CallOut, status_code=201, dependencies=[rate_limit("call")],
             summary="Dial an agent's number (no account): connected at once, or queued")
async def dial(body: CallIn, pool: ServicePool, bus: BusDep, settings: SettingsDep) -> CallOut:
    if body.channel == "voice" and not settings.voice_enabled:
        raise ApiError(422, "voice_unavailable", "voice calls need LiveKit (LIVEKIT_URL, LIVEKIT_API_KEY, "
                                                 "LIVEKIT_API_SECRET); use the chat channel")
    agent = await queries.agent_answering(pool, body.number)
    if agent is None:
        raise ApiError(404, "not_found", f"no agent answers {body.number}; check the number")
    if not agent["active"]:
        raise ApiError(409, "agent_unavailable", f"{agent['name']} is not taking calls right now")
    call_id = uuid4()
    requested = CallRequested(supervisor_id=agent["supervisor_id"], agent_id=agent["id"], call_id=call_id,
                              channel=body.channel, dialled_number=body.number, caller=body.caller)
    outcome = await answer(bus, requested, settings.call_answer_seconds)
    if outcome is None:
        # Withdraw the request so a late router does not connect a caller who was told to retry.
        await bus.publish(CallHangup(supervisor_id=agent["supervisor_id"], agent_id=agent["id"],
                                     call_id=call_id, by="customer", reason="no answer from the router"))
        raise ApiError(503, "router_unavailable", "the call could not be placed: the call router is not "
                                                  "answering; try again in a moment", headers={"Retry-After": "5"})
    status = {CallStarted: "connected", CallQueued: "queued", CallEnded: "ended"}[type(outcome)]
    lifetime = timedelta(seconds=settings.call_token_seconds)
    token = issue_call_token(call_id, settings.jwt_secret, lifetime, utc_now())
    return CallOut(call_id=call_id, call_token=token, expires_in=settings.call_token_seconds, status=status,
                   queue_position=outcome.position if isinstance(outcome, CallQueued) else None,
                   agent=CallAgent(name=agent["name"]), stream_url=f"/api/calls/{call_id}/stream?token={token}",
                   livekit=customer_join(settings, call_id, body.caller, lifetime) if body.channel == "voice"
                   else None)


def token_call(settings: SettingsDep, token: str) -> UUID:
    try:
        return verify_call_token(token, settings.jwt_secret, utc_now())
    except InvalidToken as exc:
        raise unauthorized(f"{exc}; dial again for a new call") from exc


async def customer_call(pool: asyncpg.Pool, call_id: UUID, token_call_id: UUID) -> asyncpg.Record:
    """The call a customer's token opens, once verified to carry ``token_call_id``."""
    if token_call_id != call_id:
        raise ApiError(403, "forbidden", "this call token belongs to another call")
    row = await queries.live_call(pool, call_id)
    if row is None:
        raise not_found("call")
    return row


@router.post("/{call_id}/messages", responses=refusals(401, 403, 409), response_model=Accepted, status_code=202,
             summary="The customer types a chat message (Authorization: Bearer <call token>)")
async def send_message(call_id: UUID, body: MessageIn, request: Request, pool: ServicePool, bus: BusDep,
                       settings: SettingsDep) -> Accepted:
    call = await customer_call(pool, call_id, token_call(settings, bearer_token(request)))
    if call["status"] == "queued":
        raise ApiError(409, "call_queued", f"you are number {call['queue_position'] or 1} in the queue; you can "
                                           "write as soon as the agent answers")
    if call["status"] == "ended":
        raise ApiError(409, "call_ended", "this call has ended; dial again to start a new one")
    message = CustomerMessage(supervisor_id=call["supervisor_id"], agent_id=call["agent_id"], call_id=call_id,
                              text=body.text)
    await bus.publish(message)
    return Accepted(event_id=message.event_id)


@router.get("/{call_id}/stream", responses=refusals(401, 403),
            summary="The customer's live view: queue position, replies, the end")
async def customer_stream(call_id: UUID, request: Request, pool: ServicePool, settings: SettingsDep, bus: BusDep,
                          token: CallTokenQuery = None, last_event_id_header: LastEventIdHeader = None,
                          last_event_id: LastEventIdQuery = None) -> EventSourceResponse:
    call = await customer_call(pool, call_id, token_call(settings, token or bearer_token(request)))
    resume = resume_point(last_event_id_header, last_event_id)
    filters = [subject_for(topic, call["supervisor_id"], call["agent_id"], call_id) for topic in CUSTOMER_TOPICS]
    ref = CallRef(supervisor_id=call["supervisor_id"], agent_id=call["agent_id"], call_id=call_id)
    # A first connection replays the call from its start: the greeting may precede the stream.
    return event_stream(request, filters, resume, f"call:{call_id}", CUSTOMER_STREAMS_PER_CALL, "customer",
                        since=call["queued_at"] - timedelta(seconds=1),
                        while_open=partial(customer_present, bus, ref, settings.presence_beat_seconds))


@contextlib.asynccontextmanager
async def customer_present(bus: Bus, call: CallRef, every_seconds: float) -> AsyncIterator[None]:
    """Tell the router the customer is here while their live view is open, and when it closes."""
    async def beat() -> None:
        while True:
            with contextlib.suppress(Exception):  # the bus away: the next beat (or the window) decides
                await bus.signal(CustomerPresence(**call.fields(), connected=True))
            await asyncio.sleep(every_seconds)

    beating = asyncio.create_task(beat())
    try:
        yield
    finally:
        beating.cancel()
        with contextlib.suppress(Exception):
            await asyncio.shield(bus.signal(CustomerPresence(**call.fields(), connected=False)))


async def publish_hangup(bus: Bus, call: asyncpg.Record, by: Party) -> Accepted:
    if call["status"] == "ended":
        raise ApiError(409, "call_ended", "this call has already ended")
    hangup = CallHangup(supervisor_id=call["supervisor_id"], agent_id=call["agent_id"], call_id=call["id"], by=by)
    await bus.publish(hangup)
    return Accepted(event_id=hangup.event_id)
