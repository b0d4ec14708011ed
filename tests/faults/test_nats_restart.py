"""The NATS server killed (-9) mid-run and started again by the launcher on the same port and store:
services and gateways reconnect, and a supervisor's browser, reconnecting with Last-Event-ID as
EventSource does, gets every transcript chunk of the live calls exactly once, in order."""

from __future__ import annotations

import time

import pytest

from tests.bench.platform_processes import Platform
from tests.faults.chat import converse, finish, in_conversation
from tests.faults.conftest import back_up, kill, watched_desks

pytestmark = pytest.mark.faults

CALLS = 5


async def test_live_calls_and_their_streams_ride_out_a_nats_restart(platform: Platform, admin_email: str) -> None:
    async with watched_desks(platform, admin_email, CALLS, 901) as world:
        calls, running = converse(world.session, world.desks, "nats-restart", think=1.5)
        await in_conversation(calls)
        killed_at = time.time()
        recovered = await back_up(platform, world.session, "nats-server", kill(platform, "nats-server"), killed_at)
        outcome = await finish(calls, running, platform.database_url, world.supervisors)
        assert world.supervisors.reconnections >= CALLS, "the supervisors' streams never broke: no restart seen"
        print(f"\nNATS restart: bus and every service back {recovered:.1f} s after the kill; "
              f"{world.supervisors.reconnections} supervisor stream reconnections; slowest reply "
              f"{outcome.replies[-1]:.1f} s; customer requests tried again: {dict(outcome.retried)}")
