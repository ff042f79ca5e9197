"""A rule-based safe plan for when the LP fails or times out (no solver involved).

Rules (all transparent, all percentile/price based):

- **Cars** (a boosting car first, then by priority, then earliest departure) take the cheapest
  wallbox capacity in their plug window: a slot offers PV surplus the house does not use (costing
  the feed-in it forgoes) and grid power (costing the import price); both are sorted by that cost
  and taken greedily until the departure target is reached. A car without a departure in the
  horizon charges only from PV surplus and in slots priced at or below the ``CAR_PERCENTILE`` of
  the horizon. Left-over PV surplus then goes into cars up to ``target + expected_use`` (energy
  they will drive again). Power never exceeds the car's maximum, the wallbox (shared) or the grid
  import limit. A car the driver boosts takes full power from now (PV surplus first, then the
  grid, whatever the price) until its boost target or the boost's end, before any of that.
- **The battery** runs in self-consumption (NORMAL). It charges from the grid (CHARGE) only in
  slots priced at or below the ``BATTERY_PERCENTILE`` of the horizon where a later price pays for
  the round trip (after efficiencies and wear), and in the cheapest slots needed to reach
  ``end_soc_min_kwh``; it never discharges below ``max(min_soc, end_soc_min)``. While a car charges
  from the grid it holds (HOLD: no discharge into the car).
- The grid balances the rest: ``import - export = load + cars + charge - pv - discharge``, so import
  and export (and charge and discharge) are never both positive in a slot. The export limit is not
  enforced here (the inverter curtails PV above it).

``fallback_plan`` never raises on valid inputs: should the rules themselves fail, it returns a plan
that does nothing (no car charging, battery held) and logs why.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time

import numpy as np

from .explain import explain
from .model import (
    BatteryMode,
    FloatArray,
    Plan,
    PlanInput,
    PlanStatus,
    VehicleInput,
    VehiclePlan,
    Why,
)
from .prices import leading_run_price_limit

_LOGGER = logging.getLogger(__name__)

BATTERY_PERCENTILE = (
    25.0  # the battery charges from the grid only at or below this price percentile
)
CAR_PERCENTILE = 30.0  # a car without a deadline charges from the grid at or below this percentile
_EPS = 1e-9


def fallback_plan(inputs: PlanInput, reason: str) -> Plan:
    """A safe rule-based plan (status FALLBACK, ``message=reason``)."""
    t0 = time.perf_counter()
    try:
        return _rule_plan(inputs, reason, t0)
    except Exception as err:
        _LOGGER.warning("Fallback rules failed (%s); planning to do nothing", err)
        _LOGGER.debug("Fallback failure", exc_info=True)
        return _idle_plan(inputs, reason, t0)


def _clean(values: object, n: int, fill: float) -> FloatArray:
    arr = np.asarray(values, dtype=float).reshape(-1)[:n]
    if arr.size < n:
        arr = np.concatenate((arr, np.full(n - arr.size, fill)))
    return np.where(np.isfinite(arr), arr, fill)


def _prices(inputs: PlanInput, n: int) -> tuple[FloatArray, FloatArray]:
    raw = np.asarray(inputs.import_price_eur_per_kwh, dtype=float)
    ok = raw[np.isfinite(raw)]
    p_in = _clean(raw, n, float(np.max(ok)) if ok.size else 0.0)  # unknown: assume expensive
    p_out = _clean(inputs.export_price_eur_per_kwh, n, 0.0)
    return p_in, p_out


def _estimated(inputs: PlanInput, n: int) -> np.ndarray:
    if inputs.price_estimated is None:
        return np.zeros(n, dtype=bool)
    mask = np.asarray(inputs.price_estimated, dtype=bool).reshape(-1)[:n]
    return np.concatenate((mask, np.zeros(n - mask.size, dtype=bool)))


def _take_cheapest(
    need_kwh: float, cost: FloatArray, power_kw: FloatArray, dt: float
) -> FloatArray:
    """Greedy: power per chunk taking ``need_kwh`` from the cheapest chunks (ties: earliest)."""
    out = np.zeros_like(power_kw)
    if need_kwh <= _EPS:
        return out
    order = np.lexsort((np.arange(cost.size), cost))
    energy = power_kw[order] * dt
    before = np.cumsum(energy) - energy
    take = np.clip(need_kwh - before, 0.0, energy)
    out[order] = take / dt
    return out


def _plan_car(
    vi: VehicleInput,
    *,
    n: int,
    dt: float,
    p_in: FloatArray,
    p_out: FloatArray,
    surplus: FloatArray,
    wallbox_room: FloatArray,
    grid_room: FloatArray,
    car_limit: float,
) -> tuple[FloatArray, FloatArray]:
    """(pv-fed kW, grid-fed kW) into one car, per slot."""
    slots = np.arange(n)
    dep = vi.departure_slot
    deadline = dep is not None and dep <= n
    end = n if dep is None else min(max(dep, 0), n)
    plugged = (slots >= vi.plugged_from_slot) & (slots < end)
    eff = max(vi.charge_efficiency, 0.05)
    cap = np.where(plugged, np.minimum(max(vi.max_charge_kw, 0.0), wallbox_room), 0.0)
    cap = np.maximum(cap, 0.0)
    pv_cap = np.minimum(cap, surplus)
    grid_cap = np.maximum(np.minimum(cap - pv_cap, grid_room), 0.0)
    target = min(vi.target_soc_kwh, vi.capacity_kwh)
    need = max(target - vi.soc_kwh, 0.0) / eff  # wallbox kWh
    # a boost (the driver's override) first: full power from now, whatever the price
    boost_pv, boost_grid = np.zeros(n), np.zeros(n)
    if vi.boost_until_slot > 0:
        top = vi.capacity_kwh if vi.boost_target_kwh is None else vi.boost_target_kwh
        boost_need = max(min(top, vi.capacity_kwh) - vi.soc_kwh, 0.0) / eff
        room = np.where(slots < vi.boost_until_slot, pv_cap + grid_cap, 0.0)
        boost = _take_cheapest(boost_need, slots.astype(float), room, dt)  # earliest first
        boost_pv = np.minimum(boost, pv_cap)
        boost_grid = boost - boost_pv
        pv_cap, grid_cap = pv_cap - boost_pv, grid_cap - boost_grid
        need = max(need - float(boost.sum()) * dt, 0.0)
    if not deadline:
        grid_cap = np.where(p_in <= car_limit, grid_cap, 0.0)
    alloc = _take_cheapest(
        need, np.concatenate((p_out, p_in)), np.concatenate((pv_cap, grid_cap)), dt
    )
    pv_kw, grid_kw = alloc[:n] + boost_pv, alloc[n:] + boost_grid
    # left-over surplus: up to the energy the car will use again (earliest first, no cost order)
    ceiling = min(target + max(vi.expected_use_kwh, 0.0), vi.capacity_kwh)
    stored = vi.soc_kwh + (pv_kw.sum() + grid_kw.sum()) * dt * eff
    extra = max(ceiling - max(stored, target), 0.0) / eff
    if extra > _EPS:
        left = np.maximum(pv_cap - alloc[:n], 0.0)  # (pv_cap is net of the boost already)
        pv_kw = pv_kw + _take_cheapest(extra, slots.astype(float), left, dt)
    return pv_kw, grid_kw


def _rule_plan(inputs: PlanInput, reason: str, t0: float) -> Plan:
    n = inputs.n_slots
    dt = inputs.dt_h
    p_in, p_out = _prices(inputs, n)
    load = np.maximum(_clean(inputs.load_kw, n, 0.0), 0.0)
    pv = np.maximum(_clean(inputs.pv_kw, n, 0.0), 0.0)
    max_imp = inputs.max_import_kw if inputs.max_import_kw > 0 else math.inf
    surplus = np.maximum(pv - load, 0.0)
    grid_room = np.maximum(max_imp - np.maximum(load - pv, 0.0), 0.0)
    wallbox_room = np.full(n, max(inputs.wallbox_max_kw, 0.0))
    car_limit = float(np.percentile(p_in, CAR_PERCENTILE)) if n else 0.0
    window = max(1, math.ceil(inputs.settings.price_limit_window_h * 60 / inputs.slot_minutes))

    # ---- cars, most important first
    order = sorted(
        range(len(inputs.vehicles)),
        key=lambda i: (
            inputs.vehicles[i].boost_until_slot <= 0,  # a boosting car first
            inputs.vehicles[i].priority,
            inputs.vehicles[i].departure_slot
            if inputs.vehicles[i].departure_slot is not None
            else math.inf,
        ),
    )
    car_kw: dict[int, FloatArray] = {}
    grid_kw_by_car: dict[int, FloatArray] = {}
    car_grid_any = np.zeros(n, dtype=bool)
    for i in order:
        vi = inputs.vehicles[i]
        pv_kw, grid_kw = _plan_car(
            vi,
            n=n,
            dt=dt,
            p_in=p_in,
            p_out=p_out,
            surplus=surplus,
            wallbox_room=wallbox_room,
            grid_room=grid_room,
            car_limit=car_limit,
        )
        total = pv_kw + grid_kw
        car_kw[i] = total
        grid_kw_by_car[i] = grid_kw
        surplus = np.maximum(surplus - pv_kw, 0.0)
        grid_room = np.maximum(grid_room - grid_kw, 0.0)
        wallbox_room = np.maximum(wallbox_room - total, 0.0)
        car_grid_any |= grid_kw > 1e-6
    cars_total = sum(car_kw.values(), np.zeros(n))

    vehicles: list[VehiclePlan] = []
    shortfall_total = 0.0
    for i, vi in enumerate(inputs.vehicles):
        kw = car_kw[i]
        eff = max(vi.charge_efficiency, 0.05)
        soc = np.minimum(vi.soc_kwh + np.cumsum(kw) * dt * eff, max(vi.capacity_kwh, vi.soc_kwh))
        dep = vi.departure_slot
        if dep is not None and dep <= n:
            at_dep = float(soc[dep - 1]) if dep > 0 else float(vi.soc_kwh)
            short = max(min(vi.target_soc_kwh, vi.capacity_kwh) - at_dep, 0.0)
            short = short if short > 1e-6 else 0.0
        else:
            at_dep, short = None, 0.0
        shortfall_total += short
        limit = leading_run_price_limit(grid_kw_by_car[i] > 1e-6, p_in, window)
        vehicles.append(
            VehiclePlan(
                name=vi.name,
                charge_kw=kw,
                soc_kwh=soc,
                shortfall_kwh=short,
                soc_at_departure_kwh=at_dep,
                price_limit_eur_per_kwh=limit,
                value_eur_per_kwh=np.zeros(n),
            )
        )

    # ---- the battery
    net = load + cars_total - pv
    b_ch = np.zeros(n)
    b_dis = np.zeros(n)
    b_soc = np.zeros(n)
    modes = [BatteryMode.NORMAL] * n
    b_limit: float | None = None
    battery = inputs.battery
    if battery is not None:
        b_ch, b_dis, b_soc, modes, b_limit = _run_battery(
            inputs, p_in=p_in, net=net, car_grid=car_grid_any, max_imp=max_imp, window=window
        )

    grid = net + b_ch - b_dis
    imp = np.maximum(grid, 0.0)
    exp = np.maximum(-grid, 0.0)
    cost = float(np.sum((imp * p_in - exp * p_out) * dt))
    plan = Plan(
        status=PlanStatus.FALLBACK,
        start=inputs.start,
        slot_minutes=inputs.slot_minutes,
        grid_import_kw=imp,
        grid_export_kw=exp,
        battery_charge_kw=b_ch,
        battery_discharge_kw=b_dis,
        battery_soc_kwh=b_soc,
        battery_mode=tuple(modes),
        battery_price_limit_eur_per_kwh=b_limit,
        battery_value_eur_per_kwh=np.zeros(n),
        vehicles=tuple(vehicles),
        cost_eur=cost,
        objective_eur=cost + inputs.settings.shortfall_penalty_eur_per_kwh * shortfall_total,
        solve_ms=0.0,
        why=(),
        price_estimated=_estimated(inputs, n),
        message=reason,
    )
    why = explain(inputs, plan)
    return dataclasses.replace(plan, why=why, solve_ms=(time.perf_counter() - t0) * 1000.0)


def _run_battery(
    inputs: PlanInput,
    *,
    p_in: FloatArray,
    net: FloatArray,
    car_grid: np.ndarray,
    max_imp: float,
    window: int,
) -> tuple[FloatArray, FloatArray, FloatArray, list[BatteryMode], float | None]:
    """Self-consumption with percentile grid charging, simulated slot by slot."""
    battery = inputs.battery
    assert battery is not None
    n = len(net)
    dt = inputs.dt_h
    eta_c = min(max(battery.charge_efficiency, 0.05), 1.0)
    eta_d = min(max(battery.discharge_efficiency, 0.05), 1.0)
    max_soc = max(min(battery.max_soc_kwh, battery.capacity_kwh), battery.min_soc_kwh)
    floor = min(max(battery.min_soc_kwh, battery.end_soc_min_kwh), max_soc)
    max_ch = max(battery.max_charge_kw, 0.0)
    max_dis = max(battery.max_discharge_kw, 0.0)

    if n == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0), [], None
    threshold = float(np.percentile(p_in, BATTERY_PERCENTILE))
    later_max = np.concatenate((np.maximum.accumulate(p_in[::-1])[::-1][1:], [-math.inf]))
    wear = 2.0 * max(battery.wear_cost_eur_per_kwh, 0.0)
    worth = (p_in + wear < eta_c * eta_d * later_max) | (p_in < 0.0)
    grid_charge = (p_in <= threshold) & worth
    deficit = floor - battery.soc_kwh  # energy needed to reach the end reserve
    if deficit > _EPS and max_ch > 0:
        per_slot = max_ch * eta_c * dt
        k = min(math.ceil(deficit / per_slot), n)
        cheapest = np.argsort(p_in, kind="stable")[:k]
        grid_charge[cheapest] = True
    hold = car_grid & ~grid_charge

    ch = np.zeros(n)
    dis = np.zeros(n)
    soc_arr = np.zeros(n)
    modes: list[BatteryMode] = []
    soc = float(battery.soc_kwh)
    for t, (nt, gc, hd) in enumerate(
        zip(net.tolist(), grid_charge.tolist(), hold.tolist(), strict=True)
    ):
        room = max((max_soc - soc) / (eta_c * dt), 0.0)
        c = d = 0.0
        if gc:
            c = max(min(max_ch, room, max_imp - nt), 0.0)
        elif hd or nt <= 0:
            c = min(max(-nt, 0.0), max_ch, room)
        else:
            d = max(min(max_dis, (soc - floor) * eta_d / dt, nt), 0.0)
        # the mode as planner.lp names it: CHARGE when the battery takes grid energy, HOLD when
        # it does not discharge although the house imports and it could, NORMAL otherwise
        importing = nt + c - d > 1e-9
        if importing and c > max(-nt, 0.0) + 1e-9:
            mode = BatteryMode.CHARGE
        elif importing and d <= 0.0 and soc > battery.min_soc_kwh + 1e-6 and max_dis > 0:
            mode = BatteryMode.HOLD
        else:
            mode = BatteryMode.NORMAL
        soc += (c * eta_c - d / eta_d) * dt
        ch[t], dis[t], soc_arr[t] = c, d, soc
        modes.append(mode)
    charging = np.array([m == BatteryMode.CHARGE for m in modes], dtype=bool)
    limit = leading_run_price_limit(charging, p_in, window)
    return ch, dis, soc_arr, modes, limit


def _idle_plan(inputs: PlanInput, reason: str, t0: float) -> Plan:
    """Do nothing: no car charging, battery held; the grid covers the house."""
    n = inputs.n_slots
    dt = inputs.dt_h
    p_in, p_out = _prices(inputs, n)
    net = np.maximum(_clean(inputs.load_kw, n, 0.0), 0.0) - np.maximum(
        _clean(inputs.pv_kw, n, 0.0), 0.0
    )
    imp = np.maximum(net, 0.0)
    exp = np.maximum(-net, 0.0)
    soc = inputs.battery.soc_kwh if inputs.battery is not None else 0.0
    return Plan(
        status=PlanStatus.FALLBACK,
        start=inputs.start,
        slot_minutes=inputs.slot_minutes,
        grid_import_kw=imp,
        grid_export_kw=exp,
        battery_charge_kw=np.zeros(n),
        battery_discharge_kw=np.zeros(n),
        battery_soc_kwh=np.full(n, soc),
        battery_mode=(BatteryMode.HOLD,) * n,
        battery_price_limit_eur_per_kwh=None,
        battery_value_eur_per_kwh=np.zeros(n),
        vehicles=tuple(
            VehiclePlan(
                name=v.name,
                charge_kw=np.zeros(n),
                soc_kwh=np.full(n, v.soc_kwh),
                shortfall_kwh=0.0,
                soc_at_departure_kwh=None,
                price_limit_eur_per_kwh=None,
                value_eur_per_kwh=np.zeros(n),
            )
            for v in inputs.vehicles
        ),
        cost_eur=float(np.sum((imp * p_in - exp * p_out) * dt)),
        objective_eur=float(np.sum((imp * p_in - exp * p_out) * dt)),
        solve_ms=(time.perf_counter() - t0) * 1000.0,
        why=tuple(Why(key="fallback", params={"price_ct": round(x * 100, 2)}) for x in p_in),
        price_estimated=_estimated(inputs, n),
        message=reason,
    )
