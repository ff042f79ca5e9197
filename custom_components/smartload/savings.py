"""Savings today: today's realised slots, replayed with the evcc-style threshold baseline.

Each cycle that begins a new slot counts the slot that just ended (``RealisedTracker.observe``):
its import and export price (the previous cycle's first slot), the house load (this cycle's
consumption reading, as the plan-error table counts it; without a consumption entity the flat
value the plan used), PV (the PV power entity's reading, else the forecast for that slot), the
battery's SoC at the slot's start and end, and per car whether it was plugged in and how much
its SoC rose. ``planner.baseline.savings`` compares SmartLoad's realised cost with the threshold
strategy's on the same slots. Slots are kept for the local day (``since`` says from when; a
Store that cannot be read starts the count anew); the past week's prices give the threshold's
limit. Both are kept in a ``Store`` (saved a minute after a change, flushed
when the entry unloads), so a restart keeps the day's count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
import logging
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
import numpy as np

from .const import DOMAIN, SLOT
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
from .storage import async_load_store

_LOGGER = logging.getLogger(__name__)
STORAGE_VERSION: Final = 1
SAVE_DELAY_S: Final = 60

COUNTED = (
    "Grid cost of today's counted slots: house load, PV, the battery (from its SoC) and the "
    "cars' charging (from their SoC) at the slots' prices, against the evcc-style threshold "
    "strategy on the same slots (each car gets the same energy per plug-in session, the battery "
    "in self-consumption); energy stored differently at the end is valued at the day's median "
    "price. Not counted: slots while Home Assistant was down or the inputs were unreadable."
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


def _slot_to_dict(slot: _Slot) -> dict[str, Any]:
    b = slot.battery
    return {
        "start": slot.start.isoformat(),
        "import_price": slot.import_price,
        "export_price": slot.export_price,
        "load_kw": slot.load_kw,
        "pv_kw": slot.pv_kw,
        "pv_measured": slot.pv_measured,
        "battery": None
        if b is None
        else [
            b.capacity_kwh,
            b.soc_kwh,
            b.min_soc_kwh,
            b.max_soc_kwh,
            b.max_charge_kw,
            b.max_discharge_kw,
            b.charge_efficiency,
            b.discharge_efficiency,
        ],
        "battery_end_kwh": slot.battery_end_kwh,
        "cars": [
            [c.name, c.max_charge_kw, c.charge_efficiency, c.priority, plugged, kwh]
            for c, plugged, kwh in slot.cars
        ],
    }


def _slot_from_dict(raw: dict[str, Any]) -> _Slot:
    b = raw["battery"]
    battery = None
    if b is not None:
        cap, soc, low, high, charge, discharge, eta_c, eta_d = (float(x) for x in b)
        battery = BatteryInput(
            capacity_kwh=cap,
            soc_kwh=soc,
            min_soc_kwh=low,
            max_soc_kwh=high,
            max_charge_kw=charge,
            max_discharge_kw=discharge,
            charge_efficiency=eta_c,
            discharge_efficiency=eta_d,
        )
    cars = tuple(
        (
            VehicleInput(
                name=str(name),
                capacity_kwh=0.0,
                soc_kwh=0.0,
                target_soc_kwh=0.0,
                max_charge_kw=float(kw),
                charge_efficiency=float(eta),
                priority=int(priority),
            ),
            bool(plugged),
            float(kwh),
        )
        for name, kw, eta, priority, plugged, kwh in raw["cars"]
    )
    end = raw["battery_end_kwh"]
    start = dt_util.parse_datetime(raw["start"])
    if start is None:
        raise ValueError(raw["start"])
    return _Slot(
        start=start,
        import_price=float(raw["import_price"]),
        export_price=float(raw["export_price"]),
        load_kw=float(raw["load_kw"]),
        pv_kw=float(raw["pv_kw"]),
        pv_measured=bool(raw["pv_measured"]),
        battery=battery,
        battery_end_kwh=None if end is None else float(end),
        cars=cars,
    )


class RealisedTracker:
    """Today's realised slots and the past week's prices (one entry), kept in a Store."""

    def __init__(self, hass: HomeAssistant | None = None, entry_id: str = "") -> None:
        """Nothing counted yet (``async_load`` reads the Store)."""
        self.slots: dict[datetime, _Slot] = {}
        self.prices: dict[datetime, float] = {}
        self.result: Savings | None = None
        self.day: date | None = None
        self.pv_measured = True
        self._previous: PlanInput | None = None
        self._due: PlanInput | None = None  # a slot was counted: the sum is due
        self._dirty = False
        self.store: Store[dict[str, Any]] | None = (
            Store(hass, STORAGE_VERSION, f"{DOMAIN}.savings.{entry_id}")
            if hass is not None
            else None
        )

    async def async_load(self) -> None:
        """Read today's slots and the week's prices (unreadable: start anew, with a warning)."""
        if self.store is None:
            return
        raw = await async_load_store(
            self.store.hass, self.store, what="savings count", valid=lambda d: isinstance(d, dict)
        )
        try:
            if raw:
                self.day = date.fromisoformat(raw["day"]) if raw.get("day") else None
                self.slots = {s.start: s for s in map(_slot_from_dict, raw.get("slots", []))}
                self.prices = {
                    when: float(p)
                    for t, p in raw.get("prices", {}).items()
                    if (when := dt_util.parse_datetime(t)) is not None
                }
        except Exception:  # a damaged file must not stop the entry
            _LOGGER.warning("SmartLoad's savings count could not be read; it starts anew")
            self.slots, self.prices, self.day = {}, {}, None

    def _data(self) -> dict[str, Any]:
        self._dirty = False
        return {
            "day": self.day.isoformat() if self.day else None,
            "slots": [_slot_to_dict(self.slots[t]) for t in sorted(self.slots)],
            "prices": {t.isoformat(): p for t, p in sorted(self.prices.items())},
        }

    async def async_flush(self) -> None:
        """Write a pending change now (the entry unloads)."""
        if self.store is not None and self._dirty:
            await self.store.async_save(self._data())

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
        self._due = inputs  # the sum itself runs in the executor (async_compute)
        if self.store is not None:
            self._dirty = True
            self.store.async_delay_save(self._data, SAVE_DELAY_S)

    async def async_compute(self, hass: HomeAssistant) -> None:
        """Replay the day with the threshold baseline after a newly counted slot, in the
        executor (a few ms of numpy per slot: not in the event loop)."""
        latest, self._due = self._due, None
        if latest is not None:  # copies: the executor never sees a dict the loop changes
            self.result = await hass.async_add_executor_job(
                self._savings, latest, dict(self.slots), dict(self.prices)
            )

    def _savings(
        self, latest: PlanInput, by_start: dict[datetime, _Slot], prices: dict[datetime, float]
    ) -> Savings | None:
        slots = [by_start[t] for t in sorted(by_start)]
        if not slots:
            return None
        first = slots[0].start
        past = np.array([p for t, p in sorted(prices.items()) if t < first])
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
