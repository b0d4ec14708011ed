"""What every benchmark needs: throw-away NATS and PostgreSQL servers, and percentiles."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from embedded_stack.nats_server import start_nats
from embedded_stack.postgres_server import start_postgres


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@contextlib.contextmanager
def embedded_servers() -> Iterator[tuple[str, str]]:
    """(nats_url, database_url) of servers that live as long as the block."""
    with tempfile.TemporaryDirectory() as tmp:
        nats = start_nats(Path(tmp) / "nats")
        postgres = start_postgres(Path(tmp) / "pg", durable=False)
        try:
            yield nats.url, postgres.dsn("platform")
        finally:
            nats.stop()
            postgres.stop()
