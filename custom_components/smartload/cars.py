"""Cars in Home Assistant: a SoC you can trust, and the charge sequencer (one wallbox, N cars).

``CarManager`` (``coordinator.cars``) listens to each car's entities and reacts within the same
event-loop turn, not at the next 15-minute cycle:

- the SoC entity: a reading (a change, or the same value reported again) resynchronises the car's
  ``planner.soc.SocTrack``;
- the wallbox's session-energy entity (if configured), else the charge-power entity: the energy
  delivered since the last reading, from which a stale SoC is estimated;
- the plugged-in and the optional presence entity: who is at home, who is on the wallbox.

A car is *at home* when it is plugged in, or when its presence entity says so (a
``device_tracker``/``person`` at ``home``, or a ``binary_sensor``/``input_boolean`` that is on).
Without a presence entity an unplugged car counts as away: SmartLoad cannot tell that it waits.

After every change, every cycle and when a timer runs out, ``evaluate_and_apply`` runs the pure
``planner.sequencer.evaluate``: the order of the cars, starvation and vacancy (fired once each as
a ``smartload_driver_message`` event for the driver channel to deliver), the override's expiry.
The planner gets a stale car's conservative estimate (``VehicleInput.soc_estimated``); a car
going stale or being read again re-plans (debounced). The tracks and the sequencer's state are
kept in a versioned ``Store`` and survive a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
import logging
import math
from typing import TYPE_CHECKING, Any, Final, override

from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, State, callback
from homeassistant.helpers.event import (
    async_track_point_in_utc_time,
    async_track_state_change_event,
    async_track_state_report_event,
)
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import (
    CONF_WALLBOX_MAX_KW,
    DEFAULT_OVERRIDE_MIN,
    DEFAULT_VEHICLE_EFFICIENCY,
    DEFAULT_WALLBOX_MAX_KW,
    DOMAIN,
    EVENT_DRIVER_MESSAGE,
)
from .inputs import PLUGGED_ON, SocFallback, VehicleConfig, entry_settings
from .planner.sequencer import (
    OVERRIDE_ENDED,
    STARVATION,
    VACANCY,
    CarStatus,
    SequencerDecision,
    SequencerSettings,
    SequencerState,
    clear_override,
    evaluate,
    set_override,
)
from .planner.soc import (
    CHARGING_KW,
    SocEstimate,
    SocTrack,
    estimate,
    on_power,
    on_reading,
    on_session_energy,
)
from .storage import async_load_store

if TYPE_CHECKING:
    from .coordinator import CycleResult, SmartLoadCoordinator

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION: Final = 1
STORAGE_MINOR_VERSION: Final = 1
SAVE_DELAY_S: Final = 10
AT_HOME: Final = frozenset({"home", "on", "true", "yes", "1", "present"})
POWER_UNITS: Final = {"W": 0.001, "kW": 1.0, "MW": 1000.0}
ENERGY_UNITS: Final = {"Wh": 0.001, "kWh": 1.0, "MWh": 1000.0}
TIMER_SLACK: Final = timedelta(seconds=1)  # a timer fires just after its moment


def storage_key(entry_id: str) -> str:
    """The Store's key of one entry's cars."""
    return f"{DOMAIN}.cars.{entry_id}"


class CarsStore(Store[dict[str, Any]]):
    """The cars' Store; later versions migrate here."""

    @override
    async def _async_migrate_func(
        self, old_major_version: int, old_minor_version: int, old_data: dict[str, Any]
    ) -> dict[str, Any]:
        """Version 1 is the only one so far: its minor versions keep the data as it is."""
        return old_data


def _number(state: State | None) -> float | None:
    if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN, ""):
        return None
    try:
        value = float(state.state)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _scaled(state: State | None, units: dict[str, float], unitless: float) -> float | None:
    """A power (kW) or an energy (kWh) in any of its units; without a unit, ``unitless`` x."""
    if (value := _number(state)) is None:
        return None
    assert state is not None
    unit = str(state.attributes.get(ATTR_UNIT_OF_MEASUREMENT) or "").strip()
    if not unit:
        return value * unitless
    scale = units.get(unit)
    return None if scale is None else value * scale


def _power_kw(state: State | None) -> float | None:
    value = _number(state)
    unitless = 0.001 if value is not None and abs(value) > 100 else 1.0  # W if large
    return _scaled(state, POWER_UNITS, unitless)


class CarManager:
    """One entry's cars: SoC tracks, the sequencer, their listeners and their Store."""

    def __init__(self, hass: HomeAssistant, coordinator: SmartLoadCoordinator) -> None:
        """Bind to the coordinator (load with ``async_load``, start with ``async_start``)."""
        self.hass = hass
        self.coordinator = coordinator
        self.store = CarsStore(
            hass,
            STORAGE_VERSION,
            storage_key(coordinator.config_entry.entry_id),
            minor_version=STORAGE_MINOR_VERSION,
        )
        self.settings = SequencerSettings()
        self.tracks: dict[str, SocTrack] = {}
        self.state = SequencerState()
        self.decision: SequencerDecision | None = None
        self._stale: dict[str, bool] = {}
        self._tracks: dict[str, SocTrack] = {}  # as last evaluated
        # when each car was plugged in (None: not plugged): a SoC read before that is no
        # stand-in for an unreadable one (the car may have driven since)
        self.plugged_at: dict[str, datetime | None] = {}
        self._seen: CycleResult | None = None
        self._unsubs: list[Callable[[], None]] = []
        self._unsub_timer: Callable[[], None] | None = None

    @property
    def cars(self) -> tuple[VehicleConfig, ...]:
        """The configured cars."""
        return self.coordinator.vehicles

    def car(self, car_id: str) -> VehicleConfig | None:
        """A car by its subentry id."""
        return next((c for c in self.cars if c.subentry_id == car_id), None)

    # -- lifecycle --------------------------------------------------------------------------
    async def async_load(self) -> None:
        """The stored tracks and sequencer state, then what the entities say now."""
        # damaged, foreign or newer: start afresh rather than fail the setup (a repair issue)
        raw = (
            await async_load_store(
                self.hass, self.store, what="car state", valid=lambda d: isinstance(d, dict)
            )
            or {}
        )
        stored = raw.get("tracks") if isinstance(raw.get("tracks"), dict) else {}
        now = dt_util.utcnow()
        for car in self.cars:
            data = stored.get(car.subentry_id) if stored else None
            track = SocTrack.from_dict(data) if isinstance(data, dict) else SocTrack()
            self.tracks[car.subentry_id] = self._resume(car, track, now)
        plugged_at = raw.get("plugged_at") if isinstance(raw.get("plugged_at"), dict) else {}
        for car in self.cars:
            self.plugged_at[car.subentry_id] = self._plugged_at(car, plugged_at)
        ids = {c.subentry_id for c in self.cars}
        state = SequencerState.from_dict(raw.get("sequencer") or {})
        if state.override is not None and state.override.car_id not in ids:
            state = clear_override(state)
        self.state = replace(
            state,
            queue=tuple(c for c in state.queue if c in ids),
            waiting_since={k: v for k, v in state.waiting_since.items() if k in ids},
            full_since={k: v for k, v in state.full_since.items() if k in ids},
        )

    def _plugged_at(self, car: VehicleConfig, stored: dict[str, Any]) -> datetime | None:
        """Since when the car is plugged in: as stored, else since its plug state changed."""
        if not self._plugged(car):
            return None
        raw = stored.get(car.subentry_id)
        try:
            when = datetime.fromisoformat(raw) if isinstance(raw, str) else None
        except ValueError:
            when = None
        if when is not None and when.tzinfo is not None:
            return when
        state = self.hass.states.get(car.plugged_entity)
        return state.last_changed if state is not None else dt_util.utcnow()

    def _resume(self, car: VehicleConfig, track: SocTrack, now: datetime) -> SocTrack:
        """A stored track brought up to the entities' current states.

        A SoC that still shows the stored reading is the same old reading (a restart reports
        every state anew); another value is a fresh one. The session counter's growth while Home
        Assistant was down counts; the power is integrated from now on.
        """
        state = self.hass.states.get(car.soc_entity)
        if (value := _number(state)) is not None and value != track.soc_pct:
            assert state is not None
            track = on_reading(
                track,
                value,
                min(state.last_reported, now),
                efficiency=DEFAULT_VEHICLE_EFFICIENCY,
                capacity_kwh=car.capacity_kwh,
            )
        if car.session_energy_entity:
            session = self.hass.states.get(car.session_energy_entity)
            if (kwh := _scaled(session, ENERGY_UNITS, 1.0)) is not None:
                track = on_session_energy(track, kwh)
        elif car.charge_power_entity:
            kw = _power_kw(self.hass.states.get(car.charge_power_entity)) or 0.0
            track = replace(track, power_kw=max(kw, 0.0), power_at=now)
        return track

    @callback
    def async_start(self) -> None:
        """Listen to the cars' entities and to the cycles; evaluate once."""
        watched = sorted(
            {
                e
                for car in self.cars
                for e in (
                    car.soc_entity,
                    car.plugged_entity,
                    car.presence_entity,
                    car.session_energy_entity,
                    car.charge_power_entity,
                )
                if e
            }
        )
        if watched:
            self._unsubs.append(
                async_track_state_change_event(self.hass, watched, self._on_state_change)
            )
            self._unsubs.append(
                async_track_state_report_event(
                    self.hass, sorted({c.soc_entity for c in self.cars}), self._on_soc_report
                )
            )
        self._unsubs.append(self.coordinator.async_add_listener(self._on_cycle))
        # a departure, target or boost set by a driver: the order may change at once
        self._unsubs.append(self.coordinator.car_states.async_add_listener(self._on_driver))
        self.evaluate_and_apply()

    async def async_shutdown(self) -> None:
        """Stop listening; write the state now (the power integrated up to now)."""
        now = dt_util.utcnow()
        for car_id, track in self.tracks.items():
            if track.power_at is not None:
                self.tracks[car_id] = on_power(track, track.power_kw, now)
        for unsub in self._unsubs:
            unsub()
        self._unsubs.clear()
        if self._unsub_timer is not None:
            self._unsub_timer()
            self._unsub_timer = None
        await self.store.async_save(self._data())

    def _data(self) -> dict[str, Any]:
        return {
            "tracks": {k: v.as_dict() for k, v in self.tracks.items()},
            "sequencer": self.state.as_dict(),
            "plugged_at": {k: v.isoformat() for k, v in self.plugged_at.items() if v is not None},
        }

    # -- listeners ---------------------------------------------------------------------------
    @callback
    def _on_state_change(self, event: Event[EventStateChangedData]) -> None:
        entity_id, new = event.data["entity_id"], event.data["new_state"]
        now = dt_util.utcnow()
        for car in self.cars:
            track = self.tracks.get(car.subentry_id, SocTrack())
            if entity_id == car.soc_entity and (value := _number(new)) is not None:
                assert new is not None
                track = on_reading(
                    track,
                    value,
                    new.last_reported,
                    efficiency=DEFAULT_VEHICLE_EFFICIENCY,
                    capacity_kwh=car.capacity_kwh,
                )
            if entity_id == car.session_energy_entity:
                if (kwh := _scaled(new, ENERGY_UNITS, 1.0)) is not None:
                    track = on_session_energy(track, kwh)
            elif entity_id == car.charge_power_entity and not car.session_energy_entity:
                track = on_power(track, max(_power_kw(new) or 0.0, 0.0), now)
            if entity_id == car.plugged_entity:
                plugged = self._plugged(car)
                if not plugged:
                    self.plugged_at[car.subentry_id] = None
                elif self.plugged_at.get(car.subentry_id) is None:
                    self.plugged_at[car.subentry_id] = now
            self.tracks[car.subentry_id] = track
        self.evaluate_and_apply(now)

    @callback
    def _on_soc_report(self, event: Event[Any]) -> None:
        """The same SoC reported again is a fresh reading too."""
        new: State | None = event.data.get("new_state")
        if new is None or (value := _number(new)) is None:
            return
        for car in self.cars:
            if car.soc_entity == new.entity_id:
                self.tracks[car.subentry_id] = on_reading(
                    self.tracks.get(car.subentry_id, SocTrack()),
                    value,
                    new.last_reported,
                    efficiency=DEFAULT_VEHICLE_EFFICIENCY,
                    capacity_kwh=car.capacity_kwh,
                )
        self.evaluate_and_apply()

    @callback
    def _on_cycle(self) -> None:
        """A new cycle's result (the plan may charge another car): evaluate with it."""
        if self.coordinator.data is self._seen:
            return  # our own update of the entities
        self._seen = self.coordinator.data
        self.evaluate_and_apply()

    @callback
    def _on_driver(self) -> None:
        self.evaluate_and_apply()

    @callback
    def _on_timer(self, _now: datetime) -> None:
        self._unsub_timer = None
        self.evaluate_and_apply()

    # -- what the cars are -------------------------------------------------------------------
    def estimate(self, car: VehicleConfig, now: datetime | None = None) -> SocEstimate:
        """The SoC to believe now for one car."""
        now = now or dt_util.utcnow()
        track = self.tracks.get(car.subentry_id, SocTrack())
        hint = None
        if not car.session_energy_entity and not car.charge_power_entity:
            hint = self._plugged(car) and self._planned_now(car)  # no meter: the plan says
        return estimate(
            track,
            now,
            capacity_kwh=car.capacity_kwh,
            efficiency=DEFAULT_VEHICLE_EFFICIENCY,
            stale_after=timedelta(minutes=car.stale_after_min),
            charging=hint,
            # a car away may report nothing: only a plugged-in car's unreadable SoC is stale
            unreadable=self._plugged(car) and _number(self.hass.states.get(car.soc_entity)) is None,
        )

    def planning_socs(self, now: datetime) -> dict[str, float]:
        """The cars whose SoC is an estimate: subentry id → the planner's (conservative) SoC %."""
        found: dict[str, float] = {}
        for car in self.cars:
            est = self.estimate(car, now)
            if est.estimated and est.soc_pct_planning is not None:
                found[car.subentry_id] = est.soc_pct_planning
        return found

    def fallback_socs(self, now: datetime) -> dict[str, SocFallback]:
        """What stands in for a SoC that cannot be read: subentry id → the planner's SoC % and
        when the reading it starts from was taken (inputs.py judges whether that is too old).

        Only a reading taken while the car has been plugged in counts (plus the energy delivered
        since): one from before may predate a drive.
        """
        found: dict[str, SocFallback] = {}
        for car in self.cars:
            track = self.tracks.get(car.subentry_id, SocTrack())
            since = self.plugged_at.get(car.subentry_id)
            if track.read_at is None or since is None or track.read_at < since:
                continue
            est = self.estimate(car, now)
            if est.soc_pct_planning is not None:
                found[car.subentry_id] = SocFallback(
                    soc_pct=est.soc_pct_planning, read_at=track.read_at
                )
        return found

    def _plugged(self, car: VehicleConfig) -> bool:
        state = self.hass.states.get(car.plugged_entity)
        return state is not None and state.state.strip().lower() in PLUGGED_ON

    def _at_home(self, car: VehicleConfig) -> bool:
        if self._plugged(car):
            return True
        if not car.presence_entity:
            return False
        state = self.hass.states.get(car.presence_entity)
        return state is not None and state.state.strip().lower() in AT_HOME

    def _planned_now(self, car: VehicleConfig) -> bool:
        data = self.coordinator.data
        return (
            data is not None
            and data.decision is not None
            and data.decision.active_vehicle == car.name
            and data.decision.vehicle_charge_kw > CHARGING_KW
        )

    def _status(self, car: VehicleConfig, now: datetime) -> CarStatus:
        """The car for the sequencer: departure, target and boost as its driver set them."""
        values = self.coordinator.car_states.for_plan(car, now)
        target_kwh = car.capacity_kwh * values.target_soc_pct / 100
        departure: datetime | None = values.departure
        est = self.estimate(car, now)
        soc_kwh = (
            car.capacity_kwh * est.soc_pct_planning / 100
            if est.soc_pct_planning is not None
            else target_kwh  # never read: nothing known to be missing
        )
        wallbox = float(
            entry_settings(self.coordinator.config_entry).get(
                CONF_WALLBOX_MAX_KW, DEFAULT_WALLBOX_MAX_KW
            )
        )
        return CarStatus(
            car_id=car.subentry_id,
            name=car.name,
            at_home=self._at_home(car),
            plugged=self._plugged(car),
            needed_kwh=max(0.0, target_kwh - soc_kwh),
            charge_kw=min(car.max_charge_kw, wallbox) * DEFAULT_VEHICLE_EFFICIENCY,
            departure=departure,
            priority=car.priority,
            planned_now=self._planned_now(car),
            boosting=values.boost_until is not None,
        )

    # -- the sequencer -----------------------------------------------------------------------
    @callback
    def evaluate_and_apply(self, now: datetime | None = None) -> SequencerDecision:
        """Decide the order, tell the drivers what needs them, keep the state, update entities.

        Idempotent: with nothing changed it fires nothing, writes nothing and re-plans nothing.
        """
        now = now or dt_util.utcnow()
        self._seen = self.coordinator.data  # evaluated with this cycle's plan
        statuses = [self._status(car, now) for car in self.cars]
        decision, state, events = evaluate(statuses, self.state, now, self.settings)
        changed = state != self.state or decision != self.decision
        self.state, self.decision = state, decision
        names = {c.subentry_id: c.name for c in self.cars}
        for event in events:
            if event.kind in (STARVATION, VACANCY):
                _LOGGER.info("Telling the driver of %s: %s", names.get(event.car_id), event.kind)
                self.hass.bus.async_fire(
                    EVENT_DRIVER_MESSAGE,
                    {
                        "config_entry_id": self.coordinator.config_entry.entry_id,
                        "vehicle": event.car_id,
                        "kind": event.kind,
                        "placeholders": dict(event.placeholders),
                    },
                )
            elif event.kind == OVERRIDE_ENDED:
                _LOGGER.info("The charge order override for %s ended", names.get(event.car_id))

        stale = {car.subentry_id: self.estimate(car, now).stale for car in self.cars}
        replan = False
        for car in self.cars:
            was = self._stale.get(car.subentry_id)
            if was is not None and was != stale[car.subentry_id]:
                replan = True
                _LOGGER.info(
                    "The SoC of %s is %s",
                    car.name,
                    "stale: SmartLoad estimates it from the energy delivered"
                    if stale[car.subentry_id]
                    else "read again",
                )
        changed = changed or stale != self._stale or self.tracks != self._tracks
        self._stale = stale
        self._tracks = dict(self.tracks)
        self._schedule(now, decision)
        if changed or events:
            self.store.async_delay_save(self._data, SAVE_DELAY_S)
            self.coordinator.async_update_listeners()
        if replan:
            self.coordinator.state_debouncer.async_schedule_call()
        return decision

    def _schedule(self, now: datetime, decision: SequencerDecision) -> None:
        """Evaluate again when the next timer runs out or a SoC would turn stale."""
        moments = [decision.next_check] if decision.next_check is not None else []
        for car in self.cars:
            track = self.tracks.get(car.subentry_id, SocTrack())
            if track.read_at is not None and not self._stale.get(car.subentry_id):
                moments.append(track.read_at + timedelta(minutes=car.stale_after_min))
        moments = [m for m in moments if m > now - TIMER_SLACK]
        if self._unsub_timer is not None:
            self._unsub_timer()
            self._unsub_timer = None
        if moments:
            self._unsub_timer = async_track_point_in_utc_time(
                self.hass, self._on_timer, min(moments) + TIMER_SLACK
            )

    @callback
    def async_set_override(self, car: VehicleConfig, minutes: float | None = None) -> None:
        """Put a car first on the wallbox for ``minutes`` (default 90), then resume."""
        duration = timedelta(minutes=DEFAULT_OVERRIDE_MIN if minutes is None else minutes)
        self.state = set_override(self.state, car.subentry_id, dt_util.utcnow(), duration)
        self.evaluate_and_apply()

    @callback
    def async_clear_override(self) -> None:
        """Resume the automatic order now."""
        self.state = clear_override(self.state)
        self.evaluate_and_apply()

    # -- for the entities and diagnostics ----------------------------------------------------
    def stale_attributes(self, car: VehicleConfig) -> dict[str, Any]:
        """The SoC stale sensor's attributes: the estimate, its age, the last reading."""
        est = self.estimate(car)
        track = self.tracks.get(car.subentry_id, SocTrack())
        return {
            "estimated_soc": est.soc_pct,
            "estimate_age_min": None if est.age is None else int(est.age.total_seconds() // 60),
            "last_reading": est.reading_pct,
            "last_reading_at": track.read_at.isoformat() if track.read_at else None,
            "delivered_kwh": round(est.delivered_kwh, 2),
            "last_resync_error": track.last_error_pct,
        }

    def next_car(self) -> str | None:
        """The next car to plug in: the first in the queue that is not on the wallbox yet."""
        if self.decision is None:
            return None
        for car_id in self.decision.queue:
            car = self.car(car_id)
            if car is not None and not self._plugged(car):
                return car.name
        return None

    def next_car_attributes(self) -> dict[str, Any]:
        """The whole order: who charges now, who is next, why, the override."""
        decision = self.decision
        if decision is None:
            return {}

        def name(car_id: str | None) -> str | None:
            car = self.car(car_id) if car_id else None
            return car.name if car else None

        override = decision.override
        return {
            "charging_now": name(decision.now),
            "then": name(decision.next),
            "queue": [n for c in decision.queue if (n := name(c))],
            "reason": decision.reason,
            "override_vehicle": name(override.car_id) if override else None,
            "override_until": override.until.isoformat() if override else None,
        }

    def position_attributes(self, car: VehicleConfig) -> dict[str, Any]:
        """A car's queue position's attributes: its state and since when it waits."""
        decision = self.decision
        since = self.state.waiting_since.get(car.subentry_id)
        return {
            "state": decision.car_states.get(car.subentry_id) if decision else None,
            "waiting_since": since.isoformat() if since else None,
        }

    def position(self, car: VehicleConfig) -> int:
        """1-based place in the queue (0: not queued)."""
        return self.decision.position(car.subentry_id) if self.decision else 0

    def diagnostics(self) -> dict[str, Any]:
        """The tracks, the sequencer's state and decision."""
        now = dt_util.utcnow()
        decision = self.decision
        return {
            "tracks": {
                c.name: self.tracks.get(c.subentry_id, SocTrack()).as_dict() for c in self.cars
            },
            "estimates": {
                c.name: {
                    "stale": (e := self.estimate(c, now)).stale,
                    "estimated": e.estimated,
                    "soc_pct": e.soc_pct,
                    "soc_pct_planning": e.soc_pct_planning,
                }
                for c in self.cars
            },
            "sequencer": self.state.as_dict(),
            "decision": None
            if decision is None
            else {
                "now": decision.now,
                "next": decision.next,
                "queue": list(decision.queue),
                "reason": decision.reason,
                "car_states": dict(decision.car_states),
            },
        }
