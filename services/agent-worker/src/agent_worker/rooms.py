"""Calls in LiveKit rooms. With LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET set, the agent-worker
also registers with LiveKit (livekit-agents' AgentServer) under LIVEKIT_AGENT_NAME, the agent the
call-router dispatches into each voice call's room.

LiveKit runs each dispatched room as a job in a process of its own. That process joins the room and
runs the same CallSession as a chat call, with the room as the customer's side (hearing and speaking
there: agent_worker.speech), and follows the call's own subjects on the bus (customer messages,
whisper, tool decisions, a supervisor taking the call over and handing it back, the end). The models
load once per job process, before its first call. A job LiveKit restarts takes the call up where the
one before left it, as a chat call's new owner does (open_session: the tool requests left, a whisper
pause held, the customer's unanswered lines), and reads on from the room's consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from dataclasses import dataclass
from functools import partial
from typing import Any

import asyncpg
from livekit import rtc
from livekit.agents import AgentServer, JobContext, JobProcess, JobRequest
from pydantic import ValidationError

from agent_worker.calls import declare_steering, open_session
from agent_worker.config import Settings
from agent_worker.session import CallSession
from agent_worker.speech import prepare_speech, voice_io
from contracts.bus import Bus, connect_bus
from contracts.calls import CallEnded, CallHangup, CallRef, customer_identity
from contracts.db import create_pool
from contracts.envelope import Envelope
from contracts.subscribers import Subscriber
from text_models.embedding import shared_embedder

log = logging.getLogger("agent_worker.rooms")
# A room's consumer outlives a job restart (LiveKit re-dispatches); deleted when the call is over, or
# by the server once idle this long if its job never comes back.
ROOM_CONSUMER_IDLE_SECONDS = 3600.0
UNLIMITED_RETRIES = 2**31
JOB_PROCESS_SETUP_SECONDS = 60.0


def room_call(metadata: str) -> CallRef | None:
    """Which call a room belongs to: the dispatch metadata the call-router wrote."""
    try:
        return CallRef.model_validate_json(metadata)
    except ValidationError:
        return None


def log_fields(call: CallRef) -> dict[str, str]:
    return {"call_id": str(call.call_id)}


async def serve_rooms(settings: Settings, pool: asyncpg.Pool, stop: asyncio.Event, health: dict[str, Any]) -> None:
    """Stay registered with LiveKit, taking the rooms of our calls, until ``stop``. ``health`` (the
    service's health details) says whether LiveKit has taken the registration."""
    server = AgentServer(
        ws_url=settings.livekit_url, api_key=settings.livekit_api_key, api_secret=settings.livekit_api_secret,
        num_idle_processes=settings.livekit_idle_processes,
        # Admission is the call-router's (its concurrent-call cap): a busy CPU must not make LiveKit
        # refuse the agent for a call the customer was already told is connected.
        load_threshold=math.inf,
        # LiveKit being down must not stop the service (chat calls need no LiveKit): keep trying,
        # with LiveKit's own back-off (at most 10 s apart).
        max_retry=UNLIMITED_RETRIES,
        port=0,  # LiveKit's own health page; our health goes over the bus like every service's
        # A job process loads and warms up the speech models before its first call (seconds, more on
        # a busy machine): LiveKit's 10 s default would kill it half-way.
        initialize_process_timeout=JOB_PROCESS_SETUP_SECONDS,
        setup_fnc=partial(prepare_process, settings))
    server.rtc_session(join_room, agent_name=settings.livekit_agent_name, on_request=partial(answer_dispatch, pool))
    health["livekit_rooms"] = f"registering with {settings.livekit_url}"
    server.on("worker_registered", lambda worker_id, _server_info: health.update(
        livekit_rooms=f"registered as {settings.livekit_agent_name} (worker {worker_id})"))
    running = asyncio.create_task(server.run())
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([running, stopping], return_when=asyncio.FIRST_COMPLETED)
        if running.done() and running.exception() is not None:
            # Chat calls go on; the health page and this line say why voice rooms are not served.
            health["livekit_rooms"] = f"stopped: {running.exception()}"
            log.error("stopped serving LiveKit rooms: %s", running.exception())
    finally:
        stopping.cancel()
        await server.aclose()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await running


async def answer_dispatch(pool: asyncpg.Pool, request: JobRequest) -> None:
    """Take the room of a live call of ours; refuse any other (a stale dispatch, a foreign room)."""
    call = room_call(request.job.metadata)
    row = None if call is None else await pool.fetchrow(
        "select status, agent_name from calls where id = $1 and agent_id = $2", call.call_id, call.agent_id)
    if call is None or row is None or row["status"] != "active":
        log.warning("refused a dispatch into room %s: not a live call of ours", request.room.name,
                    extra={"status": row["status"] if row else None})
        await request.reject(terminate=True)
        return
    log.info("taking room %s", request.room.name, extra=log_fields(call))
    await request.accept(identity=f"agent-{call.agent_id}", name=row["agent_name"],
                         attributes={"call_id": str(call.call_id)})


def prepare_process(settings: Settings, process: JobProcess) -> None:
    """Runs once in each job process LiveKit keeps warm: settings in, the embedding and speech models
    loaded (so a call does not wait for them)."""
    process.userdata["settings"] = settings
    shared_embedder()
    prepare_speech(settings)


async def join_room(ctx: JobContext) -> None:
    """One dispatched room, in its own process: join it, serve the call, leave when the call ends."""
    settings: Settings = ctx.proc.userdata["settings"]
    call = room_call(ctx.job.metadata)
    assert call is not None  # answer_dispatch took only rooms whose metadata names a call
    bus = await connect_bus(settings.nats_url, "agent-worker")
    pool = await create_pool(settings.database_url, min_size=1, max_size=3)
    try:
        try:
            await ctx.connect()
        except Exception as exc:
            log.error("could not join room %s: %s; ending the call", ctx.job.room.name, exc, extra=log_fields(call))
            await bus.publish(CallHangup(**call.fields(), by="agent",
                                         reason="the agent could not join the voice room", failed=True))
            return
        try:  # greet the customer once they are in the room, not an empty room before them
            await asyncio.wait_for(ctx.wait_for_participant(identity=customer_identity(call.call_id)),
                                   settings.room_join_timeout_seconds)
        except TimeoutError:
            log.info("the customer never joined the room; hanging up", extra=log_fields(call))
            await bus.publish(CallHangup(**call.fields(), by="customer", reason="never joined the voice room"))
            return
        session = await open_session(pool, bus, settings, call.call_id, greet=True, room=ctx.room,
                                     voice=voice_io(settings))
        if session is None:
            log.info("the call ended before the agent joined its room", extra=log_fields(call))
            return
        try:
            await follow_call(bus, call, session, ctx.room)
        finally:
            await session.close()
    finally:
        await bus.close()
        await pool.close()
        ctx.shutdown("call over")


@dataclass
class RoomCall:
    session: CallSession
    over: asyncio.Event


room_calls = Subscriber[RoomCall]("agent-worker")


@room_calls.handles(CallEnded)
async def room_call_ended(call: RoomCall, event: CallEnded) -> None:
    call.over.set()


async def _room_session(call: RoomCall, event: Envelope) -> CallSession:
    return call.session


declare_steering(room_calls, _room_session)


async def follow_call(bus: Bus, call: CallRef, session: CallSession, room: rtc.Room) -> None:
    """Steer the session from the call's subjects until the call ends or the customer leaves the room."""
    over = asyncio.Event()
    customer_left = asyncio.Event()

    def on_leave(participant: rtc.RemoteParticipant) -> None:
        if participant.identity == customer_identity(call.call_id):
            customer_left.set()

    room.on("participant_disconnected", on_leave)
    consumer = room_calls.consumer(bus, RoomCall(session, over), durable=f"agent-room-{call.call_id}",
                                   call=(call.supervisor_id, call.agent_id, call.call_id),
                                   forget_after_idle_seconds=ROOM_CONSUMER_IDLE_SECONDS)
    following = asyncio.create_task(consumer.run(over))
    left = asyncio.create_task(customer_left.wait())
    call_over = False
    try:
        await asyncio.wait([following, left], return_when=asyncio.FIRST_COMPLETED)
        call_over = over.is_set()
        if customer_left.is_set() and not call_over:
            log.info("the customer left the room; hanging up", extra=log_fields(call))
            await bus.publish(CallHangup(**call.fields(), by="customer", reason="left the voice room"))
            call_over = True
    finally:
        over.set()
        left.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await following
        if call_over:  # else (this job failed) a re-dispatched job resumes from it
            with contextlib.suppress(Exception):
                await bus.delete_consumer(consumer.durable)
        room.off("participant_disconnected", on_leave)
