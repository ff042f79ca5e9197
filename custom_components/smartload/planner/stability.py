"""Plan stability: a new plan changes what is applied now only when it is materially better.

Every cycle re-solves from the real state, and small changes of the forecasts move the optimum
between nearly equal plans: applied as they come, they flip the wallbox and the battery every
15 minutes for cents. ``stabilise`` keeps the decision applied in the previous cycle unless

- the situation changed (``situation_changed``): a car plugged in or out, a departure or target
  changed, a boost started, ended or changed its target, a price forecast revised by more than
  ``price_revision_eur_per_kwh`` in some slot, the PV forecast revised by more than
  ``pv_revision_kwh`` over the horizon both plans share, or the caller forces a change
  (boost, "re-plan now");
- or changing course is materially better: the plan with the current slot fixed to the kept
  decision (``PlanInput.first_slot``, solved by the same planner) costs more (objective: grid
  cost, penalties and the value of stored energy) than the new plan — that difference is what
  keeping course costs in this slot — and these costs, summed over the cycles since the decision
  was applied (``Applied.kept_loss_eur``), reach ``min_gain_eur``.

The sum bounds what one kept decision can cost: without it a decision kept for many cycles, each
just under the minimum, loses a little every cycle and the losses add up (measured in the replay
simulator, benchmarks/simulate/README.md). A kept decision carries the why ``kept`` ("kept:
changing course would have saved only 0.04 € so far"), and the plan returned is the one with the
kept current slot, so the rest of the plan fits what is done now.
Plain Python + numpy (no Home Assistant import): the coordinator and the replay simulator share it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
import math

import numpy as np

from .model import (
    Decision,
    FirstSlot,
    LoadpointMode,
    Plan,
    PlanInput,
    PlanStatus,
    Why,
)

KEPT = "kept"  # the why key of a kept decision
_SOLVED = (PlanStatus.OPTIMAL, PlanStatus.SHORTFALL)
_TARGET_TOL_KWH = 0.5  # a target that moves less than this is the same target
_LIMIT_TOL_EUR = 1e-4  # price limits closer than this are the same setting


@dataclass(frozen=True, kw_only=True, slots=True)
class StabilitySettings:
    """The knobs of the keep rule (the options flow sets them)."""

    # Keeping course may cost at most this much (EUR, summed over the cycles since the decision
    # was applied) before a new plan changes what is applied now; 0: every new plan is applied
    # as it comes (no keep rule). 0.05: measured in the replay simulator (README there).
    min_gain_eur: float = 0.05
    # A price forecast revised by more than this in any slot both plans share is a new situation.
    price_revision_eur_per_kwh: float = 0.03
    # A PV forecast revised by more than this (kWh, summed over the shared slots) is one, too.
    pv_revision_kwh: float = 2.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Applied:
    """The decision applied in the previous cycle and the inputs it was decided on."""

    decision: Decision
    inputs: PlanInput
    # what keeping this decision has cost so far: the gains passed up in the cycles it was kept
    kept_loss_eur: float = 0.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Outcome:
    """What to apply now."""

    plan: Plan
    decision: Decision
    kept: bool
    # objective of the plan with the kept current slot minus the new plan's (None: not evaluated)
    gain_eur: float | None
    # why the new decision was taken ("" when kept): "first", "same", "forced", "not_solved",
    # "gain", or what changed ("plugged", "departure", "target", "prices", "pv")
    reason: str
    # the applied decision to hand to the next cycle (its loss so far when kept); None: none
    applied: Applied | None = None


def same_actuation(a: Decision, b: Decision) -> bool:
    """Do two decisions set the actuators alike (mode, car, limits, battery)?"""

    def close(x: float | None, y: float | None) -> bool:
        if x is None or y is None:
            return x is y
        return abs(x - y) <= _LIMIT_TOL_EUR

    return (
        a.loadpoint_mode is b.loadpoint_mode
        and a.active_vehicle == b.active_vehicle
        and close(a.smart_cost_limit_eur_per_kwh, b.smart_cost_limit_eur_per_kwh)
        and a.battery_mode is b.battery_mode
        and close(a.battery_grid_charge_limit_eur_per_kwh, b.battery_grid_charge_limit_eur_per_kwh)
        and a.battery_discharge_locked == b.battery_discharge_locked
    )


def situation_changed(
    old: PlanInput, new: PlanInput, settings: StabilitySettings = StabilitySettings()
) -> str | None:
    """What changed between two cycles' inputs that a kept decision must not ignore (or None)."""
    old_cars = {v.name: v for v in old.vehicles}
    new_cars = {v.name: v for v in new.vehicles}
    if old_cars.keys() != new_cars.keys():
        return "plugged"
    for name, v in new_cars.items():
        before = old_cars[name]
        if _departure_time(old, before.departure_slot) != _departure_time(new, v.departure_slot):
            return "departure"
        if abs(before.target_soc_kwh - v.target_soc_kwh) > _TARGET_TOL_KWH:
            return "target"
        if (before.boost_until_slot > 0) != (v.boost_until_slot > 0) or (
            before.boost_target_kwh != v.boost_target_kwh
        ):
            return "boost"  # a boost starts, ends or changes its target: the driver overrides
    shift = round((new.start - old.start).total_seconds() / 60.0 / new.slot_minutes)
    if old.slot_minutes != new.slot_minutes or shift < 0:
        return "prices"
    m = min(old.n_slots - shift, new.n_slots)
    if m <= 0:
        return "prices"
    for attr in ("import_price_eur_per_kwh", "export_price_eur_per_kwh"):
        before = np.asarray(getattr(old, attr), dtype=np.float64)[shift : shift + m]
        after = np.asarray(getattr(new, attr), dtype=np.float64)[:m]
        if float(np.max(np.abs(before - after))) > settings.price_revision_eur_per_kwh:
            return "prices"
    pv_before = np.asarray(old.pv_kw, dtype=np.float64)[shift : shift + m]
    pv_after = np.asarray(new.pv_kw, dtype=np.float64)[:m]
    if float(np.sum(np.abs(pv_before - pv_after))) * new.dt_h > settings.pv_revision_kwh:
        return "pv"
    return None


def _departure_time(inputs: PlanInput, slot: int | None) -> object:
    return None if slot is None else inputs.slot_start(slot)


def first_slot_of(inputs: PlanInput, decision: Decision, *, min_charge_kw: float) -> FirstSlot:
    """The current slot as ``decision`` would run it now (how evcc charges in each mode).

    PV: the forecast surplus if it reaches evcc's minimum current (at or below the smart cost
    limit: full power); MINPV: the minimum current or the surplus; NOW: the planned power.
    """
    kw = 0.0
    car = next((v for v in inputs.vehicles if v.name == decision.active_vehicle), None)
    if car is not None and decision.loadpoint_mode is not LoadpointMode.OFF:
        top = min(car.max_charge_kw, inputs.wallbox_max_kw)
        surplus = max(0.0, float(inputs.pv_kw[0]) - float(inputs.load_kw[0]))
        limit = decision.smart_cost_limit_eur_per_kwh
        price = float(inputs.import_price_eur_per_kwh[0])
        match decision.loadpoint_mode:
            case LoadpointMode.PV if limit is not None and price <= limit + 1e-12:
                kw = top
            case LoadpointMode.PV:
                kw = min(top, surplus) if surplus >= min_charge_kw else 0.0
            case LoadpointMode.MINPV:
                kw = min(top, max(min_charge_kw, surplus))
            case _:
                kw = min(top, max(min_charge_kw, decision.vehicle_charge_kw))
    vehicles = ((car.name, kw),) if car is not None and kw > 0 else ()
    return FirstSlot(vehicle_kw=vehicles, battery_mode=decision.battery_mode)


def kept_why(gain_eur: float, settings: StabilitySettings) -> Why:
    """The why of a kept decision (``gain_eur``: what keeping course has cost so far)."""
    return Why(
        key=KEPT,
        params={"gain_eur": round(max(0.0, gain_eur), 2), "min_gain_eur": settings.min_gain_eur},
    )


def stabilise(
    inputs: PlanInput,
    plan: Plan,
    decision: Decision,
    applied: Applied | None,
    *,
    solve: Callable[[PlanInput], Plan],
    settings: StabilitySettings = StabilitySettings(),
    min_charge_kw: float = 1.4,
    force: bool = False,
) -> Outcome:
    """Keep ``applied`` unless the new ``plan``/``decision`` is materially better (module doc).

    ``solve`` is the planner (``planner.lp.plan``); it is called at most once, only when the
    new decision would change an actuator and nothing forces the change. Blocking like the
    planner itself: call it in an executor job.
    """

    def new(reason: str, gain: float | None = None) -> Outcome:
        return Outcome(
            plan=plan,
            decision=decision,
            kept=False,
            gain_eur=gain,
            reason=reason,
            applied=Applied(decision=decision, inputs=inputs),
        )

    if applied is None:
        return new("first")
    if force:
        return new("forced")
    if settings.min_gain_eur <= 0 or plan.status not in _SOLVED:
        return new("not_solved" if plan.status not in _SOLVED else "gain")
    if same_actuation(applied.decision, decision):
        return new("same")
    if (changed := situation_changed(applied.inputs, inputs, settings)) is not None:
        return new(changed)
    first = first_slot_of(inputs, applied.decision, min_charge_kw=min_charge_kw)
    fixed = solve(replace(inputs, first_slot=first))
    if fixed.status not in _SOLVED or not math.isfinite(fixed.objective_eur):
        return new("not_solved")
    gain = fixed.objective_eur - plan.objective_eur
    loss = applied.kept_loss_eur + max(0.0, gain)  # what keeping course has cost, this slot too
    if loss >= settings.min_gain_eur:
        return new("gain", gain)
    why = kept_why(loss, settings)
    return Outcome(
        plan=replace(fixed, why=(why, *fixed.why[1:])),
        decision=replace(applied.decision, why=why),
        kept=True,
        gain_eur=gain,
        reason="",
        applied=replace(applied, kept_loss_eur=loss),
    )
