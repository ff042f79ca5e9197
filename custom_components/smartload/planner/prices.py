"""Price series helpers: extending a truncated forecast, resampling, fixed feed-in (pure numpy).

Before the day-ahead auction (~13:00 local) a dynamic tariff publishes prices only up to midnight,
6–12 h ahead. ``extend_prices`` fills the rest of the planning horizon with an estimate and returns
a mask of the estimated slots (``PlanInput.price_estimated``), so the plan can say so:

- with history (the last ``history_days`` days before ``start``, same slot length): the median price
  of each slot of the day, shifted by a constant so that it matches the *level* of the known part
  (the mean difference between the known prices and the profile at the same times of day);
- without usable history: a flat estimate, the mean of the known prices.

Times of day are taken in UTC: the slots are UTC, so nothing changes at a DST switch (the daily
shape then lags by an hour for the few days until the history has caught up, which the median
absorbs). The helpers work on any price series (spot or all-in import, export).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import ArrayLike

from .model import BoolArray, FloatArray

_MIN_HISTORY_DAYS = 1.0  # less usable history than this: flat estimate


def extend_prices(
    start: datetime,
    slot_minutes: int,
    known: ArrayLike,
    n_slots: int,
    *,
    history: ArrayLike | None = None,
    history_start: datetime | None = None,
    history_days: int = 14,
) -> tuple[FloatArray, BoolArray]:
    """Prices for ``n_slots`` slots from ``start`` and the mask of the estimated ones.

    ``known``: the published prices from ``start`` on (NaN or a shorter array: not published);
    only the leading run of finite values counts as known. ``history``: past prices, one per slot
    of ``slot_minutes`` from ``history_start`` (aware datetime; values at or after ``start`` are
    ignored). Raises ValueError when nothing at all is known (no price and no history).
    """
    if n_slots <= 0:
        return np.zeros(0), np.zeros(0, dtype=bool)
    if slot_minutes <= 0 or (24 * 60) % slot_minutes:
        raise ValueError(f"slot_minutes must divide a day, got {slot_minutes}")
    known_arr = np.asarray(known, dtype=float).reshape(-1)[:n_slots]
    finite = np.isfinite(known_arr)
    n_known = int(np.argmin(finite)) if not finite.all() else known_arr.size
    known_arr = known_arr[:n_known]
    prices = np.empty(n_slots)
    prices[:n_known] = known_arr
    estimated = np.zeros(n_slots, dtype=bool)
    estimated[n_known:] = True
    if n_known == n_slots:
        return prices, estimated

    per_day = 24 * 60 // slot_minutes
    profile = _profile(start, slot_minutes, history, history_start, history_days)
    # slot-of-day (UTC) of every slot of the horizon
    first = _slot_of_day(start, slot_minutes)
    sod = (first + np.arange(n_slots)) % per_day
    if profile is not None:
        offset = float(np.mean(known_arr - profile[sod[:n_known]])) if n_known else 0.0
        prices[n_known:] = profile[sod[n_known:]] + offset
    elif n_known:
        prices[n_known:] = float(np.mean(known_arr))
    else:
        raise ValueError("no published prices and no usable price history")
    return prices, estimated


def _slot_of_day(when: datetime, slot_minutes: int) -> int:
    """Index of the slot of the (UTC) day that ``when`` falls in (naive: taken as UTC)."""
    utc = when.astimezone(UTC) if when.tzinfo is not None else when
    midnight = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    return int((utc - midnight) // timedelta(minutes=slot_minutes))


def _profile(
    start: datetime,
    slot_minutes: int,
    history: ArrayLike | None,
    history_start: datetime | None,
    history_days: int,
) -> FloatArray | None:
    """Median price per UTC slot of the day over the recent history; None if too little."""
    if history is None or history_start is None:
        return None
    hist = np.asarray(history, dtype=float).reshape(-1)
    per_day = 24 * 60 // slot_minutes
    slot = timedelta(minutes=slot_minutes)
    # keep only values before start, and only the last history_days days
    n_before = int(min(hist.size, max((start - history_start) // slot, 0)))
    lo = max(n_before - history_days * per_day, 0)
    window = hist[lo:n_before]
    ok = np.isfinite(window)
    if ok.sum() < _MIN_HISTORY_DAYS * per_day:
        return None
    first = _slot_of_day(history_start + lo * slot, slot_minutes)
    sod = (first + np.arange(window.size)) % per_day
    sums = np.bincount(sod[ok], minlength=per_day)
    profile = np.full(per_day, np.nan)
    # median per slot of day: sort by (slot of day, value), then take each group's middle
    order = np.lexsort((window[ok], sod[ok]))
    values = window[ok][order]
    ends = np.cumsum(sums)
    begins = ends - sums
    has = sums > 0
    lo_mid = begins + (sums - 1) // 2
    hi_mid = begins + sums // 2
    profile[has] = 0.5 * (values[lo_mid[has]] + values[hi_mid[has]])
    profile[~has] = float(np.mean(window[ok]))
    return profile


def resample(values: ArrayLike, from_minutes: int, to_minutes: int) -> FloatArray:
    """Resample a price series between slot lengths that divide each other.

    Finer (e.g. hourly → 15 min): each value is repeated (a price holds for its whole interval).
    Coarser (15 min → hourly): the mean of each group (a trailing partial group: of what it has).
    """
    arr = np.asarray(values, dtype=float).reshape(-1)
    if from_minutes <= 0 or to_minutes <= 0:
        raise ValueError("slot lengths must be positive")
    if from_minutes == to_minutes:
        return arr.copy()
    if from_minutes % to_minutes == 0:
        return np.repeat(arr, from_minutes // to_minutes)
    if to_minutes % from_minutes == 0:
        k = to_minutes // from_minutes
        n_groups = -(-arr.size // k)
        padded = np.full(n_groups * k, np.nan)
        padded[: arr.size] = arr
        grouped = padded.reshape(n_groups, k)
        counts = np.isfinite(grouped).sum(axis=1)
        sums = np.nansum(grouped, axis=1)
        return np.divide(sums, counts, out=np.full(n_groups, np.nan), where=counts > 0)
    raise ValueError(f"cannot resample {from_minutes} min to {to_minutes} min")


def hourly_to_slots(hourly: ArrayLike, slot_minutes: int = 15) -> FloatArray:
    """Hourly prices → one price per ``slot_minutes`` slot (each hour's price on its slots)."""
    return resample(hourly, 60, slot_minutes)


def fixed_export_prices(n_slots: int, feed_in_eur_per_kwh: float) -> FloatArray:
    """Export prices of a fixed feed-in tariff (e.g. the EEG rate), one per slot."""
    return np.full(n_slots, float(feed_in_eur_per_kwh))


def tariff_import_prices(
    spot_eur_per_kwh: ArrayLike, *, surcharge_eur_per_kwh: float, vat: float = 0.19
) -> FloatArray:
    """All-in import prices of a dynamic tariff: ``(spot + surcharges) * (1 + vat)``."""
    spot = np.asarray(spot_eur_per_kwh, dtype=float)
    return (spot + surcharge_eur_per_kwh) * (1.0 + vat)


def leading_run_price_limit(mask: ArrayLike, price: ArrayLike, window: int) -> float | None:
    """Highest price over the run of True slots that starts now (slot 0), at most ``window``.

    The price limit handed to evcc (smart cost limit, battery grid-charge limit): evcc acts on a
    limit immediately and the plan is re-made every cycle, so a limit that covered a *later* run
    of charging slots would make evcc charge now, against the plan. None: not charging now.
    """
    run = np.asarray(mask, dtype=bool)[:window]
    if run.size == 0 or not run[0]:
        return None
    stop = int(np.argmin(run)) if not run.all() else run.size
    return float(np.asarray(price, dtype=float)[:stop].max())
