"""Liveness through the bus: each instance of a service beats into a JetStream key-value bucket with a
TTL, under ``<service>.<instance>``, so instances of one service do not overwrite each other's beats.

The gateway's /health reads the bucket; ``python -m contracts.health <service>`` is the container
health check (of the instance in its container). An instance that stops cleanly takes its beat
away; one whose beats just stop disappears from the bucket when its TTL runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from contracts.settings import ServiceSettings
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


def beat_key(service: str, instance: str) -> str:
    return f"{service}.{instance}"


async def beat_forever(
    bus: Bus, service: str, instance: str, interval: float, details: Callable[[], dict[str, Any]] | None = None
) -> None:
    bucket = None
    key = beat_key(service, instance)
    try:
        while True:
            try:
                bucket = bucket or await health_bucket(bus)
                beat = {"service": service, "instance": instance, "status": "ok", "at": utc_now().isoformat(),
                        "pid": os.getpid(), "details": details() if details else {}}
                await bucket.put(key, json.dumps(beat).encode())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("heartbeat failed: %s", exc)
                bucket = None
            await asyncio.sleep(interval)
    finally:  # stopping: this instance leaves /health rather than turning stale there
        if bucket is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(bucket.delete(key), 2)


def is_fresh(beat: dict[str, Any], now: datetime | None = None) -> bool:
    age = ((now or utc_now()) - datetime.fromisoformat(beat["at"])).total_seconds()
    return age <= STALE_AFTER_SECONDS


async def read_beats(bus: Bus) -> dict[str, dict[str, dict[str, Any]]]:
    """Every beat in the bucket, by service, then by instance."""
    bucket = await health_bucket(bus)
    beats: dict[str, dict[str, dict[str, Any]]] = {}
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
                service = str(beat["service"])
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                # Anyone on the bus can write the bucket: one bad entry must not take /health down.
                log.warning("the health entry under %s is not a heartbeat (%s); ignored", key, exc)
                continue
            beats.setdefault(service, {})[str(beat.get("instance", key))] = beat  # key: a beat from before instances
    return beats


async def _check(nats_url: str, service: str, instance: str) -> bool:
    bus = await connect_bus(nats_url, f"healthcheck-{service}", connect_timeout=2.0)
    try:
        beat = (await read_beats(bus)).get(service, {}).get(instance)
        return beat is not None and is_fresh(beat)
    finally:
        await bus.close()


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m contracts.health <service>")
    settings = ServiceSettings()
    healthy = asyncio.run(_check(settings.nats_url, sys.argv[1], settings.instance))
    print("healthy" if healthy else "unhealthy")
    sys.exit(0 if healthy else 1)


if __name__ == "__main__":
    main()
