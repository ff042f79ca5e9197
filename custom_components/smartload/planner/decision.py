"""The plan's current slot in the terms evcc and the inverter understand (the single translation).

Both the replay simulator and the Home Assistant coordinator execute ``decide(inputs, plan)``.

Loadpoint (one wallbox, several cars):

- the *active car* is the one the plan charges in the slot; when the plan shares the slot's
  power between cars (the LP's relaxation of taking turns on one wallbox), the most urgent one
  (earliest departure, then priority — lower number first — then input order) gets the whole
  planned power, up to its own limit; with no charging planned it is None and the mode is OFF;
- PV when the planned power is covered by the forecast PV surplus (PV − load) of the slot: evcc
  then follows the real surplus;
- MINPV when part of it is surplus and the grid part fits evcc's minimum current
  (``min_charge_kw``): evcc adds the real surplus on top of the minimum;
- NOW otherwise (grid charging at the planned power), and in the car's last slot before its
  departure while it is still below its target: no later cycle could make up for a PV shortfall;
- a car the driver boosts (``boost_until_slot``) and the plan charges in the slot is the active
  car before any other, always in NOW mode (full power whatever the surplus or the price);
- the smart cost limit is the car's planned price limit. In PV mode evcc would charge at full
  power from the grid whenever the price is at or below that limit, so in a PV slot whose price is
  at or below the limit (the plan chose not to grid-charge *now*) the limit is withheld (None) for
  this slot; the next cycle sets it again.

Battery: the plan's mode for the slot. CHARGE carries the grid-charge limit (the plan's battery
price limit, at least this slot's price) and the target (the planned SoC at the slot's end);
HOLD and CHARGE lock discharging.
"""

from __future__ import annotations

import math

from .model import (
    BatteryMode,
    Decision,
    LoadpointMode,
    Plan,
    PlanInput,
    PlanStatus,
    VehicleInput,
    VehiclePlan,
    Why,
)

_EPS_KW = 1e-3  # powers below this count as zero
_TOL_KW = 0.05  # slack when comparing planned power with the forecast surplus


def decide(
    inputs: PlanInput,
    plan: Plan,
    slot: int = 0,
    *,
    min_charge_kw: float = 1.4,
) -> Decision:
    """Translate slot ``slot`` of ``plan`` (made for ``inputs``) into a Decision."""
    if plan.status is PlanStatus.ERROR or plan.n_slots == 0:
        return safe_decision(Why(key="idle"))
    if not 0 <= slot < plan.n_slots:
        raise IndexError(f"slot {slot} outside the plan's {plan.n_slots} slots")
    why = plan.why[slot] if slot < len(plan.why) else Why(key="idle")
    price = float(inputs.import_price_eur_per_kwh[slot])

    # One wallbox serves one car at a time; the LP may share a slot's power between cars (a
    # relaxation of taking turns). The active car is the most urgent of those it charges now
    # (earliest departure, then priority, then input order) and gets the slot's whole planned
    # wallbox power (up to its own limit): the other car's share follows in the next cycles.
    planned = {v.name: float(v.charge_kw[slot]) for v in plan.vehicles}
    charging = [v for v in inputs.vehicles if planned.get(v.name, 0.0) > _EPS_KW]
    mode = LoadpointMode.OFF
    active: str | None = None
    car_kw = 0.0
    cost_limit: float | None = None
    if charging:
        order = {v.name: i for i, v in enumerate(inputs.vehicles)}
        first = min(
            charging,
            key=lambda v: (
                not _boosting(v, slot),  # a boost (the driver's override) comes first
                v.departure_slot if v.departure_slot is not None else math.inf,
                v.priority,
                order[v.name],
            ),
        )
        active = first.name
        total = sum(planned[v.name] for v in charging)
        car_kw = min(total, first.max_charge_kw, inputs.wallbox_max_kw)
        surplus = max(0.0, float(inputs.pv_kw[slot]) - float(inputs.load_kw[slot]))
        if car_kw <= surplus + _TOL_KW:
            mode = LoadpointMode.PV
        elif surplus > _TOL_KW and car_kw <= surplus + min_charge_kw + _TOL_KW:
            mode = LoadpointMode.MINPV
        else:
            mode = LoadpointMode.NOW
        vplan = plan.vehicle(first.name)
        if _boosting(first, slot):
            # a boost charges at full power whatever the surplus or the price
            mode = LoadpointMode.NOW
        elif mode is not LoadpointMode.NOW and _last_slot_short(first, vplan, slot):
            # No later cycle can make up for a PV shortfall in the car's last slot before it
            # leaves: the energy the target still needs is charged at the planned power.
            mode = LoadpointMode.NOW
        cost_limit = vplan.price_limit_eur_per_kwh if vplan is not None else None
        if mode is LoadpointMode.PV and cost_limit is not None and price <= cost_limit:
            cost_limit = None

    battery_mode = plan.battery_mode[slot] if slot < len(plan.battery_mode) else BatteryMode.NORMAL
    grid_limit: float | None = None
    target: float | None = None
    if battery_mode is BatteryMode.CHARGE:
        limit = plan.battery_price_limit_eur_per_kwh
        grid_limit = price if limit is None else max(limit, price)
        target = float(plan.battery_soc_kwh[slot])
    return Decision(
        loadpoint_mode=mode,
        active_vehicle=active,
        vehicle_charge_kw=car_kw,
        smart_cost_limit_eur_per_kwh=cost_limit,
        battery_mode=battery_mode,
        battery_grid_charge_limit_eur_per_kwh=grid_limit,
        battery_discharge_locked=battery_mode in (BatteryMode.HOLD, BatteryMode.CHARGE),
        battery_target_soc_kwh=target,
        why=why,
    )


def _boosting(vehicle: VehicleInput, slot: int) -> bool:
    """Does the driver's boost cover ``slot``?"""
    return slot < vehicle.boost_until_slot


def _last_slot_short(vehicle: VehicleInput, vplan: VehiclePlan | None, slot: int) -> bool:
    """Is ``slot`` the car's last one before its departure, with the car still below target?"""
    if vehicle.departure_slot is None or vehicle.departure_slot != slot + 1:
        return False
    return _below_target(vehicle, vplan, slot)


def _below_target(vehicle: VehicleInput, vplan: VehiclePlan | None, slot: int) -> bool:
    """Does the car leave within the horizon and is it still below its target at ``slot``?"""
    if vehicle.departure_slot is None or vehicle.departure_slot <= slot:
        return False
    soc = vehicle.soc_kwh
    if slot > 0 and vplan is not None and len(vplan.soc_kwh) >= slot:
        soc = float(vplan.soc_kwh[slot - 1])
    return soc < vehicle.target_soc_kwh - 1e-6


def safe_decision(why: Why) -> Decision:
    """What to do without a usable plan: wallbox off, battery in normal self-consumption."""
    return Decision(
        loadpoint_mode=LoadpointMode.OFF,
        active_vehicle=None,
        vehicle_charge_kw=0.0,
        smart_cost_limit_eur_per_kwh=None,
        battery_mode=BatteryMode.NORMAL,
        battery_grid_charge_limit_eur_per_kwh=None,
        battery_discharge_locked=False,
        battery_target_soc_kwh=None,
        why=why,
    )
