"""Rows tests need, written straight to the database (the API has its own tests)."""

from __future__ import annotations

import uuid

import asyncpg

from contracts.calls import CallRef


async def make_user(conn: asyncpg.Connection, role: str) -> uuid.UUID:
    user_id = uuid.uuid4()
    await conn.execute("insert into users(id, email, role) values ($1, $2, $3)",
                       user_id, f"{user_id.hex[:10]}@test.local", role)
    if role == "supervisor":
        await conn.execute("insert into supervisors(id, max_agents) values ($1, 100)", user_id)
    return user_id


def new_number() -> str:
    """A number no other agent of the test run has: seven random digits collided (a test's agent got 409
    number_taken) once the fuzzing tests had made a few thousand agents in the same database."""
    return f"+1-555-{uuid.uuid4().int % 10**12:012d}"


async def make_agent(conn: asyncpg.Connection, supervisor: uuid.UUID, name: str = "A") -> uuid.UUID:
    return await conn.fetchval("insert into agents(supervisor_id, name, phone_number) values ($1, $2, $3) returning id",
                               supervisor, name, new_number())


async def make_live_call(conn: asyncpg.Connection, agent: tuple[uuid.UUID, uuid.UUID] | None = None,
                         taken_over_by: uuid.UUID | None = None) -> CallRef:
    """A chat call that is live: on ``agent`` (its supervisor's id and its own), else on a supervisor of its own
    with one agent; taken over by ``taken_over_by`` if given."""
    if agent is None:
        supervisor = await make_user(conn, "supervisor")
        agent = supervisor, await make_agent(conn, supervisor)
    supervisor_id, agent_id = agent
    call_id = await conn.fetchval(
        """insert into calls(id, supervisor_id, agent_id, agent_name, channel, dialled_number, status, taken_over_by,
                             taken_over_at)
           values (gen_random_uuid(), $1, $2, 'A', 'chat', '+1-555-0000', 'active', $3,
                   case when $3::uuid is not null then now() end) returning id""",
        supervisor_id, agent_id, taken_over_by)
    return CallRef(supervisor_id=supervisor_id, agent_id=agent_id, call_id=call_id)
