"""Explanations: constructed plans whose right reason is known, rendering, and real solved plans."""

from __future__ import annotations

from datetime import UTC, datetime
import json
from pathlib import Path
import string
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from custom_components.smartload.planner.explain import (
    ESTIMATE_NOTE,
    TEMPLATES,
    WHY_KEYS,
    explain,
    render,
)
from custom_components.smartload.planner.model import (
    BatteryInput,
    BatteryMode,
    Plan,
    PlanInput,
    PlanStatus,
    VehicleInput,
    VehiclePlan,
    Why,
)

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 1, 15, 16, 0, tzinfo=UTC)  # 17:00 in Berlin (winter, UTC+1)
# benchmark scenarios: the repo's copies (tests/fixtures/scenarios), else the shared originals
SCENARIO_DIRS = (
    Path(__file__).parent.parent / "fixtures" / "scenarios",
    Path("/work/shared/bench/scenarios"),
)


def scenario_path(name: str) -> Path:
    for folder in SCENARIO_DIRS:
        if (path := folder / f"{name}.json").exists():
            return path
    raise FileNotFoundError(name)


def battery(soc: float = 5.0) -> BatteryInput:
    return BatteryInput(
        capacity_kwh=10.0,
        soc_kwh=soc,
        min_soc_kwh=1.0,
        max_soc_kwh=10.0,
        max_charge_kw=5.0,
        max_discharge_kw=5.0,
    )


def make_inputs(
    price: list[float] | np.ndarray,
    *,
    load: float | list[float] = 1.0,
    pv: float | list[float] = 0.0,
    export: float = 0.079,
    bat: BatteryInput | None = None,
    vehicles: tuple[VehicleInput, ...] = (),
    estimated: np.ndarray | None = None,
    start: datetime = START,
) -> PlanInput:
    n = len(price)
    return PlanInput(
        start=start,
        import_price_eur_per_kwh=np.asarray(price, dtype=float),
        export_price_eur_per_kwh=np.full(n, export),
        load_kw=np.broadcast_to(np.asarray(load, dtype=float), (n,)).copy(),
        pv_kw=np.broadcast_to(np.asarray(pv, dtype=float), (n,)).copy(),
        battery=bat,
        vehicles=vehicles,
        price_estimated=estimated,
    )


def make_plan(
    inputs: PlanInput,
    *,
    charge: list[float] | np.ndarray | None = None,
    discharge: list[float] | np.ndarray | None = None,
    value: float | list[float] | np.ndarray = 0.0,
    cars: dict[str, tuple[np.ndarray, float]] | None = None,
    status: PlanStatus = PlanStatus.OPTIMAL,
) -> Plan:
    """A plan built by hand: flows given, grid and SoC from the balance and the dynamics."""
    n = inputs.n_slots
    dt = inputs.dt_h
    bc = np.zeros(n) if charge is None else np.asarray(charge, dtype=float)
    bd = np.zeros(n) if discharge is None else np.asarray(discharge, dtype=float)
    b = inputs.battery
    soc = (
        b.soc_kwh + np.cumsum((bc * b.charge_efficiency - bd / b.discharge_efficiency) * dt)
        if b is not None
        else np.zeros(n)
    )
    vplans = []
    car_total = np.zeros(n)
    for v in inputs.vehicles:
        kw, value_v = (cars or {}).get(v.name, (np.zeros(n), 0.0))
        kw = np.asarray(kw, dtype=float)
        car_total += kw
        vsoc = v.soc_kwh + np.cumsum(kw * v.charge_efficiency * dt)
        dep = v.departure_slot
        at_dep = float(vsoc[dep - 1]) if dep is not None and 0 < dep <= n else None
        short = max(v.target_soc_kwh - at_dep, 0.0) if at_dep is not None else 0.0
        vplans.append(
            VehiclePlan(
                name=v.name,
                charge_kw=kw,
                soc_kwh=vsoc,
                shortfall_kwh=short if short > 1e-6 else 0.0,
                soc_at_departure_kwh=at_dep,
                price_limit_eur_per_kwh=None,
                value_eur_per_kwh=np.full(n, value_v),
            )
        )
    net = inputs.load_kw + bc + car_total - inputs.pv_kw - bd
    imp, exp = np.maximum(net, 0.0), np.maximum(-net, 0.0)
    return Plan(
        status=status,
        start=inputs.start,
        slot_minutes=inputs.slot_minutes,
        grid_import_kw=imp,
        grid_export_kw=exp,
        battery_charge_kw=bc,
        battery_discharge_kw=bd,
        battery_soc_kwh=soc,
        battery_mode=(BatteryMode.NORMAL,) * n,
        battery_price_limit_eur_per_kwh=None,
        battery_value_eur_per_kwh=np.broadcast_to(np.asarray(value, dtype=float), (n,)).copy(),
        vehicles=tuple(vplans),
        cost_eur=float(np.sum(imp * inputs.import_price_eur_per_kwh - exp * 0.079) * inputs.dt_h),
        objective_eur=0.0,
        solve_ms=0.0,
        why=(),
        price_estimated=(
            np.zeros(n, dtype=bool)
            if inputs.price_estimated is None
            else np.asarray(inputs.price_estimated, dtype=bool)
        ),
    )


def texts(why: Why) -> tuple[str, str]:
    return render(why, "en", BERLIN), render(why, "de", BERLIN)


# ------------------------------------------------------------------------ constructed cases


def test_grid_charging_below_the_value_of_stored_energy() -> None:
    """Cheap slots charge for the evening peak: the reason names price, value and the peak."""
    price = [0.098, 0.098, 0.30, 0.30, 0.38, 0.38, 0.30, 0.30]
    inputs = make_inputs(price, bat=battery(soc=2.0))
    plan = make_plan(
        inputs,
        charge=[4, 4, 0, 0, 0, 0, 0, 0],
        discharge=[0, 0, 0, 0, 1, 1, 0, 0],
        value=0.214,
    )
    whys = explain(inputs, plan)
    assert len(whys) == 8
    assert whys[0].key == "battery_charge_grid"
    assert whys[0].params["price_ct"] == pytest.approx(9.8)
    assert whys[0].params["value_ct"] == pytest.approx(21.4)
    assert whys[0].params["use_time"] == "2026-01-15T17:00:00+00:00"
    en, de = texts(whys[0])
    assert en.startswith("Charging the battery: 9.8 ct/kWh is below the 21.4 ct/kWh")
    assert "around 18:00 (38.0 ct/kWh then)" in en
    assert de.startswith("Batterie lädt aus dem Netz: 9,8 ct/kWh liegen unter den 21,4 ct/kWh")
    assert "gegen 18:00 Uhr (dann 38,0 ct/kWh)" in de
    assert whys[4].key == "battery_discharge"
    assert "saves 36.1 ct/kWh now (import at 38.0 ct/kWh)" in render(whys[4], "en")


def test_holding_the_battery_for_the_evening_peak() -> None:
    price = [0.25, 0.25, 0.25, 0.25, 0.38, 0.38, 0.38, 0.38]
    inputs = make_inputs(price, bat=battery(soc=4.0))
    plan = make_plan(inputs, discharge=[0, 0, 0, 0, 1, 1, 1, 1], value=0.33)
    whys = explain(inputs, plan)
    assert [w.key for w in whys[:4]] == ["battery_hold"] * 4
    assert whys[0].params["peak_price_ct"] == pytest.approx(38.0)
    en, de = texts(whys[0])
    assert en == (
        "Holding the battery: the peak at 18:00 at 38.0 ct/kWh is worth more than 25.0 ct/kWh now"
    )
    assert de == (
        "Batterie hält ihre Ladung zurück: die Spitze um 18:00 Uhr mit 38,0 ct/kWh ist mehr wert "
        "als 25,0 ct/kWh jetzt"
    )
    assert {w.key for w in whys[4:]} == {"battery_discharge"}


def test_holding_without_a_later_discharge_compares_value_and_saving() -> None:
    """Held to the horizon's end: the text compares the saving after losses, not the price."""
    inputs = make_inputs([0.317] * 4, bat=battery(soc=6.0))
    plan = make_plan(inputs, value=0.302)
    why = explain(inputs, plan)[0]
    assert why.key == "battery_hold_end"
    en = render(why, "en")
    assert "worth 30.2 ct/kWh later, more than the 30.1 ct/kWh it would save now" in en
    assert "(at 31.7 ct/kWh, after losses)" in en


def car(
    name: str = "Kia",
    *,
    soc: float = 43.6,
    target: float = 61.6,
    departure: int | None = 24,
    plugged_from: int = 0,
    priority: int = 3,
    capacity: float = 77.0,
) -> VehicleInput:
    return VehicleInput(
        name=name,
        capacity_kwh=capacity,
        soc_kwh=soc,
        target_soc_kwh=target,
        max_charge_kw=11.0,
        plugged_from_slot=plugged_from,
        departure_slot=departure,
        priority=priority,
    )


NIGHT = datetime(2026, 1, 15, 0, 0, tzinfo=UTC)  # 01:00 Berlin; slot 24 = 07:00 Berlin


def test_car_charges_in_the_cheapest_slots_before_departure() -> None:
    price = np.array([0.35] * 8 + [0.20] * 16)
    kw = np.zeros(24)
    kw[8:19] = 7.4  # 11 slots x 7.4 kW x 0.25 h x 0.9 = 18.3 kWh
    inputs = make_inputs(price, vehicles=(car(),), start=NIGHT)
    plan = make_plan(inputs, cars={"Kia": (kw, 0.30)})
    whys = explain(inputs, plan)
    w = whys[8]
    assert w.key == "car_charge_grid"
    assert w.params["needed_kwh"] == pytest.approx(18.0)
    assert w.params["departure"] == "2026-01-15T06:00:00+00:00"
    en, de = texts(w)
    assert en == (
        "Kia at 7.4 kW: needs 18 kWh more before 07:00 and these are the cheapest remaining "
        "slots (20.0 ct/kWh)"
    )
    assert de.startswith("Kia lädt mit 7,4 kW: braucht bis 07:00 Uhr noch 18 kWh")
    # before the cheap slots the car waits for them
    assert whys[0].key == "car_wait"
    en0, de0 = texts(whys[0])
    assert "Kia waits: 35.0 ct/kWh now; it charges from 03:00 at 20.0 ct/kWh" in en0
    assert "ab 03:00 Uhr wird für 20,0 ct/kWh geladen" in de0
    # after the target is reached nothing is left to explain about the car
    assert whys[20].key == "idle"


def test_car_charging_with_cheaper_capacity_left_says_the_cheaper_slots_are_not_enough() -> None:
    price = np.array([0.30] * 12 + [0.20] * 12)
    kw = np.zeros(24)
    kw[0:4] = 11.0
    kw[12:24] = 5.0  # cheaper slots with spare wallbox power left
    inputs = make_inputs(price, vehicles=(car(soc=40.0),), start=NIGHT)
    whys = explain(inputs, make_plan(inputs, cars={"Kia": (kw, 0.3)}))
    assert whys[0].key == "car_charge_deadline"
    assert whys[12].key == "car_charge_grid"
    assert "cannot deliver it" in render(whys[0], "en")


def test_car_without_deadline_charges_below_its_value() -> None:
    kw = np.array([7.4, 0.0, 0.0, 0.0])
    inputs = make_inputs([0.10, 0.30, 0.30, 0.30], vehicles=(car(departure=None, target=40.0),))
    why = explain(inputs, make_plan(inputs, cars={"Kia": (kw, 0.22)}))[0]
    assert why.key == "car_charge_value"
    assert render(why, "en") == (
        "Kia at 7.4 kW: 10.0 ct/kWh is below the 22.0 ct/kWh that a kWh in the car is worth later"
    )


def test_car_without_deadline_waits_while_the_price_is_above_its_value() -> None:
    kw = np.array([0.0, 0.0, 7.4, 0.0])
    inputs = make_inputs([0.32, 0.21, 0.10, 0.32], vehicles=(car(departure=None, target=40.0),))
    whys = explain(inputs, make_plan(inputs, cars={"Kia": (kw, 0.22)}))
    # 22 ct/kWh in the car is worth 19.8 ct/kWh from the grid (90 % charging efficiency)
    assert [w.key for w in whys] == [
        "car_wait_value",
        "car_wait_value",
        "car_charge_value",
        "car_wait_value",
    ]
    assert render(whys[0], "en") == (
        "Kia waits: 32.0 ct/kWh is above the 19.8 ct/kWh that a kWh charged now is worth in the car"
    )
    assert render(whys[1], "de").startswith("Kia wartet: 21,0 ct/kWh liegen über den 19,8 ct/kWh")


def test_without_duals_the_value_is_what_the_next_discharge_saves() -> None:
    price = [0.10, 0.30, 0.38, 0.38]
    inputs = make_inputs(price, bat=battery(soc=2.0))
    plan = make_plan(inputs, charge=[4, 0, 0, 0], discharge=[0, 0, 1, 1], value=0.0)
    whys = explain(inputs, plan)
    assert whys[0].key == "battery_charge_grid"
    assert whys[0].params["value_ct"] == pytest.approx(0.95 * 38.0)
    assert whys[1].key == "battery_hold"


def test_pv_surplus_into_battery_and_car() -> None:
    pv = [5.0, 5.0, 5.0, 0.0]
    inputs = make_inputs([0.30] * 4, pv=pv, bat=battery(soc=3.0), vehicles=(car(departure=None),))
    kw = np.array([0.0, 3.7, 0.0, 0.0])
    plan = make_plan(inputs, charge=[3.0, 0.0, 0.0, 0.0], value=0.25, cars={"Kia": (kw, 0.2)})
    whys = explain(inputs, plan)
    assert whys[0].key == "battery_charge_pv"
    en, de = texts(whys[0])
    assert en == (
        "Storing 3.0 kW of PV surplus in the battery: a stored kWh is worth 25.0 ct/kWh, "
        "feeding in pays 7.9 ct/kWh"
    )
    assert de.startswith("PV-Überschuss von 3,0 kW geht in die Batterie")
    assert whys[1].key == "car_charge_pv"
    assert texts(whys[1])[0] == (
        "Kia at 3.7 kW from PV surplus: feeding it in would pay only 7.9 ct/kWh"
    )
    assert whys[2].key == "export_surplus"
    assert whys[2].params["export_kw"] == pytest.approx(4.0)
    assert "4,0 kW Überschuss werden für 7,9 ct/kWh eingespeist" in texts(whys[2])[1]


def test_shortfall_dominates_while_the_car_is_plugged_in() -> None:
    kw = np.full(24, 11.0)
    # 24 x 11 x 0.25 x 0.9 = 59.4 kWh: from 0 the Kia reaches 59.4 of 77 kWh
    inputs = make_inputs([0.30] * 24, vehicles=(car(soc=-11.66, target=61.6),), start=NIGHT)
    whys = explain(inputs, make_plan(inputs, cars={"Kia": (kw, 10.0)}))
    assert {w.key for w in whys} == {"car_shortfall"}
    en, de = texts(whys[0])
    assert en.startswith("Kia will reach only 62 % by 07:00 (target 80 %")
    assert de.startswith("Kia erreicht bis 07:00 Uhr nur 62 % (Ziel 80 %")


def test_estimated_prices_are_flagged() -> None:
    est = np.array([False, False, True, True])
    inputs = make_inputs([0.30, 0.30, 0.28, 0.28], bat=battery(soc=1.0), estimated=est)
    plan = make_plan(inputs, discharge=[0.0, 0.0, 0.0, 0.0])
    whys = explain(inputs, plan)
    # the battery is empty: an action reason keeps its key and gets the note
    assert whys[2].key == "battery_empty"
    assert whys[2].params["estimated"] == 1.0
    assert render(whys[2], "en").endswith(ESTIMATE_NOTE["en"])
    assert render(whys[2], "de").endswith(ESTIMATE_NOTE["de"])
    assert "estimated" not in whys[0].params
    # nothing to do in an estimated slot: the reason is the estimate itself
    idle_inputs = make_inputs([0.30, 0.28], pv=1.0, estimated=np.array([False, True]))
    idle = explain(idle_inputs, make_plan(idle_inputs))
    assert [w.key for w in idle] == ["idle", "price_estimated"]
    assert render(idle[1], "de").startswith("Nichts geplant: 28,0 ct/kWh sind nur geschätzt")


def test_negative_price_and_export_from_battery() -> None:
    inputs = make_inputs([-0.02, 0.30, 0.30], export=0.45, bat=battery(soc=5.0))
    plan = make_plan(inputs, charge=[4.0, 0.0, 0.0], discharge=[0.0, 3.0, 0.0], value=0.2)
    whys = explain(inputs, plan)
    assert whys[0].key == "battery_charge_negative"
    assert render(whys[0], "de") == (
        "Batterie lädt aus dem Netz: der Strompreis ist negativ (-2,0 ct/kWh)"
    )
    assert whys[1].key == "battery_export"
    assert "feeding in pays 45.0 ct/kWh" in render(whys[1], "en")


def test_fallback_plans_say_so() -> None:
    inputs = make_inputs(
        [0.10, 0.30, 0.30, 0.30], bat=battery(soc=2.0), vehicles=(car(target=45.0, departure=4),)
    )
    kw = np.array([0.0, 7.4, 0.0, 0.0])
    plan = make_plan(
        inputs, charge=[4, 0, 0, 0], cars={"Kia": (kw, 0.0)}, status=PlanStatus.FALLBACK
    )
    whys = explain(inputs, plan)
    assert [w.key for w in whys] == [
        "fallback_battery_charge",
        "fallback_car_charge",
        "fallback",
        "fallback",
    ]
    assert render(whys[0], "en").startswith("Fallback plan: charging the battery at 10.0 ct/kWh")
    assert render(whys[2], "de").startswith("Ersatzplan (Optimierer nicht verfügbar)")


def test_two_cars_name_the_one_charging_and_the_priority_one_waiting() -> None:
    price = np.array([0.35] * 4 + [0.20] * 20)
    kia, zoe = car("Kia", priority=2), car("Zoe", soc=20.0, target=41.6, capacity=52.0, priority=1)
    inputs = make_inputs(price, vehicles=(kia, zoe), start=NIGHT)
    kia_kw, zoe_kw = np.zeros(24), np.zeros(24)
    kia_kw[4:10], zoe_kw[4:10] = 4.0, 7.0
    kia_kw[10:16] = 11.0
    zoe_kw[16:24] = 11.0
    plan = make_plan(inputs, cars={"Kia": (kia_kw, 0.3), "Zoe": (zoe_kw, 0.3)})
    whys = explain(inputs, plan)
    assert whys[0].key == "car_wait"
    assert whys[0].params["vehicle"] == "Zoe"  # priority 1
    assert whys[4].params["vehicle"] == "Zoe"  # the higher power
    assert whys[12].params["vehicle"] == "Kia"


# ------------------------------------------------------------------------------ rendering


def placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


SAMPLE: dict[str, str | float] = {
    "vehicle": "Kia",
    "departure": "2026-01-15T06:00:00+00:00",
    "use_time": "2026-01-15T17:00:00+00:00",
    "peak_time": "2026-01-15T17:30:00+00:00",
    "next_time": "2026-01-15T02:00:00+00:00",
}


@pytest.mark.parametrize("key", WHY_KEYS)
@pytest.mark.parametrize("lang", ["en", "de"])
def test_every_key_renders_in_both_languages(key: str, lang: str) -> None:
    assert placeholders(TEMPLATES["en"][key]) == placeholders(TEMPLATES["de"][key])
    params: dict[str, str | float] = {
        name: SAMPLE.get(name, 12.34) for name in placeholders(TEMPLATES[lang][key])
    }
    text = render(Why(key=key, params=params), lang, BERLIN)
    assert "{" not in text
    assert "?" not in text
    if any(name.endswith(("_ct", "_kw")) for name in params):
        assert ("12,3" if lang == "de" else "12.3") in text
    if "departure" in params:
        assert "07:00" in text


def test_render_formats_numbers_times_and_unknowns() -> None:
    why = Why(
        key="car_wait",
        params={
            "vehicle": "Zoe",
            "price_ct": -0.04,
            "needed_kwh": 7.25,
            "departure": "2026-07-01T05:00:00+00:00",
            "next_time": "2026-07-01T01:15:00+00:00",
            "next_price_ct": 12.0,
        },
    )
    assert render(why, "en") == (
        "Zoe waits: 0.0 ct/kWh now; it charges from 01:15 at 12.0 ct/kWh to get the 7.2 kWh it "
        "needs before 05:00"
    )
    # summer time in Berlin is UTC+2; German decimal comma
    assert "ab 03:15 Uhr wird für 12,0 ct/kWh geladen" in render(why, "de", BERLIN)
    assert render(why, "fr") == render(why, "en")
    assert render(Why(key="no_such_key"), "en") == "no_such_key"
    assert "?" in render(Why(key="idle"), "en")


def test_keys_are_the_same_in_both_languages() -> None:
    assert set(TEMPLATES["en"]) == set(TEMPLATES["de"]) == set(WHY_KEYS)
    assert set(ESTIMATE_NOTE) == set(TEMPLATES)


# ------------------------------------------------------------------------- real solved plans


def scenario_inputs(path: Path) -> PlanInput:
    sc = json.loads(path.read_text())
    b = sc.get("battery")
    return PlanInput(
        start=datetime.fromisoformat(sc["start"]).astimezone(UTC),
        slot_minutes=sc["slot_minutes"],
        import_price_eur_per_kwh=np.array(sc["import_price"], dtype=float),
        export_price_eur_per_kwh=np.array(sc["export_price"], dtype=float),
        load_kw=np.array(sc["load_kw"], dtype=float),
        pv_kw=np.array(sc["pv_kw"], dtype=float),
        max_import_kw=sc["grid"]["max_import_kw"],
        max_export_kw=sc["grid"]["max_export_kw"],
        wallbox_max_kw=sc["wallbox"]["max_kw"],
        battery=BatteryInput(**b) if b else None,
        vehicles=tuple(VehicleInput(**v) for v in sc["vehicles"]),
    )


@pytest.mark.parametrize(
    "name",
    [
        "de-2024-01-16-36h-3cars",
        "de-2024-08-04-48h-2cars",
        "de-2024-05-12-24h-raw-spot-negative-battery-2cars",
    ],
)
def test_solved_plans_explain_their_flows(name: str) -> None:
    lp = pytest.importorskip("custom_components.smartload.planner.lp")
    inputs = scenario_inputs(scenario_path(name))
    plan = lp.plan(inputs)
    assert plan.status in (PlanStatus.OPTIMAL, PlanStatus.SHORTFALL)
    assert len(plan.why) == inputs.n_slots
    assert plan.why == explain(inputs, plan)
    cars = sum((v.charge_kw for v in plan.vehicles), np.zeros(inputs.n_slots))
    for t, why in enumerate(plan.why):
        assert why.key in WHY_KEYS
        for lang in ("en", "de"):
            assert "?" not in render(why, lang, BERLIN)
        if why.key.startswith("battery_charge"):
            assert plan.battery_charge_kw[t] > 0
        if why.key in {"battery_discharge", "battery_export"}:
            assert plan.battery_discharge_kw[t] > 0
        if why.key in {"battery_charge_grid", "battery_charge_grid_later"}:
            assert plan.grid_import_kw[t] > 0
            # the LP charges from the grid only below the value of the stored kWh
            assert why.params["price_ct"] <= why.params["value_ct"] + 0.01
        if why.key == "battery_hold":
            assert plan.battery_discharge_kw[t] == 0
            assert why.params["peak_price_ct"] > why.params["price_ct"]
        if why.key.startswith("car_charge"):
            assert cars[t] > 0
        if why.key == "export_surplus":
            assert plan.grid_export_kw[t] > 0
    keys = {w.key for w in plan.why}
    assert len(keys) >= 3  # a real day has more than one reason
