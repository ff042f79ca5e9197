"""The PV forecast's recent error tracker (pure: no Home Assistant)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custom_components.smartload.pv_error import PvErrorTracker

T0 = datetime(2026, 5, 11, 22, 0, tzinfo=UTC)
SLOT = timedelta(minutes=15)


def sun(t: datetime) -> float:
    """A clear day's PV (kW): 04:00-18:00 UTC, peak 6 kW at 11:00."""
    hour = t.hour + t.minute / 60
    return max(0.0, 6.0 * (1 - abs(hour - 11) / 7)) if 4 <= hour <= 18 else 0.0


def run(tracker: PvErrorTracker, slots: int, realised_factor: float) -> None:
    """One cycle at each slot's start: the forecast is sun(), realised a factor of it."""
    for i in range(slots + 1):
        t = T0 + i * SLOT
        tracker.observe(t, sun(t), realised_factor * sun(t))


def test_none_before_a_day() -> None:
    tracker = PvErrorTracker()
    run(tracker, 95, 1.0)
    assert len(tracker.samples) == 95
    assert tracker.relative_error() is None
    tracker.observe(T0 + 96 * SLOT, 0.0, 0.0)
    assert len(tracker.samples) == 96
    # a good forecast: only the slot's change from start to end differs (the trapezoid)
    assert tracker.relative_error() == pytest.approx(0.036, abs=0.005)


def test_the_error_of_a_biased_forecast() -> None:
    """Realised at half the forecast: the realised mean over a slot is the trapezoid of the
    slot's start and end readings, compared with the forecast for the slot's start."""
    tracker = PvErrorTracker()
    run(tracker, 96, 0.5)
    f = sum(s.forecast_kw for s in tracker.samples)
    r = sum(s.realised_kw for s in tracker.samples)
    expected = sum(abs(s.forecast_kw - s.realised_kw) for s in tracker.samples) / r
    assert tracker.relative_error() == pytest.approx(expected)
    assert tracker.relative_error() == pytest.approx(1.0, abs=0.05)  # |f - f/2| / (f/2)
    assert f > 0


def test_night_slots_do_not_count_and_a_dark_window_says_nothing() -> None:
    tracker = PvErrorTracker()
    for i in range(200):
        tracker.observe(T0 + i * SLOT, 0.0, 0.01)
    assert tracker.days >= 1
    assert tracker.relative_error() is None  # no daylight slot, no realised energy


def test_a_gap_drops_the_unfinished_slot_and_missing_readings_end_nothing() -> None:
    tracker = PvErrorTracker()
    tracker.observe(T0, 2.0, 2.0)
    tracker.observe(T0 + 3 * SLOT, 2.0, 2.0)  # two slots missed: the first one is incomplete
    assert len(tracker.samples) == 0
    tracker.observe(T0 + 4 * SLOT, 1.0, None)  # no reading: the slot cannot be closed
    assert len(tracker.samples) == 0
    tracker.observe(T0 + 5 * SLOT, 1.5, 3.0)  # slot 4 closed by its end reading alone
    tracker.observe(T0 + 5 * SLOT, 9.0, 1.0)  # a second cycle in the slot
    tracker.observe(T0 + 6 * SLOT, 1.0, 2.0)  # slot 5: mean of 3, 1 and its end 2
    assert [(s.forecast_kw, s.realised_kw) for s in tracker.samples] == [(1.0, 3.0), (1.5, 2.0)]
    tracker.observe(T0 + 7 * SLOT, float("nan"), -5.0)  # a negative power is read as none
    assert tracker.samples[-1].realised_kw == pytest.approx(1.0)  # mean of 2 and 0
    tracker.observe(T0 + 8 * SLOT, 1.0, 1.0)  # no forecast for slot 7: nothing was pending
    assert len(tracker.samples) == 3


def test_the_window_keeps_seven_days() -> None:
    tracker = PvErrorTracker()
    run(tracker, 10 * 96, 1.0)
    assert len(tracker.samples) == 7 * 96
    assert tracker.samples[-1].start - tracker.samples[0].start < timedelta(days=7)
    summary = tracker.summary()
    assert (summary["slots"], summary["days"]) == (7 * 96, 7.0)
    assert summary["relative_error"] == pytest.approx(0.036, abs=0.005)
