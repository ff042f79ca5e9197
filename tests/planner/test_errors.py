"""The seasonal plan-error table (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json

import pytest

from custom_components.smartload.planner.errors import (
    ALL_KEYS,
    ErrorTable,
    Sample,
    cell_key,
    from_dict,
    to_dict,
    update,
)


def test_48_cells() -> None:
    """4 seasons × 6 periods × weekday/weekend, all distinct, all empty at first."""
    table = ErrorTable()
    assert len(ALL_KEYS) == len(set(ALL_KEYS)) == 48
    assert set(table.cells) == set(ALL_KEYS)
    assert table.n_samples == 0


@pytest.mark.parametrize(
    ("when", "key"),
    [
        (datetime(2026, 1, 5, 0, 0), "winter/night/weekday"),  # a Monday
        (datetime(2026, 2, 28, 3, 59), "winter/night/weekend"),  # a Saturday
        (datetime(2026, 3, 1, 4, 0), "spring/early_morning/weekend"),  # a Sunday
        (datetime(2026, 5, 29, 11, 59), "spring/morning/weekday"),  # a Friday
        (datetime(2026, 6, 1, 12, 0), "summer/afternoon/weekday"),
        (datetime(2026, 8, 31, 19, 45), "summer/evening/weekday"),
        (datetime(2026, 9, 1, 20, 0), "autumn/late_evening/weekday"),
        (datetime(2026, 11, 30, 23, 59), "autumn/late_evening/weekday"),
        (datetime(2026, 12, 1, 8, 0), "winter/morning/weekday"),
    ],
)
def test_cell_of_a_time(when: datetime, key: str) -> None:
    """Season by month, period by 4-hour block, day type by weekday."""
    assert cell_key(when) == key
    assert key in ALL_KEYS


def test_running_means() -> None:
    """Signed and absolute errors averaged per quantity, counts per quantity."""
    when = datetime(2026, 7, 4, 13, 0)  # summer afternoon, Saturday
    table = ErrorTable()
    table = update(
        table,
        when,
        Sample(consumption_kw=0.5, pv_kw=4.0, cost_eur=0.1),
        Sample(consumption_kw=0.8, pv_kw=3.0, cost_eur=0.2),
    )
    table = update(
        table,
        when + timedelta(minutes=15),
        Sample(consumption_kw=0.5, pv_kw=4.0, cost_eur=0.1),
        Sample(consumption_kw=0.4, pv_kw=None, cost_eur=0.0),  # PV not observed
    )
    cell = table.cell(when)
    assert cell.consumption_kw.n == 2
    assert cell.consumption_kw.mean_error == pytest.approx((0.3 - 0.1) / 2)
    assert cell.consumption_kw.mean_abs_error == pytest.approx((0.3 + 0.1) / 2)
    assert cell.pv_kw.n == 1 and cell.pv_kw.mean_error == pytest.approx(-1.0)
    assert cell.cost_eur.n == 2 and cell.cost_eur.mean_error == pytest.approx(0.0)
    assert cell.cost_eur.mean_abs_error == pytest.approx(0.1)
    # other cells untouched
    assert table.n_samples == 2
    assert table.cell(when - timedelta(days=1)).consumption_kw.n == 0  # Friday


def test_update_is_pure_and_skips_non_finite() -> None:
    """A new table; the old one unchanged; NaN or missing values do not count."""
    when = datetime(2026, 1, 1, 0, 0)
    table = ErrorTable()
    same = update(table, when, Sample(consumption_kw=1.0), Sample(consumption_kw=float("nan")))
    assert same == table and same.n_samples == 0
    new = update(table, when, Sample(consumption_kw=1.0), Sample(consumption_kw=1.5))
    assert new.n_samples == 1 and table.n_samples == 0


def test_round_trip_through_json() -> None:
    """to_dict → JSON → from_dict gives the same table."""
    table = ErrorTable()
    start = datetime(2026, 3, 1, tzinfo=UTC)
    for i in range(200):
        when = start + timedelta(hours=7 * i)
        table = update(
            table,
            when,
            Sample(consumption_kw=0.5, pv_kw=2.0, cost_eur=0.05),
            Sample(consumption_kw=0.5 + (i % 7) / 10, pv_kw=2.0 - (i % 3) / 2, cost_eur=0.07),
        )
    restored = from_dict(json.loads(json.dumps(to_dict(table))))
    assert restored == table
    assert restored.n_samples == 200


@pytest.mark.parametrize(
    "raw",
    [
        None,
        [],
        "table",
        {
            "nowhere/never/weekday": {
                "consumption_kw": {"n": 1, "mean_error": 0, "mean_abs_error": 0}
            }
        },
        {"winter/night/weekday": "broken"},
        {
            "winter/night/weekday": {
                "consumption_kw": {"n": -1, "mean_error": 0, "mean_abs_error": 0}
            }
        },
        {
            "winter/night/weekday": {
                "consumption_kw": {"n": 2, "mean_error": "x", "mean_abs_error": 0}
            }
        },
        {"winter/night/weekday": {"pv_kw": {"n": True, "mean_error": 0, "mean_abs_error": 0}}},
        {"winter/night/weekday": {"cost_eur": {"n": 2, "mean_error": 1e400, "mean_abs_error": 1}}},
    ],
)
def test_from_dict_skips_what_it_cannot_read(raw: object) -> None:
    """A damaged file gives an empty table (or the cells it can read), never an exception."""
    assert from_dict(raw) == ErrorTable()


def test_from_dict_keeps_readable_cells() -> None:
    """Good statistics next to bad ones survive."""
    raw = {
        "summer/evening/weekend": {
            "consumption_kw": {"n": 3, "mean_error": 0.2, "mean_abs_error": 0.3},
            "pv_kw": {"n": "three"},
        }
    }
    cell = from_dict(raw).cells["summer/evening/weekend"]
    assert cell.consumption_kw.n == 3 and cell.consumption_kw.mean_abs_error == 0.3
    assert cell.pv_kw.n == 0
