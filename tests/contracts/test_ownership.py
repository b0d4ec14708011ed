"""The pure decisions of call ownership (contracts.ownership); the leases themselves are tested against
PostgreSQL in tests/integration/test_ownership.py."""

from __future__ import annotations

import uuid

from contracts.ownership import lost_calls, renewal_interval


def test_leases_are_renewed_often_enough_to_survive_two_failed_renewals() -> None:
    assert renewal_interval(5.0) * 3 == 5.0
    assert renewal_interval(0.9) < 0.9 / 2


def test_a_call_whose_lease_was_not_renewed_is_lost_unless_it_was_taken_during_the_renewal() -> None:
    kept, lost, taken_meanwhile = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    followed_since = {kept: 10.0, lost: 11.0, taken_meanwhile: 20.5}
    assert lost_calls(followed_since, renewed={kept}, renewal_started=20.0) == {lost}


def test_nothing_is_lost_when_every_lease_was_renewed_or_nothing_is_followed() -> None:
    calls = {uuid.uuid4(): 1.0, uuid.uuid4(): 2.0}
    assert lost_calls(calls, renewed=set(calls), renewal_started=3.0) == set()
    assert lost_calls({}, renewed={uuid.uuid4()}, renewal_started=3.0) == set()
