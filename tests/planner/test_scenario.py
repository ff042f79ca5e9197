"""Benchmark scenarios: reading, answering, checking (and the bench command that does it)."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks import bench
from custom_components.smartload.planner.lp import plan
from custom_components.smartload.planner.model import PlannerSettings, PlanStatus
from custom_components.smartload.planner.scenario import (
    check_answer,
    plan_to_answer,
    scenario_to_input,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "scenarios"
SCENARIOS = sorted(FIXTURES.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def answered(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    scenario = load(FIXTURES / name)
    return scenario, plan_to_answer(plan(scenario_to_input(scenario)))


def test_fixtures_are_present() -> None:
    names = {p.name for p in SCENARIOS}
    assert "de-2024-05-12-24h-raw-spot-negative-battery-2cars.json" in names
    assert "de-2024-05-12-24h-negative-prices-battery-2cars.json" in names
    assert len(names) >= 5


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_fixture_scenario_passes_the_checks(path: Path) -> None:
    scenario = load(path)
    result = plan(scenario_to_input(scenario))
    answer = plan_to_answer(result)
    assert check_answer(scenario, answer) == []
    assert answer["status"] in ("optimal", "shortfall")
    assert json.loads(json.dumps(answer)) == answer  # plain JSON


def test_scenario_mode_input() -> None:
    scenario = load(FIXTURES / "de-2024-05-12-24h-raw-spot-negative-battery-2cars.json")
    inputs = scenario_to_input(scenario)
    assert inputs.settings.terminal_value_eur_per_kwh == 0.0
    assert inputs.settings.shortfall_penalty_eur_per_kwh == 10.0
    assert inputs.battery is not None
    assert inputs.battery.wear_cost_eur_per_kwh == 0.0
    assert inputs.battery.end_soc_min_kwh == scenario["battery"]["end_soc_min_kwh"]
    assert inputs.n_slots == len(scenario["import_price"])
    assert inputs.start.utcoffset() is not None
    assert inputs.start.utcoffset().total_seconds() == 0
    zoe = next(v for v in inputs.vehicles if v.name == "Zoe")
    assert zoe.departure_slot is None
    assert zoe.plugged_from_slot == 10


def test_answer_format() -> None:
    scenario, answer = answered("de-2024-08-04-48h-2cars.json")
    n = len(scenario["import_price"])
    assert set(answer) == {
        "status",
        "cost_eur",
        "solve_ms",
        "grid_import_kw",
        "grid_export_kw",
        "battery_charge_kw",
        "battery_discharge_kw",
        "battery_soc_kwh",
        "vehicles",
    }
    assert set(answer["vehicles"]) == {"Kia", "Zoe"}
    for key in ("grid_import_kw", "battery_soc_kwh"):
        assert len(answer[key]) == n
    assert set(answer["vehicles"]["Kia"]) == {"charge_kw", "soc_kwh", "shortfall_kwh"}


def test_shortfall_is_reported_in_the_answer() -> None:
    scenario = load(FIXTURES / "de-2024-08-04-48h-2cars.json")
    kia = scenario["vehicles"][0]
    kia["departure_slot"] = 10  # 9 slots at 11 kW x 0.9: 22 kWh, not the 50 kWh it needs
    kia["target_soc_kwh"] = kia["capacity_kwh"] * 0.85
    result = plan(scenario_to_input(scenario))
    answer = plan_to_answer(result)
    assert result.status is PlanStatus.SHORTFALL
    assert answer["status"] == "shortfall"
    assert answer["vehicles"]["Kia"]["shortfall_kwh"] > 1.0
    assert check_answer(scenario, answer) == []
    # the same answer without the reported shortfall is wrong
    hidden = copy.deepcopy(answer)
    hidden["vehicles"]["Kia"]["shortfall_kwh"] = 0.0
    assert any("short of its target" in e for e in check_answer(scenario, hidden))


def _tampered(answer: dict[str, Any], key: str, slot: int, delta: float) -> dict[str, Any]:
    out = copy.deepcopy(answer)
    out[key][slot] += delta
    return out


def test_check_answer_finds_violations() -> None:
    scenario, answer = answered("de-2024-05-12-24h-negative-prices-battery-2cars.json")
    assert check_answer(scenario, answer) == []
    # energy balance
    errors = check_answer(scenario, _tampered(answer, "grid_import_kw", 3, 1e-4))
    assert any("energy balance" in e for e in errors)
    # simultaneous import and export (balanced, so only that rule and the cost break)
    both = _tampered(_tampered(answer, "grid_import_kw", 5, 2.0), "grid_export_kw", 5, 2.0)
    assert any("simultaneous import and export" in e for e in check_answer(scenario, both))
    # simultaneous charge and discharge
    burn = _tampered(_tampered(answer, "battery_charge_kw", 7, 1.0), "battery_discharge_kw", 7, 1.0)
    assert any("charges and discharges at once" in e for e in check_answer(scenario, burn))
    # SoC out of bounds
    low = copy.deepcopy(answer)
    low["battery_soc_kwh"] = [0.0] * len(low["battery_soc_kwh"])
    errors = check_answer(scenario, low)
    assert any("battery_soc_kwh below" in e for e in errors)
    assert any("does not follow" in e for e in errors)
    # wallbox
    wall = copy.deepcopy(answer)
    for name in wall["vehicles"]:
        wall["vehicles"][name]["charge_kw"][12] = 7.0
    errors = check_answer(scenario, wall)
    assert any("exceed the wallbox" in e for e in errors)
    # wrong length and unknown status
    short = copy.deepcopy(answer)
    short["grid_export_kw"] = short["grid_export_kw"][:-1]
    short["status"] = "great"
    errors = check_answer(scenario, short)
    assert any("grid_export_kw: 95 values" in e for e in errors)
    assert any("status 'great'" in e for e in errors)
    # cost that does not match the flows
    cost = copy.deepcopy(answer)
    cost["cost_eur"] += 1.0
    assert any("cost_eur" in e for e in check_answer(scenario, cost))


def test_car_charging_outside_its_window_is_a_violation() -> None:
    scenario, answer = answered("de-2024-05-12-24h-negative-prices-battery-2cars.json")
    zoe = answer["vehicles"]["Zoe"]  # plugged in from slot 10
    zoe["charge_kw"][2] = 1.0
    errors = check_answer(scenario, answer)
    assert any("vehicle Zoe charge_kw above" in e for e in errors)


def test_malformed_scenario_is_a_value_error() -> None:
    scenario = load(FIXTURES / "de-2024-08-04-48h-2cars.json")
    del scenario["import_price"]
    with pytest.raises(ValueError, match="malformed scenario"):
        scenario_to_input(scenario)


def test_missing_limits_mean_unlimited() -> None:
    scenario = load(FIXTURES / "de-2024-02-27-48h-1cars-nobatt.json")
    scenario["grid"] = {"max_import_kw": None}
    inputs = scenario_to_input(scenario)
    assert math.isinf(inputs.max_import_kw)
    assert math.isinf(inputs.max_export_kw)
    assert inputs.battery is None


def test_bench_answers_and_checks_scenarios(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = FIXTURES / "de-2024-05-12-24h-raw-spot-negative-battery-2cars.json"
    assert bench.main(["--scenario", str(path)]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert check_answer(load(path), answer) == []
    assert answer["solve_ms"] > 0
    assert bench.main(["--check", *map(str, SCENARIOS)]) == 0
    # a scenario no planner can satisfy physically makes --check fail
    broken = load(path)
    broken["grid"] = {"max_import_kw": 0.0, "max_export_kw": 0.0}
    broken["battery"] = None
    broken["vehicles"] = []
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps(broken))
    assert bench.main(["--check", str(bad)]) == 1
    assert "broken.json" in capsys.readouterr().out


def test_bench_synthetic_inputs_are_deterministic() -> None:
    a = bench.synthetic_input(48, 3)
    b = bench.synthetic_input(48, 3)
    assert a.n_slots == 192
    assert len(a.vehicles) == 3
    np.testing.assert_array_equal(a.import_price_eur_per_kwh, b.import_price_eur_per_kwh)
    assert a.vehicles == b.vehicles
    assert plan(a).status is PlanStatus.OPTIMAL


def random_scenario(seed: int) -> dict[str, Any]:
    """A random but plausible home (negative prices, weak grids, odd windows included)."""
    rng = np.random.default_rng(seed)
    n = int(rng.choice([8, 24, 96, 192]))
    spot = rng.normal(0.08, 0.08, n) - (0.15 if rng.random() < 0.3 else 0.0)
    tariff = rng.random() < 0.5
    import_price = (spot + 0.165) * 1.19 if tariff else spot
    export_price = np.full(n, 0.0796) if tariff else spot
    battery = None
    if rng.random() < 0.8:
        cap = float(rng.uniform(3, 15))
        lo, hi = sorted(rng.uniform(0, cap, 2))
        battery = {
            "capacity_kwh": cap,
            "soc_kwh": float(rng.uniform(0, cap)),
            "min_soc_kwh": float(lo),
            "max_soc_kwh": float(hi),
            "max_charge_kw": float(rng.uniform(1, 6)),
            "max_discharge_kw": float(rng.uniform(1, 6)),
            "charge_efficiency": float(rng.uniform(0.85, 1.0)),
            "discharge_efficiency": float(rng.uniform(0.85, 1.0)),
            "end_soc_min_kwh": float(rng.uniform(0, hi)),
        }
    vehicles = []
    for k in range(int(rng.integers(0, 4))):
        cap = float(rng.uniform(30, 90))
        plugged = int(rng.integers(0, n))
        departure = None if rng.random() < 0.3 else int(rng.integers(0, n + 5))
        vehicles.append(
            {
                "name": f"car{k}",
                "capacity_kwh": cap,
                "soc_kwh": float(rng.uniform(0, cap)),
                "target_soc_kwh": float(rng.uniform(0, cap)),
                "max_charge_kw": float(rng.choice([3.7, 7.4, 11.0])),
                "charge_efficiency": 0.9,
                "plugged_from_slot": plugged,
                "departure_slot": departure,
            }
        )
    return {
        "name": f"random-{seed}",
        "start": "2024-06-01T00:00:00+02:00",
        "slot_minutes": 15,
        "import_price": import_price.tolist(),
        "export_price": export_price.tolist(),
        "load_kw": rng.uniform(0.1, 3.0, n).tolist(),
        "pv_kw": np.clip(rng.normal(2, 3, n), 0, None).tolist(),
        "grid": {"max_import_kw": 30.0, "max_export_kw": float(rng.choice([5.0, 10.0, 30.0]))},
        "battery": battery,
        "wallbox": {"max_kw": 11.0},
        "vehicles": vehicles,
    }


def _feasible_without_curtailment(scenario: dict[str, Any]) -> bool:
    surplus = np.asarray(scenario["pv_kw"]) - np.asarray(scenario["load_kw"])
    return bool(surplus.max() <= scenario["grid"]["max_export_kw"])


@pytest.mark.parametrize("seed", range(16))
def test_random_homes_give_correct_physical_answers(seed: int) -> None:
    """Scenario mode (no curtailment): correct answers wherever the export limit allows."""
    scenario = random_scenario(seed)
    result = plan(scenario_to_input(scenario))
    if result.status is PlanStatus.FALLBACK:
        # only where PV surplus beyond the export limit may have nowhere to go
        assert not _feasible_without_curtailment(scenario), result.message
        return
    assert check_answer(scenario, plan_to_answer(result)) == []


@pytest.mark.parametrize("seed", range(16))
def test_random_homes_in_product_mode(seed: int) -> None:
    """Derived terminal values and curtailment allowed: always a plan, always physical."""
    scenario = random_scenario(seed)
    inputs = dataclasses.replace(scenario_to_input(scenario), settings=PlannerSettings())
    result = plan(inputs)
    assert result.status in (PlanStatus.OPTIMAL, PlanStatus.SHORTFALL), result.message
    used = dict(scenario)
    if result.pv_curtailed_kw is not None:
        used["pv_kw"] = (np.asarray(scenario["pv_kw"]) - result.pv_curtailed_kw).tolist()
    assert check_answer(used, plan_to_answer(result)) == []
