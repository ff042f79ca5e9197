"""The rule-based fallback plan: physical, meets reachable targets, never raises."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
import json
import math
from pathlib import Path

import numpy as np
import pytest

from custom_components.smartload.planner import fallback as fallback_module
from custom_components.smartload.planner.explain import WHY_KEYS, render
from custom_components.smartload.planner.fallback import fallback_plan
from custom_components.smartload.planner.model import (
    BatteryInput,
    BatteryMode,
    Plan,
    PlanInput,
    PlanStatus,
    VehicleInput,
)
from custom_components.smartload.planner.scenario import (
    check_answer,
    plan_to_answer,
    scenario_to_input,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"
# benchmark scenarios: the repo's copies (tests/fixtures/scenarios) and the shared originals
SCENARIO_DIRS = (FIXTURES / "scenarios", Path("/work/shared/bench/scenarios"))
SCENARIO_FILES = sorted(
    {p.name: p for d in reversed(SCENARIO_DIRS) for p in d.glob("*.json")}.values(),
    key=lambda p: p.name,
)
START = datetime(2024, 5, 11, 22, 0, tzinfo=UTC)


def day_prices(n: int = 96) -> np.ndarray:
    """A plain winter-like day: cheap night, morning and evening peaks (€/kWh)."""
    hours = (np.arange(n) * 0.25) % 24
    return 0.30 + 0.06 * np.exp(-((hours - 8) ** 2) / 4) + 0.10 * np.exp(-((hours - 19) ** 2) / 4)


def battery(soc: float = 3.0, **kw: float) -> BatteryInput:
    return BatteryInput(
        capacity_kwh=10.0,
        soc_kwh=soc,
        min_soc_kwh=1.0,
        max_soc_kwh=10.0,
        max_charge_kw=5.0,
        max_discharge_kw=5.0,
        **kw,
    )


def two_cars() -> tuple[VehicleInput, VehicleInput]:
    kia = VehicleInput(
        name="Kia",
        capacity_kwh=77.0,
        soc_kwh=30.0,
        target_soc_kwh=61.6,
        max_charge_kw=11.0,
        plugged_from_slot=4,
        departure_slot=60,
        priority=1,
    )
    zoe = VehicleInput(
        name="Zoe",
        capacity_kwh=52.0,
        soc_kwh=20.0,
        target_soc_kwh=41.6,
        max_charge_kw=7.4,
        plugged_from_slot=0,
        departure_slot=70,
        priority=2,
    )
    return kia, zoe


def make_inputs(
    price: np.ndarray,
    *,
    export: np.ndarray | float = 0.0796,
    load: float = 0.5,
    pv: np.ndarray | float = 0.0,
    bat: BatteryInput | None = None,
    vehicles: tuple[VehicleInput, ...] = (),
    max_import_kw: float = math.inf,
) -> PlanInput:
    n = len(price)
    return PlanInput(
        start=START,
        import_price_eur_per_kwh=np.asarray(price, dtype=float),
        export_price_eur_per_kwh=np.broadcast_to(np.asarray(export, dtype=float), (n,)).copy(),
        load_kw=np.full(n, load),
        pv_kw=np.broadcast_to(np.asarray(pv, dtype=float), (n,)).copy(),
        battery=bat,
        vehicles=vehicles,
        max_import_kw=max_import_kw,
    )


def assert_physical(inputs: PlanInput, plan: Plan) -> None:
    """Balance, exclusivity, bounds, plug windows, wallbox: what a real home can do."""
    n = inputs.n_slots
    dt = inputs.dt_h
    assert plan.status == PlanStatus.FALLBACK
    for arr in (
        plan.grid_import_kw,
        plan.grid_export_kw,
        plan.battery_charge_kw,
        plan.battery_discharge_kw,
        plan.battery_soc_kwh,
        plan.battery_value_eur_per_kwh,
        plan.price_estimated,
    ):
        assert len(arr) == n
    assert len(plan.battery_mode) == n
    assert len(plan.why) == n
    assert all(w.key in WHY_KEYS for w in plan.why)
    assert all("?" not in render(w, "de") for w in plan.why)
    cars = np.zeros(n)
    for v, vp in zip(inputs.vehicles, plan.vehicles, strict=True):
        assert vp.name == v.name
        kw = vp.charge_kw
        cars += kw
        slots = np.arange(n)
        end = n if v.departure_slot is None else v.departure_slot
        window = (slots >= v.plugged_from_slot) & (slots < end)
        assert np.all(kw >= 0)
        assert np.all(kw[~window] == 0)
        assert np.all(kw <= v.max_charge_kw + 1e-9)
        soc = v.soc_kwh + np.cumsum(kw * v.charge_efficiency * dt)
        np.testing.assert_allclose(vp.soc_kwh, soc, atol=1e-9)
        assert vp.soc_kwh.max() <= v.capacity_kwh + 1e-9
        assert np.all(vp.value_eur_per_kwh == 0)
    assert np.all(cars <= inputs.wallbox_max_kw + 1e-9)
    imp, exp = plan.grid_import_kw, plan.grid_export_kw
    bc, bd = plan.battery_charge_kw, plan.battery_discharge_kw
    residual = imp - exp + inputs.pv_kw + bd - bc - inputs.load_kw - cars
    assert np.abs(residual).max() < 1e-6
    assert np.all(np.minimum(imp, exp) <= 1e-9)
    assert np.all(np.minimum(bc, bd) <= 1e-9)
    assert np.all(imp >= 0) and np.all(exp >= 0)
    cost = float(
        np.sum((imp * inputs.import_price_eur_per_kwh - exp * inputs.export_price_eur_per_kwh) * dt)
    )
    assert plan.cost_eur == pytest.approx(cost)
    b = inputs.battery
    if b is not None:
        soc = b.soc_kwh + np.cumsum((bc * b.charge_efficiency - bd / b.discharge_efficiency) * dt)
        np.testing.assert_allclose(plan.battery_soc_kwh, soc, atol=1e-9)
        assert plan.battery_soc_kwh.min() >= min(b.min_soc_kwh, b.soc_kwh) - 1e-9
        assert plan.battery_soc_kwh.max() <= b.max_soc_kwh + 1e-9
        assert np.all(bc <= b.max_charge_kw + 1e-9)
        assert np.all(bd <= b.max_discharge_kw + 1e-9)
        modes = np.array([str(m) for m in plan.battery_mode])
        assert np.all(bd[modes != BatteryMode.NORMAL] == 0)  # HOLD and CHARGE never discharge
        assert np.all(imp[modes == BatteryMode.CHARGE] > 0)
    else:
        assert np.all(bc == 0) and np.all(bd == 0)


def test_two_cars_reach_their_targets_in_cheap_slots() -> None:
    price = day_prices(96)
    inputs = make_inputs(price, bat=battery(), vehicles=two_cars())
    plan = fallback_plan(inputs, "HiGHS timed out")
    assert_physical(inputs, plan)
    assert plan.message == "HiGHS timed out"
    for v, vp in zip(inputs.vehicles, plan.vehicles, strict=True):
        assert vp.shortfall_kwh == 0
        assert vp.soc_at_departure_kwh == pytest.approx(v.target_soc_kwh, abs=1e-6)
    # the wallbox is shared: both cars never exceed 11 kW together, and the Kia (priority 1)
    # takes the cheapest slots of its window; every slot it charges in costs no more than
    # any slot of its window it left unused while the wallbox had room
    kia = plan.vehicles[0].charge_kw
    window = np.zeros(96, dtype=bool)
    window[4:60] = True
    used = kia > 1e-9
    unused_with_room = window & (kia < 11.0 - 1e-9)
    assert price[used].max() <= price[unused_with_room & ~used].min() + 1e-12
    assert plan.vehicles[0].price_limit_eur_per_kwh is None  # the Kia is not plugged in now
    keys = {w.key for w in plan.why}
    assert "fallback_car_charge" in keys
    assert keys <= {
        "fallback",
        "fallback_car_charge",
        "fallback_car_charge_cheap",
        "fallback_battery_charge",
        "car_charge_pv",
        "car_shortfall",
    }


def test_unreachable_target_reports_the_shortfall() -> None:
    car = VehicleInput(
        name="Kia",
        capacity_kwh=77.0,
        soc_kwh=10.0,
        target_soc_kwh=61.6,
        max_charge_kw=11.0,
        departure_slot=8,  # 2 h: at most 8 x 11 x 0.25 x 0.9 = 19.8 kWh
    )
    inputs = make_inputs(day_prices(32), vehicles=(car,))
    plan = fallback_plan(inputs, "failed")
    assert_physical(inputs, plan)
    vp = plan.vehicles[0]
    np.testing.assert_allclose(vp.charge_kw[:8], 11.0)
    assert vp.soc_at_departure_kwh == pytest.approx(29.8)
    assert vp.shortfall_kwh == pytest.approx(61.6 - 29.8)
    assert plan.why[0].key == "car_shortfall"
    assert plan.objective_eur == pytest.approx(plan.cost_eur + 10.0 * vp.shortfall_kwh)


def test_battery_charges_only_in_the_cheapest_slots_and_otherwise_self_consumes() -> None:
    price = day_prices(96)
    inputs = make_inputs(price, load=0.8, bat=battery(soc=1.0))
    plan = fallback_plan(inputs, "failed")
    assert_physical(inputs, plan)
    modes = np.array([str(m) for m in plan.battery_mode])
    charge = modes == BatteryMode.CHARGE
    assert charge.any()
    threshold = np.percentile(price, fallback_module.BATTERY_PERCENTILE)
    assert price[charge].max() <= threshold
    # above the threshold: plain self-consumption (in a cheap slot a full battery is held)
    assert set(modes[price > threshold]) == {BatteryMode.NORMAL}
    # at the evening peak the battery covers the house
    peak = int(np.argmax(price))
    assert plan.battery_discharge_kw[peak] == pytest.approx(0.8)
    assert plan.grid_import_kw[peak] == pytest.approx(0.0)
    assert plan.why[int(np.flatnonzero(charge)[0])].key == "fallback_battery_charge"


def test_flat_prices_do_not_charge_the_battery_from_the_grid() -> None:
    inputs = make_inputs(np.full(48, 0.30), bat=battery(soc=5.0))
    plan = fallback_plan(inputs, "failed")
    assert_physical(inputs, plan)
    assert BatteryMode.CHARGE not in plan.battery_mode  # the round trip would lose money
    assert plan.battery_price_limit_eur_per_kwh is None


def test_end_reserve_is_reached_and_kept() -> None:
    inputs = make_inputs(day_prices(96), load=0.5, bat=battery(soc=1.5, end_soc_min_kwh=6.0))
    plan = fallback_plan(inputs, "failed")
    assert_physical(inputs, plan)
    assert plan.battery_soc_kwh[-1] >= 6.0 - 1e-9


def read_fixture_prices() -> np.ndarray:
    with (FIXTURES / "prices_de_2024-05-12.csv").open() as f:
        return np.array([float(r["price_eur_per_mwh"]) for r in csv.DictReader(f)]) / 1000.0


def test_negative_price_day_stays_physical() -> None:
    """The lowest-price day of 2024 with raw spot prices on both sides (both go negative)."""
    spot = read_fixture_prices()
    assert spot.min() < 0
    n = len(spot)
    hours = (np.arange(n) * 0.25 + 0) % 24  # the fixture starts at 00:00 local (22:00 UTC)
    pv = np.clip(8.0 * np.sin((hours - 6) / 14 * np.pi), 0.0, None)
    kia, zoe = two_cars()
    inputs = make_inputs(
        spot, export=spot, load=0.5, pv=pv, bat=battery(soc=5.0), vehicles=(kia, zoe)
    )
    plan = fallback_plan(inputs, "failed")
    assert_physical(inputs, plan)
    negative = spot < 0
    # paid to import: the battery charges (from the grid) in the negative slots it has room in
    modes = np.array([str(m) for m in plan.battery_mode])
    assert np.any(modes[negative] == BatteryMode.CHARGE)
    assert all(vp.shortfall_kwh == 0 for vp in plan.vehicles)
    if plan.battery_price_limit_eur_per_kwh is not None:
        assert modes[0] == BatteryMode.CHARGE


def test_no_battery_no_cars_and_bad_numbers_never_raise(caplog: pytest.LogCaptureFixture) -> None:
    price = day_prices(16)
    price[3] = math.nan
    inputs = make_inputs(price, pv=np.array([math.inf] + [0.0] * 15))
    plan = fallback_plan(inputs, "bad input")
    assert plan.status == PlanStatus.FALLBACK
    assert plan.n_slots == 16 and len(plan.why) == 16
    assert np.all(np.isfinite(plan.grid_import_kw))
    empty = make_inputs(np.zeros(0))
    assert fallback_plan(empty, "empty").n_slots == 0
    assert fallback_plan(make_inputs(np.zeros(0), bat=battery()), "empty").n_slots == 0
    assert "Fallback rules failed" not in caplog.text


def test_a_failing_rule_still_returns_a_safe_plan(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(fallback_module, "_run_battery", broken)
    inputs = make_inputs(day_prices(24), bat=battery(), vehicles=two_cars())
    plan = fallback_plan(inputs, "solver failed")
    assert "Fallback rules failed (boom)" in caplog.text
    assert plan.status == PlanStatus.FALLBACK
    assert plan.message == "solver failed"
    assert all(np.all(v.charge_kw == 0) for v in plan.vehicles)
    assert set(plan.battery_mode) == {BatteryMode.HOLD}
    assert {w.key for w in plan.why} == {"fallback"}
    np.testing.assert_allclose(plan.grid_import_kw, 0.5)


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.stem)
def test_bench_scenarios_pass_the_shared_checker(path: Path) -> None:
    scenario = json.loads(path.read_text())
    inputs = scenario_to_input(scenario)
    plan = fallback_plan(inputs, "benchmark")
    assert_physical(inputs, plan)
    assert check_answer(scenario, plan_to_answer(plan)) == []


@pytest.mark.parametrize(
    "name", ["de-2024-01-16-36h-3cars", "de-2024-05-12-24h-raw-spot-negative-battery-2cars"]
)
def test_the_lp_is_never_worse_than_the_fallback(name: str) -> None:
    lp = pytest.importorskip("custom_components.smartload.planner.lp")
    path = next(d / f"{name}.json" for d in SCENARIO_DIRS if (d / f"{name}.json").exists())
    inputs = scenario_to_input(json.loads(path.read_text()))
    optimal = lp.plan(inputs)
    rules = fallback_plan(inputs, "comparison")
    assert optimal.status in (PlanStatus.OPTIMAL, PlanStatus.SHORTFALL)
    assert optimal.objective_eur <= rules.objective_eur + 1e-6


@pytest.mark.parametrize("seed", range(12))
def test_random_homes_get_physical_plans(seed: int, caplog: pytest.LogCaptureFixture) -> None:
    """Seeded random homes: prices crossing zero, PV, plug windows, tight wallbox and grid."""
    rng = np.random.default_rng(seed)
    n = int(rng.choice([24, 96, 192]))
    spot = rng.normal(0.08, 0.08, n)
    vehicles = tuple(
        VehicleInput(
            name=f"car{k}",
            capacity_kwh=float(rng.uniform(30, 90)),
            soc_kwh=float(rng.uniform(0, 25)),
            target_soc_kwh=float(rng.uniform(20, 60)),
            max_charge_kw=float(rng.choice([3.7, 7.4, 11.0])),
            plugged_from_slot=int(rng.integers(0, n // 2)),
            departure_slot=None if rng.random() < 0.3 else int(rng.integers(n // 2, n + 20)),
            priority=int(rng.integers(1, 4)),
            expected_use_kwh=float(rng.uniform(0, 10)),
        )
        for k in range(int(rng.integers(0, 4)))
    )
    bat = None
    if rng.random() < 0.8:
        bat = battery(
            soc=float(rng.uniform(1.0, 10.0)), end_soc_min_kwh=float(rng.choice([0.0, 4.0]))
        )
    inputs = PlanInput(
        start=START,
        import_price_eur_per_kwh=(spot + 0.165) * 1.19,
        export_price_eur_per_kwh=spot if rng.random() < 0.5 else np.full(n, 0.0796),
        load_kw=rng.uniform(0.2, 2.0, n),
        pv_kw=np.clip(rng.normal(2.0, 3.0, n), 0.0, None),
        wallbox_max_kw=float(rng.choice([7.4, 11.0, 22.0])),
        max_import_kw=float(rng.choice([math.inf, 17.0])),
        battery=bat,
        vehicles=vehicles,
    )
    plan = fallback_plan(inputs, f"seed {seed}")
    assert "Fallback rules failed" not in caplog.text  # the rules themselves worked
    assert_physical(inputs, plan)
    assert plan.message == f"seed {seed}"
    if bat is not None and bat.end_soc_min_kwh <= bat.soc_kwh:
        assert plan.battery_soc_kwh[-1] >= bat.end_soc_min_kwh - 1e-9
