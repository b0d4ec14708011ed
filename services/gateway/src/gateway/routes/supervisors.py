"""Supervisor management: admins only."""

from __future__ import annotations

from uuid import UUID

import asyncpg
from fastapi import APIRouter, Response

from gateway import audit
from gateway.auth import revoke_sessions
from gateway.deps import AdminUser, AuthDep, Db, DocumentedRoute, SettingsDep
from gateway.errors import not_found, refusals
from gateway.queries import supervisors as queries
from gateway.schemas import SupervisorIn, SupervisorOut, SupervisorPatch

router = APIRouter(prefix="/api/supervisors", tags=["supervisors"], route_class=DocumentedRoute)


async def fetch_supervisor(conn: asyncpg.Connection, supervisor_id: UUID) -> SupervisorOut:
    supervisor = await queries.supervisor(conn, supervisor_id)
    if supervisor is None:
        raise not_found("supervisor")
    return supervisor


@router.get("", response_model=list[SupervisorOut], summary="All supervisors")
async def list_supervisors(admin: AdminUser, db: Db) -> list[SupervisorOut]:
    async with db.as_user(admin) as conn:
        return await queries.supervisors(conn)


@router.post("", responses=refusals(409),
             response_model=SupervisorOut, status_code=201, summary="Create a supervisor account")
async def create_supervisor(body: SupervisorIn, admin: AdminUser, db: Db, auth: AuthDep,
                            settings: SettingsDep) -> SupervisorOut:
    max_agents = body.max_agents if body.max_agents is not None else settings.max_agents_per_supervisor
    async with db.as_service() as conn:
        user_id = await auth.create_user(conn, body.email, body.password, "supervisor", body.full_name)
        await queries.insert(conn, user_id, max_agents)
        await audit.record(conn, admin, "supervisor.create", "supervisor", user_id, user_id, email=body.email)
        return await fetch_supervisor(conn, user_id)


@router.get("/{supervisor_id}", response_model=SupervisorOut, summary="One supervisor")
async def get_supervisor(supervisor_id: UUID, admin: AdminUser, db: Db) -> SupervisorOut:
    async with db.as_user(admin) as conn:
        return await fetch_supervisor(conn, supervisor_id)


@router.patch("/{supervisor_id}", responses=refusals(409), response_model=SupervisorOut,
              summary="Rename, (de)activate, change the agent limit or reset the password")
async def update_supervisor(supervisor_id: UUID, body: SupervisorPatch, admin: AdminUser, db: Db,
                            auth: AuthDep) -> SupervisorOut:
    async with db.as_service() as conn:
        await fetch_supervisor(conn, supervisor_id)
        await queries.update(conn, supervisor_id, body)
        if body.password is not None:
            await auth.set_password(conn, supervisor_id, body.password)
        if body.active is False or body.password is not None:
            await revoke_sessions(conn, supervisor_id, "deactivated" if body.active is False else "password reset")
        changed = sorted(body.model_dump(exclude_none=True, exclude={"password"}))
        await audit.record(conn, admin, "supervisor.update", "supervisor", supervisor_id, supervisor_id,
                           fields=changed + (["password"] if body.password else []))
        return await fetch_supervisor(conn, supervisor_id)


@router.delete("/{supervisor_id}", status_code=204,
               summary="Delete a supervisor with their agents, calls and archive; their tokens stop working")
async def delete_supervisor(supervisor_id: UUID, admin: AdminUser, db: Db, auth: AuthDep) -> Response:
    async with db.as_service() as conn:
        supervisor = await fetch_supervisor(conn, supervisor_id)
        await audit.record(conn, admin, "supervisor.delete", "supervisor", supervisor_id, None,
                           email=supervisor.email)
        await auth.delete_user(conn, supervisor_id)
    return Response(status_code=204)
