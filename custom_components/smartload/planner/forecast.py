"""Forecasts learned from past data only (numpy, no Home Assistant import).

Household consumption: an exponentially weighted profile per slot of the (local) day, separately for
weekdays and weekends (+ given holidays). Recent days weigh more (half-life in days), so the profile
follows the seasons. Input can be any regular or irregular history (e.g. the recorder's 5-min or
hourly statistics): each sample lands in the slot of the day it starts in; slots of the day without
samples are filled by circular interpolation, a day type without samples borrows the other one.

The learned forecast for the plan (``fit_load_forecaster`` → ``LoadForecaster.predict``): that
profile as the baseline, refined by SARIMA when statsmodels is importable (it is optional: HA OS on
a Pi has no wheel) and at least 14 days of clean hourly data exist. SARIMA(1,0,1)(1,0,1,24) models
the hourly *residual* (load − profile), so the profile keeps the weekday/weekend shape and SARIMA
adds what persists from the last hours and days. Which one is used is decided by a rolling
backtest: day-ahead forecasts from each of the last 7 local midnights, each from the data before
it; both MAEs are returned. Measured with ``python -m benchmarks.forecast_backtest`` on the shared
BDEW H25 household profile (4,000 kWh/year, mean 0.455 kW) as Home Assistant's hourly statistics
would give it: 8 history ends spread over 2024, 8 weeks of history each, 7 backtest days each
(56 days), MAE per 15-min slot: profile 0.0148 kW (3.3 % of the mean load), SARIMA 0.0110 kW
(2.4 %); SARIMA won on 6 of the 8. A fit with its backtest took 5–12 s of CPU here. The BDEW profile
is the average of many homes, so a real home's errors are several times larger; the ranking is
what the backtest decides for each home anew (refreshed daily).

PV fallback (used by the replay simulator, and usable when no PV-forecast integration is set up):
yesterday's output blended with the mean of the recent days per slot of the UTC day, scaled in the
first hours by the ratio of the last observed output to its forecast (nowcast).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from importlib import import_module
import logging
from typing import Any
import warnings
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

type FloatArray = NDArray[np.float64]
type IntArray = NDArray[np.int64]
type BoolArray = NDArray[np.bool_]

_LOGGER = logging.getLogger(__name__)


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


# -- the learned consumption forecast: the profile, refined by SARIMA where it pays -------------

PROFILE = "profile"
SARIMA = "sarima"
MAX_HISTORY_DAYS = 56  # the last 8 weeks are learned from
MIN_SARIMA_DAYS = 14  # days of clean (finite) hourly data before SARIMA is tried
BACKTEST_DAYS = 7  # day-ahead forecasts of the last days, from each local midnight
SARIMA_ORDER = (1, 0, 1)
SARIMA_SEASONAL_ORDER = (1, 0, 1, 24)  # a daily season on the hourly residual
SARIMA_MAXITER = 50
RESIDUAL_HOURS = 96  # how far the SARIMA residual forecast reaches beyond the history
SARIMAX_MODULE = "statsmodels.tsa.statespace.sarimax"


@dataclass(frozen=True, slots=True)
class LoadForecast:
    """The household's base load ahead, per slot, and how it was made."""

    start: datetime
    slot_minutes: int
    load_kw: FloatArray
    model: str  # PROFILE or SARIMA
    mae_profile_kw: float | None  # day-ahead backtest MAE of the profile (None: too short)
    mae_sarima_kw: float | None  # the same for SARIMA (None: not run)
    n_days: int  # days of finite history learned from


@dataclass(frozen=True, slots=True)
class LoadForecaster:
    """A fitted consumption forecaster: the profile, plus SARIMA's hourly residual when chosen."""

    profile: ConsumptionProfile
    model: str
    mae_profile_kw: float | None
    mae_sarima_kw: float | None
    n_days: int
    history_end: datetime
    residual_kw: FloatArray  # hourly, from history_end (empty unless model is SARIMA)

    def predict(self, start: datetime, n_slots: int) -> LoadForecast:
        """The forecast (kW, ≥ 0) for ``n_slots`` slots from ``start``."""
        base = self.profile.predict(start, n_slots)
        if len(self.residual_kw):
            step = timedelta(minutes=self.profile.slot_minutes)
            hours = np.asarray(
                [
                    (start + step * k - self.history_end) // timedelta(hours=1)
                    for k in range(n_slots)
                ]
            )
            inside = (hours >= 0) & (hours < len(self.residual_kw))
            base = base + np.where(
                inside, self.residual_kw[np.clip(hours, 0, None) % len(self.residual_kw)], 0.0
            )
        return LoadForecast(
            start=start,
            slot_minutes=self.profile.slot_minutes,
            load_kw=np.maximum(base, 0.0),
            model=self.model,
            mae_profile_kw=self.mae_profile_kw,
            mae_sarima_kw=self.mae_sarima_kw,
            n_days=self.n_days,
        )


def _to_slots(values: FloatArray, step_minutes: int, slot_minutes: int) -> FloatArray:
    """A regular series at ``step_minutes`` as slots (repeated or averaged, NaN-aware)."""
    if step_minutes == slot_minutes:
        return values
    if step_minutes % slot_minutes == 0:
        return np.repeat(values, step_minutes // slot_minutes)
    if slot_minutes % step_minutes == 0:
        k = slot_minutes // step_minutes
        return _nanmean_blocks(values[: len(values) // k * k], k)
    raise ForecastError("step_minutes and slot_minutes must divide one another")


def _nanmean_blocks(values: FloatArray, k: int) -> FloatArray:
    blocks = values.reshape(-1, k)
    finite = np.isfinite(blocks)
    count = finite.sum(axis=1)
    total = np.where(finite, blocks, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _sarimax() -> Any | None:
    """statsmodels' SARIMAX class, or None where statsmodels is not installed (HA OS on a Pi)."""
    try:
        return import_module(SARIMAX_MODULE).SARIMAX
    except ImportError:
        return None


def sarima_available() -> bool:
    """Whether statsmodels can be imported here (slow the first time: call it in an executor)."""
    return _sarimax() is not None


def fit_load_forecaster(
    history_start: datetime,
    load_kw: Sequence[float] | FloatArray,
    *,
    step_minutes: int = 60,
    slot_minutes: int = 15,
    timezone: str | tzinfo = UTC,
    holidays: Iterable[date] = (),
    controlled_kw: Sequence[Sequence[float] | FloatArray] = (),
    half_life_days: float = 14.0,
    default_kw: float = 0.0,
    use_sarima: bool = True,
    prefer_sarima: bool = False,
) -> LoadForecaster:
    """Learn the base load from a regular history (mean kW per step, NaN where unknown).

    ``history_start`` is the (aware) start of the first step; the history ends, and the forecast
    begins to be out of sample, ``len(load_kw)`` steps later. Only the last ``MAX_HISTORY_DAYS``
    are used.

    ``controlled_kw``: the loads the plan controls (cars' charging, the battery's charging), each
    aligned with ``load_kw``, are subtracted when the measured consumption includes them, so that
    the forecaster learns the base load and not its own decisions. The default (none) subtracts
    nothing: right when the consumption entity measures the house without the wallbox and battery.

    The profile is always fitted. With at least ``BACKTEST_DAYS + 1`` days it is backtested:
    day-ahead forecasts from each of the last ``BACKTEST_DAYS`` local midnights, each fitted on
    the data before it (MAE over the slots). With ``MIN_SARIMA_DAYS`` days of finite hourly data and
    statsmodels importable, a SARIMA model of the hourly residual (load − profile) is fitted on the
    data before the backtest and run through the same days; it is used only if its MAE is lower.
    Without statsmodels, with too short a history or if statsmodels fails, the profile is used.
    ``prefer_sarima`` (the user's choice) uses SARIMA whenever it could be fitted, whatever the
    backtest says; ``use_sarima=False`` never fits it (least CPU).
    """
    if history_start.tzinfo is None:
        raise ForecastError("history_start must be timezone-aware")
    if 60 % slot_minutes:
        raise ForecastError("slot_minutes must divide an hour")
    load = np.asarray(load_kw, dtype=np.float64).copy()
    for other in controlled_kw:
        extra = np.asarray(other, dtype=np.float64)
        if extra.shape != load.shape:
            raise ForecastError("controlled_kw must be aligned with load_kw")
        load = np.maximum(load - np.where(np.isfinite(extra), extra, 0.0), 0.0)
    end = history_start + timedelta(minutes=step_minutes) * len(load)
    slots = _to_slots(load, step_minutes, slot_minutes)
    per_hour = 60 // slot_minutes
    # whole hours (UTC) of the last MAX_HISTORY_DAYS, ending at the end of the history
    n_hours = min(len(slots) // per_hour, MAX_HISTORY_DAYS * 24)
    first = end - timedelta(hours=n_hours)
    slots = slots[len(slots) - n_hours * per_hour :] if n_hours else slots[:0]
    step = timedelta(minutes=slot_minutes)
    times = [first + step * k for k in range(len(slots))]
    slot_of_day, weekend, seconds = calendar(
        times, slot_minutes=slot_minutes, timezone=timezone, holidays=holidays
    )
    free = frozenset(holidays)

    def profile_at(now_s: float | None) -> ConsumptionProfile:
        return ConsumptionProfile.fit_calendar(
            slot_of_day,
            weekend,
            seconds,
            slots,
            slot_minutes=slot_minutes,
            half_life_days=half_life_days,
            timezone=timezone,
            holidays=free,
            now_s=now_s,
            default_kw=default_kw,
        )

    profile = profile_at(end.timestamp())
    hourly = _nanmean_blocks(slots, per_hour) if n_hours else np.zeros(0)
    n_days = int(np.isfinite(hourly).sum() // 24)
    origins = _backtest_origins(first, end, timezone) if n_days > BACKTEST_DAYS else []
    mae_profile = mae_sarima = None
    residual = np.zeros(0)
    model = PROFILE
    if origins:
        per_day = 24 * per_hour
        index = [int((o - first) // step) for o in origins]
        profiles = [profile_at(o.timestamp()) for o in origins]
        actual = np.concatenate([slots[i : i + per_day] for i in index])
        base = np.concatenate(
            [
                p.predict_calendar(slot_of_day[i : i + per_day], weekend[i : i + per_day])
                for p, i in zip(profiles, index, strict=True)
            ]
        )
        ok = np.isfinite(actual)
        if ok.any():
            mae_profile = float(np.abs(base - actual)[ok].mean())
            sarimax = _sarimax() if use_sarima and n_days >= MIN_SARIMA_DAYS else None
            if sarimax is not None:
                result = _sarima_backtest(
                    sarimax,
                    hourly,
                    slot_of_day=slot_of_day,
                    weekend=weekend,
                    profiles=profiles,
                    index=index,
                    per_hour=per_hour,
                    profile_now=profile,
                )
                if result is not None:
                    sarima_fc, residual_now = result
                    mae_sarima = float(np.abs(sarima_fc - actual)[ok].mean())
                    if prefer_sarima or mae_sarima < mae_profile:
                        model, residual = SARIMA, residual_now
    return LoadForecaster(
        profile=profile,
        model=model,
        mae_profile_kw=mae_profile,
        mae_sarima_kw=mae_sarima,
        n_days=n_days,
        history_end=end,
        residual_kw=residual,
    )


def _backtest_origins(first: datetime, end: datetime, timezone: str | tzinfo) -> list[datetime]:
    """The last ``BACKTEST_DAYS`` local midnights (on whole UTC hours) with a whole day after."""
    zone = _zone(timezone)
    day = (end - timedelta(days=1)).astimezone(zone).date()
    origins: list[datetime] = []
    while len(origins) < BACKTEST_DAYS:
        local = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
        origin = local.replace(minute=0, second=0, microsecond=0)
        if origin - first < timedelta(days=1):
            break
        if origin + timedelta(days=1) <= end:
            origins.append(origin)
        day -= timedelta(days=1)
    return origins[::-1]


def _in_sample_hourly(
    profile: ConsumptionProfile, slot_of_day: IntArray, weekend: BoolArray, per_hour: int
) -> FloatArray:
    return profile.predict_calendar(slot_of_day, weekend).reshape(-1, per_hour).mean(axis=1)


def _sarima_backtest(
    sarimax: Any,
    hourly: FloatArray,
    *,
    slot_of_day: IntArray,
    weekend: BoolArray,
    profiles: list[ConsumptionProfile],
    index: list[int],
    per_hour: int,
    profile_now: ConsumptionProfile,
) -> tuple[FloatArray, FloatArray] | None:
    """SARIMA day-ahead forecasts (per slot) of the backtest days, and its residual from now.

    The parameters are estimated once, on the residual before the first backtest day; each
    day's forecast filters the residual up to its origin with them (no refit), as does the
    forecast from the end of the history. None if statsmodels fails.
    """
    per_day_slots = 24 * per_hour
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            h0 = index[0] // per_hour
            resid0 = hourly[:h0] - _in_sample_hourly(
                profiles[0], slot_of_day[: h0 * per_hour], weekend[: h0 * per_hour], per_hour
            )
            fitted = sarimax(
                resid0,
                order=SARIMA_ORDER,
                seasonal_order=SARIMA_SEASONAL_ORDER,
                trend="n",
                enforce_stationarity=True,
                enforce_invertibility=True,
            ).fit(disp=False, maxiter=SARIMA_MAXITER)
            forecasts: list[FloatArray] = []
            for p, i in zip(profiles, index, strict=True):
                h = i // per_hour
                resid = hourly[:h] - _in_sample_hourly(
                    p, slot_of_day[: h * per_hour], weekend[: h * per_hour], per_hour
                )
                ahead = np.asarray(fitted.apply(resid).forecast(24), dtype=np.float64)
                day = p.predict_calendar(
                    slot_of_day[i : i + per_day_slots], weekend[i : i + per_day_slots]
                )
                forecasts.append(np.maximum(day + np.repeat(ahead, per_hour), 0.0))
            resid_all = hourly - _in_sample_hourly(profile_now, slot_of_day, weekend, per_hour)
            now = np.asarray(fitted.apply(resid_all).forecast(RESIDUAL_HOURS), dtype=np.float64)
    except Exception:  # statsmodels' failures vary; the profile stands in
        _LOGGER.debug("SARIMA failed; the profile stands in", exc_info=True)
        return None
    if not np.isfinite(now).all() or not all(np.isfinite(f).all() for f in forecasts):
        return None
    return np.concatenate(forecasts), now
