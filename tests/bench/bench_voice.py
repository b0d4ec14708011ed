"""`make bench` (voice): how long a caller waits for the agent to answer by voice on the offline path,
and how many voice calls this machine carries before that wait grows too long.

The real gateway, call-router and agent-worker (offline Whisper, the local brain, Piper, Silero VAD,
the local turn detector) with the room server on embedded NATS and PostgreSQL; customers are the real
rtc SDK in this process, speaking order questions made with the offline voice (tests.voice_customer).

- dial to greeting: from POST /api/calls to the first sound of the agent's greeting at the customer
  (the room, the dispatch, a warm job process joining, the session starting, the first words said);
- turn latency: from the end of the customer's speech to the first loud audio of the agent's answer
  at the customer (what a caller hears as the pause), p50 and p95 over the turns of one call; and
  where it went, from the agent-worker's "voice turn" lines: deciding the turn had ended, the
  transcript, the brain's first words, the voice's first audio;
- concurrency: the same latency with several calls talking at once (staggered), with the CPU of the
  whole machine's work per call (platform and customers) and the memory of a call's job process.

Must run in the sealed test namespace (`make bench` does): the calls carry WebRTC. The customers run on
the same two cores as the platform, so the figures are a little worse than a platform alone would see.
Prints and writes bench/results/voice.json; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from agent_worker.app import setup as worker_setup
from agent_worker.config import Settings as WorkerSettings
from call_router.app import setup as router_setup
from call_router.config import Settings as RouterSettings
from embedded_stack.postgres_server import free_port
from tests.bench.bench_calls import prepare
from tests.bench.servers import embedded_servers, percentile
from tests.integration.conftest import running_gateway
from tests.integration.test_gateway_streams import reading
from tests.services import running_service
from tests.voice_customer import on_the_phone
from tests.waiting import eventually

QUESTIONS = ("Where is my order ORD-1042?", "Can you tell me the status of order ORD-2001?",
             "Has my order ORD-3003 been delivered?", "Hello, I am waiting for ORD-1042, where is it?")
PARTS = ("end_of_turn_ms", "stt_ms", "brain_ms", "tts_ms", "reply_after_ms")
RESULTS = Path("bench/results/voice.json")


@dataclass
class Turns:
    """What the customers measured, and the agent-worker's own account of each turn."""

    greetings: list[float] = field(default_factory=list)  # seconds, dialling to the greeting's first sound
    waits: list[float] = field(default_factory=list)  # seconds, end of speech to the agent's first sound
    failures: int = 0
    parts: list[dict[str, int]] = field(default_factory=list)


class VoiceTurnLines(logging.Handler):
    """Collects the agent-worker's "voice turn" lines (job processes forward their logs here)."""

    def __init__(self) -> None:
        super().__init__()
        self.turns: Turns | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == "voice turn" and self.turns is not None:
            self.turns.parts.append({name: getattr(record, name) for name in PARTS if hasattr(record, name)})


async def one_call(base: str, number: str, turns: int, results: Turns, start_after: float) -> None:
    await asyncio.sleep(start_after)
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        dialled = time.monotonic()
        call = (await http.post("/api/calls", json={"number": number, "channel": "voice"})).json()
        async with http.stream("GET", f"/api/calls/{call['call_id']}/stream",
                               params={"token": call["call_token"]}) as response, reading(response) as events:
            async with on_the_phone(call["livekit"]) as (microphone, ear):
                results.greetings.append(await ear.sound(after=0, within=120) - dialled)
                await ear.speech(after=0, within=120)  # the greeting, said in full
                for turn in range(turns):
                    said = await microphone.say(QUESTIONS[turn % len(QUESTIONS)])
                    try:
                        answered = await ear.sound(after=said.ended, within=30)
                        results.waits.append(answered - said.ended)
                        await ear.speech(after=said.ended, within=60)  # let it finish before the next question
                    except (AssertionError, TimeoutError):
                        results.failures += 1
            while (await events.next(within=60)).event != "call.ended":
                pass  # leaving the room hung up


@contextlib.contextmanager
def room_platform(nats_url: str, database_url: str, **worker_settings: Any) -> Iterator[str]:
    """The gateway (its URL), call-router and agent-worker with voice calls in rooms on the room server,
    which runs in a process of its own as under `make run` (its WebRTC must not share this process's
    interpreter with the customers)."""
    key, secret = "bench", "bench-secret-of-at-least-32-characters"
    port = free_port()
    room_server = subprocess.Popen([sys.executable, "-m", "embedded_stack.room_server", "--port", str(port)],
                                   env={**os.environ, "LIVEKIT_API_KEY": key, "LIVEKIT_API_SECRET": secret})
    keys = {"livekit_url": f"ws://127.0.0.1:{port}", "livekit_api_key": key, "livekit_api_secret": secret}
    try:
        asyncio.run(eventually(lambda: answers(f"http://127.0.0.1:{port}/"), within=30))
        router = RouterSettings(nats_url=nats_url, database_url=database_url, **keys)
        worker = WorkerSettings(nats_url=nats_url, database_url=database_url, **keys, **worker_settings)
        with running_service("call-router", router, router_setup), \
                running_service("agent-worker", worker, worker_setup), \
                running_gateway(nats_url, database_url, call_attempts_per_minute=100_000, **keys) as gateway:
            yield gateway.url
    finally:
        room_server.terminate()
        room_server.wait(10)


async def answers(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=1) as http:
            return (await http.get(url)).status_code == 200
    except httpx.HTTPError:
        return False


def figures(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {"p50": round(statistics.median(values) * 1000), "p95": round(percentile(values, 0.95) * 1000),
            "max": round(max(values) * 1000), "n": len(values)}


def breakdown(parts: list[dict[str, int]]) -> dict[str, float]:
    return {name: round(statistics.median(values)) for name in PARTS
            if (values := [p[name] for p in parts if name in p])}


async def level(base: str, numbers: list[str], calls: int, turns: int, lines: VoiceTurnLines) -> dict[str, Any]:
    """``calls`` calls at once (started a second apart, each to an agent of its own), ``turns`` questions each."""
    results = Turns()
    lines.turns = results
    platform = psutil.Process()
    cpu_before = busy_cpu_seconds()
    started = time.monotonic()
    peak_rss, job_rss = 0.0, 0.0

    async def sample_memory() -> None:
        nonlocal peak_rss, job_rss
        while True:
            peak_rss = max(peak_rss, rss_mb(platform))
            job_rss = max([job_rss, *job_process_rss_mb(platform)])
            await asyncio.sleep(1)

    sampling = asyncio.create_task(sample_memory())
    try:
        await asyncio.gather(*(one_call(base, numbers[i], turns, results, start_after=i) for i in range(calls)))
    finally:
        sampling.cancel()
    elapsed = time.monotonic() - started
    cpu = busy_cpu_seconds() - cpu_before
    return {"concurrent_calls": calls, "dial_to_greeting_ms": figures(results.greetings),
            "turns": len(results.waits), "failed_turns": results.failures,
            "turn_latency_ms": figures(results.waits), "agent_worker_median_ms": breakdown(results.parts),
            "cpu_cores_busy": round(cpu / elapsed, 2), "cpu_cores_per_call": round(cpu / elapsed / calls, 2),
            "platform_peak_rss_mb": round(peak_rss), "job_process_rss_mb": round(job_rss)}


def busy_cpu_seconds() -> float:
    """The whole machine's busy CPU time: the platform, its job processes (which come and go with the
    calls) and the customers; nothing else runs on it during a benchmark."""
    times = psutil.cpu_times()
    return times.user + times.nice + times.system + times.irq + times.softirq


def job_process_rss_mb(root: psutil.Process) -> list[float]:
    """Resident memory of each LiveKit job process (one serves each voice call, with its models): the
    children of livekit-agents' forkserver."""
    sizes = []
    for process in root.children(recursive=True):
        try:
            if "forkserver" in " ".join(process.parent().cmdline()):
                sizes.append(process.memory_info().rss / 2**20)
        except (psutil.NoSuchProcess, AttributeError):
            pass
    return sizes


def rss_mb(root: psutil.Process) -> float:
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=20, help="questions in the single call")
    parser.add_argument("--levels", default="2,3,5", help="concurrent calls to try after the single one")
    parser.add_argument("--level-turns", type=int, default=4, help="questions per call at each level")
    args = parser.parse_args()
    lines = VoiceTurnLines()
    logging.getLogger("agent_worker.session").addHandler(lines)
    logging.getLogger("agent_worker.session").setLevel(logging.INFO)
    runs = []
    # as many warm job processes as the most concurrent level, so calls do not wait for one
    most = max([1, *(int(n) for n in args.levels.split(",") if n)])
    with embedded_servers() as (nats_url, database_url), \
            room_platform(nats_url, database_url, livekit_idle_processes=most) as base:
        numbers = asyncio.run(prepare(database_url, desks=most))
        runs.append(asyncio.run(level(base, numbers, 1, args.turns, lines)))
        for calls in (int(n) for n in args.levels.split(",") if n):
            runs.append(asyncio.run(level(base, numbers, calls, args.level_turns, lines)))
    for run in runs:
        latency = run["turn_latency_ms"]
        print(f"voice, {run['concurrent_calls']} call(s): dial to greeting {run['dial_to_greeting_ms']}; "
              f"turn latency p50 {latency.get('p50')} ms, "
              f"p95 {latency.get('p95')} ms over {run['turns']} turns ({run['failed_turns']} unanswered); "
              f"agent-worker medians {run['agent_worker_median_ms']}; {run['cpu_cores_per_call']} cores per call, "
              f"job process {run['job_process_rss_mb']} MB (one per call)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": {"cores": psutil.cpu_count(), "memory_gb": round(
        psutil.virtual_memory().total / 2**30)}, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
