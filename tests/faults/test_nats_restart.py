"""The NATS server killed (-9) mid-run and started again by the launcher on the same port and store:
services and gateways reconnect, and a supervisor's browser, reconnecting with Last-Event-ID as
EventSource does, gets every transcript chunk of the live calls exactly once, in order."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from tests.bench.platform_processes import Platform
from tests.faults.chat import TURNS, ChatCall, agent_line, finish
from tests.faults.conftest import back_up, kill, watched_desks
from tests.waiting import eventually

pytestmark = pytest.mark.faults

CALLS = 5


async def test_live_calls_and_their_streams_ride_out_a_nats_restart(platform: Platform, admin_email: str) -> None:
    async with watched_desks(platform, admin_email, CALLS, 901) as world:
        calls = [ChatCall(desk, f"nats-restart-{i}@example.com") for i, desk in enumerate(world.desks)]
        running = [asyncio.create_task(call.run(world.session, TURNS, think=1.5)) for call in calls]
        await eventually(lambda: all(call.customer_stream and any(map(agent_line, call.customer_stream.seen))
                                     for call in calls), within=30)
        await asyncio.sleep(1.0)  # the first turns in flight
        killed_at = time.time()
        recovered = await back_up(platform, world.session, "nats-server", kill(platform, "nats-server"), killed_at)
        kept = await finish(calls, running, platform.database_url, within=60)
        for call in calls:  # exactly once, in order: what the table holds, as the supervisor's stream gave it
            assert world.supervisors.chunks(call.call_id) == [seq for seq, _, _ in kept[call.call_id].lines]
        assert world.supervisors.reconnections >= CALLS, "the supervisors' streams never broke: no restart seen"
        retried = sum((call.retried for call in calls), Counter())
        slowest = max(took for call in calls for began, took in call.reply_seconds if began >= killed_at - 5)
        print(f"\nNATS restart: bus and every service back {recovered:.1f} s after the kill; "
              f"{world.supervisors.reconnections} supervisor stream reconnections; slowest reply around it "
              f"{slowest:.1f} s; customer requests tried again: {dict(retried)}")
