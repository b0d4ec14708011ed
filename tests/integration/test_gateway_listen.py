"""The supervisor's Listen: POST /api/calls/{id}/listen gives the call's supervisor (or an admin) a
hidden, subscribe-only token for a live voice call's room, and nothing for anyone else or any other
call. A gateway of its own with LiveKit settings, over the session's database and the shared world."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from contracts.envelope import utc_now
from gateway.tokens import issue_call_token
from tests.integration.conftest import JWT_SECRET, RunningGateway, World, create_agent, running_gateway
from tests.pg import connection

API_KEY, API_SECRET = "devkey", "livekit-test-secret-of-32-bytes-or-more"
LIVEKIT_URL = "ws://127.0.0.1:7880"  # only written into tokens: the gateway never dials LiveKit


@pytest.fixture(scope="module")
def voice_gateway(nats_url: str, database_url: str) -> Iterator[RunningGateway]:
    with running_gateway(nats_url, database_url, livekit_url=LIVEKIT_URL, livekit_api_key=API_KEY,
                         livekit_api_secret=API_SECRET, login_attempts_per_minute=100_000) as running:
        yield running


async def _insert_call(database_url: str, supervisor_id: str, agent_id: str, channel: str, status: str) -> uuid.UUID:
    call_id = uuid.uuid4()
    started = None if status == "queued" else datetime.now(UTC) - timedelta(minutes=1)
    async with connection(database_url) as conn:
        await conn.execute(
            """insert into calls(id, supervisor_id, agent_id, agent_name, channel, caller, dialled_number, status,
                                 livekit_room, started_at, ended_at)
               values ($1, $2, $3, 'Listen desk', $4, 'jo@example.com', '+1-555-1', $5, $6, $7, $8)""",
            call_id, uuid.UUID(supervisor_id), uuid.UUID(agent_id), channel, status,
            f"call-{call_id}" if channel == "voice" else None, started,
            datetime.now(UTC) if status == "ended" else None)
    return call_id


@pytest.fixture(scope="module")
def calls(voice_gateway: RunningGateway, world: World, database_url: str) -> dict[str, uuid.UUID]:
    """Supervisor A's calls, each on an agent of its own (an agent has one live call at a time, and no
    other test's calls queue behind these), but the queued one, which waits behind the live voice call
    (on a free agent, a router serving the database would connect it)."""
    made: dict[str, uuid.UUID] = {}
    agents: dict[str, str] = {}
    with httpx.Client(base_url=voice_gateway.url) as client:
        for channel, status in (("voice", "active"), ("voice", "queued"), ("voice", "ended"), ("chat", "active")):
            agent = agents["voice-active"] if status == "queued" else \
                create_agent(client, world.headers(client, world.a["email"]), name="Listen desk")["id"]
            agents[f"{channel}-{status}"] = agent
            made[f"{channel}-{status}"] = asyncio.run(_insert_call(database_url, world.a["id"], agent, channel,
                                                                   status))
    return made


def listen(gateway: RunningGateway, call_id: uuid.UUID, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{gateway.url}/api/calls/{call_id}/listen", headers=headers, timeout=10)


def grants_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, API_SECRET, algorithms=["HS256"], options={"verify_aud": False})


@pytest.mark.parametrize("who", ["supervisor_a", "admin"])
def test_the_calls_supervisor_or_an_admin_gets_a_hidden_listen_only_token(
        voice_gateway: RunningGateway, world: World, calls: dict[str, uuid.UUID], database_url: str, who: str) -> None:
    call_id = calls["voice-active"]
    with httpx.Client(base_url=voice_gateway.url) as client:
        email = world.a["email"] if who == "supervisor_a" else world.admin_email
        headers = world.headers(client, email)
        user_id = client.get("/api/me", headers=headers).json()["id"]
    response = listen(voice_gateway, call_id, headers)
    assert response.status_code == 200, response.text
    join = response.json()
    assert join["url"] == LIVEKIT_URL and join["room"] == f"call-{call_id}"

    grants = grants_of(join["token"])
    assert grants["iss"] == API_KEY and grants["sub"] == f"supervisor-{user_id}-{call_id}"
    video = grants["video"]
    assert video["room"] == f"call-{call_id}" and video["roomJoin"] is True and video["hidden"] is True
    assert video["canSubscribe"] is True and video["canPublish"] is False and video["canPublishData"] is False
    assert not video.get("roomCreate") and not video.get("roomAdmin") and not video.get("roomList")
    assert grants["exp"] - grants["nbf"] <= 3600

    async def audited() -> int:
        async with connection(database_url) as conn:
            return await conn.fetchval("select count(*) from audit_log where action = 'call.listen' and actor_id = $1"
                                       " and target_id = $2", uuid.UUID(user_id), str(call_id))

    assert asyncio.run(audited()) >= 1


def test_another_supervisor_gets_404(voice_gateway: RunningGateway, world: World,
                                     calls: dict[str, uuid.UUID]) -> None:
    with httpx.Client(base_url=voice_gateway.url) as client:
        response = listen(voice_gateway, calls["voice-active"], world.headers(client, world.b["email"]))
    assert response.status_code == 404


def test_the_customers_call_token_and_no_token_are_refused(voice_gateway: RunningGateway,
                                                           calls: dict[str, uuid.UUID]) -> None:
    call_id = calls["voice-active"]
    call_token = issue_call_token(call_id, JWT_SECRET, timedelta(hours=1), utc_now())
    assert listen(voice_gateway, call_id, {"Authorization": f"Bearer {call_token}"}).status_code == 401
    assert listen(voice_gateway, call_id, {}).status_code == 401


@pytest.mark.parametrize(("call", "status", "code"), [
    ("voice-queued", 409, "call_not_active"),
    ("voice-ended", 409, "call_not_active"),
    ("chat-active", 422, "not_a_voice_call"),
])
def test_only_a_live_voice_call_can_be_listened_to(voice_gateway: RunningGateway, world: World,
                                                   calls: dict[str, uuid.UUID], call: str, status: int,
                                                   code: str) -> None:
    with httpx.Client(base_url=voice_gateway.url) as client:
        response = listen(voice_gateway, calls[call], world.headers(client, world.a["email"]))
    assert response.status_code == status and response.json()["error"] == code, response.text
    assert response.json()["message"]


def test_without_livekit_listening_is_unavailable(gateway: RunningGateway, world: World,
                                                  calls: dict[str, uuid.UUID]) -> None:
    with httpx.Client(base_url=gateway.url) as client:
        response = listen(gateway, calls["voice-active"], world.headers(client, world.a["email"]))
    assert response.status_code == 422 and response.json()["error"] == "voice_unavailable"
    assert "LiveKit" in response.json()["message"]
