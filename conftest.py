"""Session-wide real infrastructure for every test: a NATS server with JetStream and a PostgreSQL,
started from the same wheels `make run` uses (or taken from NATS_URL / DATABASE_URL when set).
Each test session gets its own freshly migrated database."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from contracts.bus import Bus, connect_bus, ensure_streams
from contracts.db import create_pool, migrate
from embedded_stack.nats_server import start_nats
from embedded_stack.postgres_server import start_postgres
from tests.pg import connection

# The services under test run in this process (not through contracts.service.serve, which sets it):
# onnxruntime would otherwise send usage telemetry to Microsoft (the sealed namespace catches it).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("NATS_URL"):
        yield url
        return
    server = start_nats(tmp_path_factory.mktemp("nats"))
    yield server.url
    server.stop()


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def _create_migrated_database(admin_url: str, database: str) -> None:
    async with connection(admin_url) as conn:
        await conn.execute(f'create database "{database}"')
    async with connection(_with_database(admin_url, database)) as conn:
        await migrate(conn)


async def _drop_database(admin_url: str, database: str) -> None:
    async with connection(admin_url) as conn:
        await conn.execute(f'drop database if exists "{database}" with (force)')


@pytest.fixture(scope="session")
def postgres_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    server = start_postgres(tmp_path_factory.mktemp("postgres"), durable=False, database="postgres")
    yield server.dsn("postgres")
    server.stop()


@pytest.fixture(scope="session")
def database_url(postgres_admin_url: str) -> Iterator[str]:
    database = f"test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_create_migrated_database(postgres_admin_url, database))
    yield _with_database(postgres_admin_url, database)
    asyncio.run(_drop_database(postgres_admin_url, database))


@pytest.fixture
async def isolated_database_url(postgres_admin_url: str) -> AsyncIterator[str]:
    """A database of its own, for tests of platform-wide state (the call queue counts every call)."""
    database = f"iso_{uuid.uuid4().hex[:12]}"
    await _create_migrated_database(postgres_admin_url, database)
    yield _with_database(postgres_admin_url, database)
    await _drop_database(postgres_admin_url, database)


@pytest.fixture
async def isolated_pool(isolated_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await create_pool(isolated_database_url)
    yield created
    await created.close()


@pytest.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    connected = await connect_bus(nats_url, "tests")
    await ensure_streams(connected)
    yield connected
    await connected.close()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await create_pool(database_url)
    yield created
    await created.close()
