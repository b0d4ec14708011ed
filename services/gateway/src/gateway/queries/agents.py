"""Agents with their configuration (tools and knowledge), how many a supervisor has and may have, and whose
a number or an agent is."""

from __future__ import annotations

from uuid import UUID

import asyncpg
from pydantic import HttpUrl

from gateway.queries import Reader
from gateway.schemas import AgentIn, AgentOut, AgentPatch, KnowledgeEntry, ToolConfig

SELECT_AGENTS = """
    select a.*, case when exists (select 1 from calls c where c.agent_id = a.id and c.status = 'active')
                     then 'busy' else 'idle' end as status
    from agents a"""


async def _with_configuration(db: Reader, row: asyncpg.Record) -> AgentOut:
    tools = await db.fetch(
        "select name, description, requires_approval, source, mcp_server_url from agent_tools where agent_id = $1 "
        "order by name", row["id"])
    knowledge = await db.fetch(
        "select title, content from knowledge_entries where agent_id = $1 order by created_at, title", row["id"])
    # Stored rows are shown as stored, not validated again: a rule added later (what text may hold, which
    # tools are built in) must not make an agent saved before it unreadable.
    return AgentOut(**{k: row[k] for k in AgentOut.model_fields if k in row.keys()},
                    tools=[ToolConfig.model_construct(**{**dict(t), "mcp_server_url": HttpUrl(t["mcp_server_url"])
                                                         if t["mcp_server_url"] else None}) for t in tools],
                    knowledge=[KnowledgeEntry.model_construct(**dict(k)) for k in knowledge])


async def agent(db: Reader, agent_id: UUID) -> AgentOut | None:
    row = await db.fetchrow(SELECT_AGENTS + " where a.id = $1", agent_id)
    return await _with_configuration(db, row) if row else None


async def agents(db: Reader, supervisor_id: UUID | None) -> list[AgentOut]:
    """By name; all that can be seen when supervisor_id is None."""
    rows = await db.fetch(SELECT_AGENTS + " where ($1::uuid is null or a.supervisor_id = $1) order by a.name",
                          supervisor_id)
    return [await _with_configuration(db, row) for row in rows]


async def exists_or_has_history(db: Reader, agent_id: UUID) -> bool:
    """The agent exists, or did: a deleted agent's history remains in the daily KPIs."""
    return await db.fetchval("""select exists(select 1 from agents where id = $1)
                                or exists(select 1 from agent_daily_kpis where agent_id = $1)""", agent_id)


async def insert(conn: asyncpg.Connection, supervisor_id: UUID, agent: AgentIn) -> UUID:
    """The agent's own row (its tools and knowledge: replace_tools, replace_knowledge); its id."""
    return await conn.fetchval(
        """insert into agents(supervisor_id, name, phone_number, instructions, greeting, voice, tag_taxonomy)
           values ($1, $2, $3, $4, $5, $6, $7) returning id""",
        supervisor_id, agent.name, agent.phone_number, agent.instructions, agent.greeting, agent.voice,
        agent.tag_taxonomy)


async def update(conn: asyncpg.Connection, agent_id: UUID, patch: AgentPatch) -> None:
    """The fields of the agent's own row the patch gives (its tools and knowledge: replace_tools, replace_knowledge)."""
    await conn.execute(
        """update agents set name = coalesce($2, name), phone_number = coalesce($3, phone_number),
                  instructions = coalesce($4, instructions), greeting = coalesce($5, greeting),
                  voice = coalesce($6, voice), active = coalesce($7, active),
                  tag_taxonomy = coalesce($8, tag_taxonomy), updated_at = now()
           where id = $1""",
        agent_id, patch.name, patch.phone_number, patch.instructions, patch.greeting, patch.voice, patch.active,
        patch.tag_taxonomy)


async def delete(conn: asyncpg.Connection, agent_id: UUID) -> None:
    await conn.execute("delete from agents where id = $1", agent_id)


async def replace_tools(conn: asyncpg.Connection, agent_id: UUID, supervisor_id: UUID,
                        tools: list[ToolConfig]) -> None:
    await conn.execute("delete from agent_tools where agent_id = $1", agent_id)
    await conn.executemany(
        """insert into agent_tools(agent_id, supervisor_id, name, description, requires_approval, source,
                                   mcp_server_url)
           values ($1, $2, $3, $4, $5, $6, $7)""",
        [(agent_id, supervisor_id, t.name, t.description, t.requires_approval, t.source,
          str(t.mcp_server_url) if t.mcp_server_url else None) for t in tools])


async def replace_knowledge(conn: asyncpg.Connection, agent_id: UUID, supervisor_id: UUID,
                            entries: list[KnowledgeEntry]) -> None:
    await conn.execute("delete from knowledge_entries where agent_id = $1", agent_id)
    await conn.executemany(
        "insert into knowledge_entries(agent_id, supervisor_id, title, content) values ($1, $2, $3, $4)",
        [(agent_id, supervisor_id, e.title, e.content) for e in entries])


async def count_and_limit(db: Reader, supervisor_id: UUID) -> asyncpg.Record | None:
    """The supervisor's agents and max_agents; None if there is no such supervisor."""
    return await db.fetchrow(
        """select s.max_agents, (select count(*) from agents a where a.supervisor_id = s.id) as agents
           from supervisors s where s.id = $1""", supervisor_id)


async def max_agents(db: Reader, supervisor_id: UUID) -> int:
    return await db.fetchval("select max_agents from supervisors where id = $1", supervisor_id) or 0


async def number_taken(db: Reader, phone_number: str, agent_id: UUID | None) -> bool:
    """Whether an agent other than agent_id has the number, whichever supervisor's (this asks past row-level
    security)."""
    return await db.fetchval("select public.phone_number_taken($1, $2)", phone_number, agent_id)


async def owner(db: Reader, agent_id: UUID) -> UUID | None:
    return await db.fetchval("select supervisor_id from agents where id = $1", agent_id)
