"""What the drivers set at run time, per car: departure, charge target, one-off departure, boost.

The values live in a versioned ``Store`` (one file per SmartLoad home), so they survive a restart;
a car's defaults come from its vehicle subentry. When a subentry's defaults are edited, the edited
values win over what was set at run time before (the stored defaults show what they were).

A one-off departure (a date and a time) replaces the regular departure until it has passed; a boost
(until a time, optionally only up to a SoC) ends at its expiry or when the car reaches the target.
Readers ask ``for_plan`` what to plan with; passed one-offs and boosts are simply ignored and
dropped at the next change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, time, timedelta
import logging
from typing import Any

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN, SLOT
from .inputs import VehicleConfig, next_departure
from .storage import async_load_store

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION = 1


@dataclass(frozen=True, kw_only=True, slots=True)
class CarRuntime:
    """One car's run-time settings."""

    departure: time  # the regular departure (local time of day)
    target_soc_pct: float  # the regular charge target
    one_off: datetime | None = None  # a one-off departure (UTC), until it has passed
    one_off_target_pct: float | None = None  # its target (None: the regular one)
    boost_until: datetime | None = None  # full power until then (UTC)
    boost_target_pct: float | None = None  # ... or until this SoC (None: until full)
    # the last departure-at-risk alert (the drivers' channel): once per departure, also over a
    # restart
    alerted_departure: datetime | None = None
    alerted_pct: float | None = None
    alerted_at: datetime | None = None
    # the subentry's defaults these values were set against (an edited subentry resets them)
    default_departure: time | None = None
    default_target_pct: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class PlanValues:
    """What the planner is given for one car at one moment."""

    departure: datetime  # UTC
    target_soc_pct: float
    one_off: bool  # True: a one-off departure
    boost_until: datetime | None  # None: no boost now
    boost_target_pct: float | None


def _encode(car: CarRuntime) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in asdict(car).items():
        out[key] = value.isoformat() if isinstance(value, (time, datetime)) else value
    return out


def _decode(raw: dict[str, Any], defaults: CarRuntime) -> CarRuntime:
    """A stored car; anything unreadable takes the default (and the rest is kept)."""

    def when(key: str) -> datetime | None:
        value = raw.get(key)
        parsed = dt_util.parse_datetime(value) if isinstance(value, str) else None
        return dt_util.as_utc(parsed) if parsed is not None and parsed.tzinfo else None

    def clock(key: str) -> time | None:
        try:
            return time.fromisoformat(raw[key])
        except KeyError, TypeError, ValueError:
            return None

    def pct(key: str) -> float | None:
        value = raw.get(key)
        if isinstance(value, (int, float)) and 0 <= value <= 100:
            return float(value)
        return None

    return CarRuntime(
        departure=clock("departure") or defaults.departure,
        target_soc_pct=pct("target_soc_pct") or defaults.target_soc_pct,
        one_off=when("one_off"),
        one_off_target_pct=pct("one_off_target_pct"),
        boost_until=when("boost_until"),
        boost_target_pct=pct("boost_target_pct"),
        alerted_departure=when("alerted_departure"),
        alerted_pct=pct("alerted_pct"),
        alerted_at=when("alerted_at"),
        default_departure=clock("default_departure"),
        default_target_pct=pct("default_target_pct"),
    )


class CarStates:
    """The run-time settings of an entry's cars, persisted."""

    def __init__(self, hass: HomeAssistant, entry_id: str, cars: tuple[VehicleConfig, ...]) -> None:
        """Defaults from the subentries until ``async_load``."""
        self.hass = hass
        self._cars = {car.subentry_id: car for car in cars}
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.cars"
        )
        self._state = {sid: self._default(car) for sid, car in self._cars.items()}
        self._listeners: list[Callable[[], None]] = []

    @staticmethod
    def _default(car: VehicleConfig) -> CarRuntime:
        return CarRuntime(
            departure=car.departure,
            target_soc_pct=car.target_soc_pct,
            default_departure=car.departure,
            default_target_pct=car.target_soc_pct,
        )

    async def async_load(self) -> None:
        """Read the stored values; a corrupt or foreign file leaves the defaults (logged)."""
        # a corrupt, foreign or newer file: the defaults apply (logged, a repair issue)
        stored = await async_load_store(
            self.hass, self._store, what="car settings", valid=lambda d: isinstance(d, dict)
        )
        cars = stored.get("cars") if isinstance(stored, dict) else None
        if not isinstance(cars, dict):
            return
        for sid, car in self._cars.items():
            raw = cars.get(sid)
            if not isinstance(raw, dict):
                continue
            default = self._default(car)
            loaded = _decode(raw, default)
            if loaded.default_departure != car.departure:  # the subentry was edited since
                loaded = replace(loaded, departure=car.departure)
            if loaded.default_target_pct != car.target_soc_pct:
                loaded = replace(loaded, target_soc_pct=car.target_soc_pct)
            self._state[sid] = replace(
                loaded, default_departure=car.departure, default_target_pct=car.target_soc_pct
            )

    def get(self, subentry_id: str) -> CarRuntime:
        """A car's settings."""
        return self._state[subentry_id]

    async def async_update(self, subentry_id: str, **changes: Any) -> CarRuntime:
        """Change a car's settings, save them and tell the listeners."""
        self._state[subentry_id] = replace(self._state[subentry_id], **changes)
        self._drop_passed(dt_util.utcnow())
        await self._async_save()
        return self._state[subentry_id]

    async def _async_save(self) -> None:
        await self._store.async_save(
            {"cars": {sid: _encode(car) for sid, car in self._state.items()}}
        )
        for listener in list(self._listeners):
            listener()

    async def async_expire(self) -> None:
        """Drop passed one-offs and boosts (saved, the listeners told)."""
        self._drop_passed(dt_util.utcnow())
        await self._async_save()

    def _drop_passed(self, now: datetime) -> None:
        for sid, car in list(self._state.items()):
            kept = car
            if kept.one_off is not None and kept.one_off <= now:
                kept = replace(kept, one_off=None, one_off_target_pct=None)
            if kept.boost_until is not None and kept.boost_until <= now:
                kept = replace(kept, boost_until=None, boost_target_pct=None)
            self._state[sid] = kept

    @callback
    def async_add_listener(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call ``listener`` after every change."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def for_plan(self, car: VehicleConfig, now: datetime) -> PlanValues:
        """The departure (the one-off while it lies ahead), the target and the boost at ``now``."""
        state = self._state.get(car.subentry_id) or self._default(car)
        if state.one_off is not None and state.one_off - now >= SLOT:
            departure, target, one_off = state.one_off, state.one_off_target_pct, True
        else:
            departure = next_departure(now, state.departure, self.hass.config.time_zone)
            target, one_off = None, False
        boosting = state.boost_until is not None and state.boost_until > now
        return PlanValues(
            departure=departure,
            target_soc_pct=state.target_soc_pct if target is None else target,
            one_off=one_off,
            boost_until=state.boost_until if boosting else None,
            boost_target_pct=state.boost_target_pct if boosting else None,
        )

    def one_off_at(self, local_time: time, now: datetime) -> datetime:
        """The next ``local_time`` (at least one slot ahead), as a one-off departure in UTC."""
        return next_departure(now, local_time, self.hass.config.time_zone)


DEFAULT_BOOST = timedelta(hours=1)  # the Boost button: full power for an hour
