"""Boost in the planner: full power now whatever the price, until the target or the expiry."""

from __future__ import annotations

import dataclasses

import numpy as np

from custom_components.smartload.planner import lp
from custom_components.smartload.planner.decision import decide
from custom_components.smartload.planner.explain import TEMPLATES, render
from custom_components.smartload.planner.fallback import fallback_plan
from custom_components.smartload.planner.model import LoadpointMode
from custom_components.smartload.planner.stability import situation_changed

from .test_lp import ZERO, car, home

DEAR_THEN_CHEAP = [0.50, 0.50, 0.10, 0.10, 0.10, 0.10, 0.10, 0.10]


def test_without_boost_the_car_waits_for_cheap_slots() -> None:
    v = car(soc_kwh=10.0, target_soc_kwh=12.0, capacity_kwh=20.0, departure_slot=8)
    plan = lp.plan(home(DEAR_THEN_CHEAP, vehicles=(v,)))
    assert np.allclose(plan.vehicles[0].charge_kw[:2], 0.0)


def test_boost_charges_full_power_now_until_its_target() -> None:
    v = car(soc_kwh=10.0, target_soc_kwh=12.0, capacity_kwh=20.0, departure_slot=8)
    boosted = dataclasses.replace(v, boost_until_slot=6, boost_target_kwh=13.5)
    inputs = home(DEAR_THEN_CHEAP, vehicles=(boosted,))
    plan = lp.plan(inputs)
    kw = plan.vehicles[0].charge_kw
    # 3.5 kWh at 4 kW (1 kWh a slot): three full slots and half of the fourth, in the dear ones too
    assert np.allclose(kw[:4], [4.0, 4.0, 4.0, 2.0], atol=1e-6)
    assert plan.vehicles[0].soc_kwh[3] >= 13.5 - 1e-6
    decision = decide(inputs, plan)
    assert decision.loadpoint_mode is LoadpointMode.NOW
    assert decision.active_vehicle == "Kia"
    assert plan.why[0].key == "car_boost"
    assert "boost" in render(plan.why[0], "en")
    assert "Boost" in render(plan.why[0], "de")
    assert set(TEMPLATES["en"]) == set(TEMPLATES["de"])


def test_boost_ends_at_its_expiry() -> None:
    v = car(soc_kwh=0.0, target_soc_kwh=2.0, capacity_kwh=20.0, departure_slot=8)
    boosted = dataclasses.replace(v, boost_until_slot=2)  # no target: until it expires
    plan = lp.plan(home(DEAR_THEN_CHEAP, vehicles=(boosted,)))
    kw = plan.vehicles[0].charge_kw
    assert np.allclose(kw[:2], 4.0)
    assert plan.vehicles[0].soc_kwh[1] >= 2.0 - 1e-6
    assert np.allclose(kw[2:], 0.0, atol=1e-6)  # target met by the boost: nothing more


def test_boost_in_pv_surplus_is_still_now_mode() -> None:
    v = car(soc_kwh=0.0, target_soc_kwh=2.0, capacity_kwh=20.0, departure_slot=8)
    boosted = dataclasses.replace(v, boost_until_slot=1)
    inputs = home(DEAR_THEN_CHEAP, pv=5.0, vehicles=(boosted,))
    plan = lp.plan(inputs)
    assert decide(inputs, plan).loadpoint_mode is LoadpointMode.NOW


def test_a_boosting_car_takes_the_wallbox_before_a_more_urgent_one() -> None:
    urgent = car(name="Zoe", soc_kwh=0.0, target_soc_kwh=4.0, capacity_kwh=20.0, departure_slot=4)
    other = car(name="Kia", soc_kwh=0.0, target_soc_kwh=1.0, capacity_kwh=20.0, departure_slot=8)
    boosted = dataclasses.replace(other, boost_until_slot=2)
    inputs = home(DEAR_THEN_CHEAP, vehicles=(urgent, boosted), wallbox_max_kw=4.0)
    plan = lp.plan(inputs)
    assert np.allclose(plan.vehicle("Kia").charge_kw[:2], 4.0)
    assert decide(inputs, plan).active_vehicle == "Kia"
    # the urgent car is short by what the boost took from it (reported, not infeasible)
    assert plan.vehicle("Zoe").shortfall_kwh > 0.5


def test_boost_respects_the_grid_limit() -> None:
    v = car(soc_kwh=0.0, target_soc_kwh=2.0, capacity_kwh=20.0, departure_slot=8)
    boosted = dataclasses.replace(v, boost_until_slot=2)
    plan = lp.plan(home(DEAR_THEN_CHEAP, load=1.0, vehicles=(boosted,), max_import_kw=3.0))
    assert plan.status.value in ("optimal", "shortfall")
    assert np.allclose(plan.vehicles[0].charge_kw[:2], 2.0, atol=1e-6)


def test_a_boost_is_a_new_situation_for_the_keep_rule() -> None:
    v = car(soc_kwh=10.0, target_soc_kwh=12.0, capacity_kwh=20.0, departure_slot=8)
    old = home(DEAR_THEN_CHEAP, vehicles=(v,))
    boosted = home(DEAR_THEN_CHEAP, vehicles=(dataclasses.replace(v, boost_until_slot=4),))
    shorter = home(DEAR_THEN_CHEAP, vehicles=(dataclasses.replace(v, boost_until_slot=3),))
    to_target = home(
        DEAR_THEN_CHEAP,
        vehicles=(dataclasses.replace(v, boost_until_slot=3, boost_target_kwh=15.0),),
    )
    assert situation_changed(old, boosted) == "boost"  # starts
    assert situation_changed(boosted, old) == "boost"  # ends
    assert situation_changed(boosted, shorter) is None  # runs on
    assert situation_changed(shorter, to_target) == "boost"  # another target


def test_boost_with_a_minimum_charging_block() -> None:
    v = car(soc_kwh=10.0, target_soc_kwh=12.0, capacity_kwh=20.0, departure_slot=8)
    boosted = dataclasses.replace(v, boost_until_slot=6, boost_target_kwh=13.5)
    settings = dataclasses.replace(ZERO, min_charge_block_minutes=60)
    plan = lp.plan(home(DEAR_THEN_CHEAP, vehicles=(boosted,), settings=settings))
    assert plan.status.value == "optimal"
    assert np.allclose(plan.vehicles[0].charge_kw[:3], 4.0, atol=1e-6)
    assert plan.vehicles[0].soc_kwh[3] >= 13.5 - 1e-6


def test_the_fallback_plan_boosts_too() -> None:
    v = car(soc_kwh=10.0, target_soc_kwh=12.0, capacity_kwh=20.0, departure_slot=8)
    plain = fallback_plan(home(DEAR_THEN_CHEAP, vehicles=(v,)), "test")
    assert np.allclose(plain.vehicles[0].charge_kw[:2], 0.0)  # waits for the cheap slots
    boosted = dataclasses.replace(v, boost_until_slot=6, boost_target_kwh=13.5)
    inputs = home(DEAR_THEN_CHEAP, vehicles=(boosted,))
    plan = fallback_plan(inputs, "test")
    assert plan.status.value == "fallback"
    kw = plan.vehicles[0].charge_kw
    assert np.allclose(kw[:4], [4.0, 4.0, 4.0, 2.0], atol=1e-6)
    assert np.all(kw >= -1e-9)
    assert decide(inputs, plan).loadpoint_mode is LoadpointMode.NOW
    assert plan.why[0].key == "car_boost"
