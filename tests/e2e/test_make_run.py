"""`make run`'s launcher for real: embedded NATS + PostgreSQL, every service, Ctrl-C, restart."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from embedded_stack.launcher import BUS_SERVICES, SERVICES, metrics_port
from embedded_stack.postgres_server import free_port
from tests.pg import connection

STARTUP_SECONDS = 90


def launch(data_dir: Path, ports: dict[str, int], *flags: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"NATS_URL", "DATABASE_URL", "LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"}}
    return subprocess.Popen(
        [sys.executable, "-m", "embedded_stack", "--data-dir", str(data_dir), "--port", str(ports["gateway"]),
         "--nats-port", str(ports["nats"]), "--nats-monitoring-port", str(ports["monitoring"]),
         "--postgres-port", str(ports["postgres"]), "--demo-mcp-port", str(ports["mcp"]),
         "--room-server-port", str(ports["rooms"]), *flags],
        env=env | {"DEMO_PASSWORD": "e2e-password"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_healthy(process: subprocess.Popen[str], url: str, seconds: float = STARTUP_SECONDS,
                 until: Callable[[dict], bool] = lambda health: True) -> dict:  # type: ignore[type-arg]
    """/health once it answers 200 and ``until`` holds for what it says."""
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            last = httpx.get(url, timeout=2)
            if last.status_code == 200 and until(last.json()):
                return last.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"not healthy after {seconds}s: {last.text if last else 'no answer'}")


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    return output


async def archived_calls(dsn: str, source: str = "demo") -> int:
    """Archived calls by who wrote them: the demo seed, or post-processing of real calls."""
    async with connection(dsn) as conn:
        return await conn.fetchval("select count(*) from archives where summary_source = $1", source)


def wait_for_archived_live_call(dsn: str) -> int:
    # A hang-up caught in flight by the stop is redelivered after the consumers' ack wait (10 s).
    deadline = time.monotonic() + 30
    while (count := asyncio.run(archived_calls(dsn, "local-extractive"))) == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    return count


def admin_kpi_calls(base: str, expected: int) -> int:
    """Calls in the admin's KPIs of the last month, once analytics has counted ``expected`` (or 30 s on)."""
    token = httpx.post(f"{base}/api/auth/login", json={"email": "admin@demo.local", "password": "e2e-password"},
                       timeout=15).json()["access_token"]
    today = datetime.now(UTC).date()
    deadline = time.monotonic() + 30
    while True:
        kpis = httpx.get(f"{base}/api/analytics/kpis", headers={"Authorization": f"Bearer {token}"}, timeout=15,
                         params={"from": (today - timedelta(days=31)).isoformat(), "to": today.isoformat()}).json()
        if kpis["kpis"]["calls"] == expected or time.monotonic() > deadline:
            return kpis["kpis"]["calls"]
        time.sleep(0.3)


def agent_replies(base: str, number: str, messages: list[str]) -> list[str]:
    """Dial, say each message, and return what the agent said (greeting first)."""
    call = httpx.post(f"{base}/api/calls", json={"number": number, "caller": "jo@example.com"}, timeout=15).json()
    auth = {"Authorization": f"Bearer {call['call_token']}"}
    said: list[str] = []
    with httpx.stream("GET", f"{base}/api/calls/{call['call_id']}/stream", params={"token": call["call_token"]},
                      timeout=30) as stream:
        lines = stream.iter_lines()
        pending = list(messages)
        for line in lines:
            if not line.startswith("data: "):
                continue
            event = json.loads(line.removeprefix("data: "))
            if event.get("type") == "transcript.chunk" and event["speaker"] == "agent":
                said.append(event["text"])
                if not pending:
                    break
                httpx.post(f"{base}/api/calls/{call['call_id']}/messages", json={"text": pending.pop(0)},
                           headers=auth, timeout=15)
    httpx.post(f"{base}/api/calls/{call['call_id']}/end", headers=auth, timeout=15)
    return said


def test_platform_runs_stops_cleanly_and_keeps_its_data(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("gateway", "nats", "monitoring", "postgres", "mcp", "rooms")}
    dsn = f"postgresql://postgres@127.0.0.1:{ports['postgres']}/platform"
    process = launch(tmp_path, ports)
    try:
        health = wait_healthy(process, f"http://127.0.0.1:{ports['gateway']}/health")
        streams = httpx.get(f"http://127.0.0.1:{ports['monitoring']}/jsz?streams=true").json()
        names = {s["name"] for account in streams["account_details"] for s in account["stream_detail"]}
        count = asyncio.run(archived_calls(dsn))
        # A demo chat call: a built-in tool over the demo shop, and the demo MCP server's tool.
        replies = agent_replies(f"http://127.0.0.1:{ports['gateway']}", "+1-555-0101",
                                ["Where is my order ORD-2001?", "How many loyalty points do I have?"])
    finally:
        output = stop(process)
    assert replies[0].startswith("Hello, you have reached Acme Store Orders & Shipping")
    assert "ORD-2001" in replies[1] and "processing" in replies[1]
    assert "1240" in replies[2]
    assert health["database"] == "connected" and health["nats"] == "connected"
    assert set(health["services"]) == {"gateway", "call-router", "agent-worker", "sentiment", "analytics",
                                       "postprocess"}
    assert {"CALLS", "DEADLETTER"} <= names
    assert count == 300
    assert "demo data: 2 supervisors, 6 agents, 300 archived calls" in output
    assert "password: e2e-password" in output and "supervisor2@demo.local" in output
    assert "gateway      | " in output and '"level"' not in output  # JSON lines rendered readable
    assert not (tmp_path / "postgres" / "postmaster.pid").exists()
    assert "restarting" not in output
    assert f"Voice rooms: ws://127.0.0.1:{ports['rooms']} (the embedded room server" in output
    assert "room-server  | " in output

    process = launch(tmp_path, ports)
    try:
        wait_healthy(process, f"http://127.0.0.1:{ports['gateway']}/health")
        count_after_restart = asyncio.run(archived_calls(dsn))
        # The demo chat call is archived by post-processing: before the stop, or on catching up after it.
        live_archived = wait_for_archived_live_call(dsn)
        # Analytics built its aggregates from the demo archive, then counted the live call from its event.
        kpi_calls = admin_kpi_calls(f"http://127.0.0.1:{ports['gateway']}", 301)
        # With no LIVEKIT_URL, voice calls get rooms on the embedded room server.
        voice = httpx.post(f"http://127.0.0.1:{ports['gateway']}/api/calls", timeout=15,
                           json={"number": "+1-555-0101", "channel": "voice"})
    finally:
        output = stop(process)
    assert count_after_restart == 300 and live_archived == 1, output[-3000:]
    assert kpi_calls == 301
    assert voice.status_code == 201, voice.text
    assert voice.json()["livekit"]["url"] == f"ws://127.0.0.1:{ports['rooms']}"
    assert "migrations applied: none pending" in output and "demo data:" not in output


def test_two_instances_of_each_bus_service_run_and_beat(tmp_path: Path) -> None:
    """`make run EMBEDDED_INSTANCES=2` (here the flag): two of each bus service, each supervised, on its
    own metrics port, in /health as an instance of its own, and named in the log lines."""
    ports = {name: free_port() for name in ("gateway", "nats", "monitoring", "postgres", "mcp", "rooms")}
    process = launch(tmp_path, ports, "--no-demo", "--instances", "2")

    def both_instances_up(health: dict) -> bool:  # type: ignore[type-arg]
        return all(set(health["services"][name].get("instances", {})) == {"1", "2"} for name in BUS_SERVICES)

    try:
        health = wait_healthy(process, f"http://127.0.0.1:{ports['gateway']}/health", seconds=3 * STARTUP_SECONDS,
                              until=both_instances_up)
        metrics = {(name, instance): httpx.get(f"http://127.0.0.1:{metrics_port(index, instance)}/metrics",
                                                timeout=5).status_code
                   for index, (name, _) in enumerate(SERVICES) if name in BUS_SERVICES for instance in (1, 2)}
    finally:
        output = stop(process)
    for name in BUS_SERVICES:
        instances = health["services"][name]["instances"]
        assert {i["status"] for i in instances.values()} == {"up"}, instances
        assert len({i["pid"] for i in instances.values()}) == 2  # two processes, not one beating twice
        assert f"{name}#1 " in output and f"{name}#2 " in output
    assert set(health["services"]["gateway"]["instances"]) == {"1"}
    assert set(metrics.values()) == {200}, metrics
    assert "Instances: call-router 2" in output
    assert "restarting" not in output
