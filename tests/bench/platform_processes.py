"""The whole platform as `make run` runs it (`python -m embedded_stack`: every service its own process,
embedded NATS and PostgreSQL) on free ports in a throw-away data directory, and a meter of each
service's CPU time and resident memory, read per process tree with psutil."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from embedded_stack.launcher import SERVICES
from embedded_stack.postgres_server import SUPERUSER, free_port

SERVICE_MODULES = {module: name for name, module in SERVICES}


@dataclass
class Platform:
    url: str
    database_url: str
    launcher: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path
    nats_url: str
    nats_monitoring_url: str

    def nats_message_counts(self) -> dict[str, dict[str, int]]:
        """NATS's running totals of messages in (published, pull requests and acks included) and out, of
        each client by its name (the service) and of the server as a whole ("all")."""
        with urllib.request.urlopen(f"{self.nats_monitoring_url}/connz?limit=10000", timeout=5) as response:
            connections = json.load(response)["connections"]
        with urllib.request.urlopen(f"{self.nats_monitoring_url}/varz", timeout=5) as response:
            varz = json.load(response)
        counts: dict[str, dict[str, int]] = {"all": {"in": varz["in_msgs"], "out": varz["out_msgs"]}}
        for client in connections:
            total = counts.setdefault(client.get("name") or "unnamed", {"in": 0, "out": 0})
            total["in"] += client["in_msgs"]
            total["out"] += client["out_msgs"]
        return counts

    def processes(self) -> dict[str, psutil.Process]:
        """Each service's process (its children, e.g. the agent-worker's job process, are counted with
        it), plus nats-server and the PostgreSQL postmaster (with its backends)."""
        found: dict[str, psutil.Process] = {}
        for child in psutil.Process(self.launcher.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                cmdline = child.cmdline()
                if "-m" in cmdline:
                    module = cmdline[cmdline.index("-m") + 1]
                    if module in SERVICE_MODULES:
                        found[SERVICE_MODULES[module]] = child
                elif cmdline and cmdline[0].endswith("nats-server"):
                    found["nats-server"] = child
        for proc in psutil.process_iter(["cmdline"]):
            cmdline = proc.info["cmdline"] or []
            if cmdline and cmdline[0].endswith("/postgres") and str(self.data_dir) in " ".join(cmdline):
                found["postgres"] = proc
        return found


@contextlib.contextmanager
def running_platform(env_overrides: dict[str, str], ready_within: float = 240.0) -> Iterator[Platform]:
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        data_dir = Path(tmp) / "data"
        ports = {flag: free_port() for flag in ("--port", "--nats-port", "--nats-monitoring-port", "--postgres-port",
                                                "--demo-mcp-port", "--room-server-port")}
        args = [sys.executable, "-m", "embedded_stack", "--data-dir", str(data_dir), "--no-demo"]
        for flag, port in ports.items():
            args += [flag, str(port)]
        env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL", "LIVEKIT_URL")}
        env |= {"ORT_DISABLE_TELEMETRY": "1", **env_overrides}
        log_path = Path(tempfile.gettempdir()) / f"bench-load-platform-{os.getpid()}.log"
        with open(log_path, "wb") as log:
            launcher = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{ports['--port']}"
        platform = Platform(url, f"postgresql://{SUPERUSER}@127.0.0.1:{ports['--postgres-port']}/platform",
                            launcher, data_dir, log_path, f"nats://127.0.0.1:{ports['--nats-port']}",
                            f"http://127.0.0.1:{ports['--nats-monitoring-port']}")
        try:
            wait_healthy(platform, ready_within)
            yield platform
        finally:
            launcher.send_signal(signal.SIGINT)
            try:
                launcher.wait(60)
            except subprocess.TimeoutExpired:
                launcher.kill()
                launcher.wait()


def wait_healthy(platform: Platform, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if platform.launcher.poll() is not None:
            raise RuntimeError(f"the launcher exited; see {platform.log_path}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{platform.url}/health", timeout=5) as response:
                if response.status == 200:
                    return
        time.sleep(1.0)
    raise RuntimeError(f"the platform was not healthy within {within:.0f}s; see {platform.log_path}")


def tree(process: psutil.Process) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return [process, *process.children(recursive=True)]
    return []


def sample(process: psutil.Process, alone: bool = False) -> tuple[float, float]:
    """(CPU seconds, resident MB) of a process and its descendants (``alone``: of the process only)."""
    cpu = rss = 0.0
    for proc in [process] if alone else tree(process):
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            cpu += times.user + times.system
            rss += proc.memory_info().rss
    return cpu, rss / 2**20


@dataclass
class Meter:
    """CPU seconds used and the peak resident memory of each process tree between start and stop,
    sampled every ``every`` seconds on a thread of its own."""

    processes: dict[str, psutil.Process]
    every: float = 0.5
    alone: frozenset[str] = frozenset()  # measured without their children (the benchmark's own process)
    start_cpu: dict[str, float] = field(default_factory=dict)
    start_rss: dict[str, float] = field(default_factory=dict)
    peak_rss: dict[str, float] = field(default_factory=dict)
    end_cpu: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Meter:
        for name, process in self.processes.items():
            self.start_cpu[name], self.start_rss[name] = sample(process, name in self.alone)
            self.peak_rss[name] = self.start_rss[name]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            for name, process in self.processes.items():
                self.peak_rss[name] = max(self.peak_rss[name], sample(process, name in self.alone)[1])

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        for name, process in self.processes.items():
            cpu, rss = sample(process, name in self.alone)
            self.end_cpu[name] = cpu
            self.peak_rss[name] = max(self.peak_rss[name], rss)

    def report(self, calls: int) -> dict[str, dict[str, float]]:
        """Per service: CPU seconds per call, resident MB per live call (peak over the start), and
        the totals they come from."""
        out = {}
        for name in self.processes:
            cpu = self.end_cpu[name] - self.start_cpu[name]
            grown = self.peak_rss[name] - self.start_rss[name]
            out[name] = {"cpu_s": round(cpu / calls, 4), "rss_mb": round(grown / calls, 3),
                         "cpu_s_total": round(cpu, 2), "rss_mb_before": round(self.start_rss[name], 1),
                         "rss_mb_peak": round(self.peak_rss[name], 1)}
        return out
