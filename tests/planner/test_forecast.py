"""Forecasters: consumption profile (weekday/weekend, past only), PV from history, nowcasts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
import sys

import numpy as np
import pytest

from custom_components.smartload.planner.forecast import (
    MAX_HISTORY_DAYS,
    PROFILE,
    RESIDUAL_HOURS,
    SARIMA,
    SARIMAX_MODULE,
    ConsumptionProfile,
    ForecastError,
    PvHistoryForecast,
    fit_load_forecaster,
    nowcast_additive,
    nowcast_ratio,
)

BERLIN = "Europe/Berlin"
STEP = timedelta(minutes=15)


def synthetic_history(days: int, start: datetime) -> tuple[list[datetime], np.ndarray]:
    """Weekdays: 0.3 kW at night, 1.2 kW 18–22 h local; weekends: a flat 0.8 kW (UTC+2 in May)."""
    times = [start + STEP * k for k in range(days * 96)]
    load = []
    for when in times:
        local_hour = (when.hour + 2) % 24
        weekday = (when + timedelta(hours=2)).weekday() < 5
        if weekday:
            load.append(1.2 if 18 <= local_hour < 22 else 0.3)
        else:
            load.append(0.8)
    return times, np.asarray(load)


def test_learns_weekday_and_weekend_profiles_in_local_time() -> None:
    start = datetime(2024, 4, 30, 22, 0, tzinfo=UTC)  # local midnight, Wednesday 1 May
    times, load = synthetic_history(28, start)
    profile = ConsumptionProfile.fit(times, load, timezone=BERLIN)
    assert profile.n_samples == 28 * 96
    monday = datetime(2024, 6, 2, 22, 0, tzinfo=UTC)  # Monday 3 June local midnight
    pred = profile.predict(monday, 96)
    assert pred[18 * 4] == pytest.approx(1.2)  # 18:00 local
    assert pred[3 * 4] == pytest.approx(0.3)
    saturday = datetime(2024, 6, 7, 22, 0, tzinfo=UTC)
    assert np.allclose(profile.predict(saturday, 96), 0.8)
    # A forecast across midnight into the weekend switches shape at local midnight.
    friday_evening = datetime(2024, 6, 7, 19, 0, tzinfo=UTC)  # 21:00 local
    across = profile.predict(friday_evening, 16)
    assert across[0] == pytest.approx(1.2)
    assert np.allclose(across[12:], 0.8)


def test_uses_only_the_past() -> None:
    start = datetime(2024, 4, 30, 22, 0, tzinfo=UTC)
    times, load = synthetic_history(21, start)
    now = start + timedelta(days=14)
    base = ConsumptionProfile.fit(times, load, timezone=BERLIN, now=now)
    future_changed = load.copy()
    future_changed[14 * 96 :] = 50.0  # the "future" after now
    same = ConsumptionProfile.fit(times, future_changed, timezone=BERLIN, now=now)
    assert same.n_samples == 14 * 96
    assert np.array_equal(base.weekday_kw, same.weekday_kw)
    assert np.array_equal(base.weekend_kw, same.weekend_kw)
    # Without the cut the future would leak in:
    leaked = ConsumptionProfile.fit(times, future_changed, timezone=BERLIN)
    assert leaked.weekday_kw.max() > 10


def test_recent_days_weigh_more() -> None:
    start = datetime(2024, 1, 1, 0, 0, tzinfo=UTC)
    times = [start + STEP * k for k in range(28 * 96)]
    load = np.where(np.arange(28 * 96) < 21 * 96, 0.4, 0.8)  # level shift in the last week
    profile = ConsumptionProfile.fit(times, load, half_life_days=3.0)
    mean = float(profile.predict(start + timedelta(days=28), 96).mean())
    assert 0.7 < mean < 0.8  # close to the recent level, not the 0.5 plain mean
    slow = ConsumptionProfile.fit(times, load, half_life_days=1000.0)
    assert float(slow.predict(start + timedelta(days=28), 96).mean()) == pytest.approx(
        0.5, abs=0.01
    )


def test_hourly_history_fills_quarter_hours_and_holidays_count_as_weekend() -> None:
    start = datetime(2024, 5, 6, 0, 0, tzinfo=UTC)  # Monday
    times = [start + timedelta(hours=h) for h in range(7 * 24)]
    load = np.asarray([float(t.hour) for t in times])  # 0..23 kW by UTC hour
    holiday = date(2024, 5, 9)  # Thursday (Ascension Day)
    profile = ConsumptionProfile.fit(times, load, holidays={holiday})
    pred = profile.predict(datetime(2024, 5, 13, 10, 0, tzinfo=UTC), 4)
    assert np.allclose(pred, [10.0, 10.25, 10.5, 10.75])  # interpolated quarter-hours
    # Weekend profile: Thursday (holiday), Saturday, Sunday — the same ramp here.
    assert profile.weekend_kw[40] == pytest.approx(10.0)
    assert profile.predict(datetime(2024, 5, 9, 10, 0, tzinfo=UTC), 1)[0] == pytest.approx(10.0)


def test_without_history_the_default_and_bad_input_raises() -> None:
    profile = ConsumptionProfile.fit([], [], default_kw=0.45)
    assert np.allclose(profile.predict(datetime(2024, 1, 1, tzinfo=UTC), 8), 0.45)
    with pytest.raises(ForecastError):
        ConsumptionProfile.fit([datetime(2024, 1, 1, tzinfo=UTC)], [1.0, 2.0])
    with pytest.raises(ForecastError):
        ConsumptionProfile.fit([datetime(2024, 1, 1)], [1.0])  # naive
    # Weekend samples only: the weekday profile borrows them.
    sat = datetime(2024, 1, 6, 0, 0, tzinfo=UTC)
    only = ConsumptionProfile.fit([sat + STEP * k for k in range(96)], np.full(96, 0.7))
    assert np.allclose(only.weekday_kw, 0.7)


def test_pv_history_forecast_blends_persistence_and_recent_mean() -> None:
    rng = np.random.default_rng(3)
    shape = np.clip(np.sin(np.linspace(-np.pi / 2, 3 * np.pi / 2, 96)), 0, None)
    days = np.array([shape * rng.uniform(0.2, 1.0) for _ in range(20)])
    fc = PvHistoryForecast.fit(days, window_days=14, persistence_weight=0.5)
    expected = 0.5 * days[-1] + 0.5 * days[-14:].mean(axis=0)
    assert np.allclose(fc.profile_kw, expected)
    # Predict by UTC slot of day, wrapping past midnight.
    late = datetime(2024, 6, 1, 23, 0, tzinfo=UTC)
    assert np.allclose(fc.predict(late, 8), np.concatenate([expected[92:], expected[:4]]))
    assert np.allclose(PvHistoryForecast.fit(np.zeros((0, 96))).profile_kw, 0.0)
    with pytest.raises(ForecastError):
        PvHistoryForecast.fit(np.zeros((3, 95)))


def test_pv_history_forecast_beats_yesterday_and_zero_on_real_data() -> None:
    path = "tests/fixtures/sim/pv_germany_national_2024_may10d.csv"
    values = np.genfromtxt(path, delimiter=",", skip_header=1, usecols=1) * 9.9
    days = values[8 : 8 + 9 * 96].reshape(9, 96)  # whole UTC days from 2024-05-06 00:00Z
    err_blend, err_zero = [], []
    for d in range(3, 9):
        fc = PvHistoryForecast.fit(days[:d]).profile_kw
        err_blend.append(np.abs(fc - days[d]).mean())
        err_zero.append(np.abs(days[d]).mean())
    assert np.mean(err_blend) < 0.5 * np.mean(err_zero)


def test_nowcasts_fade_to_the_forecast() -> None:
    fc = np.full(40, 1.0)
    add = nowcast_additive(fc, observed=2.0, expected=1.0, tau_slots=4)
    assert add[0] == pytest.approx(1.0 + np.exp(-0.25))
    assert add[-1] == pytest.approx(1.0, abs=1e-3)
    assert np.all(np.diff(add) < 0)
    assert np.all(nowcast_additive(fc, observed=0.0, expected=5.0) >= 0.0)
    ratio = nowcast_ratio(fc, observed=0.5, expected=1.0, tau_slots=8)
    assert ratio[0] == pytest.approx(1.0 - 0.5 * np.exp(-1 / 8))
    assert ratio[-1] == pytest.approx(1.0, abs=0.01)
    assert np.array_equal(nowcast_ratio(fc, observed=3.0, expected=0.0), fc)


# -- the learned forecaster: profile baseline, SARIMA where the backtest says so ------------------

HOURLY_START = datetime(2024, 4, 30, 22, 0, tzinfo=UTC)  # local midnight, Wednesday 1 May


def hourly_history(days: int, *, drift: float = 0.0, seed: int = 1) -> np.ndarray:
    """Hourly kW: a daily shape (evening peak), plus a slowly wandering level (AR(1), 0.97/h)."""
    rng = np.random.default_rng(seed)
    hours = np.arange(days * 24)
    local = hours % 24  # HOURLY_START is local midnight
    shape = np.where((local >= 18) & (local < 22), 1.5, 0.4)
    level = np.zeros(len(hours))
    for h in range(1, len(hours)):
        level[h] = 0.97 * level[h - 1] + rng.normal(0.0, drift)
    return np.maximum(shape + level, 0.0)


def test_forecaster_learns_the_shape_from_hourly_history() -> None:
    load = hourly_history(5)
    fc = fit_load_forecaster(HOURLY_START, load, timezone=BERLIN)
    assert fc.model == PROFILE and fc.n_days == 5
    assert fc.mae_profile_kw is None and fc.mae_sarima_kw is None  # too short to backtest
    ahead = fc.predict(HOURLY_START + timedelta(days=5), 96)
    assert ahead.model == PROFILE and ahead.slot_minutes == 15 and ahead.n_days == 5
    assert np.allclose(ahead.load_kw[18 * 4 : 22 * 4], 1.5)  # 18–22 h local, each quarter-hour
    assert np.allclose(ahead.load_kw[2 * 4 : 17 * 4], 0.4)


def test_sarima_wins_the_backtest_when_the_level_wanders() -> None:
    """A level that persists for hours is what SARIMA's residual model adds to the profile."""
    load = hourly_history(21, drift=0.08)
    fc = fit_load_forecaster(HOURLY_START, load, timezone=BERLIN)
    assert fc.n_days == 21
    assert fc.mae_profile_kw is not None and fc.mae_sarima_kw is not None
    assert fc.mae_sarima_kw < fc.mae_profile_kw
    assert fc.model == SARIMA and len(fc.residual_kw) == RESIDUAL_HOURS
    end = HOURLY_START + timedelta(days=21)
    ahead = fc.predict(end, 8).load_kw
    profile_only = fc.profile.predict(end, 8)
    # the first hour carries the last hours' level (the residual), then it fades
    assert ahead[0] - profile_only[0] == pytest.approx(fc.residual_kw[0], abs=1e-9)
    far = end + timedelta(hours=RESIDUAL_HOURS + 1)
    assert np.allclose(fc.predict(far, 4).load_kw, np.maximum(fc.profile.predict(far, 4), 0.0))
    # With SARIMA switched off (or not installed), the same history gives the profile.
    off = fit_load_forecaster(HOURLY_START, load, timezone=BERLIN, use_sarima=False)
    assert off.model == PROFILE and off.mae_sarima_kw is None
    assert off.mae_profile_kw == pytest.approx(fc.mae_profile_kw)


def test_a_regular_profile_keeps_the_profile() -> None:
    """Without anything for SARIMA to add, the backtest keeps the baseline (both MAEs given)."""
    load = hourly_history(15)
    fc = fit_load_forecaster(HOURLY_START, load, timezone=BERLIN)
    assert fc.mae_profile_kw == pytest.approx(0.0, abs=1e-9)
    assert fc.mae_sarima_kw is not None
    assert fc.model == PROFILE and len(fc.residual_kw) == 0


def test_without_statsmodels_or_short_history_the_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    load = hourly_history(21, drift=0.08)
    monkeypatch.setitem(sys.modules, SARIMAX_MODULE, None)  # as on HA OS (no wheel)
    fc = fit_load_forecaster(HOURLY_START, load, timezone=BERLIN)
    assert fc.model == PROFILE and fc.mae_sarima_kw is None and fc.mae_profile_kw is not None
    monkeypatch.undo()
    short = fit_load_forecaster(HOURLY_START, load[: 10 * 24], timezone=BERLIN)
    assert short.n_days == 10 and short.mae_profile_kw is not None
    assert short.model == PROFILE and short.mae_sarima_kw is None  # < 14 days


def test_gaps_count_only_clean_days_and_history_is_bounded() -> None:
    load = hourly_history(70)
    load[-20 * 24 : -10 * 24] = np.nan  # the recorder was off for 10 days
    fc = fit_load_forecaster(HOURLY_START, load, timezone=BERLIN, use_sarima=False)
    assert fc.n_days == MAX_HISTORY_DAYS - 10  # only the last 8 weeks, without the gap
    assert fc.history_end == HOURLY_START + timedelta(days=70)


def test_controlled_loads_are_subtracted_when_given() -> None:
    """A car charging 7 kW from 01:00 to 03:00 local each night: the base load is learned."""
    base = hourly_history(6)
    car = np.zeros_like(base)
    local = np.arange(len(base)) % 24
    car[(local >= 1) & (local < 3)] = 7.0
    measured = base + car
    with_car = fit_load_forecaster(HOURLY_START, measured, timezone=BERLIN)
    without = fit_load_forecaster(HOURLY_START, measured, timezone=BERLIN, controlled_kw=[car])
    day = HOURLY_START + timedelta(days=6)
    assert with_car.predict(day, 96).load_kw[1 * 4] == pytest.approx(7.4)  # not subtracted
    assert np.allclose(without.predict(day, 96).load_kw[4:12], 0.4)
    with pytest.raises(ForecastError):
        fit_load_forecaster(HOURLY_START, measured, controlled_kw=[car[:-1]])


def test_five_minute_history_is_averaged_to_slots() -> None:
    start = datetime(2024, 5, 6, 0, 0, tzinfo=UTC)
    five = np.tile(np.repeat([1.0, 3.0], 3), 12 * 24 * 2 // 6)  # 1, 1, 1, 3, 3, 3 kW ...
    fc = fit_load_forecaster(start, five, step_minutes=5)
    assert np.allclose(fc.predict(start + timedelta(days=2), 8).load_kw, [1.0, 3.0] * 4)
    with pytest.raises(ForecastError):
        fit_load_forecaster(start, five, step_minutes=7)
    with pytest.raises(ForecastError):
        fit_load_forecaster(datetime(2024, 5, 6), five)  # naive


def test_without_any_history_the_default() -> None:
    fc = fit_load_forecaster(HOURLY_START, np.full(48, np.nan), default_kw=0.45)
    assert fc.n_days == 0
    assert np.allclose(fc.predict(HOURLY_START, 8).load_kw, 0.45)
