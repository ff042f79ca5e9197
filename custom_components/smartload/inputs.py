"""Live Home Assistant states → the planner's input (``PlanInput``).

Every value the planner needs is read from the current state of the configured entities. Anything
that cannot be read (missing, unavailable, unknown, not a number, an empty forecast) becomes an
``InputProblem``; one or more of them raise ``StaleInputsError`` so that the coordinator plans and
acts on nothing rather than on a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
import math
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant, State
from homeassistant.util import dt as dt_util
import numpy as np

from .battery_buffer import BatteryBuffer
from .const import (
    CONF_BATTERY_CAPACITY_KWH,
    CONF_BATTERY_EFFICIENCY,
    CONF_BATTERY_MAX_CHARGE_KW,
    CONF_BATTERY_MAX_DISCHARGE_KW,
    CONF_BATTERY_MAX_SOC,
    CONF_BATTERY_MIN_SOC,
    CONF_BATTERY_SOC_ENTITY,
    CONF_CONSUMPTION_ENTITY,
    CONF_CONTROLLED_LOAD_ENTITY,
    CONF_FEED_IN_ENTITY,
    CONF_FEED_IN_MODE,
    CONF_FEED_IN_PRICE,
    CONF_GRID_EXPORT_LIMIT_KW,
    CONF_GRID_IMPORT_LIMIT_KW,
    CONF_HORIZON_HOURS,
    CONF_PRICE_ENTITY,
    CONF_PV_FORECAST_ENTITY,
    CONF_VEHICLE_CAPACITY_KWH,
    CONF_VEHICLE_CHARGE_POWER_ENTITY,
    CONF_VEHICLE_DAILY_USE_KWH,
    CONF_VEHICLE_DEPARTURE,
    CONF_VEHICLE_MAX_CHARGE_KW,
    CONF_VEHICLE_PLUGGED_ENTITY,
    CONF_VEHICLE_PRESENCE_ENTITY,
    CONF_VEHICLE_PRIORITY,
    CONF_VEHICLE_SESSION_ENERGY_ENTITY,
    CONF_VEHICLE_SOC_ENTITY,
    CONF_VEHICLE_STALE_AFTER_MIN,
    CONF_VEHICLE_TARGET_SOC,
    CONF_WALLBOX_MAX_KW,
    DEFAULT_BATTERY_EFFICIENCY,
    DEFAULT_BATTERY_MAX_SOC,
    DEFAULT_BATTERY_MIN_SOC,
    DEFAULT_FEED_IN_PRICE,
    DEFAULT_GRID_IMPORT_LIMIT_KW,
    DEFAULT_HORIZON_HOURS,
    DEFAULT_VEHICLE_DAILY_USE_KWH,
    DEFAULT_VEHICLE_DEPARTURE,
    DEFAULT_VEHICLE_EFFICIENCY,
    DEFAULT_VEHICLE_PRIORITY,
    DEFAULT_VEHICLE_STALE_AFTER_MIN,
    DEFAULT_VEHICLE_TARGET_SOC,
    DEFAULT_WALLBOX_MAX_KW,
    FEED_IN_ENTITY,
    SLOT,
    SUBENTRY_VEHICLE,
)
from .error_table import power_kw
from .planner.forecast import LoadForecast, LoadForecaster
from .planner.model import BatteryInput, PlanInput, VehicleInput
from .planner.prices import extend_prices
from .planner.sources import (
    Series,
    apply_tariff,
    floor_to_slot,
    known_slots,
    parse_price_forecast,
    parse_pv_forecast,
    price_scale,
    to_slots,
)
from .price_actions import PriceAction
from .spot_tariff import spot_tariff

if TYPE_CHECKING:
    from .car_state import CarStates

# House load assumed until an energy meter has given two readings (≈ 4 400 kWh a year).
DEFAULT_LOAD_KW = 0.5
# Days of recorded consumption before the learned forecast replaces today's flat value.
MIN_LEARNED_DAYS = 1
# Published prices remembered for the estimate beyond the published horizon.
PRICE_HISTORY = timedelta(days=14)

PLUGGED_ON = frozenset(
    {"on", "true", "yes", "1", "connected", "plugged", "plugged_in", "charging", "b", "c", "d"}
)
PLUGGED_OFF = frozenset(
    {"off", "false", "no", "0", "disconnected", "unplugged", "not_connected", "a", "none"}
)

# Issue translation keys (translations: "issues" section).
UNAVAILABLE = "input_unavailable"
NOT_NUMERIC = "input_not_numeric"
NOT_PLUGGED_STATE = "input_not_plugged_state"
FORECAST_EMPTY = "forecast_empty"
FORECAST_STALE = "forecast_stale"  # every interval has ended: the source stopped updating
FORECAST_ACTION_FAILED = "forecast_action_failed"  # not blocking: the attributes stand in
SOC_ESTIMATED = "soc_estimated"  # not blocking: the car's last reading (+ energy) stands in
SOC_ESTIMATE_EXPIRED = "soc_estimate_expired"  # that reading is too old to stand in: blocking
# how long a plugged-in car's last reading (+ the energy delivered since) may stand in for a SoC
# entity that cannot be read; after that, nothing is acted on until the car reports again
SOC_ESTIMATE_MAX_AGE = timedelta(hours=12)


@dataclass(frozen=True, kw_only=True, slots=True)
class SocFallback:
    """What stands in for a plugged-in car's SoC that cannot be read (set by cars.py)."""

    soc_pct: float  # the last reading since the plug-in plus the energy delivered (planning)
    read_at: datetime  # when that reading was taken


@dataclass(frozen=True, kw_only=True, slots=True)
class InputProblem:
    """One input that cannot be read now."""

    kind: str  # the repair issue's translation key
    entity_id: str
    state: str
    # more placeholders for the repair issue's text (name, value), e.g. since when
    placeholders: tuple[tuple[str, str], ...] = ()

    @property
    def blocking(self) -> bool:
        """False: reported (a repair issue), but the cycle plans on a fallback."""
        return self.kind not in (FORECAST_ACTION_FAILED, SOC_ESTIMATED)

    def describe(self) -> str:
        """One English line for the log and the status sensor."""
        if self.kind == SOC_ESTIMATED:
            since = dict(self.placeholders).get("since", "?")
            return (
                f"{self.entity_id} is {self.state}; SmartLoad plans on the car's estimated SoC "
                f"(the reading of {since} plus the energy delivered since)"
            )
        if self.kind == SOC_ESTIMATE_EXPIRED:
            since = dict(self.placeholders).get("since", "?")
            return (
                f"{self.entity_id} is {self.state} and its last reading ({since}) is too old "
                "to plan on"
            )
        if self.kind == FORECAST_ACTION_FAILED:
            return f"the price forecast action for {self.entity_id} failed: {self.state}"
        if self.kind == FORECAST_EMPTY:
            return f"{self.entity_id} has no forecast in its attributes"
        if self.kind == FORECAST_STALE:
            return f"the forecast of {self.entity_id} ended at {self.state} (no longer updated)"
        if self.kind == UNAVAILABLE:
            return f"{self.entity_id} is {self.state}"
        if self.kind == NOT_PLUGGED_STATE:
            return f"{self.entity_id} reports '{self.state}', not a plugged-in state"
        return f"{self.entity_id} reports '{self.state}', not a number"


class StaleInputsError(Exception):
    """The live inputs cannot be planned on."""

    def __init__(self, problems: tuple[InputProblem, ...]) -> None:
        """Keep the problems; the message names them all."""
        super().__init__("; ".join(p.describe() for p in problems))
        self.problems = problems


@dataclass(frozen=True, kw_only=True, slots=True)
class VehicleConfig:
    """One car as configured (a vehicle subentry)."""

    subentry_id: str
    name: str
    capacity_kwh: float
    soc_entity: str
    plugged_entity: str
    max_charge_kw: float
    target_soc_pct: float
    departure: time
    priority: int
    daily_use_kwh: float
    # optional (cars.py): the SoC's staleness and estimate, and whether the car is at home
    session_energy_entity: str | None = None
    charge_power_entity: str | None = None
    presence_entity: str | None = None
    stale_after_min: float = DEFAULT_VEHICLE_STALE_AFTER_MIN


def _parse_time_of_day(raw: Any) -> time:
    if isinstance(raw, time):
        return raw
    if isinstance(raw, Mapping):  # a time selector may give {"hours": .., "minutes": ..}
        return time(int(raw.get("hours", 0)), int(raw.get("minutes", 0)))
    try:
        return time.fromisoformat(str(raw))
    except ValueError:
        return time.fromisoformat(DEFAULT_VEHICLE_DEPARTURE)


def vehicle_configs(entry: ConfigEntry) -> tuple[VehicleConfig, ...]:
    """The cars of an entry, in subentry order, with unique names (the planner's keys)."""
    cars: list[VehicleConfig] = []
    seen: set[str] = set()
    for subentry in entry.subentries.values():
        if subentry.subentry_type != SUBENTRY_VEHICLE:
            continue
        data = subentry.data
        name, n = subentry.title, 2
        while name in seen:
            name, n = f"{subentry.title} ({n})", n + 1
        seen.add(name)
        cars.append(
            VehicleConfig(
                subentry_id=subentry.subentry_id,
                name=name,
                capacity_kwh=float(data[CONF_VEHICLE_CAPACITY_KWH]),
                soc_entity=data[CONF_VEHICLE_SOC_ENTITY],
                plugged_entity=data[CONF_VEHICLE_PLUGGED_ENTITY],
                max_charge_kw=float(data[CONF_VEHICLE_MAX_CHARGE_KW]),
                target_soc_pct=float(data.get(CONF_VEHICLE_TARGET_SOC, DEFAULT_VEHICLE_TARGET_SOC)),
                departure=_parse_time_of_day(
                    data.get(CONF_VEHICLE_DEPARTURE, DEFAULT_VEHICLE_DEPARTURE)
                ),
                priority=int(data.get(CONF_VEHICLE_PRIORITY, DEFAULT_VEHICLE_PRIORITY)),
                daily_use_kwh=float(
                    data.get(CONF_VEHICLE_DAILY_USE_KWH, DEFAULT_VEHICLE_DAILY_USE_KWH)
                ),
                session_energy_entity=data.get(CONF_VEHICLE_SESSION_ENERGY_ENTITY) or None,
                charge_power_entity=data.get(CONF_VEHICLE_CHARGE_POWER_ENTITY) or None,
                presence_entity=data.get(CONF_VEHICLE_PRESENCE_ENTITY) or None,
                stale_after_min=float(
                    data.get(CONF_VEHICLE_STALE_AFTER_MIN, DEFAULT_VEHICLE_STALE_AFTER_MIN)
                ),
            )
        )
    return tuple(cars)


def entry_settings(entry: ConfigEntry) -> dict[str, Any]:
    """The entry's data with its options on top."""
    return {**entry.data, **entry.options}


def next_departure(now: datetime, departure: time, time_zone: str) -> datetime:
    """The next departure at ``departure`` (local time) at least one slot after ``now`` (UTC)."""
    tz = dt_util.get_time_zone(time_zone) or dt_util.UTC
    local_now = now.astimezone(tz)
    when = datetime.combine(local_now.date(), departure, tzinfo=tz)
    while when - local_now < SLOT:
        when = datetime.combine(when.date() + timedelta(days=1), departure, tzinfo=tz)
    return when.astimezone(dt_util.UTC)


class InputReader:
    """Reads the live states of one entry; keeps the consumption meter's last reading."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Bind to one entry."""
        self.hass = hass
        self.entry = entry
        self._meter: tuple[datetime, float] | None = None
        self._meter_kw = DEFAULT_LOAD_KW
        self._price_history: dict[datetime, float] = {}  # slot start (UTC) → published price
        # the fitted consumption forecaster (set by the coordinator) and its latest forecast
        self.load_model: LoadForecaster | None = None
        self.load_forecast: LoadForecast | None = None
        self.buffer = BatteryBuffer()  # the dynamic minimum SoC of the last read
        # the PV forecast's recent relative error (set by the coordinator; None: unknown)
        self.pv_recent_error: float | None = None
        # a price forecast fetched by an action (Tibber, Nord Pool), refreshed by the coordinator
        self.price_action = PriceAction(hass, entry_settings(entry)[CONF_PRICE_ENTITY])
        self.warnings: tuple[InputProblem, ...] = ()  # non-blocking problems of the last read
        self.load_reading_kw: float | None = None  # the consumption entity's latest reading
        # a stale car SoC's estimate (set by cars.py before each read): subentry id → SoC %
        self.soc_estimates: dict[str, float] = {}
        # the drivers' run-time departures, targets and boosts (set by the coordinator)
        self.car_states: CarStates | None = None
        # what stands in for a car SoC that cannot be read (a reading since the car was plugged
        # in, plus the energy delivered since; set by cars.py): subentry id → the fallback
        self.soc_fallbacks: dict[str, SocFallback] = {}

    # -- the entities the coordinator watches -------------------------------------------------
    def forecast_entities(self) -> list[str]:
        """Entities whose any change is a new forecast (price, feed-in, PV)."""
        conf = entry_settings(self.entry)
        keys = (CONF_PRICE_ENTITY, CONF_PV_FORECAST_ENTITY)
        found = [conf[k] for k in keys if conf.get(k)]
        if conf.get(CONF_FEED_IN_MODE) == FEED_IN_ENTITY and conf.get(CONF_FEED_IN_ENTITY):
            found.append(conf[CONF_FEED_IN_ENTITY])
        return found

    def plugged_entities(self) -> list[str]:
        """The cars' plugged-in entities."""
        return [car.plugged_entity for car in vehicle_configs(self.entry)]

    def value_entities(self) -> list[str]:
        """Entities read as a number each cycle (their changes matter only when they recover)."""
        conf = entry_settings(self.entry)
        found = [conf[k] for k in (CONF_CONSUMPTION_ENTITY, CONF_BATTERY_SOC_ENTITY) if conf.get(k)]
        found += [car.soc_entity for car in vehicle_configs(self.entry)]
        return found

    # -- reading ---------------------------------------------------------------------------------
    def _state(self, entity_id: str, problems: list[InputProblem]) -> State | None:
        state = self.hass.states.get(entity_id)
        if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN, ""):
            shown = "missing" if state is None else state.state or STATE_UNKNOWN
            problems.append(InputProblem(kind=UNAVAILABLE, entity_id=entity_id, state=shown))
            return None
        return state

    def _number(self, entity_id: str, problems: list[InputProblem]) -> tuple[float, str] | None:
        """The state as a float and its unit, or None (a problem recorded)."""
        if (state := self._state(entity_id, problems)) is None:
            return None
        try:
            value = float(state.state)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            problems.append(InputProblem(kind=NOT_NUMERIC, entity_id=entity_id, state=state.state))
            return None
        return value, str(state.attributes.get(ATTR_UNIT_OF_MEASUREMENT) or "")

    def plugged(self, entity_id: str, problems: list[InputProblem]) -> bool | None:
        """Whether a car is plugged in, or None (a problem recorded)."""
        if (state := self._state(entity_id, problems)) is None:
            return None
        text = state.state.strip().lower()
        if text in PLUGGED_ON:
            return True
        if text in PLUGGED_OFF:
            return False
        problems.append(
            InputProblem(kind=NOT_PLUGGED_STATE, entity_id=entity_id, state=state.state)
        )
        return None

    def _forecast(self, entity_id: str, problems: list[InputProblem], *, pv: bool) -> Series | None:
        if (state := self._state(entity_id, problems)) is None:
            return None
        unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
        unit = unit if isinstance(unit, str) else None
        parse = parse_pv_forecast if pv else parse_price_forecast
        # naive times (EPEX Spot, Energi Data Service) are local wall-clock times
        series = parse(dict(state.attributes), unit, tz=dt_util.get_default_time_zone())
        if not series.values:
            problems.append(InputProblem(kind=FORECAST_EMPTY, entity_id=entity_id, state=""))
            return None
        return series

    def _price_forecast(
        self, conf: Mapping[str, Any], now: datetime, problems: list[InputProblem]
    ) -> Series | None:
        """The action's forecast when there is one, else the entity's attributes."""
        entity_id = conf[CONF_PRICE_ENTITY]
        action = self.price_action
        self.warnings = ()
        if action.error is not None:
            self.warnings = (
                InputProblem(
                    kind=FORECAST_ACTION_FAILED,
                    entity_id=entity_id,
                    state=action.error,
                ),
            )
        prices = action.current(now)
        if prices is None:
            prices = self._forecast(entity_id, problems, pv=False)
        if prices is not None and (tariff := spot_tariff(conf)) is not None:
            prices = apply_tariff(prices, tariff)  # raw spot prices → what the household pays
        return prices

    def _load_kw(self, now: datetime, problems: list[InputProblem]) -> float | None:
        entity_id = entry_settings(self.entry).get(CONF_CONSUMPTION_ENTITY)
        if not entity_id:
            return DEFAULT_LOAD_KW
        if (reading := self._number(entity_id, problems)) is None:
            return None
        value, unit = reading
        unit = unit.strip()
        if unit in ("W", "kW", "MW"):
            return max(0.0, value * {"W": 0.001, "kW": 1.0, "MW": 1000.0}[unit])
        if unit in ("Wh", "kWh", "MWh"):
            kwh = value * {"Wh": 0.001, "kWh": 1.0, "MWh": 1000.0}[unit]
            if self._meter is not None:
                then, before = self._meter
                hours = (now - then).total_seconds() / 3600
                if hours >= 1 / 60 and kwh >= before:
                    self._meter_kw = (kwh - before) / hours
            if self._meter is None or (now - self._meter[0]) >= timedelta(minutes=1):
                self._meter = (now, kwh)
            return self._meter_kw
        return max(0.0, value / 1000 if abs(value) > 100 else value)  # no unit: W if large

    def read(self, now: datetime) -> PlanInput:
        """The planner input at ``now`` (UTC), or ``StaleInputsError``."""
        conf = entry_settings(self.entry)
        problems: list[InputProblem] = []
        start = floor_to_slot(now.astimezone(dt_util.UTC), int(SLOT.total_seconds() // 60))

        # prices: published ones first; the rest of the horizon is a flagged estimate
        prices = self._price_forecast(conf, now, problems)
        n = int(conf.get(CONF_HORIZON_HOURS, DEFAULT_HORIZON_HOURS)) * 4
        n_known = min(n, known_slots(prices, start)) if prices else 0
        if prices is not None and n_known == 0:
            problems.append(_no_forecast(conf[CONF_PRICE_ENTITY], prices, start))

        export_price = self._feed_in(conf, start, max(n, 1), problems)
        load_kw = self._load_kw(now, problems)
        if load_kw is not None and conf.get(CONF_CONTROLLED_LOAD_ENTITY):
            # the consumption includes loads the plan controls: their power now is not base load
            # (an energy meter or an unreadable entity subtracts nothing here; the history does)
            controlled = power_kw(self.hass, conf[CONF_CONTROLLED_LOAD_ENTITY])
            load_kw = max(0.0, load_kw - max(0.0, controlled or 0.0))
        self.load_reading_kw = load_kw if conf.get(CONF_CONSUMPTION_ENTITY) else None
        model = self.load_model
        self.load_forecast = (
            model.predict(start, n)
            if model is not None and model.n_days >= MIN_LEARNED_DAYS
            else None
        )
        pv_kw = np.zeros(max(n, 0))
        pv = None
        if pv_entity := conf.get(CONF_PV_FORECAST_ENTITY):
            pv = self._forecast(pv_entity, problems, pv=True)
            if pv is not None and pv.end[-1] <= start:  # zero sun from a forecast that ended
                problems.append(_no_forecast(pv_entity, pv, start))
            elif pv is not None:
                pv_kw = np.clip(to_slots(pv, start, n)[0], 0.0, None)

        battery = self._battery(conf, problems)
        vehicles = self._vehicles(start, now, n, problems)

        if problems:
            raise StaleInputsError(tuple(problems))
        assert prices is not None and load_kw is not None and export_price is not None
        import_price, price_estimated = self._import_prices(prices, start, n_known, n)
        battery = self.buffer.apply(
            battery,
            pv=pv,
            pv_kw=pv_kw,
            import_price=import_price,
            start=start,
            slot_minutes=int(SLOT.total_seconds() // 60),
            tz=dt_util.get_default_time_zone(),
            lang=self.hass.config.language,
            pv_recent_error=self.pv_recent_error,
        )
        export_limit = conf.get(CONF_GRID_EXPORT_LIMIT_KW)  # 0: a zero-export system
        return PlanInput(
            start=start,
            slot_minutes=int(SLOT.total_seconds() // 60),
            import_price_eur_per_kwh=import_price,
            export_price_eur_per_kwh=export_price[:n],
            # the learned forecast; without history, today's value throughout
            load_kw=self.load_forecast.load_kw
            if self.load_forecast is not None
            else np.full(n, load_kw),
            pv_kw=pv_kw,
            max_import_kw=float(conf.get(CONF_GRID_IMPORT_LIMIT_KW, DEFAULT_GRID_IMPORT_LIMIT_KW)),
            max_export_kw=math.inf if export_limit is None else float(export_limit),
            wallbox_max_kw=float(conf.get(CONF_WALLBOX_MAX_KW, DEFAULT_WALLBOX_MAX_KW)),
            battery=battery,
            vehicles=vehicles,
            price_estimated=price_estimated,
            pv_p10_kw=pv_quantile(pv, start, n, "low"),
            pv_p90_kw=pv_quantile(pv, start, n, "high"),
        )

    def _import_prices(
        self, prices: Series, start: datetime, n_known: int, n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The published prices, extended to ``n`` slots by a profile of the remembered ones."""
        known, _ = to_slots(prices, start, n_known)
        for i, value in enumerate(known):
            self._price_history[start + i * SLOT] = float(value)
        horizon_start = start - PRICE_HISTORY
        for when in [t for t in self._price_history if t < horizon_start]:
            del self._price_history[when]
        past = sorted(t for t in self._price_history if t < start)
        history = None
        if past:
            steps = int((start - past[0]) // SLOT)
            history = np.full(steps, np.nan)
            for when in past:
                history[int((when - past[0]) // SLOT)] = self._price_history[when]
        return extend_prices(
            start,
            int(SLOT.total_seconds() // 60),
            known,
            n,
            history=history,
            history_start=past[0] if past else None,
            history_days=PRICE_HISTORY.days,
        )

    def _feed_in(
        self, conf: Mapping[str, Any], start: datetime, n: int, problems: list[InputProblem]
    ) -> np.ndarray | None:
        entity_id = conf.get(CONF_FEED_IN_ENTITY)
        if conf.get(CONF_FEED_IN_MODE) != FEED_IN_ENTITY or not entity_id:
            return np.full(n, float(conf.get(CONF_FEED_IN_PRICE, DEFAULT_FEED_IN_PRICE)))
        if (reading := self._number(entity_id, problems)) is None:
            return None
        value, unit = reading
        now_price = value * price_scale(unit or None, [value])
        state = self.hass.states.get(entity_id)
        assert state is not None
        series = parse_price_forecast(
            dict(state.attributes), unit or None, tz=dt_util.get_default_time_zone()
        )
        values, known = to_slots(series, start, n)
        return np.where(known, values, now_price)

    def _battery(
        self, conf: Mapping[str, Any], problems: list[InputProblem]
    ) -> BatteryInput | None:
        if not (entity_id := conf.get(CONF_BATTERY_SOC_ENTITY)):
            return None
        if (reading := self._number(entity_id, problems)) is None:
            return None
        capacity = float(conf[CONF_BATTERY_CAPACITY_KWH])
        efficiency = math.sqrt(float(conf.get(CONF_BATTERY_EFFICIENCY, DEFAULT_BATTERY_EFFICIENCY)))
        soc_pct = min(max(reading[0], 0.0), 100.0)
        min_pct = float(conf.get(CONF_BATTERY_MIN_SOC, DEFAULT_BATTERY_MIN_SOC))
        max_pct = float(conf.get(CONF_BATTERY_MAX_SOC, DEFAULT_BATTERY_MAX_SOC))
        return BatteryInput(
            capacity_kwh=capacity,
            soc_kwh=capacity * soc_pct / 100,
            min_soc_kwh=capacity * min_pct / 100,
            max_soc_kwh=capacity * max_pct / 100,
            max_charge_kw=float(conf[CONF_BATTERY_MAX_CHARGE_KW]),
            max_discharge_kw=float(conf[CONF_BATTERY_MAX_DISCHARGE_KW]),
            charge_efficiency=efficiency,
            discharge_efficiency=efficiency,
        )

    def _vehicles(
        self, start: datetime, now: datetime, n: int, problems: list[InputProblem]
    ) -> tuple[VehicleInput, ...]:
        """The plugged-in cars (a car away needs no readable SoC and is not planned)."""
        cars: list[VehicleInput] = []
        for car in vehicle_configs(self.entry):
            if not self.plugged(car.plugged_entity, problems):
                continue
            soc_problems: list[InputProblem] = []
            reading = self._number(car.soc_entity, soc_problems)
            fallback = self.soc_fallbacks.get(car.subentry_id)
            estimated = car.subentry_id in self.soc_estimates
            if reading is None and fallback is not None:
                since = dt_util.as_local(fallback.read_at).strftime("%Y-%m-%d %H:%M")
                placeholders = (
                    ("since", since),
                    ("max_age_h", f"{SOC_ESTIMATE_MAX_AGE.total_seconds() / 3600:g}"),
                )
                if now - fallback.read_at > SOC_ESTIMATE_MAX_AGE:  # too old: blocking again
                    soc_problems = [
                        replace(p, kind=SOC_ESTIMATE_EXPIRED, placeholders=placeholders)
                        for p in soc_problems
                    ]
                else:  # the estimate stands in, reported
                    self.warnings += tuple(
                        replace(p, kind=SOC_ESTIMATED, placeholders=placeholders)
                        for p in soc_problems
                    )
                    reading, estimated = (fallback.soc_pct, "%"), True
            problems.extend(soc_problems if reading is None else ())
            if reading is None:
                continue
            soc_pct = min(max(reading[0], 0.0), 100.0)
            if car.subentry_id in self.soc_estimates:
                soc_pct = min(max(self.soc_estimates[car.subentry_id], 0.0), 100.0)
            departure = next_departure(now, car.departure, self.hass.config.time_zone)
            target_pct, boost_until, boost_target = car.target_soc_pct, 0, None
            if self.car_states is not None:  # what the driver set: departure, target, boost
                values = self.car_states.for_plan(car, now)
                departure, target_pct = values.departure, values.target_soc_pct
                if values.boost_until is not None:
                    boost_until = max(0, -(-(values.boost_until - start) // SLOT))
                    if values.boost_target_pct is not None:
                        boost_target = car.capacity_kwh * values.boost_target_pct / 100
            slot = int((departure - start) // SLOT)
            cars.append(
                VehicleInput(
                    name=car.name,
                    capacity_kwh=car.capacity_kwh,
                    soc_kwh=car.capacity_kwh * soc_pct / 100,
                    target_soc_kwh=car.capacity_kwh * target_pct / 100,
                    max_charge_kw=car.max_charge_kw,
                    charge_efficiency=DEFAULT_VEHICLE_EFFICIENCY,
                    departure_slot=slot if 0 < slot < n else None,
                    priority=car.priority,
                    expected_use_kwh=car.daily_use_kwh,
                    soc_estimated=estimated,
                    boost_until_slot=min(boost_until, n),
                    boost_target_kwh=boost_target,
                )
            )
        return tuple(cars)


def pv_quantile(pv: Series | None, start: datetime, n: int, field: str) -> np.ndarray | None:
    """A PV forecast quantile per slot ("low": p10, "high": p90); None where the source has none."""
    if pv is None or getattr(pv, field) is None:
        return None
    values, known = to_slots(pv, start, n, field=field)
    return np.clip(values, 0.0, None) if known.any() else None


def _no_forecast(entity_id: str, series: Series, start: datetime) -> InputProblem:
    """Why a forecast with values covers nothing from ``start``: it ended, or it has a gap."""
    if series.end and series.end[-1] <= start:
        return InputProblem(
            kind=FORECAST_STALE, entity_id=entity_id, state=series.end[-1].isoformat()
        )
    return InputProblem(kind=FORECAST_EMPTY, entity_id=entity_id, state="")


def summarize(inputs: PlanInput) -> dict[str, Any]:
    """A compact, JSON-friendly view of an input (diagnostics)."""
    price = inputs.import_price_eur_per_kwh
    return {
        "start": inputs.start.isoformat(),
        "n_slots": inputs.n_slots,
        "price_estimated_slots": 0
        if inputs.price_estimated is None
        else int(inputs.price_estimated.sum()),
        "import_price_eur_per_kwh": {
            "min": round(float(price.min()), 5),
            "mean": round(float(price.mean()), 5),
            "max": round(float(price.max()), 5),
        },
        "export_price_eur_per_kwh_first": round(float(inputs.export_price_eur_per_kwh[0]), 5),
        "load_kw_mean": round(float(inputs.load_kw.mean()), 3),
        "pv_kwh": round(float(inputs.pv_kw.sum() * inputs.dt_h), 3),
        "battery": None
        if inputs.battery is None
        else {
            "soc_kwh": round(inputs.battery.soc_kwh, 3),
            "capacity_kwh": inputs.battery.capacity_kwh,
            "min_soc_kwh": inputs.battery.min_soc_kwh,
            "max_soc_kwh": inputs.battery.max_soc_kwh,
        },
        "vehicles": [
            {
                "name": v.name,
                "soc_kwh": round(v.soc_kwh, 3),
                "target_soc_kwh": round(v.target_soc_kwh, 3),
                "departure_slot": v.departure_slot,
                "soc_estimated": v.soc_estimated,
            }
            for v in inputs.vehicles
        ],
    }
