"""A real gateway (uvicorn on a free port) over the session's NATS and PostgreSQL, and a small world:
an admin, supervisors A and B created through the API, one agent each, an archived call and a
notification for A."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher

from call_router.app import setup as router_setup
from call_router.config import Settings as RouterSettings
from contracts.service import Runtime
from embedded_stack.postgres_server import free_port
from gateway.app import build
from gateway.config import Settings
from tests.factories import new_number
from tests.pg import connection
from tests.services import running_service

PASSWORD = "correct-horse-battery"
JWT_SECRET = "integration-test-secret-of-32-bytes-or-more"
METRICS_TOKEN = "integration-test-scrape-token"


@dataclass
class RunningGateway:
    url: str
    settings: Settings
    app: Any


@dataclass
class ServedApp:
    """An ASGI app served by uvicorn on a free local port, in a thread of its own."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def serve(app: Any) -> ServedApp:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    return ServedApp(f"http://127.0.0.1:{port}", server, thread)


@contextlib.contextmanager
def running_gateway(nats_url: str, database_url: str, **overrides: Any) -> Iterator[RunningGateway]:
    settings = Settings(**{"nats_url": nats_url, "database_url": database_url, "jwt_secret": JWT_SECRET,
                           "frontend_dist": Path("/nonexistent"), **overrides})
    app = build(settings)
    served = serve(app)
    try:
        yield RunningGateway(served.url, settings, app)
    finally:
        served.stop()


@pytest.fixture(scope="session")
def gateway(nats_url: str, database_url: str) -> Iterator[RunningGateway]:
    with running_gateway(nats_url, database_url, login_attempts_per_minute=100_000,
                         refresh_attempts_per_minute=100_000, call_attempts_per_minute=100_000, sse_ping_seconds=1.0,
                         metrics_token=METRICS_TOKEN) as running:
        yield running


@pytest.fixture(scope="session")
def call_router(nats_url: str, database_url: str) -> Iterator[Runtime]:
    """The real call-router. Its cap is lifted: other tests leave live calls in this shared database,
    and the cap itself is tested on a database of its own."""
    settings = RouterSettings(nats_url=nats_url, database_url=database_url, max_concurrent_calls=1000)
    with running_service("call-router", settings, router_setup) as runtime:
        yield runtime


@dataclass
class World:
    admin_email: str
    a: dict[str, Any]  # supervisor A: id, email, agent (id), phone_number, call (archived), notification, tool_request
    b: dict[str, Any]
    _tokens: dict[str, str] = field(default_factory=dict)

    def login(self, client: httpx.Client, email: str) -> dict[str, Any]:
        response = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return response.json()

    def headers(self, client: httpx.Client, email: str, fresh: bool = False) -> dict[str, str]:
        """A signed-in user's headers; ``fresh`` for a session of its own (e.g. one the test ends)."""
        if fresh or email not in self._tokens:
            token = self.login(client, email)["access_token"]
            if fresh:
                return {"Authorization": f"Bearer {token}"}
            self._tokens[email] = token
        return {"Authorization": f"Bearer {self._tokens[email]}"}


async def _seed_admin(database_url: str, email: str) -> None:
    async with connection(database_url) as conn:
        user_id = await conn.fetchval("insert into users(email, role, full_name) values ($1, 'admin', 'Test Admin')"
                                      " returning id", email)
        await conn.execute("insert into local_credentials(user_id, password_hash) values ($1, $2)",
                           user_id, PasswordHasher().hash(PASSWORD))


async def _seed_history(database_url: str, supervisor_id: uuid.UUID,
                        agent_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    call_id = uuid.uuid4()
    started = datetime.now(UTC) - timedelta(hours=1)
    async with connection(database_url) as conn:
        await conn.execute(
            """insert into calls(id, supervisor_id, agent_id, agent_name, channel, caller, dialled_number, status,
                                 started_at, ended_at) values ($1, $2, $3, 'A1', 'chat', 'jo@example.com', '+1-555-1',
                                 'ended', $4, $5)""", call_id, supervisor_id, agent_id, started,
            started + timedelta(minutes=3))
        await conn.execute(
            """insert into transcript_lines(call_id, seq, supervisor_id, speaker, text, occurred_at)
               values ($1, 0, $2, 'customer', 'Where is my parcel?', $3)""", call_id, supervisor_id, started)
        await conn.execute(
            """insert into archives(call_id, supervisor_id, agent_id, agent_name, channel, caller, started_at, ended_at,
                                    handle_seconds, summary, tags, csat, fcr, resolved, sentiment_label, summary_source)
               values ($1, $2, $3, 'A1', 'chat', 'jo@example.com', $4, $5, 180, 'Parcel tracking given', '{shipping}',
                       4.5, true, true, 'positive', 'test')""", call_id, supervisor_id, agent_id, started,
            started + timedelta(minutes=3))
        notification_id = await conn.fetchval(
            "insert into notifications(supervisor_id, call_id, kind, title) values ($1, $2, 'call_ended', 'Call ended')"
            " returning id", supervisor_id, call_id)
        request_id = await conn.fetchval(
            """insert into tool_requests(id, call_id, supervisor_id, agent_id, tool_name, requires_approval, status,
                                         expires_at)
               values (gen_random_uuid(), $1, $2, $3, 'refund_order', true, 'pending', now() + interval '1 day')
               returning id""", call_id, supervisor_id, agent_id)
    return call_id, notification_id, request_id


def create_supervisor(client: httpx.Client, admin_headers: dict[str, str], label: str) -> dict[str, Any]:
    email = f"{label}-{uuid.uuid4().hex[:6]}@test.local"
    response = client.post("/api/supervisors", headers=admin_headers,
                           json={"email": email, "password": PASSWORD, "full_name": f"Supervisor {label}"})
    assert response.status_code == 201, response.text
    return response.json()


def create_agent(client: httpx.Client, headers: dict[str, str], name: str = "A1", **fields: Any) -> dict[str, Any]:
    response = client.post("/api/agents", headers=headers,
                           json={"name": name, "phone_number": new_number(), **fields})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(scope="session")
def world(gateway: RunningGateway, database_url: str) -> World:
    admin_email = f"admin-{uuid.uuid4().hex[:6]}@test.local"
    asyncio.run(_seed_admin(database_url, admin_email))
    teams: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url=gateway.url) as client:
        world = World(admin_email, {}, {})
        admin = world.headers(client, admin_email)
        for label in ("a", "b"):
            supervisor = create_supervisor(client, admin, label)
            # Room for the agents tests create and delete; the default limit is tested on its own.
            assert client.patch(f"/api/supervisors/{supervisor['id']}", headers=admin,
                                json={"max_agents": 100}).status_code == 200
            agent = create_agent(client, world.headers(client, supervisor["email"]))
            call, notification, request = asyncio.run(_seed_history(database_url, supervisor["id"], agent["id"]))
            teams[label] = {"id": supervisor["id"], "email": supervisor["email"], "agent": agent["id"],
                            "phone_number": agent["phone_number"], "call": str(call),
                            "notification": str(notification), "tool_request": str(request)}
    return World(admin_email, teams["a"], teams["b"])
