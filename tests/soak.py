"""The soak harness: the real integration through N simulated days of 15-min cycles.

A home from the shared data (``/work/shared/data`` or a slice of it in ``tests/fixtures/sim``):
real day-ahead prices published the way a price sensor publishes them (today's at midnight,
tomorrow's at 13:00 local), a Solcast-like PV forecast (the real PV shape with a day's error), the
BDEW household load as the house power, two cars that come and go on the trip schedule and share
one wallbox, and evcc's controls as template entities backed by input helpers. Each slot the
stand-ins get the "real" values, the clock moves on (``freezer`` + ``async_fire_time_changed``) and
SmartLoad's own cycle runs; then the slot's physics follows what the actuators were set to (the
loadpoint mode and smart cost limit, the battery's grid-charge limit and discharge lock), so the
next cycle plans from the consequences of the last one.

Used by ``tests/test_soak.py`` (a short run in CI) and ``script/bench --soak --days N``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import gc
import json
import logging
import math
from pathlib import Path
import resource
import time
from types import MappingProxyType
from typing import Any
from unittest.mock import NonCallableMock

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, storage
from homeassistant.util import dt as dt_util
import numpy as np
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from benchmarks.simulate.data import ReplayData, load_replay
from custom_components.smartload.const import (
    CONF_AUTOMATION,
    CONF_CYCLE_MINUTES,
    CONF_HORIZON_HOURS,
    CONF_PV_POWER_ENTITY,
    CONF_VEHICLE_CAPACITY_KWH,
    CONF_VEHICLE_DAILY_USE_KWH,
    CONF_VEHICLE_DEPARTURE,
    CONF_VEHICLE_MAX_CHARGE_KW,
    CONF_VEHICLE_PLUGGED_ENTITY,
    CONF_VEHICLE_PRIORITY,
    CONF_VEHICLE_SOC_ENTITY,
    CONF_VEHICLE_TARGET_SOC,
    DOMAIN,
    STATE_CHANGE_DEBOUNCE_S,
    SUBENTRY_VEHICLE,
)
from custom_components.smartload.coordinator import TICK_DELAY, SmartLoadCoordinator

from .conftest import (
    BATTERY_SOC,
    HOME_DATA,
    HOUSE,
    PRICE,
    PV,
    setup_actuators,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_DATA = ROOT / "tests" / "fixtures" / "sim"
SHARED_DATA = Path("/work/shared/data")

# Environment of a longer run (script/bench --soak): days, first local day, data, report file.
ENV_DAYS = "SMARTLOAD_SOAK_DAYS"
ENV_START = "SMARTLOAD_SOAK_START"
ENV_DATA = "SMARTLOAD_SOAK_DATA"  # "shared" or "fixture"
ENV_REPORT = "SMARTLOAD_SOAK_REPORT"

PV_POWER = "sensor.pv_power"
SLOT = timedelta(minutes=15)
DT_H = 0.25
PV_KWP = 9.9
# the reference home's battery (tests/conftest.HOME_DATA: 10 kWh, 5 kW, 90 % round trip)
BATTERY_KWH = 10.0
BATTERY_KW = 5.0
BATTERY_ONE_WAY = math.sqrt(0.9)
WALLBOX_KW = 11.0
MIN_CHARGE_KW = 1.4  # evcc's 6 A on one phase: below this PV surplus does not start a car
CAR_EFFICIENCY = 0.9


def tariff_eur_per_kwh(spot_eur_per_mwh: float) -> float:
    """The shared data's German dynamic tariff, all-in (shared data README)."""
    return round((spot_eur_per_mwh / 1000 + 0.165) * 1.19, 5)


@dataclass(slots=True)
class Car:
    """One car of the trip schedule as the stand-in entities show it."""

    name: str
    capacity_kwh: float
    soc_kwh: float
    departure: str  # the configured usual departure (local)
    priority: int
    daily_use_kwh: float
    trips: list[tuple[datetime, datetime, float]] = field(default_factory=list)

    @property
    def slug(self) -> str:
        """Entity id part."""
        return self.name.lower()

    @property
    def soc_entity(self) -> str:
        """The car's SoC sensor."""
        return f"sensor.{self.slug}_soc"

    @property
    def plugged_entity(self) -> str:
        """The car's plugged-in sensor."""
        return f"binary_sensor.{self.slug}_plugged"

    def trip_at(self, when: datetime) -> tuple[datetime, datetime, float] | None:
        """The trip the car is on at ``when`` (None: at home)."""
        return next((t for t in self.trips if t[0] <= when < t[1]), None)


@dataclass(kw_only=True, slots=True)
class SoakReport:
    """What a soak measured (``as_json``: the object ``script/bench --soak`` prints)."""

    days: int
    cycles: int = 0  # 15-min slots run through
    plans: int = 0  # coordinator refreshes (slot ticks and debounced re-plans)
    exceptions: int = 0  # log records at ERROR or above, or with a traceback
    error_lines: list[str] = field(default_factory=list)
    warnings: int = 0
    warning_lines: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    writes: int = 0
    rss_start_mb: float = 0.0
    rss_end_mb: float = 0.0
    rss_peak_mb: float = 0.0
    entities_start: int = 0
    entities_end: int = 0
    states_start: int = 0
    states_end: int = 0
    listeners_start: int = 0
    listeners_end: int = 0
    timers_start: int = 0
    timers_end: int = 0
    timers_by_day: list[int] = field(default_factory=list)  # at each day's end
    store_bytes_day1: int = 0
    store_bytes_max: int = 0
    store_bytes_end: int = 0
    price_memory_slots_max: int = 0
    unloaded: bool = False
    wall_s: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """The benchmark's JSON object (the agreed keys first)."""
        return {
            "days": self.days,
            "cycles": self.cycles,
            "exceptions": self.exceptions,
            "rss_start_mb": self.rss_start_mb,
            "rss_end_mb": self.rss_end_mb,
            "entities_start": self.entities_start,
            "entities_end": self.entities_end,
            "store_bytes_end": self.store_bytes_end,
            "plans": self.plans,
            "rss_peak_mb": self.rss_peak_mb,
            "listeners_start": self.listeners_start,
            "listeners_end": self.listeners_end,
            "timers_start": self.timers_start,
            "timers_end": self.timers_end,
            "timers_by_day": self.timers_by_day,
            "store_bytes_day1": self.store_bytes_day1,
            "store_bytes_max": self.store_bytes_max,
            "statuses": dict(sorted(self.statuses.items())),
            "writes": self.writes,
            "warnings": self.warnings,
            "wall_s": round(self.wall_s, 1),
            "error_lines": self.error_lines[:5],
            "warning_lines": dict(self.warning_lines.most_common(5)),
        }


class _LogCounter(logging.Handler):
    """Counts what the log shows while the soak runs."""

    def __init__(self, report: SoakReport) -> None:
        super().__init__(level=logging.WARNING)
        self.report = report

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "asyncio" and record.levelno < logging.ERROR:
            return  # debug-mode "slow callback" notes: the frozen clock jumps by whole slots
        if record.levelno >= logging.ERROR or record.exc_info:
            self.report.exceptions += 1
            self.report.error_lines.append(f"{record.name}: {record.getMessage()}"[:300])
        else:
            self.report.warnings += 1
            self.report.warning_lines[f"{record.name}: {record.msg}"[:200]] += 1


def _wall() -> float:
    """Seconds of real time (freezegun moves the clocks HA reads, not this one)."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def _forget_mocked_writes() -> None:
    """The test harness replaces Store writes with an autospecced mock, and a mock keeps every
    call's arguments — each Store's whole data at every save. A real Home Assistant writes them
    to disk; forgetting the calls keeps the memory figure about SmartLoad, not the harness."""
    writer = storage.Store._async_write_data
    recorder = getattr(writer, "mock", writer)
    if isinstance(recorder, NonCallableMock):
        recorder.reset_mock()


def rss_mb() -> float:
    """The process's resident memory now (MB)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return peak_rss_mb()


def peak_rss_mb() -> float:
    """The process's peak resident memory (MB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def replay_data(source: str = "fixture") -> ReplayData:
    """The shared year (``shared``, when present) or the committed 10-day May slice."""
    if source == "shared" and SHARED_DATA.is_dir():
        return load_replay()
    return load_replay(
        FIXTURE_DATA / "prices_day_ahead_de_lu_2024_may10d.csv",
        FIXTURE_DATA / "pv_germany_national_2024_may10d.csv",
        FIXTURE_DATA / "household_load_bdew_h25_4000kwh_2024_may10d.csv",
        FIXTURE_DATA / "ev_trips_two_cars_2024_may10d.csv",
    )


class SoakHome:
    """The simulated home around a real SmartLoad entry."""

    def __init__(
        self,
        hass: HomeAssistant,
        freezer: FrozenDateTimeFactory,
        storage: dict[str, Any],
        data: ReplayData,
        start: datetime,
    ) -> None:
        """``start``: the first slot (UTC, on the data's grid); ``storage``: ``hass_storage``."""
        self.hass = hass
        self.freezer = freezer
        self.storage = storage
        self.data = data
        self.slot = data.slot_of(start)
        if not 0 <= self.slot < data.n_slots:
            raise ValueError(f"{start} is not in the data")
        self.cars = [
            Car("Kia", 77.0, 40.0, "07:00:00", 1, 12.0),
            Car("Zoe", 52.0, 30.0, "08:00:00", 2, 5.0),
        ]
        for trip in data.trips:
            for car in self.cars:
                if car.name == trip.vehicle:
                    car.trips.append((trip.depart, trip.ret, trip.energy_kwh))
        self.at_wallbox: Car | None = None
        self.battery_kwh = 5.0
        rng = np.random.default_rng(2024)
        # each day's PV forecast error (a cloudy day forecast as sunny and the reverse)
        self.pv_day_factor = rng.uniform(0.75, 1.25, size=data.n_slots // 96 + 3)
        self.entry: MockConfigEntry | None = None
        self._published: tuple[int, bool] | None = None  # (local day ordinal, tomorrow shown)

    # -- time and data ------------------------------------------------------------------------
    @property
    def now(self) -> datetime:
        """The current slot's start (UTC)."""
        return self.data.time_of(self.slot)

    def _price(self, slot: int) -> float:
        return tariff_eur_per_kwh(float(self.data.spot_eur_per_mwh[slot]))

    def _pv_kw(self, slot: int) -> float:
        return float(self.data.pv_kw_per_kwp[slot]) * PV_KWP

    def _local_day_slots(self, day_start_local: datetime) -> range:
        """The data's slots of one local day (92, 96 or 100 of them)."""
        end_local = (day_start_local + timedelta(days=1, hours=2)).replace(hour=0)
        first = self.data.slot_at_or_after(day_start_local.astimezone(dt_util.UTC))
        last = self.data.slot_at_or_after(end_local.astimezone(dt_util.UTC))
        return range(max(0, first), min(self.data.n_slots, last))

    # -- the stand-ins ------------------------------------------------------------------------
    def _price_entries(self, slots: range) -> list[dict[str, Any]]:
        return [
            {
                "start": self.data.time_of(s).isoformat(),
                "end": self.data.time_of(s + 1).isoformat(),
                "value": self._price(s),
            }
            for s in slots
        ]

    def _publish_prices(self) -> None:
        """Today's prices from midnight, tomorrow's from 13:00 local (the day-ahead auction)."""
        local = dt_util.as_local(self.now)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        tomorrow_known = local.hour >= 13
        key = (midnight.toordinal(), tomorrow_known)
        attributes: dict[str, Any] | None = None
        if key != self._published:
            self._published = key
            tomorrow = (midnight + timedelta(days=1, hours=2)).replace(hour=0)
            attributes = {
                "unit_of_measurement": "EUR/kWh",
                "raw_today": self._price_entries(self._local_day_slots(midnight)),
                "raw_tomorrow": self._price_entries(self._local_day_slots(tomorrow))
                if tomorrow_known
                else [],
            }
        state = self.hass.states.get(PRICE)
        if attributes is None:
            assert state is not None
            attributes = dict(state.attributes)
        # the state is the current price: it changes at each hour (or 15 min) like a price sensor
        self.hass.states.async_set(PRICE, str(self._price(self.slot)), attributes)

    def _publish_pv_forecast(self) -> None:
        """A Solcast-like forecast (half-hourly kW) from today's local midnight, 3 days, hourly."""
        if self.now.minute != 0 and self.hass.states.get(PV) is not None:
            return
        local = dt_util.as_local(self.now)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        first = self.data.slot_at_or_after(midnight.astimezone(dt_util.UTC))
        rows = []
        for s in range(max(0, first), min(self.data.n_slots - 1, first + 3 * 96), 2):
            factor = float(self.pv_day_factor[s // 96])
            kw = (self._pv_kw(s) + self._pv_kw(s + 1)) / 2 * factor
            rows.append({"period_start": self.data.time_of(s).isoformat(), "pv_estimate": kw})
        today = sum(r["pv_estimate"] for r in rows[:48]) * 0.5
        self.hass.states.async_set(
            PV,
            f"{today:.2f}",
            {"unit_of_measurement": "kWh", "detailedForecast": rows},
        )

    def _publish_cars(self) -> None:
        """Cars on a trip come back with less energy; one wallbox: one car plugged at a time."""
        now = self.now
        for car in self.cars:
            trip = car.trip_at(now)
            if trip is not None and self.at_wallbox is car:
                self.at_wallbox = None  # leaves
        for car in self.cars:
            # a return in this slot: the trip's energy is gone
            for _depart, ret, energy in car.trips:
                if now - SLOT < ret <= now:
                    car.soc_kwh = max(0.05 * car.capacity_kwh, car.soc_kwh - energy)
        if self.at_wallbox is None:
            self.at_wallbox = next((c for c in self.cars if c.trip_at(now) is None), None)
        for car in self.cars:
            self.hass.states.async_set(
                car.soc_entity,
                f"{100 * car.soc_kwh / car.capacity_kwh:.1f}",
                {"unit_of_measurement": "%"},
            )
            self.hass.states.async_set(
                car.plugged_entity, "on" if car is self.at_wallbox else "off"
            )

    def publish(self) -> None:
        """Every stand-in's value at the current slot's start."""
        self._publish_prices()
        self._publish_pv_forecast()
        self.hass.states.async_set(
            HOUSE, f"{1000 * float(self.data.load_kw[self.slot]):.0f}", {"unit_of_measurement": "W"}
        )
        self.hass.states.async_set(
            PV_POWER, f"{1000 * self._pv_kw(self.slot):.0f}", {"unit_of_measurement": "W"}
        )
        self.hass.states.async_set(
            BATTERY_SOC,
            f"{100 * self.battery_kwh / BATTERY_KWH:.1f}",
            {"unit_of_measurement": "%"},
        )
        self._publish_cars()

    # -- the slot's physics, from what the actuators are set to ----------------------------------
    def _actuator(self, entity_id: str) -> str:
        state = self.hass.states.get(entity_id)
        return "unavailable" if state is None else state.state

    def _number(self, entity_id: str) -> float:
        try:
            return float(self._actuator(entity_id))
        except ValueError:
            return -math.inf

    def step(self) -> None:
        """The slot runs its course: evcc and the inverter do what they were set to."""
        price = self._price(self.slot)
        load = float(self.data.load_kw[self.slot])
        pv = self._pv_kw(self.slot)
        surplus = max(0.0, pv - load)
        mode = self._actuator("input_select.lp_mode")
        cost_limit = self._number("input_number.cost_limit")
        car_kw = 0.0
        if (car := self.at_wallbox) is not None:
            room = max(0.0, (car.capacity_kwh - car.soc_kwh) / (CAR_EFFICIENCY * DT_H))
            top = min(WALLBOX_KW, room)
            below_limit = cost_limit > -0.5 and price <= cost_limit  # the minimum: no limit
            if mode == "now" or (mode in ("pv", "minpv") and below_limit):
                car_kw = top
            elif mode == "minpv":
                car_kw = min(top, max(MIN_CHARGE_KW, surplus))
            elif mode == "pv" and surplus >= MIN_CHARGE_KW:
                car_kw = min(top, surplus)
            car.soc_kwh = min(car.capacity_kwh, car.soc_kwh + car_kw * CAR_EFFICIENCY * DT_H)
        grid_limit = self._number("input_number.grid_limit")
        locked = self._actuator("input_boolean.discharge_lock") == "on"
        net = load + car_kw - pv
        room_kw = (BATTERY_KWH - self.battery_kwh) / (BATTERY_ONE_WAY * DT_H)
        left_kw = max(0.0, self.battery_kwh - 0.05 * BATTERY_KWH) * BATTERY_ONE_WAY / DT_H
        if grid_limit > -0.5 and price <= grid_limit:
            battery_kw = min(BATTERY_KW, room_kw)  # charges from the grid
        elif net < 0:
            battery_kw = min(BATTERY_KW, room_kw, -net)  # self-consumption: stores the surplus
        elif not locked:
            battery_kw = -min(BATTERY_KW, left_kw, net)  # covers the load
        else:
            battery_kw = 0.0
        if battery_kw >= 0:
            self.battery_kwh += battery_kw * BATTERY_ONE_WAY * DT_H
        else:
            self.battery_kwh += battery_kw / BATTERY_ONE_WAY * DT_H
        self.battery_kwh = min(BATTERY_KWH, max(0.0, self.battery_kwh))
        self.slot += 1

    # -- the integration ------------------------------------------------------------------------
    def entry_for(self, automation: bool = True) -> MockConfigEntry:
        """The home (the shared fixtures' home, plus the PV power) with the two cars."""
        subentries = [
            ConfigSubentryData(
                data=MappingProxyType(
                    {
                        CONF_VEHICLE_CAPACITY_KWH: car.capacity_kwh,
                        CONF_VEHICLE_SOC_ENTITY: car.soc_entity,
                        CONF_VEHICLE_PLUGGED_ENTITY: car.plugged_entity,
                        CONF_VEHICLE_MAX_CHARGE_KW: 11.0,
                        CONF_VEHICLE_TARGET_SOC: 80.0,
                        CONF_VEHICLE_DEPARTURE: car.departure,
                        CONF_VEHICLE_PRIORITY: car.priority,
                        CONF_VEHICLE_DAILY_USE_KWH: car.daily_use_kwh,
                    }
                ),
                subentry_type=SUBENTRY_VEHICLE,
                title=car.name,
                unique_id=None,
            )
            for car in self.cars
        ]
        return MockConfigEntry(
            domain=DOMAIN,
            title="SmartLoad",
            data={**HOME_DATA, CONF_PV_POWER_ENTITY: PV_POWER},
            options={CONF_HORIZON_HOURS: 48, CONF_CYCLE_MINUTES: 15, CONF_AUTOMATION: automation},
            subentries_data=subentries,
        )

    async def async_setup(self) -> MockConfigEntry:
        """Berlin, the stand-ins at the first slot, evcc's controls, then SmartLoad."""
        self.freezer.move_to(self.now)
        await self.hass.config.async_set_time_zone("Europe/Berlin")
        await setup_actuators(self.hass)
        self.publish()
        self.entry = self.entry_for()
        self.entry.add_to_hass(self.hass)
        assert await self.hass.config_entries.async_setup(self.entry.entry_id)
        await self.hass.async_block_till_done(wait_background_tasks=True)
        return self.entry

    @property
    def coordinator(self) -> SmartLoadCoordinator:
        """The entry's coordinator."""
        assert self.entry is not None
        return self.entry.runtime_data.coordinator

    def own_entities(self) -> int:
        """SmartLoad's entities in the registry."""
        assert self.entry is not None
        return len(er.async_entries_for_config_entry(er.async_get(self.hass), self.entry.entry_id))

    def store_bytes(self) -> int:
        """SmartLoad's stored data (every ``smartload.*`` Store), as JSON bytes."""
        return sum(
            len(json.dumps(value, separators=(",", ":")))
            for key, value in self.storage.items()
            if key.startswith(f"{DOMAIN}.")
        )

    def listeners(self) -> int:
        """Listeners on the event bus."""
        return sum(self.hass.bus.async_listeners().values())

    def timers(self) -> int:
        """Live timer handles in the loop (a cancelled one waits in the heap until it is due)."""
        return sum(1 for h in getattr(self.hass.loop, "_scheduled", ()) if not h.cancelled())

    async def _fire(self, when: datetime) -> None:
        self.freezer.move_to(when)
        async_fire_time_changed(self.hass, when)
        await self.hass.async_block_till_done(wait_background_tasks=True)

    async def async_run(self, days: int) -> SoakReport:
        """Run ``days`` days of slots; the report has the figures (asserting is the caller's)."""
        report = SoakReport(days=days)
        counter = _LogCounter(report)
        root = logging.getLogger()
        root.addHandler(counter)
        started = _wall()
        plans = 0
        coordinator = self.coordinator

        def _count() -> None:
            nonlocal plans
            plans += 1
            report.statuses[coordinator.data.status.value] += 1
            report.writes += len(coordinator.data.writes)

        unsub = coordinator.async_add_listener(_count)
        try:
            _forget_mocked_writes()
            gc.collect()
            report.rss_start_mb = rss_mb()
            report.entities_start = self.own_entities()
            report.states_start = len(self.hass.states.async_all())
            report.listeners_start = self.listeners()
            report.timers_start = self.timers()
            slots = days * 96
            for n in range(slots):
                if self.slot + 1 >= self.data.n_slots:
                    break
                self.step()  # the slot that began ends...
                self.freezer.move_to(self.now)
                self.publish()  # ...and the next one begins with new values
                await self._fire(self.now + TICK_DELAY + timedelta(seconds=1))
                await self._fire(
                    self.now + timedelta(seconds=STATE_CHANGE_DEBOUNCE_S + TICK_DELAY.seconds + 2)
                )
                report.cycles += 1
                report.price_memory_slots_max = max(
                    report.price_memory_slots_max,
                    len(coordinator.reader._price_history),
                )
                if n % 96 == 95:
                    _forget_mocked_writes()
                    size = self.store_bytes()
                    report.store_bytes_day1 = report.store_bytes_day1 or size
                    report.store_bytes_max = max(report.store_bytes_max, size)
                    report.timers_by_day.append(self.timers())
            report.plans = plans
            _forget_mocked_writes()
            gc.collect()
            report.rss_end_mb = rss_mb()
            report.rss_peak_mb = peak_rss_mb()
            report.entities_end = self.own_entities()
            report.states_end = len(self.hass.states.async_all())
            report.listeners_end = self.listeners()
            report.timers_end = self.timers()
        finally:
            unsub()
            root.removeHandler(counter)
        # unload: pending saves are flushed, so the Stores hold everything they would keep
        assert self.entry is not None
        assert await self.hass.config_entries.async_unload(self.entry.entry_id)
        await self.hass.async_block_till_done(wait_background_tasks=True)
        report.unloaded = self.entry.state is ConfigEntryState.NOT_LOADED
        report.store_bytes_end = self.store_bytes()
        report.store_bytes_max = max(report.store_bytes_max, report.store_bytes_end)
        report.wall_s = _wall() - started
        return report
