"""decide(): a plan's slot in evcc's terms, on hand-made plans."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from custom_components.smartload.planner.decision import decide
from custom_components.smartload.planner.model import (
    BatteryInput,
    BatteryMode,
    LoadpointMode,
    Plan,
    PlanInput,
    PlanStatus,
    VehicleInput,
    VehiclePlan,
    Why,
)

START = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)
N = 4


def make_inputs(
    *,
    price: float = 0.30,
    pv: float = 0.0,
    load: float = 0.5,
    vehicles: tuple[VehicleInput, ...] = (),
) -> PlanInput:
    return PlanInput(
        start=START,
        import_price_eur_per_kwh=np.full(N, price),
        export_price_eur_per_kwh=np.full(N, 0.08),
        load_kw=np.full(N, load),
        pv_kw=np.full(N, pv),
        battery=BatteryInput(
            capacity_kwh=10.0,
            soc_kwh=5.0,
            min_soc_kwh=1.0,
            max_soc_kwh=10.0,
            max_charge_kw=5.0,
            max_discharge_kw=5.0,
        ),
        vehicles=vehicles,
    )


def car(name: str, *, departure: int | None = None, priority: int = 3, max_kw: float = 11.0):
    return VehicleInput(
        name=name,
        capacity_kwh=60.0,
        soc_kwh=20.0,
        target_soc_kwh=48.0,
        max_charge_kw=max_kw,
        departure_slot=departure,
        priority=priority,
    )


def vplan(name: str, kw: list[float], limit: float | None = None) -> VehiclePlan:
    return VehiclePlan(
        name=name,
        charge_kw=np.asarray(kw, dtype=float),
        soc_kwh=np.cumsum(kw) * 0.25 * 0.9 + 20.0,
        shortfall_kwh=0.0,
        soc_at_departure_kwh=None,
        price_limit_eur_per_kwh=limit,
        value_eur_per_kwh=np.zeros(N),
    )


def make_plan(
    *,
    vehicles: tuple[VehiclePlan, ...] = (),
    modes: tuple[BatteryMode, ...] = (BatteryMode.NORMAL,) * N,
    battery_limit: float | None = None,
    soc: list[float] | None = None,
    status: PlanStatus = PlanStatus.OPTIMAL,
    why: tuple[Why, ...] | None = None,
) -> Plan:
    return Plan(
        status=status,
        start=START,
        slot_minutes=15,
        grid_import_kw=np.zeros(N),
        grid_export_kw=np.zeros(N),
        battery_charge_kw=np.zeros(N),
        battery_discharge_kw=np.zeros(N),
        battery_soc_kwh=np.asarray(soc if soc is not None else [5.0] * N, dtype=float),
        battery_mode=modes,
        battery_price_limit_eur_per_kwh=battery_limit,
        battery_value_eur_per_kwh=np.zeros(N),
        vehicles=vehicles,
        cost_eur=0.0,
        objective_eur=0.0,
        solve_ms=1.0,
        why=why if why is not None else tuple(Why(key=f"k{t}") for t in range(N)),
        price_estimated=np.zeros(N, dtype=bool),
    )


def test_grid_charging_is_now_with_the_price_limit() -> None:
    inputs = make_inputs(price=0.25, vehicles=(car("Kia", departure=3),))
    plan = make_plan(vehicles=(vplan("Kia", [7.4, 7.4, 0, 0], limit=0.27),))
    d = decide(inputs, plan)
    assert d.loadpoint_mode is LoadpointMode.NOW
    assert d.active_vehicle == "Kia"
    assert d.vehicle_charge_kw == pytest.approx(7.4)
    assert d.smart_cost_limit_eur_per_kwh == pytest.approx(0.27)
    assert d.why == Why(key="k0")


def test_charging_covered_by_pv_surplus_is_pv_mode() -> None:
    # 6 kW PV - 0.5 kW load = 5.5 kW surplus covers the planned 5 kW.
    inputs = make_inputs(price=0.30, pv=6.0, vehicles=(car("Kia"),))
    plan = make_plan(vehicles=(vplan("Kia", [5.0, 5.0, 0, 0], limit=0.20),))
    d = decide(inputs, plan)
    assert d.loadpoint_mode is LoadpointMode.PV
    # The price (0.30) is above the limit: evcc would not grid-charge, the limit stays.
    assert d.smart_cost_limit_eur_per_kwh == pytest.approx(0.20)


def test_pv_mode_withholds_a_limit_that_would_start_grid_charging_now() -> None:
    inputs = make_inputs(price=0.15, pv=6.0, vehicles=(car("Kia"),))
    plan = make_plan(vehicles=(vplan("Kia", [5.0, 0, 0, 0], limit=0.20),))
    d = decide(inputs, plan)
    assert d.loadpoint_mode is LoadpointMode.PV
    assert d.smart_cost_limit_eur_per_kwh is None


def test_partly_from_pv_within_the_minimum_is_minpv() -> None:
    # surplus 2.5 kW, planned 3.5 kW: the grid part (1 kW) fits the 1.4 kW minimum.
    inputs = make_inputs(pv=3.0, vehicles=(car("Kia"),))
    plan = make_plan(vehicles=(vplan("Kia", [3.5, 0, 0, 0], limit=0.30),))
    assert decide(inputs, plan).loadpoint_mode is LoadpointMode.MINPV
    # planned 8 kW with 2.5 kW surplus: mostly grid, NOW at the planned power.
    plan = make_plan(vehicles=(vplan("Kia", [8.0, 0, 0, 0], limit=0.30),))
    d = decide(inputs, plan)
    assert d.loadpoint_mode is LoadpointMode.NOW
    assert d.vehicle_charge_kw == pytest.approx(8.0)


def test_nothing_planned_is_off() -> None:
    inputs = make_inputs(vehicles=(car("Kia"),))
    plan = make_plan(vehicles=(vplan("Kia", [0, 0, 5.0, 0], limit=None),))
    d = decide(inputs, plan)
    assert d.loadpoint_mode is LoadpointMode.OFF
    assert d.active_vehicle is None
    assert d.vehicle_charge_kw == 0.0
    assert d.smart_cost_limit_eur_per_kwh is None
    # ... and the later slot is read when asked for.
    assert decide(inputs, plan, slot=2).active_vehicle == "Kia"
    assert decide(inputs, plan, slot=2).why == Why(key="k2")


def test_shared_slot_goes_to_the_earlier_departure_with_the_whole_power() -> None:
    inputs = make_inputs(
        vehicles=(car("Kia", departure=10, priority=1), car("Zoe", departure=3, priority=2))
    )
    plan = make_plan(
        vehicles=(vplan("Kia", [6.0, 0, 0, 0], 0.3), vplan("Zoe", [5.0, 0, 0, 0], 0.28))
    )
    d = decide(inputs, plan)
    assert d.active_vehicle == "Zoe"
    assert d.vehicle_charge_kw == pytest.approx(11.0)
    assert d.smart_cost_limit_eur_per_kwh == pytest.approx(0.28)


def test_shared_slot_without_departures_goes_by_priority_and_car_limit() -> None:
    inputs = make_inputs(
        vehicles=(car("Zoe", priority=2), car("Kia", priority=1, max_kw=7.4)),
    )
    plan = make_plan(vehicles=(vplan("Zoe", [5.5, 0, 0, 0]), vplan("Kia", [5.5, 0, 0, 0])))
    d = decide(inputs, plan)
    assert d.active_vehicle == "Kia"
    assert d.vehicle_charge_kw == pytest.approx(7.4)


def test_battery_charge_carries_limit_and_target() -> None:
    inputs = make_inputs(price=0.22)
    plan = make_plan(
        modes=(BatteryMode.CHARGE, BatteryMode.CHARGE, BatteryMode.NORMAL, BatteryMode.NORMAL),
        battery_limit=0.24,
        soc=[6.2, 7.4, 7.4, 7.0],
    )
    d = decide(inputs, plan)
    assert d.battery_mode is BatteryMode.CHARGE
    assert d.battery_grid_charge_limit_eur_per_kwh == pytest.approx(0.24)
    assert d.battery_target_soc_kwh == pytest.approx(6.2)
    assert d.battery_discharge_locked
    # A limit below the current price would stop the planned charge: at least the price.
    plan = make_plan(modes=(BatteryMode.CHARGE,) * N, battery_limit=0.20, soc=[6.2] * N)
    assert decide(inputs, plan).battery_grid_charge_limit_eur_per_kwh == pytest.approx(0.22)


def test_battery_hold_and_normal() -> None:
    inputs = make_inputs()
    hold = decide(inputs, make_plan(modes=(BatteryMode.HOLD,) * N))
    assert hold.battery_mode is BatteryMode.HOLD
    assert hold.battery_discharge_locked
    assert hold.battery_grid_charge_limit_eur_per_kwh is None
    assert hold.battery_target_soc_kwh is None
    normal = decide(inputs, make_plan())
    assert normal.battery_mode is BatteryMode.NORMAL
    assert not normal.battery_discharge_locked


def test_error_plan_is_safe_and_bad_slot_raises() -> None:
    inputs = make_inputs(vehicles=(car("Kia"),))
    plan = make_plan(vehicles=(vplan("Kia", [11, 11, 11, 11]),), status=PlanStatus.ERROR)
    d = decide(inputs, plan)
    assert d.loadpoint_mode is LoadpointMode.OFF
    assert d.battery_mode is BatteryMode.NORMAL
    assert not d.battery_discharge_locked
    with pytest.raises(IndexError):
        decide(inputs, make_plan(), slot=N)


def test_missing_why_falls_back_to_idle() -> None:
    d = decide(make_inputs(), make_plan(why=()))
    assert d.why == Why(key="idle")


def test_last_slot_before_departure_below_target_is_now() -> None:
    # 6 kW PV - 0.5 kW load covers the planned 5 kW, but the car leaves after this slot and is
    # still below its target (20 < 48 kWh): a PV shortfall could not be made up later.
    inputs = make_inputs(price=0.30, pv=6.0, vehicles=(car("Kia", departure=1),))
    plan = make_plan(vehicles=(vplan("Kia", [5.0, 0, 0, 0]),))
    d = decide(inputs, plan)
    assert d.loadpoint_mode is LoadpointMode.NOW
    assert d.vehicle_charge_kw == pytest.approx(5.0)
    # One slot earlier the next cycle can still correct it: PV mode.
    early = make_inputs(price=0.30, pv=6.0, vehicles=(car("Kia", departure=2),))
    assert decide(early, plan).loadpoint_mode is LoadpointMode.PV
    # At or above the target the surplus is a bonus: PV mode.
    full = VehicleInput(
        name="Kia",
        capacity_kwh=60.0,
        soc_kwh=48.0,
        target_soc_kwh=48.0,
        max_charge_kw=11.0,
        departure_slot=1,
    )
    assert decide(make_inputs(pv=6.0, vehicles=(full,)), plan).loadpoint_mode is LoadpointMode.PV
