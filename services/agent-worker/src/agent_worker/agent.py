"""What a call's agent is: its configuration from the database, the system prompt made from it, and
the livekit-agents Agent with its tools; and the conversation so far as that Agent's chat context."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
from livekit.agents import Agent, ChatContext, StopResponse, llm
from livekit.agents.llm import function_tool

from agent_worker import shop
from agent_worker.spoken_text import normalise_transcript
from contracts.calls import ANONYMOUS_CALLER

# How a line the supervisor wrote or said (while they had taken the call over) reads in the agent's
# context once it is handed back: the agent did not say it, but the customer heard it from our side.
SUPERVISOR_MARK = "[Supervisor]"

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
             "anything about orders; never invent order data. If you do not know, say so and offer a ticket. "
             "If the customer asks for a person, say honestly that you are an AI agent and use request_human to "
             "ask your supervisor to join.",
             f"Lines starting {SUPERVISOR_MARK} were said to the customer by your supervisor, who had taken the call "
             "over; carry on from them.",
             config.instructions]
    if caller and caller != ANONYMOUS_CALLER:
        parts.append(f"When dialling, the customer identified as: {caller}")
    parts += [f"Instruction from your supervisor (follow it from now on): {text}" for text in guidance]
    if config.knowledge:
        parts.append("Knowledge base:\n" + "\n".join(f"- {title}: {content}" for title, content in config.knowledge))
    return "\n\n".join(p for p in parts if p)


def history_of(lines: Iterable[Mapping[str, Any]]) -> ChatContext:
    """The conversation as the agent's chat context, from transcript lines (``speaker``, ``text``):
    the customer as the user, the agent and the supervisor (marked) as the assistant side."""
    history = ChatContext.empty()
    for line in lines:
        if line["speaker"] == "customer":
            history.add_message(role="user", content=line["text"])
        elif line["speaker"] == "agent":
            history.add_message(role="assistant", content=line["text"])
        elif line["speaker"] == "supervisor":
            history.add_message(role="assistant", content=f"{SUPERVISOR_MARK} {line['text']}")
    return history


ToolRunner = Callable[[ToolConfig, dict[str, Any]], Awaitable[dict[str, Any]]]
Heard = Callable[[str, llm.MetricsReport], Awaitable[None]]
# Tools every agent has, whatever it is configured with: the session itself carries them out.
SESSION_TOOLS = tuple(ToolConfig(name, "", False, "builtin", None) for name in ("end_call", "request_human"))


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
    tools += [tool(t, shop.SPECS[t.name].raw_schema()) for t in SESSION_TOOLS]
    options: dict[str, Any] = {"instructions": full_instructions(config, guidance, caller), "tools": tools,
                               "chat_ctx": history}
    return Agent(**options) if heard is None else CallAgent(heard=heard, **options)
