"""One call: a livekit-agents AgentSession built from the agent's configuration, fed the customer's
messages and answering them; tool approval; whisper pause and inject.

A chat call's text goes in and out through the bus, so it needs no LiveKit server. A voice call has
its LiveKit room as the customer's side as well: the session hears the customer there (speech to
text) and speaks its replies there (text to speech); what they type there comes in too. Whatever the
channel, every customer line takes one road: receive() puts it on the transcript and in the inbox,
answered in order after any whisper pause; every line reaches the bus as a transcript chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from livekit import rtc
from livekit.agents import Agent, AgentSession, ChatContext, StopResponse, llm, room_io
from livekit.agents.llm import function_tool
from livekit.agents.voice.run_result import ChatMessageEvent

from agent_worker import mcp_tools, shop
from agent_worker.local_brain import DialogueEngine
from agent_worker.model_files import inference_executor
from agent_worker.speech import VoiceIO
from agent_worker.spoken_text import normalise_transcript
from contracts import outbox
from contracts.bus import Bus
from contracts.calls import ANONYMOUS_CALLER, CallHangup, CallRef, customer_identity
from contracts.envelope import utc_now
from contracts.tools import ToolExecuted, ToolPermissionDecision, ToolPermissionRequest
from contracts.transcripts import TranscriptChunk
from contracts.whisper import WhisperAck

log = logging.getLogger("agent_worker.session")

PAUSE_LINE = "Excuse me for a moment, I need to check something. I'll be right back with you."
RESUME_LINE = "Thank you for waiting."
APPROVAL_LINE = "One moment please, I need my supervisor's approval for that."


@dataclass(frozen=True)
class ToolConfig:
    name: str
    description: str
    requires_approval: bool
    source: str
    mcp_server_url: str | None


@dataclass(frozen=True)
class AgentConfig:
    id: UUID
    supervisor_id: UUID
    name: str
    instructions: str
    greeting: str
    tools: list[ToolConfig]
    knowledge: list[tuple[str, str]]


async def load_agent(conn: asyncpg.Connection, agent_id: UUID) -> AgentConfig | None:
    row = await conn.fetchrow("select id, supervisor_id, name, instructions, greeting from agents where id = $1",
                              agent_id)
    if row is None:
        return None
    tools = await conn.fetch("select name, description, requires_approval, source, mcp_server_url from agent_tools"
                             " where agent_id = $1 order by name", agent_id)
    knowledge = await conn.fetch("select title, content from knowledge_entries where agent_id = $1"
                                 " order by created_at, title", agent_id)
    return AgentConfig(**dict(row), tools=[ToolConfig(**dict(t)) for t in tools],
                       knowledge=[(k["title"], k["content"]) for k in knowledge])


def full_instructions(config: AgentConfig, guidance: list[str], caller: str = "") -> str:
    """The system prompt for a hosted model: role, the caller, the supervisor's instructions, the knowledge."""
    parts = [f"You are {config.name}, a customer-service agent. Be brief, warm and accurate. Use your tools for "
             "anything about orders; never invent order data. If you do not know, say so and offer a ticket.",
             config.instructions]
    if caller and caller != ANONYMOUS_CALLER:
        parts.append(f"When dialling, the customer identified as: {caller}")
    parts += [f"Instruction from your supervisor (follow it from now on): {text}" for text in guidance]
    if config.knowledge:
        parts.append("Knowledge base:\n" + "\n".join(f"- {title}: {content}" for title, content in config.knowledge))
    return "\n\n".join(p for p in parts if p)


ToolRunner = Callable[[ToolConfig, dict[str, Any]], Awaitable[dict[str, Any]]]
Heard = Callable[[str, llm.MetricsReport], Awaitable[None]]
END_CALL = ToolConfig("end_call", "", False, "builtin", None)


class CallAgent(Agent):
    """The agent of one call. What the customer said aloud (a finished turn of speech) goes to ``heard``
    instead of straight into a reply, so spoken and typed lines share one road (CallSession.receive)."""

    def __init__(self, *, heard: Heard, **options: Any) -> None:
        super().__init__(**options)
        self._heard = heard

    async def on_user_turn_completed(self, turn_ctx: ChatContext, new_message: llm.ChatMessage) -> None:
        if text := normalise_transcript(new_message.text_content or "").strip():
            await self._heard(text, new_message.metrics)
        raise StopResponse  # answered from the inbox, in order, after any whisper pause


def build_agent(config: AgentConfig, guidance: list[str], run_tool: ToolRunner,
                history: ChatContext | None = None, mcp_schemas: dict[str, dict[str, Any]] | None = None,
                caller: str = "", heard: Heard | None = None) -> Agent:
    """The livekit-agents Agent for this configuration: instructions, knowledge and its tools
    (built-in ones, and the MCP ones whose servers offered them: ``mcp_schemas``); with ``heard``,
    finished spoken turns go there instead of straight into a reply."""

    def tool(tool_config: ToolConfig, schema: dict[str, Any]) -> Any:
        async def run(raw_arguments: dict[str, Any]) -> dict[str, Any]:
            return await run_tool(tool_config, dict(raw_arguments))

        return function_tool(run, raw_schema=schema)

    schemas = {t.name: shop.SPECS[t.name].raw_schema(t.description) for t in config.tools
               if t.source == "builtin" and t.name in shop.SPECS}
    schemas.update({name: schema for name, schema in (mcp_schemas or {}).items()
                    if any(t.name == name and t.source == "mcp" for t in config.tools)})
    tools = [tool(t, schemas[t.name]) for t in config.tools if t.name in schemas]
    tools.append(tool(END_CALL, shop.SPECS[END_CALL.name].raw_schema()))
    options: dict[str, Any] = {"instructions": full_instructions(config, guidance, caller), "tools": tools,
                               "chat_ctx": history}
    return Agent(**options) if heard is None else CallAgent(heard=heard, **options)


@dataclass
class CallSession:
    ids: CallRef
    config: AgentConfig
    caller: str
    pool: asyncpg.Pool
    bus: Bus
    brain: str
    model: llm.LLM
    engine: DialogueEngine | None  # the local engine, when it is the brain
    approval_timeout: timedelta
    room: rtc.Room | None = None  # the call's LiveKit room, when the customer is in one
    voice: VoiceIO | None = None  # how the session hears and speaks in that room
    next_seq: int = 0
    guidance: list[str] = field(default_factory=list)
    inbox: asyncio.Queue[tuple[str, llm.MetricsReport | None]] = field(default_factory=asyncio.Queue)
    resumed: asyncio.Event = field(default_factory=asyncio.Event)
    decisions: dict[UUID, asyncio.Future[ToolPermissionDecision]] = field(default_factory=dict)
    ending: bool = False
    _agent: Agent | None = None
    _session: AgentSession | None = None
    _task: asyncio.Task[None] | None = None

    async def start(self, history: ChatContext | None = None, greet: bool = True) -> None:
        self.resumed.set()
        mcp_schemas = await mcp_tools.discover(t for t in self.config.tools if t.source == "mcp")
        if self.engine is not None:  # embeds each tool's description: off the event loop
            for name, schema in mcp_schemas.items():
                await asyncio.get_running_loop().run_in_executor(
                    inference_executor(), self.engine.learn_tool, name, schema["description"], schema["parameters"])
        self._agent = build_agent(self.config, self.guidance, self.use_tool, history, mcp_schemas, self.caller,
                                  heard=self.receive)
        if self.voice is None:
            self._session = AgentSession(llm=self.model)
        else:
            self._session = AgentSession(llm=self.model, stt=self.voice.stt, tts=self.voice.tts, vad=self.voice.vad,
                                         turn_handling=self.voice.turn_handling)
        if self.room is None:
            await self._session.start(self._agent)
        else:
            # session_host=False: livekit-agents would otherwise let any participant of the room (the
            # customer) drive and observe the session over it (its RemoteSession protocol).
            await self._session.start(self._agent, room=self.room, room_options=self._room_options(),
                                      session_host=False)
        if greet:
            greeting = self.config.greeting or f"Hello, you're through to {self.config.name}. How can I help you today?"
            await self.say(greeting, add_to_history=True)
        self._task = asyncio.create_task(self._serve(), name=f"call-{self.ids.call_id}")

    def _room_options(self) -> room_io.RoomOptions:
        """Speech both ways with the call's customer (with the voice I/O), the agent's words as captions,
        and what they type. Typed messages go through receive() like chat ones, not straight into a
        reply, so a whisper pause holds them until the supervisor resumes; spoken ones do the same
        through CallAgent.on_user_turn_completed."""

        async def typed_in_room(_session: AgentSession, event: room_io.TextInputEvent) -> None:
            await self.receive(event.text)

        return room_io.RoomOptions(text_input=room_io.TextInputOptions(text_input_cb=typed_in_room),
                                   audio_input=self.voice is not None, audio_output=self.voice is not None,
                                   text_output=True,
                                   participant_identity=customer_identity(self.ids.call_id))

    # --- transcript ----------------------------------------------------------------------------

    async def _transcribe(self, speaker: str, text: str) -> None:
        seq, self.next_seq = self.next_seq, self.next_seq + 1
        chunk = TranscriptChunk(**self.ids.fields(), seq=seq, speaker=speaker, text=text,
                                brain=self.brain if speaker == "agent" else None)
        async with outbox.change(self.pool, self.bus) as change:
            await change.conn.execute(
                """insert into transcript_lines(call_id, seq, supervisor_id, speaker, text, brain, occurred_at)
                   values ($1, $2, $3, $4, $5, $6, $7) on conflict do nothing""",
                self.ids.call_id, seq, self.ids.supervisor_id, speaker, text, chunk.brain, chunk.occurred_at)
            change.events.append(chunk)

    async def say(self, text: str, add_to_history: bool = False) -> None:
        """Something the agent says outside a turn (greeting, pause, approval wait). On the transcript
        first: in a room, saying it aloud takes as long as the audio, and the customer may answer
        before it ends."""
        await self._transcribe("agent", text)
        if self.room is not None and self._session is not None:
            await self._session.say(text, add_to_chat_ctx=add_to_history)  # to the customer in the room
        elif add_to_history and self._agent is not None:
            context = self._agent.chat_ctx.copy()
            context.add_message(role="assistant", content=text)
            await self._agent.update_chat_ctx(context)

    # --- the conversation ----------------------------------------------------------------------

    async def receive(self, text: str, spoken: llm.MetricsReport | None = None) -> None:
        """A customer message (typed, or ``spoken``: its timings as livekit-agents measured them): on the
        transcript at once; answered in order, after any pause."""
        await self._transcribe("customer", text)
        self.inbox.put_nowait((text, spoken))

    async def _serve(self) -> None:
        while True:
            text, spoken = await self.inbox.get()
            await self.resumed.wait()
            try:
                await self._turn(text, spoken)
            except Exception:
                log.exception("the agent failed to answer")
                await self.say("I'm sorry, something went wrong on my side. Could you say that again?")
            if self.ending:
                await self.bus.publish(CallHangup(**self.ids.fields(), by="agent", reason="resolved"))
                return

    async def _turn(self, text: str, spoken: llm.MetricsReport | None) -> None:
        assert self._session is not None
        result = await self._session.run(user_input=text)
        for event in result.events:
            if isinstance(event, ChatMessageEvent) and event.item.role == "assistant" and event.item.text_content:
                await self._transcribe("agent", event.item.text_content)
                if spoken is not None:
                    log_voice_turn(self.ids, spoken, event.item.metrics)
                    spoken = None  # the first reply answered the customer; later ones (after a tool) follow it

    # --- whisper -------------------------------------------------------------------------------

    async def pause(self) -> None:
        if not self.resumed.is_set():
            return
        self.resumed.clear()
        await self.say(PAUSE_LINE, add_to_history=True)
        await self.bus.publish(WhisperAck(**self.ids.fields(), stage="paused",
                                       message="Paused: the customer was told you are checking something"))

    async def inject(self, instructions: str) -> None:
        self.guidance.append(instructions)
        if self.engine is not None:  # embeds the instructions: off the event loop
            await asyncio.get_running_loop().run_in_executor(inference_executor(), self.engine.add_guidance,
                                                             instructions)
        if self._agent is not None:
            await self._agent.update_instructions(full_instructions(self.config, self.guidance, self.caller))
        await self.bus.publish(WhisperAck(**self.ids.fields(), stage="received", message="Received"))
        if not self.resumed.is_set():
            await self.say(RESUME_LINE, add_to_history=True)
            self.resumed.set()
            await self.bus.publish(WhisperAck(**self.ids.fields(), stage="resumed",
                                           message=f"Resumed; {self.inbox.qsize()} waiting message(s) answered next"))

    # --- tools ---------------------------------------------------------------------------------

    async def use_tool(self, config: ToolConfig, arguments: dict[str, Any]) -> dict[str, Any]:
        if config.name == "end_call":
            self.ending = True
            return {"ok": True, "message": "Thank you for calling. Goodbye!"}
        request_id = uuid4()
        expires_at = utc_now() + self.approval_timeout if config.requires_approval else None
        reason = str(arguments.get("reason", ""))[:1000]
        # Registered before the request is announced: a decision can never beat its waiter.
        decided: asyncio.Future[ToolPermissionDecision] | None = None
        if config.requires_approval:
            decided = self.decisions[request_id] = asyncio.get_running_loop().create_future()
        async with outbox.change(self.pool, self.bus) as change:
            await change.conn.execute(
                """insert into tool_requests(id, call_id, supervisor_id, agent_id, tool_name, arguments, reason,
                                             requires_approval, status, expires_at)
                   values ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9)""",
                request_id, self.ids.call_id, self.ids.supervisor_id, self.ids.agent_id, config.name, arguments,
                reason, config.requires_approval, expires_at)
            if config.requires_approval:
                change.events.append(ToolPermissionRequest(**self.ids.fields(), request_id=request_id,
                                                           tool_name=config.name, arguments=arguments, reason=reason,
                                                           expires_at=expires_at))
        if decided is not None:
            allowed, note = await self._wait_for_supervisor(request_id, decided)
            if not allowed:
                why = f" ({note})" if note else ""
                return {"ok": False, "message": f"I'm sorry, I'm not able to do that right now{why}. "
                                                "Is there anything else I can help with?"}
        return await self._execute(request_id, config, arguments, approved=config.requires_approval)

    async def _wait_for_supervisor(self, request_id: UUID,
                                   decided: asyncio.Future[ToolPermissionDecision]) -> tuple[bool, str]:
        await self.say(APPROVAL_LINE)
        try:
            decision = await asyncio.wait_for(decided, self.approval_timeout.total_seconds())
            return decision.allowed, decision.note
        except TimeoutError:
            return await self._time_out(request_id)
        finally:
            self.decisions.pop(request_id, None)

    async def _time_out(self, request_id: UUID) -> tuple[bool, str]:
        """No answer in time counts as deny, unless a decision landed in the database first."""
        async with outbox.change(self.pool, self.bus) as change:
            if await change.conn.fetchval(
                    "update tool_requests set status = 'timed_out', decided_at = now()"
                    " where id = $1 and status = 'pending' returning true", request_id):
                change.events.append(ToolPermissionDecision(**self.ids.fields(), request_id=request_id, allowed=False,
                                                            decided_by="timeout", note="no answer in time"))
        if change.events:
            return False, "my supervisor isn't available to approve it"
        row = await self.pool.fetchrow("select status, note from tool_requests where id = $1", request_id)
        return row["status"] == "allowed", row["note"]

    def decided(self, decision: ToolPermissionDecision) -> None:
        waiting = self.decisions.get(decision.request_id)
        if waiting is not None and not waiting.done():
            waiting.set_result(decision)

    async def _execute(self, request_id: UUID, config: ToolConfig, arguments: dict[str, Any],
                       approved: bool) -> dict[str, Any]:
        tool = config.name
        if config.source == "mcp" and config.mcp_server_url:
            result = await mcp_tools.call(config.mcp_server_url, tool, arguments)
        else:
            async with self.pool.acquire() as conn:
                result = await perform(conn, tool, arguments, self.ids)
        ok = bool(result.get("ok"))
        async with outbox.change(self.pool, self.bus) as change:
            await change.conn.execute(
                "update tool_requests set status = $2, result = $3, error = $4 where id = $1",
                request_id, "executed" if ok else "failed", result, None if ok else result.get("message"))
            change.events.append(ToolExecuted(**self.ids.fields(), request_id=request_id if approved else None,
                                              tool_name=tool, arguments=arguments, ok=ok, result=result,
                                              error=None if ok else str(result.get("message"))))
        return result

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for waiting in self.decisions.values():
            waiting.cancel()
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.aclose()


def log_voice_turn(ids: CallRef, heard: llm.MetricsReport, reply: llm.MetricsReport) -> None:
    """One line per spoken turn with where its latency went, for operators and ``make bench``:
    deciding the customer had finished, transcribing, the brain's first words, the voice's first audio,
    and in all from the end of their speech to the agent's first sound."""
    parts = {"end_of_turn_ms": heard.get("end_of_turn_delay"), "stt_ms": heard.get("transcription_delay"),
             "brain_ms": reply.get("llm_node_ttft"), "tts_ms": reply.get("tts_node_ttfb")}
    stopped, started = heard.get("stopped_speaking_at"), reply.get("started_speaking_at")
    parts["reply_after_ms"] = started - stopped if stopped and started else None
    log.info("voice turn", extra={"call_id": str(ids.call_id), **{
        name: round(seconds * 1000) for name, seconds in parts.items() if seconds is not None}})


async def perform(conn: asyncpg.Connection, tool: str, arguments: dict[str, Any], ids: CallRef) -> dict[str, Any]:
    """Run a built-in tool; what it cannot do comes back as ``ok: false`` with a message, never raised."""
    try:
        return await run_builtin(conn, tool, arguments, ids)
    except shop.ToolFailure as exc:
        return {"ok": False, "message": str(exc)}
    except KeyError as exc:
        return {"ok": False, "message": f"I still need the {str(exc).strip(chr(39)).replace('_', ' ')}."}
    except (TypeError, ValueError, ArithmeticError) as exc:
        return {"ok": False, "message": f"I couldn't use {tool.replace('_', ' ')} with that: {exc}"}


async def run_builtin(conn: asyncpg.Connection, tool: str, arguments: dict[str, Any], ids: CallRef) -> dict[str, Any]:
    if tool == "order_lookup":
        return await shop.order_lookup(conn, str(arguments["order_id"]))
    if tool == "refund_order":
        amount = arguments.get("amount")
        return await shop.refund_order(conn, str(arguments["order_id"]), float(amount) if amount is not None else None,
                                       str(arguments.get("reason", "")), call_id=ids.call_id)
    if tool == "change_address":
        return await shop.change_address(conn, str(arguments["order_id"]), str(arguments["new_address"]))
    if tool == "create_ticket":
        return await shop.create_ticket(conn, str(arguments.get("subject", "")), str(arguments.get("details", "")),
                                        arguments.get("email"), call_id=ids.call_id, supervisor_id=ids.supervisor_id)
    raise shop.ToolFailure(f"the tool {tool} is not available")
