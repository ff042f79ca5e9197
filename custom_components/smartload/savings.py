"""Savings today: today's realised slots, replayed with the evcc-style threshold baseline.

Each cycle that begins a new slot counts the slot that just ended (``RealisedTracker.observe``):
its import and export price (the previous cycle's first slot), the house load (this cycle's
consumption reading, as the plan-error table counts it; without a consumption entity the flat
value the plan used), PV (the PV power entity's reading, else the forecast for that slot), the
battery's SoC at the slot's start and end, and per car whether it was plugged in and how much
its SoC rose. ``planner.baseline.savings`` compares SmartLoad's realised cost with the threshold
strategy's on the same slots. Slots are kept in memory for the local day (a restart starts the
count anew, ``since`` says from when); the past week's prices give the threshold's limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import numpy as np

from .const import SLOT
from .planner.baseline import (
    THRESHOLD_PERCENTILE,
    THRESHOLD_WINDOW_DAYS,
    RealisedCar,
    RealisedDay,
    Savings,
    savings,
    threshold_limit,
)
from .planner.model import BatteryInput, PlanInput, VehicleInput

COUNTED = (
    "Grid cost of today's counted slots: house load, PV, the battery (from its SoC) and the "
    "cars' charging (from their SoC) at the slots' prices, against the evcc-style threshold "
    "strategy on the same slots (each car gets the same energy per plug-in session, the battery "
    "in self-consumption); energy stored differently at the end is valued at the day's median "
    "price. Not counted: slots before the last restart or without readable inputs."
)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Slot:
    start: datetime
    import_price: float
    export_price: float
    load_kw: float
    pv_kw: float
    pv_measured: bool
    battery: BatteryInput | None
    battery_end_kwh: float | None
    cars: tuple[tuple[VehicleInput, bool, float], ...]  # the car, plugged in, kWh into it


@dataclass(slots=True)
class RealisedTracker:
    """Today's realised slots and the past week's prices (one entry)."""

    slots: dict[datetime, _Slot] = field(default_factory=dict)
    prices: dict[datetime, float] = field(default_factory=dict)
    result: Savings | None = None
    day: date | None = None
    pv_measured: bool = True
    _previous: PlanInput | None = None

    def observe(
        self, inputs: PlanInput, load_kw: float | None, pv_kw: float | None, tz: tzinfo
    ) -> None:
        """Count the slot that just ended (once, at the first cycle of the next slot)."""
        previous = self._previous
        if previous is not None and previous.start == inputs.start:
            return  # a re-plan within the slot: the state at the slot's start stays
        self._previous = inputs
        ended = inputs.start - SLOT
        if previous is None or previous.start != ended or not previous.n_slots:
            return
        after = {v.name: v for v in inputs.vehicles}
        cars = tuple(
            (v, True, max(0.0, after[v.name].soc_kwh - v.soc_kwh) if v.name in after else 0.0)
            for v in previous.vehicles
        )
        measured = pv_kw is not None
        slot = _Slot(
            start=ended,
            import_price=float(previous.import_price_eur_per_kwh[0]),
            export_price=float(previous.export_price_eur_per_kwh[0]),
            load_kw=float(load_kw) if load_kw is not None else float(previous.load_kw[0]),
            pv_kw=max(0.0, float(pv_kw)) if measured else float(previous.pv_kw[0]),
            pv_measured=measured,
            battery=previous.battery,
            battery_end_kwh=inputs.battery.soc_kwh
            if previous.battery is not None and inputs.battery is not None
            else None,
            cars=cars,
        )
        today = ended.astimezone(tz).date()
        if self.day != today:
            self.slots.clear()
            self.day = today
        self.slots[ended] = slot
        self.prices[ended] = slot.import_price
        week = ended - timedelta(days=THRESHOLD_WINDOW_DAYS)
        for when in [t for t in self.prices if t < week]:
            del self.prices[when]
        self.result = self._savings(inputs)

    def _savings(self, latest: PlanInput) -> Savings | None:
        slots = [self.slots[t] for t in sorted(self.slots)]
        if not slots:
            return None
        first = slots[0].start
        past = np.array([p for t, p in sorted(self.prices.items()) if t < first])
        if len(past) < round(timedelta(days=1) / SLOT):  # less than a day seen: as evcc would,
            published = latest.import_price_eur_per_kwh  # also the published prices ahead
            if latest.price_estimated is not None:
                published = published[~latest.price_estimated]
            past = np.concatenate([past, [s.import_price for s in slots], published])
        names = sorted({car.name for s in slots for car, _, _ in s.cars})
        still = {v.name for v in latest.vehicles}
        cars = []
        for name in names:
            seen = [c for s in slots for c, _, _ in s.cars if c.name == name]
            per_slot = [next(((p, e) for c, p, e in s.cars if c.name == name), None) for s in slots]
            cars.append(
                RealisedCar(
                    name=name,
                    charged_kwh=np.array([x[1] if x else 0.0 for x in per_slot]),
                    plugged=np.array([bool(x and x[0]) for x in per_slot]),
                    max_charge_kw=seen[-1].max_charge_kw,
                    charge_efficiency=seen[-1].charge_efficiency,
                    priority=seen[-1].priority,
                    still_plugged=name in still,
                )
            )
        battery = slots[0].battery
        soc_start = [s.battery.soc_kwh for s in slots if s.battery is not None]
        soc_end = [s.battery_end_kwh for s in slots if s.battery_end_kwh is not None]
        with_battery = len(soc_start) == len(soc_end) == len(slots)
        self.pv_measured = all(s.pv_measured for s in slots)
        day = RealisedDay(
            dt_h=SLOT.total_seconds() / 3600,
            import_price_eur_per_kwh=np.array([s.import_price for s in slots]),
            export_price_eur_per_kwh=np.array([s.export_price for s in slots]),
            load_kw=np.array([s.load_kw for s in slots]),
            pv_kw=np.array([s.pv_kw for s in slots]),
            contiguous=np.array(
                [i > 0 and s.start - slots[i - 1].start == SLOT for i, s in enumerate(slots)]
            ),
            battery=battery if with_battery else None,
            battery_soc_start_kwh=np.array(soc_start) if with_battery else None,
            battery_soc_end_kwh=np.array(soc_end) if with_battery else None,
            cars=tuple(cars),
            wallbox_max_kw=latest.wallbox_max_kw,
        )
        return savings(day, threshold_limit(past, THRESHOLD_PERCENTILE))

    def attributes(self) -> dict[str, Any]:
        """What the Savings today sensor shows beside the number."""
        s = self.result
        if s is None:
            return {"slots": 0, "counted": COUNTED}
        return {
            "smartload_cost_eur": round(s.smartload_cost_eur, 4),
            "baseline_cost_eur": round(s.baseline_cost_eur, 4),
            "stored_energy_adjustment_eur": round(s.stored_adjustment_eur, 4),
            "stored_value_eur_per_kwh": round(s.value_eur_per_kwh, 4),
            "baseline_limit_eur_per_kwh": round(s.limit_eur_per_kwh, 4),
            "vehicle_kwh": round(s.vehicle_kwh, 3),
            "slots": s.slots,
            "since": min(self.slots).isoformat() if self.slots else None,
            "pv_measured": self.pv_measured,
            "counted": COUNTED,
        }
