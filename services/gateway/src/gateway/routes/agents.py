"""Agents and their configuration. A supervisor manages their own; an admin any (RLS enforces both)."""

from __future__ import annotations

from uuid import UUID

import asyncpg
from fastapi import APIRouter, Response
from pydantic import HttpUrl

from contracts.locks import LockKey, lock_for_transaction
from contracts.tools import BUILTIN_TOOLS
from gateway import audit
from gateway.deps import CurrentUser, Db
from gateway.errors import ApiError, not_found
from gateway.schemas import AgentIn, AgentOut, AgentPatch, CatalogTool, KnowledgeEntry, ToolConfig
from gateway.tokens import Principal

router = APIRouter(prefix="/api/agents", tags=["agents"])
catalog_router = APIRouter(prefix="/api/tool-catalog", tags=["agents"])


@catalog_router.get("", response_model=list[CatalogTool],
                    summary="The built-in tools an agent can be given, and whether approval is suggested")
async def tool_catalog(_: CurrentUser) -> list[CatalogTool]:
    return [CatalogTool(name=name, description=description, approval_suggested=approval)
            for name, description, approval in BUILTIN_TOOLS]

SELECT_AGENTS = """
    select a.*, case when exists (select 1 from calls c where c.agent_id = a.id and c.status = 'active')
                     then 'busy' else 'idle' end as status
    from agents a"""


async def agent_out(conn: asyncpg.Connection, row: asyncpg.Record) -> AgentOut:
    tools = await conn.fetch(
        "select name, description, requires_approval, source, mcp_server_url from agent_tools where agent_id = $1 "
        "order by name", row["id"])
    knowledge = await conn.fetch(
        "select title, content from knowledge_entries where agent_id = $1 order by created_at, title", row["id"])
    # Stored rows are shown as stored, not validated again: a rule added later (what text may hold, which
    # tools are built in) must not make an agent saved before it unreadable.
    return AgentOut(**{k: row[k] for k in AgentOut.model_fields if k in row.keys()},
                    tools=[ToolConfig.model_construct(**{**dict(t), "mcp_server_url": HttpUrl(t["mcp_server_url"])
                                                         if t["mcp_server_url"] else None}) for t in tools],
                    knowledge=[KnowledgeEntry.model_construct(**dict(k)) for k in knowledge])


async def fetch_agent(conn: asyncpg.Connection, agent_id: UUID) -> AgentOut:
    row = await conn.fetchrow(SELECT_AGENTS + " where a.id = $1", agent_id)
    if row is None:
        raise not_found("agent")
    return await agent_out(conn, row)


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


def owner_for_new_agent(principal: Principal, requested: UUID | None) -> UUID:
    if principal.is_admin:
        if requested is None:
            raise ApiError(422, "invalid_request", "an admin must say whose agent it is: supervisor_id")
        return requested
    if requested not in (None, principal.user_id):
        raise ApiError(403, "forbidden", "a supervisor can only create their own agents")
    return principal.user_id


async def check_agent_limit(conn: asyncpg.Connection, supervisor_id: UUID) -> None:
    # Serialise creations for this supervisor so two concurrent requests cannot both take the last place.
    await lock_for_transaction(conn, LockKey.SUPERVISOR_AGENTS, supervisor_id)
    row = await conn.fetchrow(
        """select s.max_agents, (select count(*) from agents a where a.supervisor_id = s.id) as agents
           from supervisors s where s.id = $1""", supervisor_id)
    if row is None:
        raise not_found("supervisor")
    if row["agents"] >= row["max_agents"]:
        raise ApiError(409, "agent_limit_reached",
                       f"this supervisor already has {row['agents']} agents, the most allowed ({row['max_agents']}); "
                       "delete one or ask an admin to raise the limit")


async def number_is_free(conn: asyncpg.Connection, phone_number: str, agent_id: UUID | None = None) -> None:
    # Numbers are unique across all supervisors, which RLS hides from one another: ask as the owner would.
    taken = await conn.fetchval("select public.phone_number_taken($1, $2)", phone_number, agent_id)
    if taken:
        raise ApiError(409, "number_taken", f"the number {phone_number} already belongs to another agent")


@router.get("", response_model=list[AgentOut], summary="Your agents (an admin: all, or one supervisor's)")
async def list_agents(principal: CurrentUser, db: Db, supervisor_id: UUID | None = None) -> list[AgentOut]:
    async with db.as_user(principal) as conn:
        rows = await conn.fetch(SELECT_AGENTS + " where ($1::uuid is null or a.supervisor_id = $1) order by a.name",
                                supervisor_id)
        return [await agent_out(conn, row) for row in rows]


@router.post("", response_model=AgentOut, status_code=201, summary="Create an agent with its configuration")
async def create_agent(body: AgentIn, principal: CurrentUser, db: Db) -> AgentOut:
    supervisor_id = owner_for_new_agent(principal, body.supervisor_id)
    async with db.as_user(principal) as conn:
        await check_agent_limit(conn, supervisor_id)
        await number_is_free(conn, body.phone_number)
        agent_id = await conn.fetchval(
            """insert into agents(supervisor_id, name, phone_number, instructions, greeting, voice, tag_taxonomy)
               values ($1, $2, $3, $4, $5, $6, $7) returning id""",
            supervisor_id, body.name, body.phone_number, body.instructions, body.greeting, body.voice,
            body.tag_taxonomy)
        await replace_tools(conn, agent_id, supervisor_id, body.tools)
        await replace_knowledge(conn, agent_id, supervisor_id, body.knowledge)
        await audit.record(conn, principal, "agent.create", "agent", agent_id, supervisor_id, name=body.name)
        return await fetch_agent(conn, agent_id)


@router.get("/{agent_id}", response_model=AgentOut, summary="One agent with its configuration")
async def get_agent(agent_id: UUID, principal: CurrentUser, db: Db) -> AgentOut:
    async with db.as_user(principal) as conn:
        return await fetch_agent(conn, agent_id)


@router.patch("/{agent_id}", response_model=AgentOut, summary="Change an agent's configuration")
async def update_agent(agent_id: UUID, body: AgentPatch, principal: CurrentUser, db: Db) -> AgentOut:
    async with db.as_user(principal) as conn:
        agent = await fetch_agent(conn, agent_id)
        if body.phone_number is not None and body.phone_number != agent.phone_number:
            await number_is_free(conn, body.phone_number, agent_id)
        await conn.execute(
            """update agents set name = coalesce($2, name), phone_number = coalesce($3, phone_number),
                      instructions = coalesce($4, instructions), greeting = coalesce($5, greeting),
                      voice = coalesce($6, voice), active = coalesce($7, active),
                      tag_taxonomy = coalesce($8, tag_taxonomy), updated_at = now()
               where id = $1""",
            agent_id, body.name, body.phone_number, body.instructions, body.greeting, body.voice, body.active,
            body.tag_taxonomy)
        if body.tools is not None:
            await replace_tools(conn, agent_id, agent.supervisor_id, body.tools)
        if body.knowledge is not None:
            await replace_knowledge(conn, agent_id, agent.supervisor_id, body.knowledge)
        await audit.record(conn, principal, "agent.update", "agent", agent_id, agent.supervisor_id,
                           fields=sorted(body.model_dump(exclude_none=True)))
        return await fetch_agent(conn, agent_id)


@router.delete("/{agent_id}", status_code=204, summary="Delete an agent (its archived calls stay)")
async def delete_agent(agent_id: UUID, principal: CurrentUser, db: Db) -> Response:
    async with db.as_user(principal) as conn:
        agent = await fetch_agent(conn, agent_id)
        if agent.status == "busy":
            raise ApiError(409, "agent_busy", "the agent is on a call; end the call first")
        await conn.execute("delete from agents where id = $1", agent_id)
        await audit.record(conn, principal, "agent.delete", "agent", agent_id, agent.supervisor_id, name=agent.name)
    return Response(status_code=204)
