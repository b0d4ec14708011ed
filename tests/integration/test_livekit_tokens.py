"""The customer's LiveKit token for a voice call, as livekit-api reads it: it opens the call's room and
nothing more, under the customer's identity, lasts exactly as long as the call token it comes with, and
is only accepted with the gateway's LiveKit key and secret. (test_voice_rooms checks the same token in
a running voice platform; this one needs neither rooms nor an agent.) A gateway of its own with LiveKit
settings over the session's database, NATS and call-router, which routes the call without a room."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from livekit import api

from contracts.service import Runtime
from tests.integration.conftest import JWT_SECRET, RunningGateway, World, create_agent, running_gateway

API_KEY, API_SECRET = "devkey", "livekit-test-secret-of-32-bytes-or-more"
LIVEKIT_URL = "ws://127.0.0.1:7880"  # only written into tokens: the gateway never dials LiveKit
CALL_TOKEN_SECONDS = 900  # neither the default nor the listener's hour: the token must follow the setting
CALLER = "jo@example.com"


@pytest.fixture(scope="module")
def voice_gateway(nats_url: str, database_url: str) -> Iterator[RunningGateway]:
    with running_gateway(nats_url, database_url, livekit_url=LIVEKIT_URL, livekit_api_key=API_KEY,
                         livekit_api_secret=API_SECRET, call_token_seconds=CALL_TOKEN_SECONDS) as running:
        yield running


@pytest.fixture(scope="module")
def voice_call(voice_gateway: RunningGateway, call_router: Runtime, world: World) -> Iterator[dict[str, Any]]:
    """A voice call dialled as the dialer does, on an agent of its own (not queued behind other tests'
    calls), hung up afterwards."""
    with httpx.Client(base_url=voice_gateway.url, timeout=20) as client:
        number = create_agent(client, world.headers(client, world.a["email"]), name="Token desk")["phone_number"]
        response = client.post("/api/calls", json={"number": number, "channel": "voice", "caller": CALLER})
        assert response.status_code == 201, response.text
        call = response.json()
        try:
            yield call
        finally:
            client.post(f"/api/calls/{call['call_id']}/end",
                        headers={"Authorization": f"Bearer {call['call_token']}"})


def test_the_customer_token_opens_the_calls_room_and_nothing_more(voice_call: dict[str, Any]) -> None:
    join = voice_call["livekit"]
    claims = api.TokenVerifier(API_KEY, API_SECRET).verify(join["token"])
    room = f"call-{voice_call['call_id']}"
    assert join == {"url": LIVEKIT_URL, "room": room, "token": join["token"]}
    assert (claims.identity, claims.name) == (f"customer-{voice_call['call_id']}", CALLER)
    # Every other grant at livekit-api's default: no room creation, listing, recording or admin, no
    # ingress, not hidden, not a recorder or an agent; publishing and subscribing in this room only.
    assert claims.video == api.VideoGrants(room_join=True, room=room, can_publish=True, can_subscribe=True,
                                           can_publish_data=True)
    assert claims.sip == api.SIPGrants()  # no SIP admin, no SIP calls


def test_the_customer_token_lasts_as_long_as_the_call_token(voice_call: dict[str, Any]) -> None:
    livekit = jwt.decode(voice_call["livekit"]["token"], API_SECRET, algorithms=["HS256"],
                         options={"verify_aud": False})
    call = jwt.decode(voice_call["call_token"], JWT_SECRET, algorithms=["HS256"], options={"verify_aud": False})
    assert voice_call["expires_in"] == CALL_TOKEN_SECONDS
    assert livekit["exp"] - livekit["nbf"] == CALL_TOKEN_SECONDS
    # Signed a moment apart, each on its own clock reading.
    assert abs(livekit["exp"] - call["exp"]) <= 1


@pytest.mark.parametrize(("key", "secret", "refusal"), [
    (API_KEY, "another-secret-of-32-bytes-or-more-too", jwt.InvalidSignatureError),
    ("another-key", API_SECRET, jwt.InvalidIssuerError),
])
def test_the_customer_token_is_refused_without_the_gateways_key_and_secret(
        voice_call: dict[str, Any], key: str, secret: str, refusal: type[Exception]) -> None:
    with pytest.raises(refusal):
        api.TokenVerifier(key, secret).verify(voice_call["livekit"]["token"])
