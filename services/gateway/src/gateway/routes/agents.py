"""Agents and their configuration. A supervisor manages their own; an admin any (RLS enforces both)."""

from __future__ import annotations

from uuid import UUID

import asyncpg
from fastapi import APIRouter, Response

from contracts.locks import LockKey, lock_for_transaction
from contracts.tools import BUILTIN_TOOLS
from gateway import audit
from gateway.deps import REFLECTS_EVENTS, CurrentUser, Db, DocumentedRoute
from gateway.errors import ApiError, not_found, refusals
from gateway.queries import agents as queries
from gateway.schemas import AgentIn, AgentOut, AgentPatch, CatalogTool
from gateway.tokens import Principal

router = APIRouter(prefix="/api/agents", tags=["agents"], route_class=DocumentedRoute)
catalog_router = APIRouter(prefix="/api/tool-catalog", tags=["agents"], route_class=DocumentedRoute)


@catalog_router.get("", response_model=list[CatalogTool],
                    summary="The built-in tools an agent can be given, and whether approval is suggested")
async def tool_catalog(_: CurrentUser) -> list[CatalogTool]:
    return [CatalogTool(name=name, description=description, approval_suggested=approval)
            for name, description, approval in BUILTIN_TOOLS]


async def fetch_agent(conn: asyncpg.Connection, agent_id: UUID) -> AgentOut:
    agent = await queries.agent(conn, agent_id)
    if agent is None:
        raise not_found("agent")
    return agent


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
    row = await queries.count_and_limit(conn, supervisor_id)
    if row is None:
        raise not_found("supervisor")
    if row["agents"] >= row["max_agents"]:
        raise ApiError(409, "agent_limit_reached",
                       f"this supervisor already has {row['agents']} agents, the most allowed ({row['max_agents']}); "
                       "delete one or ask an admin to raise the limit")


async def number_is_free(conn: asyncpg.Connection, phone_number: str, agent_id: UUID | None = None) -> None:
    # Numbers are unique across all supervisors, which RLS hides from one another: ask as the owner would.
    if await queries.number_taken(conn, phone_number, agent_id):
        raise ApiError(409, "number_taken", f"the number {phone_number} already belongs to another agent")


@router.get("", dependencies=[REFLECTS_EVENTS], response_model=list[AgentOut],
            summary="Your agents (an admin: all, or one supervisor's)")
async def list_agents(principal: CurrentUser, db: Db, supervisor_id: UUID | None = None) -> list[AgentOut]:
    async with db.as_user(principal) as conn:
        return await queries.agents(conn, supervisor_id)


@router.post("", responses=refusals(403, 404, 409),
             response_model=AgentOut, status_code=201, summary="Create an agent with its configuration")
async def create_agent(body: AgentIn, principal: CurrentUser, db: Db) -> AgentOut:
    supervisor_id = owner_for_new_agent(principal, body.supervisor_id)
    async with db.as_user(principal) as conn:
        await check_agent_limit(conn, supervisor_id)
        await number_is_free(conn, body.phone_number)
        agent_id = await queries.insert(conn, supervisor_id, body)
        await queries.replace_tools(conn, agent_id, supervisor_id, body.tools)
        await queries.replace_knowledge(conn, agent_id, supervisor_id, body.knowledge)
        await audit.record(conn, principal, "agent.create", "agent", agent_id, supervisor_id, name=body.name)
        return await fetch_agent(conn, agent_id)


@router.get("/{agent_id}", response_model=AgentOut, summary="One agent with its configuration")
async def get_agent(agent_id: UUID, principal: CurrentUser, db: Db) -> AgentOut:
    async with db.as_user(principal) as conn:
        return await fetch_agent(conn, agent_id)


@router.patch("/{agent_id}", responses=refusals(409),
              response_model=AgentOut, summary="Change an agent's configuration")
async def update_agent(agent_id: UUID, body: AgentPatch, principal: CurrentUser, db: Db) -> AgentOut:
    async with db.as_user(principal) as conn:
        agent = await fetch_agent(conn, agent_id)
        if body.phone_number is not None and body.phone_number != agent.phone_number:
            await number_is_free(conn, body.phone_number, agent_id)
        await queries.update(conn, agent_id, body)
        if body.tools is not None:
            await queries.replace_tools(conn, agent_id, agent.supervisor_id, body.tools)
        if body.knowledge is not None:
            await queries.replace_knowledge(conn, agent_id, agent.supervisor_id, body.knowledge)
        await audit.record(conn, principal, "agent.update", "agent", agent_id, agent.supervisor_id,
                           fields=sorted(body.model_dump(exclude_none=True)))
        return await fetch_agent(conn, agent_id)


@router.delete("/{agent_id}", responses=refusals(409),
               status_code=204, summary="Delete an agent (its archived calls stay)")
async def delete_agent(agent_id: UUID, principal: CurrentUser, db: Db) -> Response:
    async with db.as_user(principal) as conn:
        agent = await fetch_agent(conn, agent_id)
        if agent.status == "busy":
            raise ApiError(409, "agent_busy", "the agent is on a call; end the call first")
        await queries.delete(conn, agent_id)
        await audit.record(conn, principal, "agent.delete", "agent", agent_id, agent.supervisor_id, name=agent.name)
    return Response(status_code=204)
