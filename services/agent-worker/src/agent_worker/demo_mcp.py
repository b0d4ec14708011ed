"""A small MCP server for demos and tests: the shop's loyalty programme, over Streamable HTTP.

Run it with `python -m agent_worker.demo_mcp --port 8765`, then give an agent the tool
{"name": "loyalty_points", "source": "mcp", "mcp_server_url": "http://127.0.0.1:8765/mcp"}.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

MEMBERS = {
    "jo@example.com": {"points": 1240, "tier": "gold"},
    "sam@example.com": {"points": 310, "tier": "silver"},
    "ana@example.com": {"points": 45, "tier": "bronze"},
}


def build() -> MCPServer:
    server = MCPServer("shop-loyalty")

    @server.tool()
    def loyalty_points(email: str) -> dict[str, Any]:
        """How many loyalty points a customer has, and their tier, by the email on their account."""
        member = MEMBERS.get(email.strip().lower())
        if member is None:
            raise ToolError(f"no loyalty account for {email}")
        return {"email": email, "points": member["points"], "tier": member["tier"]}

    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_MCP_PORT", "8765")))
    args = parser.parse_args()
    uvicorn.run(build().streamable_http_app(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
