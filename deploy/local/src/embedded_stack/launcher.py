"""`make run`: the whole platform on one machine, each service its own process, logs made readable."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from contracts.db import create_pool, migrate
from embedded_stack.demo import ADMIN_EMAIL, SUPERVISORS, seed_demo
from embedded_stack.nats_server import NatsServer, start_nats
from embedded_stack.postgres_server import PostgresServer, start_postgres

# (name shown in logs, python module); started in this order.
SERVICES = (
    ("gateway", "gateway"),
    ("call-router", "call_router"),
    ("agent-worker", "agent_worker"),
    ("sentiment", "sentiment"),
    ("analytics", "analytics"),
    ("postprocess", "postprocess"),
)
# Not platform services: the external MCP server the demo agents' loyalty tool talks to.
DEMO_PROCESSES = (("demo-mcp", "agent_worker.demo_mcp"),)
ROOM_SERVER = ("room-server", "embedded_stack.room_server")
ROOM_SERVER_API_KEY = "embedded"
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
STOP_GRACE_SECONDS = 10.0
COLOURS = ("36", "33", "35", "32", "34", "31", "37")


@dataclass
class Options:
    data_dir: Path
    gateway_port: int = 8000
    nats_port: int = 4222
    nats_monitoring_port: int = 8222
    postgres_port: int = 54329
    demo_mcp_port: int = 8765
    room_server_port: int = 7880
    demo_password: str = "demo-password"
    seed: bool = True
    colour: bool = field(default_factory=sys.stdout.isatty)


def render_line(service: str, raw: str, colour: bool, width: int = 12) -> str:
    """One readable line from a service's JSON log line (other lines pass through, prefixed)."""
    name = service.ljust(width)
    if colour:
        code = COLOURS[zlib.crc32(service.encode()) % len(COLOURS)]
        name = f"\x1b[{code}m{name}\x1b[0m"
    try:
        entry = json.loads(raw)
        if not isinstance(entry, dict):
            raise ValueError
    except ValueError:
        return f"{name} | {raw}"
    clock = entry.get("ts", "")[11:23]
    level = str(entry.get("level", "")).upper().ljust(7)
    call = f"[call {str(entry['call_id'])[:8]}] " if entry.get("call_id") else ""
    extra = {k: v for k, v in entry.items()
             if k not in {"ts", "level", "service", "call_id", "logger", "msg", "exc"}}
    tail = " ".join(f"{k}={v}" for k, v in extra.items())
    text = f"{name} | {clock} {level} {call}{entry.get('msg', '')}" + (f"  {tail}" if tail else "")
    if entry.get("exc"):
        text += "\n" + "\n".join(f"{name} |   {line}" for line in str(entry["exc"]).splitlines())
    return text


class Supervisor:
    """Runs each service as a child process, restarts one that dies, stops them all on request."""

    def __init__(self, env: dict[str, str], colour: bool) -> None:
        self.env = env
        self.colour = colour
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self.stopping = asyncio.Event()

    async def run_service(self, name: str, module: str, *args: str) -> None:
        failures = 0
        while not self.stopping.is_set():
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", module, *args, env=self.env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                # Own session: a terminal's Ctrl-C reaches only the launcher, which stops the
                # services itself; otherwise a child could die first and be "restarted".
                start_new_session=True)
            self.processes[name] = process
            assert process.stdout is not None
            async for raw in process.stdout:
                print(render_line(name, raw.decode(errors="replace").rstrip(), self.colour), flush=True)
            code = await process.wait()
            if self.stopping.is_set():
                return
            delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS) - 1)]
            failures += 1
            print(render_line("launcher", f"{name} exited with {code}; restarting in {delay:.0f}s", self.colour),
                  flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)

    async def stop_all(self) -> None:
        self.stopping.set()
        for process in self.processes.values():
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for name, process in self.processes.items():
            try:
                await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)
            except TimeoutError:
                print(render_line("launcher", f"{name} did not stop in time; killing it", self.colour), flush=True)
                process.kill()
                await process.wait()


def say(message: str, colour: bool) -> None:
    print(render_line("launcher", message, colour), flush=True)


async def prepare_database(database_url: str, options: Options) -> None:
    pool = await create_pool(database_url, max_size=2)
    try:
        async with pool.acquire() as conn:
            applied = await migrate(conn)
            say(f"migrations applied: {', '.join(applied) or 'none pending'}", options.colour)
            if options.seed:
                summary = await seed_demo(conn, options.demo_password,
                                          mcp_url=f"http://127.0.0.1:{options.demo_mcp_port}/mcp")
                if summary.created:
                    say(f"demo data: {summary.supervisors} supervisors, {summary.agents} agents, "
                        f"{summary.archived_calls} archived calls", options.colour)
    finally:
        await pool.close()


def room_server_secret(data_dir: Path) -> str:
    """The embedded room server's API secret: made once per data directory, so room tokens signed
    before a restart stay valid after it, and never a fixed value someone could forge tokens with."""
    path = data_dir / "room-server-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


def print_banner(options: Options, nats_monitoring: str | None, livekit_url: str) -> None:
    logins = [ADMIN_EMAIL, *(email for email, _, _ in SUPERVISORS)]
    embedded = livekit_url == f"ws://127.0.0.1:{options.room_server_port}"
    lines = [
        "",
        f"  Platform:  http://localhost:{options.gateway_port}   (health: /health, API docs: /docs)",
        f"  NATS monitoring: {nats_monitoring or 'external NATS (NATS_URL)'}",
        f"  Voice rooms: {livekit_url}" + (" (the embedded room server: one machine, development and demos)"
                                           if embedded else " (LIVEKIT_URL)"),
        f"  Demo logins (password: {options.demo_password}"
        f"{' from DEMO_PASSWORD' if 'DEMO_PASSWORD' in os.environ else '; set DEMO_PASSWORD to change it'}):",
        *(f"    {email}" for email in logins),
        "  Ctrl-C stops everything; data stays in " + str(options.data_dir),
        "",
    ]
    print("\n".join(lines), flush=True)


async def run(options: Options) -> int:
    nats: NatsServer | None = None
    postgres: PostgresServer | None = None
    nats_url = os.environ.get("NATS_URL")
    database_url = os.environ.get("DATABASE_URL")
    try:
        if not nats_url:
            nats = start_nats(options.data_dir / "nats", port=options.nats_port,
                              monitoring_port=options.nats_monitoring_port)
            nats_url = nats.url
            say(f"embedded NATS with JetStream on {nats.url}, monitoring {nats.monitoring_url}", options.colour)
        if not database_url:
            postgres = start_postgres(options.data_dir / "postgres", port=options.postgres_port)
            database_url = postgres.dsn("platform")
            say(f"embedded PostgreSQL on {database_url}", options.colour)
        await prepare_database(database_url, options)
        env = {**os.environ, "NATS_URL": nats_url, "DATABASE_URL": database_url,
               "GATEWAY_PORT": str(options.gateway_port), "DEMO_MCP_PORT": str(options.demo_mcp_port),
               "PYTHONUNBUFFERED": "1",
               # before any service imports onnxruntime, which would otherwise send usage telemetry
               "ORT_DISABLE_TELEMETRY": os.environ.get("ORT_DISABLE_TELEMETRY", "1")}
        processes: list[tuple[str, ...]] = [*SERVICES, *DEMO_PROCESSES]
        if not os.environ.get("LIVEKIT_URL"):
            # No LiveKit server configured: voice calls go to the embedded room server, which speaks
            # LiveKit's protocols, so they take the same code path as with LiveKit server or Cloud.
            env |= {"LIVEKIT_URL": f"ws://127.0.0.1:{options.room_server_port}",
                    "LIVEKIT_API_KEY": ROOM_SERVER_API_KEY, "LIVEKIT_API_SECRET": room_server_secret(options.data_dir)}
            processes.insert(0, (*ROOM_SERVER, "--port", str(options.room_server_port)))
        supervisor = Supervisor(env, options.colour)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        runners = [asyncio.create_task(supervisor.run_service(*process)) for process in processes]
        print_banner(options, nats.monitoring_url if nats else None, env["LIVEKIT_URL"])
        await stop.wait()
        say("stopping…", options.colour)
        await supervisor.stop_all()
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
        return 0
    finally:
        if nats:
            nats.stop()
        if postgres:
            postgres.stop()
        say("stopped", options.colour)

