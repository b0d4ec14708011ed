"""What ties the processes of `make run` to their launcher (Linux).

- Each child asks the kernel for a signal when its parent dies (prctl PR_SET_PDEATHSIG), so a launcher
  killed with kill -9, or by a closed terminal, takes every process it started with it.
- A lock file in the data directory (flock, holding the launcher's pid) keeps a second launcher off a
  data directory in use; the kernel releases it whatever way its holder dies.
- Each child carries the data directory in its environment (LEFTOVER_MARK), and so does whatever it
  starts: a launcher finds and ends what an earlier one on the same directory left behind, and a
  watchdog process (``watch``) does it as soon as its launcher is gone. The parent-death signal reaches
  the launcher's children only, not what they started (the agent-worker's job processes).

``python -m embedded_stack.lifetime DATA_DIR`` is the watchdog.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

PR_SET_PDEATHSIG = 1
LEFTOVER_MARK = "EMBEDDED_STACK_DATA_DIR"
LOCK_NAME = "launcher.lock"

_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A preexec_fn for subprocess: the child gets ``sig`` when the process starting it dies.

    The kernel sends it when the *thread* that forked exits, so only a fork from the main thread
    (which lives as long as the process) gets it; elsewhere None (no tie). preexec_fn runs after
    subprocess has switched user (``user=``), which would otherwise clear the setting."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(_libc, "prctl"):  # not Linux
        return None
    parent = os.getpid()

    def tie() -> None:  # in the child, between fork and exec: nothing but system calls
        _libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the tie was made
            os.kill(os.getpid(), sig)

    return tie


class AlreadyRunning(RuntimeError):
    def __init__(self, data_dir: Path, pid: str) -> None:
        super().__init__(
            f"another launcher (pid {pid or 'unknown'}) is running on the data directory {data_dir}: "
            f"stop it first (Ctrl-C in its terminal, or kill {pid or 'it'}), or use another --data-dir")
        self.pid = pid


def hold_lock(data_dir: Path) -> IO[str]:
    """Take the data directory's launcher lock for as long as the returned file stays open (the process's
    life: the kernel drops it however the process ends); AlreadyRunning when another launcher has it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = open(data_dir / LOCK_NAME, "a+")  # kept open for the process's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        pid = lock.read().strip()
        lock.close()
        raise AlreadyRunning(data_dir, pid) from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


@dataclass(frozen=True)
class Leftover:
    pid: int
    name: str

    def __str__(self) -> str:
        return f"{self.name} (pid {self.pid})"


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def _name(pid: int) -> str:
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    words = [word.decode(errors="replace") for word in cmdline if word]
    if len(words) >= 3 and words[1] == "-m":  # python -m gateway
        return words[2]
    return Path(words[0]).name if words else Path(f"/proc/{pid}/comm").read_text().strip()


def _ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
    return pids


def leftovers(data_dir: Path) -> list[Leftover]:
    """Processes started by a launcher on ``data_dir`` (their environment says so), but not this one's."""
    mine, skip = str(data_dir), _ancestors()
    found: list[Leftover] = []
    if not Path("/proc").is_dir():  # not Linux: nothing to find this way
        return found
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        pid = int(entry.name)
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to read
            if _environ(pid).get(LEFTOVER_MARK) == mine:
                found.append(Leftover(pid, _name(pid)))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has ended; only its parent's wait is missing


def end_processes(pids: list[int], grace: float, first_signal: Callable[[int], int]) -> None:
    """Ask each process to stop (``first_signal(pid)``), wait up to ``grace`` seconds, then kill what is left."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, first_signal(pid))
    deadline = time.monotonic() + grace
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline + 5:
        time.sleep(0.05)


def end_leftovers(data_dir: Path, grace: float = 10.0) -> list[Leftover]:
    """End what an earlier launcher on ``data_dir`` left running; PostgreSQL with its fast shutdown."""
    found = leftovers(data_dir)
    names = {leftover.pid: leftover.name for leftover in found}
    end_processes(list(names), grace,
                  lambda pid: signal.SIGINT if names[pid] == "postgres" else signal.SIGTERM)
    return found


def port_taken(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT does not count
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def watch(data_dir: Path) -> subprocess.Popen[bytes]:
    """Start the launcher's watchdog: once the launcher has closed the pipe to it, or has died however
    (the kernel closes it then), it ends every process still carrying ``data_dir``'s mark."""
    env = {k: v for k, v in os.environ.items() if k != LEFTOVER_MARK}
    return subprocess.Popen([sys.executable, "-m", "embedded_stack.lifetime", str(data_dir)], env=env,
                            stdin=subprocess.PIPE, start_new_session=True)  # Ctrl-C is for the launcher


def main() -> None:
    data_dir = Path(sys.argv[1])
    sys.stdin.buffer.read()  # until the launcher closes it, or is gone
    if ended := end_leftovers(data_dir):
        with contextlib.suppress(OSError):  # the launcher's terminal may be gone with it
            print(json.dumps({"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "level": "warning",
                              "service": "launcher-watchdog", "msg": "the launcher is gone: ended what it left",
                              "ended": ", ".join(map(str, ended))}), flush=True)


if __name__ == "__main__":
    main()
