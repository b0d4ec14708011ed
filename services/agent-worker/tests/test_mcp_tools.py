"""MCP tools against the shipped demo MCP server, over real Streamable HTTP: discovery, a call, a
refusal, an unreachable server, and the local engine choosing the tool by its description."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from livekit.agents import AgentSession

from agent_worker import demo_mcp, mcp_tools
from agent_worker.agent import AgentConfig, ToolConfig, build_agent
from agent_worker.local_brain import DialogueEngine, LocalDialogueLLM
from embedded_stack.postgres_server import free_port
from tests.integration.conftest import serve
from text_models.embedding import shared_embedder


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    served = serve(demo_mcp.build().streamable_http_app())
    yield f"{served.url}/mcp"
    served.stop()


def loyalty(url: str) -> ToolConfig:
    return ToolConfig("loyalty_points", "", False, "mcp", url)


async def test_discovery_and_calls(mcp_url: str) -> None:
    schemas = await mcp_tools.discover([loyalty(mcp_url)])
    assert schemas["loyalty_points"]["parameters"]["required"] == ["email"]
    found = await mcp_tools.call(mcp_url, "loyalty_points", {"email": "jo@example.com"})
    assert found["ok"] and found["message"] == "Email: jo@example.com, points: 1240, tier: gold."
    refused = await mcp_tools.call(mcp_url, "loyalty_points", {"email": "nobody@example.com"})
    assert not refused["ok"] and "no loyalty account" in refused["message"]


async def test_an_unreachable_server_leaves_its_tools_out() -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    assert await mcp_tools.discover([loyalty(url)]) == {}
    failed = await mcp_tools.call(url, "loyalty_points", {"email": "jo@example.com"})
    assert not failed["ok"] and "couldn't reach" in failed["message"]


async def test_the_local_engine_uses_an_mcp_tool_by_its_description(mcp_url: str) -> None:
    config = AgentConfig(id=uuid.uuid4(), supervisor_id=uuid.uuid4(), name="Loyalty", instructions="", greeting="",
                         tools=[loyalty(mcp_url)], knowledge=[])
    schemas = await mcp_tools.discover(config.tools)
    engine = DialogueEngine(shared_embedder(), config.name, [], [])
    schema = schemas["loyalty_points"]
    engine.learn_tool("loyalty_points", schema["description"], schema["parameters"])

    async def run_tool(tool: ToolConfig, arguments: dict[str, Any]) -> dict[str, Any]:
        return await mcp_tools.call(mcp_url, tool.name, arguments)

    async with AgentSession(llm=LocalDialogueLLM(engine)) as session:
        await session.start(build_agent(config, [], run_tool, mcp_schemas=schemas))
        result = await session.run(user_input="How many loyalty points do I have? I'm jo@example.com")
    result.expect.next_event().is_function_call(name="loyalty_points", arguments={"email": "jo@example.com"})
    result.expect.next_event().is_function_call_output()
    assert "1240" in result.expect.next_event().is_message(role="assistant").event().item.text_content
