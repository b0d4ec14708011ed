"""Liveness through the bus: each service beats into a JetStream key-value bucket with a TTL.

The gateway's /health reads the bucket; ``python -m contracts.health <service>`` is the container
health check. A service whose beats stop disappears from the bucket when its TTL runs out.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, KeyNotFoundError
from nats.js.kv import KeyValue

from contracts.bus import Bus, connect_bus
from contracts.envelope import utc_now
from contracts.subjects import HEALTH_BUCKET

log = logging.getLogger("contracts.health")

STALE_AFTER_SECONDS = 15.0


async def health_bucket(bus: Bus) -> KeyValue:
    try:
        return await bus.js.key_value(HEALTH_BUCKET)
    except BucketNotFoundError:
        return await bus.js.create_key_value(
            KeyValueConfig(bucket=HEALTH_BUCKET, ttl=3 * STALE_AFTER_SECONDS, storage=StorageType.MEMORY)
        )


async def beat_forever(
    bus: Bus, service: str, interval: float, details: Callable[[], dict[str, Any]] | None = None
) -> None:
    bucket = None
    while True:
        try:
            bucket = bucket or await health_bucket(bus)
            beat = {"service": service, "status": "ok", "at": utc_now().isoformat(), "pid": os.getpid(),
                    "details": details() if details else {}}
            await bucket.put(service, json.dumps(beat).encode())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("heartbeat failed: %s", exc)
            bucket = None
        await asyncio.sleep(interval)


def is_fresh(beat: dict[str, Any], now: datetime | None = None) -> bool:
    age = ((now or utc_now()) - datetime.fromisoformat(beat["at"])).total_seconds()
    return age <= STALE_AFTER_SECONDS


async def read_beats(bus: Bus) -> dict[str, dict[str, Any]]:
    bucket = await health_bucket(bus)
    beats: dict[str, dict[str, Any]] = {}
    try:
        keys = await bucket.keys()
    except Exception:
        return beats
    for key in keys:
        try:
            entry = await bucket.get(key)
        except KeyNotFoundError:
            continue
        if entry.value:
            try:
                beat = json.loads(entry.value)
                datetime.fromisoformat(beat["at"])  # what is_fresh reads
                if not isinstance(beat.get("details", {}), dict):
                    raise TypeError("details is not an object")
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                # Anyone on the bus can write the bucket: one bad entry must not take /health down.
                log.warning("the health entry under %s is not a heartbeat (%s); ignored", key, exc)
                continue
            beats[key] = beat
    return beats


async def _check(nats_url: str, service: str) -> bool:
    bus = await connect_bus(nats_url, f"healthcheck-{service}", connect_timeout=2.0)
    try:
        beat = (await read_beats(bus)).get(service)
        return beat is not None and is_fresh(beat)
    finally:
        await bus.close()


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m contracts.health <service>")
    healthy = asyncio.run(_check(os.environ.get("NATS_URL", "nats://127.0.0.1:4222"), sys.argv[1]))
    print("healthy" if healthy else "unhealthy")
    sys.exit(0 if healthy else 1)


if __name__ == "__main__":
    main()
