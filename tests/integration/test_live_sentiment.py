"""Live sentiment through the real sentiment service: a customer's utterance on the bus is scored and
its sentiment.score reaches the agent's SSE stream within 5 seconds, as supervisors are promised."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from contracts.bus import Bus
from contracts.calls import CallStarted
from contracts.service import Runtime
from contracts.transcripts import TranscriptChunk
from sentiment.app import setup as sentiment_setup
from sentiment.config import Settings as SentimentSettings
from sentiment.model import load_model
from tests.integration.conftest import RunningGateway, World
from tests.integration.test_gateway_streams import reading, stream_token
from tests.services import running_service


@pytest.fixture(scope="module")
def sentiment_service(nats_url: str, database_url: str) -> Iterator[Runtime]:
    settings = SentimentSettings(nats_url=nats_url, database_url=database_url, publish_interval_seconds=5)
    with running_service("sentiment", settings, sentiment_setup) as runtime:
        yield runtime


async def test_an_angry_customer_shows_on_the_supervisors_stream_within_five_seconds(
        gateway: RunningGateway, world: World, bus: Bus, sentiment_service: Runtime) -> None:
    team = world.a
    ids = {"supervisor_id": team["id"], "agent_id": team["agent"], "call_id": uuid.uuid4()}
    with httpx.Client(base_url=gateway.url) as sync:
        token = stream_token(sync, world, team["email"])
    async with httpx.AsyncClient(base_url=gateway.url, timeout=httpx.Timeout(10, read=30)) as http, \
            http.stream("GET", f"/api/stream/agents/{team['agent']}", params={"token": token}) as response, \
            reading(response) as events:
        assert (await events.next()).event == "ready"
        await bus.publish(CallStarted(**ids, channel="chat", caller="jo@example.com", agent_name="A1"))
        said_at = time.monotonic()
        await bus.publish(TranscriptChunk(**ids, seq=0, speaker="customer",
                                          text="This is unacceptable, I have been waiting for weeks and I'm furious!"))
        while True:
            event = await events.next(within=5 - (time.monotonic() - said_at))
            if event.event == "sentiment.score" and event.data["call_id"] == str(ids["call_id"]) \
                    and event.data["utterances"] == 1:
                break
    assert time.monotonic() - said_at < 5
    assert event.data["label"] == "negative" and event.data["score"] < -0.5
    assert event.data["model"] == load_model(None).name  # the shipped model, by the name its config.json gives
    async with httpx.AsyncClient(base_url=gateway.url, timeout=httpx.Timeout(10, read=30)) as http, \
            http.stream("GET", f"/api/stream/agents/{team['agent']}", params={"token": token}) as response, \
            reading(response) as events:
        await events.next()
        while (event := await events.next(within=7)).event != "satisfaction.score" \
                or event.data["call_id"] != str(ids["call_id"]):
            pass  # the periodic estimate, within the 5 s interval
    assert event.data["score"] < 3 and event.data["source"] == "local-formula" and event.data["reasons"]

