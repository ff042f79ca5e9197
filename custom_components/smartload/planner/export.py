"""The plan as plain JSON-friendly data: one document behind the panel, the HTTP view and actions.

``export_plan`` turns a ``Plan`` with its ``PlanInput`` into a dict of plain values (str, float,
bool, None, lists and dicts): per slot its start and end, the import/export price, the PV forecast
(with its p10/p90 band where the source gives one), the load forecast, grid flows, the battery's
power, SoC, mode and minimum, each car's power and SoC up to its departure, and the slot's why
(translation key, parameters and the sentence in the requested language). ``PastLog`` keeps the
last 24 h of what really happened beside what was planned, one record per slot. ``apex_series``
gives the forecast as flat lists for apexcharts-card's ``data_generator``.

No Home Assistant import; times are ISO 8601 strings in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
import math
import re
from typing import Any

import numpy as np

from .explain import render
from .model import Decision, FloatArray, Plan, PlanInput, VehicleInput, Why

EXPORT_VERSION = 1
PAST_HOURS = 24  # how much of the past PastLog keeps


def _num(value: float | None, digits: int = 3) -> float | None:
    """A rounded float, or None for None/NaN/inf (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    if not math.isfinite(value):
        return None
    rounded = round(value, digits)
    return 0.0 if rounded == 0 else rounded  # no "-0.0"


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def _pct(kwh: float | None, capacity_kwh: float) -> float | None:
    if kwh is None or capacity_kwh <= 0:
        return None
    return _num(100.0 * kwh / capacity_kwh, 1)


def _at(values: FloatArray | None, slot: int, digits: int = 3) -> float | None:
    if values is None or slot >= len(values):
        return None
    return _num(float(values[slot]), digits)


def why_dict(why: Why, lang: str, tz: tzinfo | None) -> dict[str, Any]:
    """A slot's reason: key, parameters and the sentence in ``lang`` (en/de)."""
    params = {k: (v if isinstance(v, str) else _num(v, 4)) for k, v in why.params.items()}
    return {"key": why.key, "params": params, "text": render(why, lang, tz)}


def _departure_slot(car: VehicleInput, n: int) -> int:
    """The first slot the car is gone (n: it stays beyond the horizon)."""
    return n if car.departure_slot is None else min(car.departure_slot, n)


def slot_range(
    inputs: PlanInput, start: datetime | None = None, end: datetime | None = None
) -> range:
    """The slots that overlap ``[start, end)`` (either bound open when None)."""
    n = inputs.n_slots
    step = timedelta(minutes=inputs.slot_minutes)
    first = 0
    if start is not None:
        first = max(0, min(n, math.floor((start - inputs.start) / step)))
    last = n
    if end is not None:
        last = max(0, min(n, math.ceil((end - inputs.start) / step)))
    return range(first, max(first, last))


def export_plan(
    inputs: PlanInput,
    plan: Plan,
    *,
    lang: str = "en",
    tz: tzinfo | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    past: Iterable[PastSlot] = (),
    decision: Decision | None = None,
    configured_min_soc_kwh: float | None = None,
    updated: datetime | None = None,
) -> dict[str, Any]:
    """The plan (optionally only the slots overlapping ``[start, end)``) as plain data."""
    n = min(inputs.n_slots, plan.n_slots)
    battery = inputs.battery
    cap = battery.capacity_kwh if battery is not None else 0.0
    cars = {car.name: car for car in inputs.vehicles}
    slots = [
        _slot(inputs, plan, t, lang=lang, tz=tz, cars=cars)
        for t in slot_range(inputs, start, end)
        if t < n
    ]
    doc: dict[str, Any] = {
        "version": EXPORT_VERSION,
        "status": plan.status.value,
        "message": plan.message,
        "language": lang,
        "start": _iso(plan.start),
        "end": _iso(inputs.slot_start(n)),
        "slot_minutes": plan.slot_minutes,
        "updated": _iso(updated) if updated is not None else None,
        "cost_eur": _num(plan.cost_eur, 4),
        "price_limits": {
            "battery": _num(plan.battery_price_limit_eur_per_kwh, 4),
            "vehicles": {v.name: _num(v.price_limit_eur_per_kwh, 4) for v in plan.vehicles},
        },
        "battery": None,
        "vehicles": [],
        "now": None,
        "slots": slots,
        "past": [p.as_dict() for p in past],
    }
    if battery is not None:
        doc["battery"] = {
            "capacity_kwh": _num(cap, 2),
            "soc_pct": _pct(battery.soc_kwh, cap),
            "min_soc_pct": _pct(battery.min_soc_kwh, cap),
            "configured_min_soc_pct": _pct(configured_min_soc_kwh, cap)
            if configured_min_soc_kwh is not None
            else _pct(battery.min_soc_kwh, cap),
            "max_soc_pct": _pct(battery.max_soc_kwh, cap),
        }
    for car in inputs.vehicles:
        vplan = plan.vehicle(car.name)
        dep = car.departure_slot
        doc["vehicles"].append(
            {
                "name": car.name,
                "capacity_kwh": _num(car.capacity_kwh, 2),
                "soc_pct": _pct(car.soc_kwh, car.capacity_kwh),
                "target_soc_pct": _pct(car.target_soc_kwh, car.capacity_kwh),
                "plugged_from": _iso(inputs.slot_start(car.plugged_from_slot)),
                "departure": _iso(inputs.slot_start(dep)) if dep is not None else None,
                "soc_at_departure_pct": _pct(vplan.soc_at_departure_kwh, car.capacity_kwh)
                if vplan is not None
                else None,
                "shortfall_kwh": _num(vplan.shortfall_kwh) if vplan is not None else None,
                "price_limit": _num(vplan.price_limit_eur_per_kwh, 4)
                if vplan is not None
                else None,
            }
        )
    if decision is not None:
        doc["now"] = {
            "loadpoint_mode": decision.loadpoint_mode.value,
            "active_vehicle": decision.active_vehicle,
            "vehicle_charge_kw": _num(decision.vehicle_charge_kw),
            "smart_cost_limit": _num(decision.smart_cost_limit_eur_per_kwh, 4),
            "battery_mode": decision.battery_mode.value,
            "battery_grid_charge_limit": _num(decision.battery_grid_charge_limit_eur_per_kwh, 4),
            "battery_discharge_locked": decision.battery_discharge_locked,
            "why": why_dict(decision.why, lang, tz),
        }
    return doc


def _slot(
    inputs: PlanInput,
    plan: Plan,
    t: int,
    *,
    lang: str,
    tz: tzinfo | None,
    cars: Mapping[str, VehicleInput],
) -> dict[str, Any]:
    battery = inputs.battery
    estimated = plan.price_estimated if len(plan.price_estimated) > t else None
    slot: dict[str, Any] = {
        "start": _iso(inputs.slot_start(t)),
        "end": _iso(inputs.slot_start(t + 1)),
        "import_price": _at(inputs.import_price_eur_per_kwh, t, 4),
        "export_price": _at(inputs.export_price_eur_per_kwh, t, 4),
        "price_estimated": bool(estimated[t]) if estimated is not None else False,
        "pv_kw": _at(inputs.pv_kw, t),
        "pv_p10_kw": _at(inputs.pv_p10_kw, t),
        "pv_p90_kw": _at(inputs.pv_p90_kw, t),
        "load_kw": _at(inputs.load_kw, t),
        "grid_import_kw": _at(plan.grid_import_kw, t),
        "grid_export_kw": _at(plan.grid_export_kw, t),
        "pv_curtailed_kw": _at(plan.pv_curtailed_kw, t),
        "battery": None,
        "vehicles": {},
        "why": why_dict(plan.why[t], lang, tz) if t < len(plan.why) else None,
    }
    if battery is not None:
        cap = battery.capacity_kwh
        slot["battery"] = {
            "charge_kw": _at(plan.battery_charge_kw, t),
            "discharge_kw": _at(plan.battery_discharge_kw, t),
            "soc_pct": _pct(float(plan.battery_soc_kwh[t]), cap),  # at the slot's end
            "mode": plan.battery_mode[t].value if t < len(plan.battery_mode) else None,
            "min_soc_pct": _pct(battery.min_soc_kwh, cap),
        }
    for vplan in plan.vehicles:
        car = cars.get(vplan.name)
        if car is None:
            continue
        here = car.plugged_from_slot <= t < _departure_slot(car, inputs.n_slots)
        slot["vehicles"][vplan.name] = {
            "plugged": here,
            "charge_kw": _at(vplan.charge_kw, t) if here else 0.0,
            # at the slot's end, while the car is there
            "soc_pct": _pct(float(vplan.soc_kwh[t]), car.capacity_kwh) if here else None,
        }
    return slot


def window(
    doc: Mapping[str, Any], start: datetime | None = None, end: datetime | None = None
) -> dict[str, Any]:
    """An exported document with only the slots overlapping ``[start, end)``."""
    slots = doc.get("slots") or []
    if (start is None and end is None) or not slots:
        return dict(doc)
    first = datetime.fromisoformat(slots[0]["start"])
    step = timedelta(minutes=int(doc["slot_minutes"]))
    lo = 0 if start is None else max(0, math.floor((start - first) / step))
    hi = len(slots) if end is None else max(0, math.ceil((end - first) / step))
    return {**doc, "slots": slots[lo : max(lo, hi)]}


def explain_at(
    inputs: PlanInput,
    plan: Plan,
    when: datetime,
    *,
    lang: str = "en",
    tz: tzinfo | None = None,
) -> dict[str, Any] | None:
    """The slot that contains ``when`` (its data and why), or None outside the plan."""
    step = timedelta(minutes=inputs.slot_minutes)
    t = math.floor((when - inputs.start) / step)
    if not 0 <= t < min(inputs.n_slots, plan.n_slots):
        return None
    return _slot(inputs, plan, t, lang=lang, tz=tz, cars={c.name: c for c in inputs.vehicles})


# -------------------------------------------------------------------------- the past 24 hours


@dataclass(frozen=True, kw_only=True, slots=True)
class PastVehicle:
    """One car in a past slot: measured and planned SoC at the slot's start, the power decided."""

    name: str
    soc_pct: float | None
    planned_soc_pct: float | None
    charge_kw: float | None


@dataclass(frozen=True, kw_only=True, slots=True)
class PastSlot:
    """What happened in one past slot beside what the plan in force before it expected.

    ``*_soc_pct`` are at the slot's start: measured by the cycle at the slot's start, and as the
    previous cycle's plan expected it. Load and PV are the readings at that cycle (realised) and
    the previous cycle's forecast for the slot (planned). Mode and car power are what was decided
    for the slot.
    """

    start: datetime
    import_price: float | None
    load_kw: float | None
    planned_load_kw: float | None
    pv_kw: float | None
    planned_pv_kw: float | None
    battery_soc_pct: float | None
    planned_battery_soc_pct: float | None
    battery_mode: str | None
    vehicles: tuple[PastVehicle, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "start": _iso(self.start),
            "import_price": self.import_price,
            "load_kw": self.load_kw,
            "planned_load_kw": self.planned_load_kw,
            "pv_kw": self.pv_kw,
            "planned_pv_kw": self.planned_pv_kw,
            "battery_soc_pct": self.battery_soc_pct,
            "planned_battery_soc_pct": self.planned_battery_soc_pct,
            "battery_mode": self.battery_mode,
            "vehicles": {
                v.name: {
                    "soc_pct": v.soc_pct,
                    "planned_soc_pct": v.planned_soc_pct,
                    "charge_kw": v.charge_kw,
                }
                for v in self.vehicles
            },
        }


class PastLog:
    """The last ``hours`` of slots, one record each (at most 4 per hour at 15 min).

    ``observe`` is called once per cycle with that cycle's inputs and plan. The first cycle in a
    slot fixes what was measured and planned at its start (re-plans later in the slot do not
    move it); the decision of the last cycle in the slot is what was executed.
    """

    def __init__(self, hours: float = PAST_HOURS) -> None:
        """Empty."""
        self.span = timedelta(hours=hours)
        self._slots: dict[datetime, PastSlot] = {}
        self._previous: tuple[PlanInput, Plan] | None = None

    def __len__(self) -> int:
        """Number of slots kept."""
        return len(self._slots)

    def slots(self, since: datetime | None = None) -> list[PastSlot]:
        """The records in time order (optionally from ``since``)."""
        return [s for t, s in sorted(self._slots.items()) if since is None or t >= since]

    def observe(
        self,
        inputs: PlanInput,
        plan: Plan | None,
        *,
        load_kw: float | None = None,
        pv_kw: float | None = None,
    ) -> None:
        """Record the slot at ``inputs.start``; forget what is older than the span."""
        t = inputs.start
        known = self._slots.get(t)
        battery = inputs.battery
        planned = self._planned(t)
        cars = []
        for car in inputs.vehicles:
            vplan = plan.vehicle(car.name) if plan is not None else None
            here = car.plugged_from_slot == 0
            old = next((v for v in known.vehicles if v.name == car.name), None) if known else None
            cars.append(
                PastVehicle(
                    name=car.name,
                    soc_pct=old.soc_pct
                    if old is not None
                    else (_pct(car.soc_kwh, car.capacity_kwh) if here else None),
                    planned_soc_pct=old.planned_soc_pct
                    if old is not None
                    else planned.get(("car", car.name)),
                    charge_kw=_at(vplan.charge_kw, 0) if vplan is not None and here else 0.0,
                )
            )
        self._slots[t] = PastSlot(
            start=t,
            import_price=_at(inputs.import_price_eur_per_kwh, 0, 4),
            load_kw=known.load_kw if known else _num(load_kw),
            planned_load_kw=known.planned_load_kw if known else planned.get(("load", "")),
            pv_kw=known.pv_kw if known else _num(pv_kw),
            planned_pv_kw=known.planned_pv_kw if known else planned.get(("pv", "")),
            battery_soc_pct=known.battery_soc_pct
            if known
            else (_pct(battery.soc_kwh, battery.capacity_kwh) if battery is not None else None),
            planned_battery_soc_pct=known.planned_battery_soc_pct
            if known
            else planned.get(("battery", "")),
            battery_mode=plan.battery_mode[0].value
            if plan is not None and plan.battery_mode
            else None,
            vehicles=tuple(cars),
        )
        if plan is not None:
            self._previous = (inputs, plan)
        for old_t in [s for s in self._slots if s <= t - self.span]:
            del self._slots[old_t]

    def _planned(self, t: datetime) -> dict[tuple[str, str], float | None]:
        """What the previous cycle's plan expected at ``t`` (its slot index k: start of slot k)."""
        if self._previous is None:
            return {}
        inputs, plan = self._previous
        step = timedelta(minutes=inputs.slot_minutes)
        k = (t - inputs.start) / step
        if k != int(k) or not 1 <= k < min(inputs.n_slots, plan.n_slots):
            return {}
        k = int(k)
        found: dict[tuple[str, str], float | None] = {
            ("load", ""): _at(inputs.load_kw, k),
            ("pv", ""): _at(inputs.pv_kw, k),
        }
        if inputs.battery is not None:
            found["battery", ""] = _pct(
                float(plan.battery_soc_kwh[k - 1]), inputs.battery.capacity_kwh
            )
        for car in inputs.vehicles:
            vplan = plan.vehicle(car.name)
            if vplan is not None and car.plugged_from_slot < k <= _departure_slot(
                car, inputs.n_slots
            ):
                found["car", car.name] = _pct(float(vplan.soc_kwh[k - 1]), car.capacity_kwh)
        return found


# ------------------------------------------------------------------------------ apexcharts-card


def slug(name: str) -> str:
    """A car's name as an attribute-key part: lower case, [a-z0-9_] only."""
    text = re.sub(r"[^a-z0-9]+", "_", name.casefold()).strip("_")
    return text or "car"


def apex_series(inputs: PlanInput, plan: Plan) -> dict[str, Any]:
    """The forecast as flat lists, one value per slot start, for ``data_generator``.

    ``times`` holds each slot's start (ISO 8601); every other list has the same length, one
    value per time: prices (EUR/kWh), PV and load (kW), grid import (kW), the battery's SoC at
    the slot's start and its minimum (%). ``cars`` maps a key per car (``slug`` of its name) to
    its ``name``, ``power_kw`` (planned charge power) and ``soc`` (% at the slot's start while
    plugged in, up to its departure; else null), so the set of attribute names is fixed.
    """
    n = min(inputs.n_slots, plan.n_slots)
    attrs: dict[str, Any] = {
        "times": [_iso(inputs.slot_start(t)) for t in range(n)],
        "import_price": [_at(inputs.import_price_eur_per_kwh, t, 4) for t in range(n)],
        "export_price": [_at(inputs.export_price_eur_per_kwh, t, 4) for t in range(n)],
        "pv_kw": [_at(inputs.pv_kw, t) for t in range(n)],
        "load_kw": [_at(inputs.load_kw, t) for t in range(n)],
        "grid_import_kw": [_at(plan.grid_import_kw, t) for t in range(n)],
        "battery_soc": [],
        "battery_min_soc": [],
    }
    if (battery := inputs.battery) is not None:
        cap = battery.capacity_kwh
        soc = np.concatenate(([battery.soc_kwh], plan.battery_soc_kwh[: max(n - 1, 0)]))
        attrs["battery_soc"] = [_pct(float(x), cap) for x in soc[:n]]
        attrs["battery_min_soc"] = [_pct(battery.min_soc_kwh, cap)] * n
    cars: dict[str, dict[str, Any]] = {}
    for car in inputs.vehicles:
        vplan = plan.vehicle(car.name)
        if vplan is None:
            continue
        key = slug(car.name)
        while key in cars:
            key += "_"
        dep = _departure_slot(car, n)
        soc = np.concatenate(([car.soc_kwh], vplan.soc_kwh[: max(n - 1, 0)]))
        cars[key] = {
            "name": car.name,
            "power_kw": [
                _at(vplan.charge_kw, t) if car.plugged_from_slot <= t < dep else 0.0
                for t in range(n)
            ],
            "soc": [
                _pct(float(soc[t]), car.capacity_kwh) if car.plugged_from_slot <= t <= dep else None
                for t in range(n)
            ],
        }
    attrs["cars"] = cars
    return attrs
