"""setup(runtime): one CallSession per live call, fed from the bus; nothing runs at import time."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

import asyncpg
from livekit.agents import ChatContext, llm

from agent_worker.config import Settings
from agent_worker.local_brain import DialogueEngine, LocalDialogueLLM
from agent_worker.session import AgentConfig, CallSession, Ids, load_agent
from contracts.bus import Bus, EventConsumer
from contracts.calls import CallEnded, CallStarted, CustomerMessage
from contracts.envelope import Envelope
from contracts.service import Runtime
from contracts.subjects import topic_filter
from contracts.tools import ToolPermissionDecision, ToolPermissionRequest
from contracts.whisper import WhisperInject, WhisperPause
from text_models.embedding import shared_embedder

log = logging.getLogger("agent_worker")
DURABLE = "agent-worker"
ACCEPTS = (CallStarted, CustomerMessage, WhisperPause, WhisperInject, ToolPermissionRequest, ToolPermissionDecision,
           CallEnded)


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


@dataclass
class Worker:
    pool: asyncpg.Pool
    bus: Bus
    settings: Settings
    sessions: dict[UUID, CallSession] = field(default_factory=dict)

    async def handle(self, event: Envelope) -> None:
        if isinstance(event, CallStarted):
            await self.session_for(event.call_id, greet=True)
        elif isinstance(event, CallEnded):
            session = self.sessions.pop(event.call_id, None)
            if session is not None:
                await session.close()
        elif isinstance(event, ToolPermissionRequest):
            return  # our own request, on the same subject as the decisions
        elif (session := await self.session_for(event.call_id, greet=False)) is None:
            log.info("%s for a call that is not live; ignored", event.type)
        elif isinstance(event, CustomerMessage):
            await session.receive(event.text)
        elif isinstance(event, WhisperPause):
            await session.pause()
        elif isinstance(event, WhisperInject):
            await session.inject(event.instructions)
        elif isinstance(event, ToolPermissionDecision):
            session.decided(event)

    async def session_for(self, call_id: UUID | None, greet: bool) -> CallSession | None:
        """The call's session; after a restart, rebuilt from the database with the transcript so far."""
        if call_id is None:
            return None
        if call_id in self.sessions:
            return self.sessions[call_id]
        async with self.pool.acquire() as conn:
            call = await conn.fetchrow("select supervisor_id, agent_id, status, caller from calls where id = $1",
                                       call_id)
            if call is None or call["status"] != "active" or call["agent_id"] is None:
                return None
            config = await load_agent(conn, call["agent_id"])
            lines = await conn.fetch("select seq, speaker, text from transcript_lines where call_id = $1 order by seq",
                                     call_id)
        if config is None:
            return None
        session = self._new_session(Ids(call["supervisor_id"], call["agent_id"], call_id), config, call["caller"])
        session.next_seq = (lines[-1]["seq"] + 1) if lines else 0
        history = ChatContext.empty()
        for line in lines:
            if line["speaker"] in ("customer", "agent"):
                history.add_message(role="user" if line["speaker"] == "customer" else "assistant", content=line["text"])
        self.sessions[call_id] = session
        await self.pool.execute("update calls set brain = $2 where id = $1", call_id, self.settings.brain)
        await session.start(history=history if lines else None, greet=greet and not lines)
        return session

    def _new_session(self, ids: Ids, config: AgentConfig, caller: str) -> CallSession:
        engine = DialogueEngine(shared_embedder(), config.name, config.knowledge, [t.name for t in config.tools]
                                + ["end_call"], {t.name: t.description for t in config.tools if t.description},
                                caller=caller)
        model = build_model(self.settings, engine)
        return CallSession(ids=ids, config=config, caller=caller, pool=self.pool, bus=self.bus,
                           brain=self.settings.brain,
                           model=model, engine=engine if isinstance(model, LocalDialogueLLM) else None,
                           approval_timeout=timedelta(seconds=self.settings.tool_approval_timeout_seconds))

    async def close(self) -> None:
        for session in list(self.sessions.values()):
            await session.close()
        self.sessions.clear()


async def setup(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, Settings) and runtime.pool is not None
    runtime.health_details.update(brain=settings.brain,
                                  tool_approval_timeout_seconds=settings.tool_approval_timeout_seconds)
    shared_embedder()  # load the model before the first call, not during it
    worker = Worker(runtime.pool, runtime.bus, settings)
    topics = sorted({event.topic for event in ACCEPTS})
    consumer = EventConsumer(runtime.bus, DURABLE, [topic_filter(t) for t in topics], worker.handle, accepts=ACCEPTS)
    runtime.run_forever(_run_then_close(consumer, worker, runtime))


async def _run_then_close(consumer: EventConsumer, worker: Worker, runtime: Runtime) -> None:
    try:
        await consumer.run(runtime.stop)
    finally:
        await worker.close()


