"""`make bench` (bus): publish rate and publish-to-handler latency through real JetStream.

Prints figures; asserts nothing about speed (targets belong to issues, measured here).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from contracts.bus import EventConsumer, connect_bus, ensure_streams
from contracts.subjects import supervisor_filter
from contracts.transcripts import TranscriptChunk
from embedded_stack.nats_server import start_nats


async def measure(nats_url: str, events: int) -> dict[str, float]:
    bus = await connect_bus(nats_url, "bench")
    await ensure_streams(bus)
    ids = {"supervisor_id": uuid.uuid4(), "agent_id": uuid.uuid4(), "call_id": uuid.uuid4()}
    latencies: list[float] = []
    done = asyncio.Event()

    async def handle(event: TranscriptChunk) -> None:
        latencies.append(time.perf_counter() - sent_at[event.seq])
        if len(latencies) == events:
            done.set()

    sent_at: dict[int, float] = {}
    consumer = EventConsumer(bus, f"bench-{uuid.uuid4().hex[:6]}", [supervisor_filter(ids["supervisor_id"])],
                             handle, accepts=(TranscriptChunk,))
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    await asyncio.sleep(0.5)  # let the consumer's first fetch be waiting
    started = time.perf_counter()
    for seq in range(events):
        sent_at[seq] = time.perf_counter()
        await bus.publish(TranscriptChunk(**ids, seq=seq, speaker="customer", text=f"utterance number {seq}"))
    publish_seconds = time.perf_counter() - started
    await asyncio.wait_for(done.wait(), 60)
    total_seconds = time.perf_counter() - started
    stop.set()
    await task
    await bus.close()
    latencies.sort()
    return {
        "events": events,
        "publish_per_second": events / publish_seconds,
        "end_to_end_per_second": events / total_seconds,
        "latency_p50_ms": 1000 * statistics.median(latencies),
        "latency_p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        server = start_nats(Path(data))
        try:
            figures = asyncio.run(measure(server.url, args.events))
        finally:
            server.stop()
    print("bus (JetStream, file storage, one publisher awaiting each ack, one durable pull consumer):")
    for name, value in figures.items():
        print(f"  {name:24s} {value:10.1f}")


if __name__ == "__main__":
    main()
