"""The evcc-style threshold baseline, and what SmartLoad saved against it on realised slots.

The threshold strategy (what evcc's *smart cost limit* does; the replay simulator's
``ThresholdStrategy`` uses the same two rules):

- **limit**: the ``THRESHOLD_PERCENTILE`` (30th) percentile of the past week's import prices
  (``threshold_limit``); at or below it a plugged-in car that needs energy charges at full power
  from the grid, otherwise it takes PV surplus only (evcc's PV mode, from the wallbox's minimum
  power on);
- **deadline**: a car whose remaining need would no longer fit before it leaves charges at full
  power regardless of the price (``deadline_urgent``);
- the battery runs in self-consumption (charges from surplus, discharges for the house).

``savings(day, limit)`` replays the threshold strategy on the slots SmartLoad has seen realised
(:class:`RealisedDay`: prices, house load, PV, the battery's SoC and each car's charged energy and
plug state) and compares the grid cost of both:

- **SmartLoad's cost** is the realised one: per slot the house load, the cars' charging (their
  SoC rise / charge efficiency) and the battery's AC power (from its SoC change and efficiencies)
  minus PV, imported or fed in at the slot's prices;
- **the baseline** gives every car the same energy it received from SmartLoad within each plug-in
  session (a session that ended must be served by its end; the running one has no deadline yet),
  at the threshold strategy's times, with the same load and PV and the battery in
  self-consumption from the same starting SoC;
- energy that ends up stored differently (battery, cars of a running session) is valued at the
  median import price of the counted slots (a battery kWh × its discharge efficiency, a car kWh
  / its charge efficiency) and credited to whichever holds more: ``stored_adjustment_eur``.

``savings_eur = baseline_cost - smartload_cost + stored_adjustment``; positive: SmartLoad was
cheaper. Pure numpy; no Home Assistant import.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np

from .model import BatteryInput, BoolArray, FloatArray

THRESHOLD_PERCENTILE = 30.0  # evcc-style smart cost limit: this percentile of past prices
THRESHOLD_WINDOW_DAYS = 7.0  # … of the past week
WALLBOX_MIN_KW = 1.4  # evcc's PV mode starts charging at 6 A on one phase
_EPS_KWH = 1e-6


def threshold_limit(past_prices: FloatArray, percentile: float = THRESHOLD_PERCENTILE) -> float:
    """The smart cost limit: a percentile of past import prices (NaN ignored; none: -inf)."""
    prices = np.asarray(past_prices, dtype=np.float64)
    prices = prices[np.isfinite(prices)]
    return float(np.percentile(prices, percentile)) if len(prices) else -math.inf


def deadline_urgent(
    need_kwh: float, power_kw: float, efficiency: float, hours_left: float, dt_h: float
) -> bool:
    """True when the need no longer fits before the deadline at full power (one slot's margin)."""
    if need_kwh <= _EPS_KWH or power_kw <= 0:
        return False
    return need_kwh / (power_kw * efficiency) >= hours_left - dt_h


@dataclass(frozen=True, kw_only=True, slots=True)
class RealisedCar:
    """One car over the counted slots."""

    name: str
    charged_kwh: FloatArray  # energy into the car (its SoC rise) per slot
    plugged: BoolArray  # plugged in during the slot
    max_charge_kw: float
    charge_efficiency: float = 0.9
    priority: int = 3
    still_plugged: bool = False  # plugged in after the last counted slot (session still open)


@dataclass(frozen=True, kw_only=True, slots=True)
class RealisedDay:
    """The slots SmartLoad has seen realised (not necessarily contiguous), in time order."""

    dt_h: float = 0.25
    import_price_eur_per_kwh: FloatArray
    export_price_eur_per_kwh: FloatArray
    load_kw: FloatArray  # the house without the cars and the battery
    pv_kw: FloatArray
    contiguous: BoolArray  # True where a slot follows the previous one without a gap
    battery: BatteryInput | None = None  # its limits and efficiencies (SoC: the first slot's)
    battery_soc_start_kwh: FloatArray | None = None  # per slot, at its start
    battery_soc_end_kwh: FloatArray | None = None  # per slot, at its end
    cars: tuple[RealisedCar, ...] = ()
    wallbox_max_kw: float = 11.0

    @property
    def n_slots(self) -> int:
        """Counted slots."""
        return len(self.import_price_eur_per_kwh)


@dataclass(frozen=True, kw_only=True, slots=True)
class Savings:
    """SmartLoad against the threshold baseline on the same realised slots."""

    smartload_cost_eur: float
    baseline_cost_eur: float
    stored_adjustment_eur: float  # credit for energy SmartLoad left stored beyond the baseline
    limit_eur_per_kwh: float
    value_eur_per_kwh: float  # what a stored kWh was valued at
    slots: int
    vehicle_kwh: float  # energy into the cars (both strategies deliver the same per session)

    @property
    def savings_eur(self) -> float:
        """Positive: SmartLoad was cheaper."""
        return self.baseline_cost_eur - self.smartload_cost_eur + self.stored_adjustment_eur


def _grid_cost(net_kw: FloatArray, day: RealisedDay) -> FloatArray:
    imp = np.clip(net_kw, 0.0, None)
    exp = np.clip(-net_kw, 0.0, None)
    return (imp * day.import_price_eur_per_kwh - exp * day.export_price_eur_per_kwh) * day.dt_h


def _battery_ac_kw(day: RealisedDay) -> FloatArray:
    """The battery's realised AC power per slot (charge positive) from its SoC change."""
    if day.battery is None or day.battery_soc_start_kwh is None or day.battery_soc_end_kwh is None:
        return np.zeros(day.n_slots)
    delta = day.battery_soc_end_kwh - day.battery_soc_start_kwh
    b = day.battery
    return np.where(
        delta > 0,
        delta / (b.charge_efficiency * day.dt_h),
        delta * b.discharge_efficiency / day.dt_h,
    )


def _sessions(car: RealisedCar, contiguous: BoolArray) -> tuple[np.ndarray, np.ndarray]:
    """Per slot: the session's id and the slot its session ends at (exclusive; open: n + 1)."""
    n = len(car.plugged)
    plugged = np.asarray(car.plugged, dtype=bool)
    new = plugged & ~np.concatenate(([False], plugged[:-1] & contiguous[1:]))
    session = np.where(plugged, np.cumsum(new), 0)
    end = np.full(n, n + 1)
    for s in np.unique(session[session > 0]):
        slots = np.flatnonzero(session == s)
        last = int(slots[-1])
        if last < n - 1 or not car.still_plugged:
            end[slots] = last + 1
    return session, end


def replay_threshold(day: RealisedDay, limit: float) -> tuple[FloatArray, float, FloatArray]:
    """The threshold strategy on the realised slots: its grid cost per slot, the battery's end
    SoC and the energy delivered into each car."""
    n, dt = day.n_slots, day.dt_h
    cost = np.zeros(n)
    delivered = np.zeros(len(day.cars))
    sessions = [_sessions(car, day.contiguous) for car in day.cars]
    need = [
        {int(s): float(car.charged_kwh[sid == s].sum()) for s in np.unique(sid[sid > 0])}
        for car, (sid, _) in zip(day.cars, sessions, strict=True)
    ]
    b = day.battery
    soc = 0.0
    if b is not None and day.battery_soc_start_kwh is not None:
        soc = float(day.battery_soc_start_kwh[0])
    for t in range(n):
        load, pv, price = (
            float(day.load_kw[t]),
            float(day.pv_kw[t]),
            day.import_price_eur_per_kwh[t],
        )
        surplus = max(0.0, pv - load)
        waiting = [
            (int(sessions[i][1][t]), car.priority, i)
            for i, car in enumerate(day.cars)
            if car.plugged[t] and need[i].get(int(sessions[i][0][t]), 0.0) > _EPS_KWH
        ]
        ev_kw = 0.0
        for end, _, i in sorted(waiting):
            car = day.cars[i]
            left = need[i][int(sessions[i][0][t])]
            top = min(day.wallbox_max_kw, car.max_charge_kw, left / (car.charge_efficiency * dt))
            power = min(day.wallbox_max_kw, car.max_charge_kw)
            urgent = end <= n and deadline_urgent(
                left, power, car.charge_efficiency, (end - t) * dt, dt
            )
            if urgent or price <= limit + 1e-12:
                ev_kw = top
            elif surplus >= min(WALLBOX_MIN_KW, top):
                ev_kw = min(top, surplus)
            got = ev_kw * car.charge_efficiency * dt
            need[i][int(sessions[i][0][t])] = left - got
            delivered[i] += got
            break  # one wallbox: the first car in line
        net = load + ev_kw - pv
        battery_kw = 0.0
        if b is not None:
            if net < 0:
                room = max(0.0, (b.max_soc_kwh - soc) / (b.charge_efficiency * dt))
                battery_kw = min(b.max_charge_kw, room, -net)
                soc += battery_kw * b.charge_efficiency * dt
            else:
                avail = max(0.0, (soc - b.min_soc_kwh) * b.discharge_efficiency / dt)
                battery_kw = -min(b.max_discharge_kw, avail, net)
                soc += battery_kw / b.discharge_efficiency * dt
        grid = net + battery_kw
        export = day.export_price_eur_per_kwh[t]
        cost[t] = (max(grid, 0.0) * price - max(-grid, 0.0) * export) * dt
    return cost, soc, delivered


def savings(day: RealisedDay, limit: float) -> Savings:
    """SmartLoad's realised cost against the threshold baseline's on the same slots."""
    n = day.n_slots
    if n == 0:
        return Savings(
            smartload_cost_eur=0.0,
            baseline_cost_eur=0.0,
            stored_adjustment_eur=0.0,
            limit_eur_per_kwh=limit,
            value_eur_per_kwh=0.0,
            slots=0,
            vehicle_kwh=0.0,
        )
    car_ac = np.zeros(n)
    for car in day.cars:
        car_ac += np.asarray(car.charged_kwh) / (car.charge_efficiency * day.dt_h)
    net = day.load_kw + car_ac + _battery_ac_kw(day) - day.pv_kw
    smart_cost = float(_grid_cost(net, day).sum())
    base_cost, base_soc, delivered = replay_threshold(day, limit)
    value = float(np.median(day.import_price_eur_per_kwh))
    adjustment = 0.0
    soc_start, soc_end = day.battery_soc_start_kwh, day.battery_soc_end_kwh
    if day.battery is not None and soc_start is not None and soc_end is not None:
        smart_end = float(soc_start[0]) + float((soc_end - soc_start).sum())
        adjustment += (smart_end - base_soc) * day.battery.discharge_efficiency * value
    for car, got in zip(day.cars, delivered, strict=True):
        adjustment += (float(car.charged_kwh.sum()) - got) / car.charge_efficiency * value
    return Savings(
        smartload_cost_eur=smart_cost,
        baseline_cost_eur=float(base_cost.sum()),
        stored_adjustment_eur=adjustment,
        limit_eur_per_kwh=limit,
        value_eur_per_kwh=value,
        slots=n,
        vehicle_kwh=float(sum(float(c.charged_kwh.sum()) for c in day.cars)),
    )
