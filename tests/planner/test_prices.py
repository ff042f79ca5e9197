"""Price helpers: extending a truncated forecast, resampling, tariffs."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from custom_components.smartload.planner.prices import (
    extend_prices,
    fixed_export_prices,
    hourly_to_slots,
    leading_run_price_limit,
    resample,
    tariff_import_prices,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"
PER_DAY = 96


def daily_shape(n: int, first_slot_of_day: int = 0) -> np.ndarray:
    """A price per UTC slot: night valley, evening peak (€/kWh)."""
    sod = (first_slot_of_day + np.arange(n)) % PER_DAY
    hours = sod / 4.0
    return 0.25 + 0.10 * np.exp(-((hours - 17.0) ** 2) / 3.0) - 0.05 * (hours < 5)


def history_before(start: datetime, days: int) -> tuple[np.ndarray, datetime]:
    history_start = start - timedelta(days=days)
    first = (history_start.hour * 60 + history_start.minute) // 15
    return daily_shape(days * PER_DAY, first), history_start


START = datetime(2026, 1, 15, 11, 0, tzinfo=UTC)  # 12:00 Berlin, before the auction
FIRST = 44  # 11:00 UTC is slot 44 of the UTC day


def test_complete_forecast_is_returned_unchanged() -> None:
    known = daily_shape(192, FIRST)
    prices, estimated = extend_prices(START, 15, known, 192)
    np.testing.assert_array_equal(prices, known)
    assert not estimated.any()
    # a longer forecast is cut to the horizon
    prices, estimated = extend_prices(START, 15, daily_shape(300, FIRST), 192)
    assert prices.shape == estimated.shape == (192,)


def test_profile_from_history_continues_the_known_part_at_its_level() -> None:
    known = daily_shape(52, FIRST) + 0.04  # 13 h published, a dearer day than the history
    history, history_start = history_before(START, 14)
    prices, estimated = extend_prices(
        START, 15, known, 192, history=history, history_start=history_start
    )
    assert prices.shape == (192,)
    assert not estimated[:52].any() and estimated[52:].all()
    np.testing.assert_array_equal(prices[:52], known)
    # the estimate is the history's shape, lifted by the known part's offset (+4 ct)
    np.testing.assert_allclose(prices[52:], daily_shape(192, FIRST)[52:] + 0.04, atol=1e-12)
    # the evening peak of tomorrow is where the history has it (17:00 UTC = slot 68)
    tomorrow = prices[96 - FIRST : 192 - FIRST]
    assert int(np.argmax(tomorrow)) == 68


def test_level_adjustment_can_lower_the_estimate() -> None:
    known = daily_shape(24, FIRST) - 0.10
    history, history_start = history_before(START, 7)
    prices, _ = extend_prices(START, 15, known, 96, history=history, history_start=history_start)
    np.testing.assert_allclose(prices[24:], daily_shape(96, FIRST)[24:] - 0.10, atol=1e-12)


def test_median_profile_ignores_a_spike_day() -> None:
    history, history_start = history_before(START, 14)
    history[5 * PER_DAY : 6 * PER_DAY] += 5.0  # one day of scarcity prices
    known = daily_shape(40, FIRST)
    prices, _ = extend_prices(START, 15, known, 192, history=history, history_start=history_start)
    np.testing.assert_allclose(prices[40:], daily_shape(192, FIRST)[40:], atol=1e-12)


def test_without_history_the_estimate_is_flat_at_the_known_mean() -> None:
    known = np.array([0.20, 0.30, 0.40, 0.30])
    prices, estimated = extend_prices(START, 15, known, 10)
    np.testing.assert_array_equal(prices[:4], known)
    np.testing.assert_allclose(prices[4:], 0.30)
    assert estimated.tolist() == [False] * 4 + [True] * 6
    # too little history (half a day) counts as none
    history, history_start = history_before(START, 1)
    prices2, _ = extend_prices(
        START,
        15,
        known,
        10,
        history=history[48:],
        history_start=history_start + timedelta(hours=12),
    )
    np.testing.assert_allclose(prices2[4:], 0.30)


def test_trailing_nan_counts_as_unpublished() -> None:
    known = np.array([0.2, 0.3, np.nan, 0.9, np.nan])
    prices, estimated = extend_prices(START, 15, known, 6)
    assert estimated.tolist() == [False, False, True, True, True, True]
    np.testing.assert_allclose(prices[2:], 0.25)  # the 0.9 after the gap is not trusted


def test_history_at_or_after_start_is_ignored() -> None:
    history, history_start = history_before(START, 7)
    leaked = np.concatenate((history, np.full(PER_DAY, 9.99)))  # "future" values
    known = daily_shape(30, FIRST)
    a, _ = extend_prices(START, 15, known, 120, history=history, history_start=history_start)
    b, _ = extend_prices(START, 15, known, 120, history=leaked, history_start=history_start)
    np.testing.assert_array_equal(a, b)


def test_history_only_and_nothing_at_all() -> None:
    history, history_start = history_before(START, 7)
    prices, estimated = extend_prices(
        START, 15, np.array([]), 96, history=history, history_start=history_start
    )
    assert estimated.all()
    np.testing.assert_allclose(prices, daily_shape(96, FIRST), atol=1e-12)
    with pytest.raises(ValueError, match="no published prices"):
        extend_prices(START, 15, np.array([]), 96)
    with pytest.raises(ValueError, match="divide a day"):
        extend_prices(START, 7, np.array([0.1]), 96)
    assert extend_prices(START, 15, np.array([0.1]), 0)[0].shape == (0,)


def test_dst_switch_changes_nothing_because_slots_are_utc() -> None:
    """Across the spring DST switch (2026-03-29) the estimate follows the UTC profile."""
    start = datetime(2026, 3, 28, 11, 0, tzinfo=UTC)
    history, history_start = history_before(start, 14)
    known = daily_shape(48, FIRST)
    prices, _ = extend_prices(start, 15, known, 192, history=history, history_start=history_start)
    np.testing.assert_allclose(prices[48:], daily_shape(192, FIRST)[48:], atol=1e-12)
    # the same instant given in local time plans the same
    local = start.astimezone(ZoneInfo("Europe/Berlin"))
    local_hist = history_start.astimezone(ZoneInfo("Europe/Berlin"))
    same, _ = extend_prices(local, 15, known, 192, history=history, history_start=local_hist)
    np.testing.assert_array_equal(prices, same)


def test_real_day_ahead_prices() -> None:
    """The published part of a real day, extended with the day before as history."""
    with (FIXTURES / "prices_de_2024-05-12.csv").open() as f:
        rows = list(csv.DictReader(f))
    values = np.array([float(r["price_eur_per_mwh"]) for r in rows]) / 1000.0
    t0 = datetime.fromisoformat(rows[0]["timestamp_utc"])
    start = t0 + timedelta(days=1)  # 2024-05-12 22:00 UTC
    known = values[PER_DAY : PER_DAY + 8]  # 2 h published
    prices, estimated = extend_prices(
        start, 15, known, PER_DAY, history=values[:PER_DAY], history_start=t0
    )
    assert estimated.sum() == PER_DAY - 8
    assert np.isfinite(prices).all()
    # the shape of the history day survives: its cheapest hour (negative midday) stays cheapest
    assert int(np.argmin(prices)) == int(np.argmin(values[:PER_DAY]))


def test_resampling() -> None:
    hourly = np.array([0.1, 0.2, -0.05])
    np.testing.assert_array_equal(hourly_to_slots(hourly), np.repeat(hourly, 4))
    np.testing.assert_array_equal(resample(hourly, 60, 30), np.repeat(hourly, 2))
    quarter = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.7])
    np.testing.assert_allclose(resample(quarter, 15, 60), [0.25, 0.6])  # partial group: its mean
    np.testing.assert_array_equal(resample(quarter, 15, 15), quarter)
    with pytest.raises(ValueError):
        resample(quarter, 15, 40)
    with pytest.raises(ValueError):
        resample(quarter, 0, 15)


def test_tariff_helpers() -> None:
    np.testing.assert_array_equal(fixed_export_prices(3, 0.0796), [0.0796] * 3)
    spot = np.array([0.1, -0.135])
    np.testing.assert_allclose(
        tariff_import_prices(spot, surcharge_eur_per_kwh=0.165), (spot + 0.165) * 1.19
    )


def test_leading_run_price_limit_covers_only_the_run_starting_now() -> None:
    """The limit evcc gets: the dearest slot of the charging run that starts now."""
    price = np.array([0.10, 0.12, 0.30, 0.05, 0.06])
    assert leading_run_price_limit([True, True, False, True, True], price, 12) == 0.12
    assert leading_run_price_limit([False, True, True, True, True], price, 12) is None
    assert leading_run_price_limit([True] * 5, price, 2) == 0.12  # the window caps the run
    assert leading_run_price_limit([], price, 12) is None
