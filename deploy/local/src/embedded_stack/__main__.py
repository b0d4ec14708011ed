"""python -m embedded_stack: run the whole platform (see `--help`)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from embedded_stack.launcher import BUS_SERVICES, INSTANCES_ENV, METRICS_BASE_PORT, Options, instance_counts, run


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Run the platform: embedded NATS + PostgreSQL (unless NATS_URL / DATABASE_URL are set), "
                    "migrations, demo data and every service.")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("PLATFORM_DATA_DIR", ".data")))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT", "8000")))
    parser.add_argument("--nats-port", type=int, default=4222)
    parser.add_argument("--nats-monitoring-port", type=int, default=8222)
    parser.add_argument("--postgres-port", type=int, default=54329)
    parser.add_argument("--demo-mcp-port", type=int, default=int(os.environ.get("DEMO_MCP_PORT", "8765")),
                        help="port of the demo MCP server (loyalty points) the demo agents use")
    parser.add_argument("--room-server-port", type=int, default=7880,
                        help="port of the embedded room server for voice calls (when LIVEKIT_URL is not set)")
    parser.add_argument("--metrics-port", type=int, default=METRICS_BASE_PORT,
                        help="the first bus service's metrics port; the others follow it (a taken one is swapped "
                             "for a free one, logged)")
    parser.add_argument("--no-demo", action="store_true", help="do not load the demo data")
    parser.add_argument("--log-format", choices=("text", "json"), default=os.environ.get("PLATFORM_LOG_FORMAT", "text"),
                        help="text: every line rendered readable (default); json: one JSON object a line, as the "
                             "services write them (PLATFORM_LOG_FORMAT)")
    parser.add_argument("--instances", action="append", default=[], metavar="N or SERVICE=N",
                        help=f"run N instances of every bus service ({', '.join(BUS_SERVICES)}), or of one "
                             f"(repeatable); default 1, or {INSTANCES_ENV}=N and {INSTANCES_ENV}_<SERVICE>=N "
                             f"(e.g. {INSTANCES_ENV}_AGENT_WORKER); the gateway runs as one")
    args = parser.parse_args()
    try:
        instances = instance_counts(args.instances, os.environ)
    except ValueError as wrong:
        parser.error(str(wrong))
    options = Options(
        data_dir=args.data_dir.resolve(), gateway_port=args.port, nats_port=args.nats_port,
        nats_monitoring_port=args.nats_monitoring_port, postgres_port=args.postgres_port,
        demo_mcp_port=args.demo_mcp_port, room_server_port=args.room_server_port,
        metrics_port=args.metrics_port,
        demo_password=os.environ.get("DEMO_PASSWORD", "demo-password"), seed=not args.no_demo,
        json_logs=args.log_format == "json", instances=instances)
    sys.exit(asyncio.run(run(options)))


if __name__ == "__main__":
    main()
