"""The supervisor's side of calls: the live calls, one call as it stands, whispers, listening, taking a
call over from its agent (writing or speaking to the customer) and handing it back, and ending a call
(which the customer can do too, with their call token)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Query, Request

from contracts import outbox
from contracts.calls import CallHandedBack, CallRef, CallTakenOver, SupervisorMessage
from contracts.envelope import Envelope, utc_now
from contracts.whisper import WhisperInject, WhisperPause
from gateway import audit
from gateway.deps import (
    REFLECTS_EVENTS,
    AuthDep,
    BusDep,
    CurrentUser,
    Db,
    DocumentedRoute,
    ServicePool,
    SettingsDep,
    bearer_token,
)
from gateway.errors import ApiError, not_found, refusals
from gateway.queries import calls as queries
from gateway.rooms import listener_join, takeover_join
from gateway.routes.dialer import customer_call, publish_hangup
from gateway.schemas import (
    Accepted,
    HandbackIn,
    InjectIn,
    LiveCall,
    LiveCallDetail,
    LiveKitJoin,
    MessageIn,
    TakenOver,
)
from gateway.tokens import InvalidToken, Principal, verify_call_token

router = APIRouter(prefix="/api/calls", tags=["calls"], route_class=DocumentedRoute)


@router.post("/{call_id}/end", responses=refusals(401, 403, 409), response_model=Accepted, status_code=202,
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


TakenOverFilter = Annotated[bool | None, Query(
    description="true: only the calls a person has taken over from their agent; false: only those nobody has")]


@router.get("", dependencies=[REFLECTS_EVENTS], response_model=list[LiveCall],
            summary="Live calls (queued and active), oldest first")
async def live_calls(principal: CurrentUser, db: Db, pool: ServicePool, agent_id: UUID | None = None,
                     taken_over: TakenOverFilter = None) -> list[LiveCall]:
    async with db.as_user(principal) as conn:
        calls = await queries.live_calls(conn, agent_id, taken_over)
    return await queries.with_holder_names(pool, calls)


@router.get("/{call_id}", dependencies=[REFLECTS_EVENTS], response_model=LiveCallDetail,
            summary="One call as it stands: transcript so far and tool requests (for a dashboard that reloads)")
async def call_detail(call_id: UUID, principal: CurrentUser, db: Db, pool: ServicePool) -> LiveCallDetail:
    [call] = await queries.with_holder_names(pool, [await own_call(db, principal, call_id)])
    async with db.as_user(principal) as conn:
        return LiveCallDetail(**call.model_dump(), transcript=await queries.transcript(conn, call_id),
                              tool_requests=await queries.tool_requests(conn, call_id))


async def whisper(bus: BusDep, db: Db, principal: Principal, call_id: UUID, command: str,
                  instructions: str | None = None) -> Accepted:
    call = await own_call(db, principal, call_id)
    if call["status"] != "active":
        raise ApiError(409, "call_not_active", f"the call is {call['status']}; only a live call takes whispers")
    if instructions is None and call["taken_over_by"] is not None:
        # The agent would "pause" without a word to the customer and acknowledge that it told them.
        raise ApiError(409, "call_taken_over", "the call is taken over: the agent is silent already, so there is "
                                               "nothing to pause; instructions reach it with Inject or the hand-back")
    ids = CallRef(supervisor_id=call["supervisor_id"], agent_id=call["agent_id"], call_id=call_id).fields()
    event = WhisperPause(**ids, requested_by=principal.user_id) if instructions is None else \
        WhisperInject(**ids, requested_by=principal.user_id, instructions=instructions)
    async with db.as_user(principal) as conn:
        await audit.record(conn, principal, f"call.{command}", "call", call_id, call["supervisor_id"],
                           **({"instructions": instructions} if instructions else {}))
    await bus.publish(event)
    return Accepted(event_id=event.event_id)


@router.post("/{call_id}/whisper", responses=refusals(409), response_model=Accepted, status_code=202,
             summary="Pause the agent: it excuses itself to the customer and waits for instructions")
async def pause(call_id: UUID, principal: CurrentUser, db: Db, bus: BusDep) -> Accepted:
    return await whisper(bus, db, principal, call_id, "whisper")


@router.post("/{call_id}/inject", responses=refusals(409), response_model=Accepted, status_code=202,
             summary="Give the agent new instructions; it acknowledges to you and resumes")
async def inject(call_id: UUID, body: InjectIn, principal: CurrentUser, db: Db, bus: BusDep) -> Accepted:
    return await whisper(bus, db, principal, call_id, "inject", body.instructions)


@router.post("/{call_id}/listen", responses=refusals(409), response_model=LiveKitJoin,
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


def live_ids(call: asyncpg.Record, verb: str) -> CallRef:
    """The call's ids, once it is live (a queued or ended call cannot be taken over, written to or handed back)."""
    if call["status"] != "active":
        raise ApiError(409, "call_not_active", f"the call is {call['status']}; only a live call can be {verb}")
    return CallRef(supervisor_id=call["supervisor_id"], agent_id=call["agent_id"], call_id=call["id"])


async def refuse_unless_holder(pool: ServicePool, call: asyncpg.Record, principal: Principal, verb: str,
                               admin_may: bool = False) -> None:
    """The rule of a call taken over: only the person who has it may ``verb`` (an admin too where
    ``admin_may``); anyone else gets 409 naming that person, a conflict with the call's state, which changes
    back when they hand it back, not a lack of rights. A call nobody has taken over passes."""
    holder = call["taken_over_by"]
    if holder is None or holder == principal.user_id or (admin_may and principal.is_admin):
        return
    who = await queries.person_name(pool, holder) or "another supervisor"
    raise ApiError(409, "taken_over_by_someone_else", f"{who} has this call: only the person who took it over "
                                                      f"can {verb}")


async def change_handler(db: Db, bus: BusDep, principal: Principal, call_id: UUID, action: str, update: str,
                         events: Callable[[asyncpg.Record], list[Envelope]], *args: object) -> asyncpg.Record:
    """Who handles the call changes (``update``, guarded so it happens once; $1 is the call): on the calls
    row and, in the same transaction, the events that announce it; 409 when someone changed it first."""
    async with db.as_user(principal) as conn:
        row = await conn.fetchrow(f"update calls set {update} returning id, supervisor_id, agent_id, agent_name,"
                                  " channel", call_id, *args)
        if row is None:
            raise ApiError(409, "already_handled", "the call is already taken over" if action == "call.takeover"
                           else "the call is not taken over: the agent has it")
        await audit.record(conn, principal, action, "call", call_id, row["supervisor_id"])
        announced = events(row)
        await outbox.stage_after_user_change(conn, announced)
    await outbox.send(db.pool, bus, announced)
    return row


@router.post("/{call_id}/takeover", responses=refusals(409), response_model=TakenOver,
             summary="Take the call over: the agent tells the customer a person is joining and stays silent until "
                     "handed back; a voice call's answer has a room token to speak in")
async def take_over(call_id: UUID, principal: CurrentUser, db: Db, pool: ServicePool, bus: BusDep,
                    settings: SettingsDep) -> TakenOver:
    call = await own_call(db, principal, call_id)
    ids = live_ids(call, "taken over")
    if call["taken_over_by"] == principal.user_id:
        raise ApiError(409, "already_handled", "you have this call already")
    await refuse_unless_holder(pool, call, principal, "hand it back")
    name = await queries.person_name(pool, principal.user_id) or principal.email
    row = await change_handler(
        db, bus, principal, call_id, "call.takeover",
        "taken_over_by = $2, taken_over_at = now(), takeovers = takeovers + 1"
        " where id = $1 and status = 'active' and taken_over_by is null",
        lambda _row: [CallTakenOver(**ids.fields(), by=principal.user_id, by_name=name)], principal.user_id)
    voice = row["channel"] == "voice" and settings.voice_enabled
    return TakenOver(call_id=call_id, taken_over_by=principal.user_id, name=name,
                     livekit=takeover_join(settings, call_id, name) if voice else None)


@router.post("/{call_id}/supervisor-messages", responses=refusals(409), response_model=Accepted, status_code=202,
             summary="Write to the customer of a call you took over; it reaches the transcript as the supervisor's",
             description="Only the person who took the call over writes: anyone else who sees the call gets 409 "
                         "`taken_over_by_someone_else`, naming who has it.")
async def supervisor_message(call_id: UUID, body: MessageIn, principal: CurrentUser, db: Db, pool: ServicePool,
                             bus: BusDep) -> Accepted:
    call = await own_call(db, principal, call_id)
    ids = live_ids(call, "written to")
    if call["taken_over_by"] is None:
        raise ApiError(409, "not_taken_over", "take the call over first: the agent is answering this customer")
    await refuse_unless_holder(pool, call, principal, "write to the customer")
    message = SupervisorMessage(**ids.fields(), by=principal.user_id, text=body.text)
    await bus.publish(message)
    return Accepted(event_id=message.event_id)


@router.post("/{call_id}/handback", responses=refusals(409), response_model=Accepted, status_code=202,
             summary="Hand the call back to the agent, with optional instructions: it answers what the customer "
                     "said since, knowing the whole conversation",
             description="The person who took the call over hands it back; so may an admin, for a call whose holder "
                         "walked away. Anyone else gets 409 `taken_over_by_someone_else`, naming who has it.")
async def hand_back(call_id: UUID, principal: CurrentUser, db: Db, pool: ServicePool, bus: BusDep,
                    body: HandbackIn | None = None) -> Accepted:
    call = await own_call(db, principal, call_id)
    ids = live_ids(call, "handed back")
    await refuse_unless_holder(pool, call, principal, "hand it back", admin_may=True)
    instructions = body.instructions if body is not None else None
    back: list[CallHandedBack] = []

    def events(row: asyncpg.Record) -> list[Envelope]:
        # The instructions go first, as a whisper the customer never sees; then the customer's news.
        back.append(CallHandedBack(**ids.fields(), by=principal.user_id, agent_name=row["agent_name"]))
        whisper = [WhisperInject(**ids.fields(), requested_by=principal.user_id, instructions=instructions)] \
            if instructions else []
        return [*whisper, *back]

    await change_handler(db, bus, principal, call_id, "call.handback",
                         # Only from the holder seen above: a call taken over again meanwhile is not theirs.
                         "taken_over_by = null, taken_over_at = null where id = $1 and taken_over_by = $2",
                         events, call["taken_over_by"])
    return Accepted(event_id=back[0].event_id)
