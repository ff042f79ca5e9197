"""Plan stability in the core: no on/off chatter in the LP, the current slot fixed to a kept
decision, and the keep rule (planner.stability)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from custom_components.smartload.planner import lp
from custom_components.smartload.planner.decision import decide
from custom_components.smartload.planner.explain import render
from custom_components.smartload.planner.model import (
    BatteryInput,
    BatteryMode,
    FirstSlot,
    LoadpointMode,
    PlanInput,
    PlannerSettings,
    VehicleInput,
)
from custom_components.smartload.planner.stability import (
    KEPT,
    Applied,
    StabilitySettings,
    first_slot_of,
    same_actuation,
    situation_changed,
    stabilise,
)

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
NO_BLOCK = PlannerSettings(min_charge_block_minutes=0.0)


def car(**kwargs: object) -> VehicleInput:
    params: dict[str, object] = {
        "name": "Kia",
        "capacity_kwh": 77.0,
        "soc_kwh": 20.0,
        "target_soc_kwh": 40.0,
        "max_charge_kw": 11.0,
        "charge_efficiency": 0.9,
    } | kwargs
    return VehicleInput(**params)  # type: ignore[arg-type]


def home(
    prices: list[float],
    *,
    vehicles: tuple[VehicleInput, ...] = (),
    settings: PlannerSettings | None = None,
    battery: BatteryInput | None = None,
    load: float = 0.5,
    pv: list[float] | None = None,
    start: datetime = START,
) -> PlanInput:
    n = len(prices)
    return PlanInput(
        start=start,
        import_price_eur_per_kwh=np.asarray(prices, float),
        export_price_eur_per_kwh=np.full(n, 0.08),
        load_kw=np.full(n, load),
        pv_kw=np.zeros(n) if pv is None else np.asarray(pv, float),
        battery=battery,
        vehicles=vehicles,
        settings=settings or PlannerSettings(),
    )


def blocks(kw: np.ndarray) -> list[int]:
    """Lengths (slots) of the runs in which a car charges."""
    on = np.concatenate([[False], kw > 1e-3, [False]])
    edges = np.flatnonzero(np.diff(on.astype(int)))
    return [int(b - a) for a, b in zip(edges[::2], edges[1::2], strict=True)]


# A price pattern that tempts chatter: every other 15-min slot is 2 ct cheaper, and the car
# needs 8 of the 32 slots (19.8 kWh at 11 kW x 0.9) by its departure.
CHATTER = [0.20, 0.22] * 16
NEEDS_8_SLOTS = car(soc_kwh=20.0, target_soc_kwh=39.8, departure_slot=32)


def test_without_a_minimum_block_the_lp_chatters() -> None:
    """The plain LP takes the 8 cheap slots, each a 15-min block of its own."""
    result = lp.plan(home(CHATTER, vehicles=(NEEDS_8_SLOTS,), settings=NO_BLOCK))
    assert blocks(result.vehicles[0].charge_kw) == [1] * 8


def test_a_chatter_tempting_price_pattern_gives_no_short_blocks() -> None:
    result = lp.plan(home(CHATTER, vehicles=(NEEDS_8_SLOTS,)))
    kia = result.vehicles[0]
    assert min(blocks(kia.charge_kw)) >= 2  # no block shorter than the 30-min minimum
    on = np.concatenate([[True], kia.charge_kw > 1e-3, [True]])
    gaps = [len(run) for run in "".join("1" if x else "0" for x in on).split("1") if run]
    assert min(gaps) >= 2  # and no pause shorter than it either
    assert kia.shortfall_kwh == 0.0
    assert kia.soc_at_departure_kwh == pytest.approx(39.8, abs=1e-4)
    # the price of stability: at most the spread on the energy it moves
    plain = lp.plan(home(CHATTER, vehicles=(NEEDS_8_SLOTS,), settings=NO_BLOCK))
    assert plain.cost_eur < result.cost_eur <= plain.cost_eur + 8 * 0.02 * 11 * 0.25 + 1e-6


def test_a_longer_block_and_a_start_penalty_merge_blocks() -> None:
    hour = PlannerSettings(min_charge_block_minutes=60)
    assert lp.min_block_slots(home(CHATTER, settings=hour)) == 4
    assert (
        min(
            blocks(
                lp.plan(home(CHATTER, vehicles=(NEEDS_8_SLOTS,), settings=hour))
                .vehicles[0]
                .charge_kw
            )
        )
        >= 4
    )
    penalty = PlannerSettings(charge_start_penalty_eur_per_kw=0.05)
    merged = lp.plan(home(CHATTER, vehicles=(NEEDS_8_SLOTS,), settings=penalty))
    assert len(blocks(merged.vehicles[0].charge_kw)) == 1


def test_a_forced_short_block_is_still_allowed() -> None:
    """A car that leaves after one slot and needs the energy charges in that one slot."""
    leaving = car(soc_kwh=20.0, target_soc_kwh=22.0, departure_slot=1)
    result = lp.plan(home([0.40, 0.10, 0.10, 0.10], vehicles=(leaving,)))
    kia = result.vehicles[0]
    assert blocks(kia.charge_kw) == [1]
    assert kia.charge_kw[0] == pytest.approx(2.0 / (0.9 * 0.25), abs=1e-4)
    assert kia.shortfall_kwh == 0.0


def test_a_charge_that_stops_now_does_not_restart_in_the_next_slot() -> None:
    """The cheap slot comes right after now: a car not charging takes it (and the one after);
    a car charging now either goes on or, if it stops, stays off for the block."""
    prices = [0.30, 0.10, 0.10, 0.30, 0.30, 0.30]
    kia = car(soc_kwh=20.0, target_soc_kwh=22.475, departure_slot=6)  # one slot at 11 kW
    idle = lp.plan(home(prices, vehicles=(kia,))).vehicles[0].charge_kw
    assert idle[0] == pytest.approx(0.0, abs=1e-6)
    assert idle[1] > 1.0
    running = lp.plan(home(prices, vehicles=(dataclasses.replace(kia, charging_kw=11.0),)))
    kw = running.vehicles[0].charge_kw
    assert kw[1] <= kw[0] + 1e-6  # no stop now and restart in 15 min


def test_minimum_block_keeps_negative_price_days_physical() -> None:
    """Exclusivity still holds with the start penalty (negative prices tempt both)."""
    prices = [0.10, -0.05, -0.08, -0.05, 0.10, 0.30] * 4
    battery = BatteryInput(
        capacity_kwh=10.0,
        soc_kwh=5.0,
        min_soc_kwh=1.0,
        max_soc_kwh=10.0,
        max_charge_kw=5.0,
        max_discharge_kw=5.0,
    )
    pv = [0.0, 6.0, 8.0, 6.0, 0.0, 0.0] * 4
    result = lp.plan(home(prices, vehicles=(car(departure_slot=20),), battery=battery, pv=pv))
    assert np.all(np.minimum(result.grid_import_kw, result.grid_export_kw) <= 1e-6)
    assert np.all(np.minimum(result.battery_charge_kw, result.battery_discharge_kw) <= 1e-6)


def test_invalid_block_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="min_charge_block_minutes"):
        lp.validate(home(CHATTER, settings=PlannerSettings(min_charge_block_minutes=-1)))
    with pytest.raises(ValueError, match="charging_kw"):
        lp.validate(home(CHATTER, vehicles=(car(charging_kw=float("nan")),)))


# ------------------------------------------------------------------------ the fixed first slot


def test_first_slot_fixes_the_cars_power_and_the_battery_mode() -> None:
    battery = BatteryInput(
        capacity_kwh=10.0,
        soc_kwh=8.0,
        min_soc_kwh=1.0,
        max_soc_kwh=10.0,
        max_charge_kw=5.0,
        max_discharge_kw=5.0,
    )
    prices = [0.40, 0.10, 0.10, 0.10]
    kia = car(soc_kwh=20.0, target_soc_kwh=22.0, departure_slot=4)
    free = lp.plan(home(prices, vehicles=(kia,), battery=battery, load=2.0))
    assert free.vehicles[0].charge_kw[0] < 5.0
    assert free.battery_discharge_kw[0] > 1.0  # it discharges at 40 ct
    fixed = lp.plan(
        dataclasses.replace(
            home(prices, vehicles=(kia,), battery=battery, load=2.0),
            first_slot=FirstSlot(vehicle_kw=(("Kia", 11.0),), battery_mode=BatteryMode.HOLD),
        )
    )
    assert fixed.vehicles[0].charge_kw[0] == pytest.approx(11.0, abs=1e-6)
    assert fixed.battery_discharge_kw[0] == pytest.approx(0.0, abs=1e-6)
    assert fixed.objective_eur > free.objective_eur + 0.5  # 11 kW x 15 min x 30 ct dearer


def test_first_slot_never_overfills_a_car() -> None:
    """A kept 11 kW for a car with 1 kWh of room: the plan gives it only what fits."""
    nearly_full = car(soc_kwh=76.0, target_soc_kwh=70.0)
    fixed = lp.plan(
        dataclasses.replace(
            home([0.30] * 4, vehicles=(nearly_full,)),
            first_slot=FirstSlot(vehicle_kw=(("Kia", 11.0),)),
        )
    )
    assert fixed.vehicles[0].soc_kwh[-1] <= 77.0 + 1e-6
    assert fixed.vehicles[0].charge_kw[0] == pytest.approx(1.0 / (0.9 * 0.25), abs=1e-4)


def test_first_slot_of_a_decision_follows_evccs_modes() -> None:
    inputs = home([0.30, 0.30], vehicles=(car(),), pv=[4.5, 4.5], load=0.5)
    plan = lp.plan(inputs)
    now = dataclasses.replace(
        decide(inputs, plan),
        loadpoint_mode=LoadpointMode.NOW,
        active_vehicle="Kia",
        vehicle_charge_kw=7.0,
    )
    assert first_slot_of(inputs, now, min_charge_kw=1.4).vehicle_kw == (("Kia", 7.0),)
    pv = dataclasses.replace(now, loadpoint_mode=LoadpointMode.PV)
    assert first_slot_of(inputs, pv, min_charge_kw=1.4).vehicle_kw == (("Kia", 4.0),)
    cheap = dataclasses.replace(pv, smart_cost_limit_eur_per_kwh=0.35)
    assert first_slot_of(inputs, cheap, min_charge_kw=1.4).vehicle_kw == (("Kia", 11.0),)
    off = dataclasses.replace(now, loadpoint_mode=LoadpointMode.OFF)
    assert first_slot_of(inputs, off, min_charge_kw=1.4).vehicle_kw == ()


# ------------------------------------------------------------------------------ the keep rule


def _cycle(inputs: PlanInput):  # type: ignore[no-untyped-def]
    plan = lp.plan(inputs)
    return plan, decide(inputs, plan)


def test_a_tiny_gain_keeps_the_applied_decision() -> None:
    """Last cycle: charge now at 30.0 ct. Now a slot later is 0.1 ct cheaper: the new plan
    would stop and wait (saving cents), the keep rule keeps charging and says why."""
    need = car(soc_kwh=20.0, target_soc_kwh=22.475, departure_slot=8)  # one slot at 11 kW
    before = home([0.300] * 8, vehicles=(need,), settings=NO_BLOCK)
    _, applied = _cycle(before)
    assert applied.loadpoint_mode is LoadpointMode.NOW
    later = dataclasses.replace(before, import_price_eur_per_kwh=np.array([0.300] * 7 + [0.299]))
    plan, decision = _cycle(later)
    assert decision.loadpoint_mode is LoadpointMode.OFF  # the new plan waits for 29.9 ct
    out = stabilise(later, plan, decision, Applied(decision=applied, inputs=before), solve=lp.plan)
    assert out.kept
    assert out.gain_eur == pytest.approx(11 * 0.25 * 0.001, abs=1e-4)
    assert same_actuation(out.decision, applied)
    assert out.decision.why.key == KEPT
    assert out.plan.why[0].key == KEPT
    assert out.plan.vehicles[0].charge_kw[0] == pytest.approx(11.0, abs=1e-4)
    assert render(out.decision.why, "en") == (
        "Kept: changing course would have saved only 0.00 € so far (a change needs at least 0.05 €)"
    )
    assert render(out.decision.why, "de").startswith(
        "Beibehalten: ein Kurswechsel hätte bisher nur 0,00 € gespart"
    )
    # the next cycle gets the kept decision with what keeping it has cost so far
    assert out.applied is not None and out.applied.decision is applied
    assert out.applied.inputs is before  # a situation change is still measured from there
    assert out.applied.kept_loss_eur == pytest.approx(out.gain_eur)


def test_small_gains_add_up_until_keeping_course_costs_the_minimum_gain() -> None:
    """Each cycle the new plan would save 0.0275 € (a slot at 11 kW, 1 ct cheaper later):
    under 0.10 € each time, but keeping course is not free. The losses of the kept cycles add
    up; the decision changes in the cycle in which they reach 0.10 € (the fourth), and each kept
    cycle's why says how much changing course would have saved so far."""
    need = car(soc_kwh=20.0, target_soc_kwh=22.475, departure_slot=8)
    before = home([0.300] * 8, vehicles=(need,), settings=NO_BLOCK)
    _, applied_decision = _cycle(before)
    later = dataclasses.replace(before, import_price_eur_per_kwh=np.array([0.300] * 7 + [0.290]))
    plan, decision = _cycle(later)
    assert decision.loadpoint_mode is LoadpointMode.OFF
    applied = Applied(decision=applied_decision, inputs=before)
    losses = []
    settings = StabilitySettings(min_gain_eur=0.10)
    for _ in range(4):
        out = stabilise(later, plan, decision, applied, solve=lp.plan, settings=settings)
        assert out.gain_eur == pytest.approx(11 * 0.25 * 0.01, abs=1e-4)
        if not out.kept:
            break
        assert out.applied is not None
        applied = out.applied
        losses.append(applied.kept_loss_eur)
        assert out.decision.why.params["gain_eur"] == round(applied.kept_loss_eur, 2)
    assert losses == pytest.approx([0.0275, 0.055, 0.0825], abs=3e-4)
    assert not out.kept and out.reason == "gain"
    assert out.decision is decision
    assert out.applied is not None and out.applied.decision is decision
    assert out.applied.inputs is later and out.applied.kept_loss_eur == 0.0  # a new start
    # the rule of old (each cycle alone against the minimum) would have kept it for ever
    assert out.gain_eur < settings.min_gain_eur


def test_a_material_gain_changes_the_decision() -> None:
    need = car(soc_kwh=20.0, target_soc_kwh=22.475, departure_slot=8)
    before = home([0.300] * 8, vehicles=(need,), settings=NO_BLOCK)
    _, applied = _cycle(before)
    later = dataclasses.replace(before, import_price_eur_per_kwh=np.array([0.300] * 7 + [0.20]))
    plan, decision = _cycle(later)
    strict = StabilitySettings(price_revision_eur_per_kwh=1.0)  # the revision alone won't do
    out = stabilise(
        later,
        plan,
        decision,
        Applied(decision=applied, inputs=before),
        solve=lp.plan,
        settings=strict,
    )
    assert not out.kept
    assert out.reason == "gain"
    assert out.gain_eur == pytest.approx(11 * 0.25 * 0.10, abs=1e-4)  # 0.275 € >= 0.10 €
    assert out.decision is decision


def test_a_plug_in_changes_the_decision() -> None:
    """No car, wallbox off; the Kia plugs in and could charge now or later at the same price
    (a gain of nothing): the plug-in alone is reason enough to follow the new plan."""
    before = home([0.300] * 8, settings=NO_BLOCK)
    _, applied = _cycle(before)
    assert applied.loadpoint_mode is LoadpointMode.OFF
    need = car(soc_kwh=20.0, target_soc_kwh=22.475, departure_slot=8)
    now = dataclasses.replace(before, vehicles=(need,))
    plan, decision = _cycle(now)
    assert decision.loadpoint_mode is LoadpointMode.NOW
    out = stabilise(now, plan, decision, Applied(decision=applied, inputs=before), solve=lp.plan)
    assert not out.kept
    assert out.reason == "plugged"
    assert out.decision is decision


def test_situation_changes() -> None:
    need = car(departure_slot=8)
    old = home([0.30] * 8, vehicles=(need,))
    later = START + timedelta(minutes=15)
    # the same forecast a slot later: nothing changed
    same = home([0.30] * 8, vehicles=(dataclasses.replace(need, departure_slot=7),), start=later)
    assert situation_changed(old, same) is None
    moved = home([0.30] * 8, vehicles=(dataclasses.replace(need, departure_slot=9),), start=later)
    assert situation_changed(old, moved) == "departure"
    target = dataclasses.replace(
        same, vehicles=(dataclasses.replace(need, departure_slot=7, target_soc_kwh=50.0),)
    )
    assert situation_changed(old, target) == "target"
    revised = dataclasses.replace(same, import_price_eur_per_kwh=np.array([0.30] * 4 + [0.40] * 4))
    assert situation_changed(old, revised) == "prices"
    sunny = dataclasses.replace(same, pv_kw=np.full(8, 3.0))
    assert situation_changed(old, sunny) == "pv"


def test_first_cycle_forced_and_unchanged_decisions_are_taken_as_they_come() -> None:
    inputs = home([0.30] * 8, vehicles=(car(departure_slot=8),))
    plan, decision = _cycle(inputs)
    assert stabilise(inputs, plan, decision, None, solve=lp.plan).reason == "first"
    applied = Applied(decision=decision, inputs=inputs)

    def no_solve(_: PlanInput):  # type: ignore[no-untyped-def]
        raise AssertionError("no evaluation needed")

    assert stabilise(inputs, plan, decision, applied, solve=no_solve).reason == "same"
    other = dataclasses.replace(decision, loadpoint_mode=LoadpointMode.OFF)
    forced = stabilise(
        inputs, plan, decision, Applied(decision=other, inputs=inputs), solve=no_solve, force=True
    )
    assert forced.reason == "forced"
    assert not forced.kept
