"""Tools from MCP servers named in an agent's configuration (Streamable HTTP, the `mcp` client).

Discovered when a call starts; a server that cannot be reached leaves its tools out of that call
(logged) rather than failing the call. Each use opens a short connection: no long-lived state to
repair when a server restarts.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Protocol

from mcp import Client

log = logging.getLogger("agent_worker.mcp")


class McpToolConfig(Protocol):
    name: str
    description: str
    mcp_server_url: str | None


async def discover(configs: Iterable[McpToolConfig]) -> dict[str, dict[str, Any]]:
    """The raw function schema of every configured MCP tool its server offers, by tool name."""
    wanted: dict[str, dict[str, McpToolConfig]] = defaultdict(dict)
    for config in configs:
        if config.mcp_server_url:
            wanted[config.mcp_server_url][config.name] = config
    schemas: dict[str, dict[str, Any]] = {}
    for url, by_name in wanted.items():
        try:
            async with Client(url) as client:
                listed = await client.list_tools()
        except Exception as exc:
            log.warning("MCP server %s unreachable (%s); its tools are left out of this call", url, exc)
            continue
        for tool in listed.tools:
            if tool.name in by_name:
                schemas[tool.name] = {"name": tool.name,
                                      "description": by_name[tool.name].description or tool.description or "",
                                      "parameters": tool.input_schema}
        for missing in set(by_name) - set(schemas):
            log.warning("MCP server %s does not offer %s", url, missing)
    return schemas


async def call(url: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Run one MCP tool; its answer becomes ``ok`` and a sentence the agent can say."""
    try:
        async with Client(url) as client:
            result = await client.call_tool(name, arguments)
    except Exception as exc:
        log.warning("MCP tool %s at %s failed: %s", name, url, exc)
        return {"ok": False, "message": f"I couldn't reach the {name.replace('_', ' ')} service just now."}
    text = " ".join(part.text for part in result.content if getattr(part, "type", "") == "text").strip()
    data = result.structured_content or _json_object(text)
    if result.is_error:
        # A tool's own refusal is short and meant to be read; a stack of validation errors is not.
        readable = text if text and len(text) <= 200 and "\n" not in text else ""
        return {"ok": False, "message": readable or f"I couldn't use the {name.replace('_', ' ')} service with that.",
                **({"error": text} if text and not readable else {})}
    return {"ok": True, "message": spoken(data) if data else (text or "Done."), **({"data": data} if data else {})}


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def spoken(data: dict[str, Any]) -> str:
    """A structured answer as one plain sentence: 'Points: 120, tier: silver.'"""
    fields = [f"{key.replace('_', ' ')}: {value}" for key, value in data.items() if not isinstance(value, dict | list)]
    sentence = ", ".join(fields) + "."
    return sentence[:1].upper() + sentence[1:] if fields else json.dumps(data)
