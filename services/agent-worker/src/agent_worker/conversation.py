"""The livekit-agents side of a call: one AgentSession running the call's Agent, alone for a chat
call or in the call's LiveKit room (hearing and speaking there) for a voice call."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from livekit import rtc
from livekit.agents import Agent, AgentSession, ChatContext, llm, room_io
from livekit.agents.voice.run_result import ChatMessageEvent

from agent_worker.speech import VoiceIO


@dataclass
class Conversation:
    model: llm.LLM
    room: rtc.Room | None = None  # the call's LiveKit room, when the customer is in one
    voice: VoiceIO | None = None  # how the session hears and speaks in that room
    _agent: Agent | None = None
    _session: AgentSession | None = None

    async def start(self, agent: Agent, customer: str, typed: Callable[[str], Awaitable[None]]) -> None:
        """Run ``agent``; in a room, with ``customer`` (a participant identity) as the one it hears, and
        what anyone types there going to ``typed``."""
        self._agent = agent
        if self.voice is None:
            self._session = AgentSession(llm=self.model)
        else:
            self._session = AgentSession(llm=self.model, stt=self.voice.stt, tts=self.voice.tts, vad=self.voice.vad,
                                         turn_handling=self.voice.turn_handling)
        if self.room is None:
            await self._session.start(agent)
        else:
            # session_host=False: livekit-agents would otherwise let any participant of the room (the
            # customer) drive and observe the session over it (its RemoteSession protocol).
            await self._session.start(agent, room=self.room, room_options=self._room_options(customer, typed),
                                      session_host=False)

    def _room_options(self, customer: str, typed: Callable[[str], Awaitable[None]]) -> room_io.RoomOptions:
        """Speech both ways with the call's customer (with the voice I/O), the agent's words as captions,
        and what they type. Typed messages go to ``typed`` (CallSession.receive) like chat ones, not
        straight into a reply, so a whisper pause holds them until the supervisor resumes; spoken ones
        do the same through CallAgent.on_user_turn_completed."""

        async def typed_in_room(_session: AgentSession, event: room_io.TextInputEvent) -> None:
            await typed(event.text)

        return room_io.RoomOptions(text_input=room_io.TextInputOptions(text_input_cb=typed_in_room),
                                   audio_input=self.voice is not None, audio_output=self.voice is not None,
                                   text_output=True, participant_identity=customer)

    async def say(self, text: str, add_to_history: bool = False) -> None:
        """Something the agent says outside a turn: aloud (and as a caption) in a room; in a chat call
        the transcript carries it, so it only joins the agent's history when asked."""
        if self.room is not None and self._session is not None:
            await self._session.say(text, add_to_chat_ctx=add_to_history)
        elif add_to_history and self._agent is not None:
            context = self._agent.chat_ctx.copy()
            context.add_message(role="assistant", content=text)
            await self._agent.update_chat_ctx(context)

    async def reply(self, text: str) -> list[llm.ChatMessage]:
        """One turn: ``text`` from the customer in, the agent's messages out (several when a tool ran)."""
        assert self._session is not None
        result = await self._session.run(user_input=text)
        return [event.item for event in result.events
                if isinstance(event, ChatMessageEvent) and event.item.role == "assistant" and event.item.text_content]

    async def interrupt(self) -> None:
        """Stop whatever the agent is saying (aloud, in a room)."""
        if self.room is not None and self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.interrupt()

    async def update_instructions(self, instructions: str) -> None:
        if self._agent is not None:
            await self._agent.update_instructions(instructions)

    async def replace_history(self, history: ChatContext) -> None:
        if self._agent is not None:
            await self._agent.update_chat_ctx(history)

    async def close(self) -> None:
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.aclose()
