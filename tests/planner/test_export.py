"""The plan as plain data: export_plan, explain_at, PastLog and the apexcharts-card series."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
import json
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from custom_components.smartload.planner.explain import render
from custom_components.smartload.planner.export import (
    PastLog,
    apex_series,
    explain_at,
    export_plan,
    slug,
    window,
)
from custom_components.smartload.planner.lp import plan as solve
from custom_components.smartload.planner.model import BatteryInput, PlanInput, VehicleInput

START = datetime(2026, 5, 11, 22, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
N = 32  # 8 h


def make_inputs(start: datetime = START, soc_kwh: float = 5.0, car_soc_kwh: float = 20.0):
    t = np.arange(N)
    price = np.where(t < 12, 0.10, 0.35) + 0.001 * t  # cheap first 3 h
    pv = np.where((t > 20) & (t < 30), 3.0, 0.0)
    return PlanInput(
        start=start,
        import_price_eur_per_kwh=price,
        export_price_eur_per_kwh=np.full(N, 0.08),
        load_kw=np.full(N, 0.6),
        pv_kw=pv,
        pv_p10_kw=pv * 0.5,
        pv_p90_kw=pv * 1.3,
        battery=BatteryInput(
            capacity_kwh=10.0,
            soc_kwh=soc_kwh,
            min_soc_kwh=2.0,
            max_soc_kwh=10.0,
            max_charge_kw=5.0,
            max_discharge_kw=5.0,
        ),
        vehicles=(
            VehicleInput(
                name="Model 3",
                capacity_kwh=60.0,
                soc_kwh=car_soc_kwh,
                target_soc_kwh=48.0,
                max_charge_kw=11.0,
                plugged_from_slot=2,
                departure_slot=20,
            ),
        ),
        price_estimated=t >= 28,
    )


@pytest.fixture(scope="module")
def solved() -> tuple[PlanInput, object]:
    inputs = make_inputs()
    return inputs, solve(inputs)


def test_every_slot_carries_prices_flows_socs_and_the_why(solved) -> None:
    """One entry per slot, the numbers from the plan and inputs, the why in en and de."""
    inputs, plan = solved
    doc = export_plan(inputs, plan, lang="de", tz=BERLIN, configured_min_soc_kwh=3.0)
    json.dumps(doc, allow_nan=False)  # plain JSON, no NaN
    assert doc["status"] == plan.status.value
    assert doc["start"] == "2026-05-11T22:00:00+00:00"
    assert doc["end"] == "2026-05-12T06:00:00+00:00"
    slots = doc["slots"]
    assert len(slots) == N
    for t, slot in enumerate(slots):
        assert slot["start"] == (START + timedelta(minutes=15 * t)).isoformat()
        assert slot["end"] == (START + timedelta(minutes=15 * (t + 1))).isoformat()
        assert slot["import_price"] == pytest.approx(inputs.import_price_eur_per_kwh[t], abs=1e-4)
        assert slot["price_estimated"] is bool(t >= 28)
        assert slot["battery"]["soc_pct"] == pytest.approx(10 * plan.battery_soc_kwh[t], abs=0.05)
        assert slot["battery"]["mode"] == plan.battery_mode[t].value
        assert slot["why"]["key"] == plan.why[t].key
        assert slot["why"]["text"] == render(plan.why[t], "de", BERLIN)
    assert slots[24]["pv_kw"] == 3.0
    assert slots[24]["pv_p10_kw"] == 1.5
    assert slots[24]["pv_p90_kw"] == 3.9
    assert doc["battery"]["min_soc_pct"] == 20.0
    assert doc["battery"]["configured_min_soc_pct"] == 30.0
    assert doc["battery"]["soc_pct"] == 50.0

    car = doc["vehicles"][0]
    assert car["name"] == "Model 3"
    assert car["target_soc_pct"] == 80.0
    assert car["departure"] == "2026-05-12T03:00:00+00:00"  # slot 20
    assert car["plugged_from"] == "2026-05-11T22:30:00+00:00"
    vplan = plan.vehicle("Model 3")
    assert car["soc_at_departure_pct"] == pytest.approx(
        100 * vplan.soc_at_departure_kwh / 60, abs=0.05
    )
    # the car's SoC only while it is there: from its plug-in to its departure
    in_slot = [s["vehicles"]["Model 3"] for s in slots]
    assert [c["plugged"] for c in in_slot] == [2 <= t < 20 for t in range(N)]
    assert in_slot[1]["soc_pct"] is None and in_slot[20]["soc_pct"] is None
    assert in_slot[19]["soc_pct"] == pytest.approx(100 * vplan.soc_kwh[19] / 60, abs=0.05)
    assert sum(c["charge_kw"] for c in in_slot) == pytest.approx(
        float(vplan.charge_kw.sum()), abs=0.01
    )
    # the cheap slots charge the car: the plan gets it to its target
    assert car["soc_at_departure_pct"] >= 79.9


def test_english_and_german_texts_differ(solved) -> None:
    inputs, plan = solved
    en = export_plan(inputs, plan, lang="en", tz=BERLIN)["slots"][0]["why"]
    de = export_plan(inputs, plan, lang="de", tz=BERLIN)["slots"][0]["why"]
    assert en["key"] == de["key"] and en["params"] == de["params"]
    assert en["text"] != de["text"]


def test_a_time_range_selects_the_overlapping_slots(solved) -> None:
    inputs, plan = solved
    doc = export_plan(
        inputs, plan, start=START + timedelta(minutes=40), end=START + timedelta(hours=2)
    )
    starts = [s["start"] for s in doc["slots"]]
    assert starts[0] == (START + timedelta(minutes=30)).isoformat()  # 22:30 covers 22:40
    assert starts[-1] == (START + timedelta(minutes=105)).isoformat()
    assert len(starts) == 6
    assert export_plan(inputs, plan, start=START + timedelta(days=2))["slots"] == []
    assert len(export_plan(inputs, plan, end=START - timedelta(hours=1))["slots"]) == 0


def test_explain_at_finds_the_slot_containing_a_time(solved) -> None:
    inputs, plan = solved
    slot = explain_at(inputs, plan, START + timedelta(minutes=47), lang="en", tz=BERLIN)
    assert slot is not None
    assert slot["start"] == (START + timedelta(minutes=45)).isoformat()
    assert slot["why"]["text"] == render(plan.why[3], "en", BERLIN)
    assert explain_at(inputs, plan, START - timedelta(seconds=1)) is None
    assert explain_at(inputs, plan, START + timedelta(hours=8)) is None


def test_past_log_keeps_measured_beside_planned_one_record_per_slot() -> None:
    log = PastLog(hours=1)
    first = make_inputs()
    first_plan = solve(first)
    log.observe(first, first_plan, load_kw=0.55, pv_kw=None)
    # the next slot: the battery measured a little below what the plan expected
    nxt = START + timedelta(minutes=15)
    second = make_inputs(start=nxt, soc_kwh=float(first_plan.battery_soc_kwh[0]) - 0.5)
    second_plan = solve(second)
    log.observe(second, second_plan, load_kw=0.7, pv_kw=0.0)
    # a re-plan later in the same slot (another measurement) keeps the slot's first record
    log.observe(make_inputs(start=nxt, soc_kwh=1.0), second_plan, load_kw=5.0)

    records = log.slots()
    assert [r.start for r in records] == [START, nxt]
    r0, r1 = records
    assert r0.battery_soc_pct == 50.0 and r0.planned_battery_soc_pct is None
    assert r0.load_kw == 0.55 and r0.pv_kw is None
    assert r1.battery_soc_pct == pytest.approx(10 * first_plan.battery_soc_kwh[0] - 5, abs=0.05)
    assert r1.planned_battery_soc_pct == pytest.approx(10 * first_plan.battery_soc_kwh[0], abs=0.05)
    assert r1.load_kw == 0.7 and r1.planned_load_kw == 0.6
    assert r1.battery_mode == second_plan.battery_mode[0].value
    # the car is not plugged in yet in either slot: no measured SoC, no power
    assert r1.vehicles[0].soc_pct is None and r1.vehicles[0].charge_kw == 0.0
    json.dumps([r.as_dict() for r in records], allow_nan=False)

    # after an hour, the first slots are forgotten
    later = START + timedelta(hours=1, minutes=15)
    log.observe(make_inputs(start=later), None)
    assert [r.start for r in log.slots()] == [later]
    assert log.slots()[0].battery_mode is None  # no plan in that cycle


def test_past_records_go_into_the_export(solved) -> None:
    inputs, plan = solved
    log = PastLog()
    log.observe(inputs, plan, load_kw=0.5)
    doc = export_plan(inputs, plan, past=log.slots())
    assert doc["past"][0]["start"] == START.isoformat()
    assert doc["past"][0]["battery_soc_pct"] == 50.0


def data_generator(times: list[str], values: list) -> list[list[float | None]]:
    """What the README's data_generator does (attributes.times.map(...)) in Python."""
    return [[datetime.fromisoformat(t).timestamp() * 1000, values[i]] for i, t in enumerate(times)]


def test_apex_series_are_flat_lists_one_value_per_time(solved) -> None:
    """The shape apexcharts-card's data_generator needs: [timestamp ms, number][]."""
    inputs, plan = solved
    attrs = apex_series(inputs, plan)
    json.dumps(attrs, allow_nan=False)
    assert set(attrs) == {
        "times",
        "import_price",
        "export_price",
        "pv_kw",
        "load_kw",
        "grid_import_kw",
        "battery_soc",
        "battery_min_soc",
        "cars",
    }
    assert list(attrs["cars"]) == ["model_3"]
    car = attrs["cars"]["model_3"]
    assert car["name"] == "Model 3"
    series = {k: v for k, v in attrs.items() if k not in ("times", "cars")}
    series |= {"power": car["power_kw"], "soc": car["soc"]}
    for key, values in series.items():
        assert len(values) == N, key
        points = data_generator(attrs["times"], values)
        assert all(isinstance(x, float) and x % 900_000 == 0 for x, _ in points)
        assert all(y is None or isinstance(y, float) for _, y in points), key
    assert data_generator(attrs["times"], attrs["import_price"])[0] == [
        START.timestamp() * 1000,
        0.1,
    ]
    # the battery's SoC at each slot's start: now, then the plan's end-of-slot values
    assert attrs["battery_soc"][0] == 50.0
    assert attrs["battery_soc"][5] == pytest.approx(10 * plan.battery_soc_kwh[4], abs=0.05)
    power = car["power_kw"]
    assert power[:2] == [0.0, 0.0] and set(power[20:]) == {0.0}
    assert sum(power) == pytest.approx(float(plan.vehicle("Model 3").charge_kw.sum()), abs=0.01)
    soc = car["soc"]
    assert soc[1] is None and soc[2] == pytest.approx(100 * 20 / 60, abs=0.05)
    assert soc[20] == pytest.approx(
        100 * plan.vehicle("Model 3").soc_at_departure_kwh / 60, abs=0.05
    )
    assert soc[21] is None


def test_slugs_are_keys_and_unique() -> None:
    assert slug("Kia EV6 (2)") == "kia_ev6_2"
    assert slug("Zoë") == "zo"
    assert slug("!!!") == "car"
    inputs = make_inputs()
    twin = dataclasses.replace(inputs.vehicles[0], name="model 3")
    inputs = dataclasses.replace(inputs, vehicles=(inputs.vehicles[0], twin))
    cars = apex_series(inputs, solve(inputs))["cars"]
    assert {k: c["name"] for k, c in cars.items()} == {"model_3": "Model 3", "model_3_": "model 3"}


def test_window_slices_an_exported_document_like_the_export_itself(solved) -> None:
    inputs, plan = solved
    doc = export_plan(inputs, plan)
    for start, end in [
        (START + timedelta(minutes=40), START + timedelta(hours=2)),
        (None, START + timedelta(minutes=1)),
        (START + timedelta(hours=7, minutes=50), None),
        (START - timedelta(hours=3), START - timedelta(hours=1)),
        (START + timedelta(days=3), None),
    ]:
        assert window(doc, start, end) == export_plan(inputs, plan, start=start, end=end)
    assert window(doc) == doc
