"""`make run`: the whole platform on one machine, each service its own process, logs made readable."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import zlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from contracts.bus import Bus, connect_bus
from contracts.db import create_pool, migrate
from contracts.health import beat_forever
from embedded_stack.demo import ADMIN_EMAIL, SUPERVISORS, seed_demo
from embedded_stack.lifetime import (
    LEFTOVER_MARK,
    AlreadyRunning,
    die_with_parent,
    end_leftovers,
    hold_lock,
    port_taken,
    watch,
)
from embedded_stack.nats_server import clear_ports, nats_command, read_ports
from embedded_stack.postgres_server import (
    STOP_SIGNAL as POSTGRES_STOP_SIGNAL,
)
from embedded_stack.postgres_server import (
    PostgresServer,
    clear_leftover,
    free_port,
    postgres_command,
    prepare_data_dir,
    wait_until_ready,
)

# (name shown in logs, python module); started in this order.
SERVICES = (
    ("gateway", "gateway"),
    ("call-router", "call_router"),
    ("agent-worker", "agent_worker"),
    ("sentiment", "sentiment"),
    ("analytics", "analytics"),
    ("postprocess", "postprocess"),
)
# Services that may run as several instances: they share their work through the bus's durable
# consumers. Not the gateway: its instances would each need a port of their own (uvicorn binds its port
# alone) and something in front to spread the browsers over them; compose scales it behind a proxy.
BUS_SERVICES = tuple(name for name, _ in SERVICES if name != "gateway")
# How many instances of every bus service `make run` starts; EMBEDDED_INSTANCES_<SERVICE> (AGENT_WORKER,
# CALL_ROUTER, ...) for one service; the --instances flag beats both.
INSTANCES_ENV = "EMBEDDED_INSTANCES"
# Not platform services: the external MCP server the demo agents' loyalty tool talks to.
DEMO_PROCESSES = (("demo-mcp", "agent_worker.demo_mcp"),)
ROOM_SERVER = ("room-server", "embedded_stack.room_server")
# The bus services' Prometheus metrics, on ports from here up in SERVICES order (the gateway's are on
# its own /metrics); each further instance of a service on the next block of ten.
METRICS_BASE_PORT = 9191
METRICS_INSTANCE_STRIDE = 10
ROOM_SERVER_API_KEY = "embedded"
HOST = "127.0.0.1"
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
STABLE_SECONDS = 60.0  # a child that ran this long before dying starts the back-off anew
READY_SECONDS = 90.0  # for a restarted PostgreSQL's crash recovery, on a busy machine
STOP_GRACE_SECONDS = 10.0
DRAIN_SECONDS = 2.0  # for the last lines of a child that has exited
INFRASTRUCTURE_STOP_GRACE_SECONDS = 30.0
HEARTBEAT_SECONDS = 2.0  # the room server's state on /health (the gateway reads the health bucket)
LINE_LIMIT = 4 * 1024 * 1024  # a child's longest log line (a long traceback)
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
    metrics_port: int = METRICS_BASE_PORT  # the first service's; the others' follow (metrics_port)
    demo_password: str = "demo-password"
    seed: bool = True
    colour: bool = field(default_factory=sys.stdout.isatty)
    json_logs: bool = False  # print every line as JSON (the services' as they are) instead of rendering it
    instances: dict[str, int] = field(default_factory=dict)  # per bus service, when not 1 (instance_counts)


def env_name(service: str) -> str:
    """The environment's spelling of a service's name: call-router -> CALL_ROUTER."""
    return service.upper().replace("-", "_")


def instance_counts(flags: Sequence[str], environ: Mapping[str, str]) -> dict[str, int]:
    """How many instances of each bus service to run, 1 unless said otherwise: EMBEDDED_INSTANCES (every
    bus service), then EMBEDDED_INSTANCES_<SERVICE>, then each ``--instances`` flag in turn, which is
    ``N`` (every bus service) or ``service=N``. Raises ValueError saying what is wrong."""
    specs = [environ[INSTANCES_ENV]] if environ.get(INSTANCES_ENV) else []
    specs += [f"{service}={environ[variable]}" for service in (*BUS_SERVICES, "gateway")
              if environ.get(variable := f"{INSTANCES_ENV}_{env_name(service)}")]
    counts = dict.fromkeys(BUS_SERVICES, 1)
    for spec in (*specs, *flags):
        service, _, number = spec.rpartition("=")
        if service == "gateway":
            raise ValueError("the gateway runs as one instance under make run (docs/operations.md, Scale)")
        if service and service not in BUS_SERVICES:
            raise ValueError(f"{service!r} is no bus service; one of {', '.join(BUS_SERVICES)}")
        if not number.isdigit() or int(number) < 1:
            raise ValueError(f"instances must be a whole number from 1, not {number!r} (in {spec!r})")
        for name in (service,) if service else BUS_SERVICES:
            counts[name] = int(number)
    return {name: count for name, count in counts.items() if count != 1}


def metrics_port(service_index: int, instance: int, base: int = METRICS_BASE_PORT) -> int:
    """Where instance ``instance`` (from 1) of the ``service_index``-th of SERVICES serves its metrics."""
    return base + service_index + METRICS_INSTANCE_STRIDE * (instance - 1)


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
    # The instance is in the name column (agent-worker#2) when a service runs several.
    extra = {k: v for k, v in entry.items()
             if k not in {"ts", "level", "service", "instance", "call_id", "logger", "msg", "exc"}}
    tail = " ".join(f"{k}={v}" for k, v in extra.items())
    text = f"{name} | {clock} {level} {call}{entry.get('msg', '')}" + (f"  {tail}" if tail else "")
    if entry.get("exc"):
        text += "\n" + "\n".join(f"{name} |   {line}" for line in str(entry["exc"]).splitlines())
    return text


class LauncherLog:
    """The launcher's output: its own lines are JSON log entries like every service's, and every line,
    its own and its children's, is rendered readable (or printed as JSON, ``json_logs``)."""

    def __init__(self, colour: bool, json_logs: bool = False) -> None:
        self.colour = colour
        self.json_logs = json_logs
        self.width = 12  # of the name column; wider for the names of several instances (agent-worker#2)

    def child_line(self, name: str, raw: str) -> None:
        if self.json_logs:
            with contextlib.suppress(ValueError):
                if isinstance(json.loads(raw), dict):
                    print(raw, flush=True)
                    return
            raw = json.dumps({"ts": _now(), "level": "info", "service": name, "msg": raw})
            print(raw, flush=True)
            return
        print(render_line(name, raw, self.colour, self.width), flush=True)

    def entry(self, level: str, message: str, **fields: Any) -> None:
        line = {"ts": _now(), "level": level, "service": "launcher", "call_id": None,
                "logger": "embedded_stack.launcher", "msg": message, **fields}
        self.child_line("launcher", json.dumps(line, default=str))

    def info(self, message: str, **fields: Any) -> None:
        self.entry("info", message, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        self.entry("warning", message, **fields)

    def error(self, message: str, **fields: Any) -> None:
        self.entry("error", message, **fields)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Child:
    """A process the launcher runs and restarts when it dies: a service, or infrastructure they need."""

    name: str
    argv: list[str]
    infrastructure: bool = False
    stop_signal: int = signal.SIGTERM  # how it stops cleanly: sent on Ctrl-C
    # Sent by the kernel when the launcher dies (die_with_parent). A service's clean stop leans on the
    # infrastructure, which is going away at the same moment (a NATS drain then waits out its 30 s), and
    # nobody is left to kill it after a grace: a service is killed, and JetStream redelivers what it had
    # not acknowledged. The servers get their clean stop, for their data.
    death_signal: int = signal.SIGKILL
    stop_grace: float = STOP_GRACE_SECONDS
    user: str | None = None
    env: dict[str, str] = field(default_factory=dict)  # its own, over the environment all children share
    log_path: Path | None = None  # its output goes to this file; None: rendered into the launcher's
    # Before each start, in a worker thread: clears what an earlier run left (a stale file, a server
    # still running); returns what it did, to be said, or None.
    prepare: Callable[[], str | None] | None = None
    # After each start: returns once it serves, raises if it does not (READY_SECONDS at most).
    ready: Callable[[asyncio.subprocess.Process], Awaitable[None]] | None = None


async def exited(process: asyncio.subprocess.Process) -> int:
    """Its exit status once it has exited. Not process.wait(), which (Python 3.11) also waits for its
    output pipe to close, which a process it started and that outlives it may hold open for long."""
    while process.returncode is None:  # noqa: ASYNC110 (no event says it, short of asyncio internals)
        await asyncio.sleep(0.1)
    return process.returncode


def end_group(process: asyncio.subprocess.Process) -> None:
    """Kill what an exited child started and left behind (an agent-worker's forkserver and job processes,
    which can outlive it for good): its process group, which is its own (start_new_session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


class Supervisor:
    """Runs each child process, restarts one that dies (with back-off), stops them all on request:
    the services and the infrastructure alike, through the same code."""

    def __init__(self, env: dict[str, str], log: LauncherLog) -> None:
        self.env = env
        self.log = log
        self.children: list[Child] = []
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self.states: dict[str, str] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self.stopping = asyncio.Event()

    async def start(self, child: Child) -> None:
        """Run ``child`` until stop_all, restarting it whenever it dies. Returns once its first start is
        ready; raises if that start failed (a setup problem to report, not to retry)."""
        first: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.children.append(child)
        self.tasks.append(asyncio.create_task(self._supervise(child, first)))
        await first

    async def _supervise(self, child: Child, first: asyncio.Future[None]) -> None:
        loop = asyncio.get_running_loop()
        failures = restarts = 0
        while not self.stopping.is_set():
            self.states[child.name] = "starting"
            began = loop.time()
            try:
                process = await self._start_once(child)
            except Exception as exc:
                if not first.done():
                    first.set_exception(exc)
                    return
                outcome, code = f"could not start: {exc}", None
            else:
                self.states[child.name] = "up"
                if not first.done():
                    first.set_result(None)
                elif restarts:
                    self.log.info(f"{child.name} is back", child=child.name, restarts=restarts, pid=process.pid)
                code = await self._follow(child, process)
                outcome = f"exited with {code}"
            if self.stopping.is_set():
                return
            if loop.time() - began > STABLE_SECONDS:  # it had been running well: back-off starts again
                failures = 0
            delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS) - 1)]
            failures += 1
            restarts += 1
            self.states[child.name] = f"down ({outcome}); restarting in {delay:.0f}s"
            self.log.warning(f"{child.name} {outcome}; restarting in {delay:.0f}s", child=child.name,
                             exit_code=code, restart_in_s=delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)

    async def _start_once(self, child: Child) -> asyncio.subprocess.Process:
        if child.prepare and (done := await asyncio.to_thread(child.prepare)):
            self.log.info(done, child=child.name)
        assert threading.current_thread() is threading.main_thread()  # see die_with_parent
        output = child.log_path.open("ab") if child.log_path else asyncio.subprocess.PIPE
        try:
            process = await asyncio.create_subprocess_exec(
                *child.argv, env=self.env | child.env, user=child.user, stdout=output, stderr=asyncio.subprocess.STDOUT,
                # Own session: a terminal's Ctrl-C reaches only the launcher, which stops the children
                # itself, services first; otherwise a child could die first and be "restarted".
                start_new_session=True, preexec_fn=die_with_parent(child.death_signal), limit=LINE_LIMIT)
        finally:
            if child.log_path:
                output.close()  # type: ignore[union-attr]
        self.processes[child.name] = process
        if self.stopping.is_set():  # stop_all came while it was being started: it stops too
            process.send_signal(child.stop_signal)
        if child.ready:
            try:
                await asyncio.wait_for(child.ready(process), READY_SECONDS)
            except BaseException:
                if process.returncode is None:
                    process.kill()
                await exited(process)
                end_group(process)
                raise
        return process

    async def _follow(self, child: Child, process: asyncio.subprocess.Process) -> int:
        """Its output until it exits, then what is left of it (the pipe ends only when every process
        holding it has closed it), and the processes it started and left behind end with it."""
        if process.stdout is None:
            code = await process.wait()
            end_group(process)
            return code
        reader = asyncio.create_task(self._forward(child.name, process.stdout))
        code = await exited(process)
        end_group(process)
        _, pending = await asyncio.wait([reader], timeout=DRAIN_SECONDS)
        for task in pending:
            task.cancel()
        return code

    async def _forward(self, name: str, output: asyncio.StreamReader) -> None:
        async for raw in output:
            self.log.child_line(name, raw.decode(errors="replace").rstrip())

    async def stop_all(self) -> None:
        """Services first (they leave the bus and the database cleanly), then the infrastructure."""
        self.stopping.set()
        for infrastructure in (False, True):
            await asyncio.gather(*(self._stop(child) for child in self.children
                                   if child.infrastructure == infrastructure))
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _stop(self, child: Child) -> None:
        process = self.processes.get(child.name)
        if process is None or process.returncode is not None:
            return
        process.send_signal(child.stop_signal)
        try:
            await asyncio.wait_for(exited(process), child.stop_grace)
        except TimeoutError:
            self.log.warning(f"{child.name} did not stop in time; killing it", child=child.name)
            process.kill()
            await exited(process)


async def prepare_database(database_url: str, options: Options, log: LauncherLog) -> None:
    pool = await create_pool(database_url, max_size=2)
    try:
        async with pool.acquire() as conn:
            applied = await migrate(conn)
            log.info(f"migrations applied: {', '.join(applied) or 'none pending'}")
            if options.seed:
                summary = await seed_demo(conn, options.demo_password,
                                          mcp_url=f"http://127.0.0.1:{options.demo_mcp_port}/mcp")
                if summary.created:
                    log.info(f"demo data: {summary.supervisors} supervisors, {summary.agents} agents, "
                             f"{summary.archived_calls} archived calls")
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


def print_banner(options: Options, nats_monitoring: str | None, livekit_url: str, log: LauncherLog) -> None:
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
        "  Ctrl-C stops everything; a process that dies is restarted, and if this launcher dies, all it started"
        " stops with it. Data stays in " + str(options.data_dir),
        "",
    ]
    if options.instances:
        lines.insert(-2, "  Instances: " + ", ".join(f"{name} {count}" for name, count in options.instances.items())
                     + f" (each further instance's metrics port is {METRICS_INSTANCE_STRIDE} up)")
    if log.json_logs:
        log.info("platform started", banner="\n".join(lines).strip())
    else:
        print("\n".join(lines), flush=True)


def nats_child(options: Options) -> Child:
    data_dir = options.data_dir / "nats"  # the same ports and JetStream store on every restart

    async def ready(process: asyncio.subprocess.Process) -> None:
        while not read_ports(data_dir):
            if process.returncode is not None:
                raise RuntimeError(f"nats-server exited with {process.returncode}; see {data_dir / 'nats-server.log'}")
            await asyncio.sleep(0.05)

    return Child("nats-server", nats_command(data_dir, port=options.nats_port, host=HOST,
                                             monitoring_port=options.nats_monitoring_port),
                 infrastructure=True, death_signal=signal.SIGTERM, stop_grace=INFRASTRUCTURE_STOP_GRACE_SECONDS,
                 log_path=data_dir / "nats-server.log", prepare=partial(clear_ports, data_dir), ready=ready)


def prepare_postgres(data_dir: Path) -> str | None:
    """Before each start: the data directory (and the system user's way to it: a parent directory's
    permissions may have been narrowed since), then what an earlier server left there."""
    prepare_data_dir(data_dir)
    return clear_leftover(data_dir)


async def postgres_child(options: Options, log: LauncherLog) -> tuple[Child, PostgresServer]:
    data_dir = options.data_dir / "postgres"
    user = await asyncio.to_thread(prepare_data_dir, data_dir)
    # What an earlier run left (a server still running, started detached by an older launcher) goes
    # before the port is looked at: it may be what holds the port.
    if done := await asyncio.to_thread(clear_leftover, data_dir):
        log.info(done, child="postgres")
    port = options.postgres_port
    if port_taken(HOST, port):
        port = free_port(HOST)
        log.warning(f"port {options.postgres_port} is taken by another program: PostgreSQL listens on {port} "
                    f"instead (--postgres-port to choose)", child="postgres", port=port)
    server = PostgresServer(data_dir, HOST, port, data_dir / "server.log")

    async def ready(process: asyncio.subprocess.Process) -> None:
        await asyncio.to_thread(wait_until_ready, server, "platform", lambda: process.returncode is None,
                                READY_SECONDS)

    child = Child("postgres", postgres_command(data_dir, host=HOST, port=port), infrastructure=True,
                  stop_signal=POSTGRES_STOP_SIGNAL, death_signal=POSTGRES_STOP_SIGNAL, user=user,
                  stop_grace=INFRASTRUCTURE_STOP_GRACE_SECONDS,
                  log_path=server.log_path, prepare=partial(prepare_postgres, data_dir), ready=ready)
    return child, server


async def run(options: Options) -> int:
    """Run the platform until SIGINT/SIGTERM; 1 when it cannot (another launcher on the data directory,
    a server that does not start)."""
    log = LauncherLog(options.colour, options.json_logs)
    try:
        lock = hold_lock(options.data_dir)
    except AlreadyRunning as refused:
        log.error(f"not starting: {refused}", pid=refused.pid)
        return 1
    try:
        return await _run_holding_lock(options, log)
    finally:
        lock.close()


async def _run_holding_lock(options: Options, log: LauncherLog) -> int:
    # The lock was free: whatever still runs with this data directory's mark has lost its launcher.
    if ended := await asyncio.to_thread(end_leftovers, options.data_dir):
        log.warning(f"ended {len(ended)} processes an earlier launcher on {options.data_dir} left running: "
                    + ", ".join(map(str, ended)), ended=len(ended))
    # The children die with the launcher (die_with_parent); what they started, with its watchdog.
    watchdog = watch(options.data_dir)
    try:
        return await _run_platform(options, log)
    finally:
        assert watchdog.stdin is not None
        watchdog.stdin.close()  # everything stopped: it ends what may linger, and exits
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(watchdog.wait, STOP_GRACE_SECONDS + 5)


async def _run_platform(options: Options, log: LauncherLog) -> int:
    env = {**os.environ, LEFTOVER_MARK: str(options.data_dir), "PYTHONUNBUFFERED": "1",
           # before any service imports onnxruntime, which would otherwise send usage telemetry
           "ORT_DISABLE_TELEMETRY": os.environ.get("ORT_DISABLE_TELEMETRY", "1")}
    supervisor = Supervisor(env, log)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reporting: list[tuple[Bus, asyncio.Task[None]]] = []
    startup = asyncio.create_task(start_everything(options, supervisor, env, log, reporting))
    stopped = asyncio.create_task(stop.wait())
    code = 0
    try:
        await asyncio.wait([startup, stopped], return_when=asyncio.FIRST_COMPLETED)
        if not startup.done():
            startup.cancel()
        else:
            if startup.exception() is not None:
                log.error(f"could not start the platform: {startup.exception()}")
                code = 1
            else:
                await stopped
    finally:
        stopped.cancel()
        with contextlib.suppress(BaseException):
            await startup
        log.info("stopping…")
        for bus, beat in reporting:
            beat.cancel()
            with contextlib.suppress(BaseException):
                await beat
            with contextlib.suppress(Exception):
                await asyncio.wait_for(bus.close(), 5)
        await supervisor.stop_all()
        log.info("stopped")
    return code


async def start_everything(options: Options, supervisor: Supervisor, env: dict[str, str], log: LauncherLog,
                           reporting: list[tuple[Bus, asyncio.Task[None]]]) -> None:
    """Infrastructure first (each ready before the next), the database migrated, then every service."""
    nats_url, database_url = os.environ.get("NATS_URL"), os.environ.get("DATABASE_URL")
    nats_monitoring = None
    if not nats_url:
        await supervisor.start(nats_child(options))
        nats_url = f"nats://{HOST}:{options.nats_port}"
        nats_monitoring = f"http://{HOST}:{options.nats_monitoring_port}"
        log.info(f"embedded NATS with JetStream on {nats_url}, monitoring {nats_monitoring}", child="nats-server")
    if not database_url:
        child, postgres = await postgres_child(options, log)
        await supervisor.start(child)
        database_url = postgres.dsn("platform")
        log.info(f"embedded PostgreSQL on {database_url}", child="postgres")
    await prepare_database(database_url, options, log)
    env |= {"NATS_URL": nats_url, "DATABASE_URL": database_url, "GATEWAY_PORT": str(options.gateway_port),
            "DEMO_MCP_PORT": str(options.demo_mcp_port)}
    children = [*service_children(options, log), *(Child(name, [sys.executable, "-m", module])
                                               for name, module in DEMO_PROCESSES)]
    log.width = max(log.width, *(len(child.name) for child in children))
    if not os.environ.get("LIVEKIT_URL"):
        # No LiveKit server configured: voice calls go to the embedded room server, which speaks
        # LiveKit's protocols, so they take the same code path as with LiveKit server or Cloud.
        env |= {"LIVEKIT_URL": f"ws://{HOST}:{options.room_server_port}", "LIVEKIT_API_KEY": ROOM_SERVER_API_KEY,
                "LIVEKIT_API_SECRET": room_server_secret(options.data_dir)}
        name, module = ROOM_SERVER
        children.insert(0, Child(name, [sys.executable, "-m", module, "--port", str(options.room_server_port)],
                                 infrastructure=True))
        # The room server speaks no NATS: its state goes to /health through the launcher's beat.
        bus = await connect_bus(nats_url, "launcher")
        reporting.append((bus, asyncio.create_task(beat_forever(
            bus, name, "1", HEARTBEAT_SECONDS, lambda: {"state": supervisor.states.get(name, "starting")}))))
    for child in children:
        await supervisor.start(child)
    print_banner(options, nats_monitoring, env["LIVEKIT_URL"], log)


def service_children(options: Options, log: LauncherLog) -> list[Child]:
    """Each instance of each service: its instance number (SERVICE_INSTANCE, which its heartbeat and log
    lines carry) and metrics port of its own, named agent-worker#2 in the logs when there are several.
    A metrics port another program holds (a second platform on this machine) is swapped for a free one."""
    children = []
    for index, (name, module) in enumerate(SERVICES):
        count = options.instances.get(name, 1)
        for instance in range(1, count + 1):
            child_name = name if count == 1 else f"{name}#{instance}"
            env = {"SERVICE_INSTANCE": str(instance)}
            if name != "gateway":
                port = wanted = metrics_port(index, instance, options.metrics_port)
                if port_taken(HOST, port):
                    port = free_port(HOST)
                    log.warning(f"metrics port {wanted} is taken by another program: {child_name} serves its metrics "
                                f"on {port} instead (--metrics-port to choose)", child=child_name, port=port)
                env[f"{env_name(name)}_METRICS_PORT"] = str(port)
            children.append(Child(child_name, [sys.executable, "-m", module], env=env))
    return children
