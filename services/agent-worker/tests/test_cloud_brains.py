"""The production brains, Gemini (livekit-plugins-google) and an OpenAI-compatible server
(livekit-plugins-openai), with the real SDKs pointed at local servers that speak their HTTP protocol:
a function call round trip and a streamed reply, through the same AgentSession as live calls."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from livekit.agents import AgentSession

from agent_worker.agent import AgentConfig, ToolConfig, build_agent
from agent_worker.calls import build_model
from agent_worker.config import Settings
from agent_worker.local_brain import DialogueEngine
from tests.fakes.llm_servers import FakeGemini, FakeOpenAI
from tests.integration.conftest import serve
from text_models.embedding import shared_embedder

CONFIG = AgentConfig(id=uuid.uuid4(), supervisor_id=uuid.uuid4(), name="Orders", instructions="Always be concise.",
                     greeting="", tools=[ToolConfig("order_lookup", "", False, "builtin", None)],
                     knowledge=[("Returns", "30 days.")])
ORDER = {"ok": True, "message": "Order ORD-1042 is shipped.", "status": "shipped"}


async def lookup(tool: ToolConfig, arguments: dict[str, Any]) -> dict[str, Any]:
    assert tool.name == "order_lookup" and arguments == {"order_id": "ORD-1042"}
    return ORDER


@pytest.fixture
def gemini(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeGemini, Settings]]:
    fake = FakeGemini()
    served = serve(fake.app())
    # The plugin's own base URL, and the SDK's variable, so its warm-up call stays local too.
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", served.url)
    try:
        yield fake, Settings(gemini_api_key="fake-gemini-key", gemini_base_url=served.url)
    finally:
        served.stop()


@pytest.fixture
def openai_compatible() -> Iterator[tuple[FakeOpenAI, Settings]]:
    fake = FakeOpenAI()
    served = serve(fake.app())
    try:
        yield fake, Settings(llm_base_url=f"{served.url}/v1", llm_model="local-model")
    finally:
        served.stop()


async def converse(settings: Settings) -> tuple[Any, Any]:
    engine = DialogueEngine(shared_embedder(), CONFIG.name, [], ["order_lookup"])
    model = build_model(settings, engine)
    async with AgentSession(llm=model) as session:
        await session.start(build_agent(CONFIG, ["Offer a voucher."], lookup))
        order = await session.run(user_input="Where is ORD-1042?")
        chat = await session.run(user_input="Thanks a lot")
    return order, chat


async def test_gemini_function_call_round_trip_and_streaming(gemini: tuple[FakeGemini, Settings]) -> None:
    fake, settings = gemini
    assert settings.brain == "gemini"
    order, chat = await converse(settings)
    order.expect.next_event().is_function_call(name="order_lookup", arguments={"order_id": "ORD-1042"})
    order.expect.next_event().is_function_call_output()
    reply = order.expect.next_event().is_message(role="assistant").event().item.text_content
    assert reply.startswith("Here is what I found:") and "ORD-1042 is shipped" in reply
    assert chat.expect.next_event().is_message(role="assistant").event().item.text_content == "You said: Thanks a lot"
    first = fake.requests[0]
    declared = [f["name"] for tool in first["tools"] for f in tool["functionDeclarations"]]
    assert "order_lookup" in declared and "end_call" in declared
    system = " ".join(p["text"] for p in first["systemInstruction"]["parts"])
    assert "Always be concise." in system and "Offer a voucher." in system
    assert fake.api_keys == {"fake-gemini-key"}


async def test_openai_compatible_function_call_round_trip_and_streaming(
        openai_compatible: tuple[FakeOpenAI, Settings]) -> None:
    fake, settings = openai_compatible
    assert settings.brain == "openai-compatible"
    order, chat = await converse(settings)
    order.expect.next_event().is_function_call(name="order_lookup", arguments={"order_id": "ORD-1042"})
    order.expect.next_event().is_function_call_output()
    reply = order.expect.next_event().is_message(role="assistant").event().item.text_content
    assert "ORD-1042 is shipped" in reply
    assert chat.expect.next_event().is_message(role="assistant").event().item.text_content == "You said: Thanks a lot"
    assert fake.requests[0]["model"] == "local-model" and fake.requests[0]["stream"] is True
    assert {t["function"]["name"] for t in fake.requests[0]["tools"]} >= {"order_lookup", "end_call"}
    tool_turn = fake.requests[1]["messages"]
    assert tool_turn[-1]["role"] == "tool" and "ORD-1042 is shipped" in tool_turn[-1]["content"]
