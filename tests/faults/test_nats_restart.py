"""The NATS server killed (-9) mid-run and started again by the launcher on the same port and store:
services and gateways reconnect, and a supervisor's browser, reconnecting with Last-Event-ID as
EventSource does, gets every transcript chunk of the live calls exactly once, in order."""

from __future__ import annotations

import pytest

from tests.bench.platform_processes import Platform
from tests.faults.conftest import killed_mid_conversation

pytestmark = pytest.mark.faults

CALLS = 5


async def test_live_calls_and_their_streams_ride_out_a_nats_restart(platform: Platform, admin_email: str) -> None:
    recovery = await killed_mid_conversation(platform, admin_email, "nats-server", CALLS, 901, think=1.5)
    assert recovery.stream_reconnections >= CALLS, "the supervisors' streams never broke: no restart seen"
    print(f"\nNATS restart: bus and every service back {recovery.seconds:.1f} s after the kill; "
          f"{recovery.stream_reconnections} supervisor stream reconnections; slowest reply "
          f"{recovery.outcome.replies[-1]:.1f} s; customer requests tried again: {dict(recovery.outcome.retried)}")
