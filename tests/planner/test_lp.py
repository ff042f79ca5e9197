"""The planning LP on small cases whose optimum is known by hand, and on real scenarios."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from custom_components.smartload.planner import lp
from custom_components.smartload.planner.model import (
    BatteryInput,
    BatteryMode,
    Plan,
    PlanInput,
    PlannerSettings,
    PlanStatus,
    VehicleInput,
)
from custom_components.smartload.planner.scenario import scenario_to_input

FIXTURES = Path(__file__).parent.parent / "fixtures" / "scenarios"
START = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
# the plain objective: no terminal value, no start penalty (tested on its own below)
ZERO = PlannerSettings(terminal_value_eur_per_kwh=0.0, min_charge_block_minutes=0.0)
TOL = 1e-6


def home(
    prices: list[float],
    *,
    load: float | list[float] = 0.0,
    pv: float | list[float] = 0.0,
    export: float | list[float] = 0.0,
    battery: BatteryInput | None = None,
    vehicles: tuple[VehicleInput, ...] = (),
    settings: PlannerSettings = ZERO,
    **kwargs: Any,
) -> PlanInput:
    """A home over len(prices) 15-min slots."""
    n = len(prices)

    def series(value: float | list[float]) -> np.ndarray:
        return np.full(n, float(value)) if np.isscalar(value) else np.asarray(value, float)

    return PlanInput(
        start=START,
        import_price_eur_per_kwh=np.asarray(prices, float),
        export_price_eur_per_kwh=series(export),
        load_kw=series(load),
        pv_kw=series(pv),
        battery=battery,
        vehicles=vehicles,
        settings=settings,
        **kwargs,
    )


def ideal_battery(**kwargs: Any) -> BatteryInput:
    """A lossless 1 kWh battery, empty, 2 kW each way (0.5 kWh per slot)."""
    params: dict[str, Any] = {
        "capacity_kwh": 1.0,
        "soc_kwh": 0.0,
        "min_soc_kwh": 0.0,
        "max_soc_kwh": 1.0,
        "max_charge_kw": 2.0,
        "max_discharge_kw": 2.0,
        "charge_efficiency": 1.0,
        "discharge_efficiency": 1.0,
    } | kwargs
    return BatteryInput(**params)


def car(**kwargs: Any) -> VehicleInput:
    """A lossless car that takes 1 kWh per slot at full power (4 kW)."""
    params: dict[str, Any] = {
        "name": "Kia",
        "capacity_kwh": 60.0,
        "soc_kwh": 10.0,
        "target_soc_kwh": 12.0,
        "max_charge_kw": 4.0,
        "charge_efficiency": 1.0,
    } | kwargs
    return VehicleInput(**params)


def charging_slots(power: np.ndarray) -> set[int]:
    return {int(t) for t in np.flatnonzero(power > TOL)}


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def assert_physical(plan: Plan) -> None:
    assert np.all(np.minimum(plan.grid_import_kw, plan.grid_export_kw) <= TOL)
    assert np.all(np.minimum(plan.battery_charge_kw, plan.battery_discharge_kw) <= TOL)


# --- cheap-slot charging, duals, modes ------------------------------------------------------


def test_battery_charges_in_the_cheapest_slots() -> None:
    """1 kWh needed in the evening (slots 5, 6): bought in the two cheapest slots before."""
    prices = [0.20, 0.10, 0.30, 0.05, 0.25, 0.50, 0.50, 0.40]
    load = [0, 0, 0, 0, 0, 2.0, 2.0, 0]
    result = lp.plan(home(prices, load=load, battery=ideal_battery()))
    assert result.status is PlanStatus.OPTIMAL
    assert charging_slots(result.battery_charge_kw) == {1, 3}
    assert charging_slots(result.battery_discharge_kw) == {5, 6}
    np.testing.assert_allclose(result.grid_import_kw[[5, 6]], 0.0, atol=TOL)
    assert result.battery_mode[1] is BatteryMode.CHARGE
    assert result.battery_mode[3] is BatteryMode.CHARGE
    assert result.battery_mode[0] is BatteryMode.NORMAL
    # cost: 0.5 kWh at 0.10 and 0.5 kWh at 0.05
    assert result.cost_eur == pytest.approx(0.075)
    np.testing.assert_allclose(result.battery_soc_kwh[[3, 4, 5, 6]], [1.0, 1.0, 0.5, 0.0], atol=TOL)
    # not charging now: no price limit to hand to evcc
    assert result.battery_price_limit_eur_per_kwh is None
    assert len(result.why) == result.n_slots


def test_battery_price_limit_covers_the_charging_run_that_starts_now() -> None:
    prices = [0.10, 0.12, 0.30, 0.05, 0.50, 0.50, 0.50, 0.50]
    load = [0, 0, 0, 0, 2.0, 2.0, 2.0, 0]
    result = lp.plan(
        home(prices, load=load, battery=ideal_battery(capacity_kwh=1.5, max_soc_kwh=1.5))
    )
    assert charging_slots(result.battery_charge_kw) == {0, 1, 3}
    # the run that starts now is slots 0-1; slot 3 is a later run
    assert result.battery_price_limit_eur_per_kwh == pytest.approx(0.12)


def test_hold_keeps_the_battery_for_the_expensive_slot() -> None:
    """Load at 0.20 now and at 0.50 later, 0.5 kWh stored: it waits for the 0.50 slot."""
    prices = [0.20, 0.20, 0.50]
    result = lp.plan(home(prices, load=2.0, battery=ideal_battery(soc_kwh=0.5)))
    assert charging_slots(result.battery_discharge_kw) == {2}
    assert result.battery_mode[:2] == (BatteryMode.HOLD, BatteryMode.HOLD)
    assert result.battery_mode[2] is BatteryMode.NORMAL


def test_empty_battery_is_normal_not_hold() -> None:
    """At its minimum the battery cannot discharge anyway: nothing is held deliberately."""
    result = lp.plan(home([0.30, 0.30], load=2.0, battery=ideal_battery(soc_kwh=0.0)))
    assert result.battery_mode == (BatteryMode.NORMAL, BatteryMode.NORMAL)


def test_car_on_pv_surplus_has_no_grid_price_limit() -> None:
    pv = [6.0, 0.0, 0.0, 0.0]
    vehicle = car(target_soc_kwh=11.0, departure_slot=4)
    result = lp.plan(home([0.30, 0.30, 0.10, 0.40], pv=pv, export=0.08, vehicles=(vehicle,)))
    kia = result.vehicles[0]
    assert charging_slots(kia.charge_kw) == {0}  # PV at 8 ct beats the grid at 10 ct
    assert kia.price_limit_eur_per_kwh is None  # not from the grid


def test_battery_value_is_the_dual_of_its_soc_dynamics() -> None:
    """The marginal value of a stored kWh now equals the objective's sensitivity to SoC now."""
    inputs = dataclasses.replace(
        scenario_to_input(load_fixture("de-2024-08-04-48h-2cars.json")), settings=ZERO
    )
    base = lp.plan(inputs)
    assert inputs.battery is not None
    delta = 0.01
    more = dataclasses.replace(
        inputs, battery=dataclasses.replace(inputs.battery, soc_kwh=inputs.battery.soc_kwh + delta)
    )
    sensitivity = -(lp.plan(more).objective_eur - base.objective_eur) / delta
    assert base.battery_value_eur_per_kwh[0] == pytest.approx(sensitivity, rel=1e-4)
    assert base.battery_value_eur_per_kwh[0] > 0


# --- cars -------------------------------------------------------------------------------


def test_departure_met_in_the_cheapest_slots_before_departure() -> None:
    """2 kWh by slot 6: the two cheapest slots before it (2 and 4), not the cheaper slot 7."""
    prices = [0.30, 0.25, 0.10, 0.28, 0.12, 0.40, 0.35, 0.01]
    result = lp.plan(home(prices, vehicles=(car(departure_slot=6),)))
    kia = result.vehicle("Kia")
    assert kia is not None
    assert result.status is PlanStatus.OPTIMAL
    assert charging_slots(kia.charge_kw) == {2, 4}
    assert kia.soc_at_departure_kwh == pytest.approx(12.0)
    assert kia.shortfall_kwh == 0.0
    assert kia.price_limit_eur_per_kwh is None  # not charging now
    # a kWh more in the car saves the dearest kWh bought (slot 4 at 0.12)
    assert kia.value_eur_per_kwh[0] == pytest.approx(0.12, abs=1e-4)  # (+ the tie-break)
    assert np.all(kia.value_eur_per_kwh[6:] == 0.0)  # gone after departure


def test_car_price_limit_when_charging_now() -> None:
    prices = [0.10, 0.12, 0.30, 0.40]
    result = lp.plan(home(prices, vehicles=(car(departure_slot=4),)))
    kia = result.vehicle("Kia")
    assert kia is not None
    assert charging_slots(kia.charge_kw) == {0, 1}
    assert kia.price_limit_eur_per_kwh == pytest.approx(0.12)


def test_unreachable_target_is_a_reported_shortfall() -> None:
    """Plugged in for 3 slots at 1 kWh each, 5 kWh needed: 2 kWh short, never infeasible."""
    prices = [0.30, 0.30, 0.30, 0.30, 0.30, 0.30]
    vehicle = car(soc_kwh=10.0, target_soc_kwh=15.0, plugged_from_slot=1, departure_slot=4)
    result = lp.plan(home(prices, vehicles=(vehicle,)))
    kia = result.vehicle("Kia")
    assert kia is not None
    assert result.status is PlanStatus.SHORTFALL
    assert kia.shortfall_kwh == pytest.approx(2.0)
    assert kia.soc_at_departure_kwh == pytest.approx(13.0)
    np.testing.assert_allclose(kia.charge_kw, [0, 4, 4, 4, 0, 0], atol=TOL)


def test_departure_now_with_a_missing_target() -> None:
    result = lp.plan(home([0.3, 0.3], vehicles=(car(departure_slot=0),)))
    kia = result.vehicle("Kia")
    assert kia is not None
    assert result.status is PlanStatus.SHORTFALL
    assert kia.shortfall_kwh == pytest.approx(2.0)
    assert np.all(kia.charge_kw == 0)


def test_wallbox_limit_holds_for_two_cars() -> None:
    """Two 11 kW cars on an 11 kW wallbox, both needing a lot: never more than 11 kW together."""
    prices = [0.20, 0.10, 0.15, 0.30, 0.12, 0.25]
    cars = (
        car(name="Kia", max_charge_kw=11.0, target_soc_kwh=18.0, departure_slot=6),
        car(name="Zoe", max_charge_kw=11.0, target_soc_kwh=18.0, departure_slot=6),
    )
    result = lp.plan(home(prices, vehicles=cars, wallbox_max_kw=11.0))
    total = sum(v.charge_kw for v in result.vehicles)
    assert np.all(total <= 11.0 + TOL)
    assert result.status is PlanStatus.OPTIMAL
    # 16 kWh at 2.75 kWh per slot: the five cheapest slots full, the dearest (0.30) partly
    np.testing.assert_allclose(total[[0, 1, 2, 4, 5]], 11.0, atol=TOL)
    assert 0 < total[3] < 11.0


def test_higher_priority_car_gets_the_cheap_slot() -> None:
    """One cheap slot (1 kWh on a 4 kW wallbox) that both cars value: priority 1 gets it."""
    cars = (
        car(name="Kia", target_soc_kwh=20.0, priority=3),
        car(name="Zoe", target_soc_kwh=20.0, priority=1),
    )
    settings = PlannerSettings(terminal_value_eur_per_kwh=0.2, min_charge_block_minutes=0.0)
    result = lp.plan(home([0.10, 0.30], vehicles=cars, wallbox_max_kw=4.0, settings=settings))
    kia, zoe = result.vehicles
    np.testing.assert_allclose(zoe.charge_kw, [4.0, 0.0], atol=TOL)
    np.testing.assert_allclose(kia.charge_kw, [0.0, 0.0], atol=TOL)


# --- battery limits ---------------------------------------------------------------------


def test_battery_never_below_min_soc() -> None:
    prices = [0.40] * 12
    battery = ideal_battery(capacity_kwh=10.0, max_soc_kwh=10.0, soc_kwh=5.0, min_soc_kwh=3.0)
    result = lp.plan(home(prices, load=3.0, battery=battery))
    assert np.all(result.battery_soc_kwh >= 3.0 - TOL)
    assert result.battery_soc_kwh[-1] == pytest.approx(3.0)


def test_battery_below_min_soc_now_is_never_discharged_further() -> None:
    """Below its minimum now, on a weak grid connection: feasible, and never lower than now."""
    prices = [0.10, 0.10, 0.40, 0.40]
    battery = ideal_battery(capacity_kwh=10.0, max_soc_kwh=10.0, soc_kwh=2.0, min_soc_kwh=3.0)
    result = lp.plan(home(prices, load=1.0, battery=battery, max_import_kw=2.0))
    assert result.status is PlanStatus.OPTIMAL
    # 1 kW net charge (2 kW import - 1 kW load) in the cheap slots, used in the dear ones
    np.testing.assert_allclose(result.battery_soc_kwh, [2.25, 2.5, 2.25, 2.0], atol=TOL)


def test_end_soc_min_is_kept() -> None:
    battery = ideal_battery(capacity_kwh=10.0, max_soc_kwh=10.0, soc_kwh=5.0, end_soc_min_kwh=4.0)
    result = lp.plan(home([0.40] * 8, load=3.0, battery=battery))
    assert result.battery_soc_kwh[-1] == pytest.approx(4.0)


# --- negative prices: physical plans --------------------------------------------------


@pytest.mark.parametrize(
    "fixture",
    [
        "de-2024-05-12-24h-raw-spot-negative-battery-2cars.json",
        "de-2024-05-12-24h-negative-prices-battery-2cars.json",
    ],
)
def test_negative_price_day_is_physical(fixture: str) -> None:
    inputs = scenario_to_input(load_fixture(fixture))
    relaxed = lp.plan(
        dataclasses.replace(
            inputs, settings=dataclasses.replace(inputs.settings, enforce_exclusivity=False)
        )
    )
    # without exclusivity the LP does buy+sell or charge+discharge at once: the test can fail
    overlap = np.maximum(
        np.minimum(relaxed.grid_import_kw, relaxed.grid_export_kw),
        np.minimum(relaxed.battery_charge_kw, relaxed.battery_discharge_kw),
    )
    assert overlap.max() > 0.1
    exact = lp.plan(inputs)
    assert_physical(exact)
    assert exact.status is PlanStatus.OPTIMAL
    # the physical plan can only cost more than the relaxation (the relaxation is a bound)
    assert exact.objective_eur >= relaxed.objective_eur - 1e-6
    # scenario mode (no terminal value, targets met): what was optimised is what the flows cost
    # (up to the cars' tie-break, ~0.2 ct here)
    assert exact.objective_eur == pytest.approx(exact.cost_eur, abs=5e-3)
    # and its duals come from the LP re-solved with the directions fixed
    assert np.any(exact.battery_value_eur_per_kwh != 0.0)


def test_an_exclusivity_milp_out_of_time_still_gives_a_physical_plan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A slow machine: the MILP does not answer in time. The directions come from the
    relaxation, the plan stays physical and optimal-status (no rule-based fallback), and it
    costs no more than a little above the exact one."""
    inputs = scenario_to_input(
        load_fixture("de-2024-05-12-24h-raw-spot-negative-battery-2cars.json")
    )
    exact = lp.plan(inputs)
    real = lp.SOLVERS["highspy"]
    calls: list[bool] = []

    def no_milp(prob: Any, time_limit_s: float) -> Any:
        calls.append(prob.integrality is not None)
        if prob.integrality is not None:
            return lp._Solution(False, "Time limit reached", np.zeros(0), None, math.nan)
        return real(prob, time_limit_s)

    monkeypatch.setitem(lp.SOLVERS, "highspy", no_milp)
    rounded = lp.plan(inputs)
    assert any(calls)  # the MILP was tried (and failed)
    assert rounded.status is PlanStatus.OPTIMAL
    assert_physical(rounded)
    assert rounded.objective_eur >= exact.objective_eur - 1e-6
    assert rounded.objective_eur <= exact.objective_eur + 0.05 * abs(exact.objective_eur) + 0.05


def test_zero_and_negative_prices_with_a_simple_home() -> None:
    """Import paid (-0.05), export costs money: no burning through the battery."""
    prices = [-0.05, -0.05, 0.0, 0.0, 0.30, 0.30]
    battery = ideal_battery(charge_efficiency=0.9, discharge_efficiency=0.9)
    result = lp.plan(home(prices, export=prices, load=0.5, pv=1.0, battery=battery))
    assert_physical(result)
    assert result.battery_soc_kwh.max() == pytest.approx(1.0)


def test_pv_beyond_the_export_limit_is_curtailed() -> None:
    """9 kW of surplus, 5 kW export limit, nowhere else to go: 4 kW curtailed, not infeasible."""
    inputs = home([0.30] * 4, load=1.0, pv=10.0, export=0.08, max_export_kw=5.0)
    result = lp.plan(dataclasses.replace(inputs, settings=PlannerSettings()))
    assert result.status is PlanStatus.OPTIMAL
    assert result.pv_curtailed_kw is not None
    np.testing.assert_allclose(result.pv_curtailed_kw, 4.0, atol=TOL)
    np.testing.assert_allclose(result.grid_export_kw, 5.0, atol=TOL)
    # with a battery, the surplus goes there first
    battery = ideal_battery(capacity_kwh=10.0, max_soc_kwh=10.0, max_charge_kw=3.0)
    stored = lp.plan(dataclasses.replace(inputs, battery=battery, settings=PlannerSettings()))
    assert stored.pv_curtailed_kw is not None
    np.testing.assert_allclose(stored.pv_curtailed_kw, 1.0, atol=TOL)
    # scenario mode has no curtailment: no plan can balance this, the fallback stands in
    assert lp.plan(inputs).status is PlanStatus.OPTIMAL  # ZERO settings still allow it
    strict = dataclasses.replace(inputs, settings=PlannerSettings(pv_curtailment_eur_per_kwh=None))
    assert lp.plan(strict).status is PlanStatus.FALLBACK


# --- end of horizon ---------------------------------------------------------------------


def _evening_home(settings: PlannerSettings) -> PlanInput:
    prices = list(0.30 + 0.10 * np.sin(np.arange(32) / 5.0))
    battery = BatteryInput(
        capacity_kwh=10.0,
        soc_kwh=8.0,
        min_soc_kwh=1.0,
        max_soc_kwh=10.0,
        max_charge_kw=5.0,
        max_discharge_kw=5.0,
    )
    return home(prices, load=0.5, export=0.08, battery=battery, settings=settings)


def test_battery_not_drained_at_the_horizon_end_with_a_derived_value() -> None:
    result = lp.plan(_evening_home(PlannerSettings()))
    assert result.battery_soc_kwh[-1] > 5.0
    assert result.grid_export_kw.max() == 0.0  # stored energy is worth more than 8 ct


def test_battery_drained_when_leftover_energy_is_worthless() -> None:
    result = lp.plan(_evening_home(ZERO))
    assert result.battery_soc_kwh[-1] == pytest.approx(1.0)


def test_derived_terminal_values() -> None:
    inputs = _evening_home(PlannerSettings())
    values = lp.terminal_values(inputs)
    p_in = inputs.import_price_eur_per_kwh
    assert values.battery_eur_per_kwh == pytest.approx(0.95 * np.median(p_in))
    assert values.battery_eur_per_kwh < 0.95 * p_in.max()
    inputs = dataclasses.replace(inputs, vehicles=(car(charge_efficiency=0.9),))
    assert lp.terminal_values(inputs).vehicle_eur_per_kwh == (
        pytest.approx(np.quantile(p_in, 0.25) / 0.9),
    )
    # spare room above target + expected use: halfway between the feed-in and Q_v, per kWh stored
    q_v = np.quantile(p_in, 0.25)
    assert lp.terminal_values(inputs).vehicle_spare_eur_per_kwh == (
        pytest.approx((0.08 + (q_v - 0.08) / 2) / 0.9),
    )
    fixed = dataclasses.replace(inputs, settings=PlannerSettings(terminal_value_eur_per_kwh=0.2))
    assert lp.terminal_values(fixed) == lp.TerminalValues(0.2, (0.2,))  # no spare value


def test_pv_surplus_goes_into_a_car_that_will_drive_again() -> None:
    """Target met, 6 kWh of expected use: PV surplus fills the car instead of being exported."""
    n = 8
    pv = [0, 0, 5.0, 5.0, 5.0, 5.0, 0, 0]  # 4.5 kW surplus: 18 kW x 0.25 h = 4.5 kWh
    vehicle = car(soc_kwh=12.0, target_soc_kwh=12.0, departure_slot=n, max_charge_kw=11.0)
    settings = PlannerSettings(terminal_value_eur_per_kwh=0.2)  # between export and import
    base = home([0.30] * n, load=0.5, pv=pv, export=0.08, settings=settings)
    without = lp.plan(dataclasses.replace(base, vehicles=(vehicle,)))
    with_use = lp.plan(
        dataclasses.replace(base, vehicles=(dataclasses.replace(vehicle, expected_use_kwh=6.0),))
    )
    assert without.grid_export_kw.sum() * 0.25 == pytest.approx(4.5)
    assert without.vehicles[0].charge_kw.sum() == 0.0
    assert with_use.grid_export_kw.sum() == pytest.approx(0.0, abs=TOL)
    assert with_use.vehicles[0].charge_kw.sum() * 0.25 == pytest.approx(4.5)
    assert with_use.cost_eur > without.cost_eur  # less export income now, less import later
    assert with_use.objective_eur < without.objective_eur


def test_spare_room_takes_pv_surplus_and_only_very_cheap_grid_energy() -> None:
    """A car above target + expected use: PV surplus goes in rather than out; grid energy only
    below (feed-in + Q_v) / 2, not merely below Q_v."""
    n = 8
    pv = [0, 0, 5.0, 5.0, 0, 0, 0, 0]  # 2 slots x 4.5 kW surplus = 2.25 kWh
    prices = [0.30, 0.30, 0.30, 0.30, 0.12, 0.25, 0.30, 0.30]  # Q_v = 0.2875
    vehicle = car(soc_kwh=20.0, target_soc_kwh=12.0, max_charge_kw=11.0, departure_slot=n)
    inputs = home(prices, load=0.5, pv=pv, export=0.08, vehicles=(vehicle,))
    # (a minimum block would stretch the 15-min burst at 12 ct: the values alone here)
    settings = PlannerSettings(min_charge_block_minutes=0.0)
    result = lp.plan(dataclasses.replace(inputs, settings=settings))
    kia = result.vehicles[0]
    assert result.grid_export_kw.sum() == pytest.approx(0.0, abs=TOL)
    np.testing.assert_allclose(kia.charge_kw[2:4], 4.5, atol=TOL)
    # 0.12 is below (0.08 + 0.2875) / 2 = 0.18: full power; 0.25 is below Q_v but not below that
    assert kia.charge_kw[4] == pytest.approx(11.0)
    assert kia.charge_kw[5] == pytest.approx(0.0, abs=TOL)
    assert charging_slots(kia.charge_kw) == {2, 3, 4}
    # scenario mode (no terminal value): the surplus is exported, nothing bought
    plain = lp.plan(inputs)
    assert plain.vehicles[0].charge_kw.sum() == pytest.approx(0.0, abs=TOL)


def test_a_leaving_cars_last_slot_is_not_shared() -> None:
    """Sharing a slot between cars is a relaxation that later cycles sort out, but not in the
    last slot before a departure: that slot is the leaving car's alone."""
    prices = [0.40, 0.40, 0.20, 0.30, 0.30, 0.30]
    first = car(name="Kia", soc_kwh=10.0, target_soc_kwh=10.5, departure_slot=3)  # 0.5 kWh
    second = car(name="Zoe", soc_kwh=10.0, target_soc_kwh=10.5, departure_slot=6)
    result = lp.plan(home(prices, vehicles=(first, second), wallbox_max_kw=4.0))
    kia, zoe = result.vehicles
    assert kia.shortfall_kwh == 0.0 and zoe.shortfall_kwh == 0.0
    assert kia.charge_kw[2] == pytest.approx(2.0)  # half of the cheap slot, Kia's last one
    assert zoe.charge_kw[2] == pytest.approx(0.0, abs=TOL)  # Zoe waits for a 0.30 slot
    # when slot 2 is not Kia's last one, both share it (the relaxation)
    later = dataclasses.replace(first, departure_slot=4)
    shared = lp.plan(home(prices, vehicles=(later, second), wallbox_max_kw=4.0))
    np.testing.assert_allclose([v.charge_kw[2] for v in shared.vehicles], [2.0, 2.0], atol=TOL)


def test_car_without_departure_fills_up_to_its_target_in_cheap_slots() -> None:
    prices = [0.40, 0.10, 0.38, 0.36, 0.34, 0.32, 0.30, 0.42]  # lower quartile: 0.315
    vehicle = car(soc_kwh=10.0, target_soc_kwh=20.0)  # no departure in the horizon
    settings = PlannerSettings(min_charge_block_minutes=0.0)
    result = lp.plan(home(prices, vehicles=(vehicle,), settings=settings))
    kia = result.vehicles[0]
    assert charging_slots(kia.charge_kw) == {1, 6}  # the slots below the lower quartile
    assert kia.soc_at_departure_kwh is None
    assert kia.shortfall_kwh == 0.0
    # with no value on leftover energy, it does not charge at all
    idle = lp.plan(home(prices, vehicles=(vehicle,)))
    assert idle.vehicles[0].charge_kw.sum() == 0.0


# --- wear -------------------------------------------------------------------------------


def test_wear_cost_reduces_cycling() -> None:
    # big spread (0.20 -> 0.32) and small spread (0.20 -> 0.25) cycles
    prices = [0.20, 0.32, 0.20, 0.25] * 3
    battery = ideal_battery(
        capacity_kwh=4.0, max_soc_kwh=4.0, charge_efficiency=0.95, discharge_efficiency=0.95
    )
    loads = 4.0

    def throughput(wear: float) -> float:
        b = dataclasses.replace(battery, wear_cost_eur_per_kwh=wear)
        result = lp.plan(home(prices, load=loads, battery=b))
        return float((result.battery_charge_kw + result.battery_discharge_kw).sum())

    assert throughput(0.0) > 1.0
    # 3 ct/kWh of wear: the small spread no longer pays for the losses and wear
    assert 0.0 < throughput(0.03) < throughput(0.0)
    assert throughput(0.10) == pytest.approx(0.0, abs=TOL)


# --- solvers, fallback, validation ------------------------------------------------------


def test_highspy_and_scipy_agree() -> None:
    inputs = scenario_to_input(load_fixture("de-2024-01-16-36h-3cars.json"))
    a = lp.plan(inputs, solver="highspy")
    b = lp.plan(inputs, solver="scipy")
    assert a.objective_eur == pytest.approx(b.objective_eur, abs=1e-6)
    assert a.cost_eur == pytest.approx(b.cost_eur, abs=1e-5)


def test_solver_time_out_returns_the_fallback_plan() -> None:
    inputs = scenario_to_input(load_fixture("de-2024-08-04-48h-2cars.json"))
    settings = dataclasses.replace(inputs.settings, time_limit_s=1e-9)
    result = lp.plan(dataclasses.replace(inputs, settings=settings))
    assert result.status is PlanStatus.FALLBACK
    assert "time limit" in result.message


def test_infeasible_home_returns_the_fallback_plan() -> None:
    """5 kW load on a 2 kW grid connection with nothing else: no plan can balance it."""
    result = lp.plan(home([0.3, 0.3], load=5.0, max_import_kw=2.0))
    assert result.status is PlanStatus.FALLBACK
    assert result.message


def _bad(inputs: PlanInput, **changes: Any) -> PlanInput:
    return dataclasses.replace(inputs, **changes)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"load_kw": np.zeros(3)}, "load_kw has 3 values"),
        ({"pv_kw": np.array([0, 0, 0, np.nan])}, "NaN"),
        ({"import_price_eur_per_kwh": np.array([])}, "empty"),
        ({"load_kw": np.array([0.1, -0.5, 0, 0])}, "negative"),
        ({"battery": ideal_battery(capacity_kwh=-1.0)}, "capacity_kwh must be positive"),
        ({"battery": ideal_battery(min_soc_kwh=0.8, max_soc_kwh=0.5)}, "SoC limits"),
        ({"battery": ideal_battery(charge_efficiency=0.0)}, "charge_efficiency"),
        ({"vehicles": (car(target_soc_kwh=70.0),)}, "target_soc_kwh"),
        ({"vehicles": (car(), car())}, "unique"),
        ({"vehicles": (car(max_charge_kw=float("nan")),)}, "finite"),
        ({"max_import_kw": -1.0}, "max_import_kw"),
    ],
)
def test_bad_input_raises_value_error(change: dict[str, Any], message: str) -> None:
    inputs = home([0.3, 0.3, 0.3, 0.3])
    with pytest.raises(ValueError, match=message):
        lp.plan(_bad(inputs, **change))


def test_price_estimated_is_passed_through() -> None:
    flags = np.array([False, False, True, True])
    result = lp.plan(home([0.3] * 4, load=1.0, price_estimated=flags))
    np.testing.assert_array_equal(result.price_estimated, flags)
