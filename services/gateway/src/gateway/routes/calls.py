"""Calls. The customer's side (the mock dialer) needs no account: dialling returns a call token that
opens that one call. The supervisor's side watches live calls, whispers, injects and ends them."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated
from uuid import UUID, uuid4

import asyncpg
from fastapi import APIRouter, Query, Request
from livekit import api as livekit_api
from sse_starlette import EventSourceResponse

from contracts.bus import Bus
from contracts.calls import (
    CallEnded,
    CallHangup,
    CallQueued,
    CallRef,
    CallRequested,
    CallStarted,
    CustomerMessage,
    Party,
    customer_identity,
    livekit_room_name,
)
from contracts.envelope import Envelope, utc_now
from contracts.subjects import call_filter
from contracts.transcripts import TranscriptChunk
from contracts.whisper import WhisperInject, WhisperPause
from gateway import audit
from gateway.auth import unauthorized
from gateway.config import Settings
from gateway.deps import CurrentUser, Db, bearer_token, rate_limit
from gateway.errors import ApiError, not_found
from gateway.routes.streams import LastEventIdHeader, LastEventIdQuery, event_stream, resume_point
from gateway.schemas import (
    Accepted,
    CallAgent,
    CallIn,
    CallOut,
    DirectoryEntry,
    InjectIn,
    LiveCall,
    LiveCallDetail,
    LiveKitJoin,
    MessageIn,
    ToolDecision,
    TranscriptLine,
)
from gateway.tokens import InvalidToken, Principal, issue_call_token, verify_call_token

router = APIRouter(prefix="/api/calls", tags=["calls"])
directory_router = APIRouter(prefix="/api/directory", tags=["calls"])

# What the customer sees of their call: never tool requests, whispers or scores.
CUSTOMER_TOPICS = (CallQueued.topic, CallStarted.topic, CallEnded.topic, TranscriptChunk.topic)
CUSTOMER_STREAMS_PER_CALL = 3
# A listener's room token: long enough for any call, short enough that a leaked one soon stops working.
LISTEN_TOKEN_LIFETIME = timedelta(hours=1)
LIVE_COLUMNS = ", ".join(LiveCall.model_fields)

CallTokenQuery = Annotated[str | None, Query(alias="token", description="The call token (EventSource cannot "
                                                                         "send headers)")]


# --- the customer's side -------------------------------------------------------------------------

@directory_router.get("", response_model=list[DirectoryEntry],
                      summary="The numbers a customer can dial (the mock dialer lists them; no account)")
async def directory(request: Request) -> list[DirectoryEntry]:
    rows = await request.app.state.pool.fetch(
        """select a.name, a.phone_number from agents a join users u on u.id = a.supervisor_id
           where a.active and u.active order by a.name""")
    return [DirectoryEntry(**dict(r)) for r in rows]


# The router's first word on a dial, which the dialling customer waits for.
DIAL_ANSWERS = (CallStarted, CallQueued, CallEnded)


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


@router.post("", response_model=CallOut, status_code=201, dependencies=[rate_limit("call")],
             summary="Dial an agent's number (no account): connected at once, or queued")
async def dial(body: CallIn, request: Request) -> CallOut:
    state = request.app.state
    settings = state.settings
    if body.channel == "voice" and not settings.voice_enabled:
        raise ApiError(422, "voice_unavailable", "voice calls need LiveKit (LIVEKIT_URL, LIVEKIT_API_KEY, "
                                                 "LIVEKIT_API_SECRET); use the chat channel")
    agent = await state.pool.fetchrow(
        "select id, supervisor_id, name, active from agents where phone_number = $1", body.number)
    if agent is None:
        raise ApiError(404, "not_found", f"no agent answers {body.number}; check the number")
    if not agent["active"]:
        raise ApiError(409, "agent_unavailable", f"{agent['name']} is not taking calls right now")
    call_id = uuid4()
    requested = CallRequested(supervisor_id=agent["supervisor_id"], agent_id=agent["id"], call_id=call_id,
                              channel=body.channel, dialled_number=body.number, caller=body.caller)
    outcome = await answer(state.bus, requested, settings.call_answer_seconds)
    if outcome is None:
        # Withdraw the request so a late router does not connect a caller who was told to retry.
        await state.bus.publish(CallHangup(supervisor_id=agent["supervisor_id"], agent_id=agent["id"],
                                           call_id=call_id, by="customer", reason="no answer from the router"))
        raise ApiError(503, "router_unavailable", "the call could not be placed: the call router is not "
                                                  "answering; try again in a moment", headers={"Retry-After": "5"})
    status = {CallStarted: "connected", CallQueued: "queued", CallEnded: "ended"}[type(outcome)]
    lifetime = timedelta(seconds=settings.call_token_seconds)
    token = issue_call_token(call_id, settings.jwt_secret, lifetime, utc_now())
    return CallOut(call_id=call_id, call_token=token, expires_in=settings.call_token_seconds, status=status,
                   queue_position=outcome.position if isinstance(outcome, CallQueued) else None,
                   agent=CallAgent(name=agent["name"]), stream_url=f"/api/calls/{call_id}/stream?token={token}",
                   livekit=room_join(settings, call_id, body.caller, lifetime) if body.channel == "voice" else None)


def room_join(settings: Settings, call_id: UUID, caller: str, lifetime: timedelta) -> LiveKitJoin:
    """A customer token for this call's room only (the room waits for them while queued)."""
    return call_room_token(settings, call_id, customer_identity(call_id), caller, lifetime,
                           can_publish=True, can_subscribe=True, can_publish_data=True)


def call_room_token(settings: Settings, call_id: UUID, identity: str, name: str, lifetime: timedelta,
                    **grants: bool) -> LiveKitJoin:
    """A LiveKit token that joins this call's room and no other, with ``grants`` (VideoGrants' flags)."""
    room = livekit_room_name(call_id)
    token = (livekit_api.AccessToken(settings.livekit_api_key, settings.livekit_api_secret)
             .with_identity(identity).with_name(name).with_ttl(lifetime)
             .with_grants(livekit_api.VideoGrants(room_join=True, room=room, **grants))
             .to_jwt())
    return LiveKitJoin(url=settings.livekit_url or "", room=room, token=token)


def token_call(request: Request, token: str) -> UUID:
    try:
        return verify_call_token(token, request.app.state.settings.jwt_secret, utc_now())
    except InvalidToken as exc:
        raise unauthorized(f"{exc}; dial again for a new call") from exc


async def customer_call(request: Request, call_id: UUID, token: str | UUID) -> asyncpg.Record:
    """The call a customer's token opens (``token``: the token, or the call id it was verified to carry)."""
    if (token if isinstance(token, UUID) else token_call(request, token)) != call_id:
        raise ApiError(403, "forbidden", "this call token belongs to another call")
    row = await request.app.state.pool.fetchrow(f"select {LIVE_COLUMNS} from calls where id = $1", call_id)
    if row is None:
        raise not_found("call")
    return row


@router.post("/{call_id}/messages", response_model=Accepted, status_code=202,
             summary="The customer types a chat message (Authorization: Bearer <call token>)")
async def send_message(call_id: UUID, body: MessageIn, request: Request) -> Accepted:
    call = await customer_call(request, call_id, bearer_token(request))
    if call["status"] == "queued":
        raise ApiError(409, "call_queued", f"you are number {call['queue_position'] or 1} in the queue; you can "
                                           "write as soon as the agent answers")
    if call["status"] == "ended":
        raise ApiError(409, "call_ended", "this call has ended; dial again to start a new one")
    message = CustomerMessage(supervisor_id=call["supervisor_id"], agent_id=call["agent_id"], call_id=call_id,
                              text=body.text)
    await request.app.state.bus.publish(message)
    return Accepted(event_id=message.event_id)


@router.get("/{call_id}/stream", summary="The customer's live view: queue position, replies, the end")
async def customer_stream(call_id: UUID, request: Request, token: CallTokenQuery = None,
                          last_event_id_header: LastEventIdHeader = None,
                          last_event_id: LastEventIdQuery = None) -> EventSourceResponse:
    call = await customer_call(request, call_id, token or bearer_token(request))
    resume = resume_point(last_event_id_header, last_event_id)
    filters = [f"{topic}.{call['supervisor_id']}.{call['agent_id']}.{call_id}" for topic in CUSTOMER_TOPICS]
    # A first connection replays the call from its start: the greeting may precede the stream.
    return event_stream(request, filters, resume, f"call:{call_id}", CUSTOMER_STREAMS_PER_CALL, "customer",
                        since=call["queued_at"] - timedelta(seconds=1))


async def publish_hangup(request: Request, call: asyncpg.Record, by: Party) -> Accepted:
    if call["status"] == "ended":
        raise ApiError(409, "call_ended", "this call has already ended")
    hangup = CallHangup(supervisor_id=call["supervisor_id"], agent_id=call["agent_id"], call_id=call["id"], by=by)
    await request.app.state.bus.publish(hangup)
    return Accepted(event_id=hangup.event_id)


@router.post("/{call_id}/end", response_model=Accepted, status_code=202,
             summary="End the call, or leave the queue: the customer (call token), its supervisor or an admin")
async def end_call(call_id: UUID, request: Request, db: Db) -> Accepted:
    token = bearer_token(request)
    try:
        token_call_id = verify_call_token(token, request.app.state.settings.jwt_secret, utc_now())
    except InvalidToken:
        principal = await request.app.state.auth.verify(token)
        call = await own_call(db, principal, call_id)
        accepted = await publish_hangup(request, call, "supervisor")  # refuses a call already ended
        async with db.as_user(principal) as conn:
            await audit.record(conn, principal, "call.end", "call", call_id, call["supervisor_id"])
        return accepted
    return await publish_hangup(request, await customer_call(request, call_id, token_call_id), "customer")


# --- the supervisor's side -----------------------------------------------------------------------

async def own_call(db: Db, principal: Principal, call_id: UUID) -> asyncpg.Record:
    async with db.as_user(principal) as conn:
        row = await conn.fetchrow(f"select {LIVE_COLUMNS} from calls where id = $1", call_id)
    if row is None:
        raise not_found("call")
    return row


@router.get("", response_model=list[LiveCall], summary="Live calls (queued and active), oldest first")
async def live_calls(principal: CurrentUser, db: Db, agent_id: UUID | None = None) -> list[LiveCall]:
    async with db.as_user(principal) as conn:
        rows = await conn.fetch(
            f"""select {LIVE_COLUMNS} from calls where status <> 'ended' and ($1::uuid is null or agent_id = $1)
                order by queued_at""", agent_id)
    return [LiveCall(**dict(r)) for r in rows]


@router.get("/{call_id}", response_model=LiveCallDetail,
            summary="One call as it stands: transcript so far and tool requests (for a dashboard that reloads)")
async def call_detail(call_id: UUID, principal: CurrentUser, db: Db) -> LiveCallDetail:
    call = await own_call(db, principal, call_id)
    async with db.as_user(principal) as conn:
        transcript = await conn.fetch(
            "select seq, speaker, text, brain, occurred_at from transcript_lines where call_id = $1 order by seq",
            call_id)
        tools = await conn.fetch(f"select {', '.join(ToolDecision.model_fields)} from tool_requests"
                                 " where call_id = $1 order by requested_at", call_id)
    return LiveCallDetail(**dict(call), transcript=[TranscriptLine(**dict(t)) for t in transcript],
                          tool_requests=[ToolDecision(**dict(t)) for t in tools])


async def whisper(request: Request, db: Db, principal: Principal, call_id: UUID, command: str,
                  instructions: str | None = None) -> Accepted:
    call = await own_call(db, principal, call_id)
    if call["status"] != "active":
        raise ApiError(409, "call_not_active", f"the call is {call['status']}; only a live call takes whispers")
    ids = CallRef(supervisor_id=call["supervisor_id"], agent_id=call["agent_id"], call_id=call_id).fields()
    event = WhisperPause(**ids, requested_by=principal.user_id) if instructions is None else \
        WhisperInject(**ids, requested_by=principal.user_id, instructions=instructions)
    async with db.as_user(principal) as conn:
        await audit.record(conn, principal, f"call.{command}", "call", call_id, call["supervisor_id"],
                           **({"instructions": instructions} if instructions else {}))
    await request.app.state.bus.publish(event)
    return Accepted(event_id=event.event_id)


@router.post("/{call_id}/whisper", response_model=Accepted, status_code=202,
             summary="Pause the agent: it excuses itself to the customer and waits for instructions")
async def pause(call_id: UUID, principal: CurrentUser, db: Db, request: Request) -> Accepted:
    return await whisper(request, db, principal, call_id, "whisper")


@router.post("/{call_id}/inject", response_model=Accepted, status_code=202,
             summary="Give the agent new instructions; it acknowledges to you and resumes")
async def inject(call_id: UUID, body: InjectIn, principal: CurrentUser, db: Db, request: Request) -> Accepted:
    return await whisper(request, db, principal, call_id, "inject", body.instructions)


@router.post("/{call_id}/listen", response_model=LiveKitJoin,
             summary="Listen to a live voice call: a token for its room that hears everyone and is seen by nobody")
async def listen(call_id: UUID, principal: CurrentUser, db: Db, request: Request) -> LiveKitJoin:
    settings = request.app.state.settings
    call = await own_call(db, principal, call_id)
    if call["channel"] != "voice":
        raise ApiError(422, "not_a_voice_call", f"this is a {call['channel']} call: there is no audio to listen to; "
                                                "follow its live transcript instead")
    if call["status"] != "active":
        raise ApiError(409, "call_not_active", f"the call is {call['status']}; only a live voice call can be "
                                               "listened to")
    if not settings.voice_enabled:
        raise ApiError(422, "voice_unavailable", "listening needs LiveKit (LIVEKIT_URL, LIVEKIT_API_KEY, "
                                                 "LIVEKIT_API_SECRET)")
    async with db.as_user(principal) as conn:
        await audit.record(conn, principal, "call.listen", "call", call_id, call["supervisor_id"])
    # Hidden and unable to publish: neither the customer nor the agent knows, or hears, the listener.
    return call_room_token(settings, call_id, f"supervisor-{principal.user_id}-{call_id}", principal.email,
                           LISTEN_TOKEN_LIFETIME, can_publish=False, can_subscribe=True, can_publish_data=False,
                           hidden=True)
