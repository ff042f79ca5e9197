"""What every source adapter shares: the series type, the parse error, times, numbers, units.

Written once here, used by every adapter:

- **times** (``parse_time``): a datetime, an ISO 8601 string (``Z`` or an offset) or an epoch number
  (s or ms). Times with an offset are exact, also on DST days (a local ``+02:00`` hour and a
  ``+01:00`` hour stay distinct). A naive time is placed in the ``tz`` the caller gives and refused
  without one; on a fall-back day the second occurrence of a naive local time in one list is the
  later (``fold=1``) hour. Years outside 1970…2200 are refused (they are garbage, and would
  overflow).
- **duplicates** (``build_series``): rows with the same start keep the *last* one: a source that
  repeats an interval (today + tomorrow overlapping, a corrected price) sends the newer value last.
- **intervals and gaps**: a row without an end lasts one step (the smallest spacing of the starts);
  an end never reaches past the next start. A missing hour therefore stays a gap, which
  ``known_slots`` reports as the end of the known horizon (it is not bridged).
- **units**: ``price_scale`` (ct vs € vs per MWh) and ``power_scale`` (W vs kW), from the unit when
  there is one, otherwise from the magnitude.
- **stale forecasts** (``after``): intervals that ended by ``now`` are dropped.
- **15-min slots** (``to_slots``, ``known_slots``): hourly values repeat over their four slots.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from itertools import pairwise
import math
from typing import Any, Protocol

import numpy as np

from ..model import BoolArray, FloatArray

_MIN_YEAR, _MAX_YEAR = 1970, 2200


class ParseError(ValueError):
    """The attributes hold no usable forecast of the shape asked for (the message says why)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Series:
    """A forecast: consecutive intervals ``[start, end)`` with one value each (base units).

    ``low``/``high`` are optional quantiles of the same length (Solcast's 10 % / 90 % estimates);
    the spread between them is the forecast's own statement of its confidence.
    """

    start: tuple[datetime, ...]  # UTC, ascending, unique
    end: tuple[datetime, ...]
    values: tuple[float, ...]
    low: tuple[float, ...] | None = None
    high: tuple[float, ...] | None = None

    def __len__(self) -> int:
        """Number of intervals."""
        return len(self.values)


EMPTY = Series(start=(), end=(), values=())


class Source(Protocol):
    """What a source module provides: ``NAME``, ``detect`` and ``parse``."""

    NAME: str

    def detect(self, attributes: Mapping[str, Any]) -> bool:
        """Whether the attributes have this source's shape (from the attributes alone)."""
        ...

    def parse(
        self, attributes: Mapping[str, Any], unit: str | None = None, *, tz: tzinfo | None = None
    ) -> Series:
        """The forecast in base units; ``ParseError`` when there is none."""
        ...


@dataclass(frozen=True, slots=True)
class Row:
    """One parsed item before intervals are closed (values already in base units)."""

    start: datetime
    end: datetime | None
    value: float
    low: float | None = None
    high: float | None = None


# --- values ----------------------------------------------------------------------------------


def parse_time(raw: Any, tz: tzinfo | None = None, *, fold: int = 0) -> datetime | None:
    """A timezone-aware UTC datetime from a datetime, an ISO string or an epoch number, or None."""
    try:
        if isinstance(raw, datetime):
            when = raw
        elif isinstance(raw, str):
            text = raw.strip()
            if text.endswith(("Z", "z")):
                text = text[:-1] + "+00:00"
            when = datetime.fromisoformat(text)
        elif isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
            seconds = raw / 1000 if abs(raw) > 1e11 else raw  # milliseconds or seconds
            when = datetime.fromtimestamp(seconds, UTC)
        else:
            return None
        if not _MIN_YEAR <= when.year <= _MAX_YEAR:
            return None
        if when.tzinfo is None or when.utcoffset() is None:
            if tz is None:  # a naive time cannot be placed without a zone: refuse, never guess
                return None
            when = when.replace(tzinfo=tz, fold=fold)
        return when.astimezone(UTC)
    except ValueError, OverflowError, OSError, TypeError:
        return None


def is_naive(raw: Any) -> bool:
    """Whether ``raw`` is a time without an offset (naive datetime, ISO string without one)."""
    if isinstance(raw, datetime):
        return raw.tzinfo is None
    if isinstance(raw, str):
        try:
            return datetime.fromisoformat(raw.strip()).tzinfo is None
        except ValueError:
            return False
    return False


def number(raw: Any) -> float | None:
    """A finite float (numbers and numeric strings), or None."""
    if isinstance(raw, bool) or raw is None:
        return None
    try:
        value = float(raw)
    except TypeError, ValueError, OverflowError:
        return None
    return value if math.isfinite(value) else None


def mappings(raw: Any) -> list[Mapping[str, Any]]:
    """The mapping items of a list (anything else: no items)."""
    if not isinstance(raw, list | tuple):
        return []
    return [item for item in raw if isinstance(item, Mapping)]


def first_key(item: Mapping[Any, Any], keys: Iterable[str]) -> str | None:
    """The first of ``keys`` present in ``item``."""
    return next((key for key in keys if key in item), None)


def times_of(items: list[Mapping[str, Any]], key: str, tz: tzinfo | None) -> list[datetime | None]:
    """``parse_time`` of each ``item[key]``; a repeated naive local time is the later hour."""
    seen: set[Any] = set()
    out: list[datetime | None] = []
    for item in items:
        raw = item.get(key)
        fold = 0
        if tz is not None and is_naive(raw):
            marker = raw if isinstance(raw, datetime) else str(raw).strip()
            fold = 1 if marker in seen else 0
            seen.add(marker)
        out.append(parse_time(raw, tz, fold=fold))
    return out


# --- units -----------------------------------------------------------------------------------


def price_scale(unit: str | None, values: Iterable[float]) -> float:
    """Factor from a price unit to €/kWh (ct and per-MWh detected).

    The unit of measurement decides when there is one; otherwise the magnitude does: day-ahead
    prices above 2 per kWh do not happen, so a median above 100 is per MWh and above 2 is cents.
    """
    if unit:
        text = unit.lower().replace(" ", "")
        per_mwh = "mwh" in text
        cents = any(c in text for c in ("ct", "cent", "¢", "öre", "ore/", "øre", "pence", "p/"))
        return (0.01 if cents else 1.0) * (0.001 if per_mwh else 1.0)
    magnitudes = sorted(abs(v) for v in values)
    if not magnitudes:
        return 1.0
    median = magnitudes[len(magnitudes) // 2]
    if median > 100:
        return 0.001
    if median > 2:
        return 0.01
    return 1.0


def power_scale(unit: str | None, values: Iterable[float]) -> float:
    """Factor from a power unit to kW: W, kW and MW by the unit; without one, above 100 is W."""
    text = (unit or "").strip().lower()
    if text in ("w", "watt", "watts"):
        return 0.001
    if text in ("kw", "kilowatt"):
        return 1.0
    if text in ("mw", "megawatt"):
        return 1000.0
    magnitudes = [abs(v) for v in values]
    return 0.001 if magnitudes and max(magnitudes) > 100 else 1.0


def unit_of(attributes: Mapping[str, Any], unit: str | None) -> str | None:
    """The caller's unit, else the attributes' own ``unit_of_measurement``."""
    if unit:
        return unit
    own = attributes.get("unit_of_measurement")
    return own if isinstance(own, str) and own else None


# --- series ----------------------------------------------------------------------------------


def build_series(rows: Iterable[Row], *, default_step: timedelta = timedelta(hours=1)) -> Series:
    """Sort, de-duplicate (the last row of a start wins) and close every interval.

    A row without an end (or with an end not after its start) lasts one step: the smallest
    spacing between starts (``default_step`` for a single row). No interval reaches past the next
    start, so a missing interval stays a gap.
    """
    by_start: dict[datetime, Row] = {}
    for row in rows:
        by_start[row.start] = row
    starts = sorted(by_start)
    if not starts:
        return EMPTY
    gaps = [b - a for a, b in pairwise(starts)]
    step = min(gaps) if gaps else default_step
    ends: list[datetime] = []
    for i, start in enumerate(starts):
        end = by_start[start].end
        if end is None or end <= start:
            end = start + step
        if i + 1 < len(starts):
            end = min(end, starts[i + 1])
        ends.append(end)
    chosen = [by_start[s] for s in starts]
    lows = [r.low for r in chosen if r.low is not None]
    highs = [r.high for r in chosen if r.high is not None]
    return Series(
        start=tuple(starts),
        end=tuple(ends),
        values=tuple(r.value for r in chosen),
        low=tuple(lows) if len(lows) == len(chosen) else None,  # quantiles only when complete
        high=tuple(highs) if len(highs) == len(chosen) else None,
    )


def require(series: Series, source: str) -> Series:
    """``series``, or ``ParseError`` when it is empty."""
    if not series.values:
        raise ParseError(f"{source}: no interval with a valid time and value")
    return series


def scaled(series: Series, factor: float) -> Series:
    """The series with values (and quantiles) multiplied by ``factor``."""
    if factor == 1.0:
        return series
    return replace(
        series,
        values=tuple(v * factor for v in series.values),
        low=None if series.low is None else tuple(v * factor for v in series.low),
        high=None if series.high is None else tuple(v * factor for v in series.high),
    )


def after(series: Series, now: datetime) -> Series:
    """The intervals still to come at ``now`` (a stale forecast becomes empty)."""
    now = now.astimezone(UTC)
    keep = [i for i, end in enumerate(series.end) if end > now]
    if len(keep) == len(series.values):
        return series
    return Series(
        start=tuple(series.start[i] for i in keep),
        end=tuple(series.end[i] for i in keep),
        values=tuple(series.values[i] for i in keep),
        low=None if series.low is None else tuple(series.low[i] for i in keep),
        high=None if series.high is None else tuple(series.high[i] for i in keep),
    )


# --- slots -----------------------------------------------------------------------------------


def floor_to_slot(when: datetime, slot_minutes: int = 15) -> datetime:
    """The start of the slot that contains ``when``."""
    return when.replace(minute=when.minute - when.minute % slot_minutes, second=0, microsecond=0)


def to_slots(
    series: Series, start: datetime, n_slots: int, slot_minutes: int = 15, *, field: str = "values"
) -> tuple[FloatArray, BoolArray]:
    """Values per slot from ``start`` and a mask of the slots the series covers.

    A slot takes the value of the interval that contains its start (hourly prices repeat over
    four 15-min slots; 15-min values map one to one). Uncovered slots are 0 and False.
    ``field`` picks ``"values"``, ``"low"`` or ``"high"`` (a missing quantile covers nothing).
    """
    values = np.zeros(max(n_slots, 0), dtype=np.float64)
    known = np.zeros(max(n_slots, 0), dtype=np.bool_)
    data = getattr(series, field)
    if not data or n_slots <= 0:
        return values, known
    step = timedelta(minutes=slot_minutes)
    t0 = start.astimezone(UTC)
    starts = np.array([(s - t0) / step for s in series.start], dtype=np.float64)
    ends = np.array([(e - t0) / step for e in series.end], dtype=np.float64)
    slot = np.arange(n_slots, dtype=np.float64)
    # the last interval that starts at or before each slot's start
    idx = np.searchsorted(starts, slot, side="right") - 1
    inside = (idx >= 0) & (slot < ends[np.clip(idx, 0, None)])
    values[inside] = np.asarray(data, dtype=np.float64)[idx[inside]]
    known[inside] = True
    return values, known


def known_slots(series: Series, start: datetime, slot_minutes: int = 15) -> int:
    """How many consecutive slots from ``start`` the series covers."""
    if not series.values:
        return 0
    last_end = series.end[-1]
    n = max(0, math.ceil((last_end - start.astimezone(UTC)) / timedelta(minutes=slot_minutes)))
    _, known = to_slots(series, start, n, slot_minutes)
    gaps = np.flatnonzero(~known)
    return int(gaps[0]) if gaps.size else n


def time_map(raw: Any, tz: tzinfo | None) -> list[tuple[datetime, float]]:
    """A ``{time: number}`` mapping as sorted (time, value) pairs; [] unless every key is a time."""
    if not isinstance(raw, Mapping) or not raw:
        return []
    out: list[tuple[datetime, float]] = []
    for key, value in raw.items():
        if (when := parse_time(key, tz)) is None:
            return []
        if (number_ := number(value)) is not None:
            out.append((when, number_))
    return sorted(out, key=lambda pair: pair[0])
