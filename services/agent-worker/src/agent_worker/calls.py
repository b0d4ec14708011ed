"""Serving one call, wherever the customer is: open its session from the database, steer it with
what the customer and the supervisor send over the bus."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
from livekit import rtc
from livekit.agents import llm

from agent_worker.agent import SESSION_TOOLS, history_of, load_agent
from agent_worker.config import Settings
from agent_worker.local_brain import DialogueEngine, LocalDialogueLLM
from agent_worker.model_files import inference_executor
from agent_worker.session import CallSession, takeover_line
from agent_worker.speech import VoiceIO
from contracts.bus import Bus
from contracts.calls import CallHandedBack, CallRef, CallTakenOver, CustomerMessage, SupervisorMessage
from contracts.envelope import Envelope
from contracts.subscribers import Subscriber
from contracts.tools import ToolPermissionDecision, ToolPermissionRequest
from contracts.whisper import WhisperInject, WhisperPause
from text_models.embedding import shared_embedder

log = logging.getLogger("agent_worker.calls")
ContextT = TypeVar("ContextT")


def build_model(settings: Settings, engine: DialogueEngine) -> llm.LLM:
    """The dialogue engine the settings select: Gemini, an OpenAI-compatible server, or the local one."""
    if settings.gemini_api_key:
        from google.genai import types
        from livekit.plugins import google

        options = types.HttpOptions(base_url=settings.gemini_base_url) if settings.gemini_base_url else None
        return google.LLM(model=settings.gemini_model, api_key=settings.gemini_api_key,
                          **({"http_options": options} if options else {}))
    if settings.llm_base_url:
        from livekit.plugins import openai

        return openai.LLM(model=settings.llm_model, base_url=settings.llm_base_url,
                          api_key=settings.llm_api_key or "not-needed")
    return LocalDialogueLLM(engine)


async def open_session(pool: asyncpg.Pool, bus: Bus, settings: Settings, call_id: UUID, *, greet: bool,
                       room: rtc.Room | None = None, voice: VoiceIO | None = None) -> CallSession | None:
    """A live call's session, built from the database: the agent's configuration and, after a restart,
    the transcript so far and whether a person has the call, and carrying on where the earlier session
    stopped (CallSession.take_up); in the call's room (``room``) with speech (``voice``) for a voice
    call. None when the call is not live (ended, still queued, unknown).

    A restart is whatever leaves a live call's transcript begun with no session: the instance that
    owned a chat call died, or LiveKit restarted a voice room's job; both take up the call alike."""
    async with pool.acquire() as conn:
        call = await conn.fetchrow(
            """select c.supervisor_id, c.agent_id, c.status, c.caller, c.taken_over_at,
                      coalesce(nullif(u.full_name, ''), u.email) as taken_over_by_name
               from calls c left join users u on u.id = c.taken_over_by where c.id = $1""", call_id)
        if call is None or call["status"] != "active" or call["agent_id"] is None:
            return None
        config = await load_agent(conn, call["agent_id"])
        lines = await conn.fetch("select seq, speaker, text, occurred_at from transcript_lines where call_id = $1"
                                 " order by seq", call_id)
    if config is None:
        return None
    ids = CallRef(supervisor_id=call["supervisor_id"], agent_id=call["agent_id"], call_id=call_id)
    # The engine embeds its intents and the agent's knowledge as it is made: CPU work, kept off the event
    # loop, where it would stall the audio of the voice calls this process serves.
    engine = await asyncio.get_running_loop().run_in_executor(inference_executor(), partial(
        DialogueEngine, shared_embedder(), config.name, config.knowledge,
        [t.name for t in config.tools] + [t.name for t in SESSION_TOOLS],
        {t.name: t.description for t in config.tools if t.description}, caller=call["caller"]))
    model = build_model(settings, engine)
    session = CallSession(ids=ids, config=config, caller=call["caller"], pool=pool, bus=bus, brain=settings.brain,
                          model=model, engine=engine if isinstance(model, LocalDialogueLLM) else None,
                          approval_timeout=timedelta(seconds=settings.tool_approval_timeout_seconds), room=room,
                          voice=voice, next_seq=(lines[-1]["seq"] + 1) if lines else 0,
                          human_wait=timedelta(seconds=settings.human_request_timeout_seconds),
                          silence=timedelta(seconds=settings.silence_check_seconds))
    await pool.execute("update calls set brain = $2 where id = $1", call_id, settings.brain)
    taken_over_by = call["taken_over_by_name"]
    await session.start(history=history_of(lines) if lines else None,
                        greet=greet and not lines and taken_over_by is None)
    if taken_over_by is not None:  # before this session began (a restart): its CallTakenOver is behind us
        await session.take_over(taken_over_by, announce=not announced(lines, taken_over_by, call["taken_over_at"]))
    if lines:
        await session.take_up()
    return session


def announced(lines: list[asyncpg.Record], name: str, since: datetime) -> bool:
    """Whether the agent told the customer of the take-over at ``since`` (a session before this one
    may have been stopped before it could). The agent's line is stamped by its own clock, the take-over
    by the database's: they must agree to well within the moment between the two."""
    line = takeover_line(name)
    return any(row["speaker"] == "agent" and row["text"] == line and row["occurred_at"] >= since for row in lines)


def declare_steering(subscriber: Subscriber[ContextT],
                     session_of: Callable[[ContextT, Envelope], Awaitable[CallSession | None]]) -> None:
    """Declare on ``subscriber`` what the customer, the supervisor (whispering, or having taken the call
    over) or a tool decision asks of a running
    session; ``session_of`` finds the event's session (None: the call is not live here). Chat calls and
    voice rooms take these alike."""
    subscriber.ignores(ToolPermissionRequest)  # our own request, on the same subject as the decisions

    def steering(act: Callable[[CallSession, Any], Awaitable[None]]) -> Callable[[ContextT, Envelope], Awaitable[None]]:
        async def handle(context: ContextT, event: Envelope) -> None:
            if (session := await session_of(context, event)) is None:
                log.info("%s for a call not live here; ignored", event.type)
            else:
                await act(session, event)
        return handle

    async def decided(session: CallSession, event: ToolPermissionDecision) -> None:
        session.decided(event)

    subscriber.handles(CustomerMessage)(steering(
        lambda session, event: session.receive(event.text, event_id=event.event_id)))
    subscriber.handles(WhisperPause)(steering(lambda session, _: session.pause()))
    subscriber.handles(WhisperInject)(steering(lambda session, event: session.inject(event.instructions)))
    subscriber.handles(ToolPermissionDecision)(steering(decided))
    subscriber.handles(SupervisorMessage)(steering(lambda session, event: session.supervisor_said(event.text)))
    subscriber.handles(CallTakenOver)(steering(lambda session, event: session.take_over(event.by_name)))
    subscriber.handles(CallHandedBack)(steering(lambda session, _: session.hand_back()))
