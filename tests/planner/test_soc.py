"""A car's SoC between readings: staleness, the estimate from delivered energy, resync."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custom_components.smartload.planner.soc import (
    ESTIMATE_MARGIN,
    SocTrack,
    estimate,
    on_power,
    on_reading,
    on_session_energy,
)

T0 = datetime(2026, 5, 11, 18, 0, tzinfo=UTC)
CAP = 60.0


def _min(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


def test_never_read_is_unknown_not_stale() -> None:
    est = estimate(SocTrack(), T0, capacity_kwh=CAP)
    assert est.soc_pct is None and not est.stale and est.age is None


def test_fresh_reading_is_believed_as_is() -> None:
    track = on_reading(SocTrack(), 40.0, T0)
    track = on_power(track, 11.0, T0)
    est = estimate(track, _min(20), capacity_kwh=CAP, stale_after=timedelta(minutes=30))
    assert not est.stale
    assert est.soc_pct == 40.0 and est.soc_pct_planning == 40.0
    assert est.delivered_kwh == pytest.approx(11.0 / 3)  # counted, not yet used


def test_stale_while_charging_estimates_from_power_integral() -> None:
    track = on_power(on_reading(SocTrack(), 40.0, T0), 11.0, T0)
    est = estimate(track, _min(60), capacity_kwh=CAP, efficiency=0.9)
    assert est.stale and est.estimated
    assert est.age == timedelta(minutes=60)
    # 11 kWh at the wallbox, 9.9 kWh into a 60 kWh battery: +16.5 points
    assert est.soc_pct == pytest.approx(56.5)
    assert est.soc_pct_planning == pytest.approx(40 + 16.5 * (1 - ESTIMATE_MARGIN))
    assert est.reading_pct == 40.0


def test_power_steps_are_integrated_piecewise() -> None:
    track = on_power(on_reading(SocTrack(), 20.0, T0), 6.0, T0)
    track = on_power(track, 0.0, _min(30))  # 3 kWh, then the charge pauses
    track = on_power(track, 11.0, _min(90))  # nothing in the pause
    est = estimate(track, _min(120), capacity_kwh=CAP, efficiency=1.0)
    assert est.delivered_kwh == pytest.approx(3.0 + 5.5)
    assert est.soc_pct == pytest.approx(20 + 100 * 8.5 / CAP, abs=0.01)


def test_not_charging_does_not_go_stale() -> None:
    track = on_power(on_reading(SocTrack(), 70.0, T0), 0.0, T0)
    est = estimate(track, _min(600), capacity_kwh=CAP)
    assert not est.stale and est.soc_pct == 70.0


def test_charging_flag_alone_makes_it_stale_without_an_estimate() -> None:
    track = on_reading(SocTrack(), 70.0, T0)
    est = estimate(track, _min(45), capacity_kwh=CAP, charging=True)
    assert est.stale and not est.estimated and est.soc_pct == 70.0


def test_session_energy_with_counter_reset() -> None:
    track = on_session_energy(on_reading(SocTrack(), 30.0, T0), 12.0)  # an old session's count
    track = on_session_energy(track, 15.0)
    track = on_session_energy(track, 2.0)  # a new session began
    track = on_session_energy(track, 4.0)
    est = estimate(track, _min(45), capacity_kwh=CAP, efficiency=1.0)
    assert est.delivered_kwh == pytest.approx(3.0 + 2.0 + 2.0)
    assert est.stale and est.soc_pct == pytest.approx(30 + 100 * 7 / CAP, abs=0.01)


def test_estimate_is_capped_at_full() -> None:
    track = on_power(on_reading(SocTrack(), 95.0, T0), 11.0, T0)
    assert estimate(track, _min(300), capacity_kwh=CAP).soc_pct == 100.0


def test_resync_restarts_the_count_and_records_the_error() -> None:
    track = on_power(on_reading(SocTrack(), 40.0, T0), 11.0, T0)
    track = on_reading(track, 55.0, _min(60), efficiency=0.9, capacity_kwh=CAP)
    assert track.last_error_pct == pytest.approx(1.5)  # estimated 56.5, read 55
    assert track.delivered_kwh == 0.0 and track.read_at == _min(60)
    est = estimate(track, _min(70), capacity_kwh=CAP)
    assert not est.stale and est.soc_pct == 55.0
    assert est.delivered_kwh == pytest.approx(11 / 6)  # the power still flows from the reading


def test_round_trip_through_a_dict() -> None:
    track = on_session_energy(on_power(on_reading(SocTrack(), 40.0, T0), 7.4, T0), 3.0)
    again = SocTrack.from_dict(track.as_dict())
    assert again == track
    assert SocTrack.from_dict({"read_at": "garbage", "soc_pct": "x"}) == SocTrack()


def test_unreadable_reading_is_stale_at_once_and_adds_the_energy() -> None:
    track = on_power(on_reading(SocTrack(), 40.0, T0), 11.0, T0)
    est = estimate(track, _min(6), capacity_kwh=CAP, efficiency=1.0, unreadable=True)
    assert est.stale and est.estimated
    assert est.soc_pct == pytest.approx(40 + 100 * 1.1 / CAP, abs=0.01)
    idle = estimate(on_reading(SocTrack(), 40.0, T0), _min(6), capacity_kwh=CAP, unreadable=True)
    assert idle.stale and not idle.estimated and idle.soc_pct_planning == 40.0
