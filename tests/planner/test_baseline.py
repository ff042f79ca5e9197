"""The threshold baseline and the savings against it, on hand-computed realised days."""

from __future__ import annotations

import numpy as np
import pytest

from custom_components.smartload.planner.baseline import (
    RealisedCar,
    RealisedDay,
    deadline_urgent,
    savings,
    threshold_limit,
)
from custom_components.smartload.planner.model import BatteryInput


def day(price: list[float], **kw: object) -> RealisedDay:
    n = len(price)
    fields: dict[str, object] = {
        "dt_h": 1.0,
        "import_price_eur_per_kwh": np.array(price),
        "export_price_eur_per_kwh": np.zeros(n),
        "load_kw": np.zeros(n),
        "pv_kw": np.zeros(n),
        "contiguous": np.array([False] + [True] * (n - 1)),
    }
    fields.update(kw)
    return RealisedDay(**fields)  # type: ignore[arg-type]


def car(charged: list[float], *, still_plugged: bool = False, plugged=None) -> RealisedCar:
    return RealisedCar(
        name="Kia",
        charged_kwh=np.array(charged, dtype=float),
        plugged=np.array(plugged if plugged is not None else [True] * len(charged)),
        max_charge_kw=11.0,
        charge_efficiency=0.9,
        still_plugged=still_plugged,
    )


def test_limit_is_the_30th_percentile_of_past_prices() -> None:
    prices = np.arange(1, 11, dtype=float) / 100  # 0.01 .. 0.10
    assert threshold_limit(prices) == pytest.approx(np.percentile(prices, 30))
    assert threshold_limit(np.array([np.nan, 0.2])) == pytest.approx(0.2)
    assert threshold_limit(np.array([])) == -np.inf


def test_deadline_urgent_with_one_slots_margin() -> None:
    # 9 kWh at 11 kW x 0.9 takes 0.91 h: urgent when at most 1.91 h are left (1 h slots)
    assert deadline_urgent(9.0, 11.0, 0.9, 1.9, 1.0)
    assert not deadline_urgent(9.0, 11.0, 0.9, 2.0, 1.0)
    assert not deadline_urgent(0.0, 11.0, 0.9, 0.5, 1.0)


def test_cheap_slot_against_the_deadline() -> None:
    """SmartLoad charged in the cheap first hour; the threshold (limit below it) waits for the
    deadline and charges in the last hour at 0.30."""
    d = day([0.10, 0.30, 0.30, 0.30], cars=(car([9.0, 0, 0, 0]),))
    s = savings(d, limit=0.05)
    assert s.smartload_cost_eur == pytest.approx(10.0 * 0.10)  # 9 kWh / 0.9 at 0.10
    assert s.baseline_cost_eur == pytest.approx(10.0 * 0.30)  # same energy, last hour
    assert s.stored_adjustment_eur == pytest.approx(0.0)
    assert s.savings_eur == pytest.approx(2.0)
    assert s.vehicle_kwh == pytest.approx(9.0)
    # a limit at the cheap price: the threshold charges then too, nothing saved
    assert savings(d, limit=0.10).savings_eur == pytest.approx(0.0)


def test_pv_surplus_goes_into_the_car_under_the_threshold() -> None:
    """The threshold takes PV surplus above the wallbox minimum: no grid cost for the car."""
    pv = np.array([0.0, 5.0, 0.0])
    d = day([0.30, 0.30, 0.30], pv_kw=pv, cars=(car([0.0, 0.0, 4.5]),))
    s = savings(d, limit=0.05)
    # SmartLoad: 5 kW PV fed in at 0 in hour 2, the car from the grid in hour 3 (5 kW)
    assert s.smartload_cost_eur == pytest.approx(5.0 * 0.30)
    # threshold: the car takes the 5 kW surplus in hour 2 (4.5 kWh in the car)
    assert s.baseline_cost_eur == pytest.approx(0.0)
    assert s.savings_eur == pytest.approx(-1.5)


def test_battery_stored_energy_is_credited() -> None:
    """SmartLoad charged 2 kWh at 0.10 and used them at 0.40, ending where it began; the
    threshold's battery (self-consumption) used 2 kWh of its own and ends 2 kWh lower."""
    battery = BatteryInput(
        capacity_kwh=10.0,
        soc_kwh=5.0,
        min_soc_kwh=1.0,
        max_soc_kwh=10.0,
        max_charge_kw=5.0,
        max_discharge_kw=5.0,
        charge_efficiency=1.0,
        discharge_efficiency=1.0,
    )
    d = day(
        [0.10, 0.40],
        load_kw=np.array([0.0, 2.0]),
        battery=battery,
        battery_soc_start_kwh=np.array([5.0, 7.0]),
        battery_soc_end_kwh=np.array([7.0, 5.0]),
    )
    s = savings(d, limit=0.05)
    assert s.smartload_cost_eur == pytest.approx(0.2)
    assert s.baseline_cost_eur == pytest.approx(0.0)
    assert s.value_eur_per_kwh == pytest.approx(0.25)  # the median price
    assert s.stored_adjustment_eur == pytest.approx(2.0 * 0.25)
    assert s.savings_eur == pytest.approx(0.3)


def test_running_session_has_no_deadline_and_the_gap_is_valued() -> None:
    """The car is still plugged in: the threshold has not charged yet, the difference is stored
    energy valued at the median price (per kWh in the car: / its efficiency)."""
    d = day([0.10, 0.30], cars=(car([9.0, 0.0], still_plugged=True),))
    s = savings(d, limit=0.05)
    assert s.baseline_cost_eur == pytest.approx(0.0)
    assert s.stored_adjustment_eur == pytest.approx(9.0 / 0.9 * 0.2)
    assert s.savings_eur == pytest.approx(-1.0 + 2.0)


def test_sessions_split_at_an_unplug() -> None:
    """Two sessions: each must be served by its own end."""
    plugged = [True, True, False, True, True]
    d = day([0.2] * 5, cars=(car([0, 4.5, 0, 0, 4.5], plugged=plugged),))
    s = savings(d, limit=0.05)
    assert s.baseline_cost_eur == pytest.approx(s.smartload_cost_eur)
    assert s.savings_eur == pytest.approx(0.0)


def test_empty_day() -> None:
    s = savings(day([]), limit=0.1)
    assert s.slots == 0 and s.savings_eur == 0.0
