"""Which live counters go out: changes at once, the ticking wait time alone never, and on the heartbeat
the floors that have calls (idle floors are read from GET /api/analytics/live instead)."""

from __future__ import annotations

import uuid

from analytics.counters import changed_counters
from kpis.queries import FloorCounters

BUSY, IDLE = uuid.uuid4(), uuid.uuid4()


def floor(supervisor: uuid.UUID, active: int = 0, queued: int = 0, wait: float = 0.0) -> FloorCounters:
    return FloorCounters(supervisor_id=supervisor, active_calls=active, queued_calls=queued, agents_total=3,
                         agents_busy=min(active, 3), longest_wait_seconds=wait)


def test_a_new_or_changed_floor_goes_out_at_once() -> None:
    before = {BUSY: floor(BUSY, active=1), IDLE: floor(IDLE)}
    now = [floor(BUSY, active=2), floor(IDLE)]
    assert [c.supervisor_id for c in changed_counters({}, now, heartbeat=False)] == [BUSY, IDLE]
    assert [c.active_calls for c in changed_counters(before, now, heartbeat=False)] == [2]


def test_the_wait_time_alone_is_not_a_change_but_the_heartbeat_carries_it() -> None:
    before = {BUSY: floor(BUSY, active=1, queued=2, wait=4.0), IDLE: floor(IDLE)}
    now = [floor(BUSY, active=1, queued=2, wait=9.0), floor(IDLE)]
    assert changed_counters(before, now, heartbeat=False) == []
    assert [(c.supervisor_id, c.longest_wait_seconds) for c in changed_counters(before, now, heartbeat=True)] == [
        (BUSY, 9.0)]
