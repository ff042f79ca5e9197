"""Forecasts learned from past data only (numpy, no Home Assistant import).

Household consumption: an exponentially weighted profile per slot of the (local) day, separately for
weekdays and weekends (+ given holidays). Recent days weigh more (half-life in days), so the profile
follows the seasons. Input can be any regular or irregular history (e.g. the recorder's 5-min or
hourly statistics): each sample lands in the slot of the day it starts in; slots of the day without
samples are filled by circular interpolation, a day type without samples borrows the other one.

PV fallback (used by the replay simulator, and usable when no PV-forecast integration is set up):
yesterday's output blended with the mean of the recent days per slot of the UTC day, scaled in the
first hours by the ratio of the last observed output to its forecast (nowcast).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

type FloatArray = NDArray[np.float64]
type IntArray = NDArray[np.int64]
type BoolArray = NDArray[np.bool_]


class ForecastError(ValueError):
    """The history cannot be used (wrong shapes, no finite values)."""


def _zone(timezone: str | tzinfo) -> tzinfo:
    return ZoneInfo(timezone) if isinstance(timezone, str) else timezone


def calendar(
    timestamps: Iterable[datetime],
    *,
    slot_minutes: int = 15,
    timezone: str | tzinfo = UTC,
    holidays: Iterable[date] = (),
) -> tuple[IntArray, BoolArray, FloatArray]:
    """(slot of the local day, weekend-or-holiday flag, POSIX seconds) for aware timestamps."""
    zone = _zone(timezone)
    free = frozenset(holidays)
    slots: list[int] = []
    weekend: list[bool] = []
    seconds: list[float] = []
    for stamp in timestamps:
        if stamp.tzinfo is None:
            raise ForecastError("timestamps must be timezone-aware")
        local = stamp.astimezone(zone)
        slots.append((local.hour * 60 + local.minute) // slot_minutes)
        weekend.append(local.weekday() >= 5 or local.date() in free)
        seconds.append(stamp.timestamp())
    return (
        np.asarray(slots, dtype=np.int64),
        np.asarray(weekend, dtype=bool),
        np.asarray(seconds, dtype=np.float64),
    )


def _fill_circular(values: FloatArray, known: BoolArray) -> FloatArray:
    """Fill unknown entries of a circular (slot-of-day) array by linear interpolation."""
    if known.all():
        return values
    if not known.any():
        return np.full_like(values, np.nan)
    n = len(values)
    idx = np.flatnonzero(known)
    xp = np.concatenate([idx - n, idx, idx + n])
    fp = np.tile(values[idx], 3)
    return np.interp(np.arange(n), xp, fp)


@dataclass(frozen=True, slots=True)
class ConsumptionProfile:
    """Expected household load (kW) per slot of the local day, for weekdays and weekends."""

    slot_minutes: int
    weekday_kw: FloatArray
    weekend_kw: FloatArray
    timezone: str | tzinfo
    n_samples: int
    holidays: frozenset[date] = frozenset()

    @property
    def slots_per_day(self) -> int:
        """Slots in a (normal) day."""
        return len(self.weekday_kw)

    @classmethod
    def fit(
        cls,
        timestamps: Sequence[datetime],
        load_kw: Sequence[float] | FloatArray,
        *,
        slot_minutes: int = 15,
        half_life_days: float = 14.0,
        timezone: str | tzinfo = UTC,
        holidays: Iterable[date] = (),
        now: datetime | None = None,
        default_kw: float = 0.0,
    ) -> ConsumptionProfile:
        """Learn the profile from past samples (time of each sample's start, average kW).

        ``now`` (default: the newest sample) is where the weights are 1; older samples weigh
        ``0.5 ** (age_days / half_life_days)``. Samples at or after ``now`` are ignored: the
        profile never sees the future. Non-finite samples are skipped. Without any sample the
        profile is flat at ``default_kw``.
        """
        free = frozenset(holidays)
        load = np.asarray(load_kw, dtype=np.float64)
        if len(load) != len(timestamps):
            raise ForecastError("timestamps and load_kw differ in length")
        slot_of_day, weekend, seconds = calendar(
            timestamps, slot_minutes=slot_minutes, timezone=timezone, holidays=free
        )
        reference = now.timestamp() if now is not None else None
        return cls.fit_calendar(
            slot_of_day,
            weekend,
            seconds,
            load,
            slot_minutes=slot_minutes,
            half_life_days=half_life_days,
            timezone=timezone,
            holidays=free,
            now_s=reference,
            default_kw=default_kw,
        )

    @classmethod
    def fit_calendar(
        cls,
        slot_of_day: IntArray,
        weekend: BoolArray,
        seconds: FloatArray,
        load_kw: FloatArray,
        *,
        slot_minutes: int = 15,
        half_life_days: float = 14.0,
        timezone: str | tzinfo = UTC,
        holidays: frozenset[date] = frozenset(),
        now_s: float | None = None,
        default_kw: float = 0.0,
    ) -> ConsumptionProfile:
        """``fit`` on precomputed calendar arrays (see ``calendar``), for long replays."""
        if half_life_days <= 0:
            raise ForecastError("half_life_days must be positive")
        per_day = (24 * 60) // slot_minutes
        ok = np.isfinite(load_kw)
        if now_s is not None:
            ok &= seconds < now_s
        reference = now_s if now_s is not None else (seconds[ok].max() if ok.any() else 0.0)
        slot_of_day = slot_of_day[ok]
        weekend = weekend[ok]
        load = load_kw[ok]
        age_days = (reference - seconds[ok]) / 86400.0
        weight = np.power(0.5, age_days / half_life_days)
        profiles: list[FloatArray] = []
        known: list[BoolArray] = []
        for flag in (False, True):
            sel = weekend == flag
            wsum = np.bincount(slot_of_day[sel], weights=weight[sel], minlength=per_day)[:per_day]
            lsum = np.bincount(
                slot_of_day[sel], weights=weight[sel] * load[sel], minlength=per_day
            )[:per_day]
            has = wsum > 0
            mean = np.where(has, lsum / np.where(has, wsum, 1.0), 0.0)
            profiles.append(_fill_circular(mean, has))
            known.append(has)
        weekday, weekend_profile = profiles
        if not known[0].any() and not known[1].any():
            weekday = weekend_profile = np.full(per_day, float(default_kw))
        elif not known[0].any():
            weekday = weekend_profile.copy()
        elif not known[1].any():
            weekend_profile = weekday.copy()
        return cls(
            slot_minutes=slot_minutes,
            weekday_kw=weekday,
            weekend_kw=weekend_profile,
            timezone=timezone,
            n_samples=int(ok.sum()),
            holidays=holidays,
        )

    def predict_calendar(self, slot_of_day: IntArray, weekend: BoolArray) -> FloatArray:
        """Forecast for slots given by their slot of the day and day type."""
        slot = np.clip(slot_of_day, 0, self.slots_per_day - 1)
        return np.where(weekend, self.weekend_kw[slot], self.weekday_kw[slot])

    def predict(self, start: datetime, n_slots: int) -> FloatArray:
        """Forecast (kW) for ``n_slots`` slots from ``start``."""
        step = timedelta(minutes=self.slot_minutes)
        times = [start + step * k for k in range(n_slots)]
        slot_of_day, weekend, _ = calendar(
            times, slot_minutes=self.slot_minutes, timezone=self.timezone, holidays=self.holidays
        )
        return self.predict_calendar(slot_of_day, weekend)


def nowcast_additive(
    forecast: FloatArray, observed: float, expected: float, tau_slots: float = 4.0
) -> FloatArray:
    """Carry the last observed error (observed − expected) into the first slots, fading out."""
    decay = np.exp(-np.arange(1, len(forecast) + 1) / tau_slots)
    return np.maximum(0.0, forecast + (observed - expected) * decay)


@dataclass(frozen=True, slots=True)
class PvHistoryForecast:
    """PV forecast from past output only: persistence blended with the recent mean.

    ``profile_kw`` is per slot of the UTC day (the sun's path does not follow daylight saving):
    ``w * yesterday + (1 - w) * mean of the last window_days days``. On the 2024 German PV shape
    × 9.9 kWp this day-ahead forecast has an MAE of 0.21 kW (22 % of the mean output); yesterday
    alone 0.23 kW, the 7-day mean alone 0.235 kW, a clear-sky envelope (max of the last 10 days)
    × recent clearness ratio 0.23 kW. Real PV-forecast services (weather based) do better; this
    is the floor without one.
    """

    slot_minutes: int
    profile_kw: FloatArray

    @classmethod
    def fit(
        cls,
        daily_kw: FloatArray,
        *,
        slot_minutes: int = 15,
        window_days: int = 14,
        persistence_weight: float = 0.5,
    ) -> PvHistoryForecast:
        """Learn from past whole UTC days, shape (n_days, slots_per_day), oldest first."""
        days = np.asarray(daily_kw, dtype=np.float64)
        per_day = (24 * 60) // slot_minutes
        if days.ndim != 2 or days.shape[1] != per_day:
            raise ForecastError(f"daily_kw must have shape (n_days, {per_day})")
        if not 0.0 <= persistence_weight <= 1.0:
            raise ForecastError("persistence_weight must lie in [0, 1]")
        days = np.where(np.isfinite(days), np.maximum(days, 0.0), 0.0)
        if days.shape[0] == 0:
            return cls(slot_minutes=slot_minutes, profile_kw=np.zeros(per_day))
        mean = days[-window_days:].mean(axis=0)
        profile = persistence_weight * days[-1] + (1.0 - persistence_weight) * mean
        return cls(slot_minutes=slot_minutes, profile_kw=profile)

    def predict_slots(self, slot_of_day: IntArray) -> FloatArray:
        """Forecast for slots given by their slot of the UTC day."""
        return self.profile_kw[np.asarray(slot_of_day) % len(self.profile_kw)]

    def predict(self, start: datetime, n_slots: int) -> FloatArray:
        """Forecast (kW) for ``n_slots`` slots from ``start``."""
        utc = start.astimezone(UTC)
        first = (utc.hour * 60 + utc.minute) // self.slot_minutes
        return self.predict_slots(np.arange(first, first + n_slots))


def nowcast_ratio(
    forecast: FloatArray,
    observed: float,
    expected: float,
    tau_slots: float = 8.0,
    max_ratio: float = 2.0,
) -> FloatArray:
    """Scale the first slots by the last observed/expected ratio, fading back to 1."""
    if expected <= 1e-6:
        return forecast
    ratio = min(max_ratio, max(0.0, observed / expected))
    decay = np.exp(-np.arange(1, len(forecast) + 1) / tau_slots)
    return forecast * (1.0 + (ratio - 1.0) * decay)
