"""A livekit-agents LLM whose "model" is a script the test writes: each turn of the brain takes the next
step, a text to say or a tool to call. It subclasses livekit-agents' own llm.LLM and LLMStream, so an
AgentSession runs it like any brain, tools, chat context and all, and nothing is patched.

Every chat context it was given is kept (``seen``), for tests that check what the agent knew."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from livekit.agents import llm
from livekit.agents.llm import ChatChunk, ChatContext, ChoiceDelta, FunctionToolCall
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


Step = str | ToolCall


class ScriptedLLM(llm.LLM):
    def __init__(self, *steps: Step) -> None:
        super().__init__()
        self.steps: list[Step] = list(steps)
        self.seen: list[ChatContext] = []

    def script(self, *steps: Step) -> None:
        self.steps += steps

    @property
    def model(self) -> str:
        return "scripted"

    @property
    def provider(self) -> str:
        return "tests"

    def chat(self, *, chat_ctx: ChatContext, tools: list[llm.Tool] | None = None,
             conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS, **_: Any) -> llm.LLMStream:
        self.seen.append(chat_ctx.copy())
        step = self.steps.pop(0) if self.steps else "(the script has no more steps)"
        return _ScriptedStream(self, step, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)


class _ScriptedStream(llm.LLMStream):
    def __init__(self, model: ScriptedLLM, step: Step, **options: Any) -> None:
        super().__init__(model, **options)
        self._step = step

    async def _run(self) -> None:
        chunk_id = uuid.uuid4().hex
        if isinstance(self._step, ToolCall):
            call = FunctionToolCall(name=self._step.name, arguments=json.dumps(self._step.arguments),
                                    call_id=f"call_{uuid.uuid4().hex[:12]}")
            self._event_ch.send_nowait(ChatChunk(id=chunk_id, delta=ChoiceDelta(role="assistant", tool_calls=[call])))
        else:
            self._event_ch.send_nowait(ChatChunk(id=chunk_id, delta=ChoiceDelta(role="assistant", content=self._step)))
