"""Benchmark scenarios (``../shared/bench/README.md``): read one, answer it, check an answer.

Scenario mode plans the horizon's grid cost alone: no terminal value, no wear cost, shortfall
penalised at 10 EUR/kWh, PV never curtailed (the answer format has no curtailment), so that
answers from different planners are comparable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
import math
from typing import Any

import numpy as np

from .model import BatteryInput, Plan, PlanInput, PlannerSettings, VehicleInput

# Tolerance of the benchmark's checks (kW, kWh, EUR).
CHECK_TOL = 1e-6
SCENARIO_SHORTFALL_PENALTY_EUR_PER_KWH = 10.0
ANSWER_STATUSES = ("optimal", "shortfall", "fallback", "error")


def _limit(value: float | None) -> float:
    return math.inf if value is None else float(value)


def scenario_to_input(scenario: Mapping[str, Any]) -> PlanInput:
    """The planner input for one scenario (scenario mode: terminal value 0, no wear cost)."""
    try:
        start = datetime.fromisoformat(scenario["start"]).astimezone(UTC)
        grid = scenario.get("grid") or {}
        battery = None
        if (b := scenario.get("battery")) is not None:
            battery = BatteryInput(
                capacity_kwh=float(b["capacity_kwh"]),
                soc_kwh=float(b["soc_kwh"]),
                min_soc_kwh=float(b.get("min_soc_kwh", 0.0)),
                max_soc_kwh=float(b.get("max_soc_kwh", b["capacity_kwh"])),
                max_charge_kw=float(b["max_charge_kw"]),
                max_discharge_kw=float(b["max_discharge_kw"]),
                charge_efficiency=float(b.get("charge_efficiency", 0.95)),
                discharge_efficiency=float(b.get("discharge_efficiency", 0.95)),
                end_soc_min_kwh=float(b.get("end_soc_min_kwh", 0.0)),
            )
        vehicles = tuple(
            VehicleInput(
                name=str(v["name"]),
                capacity_kwh=float(v["capacity_kwh"]),
                soc_kwh=float(v["soc_kwh"]),
                target_soc_kwh=float(v["target_soc_kwh"]),
                max_charge_kw=float(v["max_charge_kw"]),
                charge_efficiency=float(v.get("charge_efficiency", 0.9)),
                plugged_from_slot=int(v.get("plugged_from_slot", 0)),
                departure_slot=None
                if v.get("departure_slot") is None
                else int(v["departure_slot"]),
            )
            for v in scenario.get("vehicles") or ()
        )
        return PlanInput(
            start=start,
            slot_minutes=int(scenario.get("slot_minutes", 15)),
            import_price_eur_per_kwh=np.asarray(scenario["import_price"], dtype=np.float64),
            export_price_eur_per_kwh=np.asarray(scenario["export_price"], dtype=np.float64),
            load_kw=np.asarray(scenario["load_kw"], dtype=np.float64),
            pv_kw=np.asarray(scenario["pv_kw"], dtype=np.float64),
            max_import_kw=_limit(grid.get("max_import_kw")),
            max_export_kw=_limit(grid.get("max_export_kw")),
            wallbox_max_kw=_limit((scenario.get("wallbox") or {}).get("max_kw")),
            battery=battery,
            vehicles=vehicles,
            settings=PlannerSettings(
                shortfall_penalty_eur_per_kwh=SCENARIO_SHORTFALL_PENALTY_EUR_PER_KWH,
                terminal_value_eur_per_kwh=0.0,
                pv_curtailment_eur_per_kwh=None,  # the answer format has no curtailment
                min_charge_block_minutes=0.0,  # the objective is the grid cost alone
            ),
        )
    except (KeyError, TypeError) as err:
        raise ValueError(f"malformed scenario: {type(err).__name__}: {err}") from err


def _floats(values: Any) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64)]


def plan_to_answer(plan: Plan) -> dict[str, Any]:
    """The answer JSON (as a dict) for a plan, in the benchmark's format."""
    return {
        "status": str(plan.status),
        "cost_eur": float(plan.cost_eur),
        "solve_ms": float(plan.solve_ms),
        "grid_import_kw": _floats(plan.grid_import_kw),
        "grid_export_kw": _floats(plan.grid_export_kw),
        "battery_charge_kw": _floats(plan.battery_charge_kw),
        "battery_discharge_kw": _floats(plan.battery_discharge_kw),
        "battery_soc_kwh": _floats(plan.battery_soc_kwh),
        "vehicles": {
            v.name: {
                "charge_kw": _floats(v.charge_kw),
                "soc_kwh": _floats(v.soc_kwh),
                "shortfall_kwh": float(v.shortfall_kwh),
            }
            for v in plan.vehicles
        },
    }


def _series(answer: Mapping[str, Any], key: str, n: int, errors: list[str]) -> np.ndarray | None:
    values = answer.get(key)
    if values is None:
        errors.append(f"{key}: missing")
        return None
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (n,):
        errors.append(f"{key}: {arr.size} values, expected {n}")
        return None
    if not np.all(np.isfinite(arr)):
        errors.append(f"{key}: NaN or infinite values")
        return None
    return arr


def _slots(mask: np.ndarray) -> str:
    idx = np.flatnonzero(mask)
    shown = ", ".join(str(i) for i in idx[:8])
    return f"slots {shown}{', ...' if len(idx) > 8 else ''}"


def _bounded(name: str, arr: np.ndarray, lo: Any, hi: Any, errors: list[str]) -> None:
    below = arr < np.asarray(lo) - CHECK_TOL
    above = arr > np.asarray(hi) + CHECK_TOL
    if below.any():
        errors.append(f"{name} below its lower bound in {_slots(below)}")
    if above.any():
        errors.append(f"{name} above its upper bound in {_slots(above)}")


def _dynamics(
    name: str, soc: np.ndarray, soc0: float, delta: np.ndarray, errors: list[str]
) -> None:
    previous = np.concatenate([[soc0], soc[:-1]])
    bad = np.abs(soc - previous - delta) > CHECK_TOL
    if bad.any():
        errors.append(f"{name} does not follow its charge/discharge in {_slots(bad)}")


def check_answer(scenario: Mapping[str, Any], answer: Mapping[str, Any]) -> list[str]:
    """Violations of one answer against its scenario (empty: the answer is correct)."""
    errors: list[str] = []
    n = len(scenario["import_price"])
    dt = float(scenario.get("slot_minutes", 15)) / 60.0
    if answer.get("status") not in ANSWER_STATUSES:
        errors.append(f"status {answer.get('status')!r} is not one of {ANSWER_STATUSES}")
    p_in = np.asarray(scenario["import_price"], dtype=np.float64)
    p_out = np.asarray(scenario["export_price"], dtype=np.float64)
    load = np.asarray(scenario["load_kw"], dtype=np.float64)
    pv = np.asarray(scenario["pv_kw"], dtype=np.float64)
    flows = {
        key: _series(answer, key, n, errors)
        for key in (
            "grid_import_kw",
            "grid_export_kw",
            "battery_charge_kw",
            "battery_discharge_kw",
            "battery_soc_kwh",
        )
    }
    imp, exp = flows["grid_import_kw"], flows["grid_export_kw"]
    ch, dis, soc = (
        flows["battery_charge_kw"],
        flows["battery_discharge_kw"],
        flows["battery_soc_kwh"],
    )
    grid = scenario.get("grid") or {}
    if imp is not None and exp is not None:
        _bounded("grid_import_kw", imp, 0.0, _limit(grid.get("max_import_kw")), errors)
        _bounded("grid_export_kw", exp, 0.0, _limit(grid.get("max_export_kw")), errors)
        both = np.minimum(imp, exp) > CHECK_TOL
        if both.any():
            errors.append(f"simultaneous import and export in {_slots(both)}")
        cost = float(np.sum((imp * p_in - exp * p_out) * dt))
        if abs(cost - float(answer.get("cost_eur", math.nan))) > CHECK_TOL * max(1.0, abs(cost)):
            errors.append(f"cost_eur {answer.get('cost_eur')} but the flows cost {cost:.6f}")

    bat = scenario.get("battery")
    if ch is not None and dis is not None and soc is not None:
        if bat is None:
            if np.any(np.abs(np.concatenate([ch, dis])) > CHECK_TOL):
                errors.append("battery flows without a battery")
        else:
            eta_c = float(bat.get("charge_efficiency", 0.95))
            eta_d = float(bat.get("discharge_efficiency", 0.95))
            soc0 = float(bat["soc_kwh"])
            _bounded("battery_charge_kw", ch, 0.0, bat["max_charge_kw"], errors)
            _bounded("battery_discharge_kw", dis, 0.0, bat["max_discharge_kw"], errors)
            both = np.minimum(ch, dis) > CHECK_TOL
            if both.any():
                errors.append(f"battery charges and discharges at once in {_slots(both)}")
            _dynamics("battery_soc_kwh", soc, soc0, dt * (eta_c * ch - dis / eta_d), errors)
            # Bounds; a battery that starts outside them must not move further out.
            lo = min(float(bat.get("min_soc_kwh", 0.0)), soc0)
            hi = max(float(bat.get("max_soc_kwh", bat["capacity_kwh"])), soc0)
            _bounded("battery_soc_kwh", soc, lo, hi, errors)
            reach = soc0 + n * dt * float(bat["max_charge_kw"]) * eta_c
            end_min = min(float(bat.get("end_soc_min_kwh", 0.0)), reach, hi)
            if soc[-1] < end_min - CHECK_TOL:
                errors.append(f"battery ends at {soc[-1]:.6f} kWh, below {end_min} kWh")

    car_total = np.zeros(n)
    answered = answer.get("vehicles") or {}
    slots = np.arange(n)
    for v in scenario.get("vehicles") or ():
        name = v["name"]
        got = answered.get(name)
        if got is None:
            errors.append(f"vehicle {name}: missing from the answer")
            continue
        cc = _series(got, "charge_kw", n, errors)
        cs = _series(got, "soc_kwh", n, errors)
        if cc is None or cs is None:
            continue
        car_total += cc
        dep = v.get("departure_slot")
        end = n if dep is None else min(int(dep), n)
        window = (slots >= int(v.get("plugged_from_slot", 0))) & (slots < end)
        _bounded(
            f"vehicle {name} charge_kw", cc, 0.0, np.where(window, v["max_charge_kw"], 0.0), errors
        )
        eta = float(v.get("charge_efficiency", 0.9))
        _dynamics(f"vehicle {name} soc_kwh", cs, float(v["soc_kwh"]), dt * eta * cc, errors)
        _bounded(f"vehicle {name} soc_kwh", cs, 0.0, v["capacity_kwh"], errors)
        if dep is not None and int(dep) <= n:
            at_dep = float(cs[int(dep) - 1]) if int(dep) > 0 else float(v["soc_kwh"])
            missing = float(v["target_soc_kwh"]) - at_dep
            reported = float(got.get("shortfall_kwh", 0.0))
            if missing > CHECK_TOL and reported < missing - CHECK_TOL:
                errors.append(
                    f"vehicle {name}: {missing:.6f} kWh short of its target at departure, "
                    f"{reported:.6f} reported"
                )
            if missing > 1e-4 and answer.get("status") == "optimal":
                errors.append(f"vehicle {name} misses its target but the status is 'optimal'")
    wallbox = _limit((scenario.get("wallbox") or {}).get("max_kw"))
    over = car_total > wallbox + CHECK_TOL
    if over.any():
        errors.append(f"cars together exceed the wallbox's {wallbox} kW in {_slots(over)}")

    if imp is not None and exp is not None and ch is not None and dis is not None:
        residual = imp - exp + pv + dis - ch - load - car_total
        bad = np.abs(residual) > CHECK_TOL
        if bad.any():
            worst = float(np.max(np.abs(residual)))
            errors.append(f"energy balance off by up to {worst:.3g} kW in {_slots(bad)}")
    return errors


def check_answers(pairs: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> list[str]:
    """Violations over several (scenario, answer) pairs, each prefixed with the scenario name."""
    return [
        f"{scenario.get('name', '?')}: {error}"
        for scenario, answer in pairs
        for error in check_answer(scenario, answer)
    ]
