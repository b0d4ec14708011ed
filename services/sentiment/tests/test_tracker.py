"""The rolling score, trend and labels of a call's sentiment."""

from __future__ import annotations

import uuid

from sentiment.tracker import CallMood, label_for


def mood() -> CallMood:
    return CallMood(uuid.uuid4(), uuid.uuid4(), uuid.uuid4())


def test_the_rolling_score_follows_the_customer_and_the_trend_shows_the_turn() -> None:
    call = mood()
    for score in (-0.9, -0.8, -0.2, 0.6, 0.9):
        call.add(score)
    assert call.label == "positive" and call.score > 0.4
    assert call.trend > 0.8  # from clearly negative three utterances ago
    worse = mood()
    for score in (0.5, -0.9, -0.9):
        worse.add(score)
    assert worse.label == "negative" and worse.trend < 0


def test_a_dead_band_keeps_small_changes_neutral() -> None:
    assert [label_for(s) for s in (-0.3, -0.2, 0.0, 0.2, 0.3)] == ["negative", "neutral", "neutral", "neutral",
                                                                   "positive"]


def test_publishing_is_due_on_change_or_after_the_interval() -> None:
    call = mood()
    assert call.due(now=0.0, interval=5)
    call.changed, call.last_published_at = False, 10.0
    assert not call.due(now=14.0, interval=5) and call.due(now=15.0, interval=5)
    assert call.stale(now=10.0 + 3600, after=3600)


def test_a_customer_turning_annoyed_shows_negative_at_once() -> None:
    call = mood()
    for score in (0.6, 0.5, 0.4):
        call.add(score)
    call.add(-0.7)  # "Hello? Are you still there? I am getting annoyed."
    assert call.label == "negative" and call.score == -0.7 and call.trend < -1
    assert call.changed  # published in the next round, not after the 5 s interval


def test_getting_better_is_averaged_so_one_polite_line_does_not_undo_a_complaint() -> None:
    call = mood()
    for score in (-0.9, -0.8):
        call.add(score)
    call.add(0.6)
    assert -0.5 < call.score < 0.6 and call.label != "positive"
    call.add(0.8)
    assert call.trend > 0
