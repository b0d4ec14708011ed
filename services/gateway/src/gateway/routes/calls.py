"""The supervisor's side of calls: the live calls, one call as it stands, whispers, listening, and
ending a call (which the customer can do too, with their call token)."""

from __future__ import annotations

from uuid import UUID

import asyncpg
from fastapi import APIRouter, Request

from contracts.calls import CallRef
from contracts.envelope import utc_now
from contracts.whisper import WhisperInject, WhisperPause
from gateway import audit
from gateway.deps import AuthDep, BusDep, CurrentUser, Db, ServicePool, SettingsDep, bearer_token
from gateway.errors import ApiError, not_found
from gateway.queries import calls as queries
from gateway.rooms import listener_join
from gateway.routes.dialer import customer_call, publish_hangup
from gateway.schemas import Accepted, InjectIn, LiveCall, LiveCallDetail, LiveKitJoin
from gateway.tokens import InvalidToken, Principal, verify_call_token

router = APIRouter(prefix="/api/calls", tags=["calls"])


@router.post("/{call_id}/end", response_model=Accepted, status_code=202,
             summary="End the call, or leave the queue: the customer (call token), its supervisor or an admin")
async def end_call(call_id: UUID, request: Request, db: Db, pool: ServicePool, bus: BusDep, auth: AuthDep,
                   settings: SettingsDep) -> Accepted:
    token = bearer_token(request)
    try:
        token_call_id = verify_call_token(token, settings.jwt_secret, utc_now())
    except InvalidToken:
        principal = await auth.verify(token)
        call = await own_call(db, principal, call_id)
        accepted = await publish_hangup(bus, call, "supervisor")  # refuses a call already ended
        async with db.as_user(principal) as conn:
            await audit.record(conn, principal, "call.end", "call", call_id, call["supervisor_id"])
        return accepted
    return await publish_hangup(bus, await customer_call(pool, call_id, token_call_id), "customer")


async def own_call(db: Db, principal: Principal, call_id: UUID) -> asyncpg.Record:
    async with db.as_user(principal) as conn:
        row = await queries.live_call(conn, call_id)
    if row is None:
        raise not_found("call")
    return row


@router.get("", response_model=list[LiveCall], summary="Live calls (queued and active), oldest first")
async def live_calls(principal: CurrentUser, db: Db, agent_id: UUID | None = None) -> list[LiveCall]:
    async with db.as_user(principal) as conn:
        return await queries.live_calls(conn, agent_id)


@router.get("/{call_id}", response_model=LiveCallDetail,
            summary="One call as it stands: transcript so far and tool requests (for a dashboard that reloads)")
async def call_detail(call_id: UUID, principal: CurrentUser, db: Db) -> LiveCallDetail:
    call = await own_call(db, principal, call_id)
    async with db.as_user(principal) as conn:
        return LiveCallDetail(**dict(call), transcript=await queries.transcript(conn, call_id),
                              tool_requests=await queries.tool_requests(conn, call_id))


async def whisper(bus: BusDep, db: Db, principal: Principal, call_id: UUID, command: str,
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
    await bus.publish(event)
    return Accepted(event_id=event.event_id)


@router.post("/{call_id}/whisper", response_model=Accepted, status_code=202,
             summary="Pause the agent: it excuses itself to the customer and waits for instructions")
async def pause(call_id: UUID, principal: CurrentUser, db: Db, bus: BusDep) -> Accepted:
    return await whisper(bus, db, principal, call_id, "whisper")


@router.post("/{call_id}/inject", response_model=Accepted, status_code=202,
             summary="Give the agent new instructions; it acknowledges to you and resumes")
async def inject(call_id: UUID, body: InjectIn, principal: CurrentUser, db: Db, bus: BusDep) -> Accepted:
    return await whisper(bus, db, principal, call_id, "inject", body.instructions)


@router.post("/{call_id}/listen", response_model=LiveKitJoin,
             summary="Listen to a live voice call: a token for its room that hears everyone and is seen by nobody")
async def listen(call_id: UUID, principal: CurrentUser, db: Db, settings: SettingsDep) -> LiveKitJoin:
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
    return listener_join(settings, call_id, principal.user_id, principal.email)
