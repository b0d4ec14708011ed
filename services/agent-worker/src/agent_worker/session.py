"""One call: the agent's conversation (agent_worker.conversation) fed the customer's messages and
answering them, its transcript (agent_worker.transcript), its tools (agent_worker.approval,
agent_worker.dispatch), the supervisor's whisper pause and inject, and a person taking the call over
(the agent says so once and stays silent; the customer's lines are kept and answered when the call is
handed back, with the person's lines in the agent's context; in a room, what the person says there is
transcribed as the supervisor's: agent_worker.room_listener).

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
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from livekit import rtc
from livekit.agents import ChatContext, llm

from agent_worker import dispatch, mcp_tools
from agent_worker.agent import AgentConfig, ToolConfig, build_agent, full_instructions, history_of
from agent_worker.approval import APPROVAL_LINE, Execute, ToolApproval, ToolRequest
from agent_worker.conversation import Conversation
from agent_worker.local_brain import DialogueEngine
from agent_worker.model_files import inference_executor
from agent_worker.room_listener import RoomListener
from agent_worker.speech import VoiceIO
from agent_worker.transcript import LineNumberTaken, TranscriptWriter
from contracts import outbox
from contracts.bus import Bus
from contracts.calls import CallHangup, CallRef, customer_identity, supervisor_identity
from contracts.results import NotificationCreated
from contracts.tools import ToolPermissionDecision
from contracts.whisper import WhisperAck

log = logging.getLogger("agent_worker.session")

PAUSE_LINE = "Excuse me for a moment, I need to check something. I'll be right back with you."
RESUME_LINE = "Thank you for waiting."
HUMAN_REQUESTED = ("I'm an AI assistant, but I've asked my supervisor to join us; if they're free, they'll take over "
                   "in a moment. Meanwhile, I'm happy to keep helping.")
HUMAN_ALREADY_REQUESTED = "I've already asked my supervisor to join; they'll be with you if they're free."
NOBODY_CAME = "I'm sorry, nobody from the team is free to join right now, so I'll carry on helping you myself."
NOT_PAUSED_TAKEN_OVER = "Not paused: the call was taken over, the agent is silent until it is handed back"
TAKEN_OVER_REFUSAL = "A colleague has taken this call over, so I can't do that now."
BACK_LINE = "I'm back with you. Is there anything else I can help with?"
STILL_THERE_LINE = "Are you still there? I'm here whenever you're ready."
WENT_WRONG = "I'm sorry, something went wrong on my side. Could you say that again?"
TAKEOVER_LINE_END = " from our team is joining the conversation now and will take it from here."


def takeover_line(name: str) -> str:
    return f"{name}{TAKEOVER_LINE_END}"


def paused_when_left(lines: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the transcript (``speaker``, ``text``) ends inside a whisper pause: the agent told the
    customer it was pausing and has not said since that it is back, nor has a person taken the call
    over (which ends a pause). The pause is kept nowhere else: the transcript is what the customer heard."""
    for line in reversed(lines):
        if line["speaker"] == "supervisor":
            return False
        if line["speaker"] == "agent":
            if line["text"] == PAUSE_LINE:
                return True
            if line["text"] == RESUME_LINE or line["text"].endswith(TAKEOVER_LINE_END):
                return False
    return False


# What the agent says while something waits (a tool request's outcome, a whisper pause, the customer):
# none of them tells a request's outcome or answers the customer.
WAITING_LINES = frozenset({APPROVAL_LINE, PAUSE_LINE, RESUME_LINE, STILL_THERE_LINE, NOBODY_CAME})


def answered_lines(lines: Sequence[Mapping[str, Any]], requests: Sequence[ToolRequest] = ()) -> int:
    """How many of the transcript's first lines (``seq``, ``speaker``, ``text``) had their answer: all up
    to the last line that answers the customer. That is a person's line, a line of the agent's other
    than those it says while something waits (WAITING_LINES: the approval wait, a whisper pause), or a
    customer line a tool request's turn was answering: the request is its answer, seen through rather
    than asked again. A line the customer added while that turn ran is not: it waits for its own."""
    answered_by_request = max((request.answers_seq for request in requests if request.answers_seq is not None),
                              default=-1)
    return max((i + 1 for i, line in enumerate(lines)
                if (line["speaker"] != "customer" and line["text"] not in WAITING_LINES)
                or (line["speaker"] == "customer" and line["seq"] <= answered_by_request)), default=0)


def left_to_see_through(lines: Sequence[Mapping[str, Any]],
                        requests: Sequence[ToolRequest]) -> list[tuple[ToolRequest, bool]]:
    """The tool requests (oldest first) whose outcome the customer has not been told: left unfinished,
    or recorded with no line after them that could have told it (the earlier session stopped between
    recording and saying it). Each with whether the customer was told it waits for the supervisor."""
    left = []
    for i, request in enumerate(requests):
        after = [line for line in lines if line["occurred_at"] > request.requested_at]
        told = any(line["speaker"] != "customer" and line["text"] not in WAITING_LINES for line in after)
        if request.unfinished or (request.result is not None and not told):
            until = requests[i + 1].requested_at if i + 1 < len(requests) else None
            left.append((request, any(line["speaker"] == "agent" and line["text"] == APPROVAL_LINE
                                      and (until is None or line["occurred_at"] < until) for line in after)))
    return left


__all__ = ["APPROVAL_LINE", "BACK_LINE", "PAUSE_LINE", "RESUME_LINE", "CallSession", "takeover_line"]
SessionTool = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Said:
    """What the customer said, waiting in the inbox for its answer: the words, how the speech was timed
    (spoken lines), and the transcript line it is (the last of them, when several wait as one)."""

    text: str
    spoken: llm.MetricsReport | None
    seq: int


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
    human_wait: timedelta = timedelta(seconds=60)  # how long a customer who asked for a person waits for one
    # A connected customer silent this long is asked once whether they are still there; silent as long
    # again, the call ends as abandoned.
    silence: timedelta = timedelta(minutes=3)
    # a person handles the call (take_over): the agent answers nothing until handed back
    taken_over: bool = field(default=False, init=False)
    room: rtc.Room | None = None  # the call's LiveKit room, when the customer is in one
    voice: VoiceIO | None = None  # how the session hears and speaks in that room
    next_seq: int = 0  # where the transcript goes on (after a restart, past the lines already written)
    guidance: list[str] = field(default_factory=list)
    inbox: asyncio.Queue[Said] = field(default_factory=asyncio.Queue)
    resumed: asyncio.Event = field(default_factory=asyncio.Event)
    ending: bool = False
    transcript: TranscriptWriter = field(init=False)
    approval: ToolApproval = field(init=False)
    conversation: Conversation = field(init=False)
    _task: asyncio.Task[None] | None = None
    _waiting_for_human: asyncio.Task[None] | None = None
    _silence_watch: asyncio.Task[None] | None = None
    _carrying_on: asyncio.Task[None] | None = None  # the tool requests an earlier owner of the call left
    _supervisor_heard: RoomListener | None = None  # in a room, while a person has the call
    _last_heard: float = field(default_factory=time.monotonic)
    _asked_if_there: bool = False
    _answering: int | None = None  # the customer line (seq) of the turn running now: its tool requests answer it

    def __post_init__(self) -> None:
        self.transcript = TranscriptWriter(self.ids, self.pool, self.bus, self.brain, self.next_seq)
        self.approval = ToolApproval(self.ids, self.pool, self.bus, self.approval_timeout, announce=self.say)
        self.conversation = Conversation(self.model, self.room, self.voice)
        # The tools every agent has, carried out here rather than over the shop.
        self._session_tools: dict[str, SessionTool] = {"end_call": self._end_call, "request_human": self._request_human}

    async def start(self, history: ChatContext | None = None, greet: bool = True) -> None:
        self.resumed.set()
        mcp_schemas = await mcp_tools.discover(t for t in self.config.tools if t.source == "mcp")
        if self.engine is not None:  # embeds each tool's description: off the event loop
            for name, schema in mcp_schemas.items():
                await asyncio.get_running_loop().run_in_executor(
                    inference_executor(), self.engine.learn_tool, name, schema["description"], schema["parameters"])
        agent = build_agent(self.config, self.guidance, self.use_tool, history, mcp_schemas, self.caller,
                            heard=self.receive)
        await self.conversation.start(agent, customer_identity(self.ids.call_id), typed=self.receive)
        if greet:
            greeting = self.config.greeting or f"Hello, you're through to {self.config.name}. How can I help you today?"
            await self.say(greeting, add_to_history=True)
        self._task = asyncio.create_task(self._serve(), name=f"call-{self.ids.call_id}")
        self._silence_watch = asyncio.create_task(self._watch_silence(), name=f"silence-{self.ids.call_id}")

    async def say(self, text: str, add_to_history: bool = False) -> None:
        """Something the agent says outside a turn (greeting, pause, approval wait); nothing while a
        person has the call (take_over says its own line)."""
        if self.taken_over:
            log.info("the agent keeps quiet: a person has the call", extra={"call_id": str(self.ids.call_id)})
            return
        await self._speak(text, add_to_history)

    async def _speak(self, text: str, add_to_history: bool = False) -> None:
        """On the transcript first: in a room, saying it aloud takes as long as the audio, and the
        customer may answer before it ends."""
        await self.transcript.write("agent", text)
        await self.conversation.say(text, add_to_history)

    # --- the conversation ----------------------------------------------------------------------

    async def receive(self, text: str, spoken: llm.MetricsReport | None = None,
                      event_id: UUID | None = None) -> None:
        """A customer message (typed, or ``spoken``: its timings as livekit-agents measured them): on the
        transcript at once; answered in order, after any pause; while a person has the call, left for
        them (and answered on hand-back if they did not). A bus message (``event_id``) the call's
        earlier owner stored before it died is not taken twice: take_up answered it."""
        if event_id is not None and await self.transcript.has(event_id):
            log.info("a message the call's earlier owner took; not taken again",
                     extra={"call_id": str(self.ids.call_id)})
            return
        self._last_heard, self._asked_if_there = time.monotonic(), False
        line = await self.transcript.write("customer", text, source_event_id=event_id)
        if not self.taken_over:
            self.inbox.put_nowait(Said(text, spoken, line.seq))

    async def _watch_silence(self) -> None:
        """A customer silent for ``silence`` is asked once whether they are still there; silent as long
        again, they have left: the call ends as abandoned. Silence is not the customer's while a person
        has the call, a whisper pause holds the agent or a tool waits for the supervisor."""
        limit = self.silence.total_seconds()
        while True:
            await asyncio.sleep(max(0.05, limit - (time.monotonic() - self._last_heard)))
            if time.monotonic() - self._last_heard < limit:
                continue  # they spoke meanwhile
            if self.taken_over or not self.resumed.is_set() or self.approval.decisions:
                self._last_heard = time.monotonic()
                continue
            if not self._asked_if_there:
                self._asked_if_there, self._last_heard = True, time.monotonic()
                await self.say(STILL_THERE_LINE, add_to_history=True)
                continue
            log.info("the customer stopped answering; ending the call as abandoned",
                     extra={"call_id": str(self.ids.call_id)})
            await self.bus.publish(CallHangup(**self.ids.fields(), by="agent", reason="the customer stopped answering",
                                              abandoned=True))
            return

    async def _serve(self) -> None:
        while True:
            said = await self.inbox.get()
            await self.resumed.wait()
            if self._carrying_on is not None:  # as a live turn waits for its tool: the outcome first
                await asyncio.wait([self._carrying_on])
            if self.taken_over:
                continue  # on the transcript, for the person; hand_back() answers what they left
            self._answering = said.seq
            try:
                await self._turn(said.text, said.spoken)
            except LineNumberTaken:
                log.warning("the call has another owner now; this session stops answering",
                            extra={"call_id": str(self.ids.call_id)})
                return
            except Exception:
                log.exception("the agent failed to answer")
                await self.say(WENT_WRONG)
            finally:
                self._answering = None
            if self.ending:
                await self.bus.publish(CallHangup(**self.ids.fields(), by="agent", reason="resolved"))
                return

    async def _turn(self, text: str, spoken: llm.MetricsReport | None) -> None:
        for message in await self.conversation.reply(text):
            if self.taken_over:
                return  # taken over while the agent was thinking: the person answers now
            await self.transcript.write("agent", message.text_content or "")
            if spoken is not None:
                log_voice_turn(self.ids, spoken, message.metrics)
                spoken = None  # the first reply answered the customer; later ones (after a tool) follow it

    # --- whisper -------------------------------------------------------------------------------

    async def pause(self) -> None:
        if self.taken_over:
            # Sent just before the take-over reached us: a person has the call, so the agent is not
            # paused, and a pause kept now would still hold it after the hand-back.
            await self.bus.publish(WhisperAck(**self.ids.fields(), stage="resumed", message=NOT_PAUSED_TAKEN_OVER))
            return
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
        await self.conversation.update_instructions(full_instructions(self.config, self.guidance, self.caller))
        await self.bus.publish(WhisperAck(**self.ids.fields(), stage="received", message="Received"))
        if not self.resumed.is_set():
            await self.say(RESUME_LINE, add_to_history=True)
            self.resumed.set()
            await self.bus.publish(WhisperAck(**self.ids.fields(), stage="resumed",
                                           message=f"Resumed; {self.inbox.qsize()} waiting message(s) answered next"))

    # --- tools ---------------------------------------------------------------------------------

    async def use_tool(self, config: ToolConfig, arguments: dict[str, Any]) -> dict[str, Any]:
        if self.taken_over:
            return {"ok": False, "message": TAKEN_OVER_REFUSAL}
        if (own := self._session_tools.get(config.name)) is not None:
            return await own(arguments)
        return await self.approval.run(config, arguments, self._execution(config, arguments), self._answering)

    def _execution(self, config: ToolConfig, arguments: dict[str, Any]) -> Execute:
        return lambda conn: dispatch.execute(conn, self.ids, config, arguments)

    async def _carry_on(self, requests: list[tuple[ToolRequest, bool]]) -> None:
        configured = {tool.name: tool for tool in self.config.tools}
        for request, approval_said in requests:
            # Decided on as it was asked for, even should the agent's configuration have changed since.
            config = configured.get(request.tool_name, ToolConfig(request.tool_name, "", True, "builtin", None))
            try:
                result = await self.approval.carry_on(request, config, self._execution(config, request.arguments),
                                                      approval_said)
            except Exception:
                log.exception("could not carry on with a tool request", extra={"call_id": str(self.ids.call_id)})
                result = {"message": WENT_WRONG}
            await self.say(str(result["message"]), add_to_history=True)

    async def _end_call(self, _arguments: dict[str, Any]) -> dict[str, Any]:
        self.ending = True
        return {"ok": True, "message": "Thank you for calling. Goodbye!"}

    async def _request_human(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The customer wants a person: the supervisor is notified (with what a Take over button needs);
        if nobody takes the call over in time, the customer is told and the agent carries on."""
        if self._waiting_for_human is not None and not self._waiting_for_human.done():
            return {"ok": True, "message": HUMAN_ALREADY_REQUESTED}
        notification_id, reason = uuid4(), str(arguments.get("reason", ""))[:500]
        title = f"{self.config.name}: the customer asks for a person"
        body = f"{self.caller} wants to talk to a person{': ' + reason if reason else ''}. Take the call over?"
        data = {"call_id": str(self.ids.call_id), "agent_id": str(self.ids.agent_id),
                "channel": "voice" if self.room is not None else "chat",
                "takeover_path": f"/api/calls/{self.ids.call_id}/takeover",
                "wait_seconds": self.human_wait.total_seconds()}
        async with outbox.change(self.pool, self.bus) as change:
            await change.conn.execute(
                """insert into notifications(id, supervisor_id, call_id, kind, title, body, data)
                   values ($1, $2, $3, 'human_requested', $4, $5, $6)""",
                notification_id, self.ids.supervisor_id, self.ids.call_id, title, body, data)
            change.events.append(NotificationCreated(**self.ids.fields(), notification_id=notification_id,
                                                     kind="human_requested", title=title, body=body, data=data))
        self._waiting_for_human = asyncio.create_task(self._nobody_came(), name=f"human-{self.ids.call_id}")
        return {"ok": True, "message": HUMAN_REQUESTED}

    async def _nobody_came(self) -> None:
        await asyncio.sleep(self.human_wait.total_seconds())
        if not self.taken_over:
            await self.say(NOBODY_CAME, add_to_history=True)

    # --- a person takes the call over ----------------------------------------------------------

    async def take_over(self, name: str, announce: bool = True) -> None:
        """``name`` (the supervisor) has the call now: say so once (unless it was said before this
        session: ``announce``), then stay silent; in a room, hear them there."""
        if self.taken_over:
            return
        self.taken_over = True
        if self._waiting_for_human is not None:
            self._waiting_for_human.cancel()
        while not self.inbox.empty():  # unanswered lines stay on the transcript, for the person
            self.inbox.get_nowait()
        self.resumed.set()  # a whisper pause is over: the person has the call
        if self.room is not None and self.voice is not None:
            self._supervisor_heard = RoomListener(self.room, supervisor_identity(self.ids.call_id), self.voice,
                                                  self.supervisor_said, {"call_id": str(self.ids.call_id)})
            self._supervisor_heard.start()
        await self.conversation.interrupt()
        if announce:
            await self._speak(takeover_line(name))

    async def supervisor_said(self, text: str) -> None:
        """A line of the person who has the call: written (chat) or said in the room (voice)."""
        await self.transcript.write("supervisor", text)

    async def _stop_hearing_supervisor(self) -> None:
        if self._supervisor_heard is not None:
            heard, self._supervisor_heard = self._supervisor_heard, None
            await heard.close()

    async def hand_back(self) -> None:
        """The agent has the call again: the whole conversation in its context (the person's lines
        marked), and what the customer said since the last answer gets one."""
        if not self.taken_over:
            return
        await self._stop_hearing_supervisor()  # their last words first, on the transcript
        if not await self.resume_from_transcript():
            await self.say(BACK_LINE, add_to_history=True)

    async def take_up(self) -> None:
        """Carry on where the call's earlier session stopped (the instance that owned it died, or LiveKit
        restarted the room's job). The tool requests it left are seen through first, the customer's
        later lines waiting for their outcomes: each told once (and that it waits for the supervisor,
        if it does and they were not told). Then, unless a person has the call, what the customer said
        since their last answer gets one, after any whisper pause the earlier session was in. A line
        that led to a tool request is not answered again: the request is its answer."""
        lines = await self._transcript_lines()
        requests = await self.approval.requests()
        if left := left_to_see_through(lines, requests):
            self._carrying_on = asyncio.create_task(self._carry_on(left), name=f"tools-{self.ids.call_id}")
        if not self.taken_over:
            await self._answer_after(lines, answered_lines(lines, requests))

    async def resume_from_transcript(self) -> bool:
        """The agent has the call again after a person had it: the conversation in its context, and
        what the customer said since their last answer (answered_lines) answered once. False when
        nothing waited for an answer."""
        lines = await self._transcript_lines()
        return await self._answer_after(lines, answered_lines(lines))

    async def _transcript_lines(self) -> list[asyncpg.Record]:
        return await self.pool.fetch("select seq, speaker, text, occurred_at from transcript_lines where call_id = $1"
                                     " order by seq", self.ids.call_id)

    async def _answer_after(self, lines: list[asyncpg.Record], answered: int) -> bool:
        """The conversation up to ``answered`` in the agent's context, with what the agent said while
        waiting after it; the customer's lines after it answered once, after any whisper pause the
        transcript ends in."""
        later = lines[answered:]
        unanswered = [line for line in later if line["speaker"] == "customer"]
        said_since = [line for line in later if line["speaker"] != "customer"]
        await self.conversation.replace_history(history_of([*lines[:answered], *said_since]))
        self.taken_over = False
        if paused_when_left(lines):  # a whisper pause the earlier owner was in: held until resumed
            self.resumed.clear()
        if unanswered:
            self.inbox.put_nowait(Said(" ".join(line["text"] for line in unanswered), None, unanswered[-1]["seq"]))
        return bool(unanswered)

    def decided(self, decision: ToolPermissionDecision) -> None:
        self.approval.decided(decision)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for watch in (self._waiting_for_human, self._silence_watch, self._carrying_on):
            if watch is not None:
                watch.cancel()
        self.approval.close()
        await self._stop_hearing_supervisor()
        await self.conversation.close()


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
