"""Forecast parsing from plain attribute mappings (no Home Assistant)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from custom_components.smartload.planner.sources import (
    Series,
    floor_to_slot,
    known_slots,
    parse_price_forecast,
    parse_pv_forecast,
    price_scale,
    to_slots,
)

T0 = datetime(2026, 5, 11, 22, 0, tzinfo=UTC)


def iso(hours: float, tz: str = "+00:00") -> str:
    """An ISO time ``hours`` after T0."""
    return (T0 + timedelta(hours=hours)).isoformat().replace("+00:00", tz)


def test_nord_pool_custom_raw_today_and_tomorrow() -> None:
    """Two lists (today, tomorrow) of {start, end, value} in €/kWh merge into one series."""
    attrs = {
        "unit": "kWh",
        "currency": "EUR",
        "price_in_cents": False,
        "raw_today": [
            {"start": iso(h), "end": iso(h + 1), "value": 0.1 + h / 100} for h in range(2)
        ],
        "raw_tomorrow": [
            {"start": iso(h), "end": iso(h + 1), "value": 0.2 + h / 100} for h in range(2, 4)
        ],
        "today": [0.1, 0.11],  # plain numbers: ignored
    }
    series = parse_price_forecast(attrs)
    assert len(series) == 4
    assert series.values == pytest.approx((0.1, 0.11, 0.22, 0.23))
    assert series.start[0] == T0 and series.end[-1] == T0 + timedelta(hours=4)


def test_nord_pool_in_cents() -> None:
    """The custom Nord Pool's ``price_in_cents`` turns ct into €."""
    attrs = {
        "price_in_cents": True,
        "raw_today": [{"start": iso(0), "end": iso(1), "value": 25.0}],
    }
    assert parse_price_forecast(attrs).values == pytest.approx((0.25,))


def test_epex_spot_shape_with_local_offsets() -> None:
    """EPEX Spot: ``data`` with start_time/end_time/price_per_kwh, times in +02:00."""
    attrs = {
        "data": [
            {
                "start_time": iso(h + 2, "+02:00"),
                "end_time": iso(h + 3, "+02:00"),
                "price_per_kwh": p,
            }
            for h, p in enumerate([0.12, 0.08])
        ]
    }
    # 00:00+02:00 is T0 + 2 h - 2 h = T0
    series = parse_price_forecast(attrs)
    assert series.start == (T0, T0 + timedelta(hours=1))
    assert series.values == pytest.approx((0.12, 0.08))


def test_tibber_like_starts_at_total_without_end() -> None:
    """Tibber: startsAt/total, no end (the next start closes each interval)."""
    attrs = {
        "prices": [
            {"startsAt": iso(0, "Z"), "total": 0.31},
            {"startsAt": iso(1, "Z"), "total": 0.29},
        ]
    }
    series = parse_price_forecast(attrs)
    assert series.end == (T0 + timedelta(hours=1), T0 + timedelta(hours=2))


def test_per_mwh_detected_from_unit_and_from_magnitude() -> None:
    """€/MWh: by the unit when there is one, by the magnitude when not."""
    rows = [{"start": iso(h), "price": p} for h, p in enumerate([80.0, 120.0, -5.0])]
    by_unit = parse_price_forecast({"forecast": rows}, unit="EUR/MWh")
    assert by_unit.values == pytest.approx((0.08, 0.12, -0.005))
    by_size = parse_price_forecast({"forecast": [dict(r, price=r["price"] * 2) for r in rows]})
    assert by_size.values == pytest.approx((0.16, 0.24, -0.01))


def test_cents_detected() -> None:
    """ct/kWh: by unit, and by magnitude (2..100)."""
    rows = [{"start": iso(h), "price": p} for h, p in enumerate([28.0, 31.5])]
    assert parse_price_forecast({"f": rows}, unit="ct/kWh").values == pytest.approx((0.28, 0.315))
    assert parse_price_forecast({"f": rows}).values == pytest.approx((0.28, 0.315))
    assert price_scale("EUR/kWh", [300.0]) == 1.0  # a stated unit wins over the magnitude
    assert price_scale(None, []) == 1.0


def test_value_key_names_its_unit() -> None:
    """A key that names its unit (price_ct_per_kwh, price_eur_per_mwh) needs no other hint."""
    attrs = {"data": [{"start_time": iso(0), "price_eur_per_mwh": 95.0}]}
    assert parse_price_forecast(attrs).values == pytest.approx((0.095,))


def test_duplicates_naive_times_and_junk_are_handled() -> None:
    """Duplicate starts keep the later row; naive times, junk values and non-lists are skipped."""
    attrs = {
        "friendly_name": "Price",
        "min": 0.1,
        "raw": [
            {"start": iso(0), "value": 0.1},
            {"start": iso(0), "value": 0.15},  # duplicate: wins
            {"start": "2026-05-12T01:00:00", "value": 0.3},  # naive: cannot be placed
            {"start": iso(1), "value": "n/a"},
            {"start": "garbage", "value": 0.2},
            {"start": iso(2), "value": float("nan")},
            {"start": iso(3), "value": 0.4},
        ],
    }
    series = parse_price_forecast(attrs)
    assert series.start == (T0, T0 + timedelta(hours=3))
    assert series.values == pytest.approx((0.15, 0.4))
    # without an end, an interval stops at the next start
    assert series.end[0] == T0 + timedelta(hours=3)


def test_nothing_to_parse() -> None:
    """No forecast in the attributes: an empty series."""
    assert len(parse_price_forecast({})) == 0
    assert len(parse_price_forecast({"raw_today": []})) == 0
    assert len(parse_price_forecast({"raw_today": [1, 2, 3], "x": "y"})) == 0
    assert len(parse_pv_forecast({"unit_of_measurement": "kW"})) == 0


def test_solcast_detailed_forecast_in_kw() -> None:
    """Solcast: half-hourly period_start/pv_estimate in kW."""
    attrs = {
        "detailedForecast": [
            {"period_start": iso(h / 2), "pv_estimate": kw, "pv_estimate10": 0.0}
            for h, kw in enumerate([0.0, 1.5, 3.0])
        ]
    }
    series = parse_pv_forecast(attrs)
    assert series.values == pytest.approx((0.0, 1.5, 3.0))
    assert series.end[-1] == T0 + timedelta(hours=1.5)


def test_pv_watts_mapping() -> None:
    """Open-Meteo/Forecast.Solar style: {iso time: W}."""
    attrs = {"watts": {iso(0): 0, iso(1): 2500, iso(2): 4000}}
    series = parse_pv_forecast(attrs)
    assert series.values == pytest.approx((0.0, 2.5, 4.0))


def test_pv_unit_from_entity() -> None:
    """A generic list in W, told by the entity's unit (or by size without one)."""
    rows = [{"start": iso(h), "value": w} for h, w in enumerate([0.0, 800.0])]
    assert parse_pv_forecast({"f": rows}, unit="W").values == pytest.approx((0.0, 0.8))
    assert parse_pv_forecast({"f": rows}).values == pytest.approx((0.0, 0.8))
    small = [{"start": iso(0), "value": 3.2}]
    assert parse_pv_forecast({"f": small}, unit="kW").values == pytest.approx((3.2,))


def test_hourly_to_quarter_hours() -> None:
    """Each hourly price covers four 15-min slots; slots past the end are unknown."""
    series = Series(
        start=(T0, T0 + timedelta(hours=1)),
        end=(T0 + timedelta(hours=1), T0 + timedelta(hours=2)),
        values=(0.1, 0.2),
    )
    values, known = to_slots(series, T0, 10)
    assert values.tolist() == [0.1] * 4 + [0.2] * 4 + [0.0] * 2
    assert known.tolist() == [True] * 8 + [False] * 2
    # starting mid-hour
    values, known = to_slots(series, T0 + timedelta(minutes=30), 4)
    assert values.tolist() == [0.1, 0.1, 0.2, 0.2]
    assert known_slots(series, T0 + timedelta(minutes=30)) == 6


def test_quarter_hours_one_to_one_and_gaps() -> None:
    """15-min prices map one to one; a gap ends the known horizon."""
    starts = [T0 + timedelta(minutes=15 * i) for i in (0, 1, 2, 4)]
    series = Series(
        start=tuple(starts),
        end=tuple(s + timedelta(minutes=15) for s in starts),
        values=(1.0, 2.0, 3.0, 5.0),
    )
    values, known = to_slots(series, T0, 5)
    assert values.tolist() == [1.0, 2.0, 3.0, 0.0, 5.0]
    assert known.tolist() == [True, True, True, False, True]
    assert known_slots(series, T0) == 3
    assert known_slots(series, T0 - timedelta(minutes=15)) == 0  # nothing for the first slot


def test_empty_series_slots() -> None:
    """An empty series covers nothing."""
    empty = Series(start=(), end=(), values=())
    values, known = to_slots(empty, T0, 3)
    assert not known.any() and np.all(values == 0)
    assert known_slots(empty, T0) == 0


def test_floor_to_slot() -> None:
    """Times fall to the start of their 15-min slot."""
    assert floor_to_slot(T0 + timedelta(minutes=44, seconds=59)) == T0 + timedelta(minutes=30)
