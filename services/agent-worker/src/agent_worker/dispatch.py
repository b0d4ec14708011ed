"""Running a tool the agent asked for: an MCP tool on its server, a built-in one through its entry in
shop.SPECS. Whatever it cannot do comes back as ``ok: false`` with a message for the customer, never
raised."""

from __future__ import annotations

from typing import Any

import asyncpg

from agent_worker import mcp_tools, shop
from agent_worker.agent import ToolConfig
from contracts.calls import CallRef


def runs_remotely(config: ToolConfig) -> bool:
    """An MCP tool, which runs on its server: nothing it changes commits with our own transactions."""
    return config.source == "mcp" and bool(config.mcp_server_url)


async def execute(conn: asyncpg.Connection | None, ids: CallRef, config: ToolConfig,
                  arguments: dict[str, Any]) -> dict[str, Any]:
    """Run the tool: a built-in one on ``conn`` (in the caller's transaction), an MCP one (``conn`` None)
    on its server."""
    if runs_remotely(config):
        assert config.mcp_server_url is not None
        return await mcp_tools.call(config.mcp_server_url, config.name, arguments)
    assert conn is not None
    return await perform(conn, config.name, arguments, ids)


async def perform(conn: asyncpg.Connection, tool: str, arguments: dict[str, Any], ids: CallRef) -> dict[str, Any]:
    """Run a built-in tool over the shop."""
    spec = shop.SPECS.get(tool)
    try:
        if spec is None or spec.run is None:
            raise shop.ToolFailure(f"the tool {tool} is not available")
        return await spec.run(conn, arguments, ids)
    except shop.ToolFailure as exc:
        return {"ok": False, "message": str(exc)}
    except KeyError as exc:
        return {"ok": False, "message": f"I still need the {str(exc).strip(chr(39)).replace('_', ' ')}."}
    except (TypeError, ValueError, ArithmeticError) as exc:
        return {"ok": False, "message": f"I couldn't use {tool.replace('_', ' ')} with that: {exc}"}
