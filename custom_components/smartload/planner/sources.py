"""Price and PV forecasts from an entity's attributes (plain mappings, no Home Assistant).

The HA shell hands over ``state.attributes`` as a plain mapping; this module finds the forecast in
it and returns one typed series in base units (€/kWh for prices, kW for PV power). The shapes it
reads are the common ones: a list of mappings with a start (``start``/``start_time``/``startsAt``/
``period_start``/``from``), an optional end, and a value (``price``/``value``/``total``/
``price_per_kwh``/``pv_estimate``/…), possibly split over several attributes (``raw_today`` +
``raw_tomorrow``, ``today`` + ``tomorrow``), or a mapping ``{iso time: value}`` (``watts``).
Hourly entries are spread over 15-min slots with ``to_slots``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
import math
from typing import Any

import numpy as np

from .model import BoolArray, FloatArray

START_KEYS = ("start", "start_time", "startsAt", "starts_at", "period_start", "from", "time")
END_KEYS = ("end", "end_time", "endsAt", "ends_at", "period_end", "till", "to")
PRICE_KEYS = (
    "price_per_kwh",
    "price",
    "total",
    "value",
    "price_eur_per_kwh",
    "price_ct_per_kwh",
    "price_eur_per_mwh",
    "marketprice",
)
PV_KEYS = ("pv_estimate", "power_kw", "power", "value", "watts", "pv_power")

# Units a value key implies by its name alone (wins over the entity's unit).
_KEY_SCALE = {
    "price_ct_per_kwh": 0.01,
    "price_eur_per_mwh": 0.001,
    "price_eur_per_kwh": 1.0,
    "marketprice": 0.001,  # aWATTar: €/MWh
    "pv_estimate": 1.0,  # Solcast: kW
    "power_kw": 1.0,
    "watts": 0.001,
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Series:
    """A forecast: consecutive intervals ``[start, end)`` with one value each (base units)."""

    start: tuple[datetime, ...]  # UTC, ascending, unique
    end: tuple[datetime, ...]
    values: tuple[float, ...]

    def __len__(self) -> int:
        """Number of intervals."""
        return len(self.values)


def _parse_time(raw: Any) -> datetime | None:
    """A timezone-aware UTC datetime from a datetime, an ISO string or an epoch number."""
    if isinstance(raw, datetime):
        when = raw
    elif isinstance(raw, str):
        try:
            when = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    elif isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
        seconds = raw / 1000 if raw > 1e11 else raw  # milliseconds or seconds
        return datetime.fromtimestamp(seconds, UTC)
    else:
        return None
    if when.tzinfo is None:  # naive times cannot be placed; refuse rather than guess
        return None
    return when.astimezone(UTC)


def _number(raw: Any) -> float | None:
    """A finite float, or None."""
    if isinstance(raw, bool):
        return None
    try:
        value = float(raw)
    except TypeError, ValueError:
        return None
    return value if math.isfinite(value) else None


def _first_key(item: Mapping[str, Any], keys: Iterable[str]) -> str | None:
    return next((key for key in keys if key in item), None)


def _rows(attributes: Mapping[str, Any], value_keys: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """(start, end|None, value, value key) from every list or time-keyed mapping attribute."""
    rows: list[tuple[Any, ...]] = []
    for name, attr in attributes.items():
        if isinstance(attr, Mapping) and attr:
            # {iso time: value}; the attribute's name gives the unit where it is one (watts)
            for raw_start, raw_value in attr.items():
                if (start := _parse_time(raw_start)) is None:
                    break
                if (value := _number(raw_value)) is not None:
                    rows.append((start, None, value, name))
            continue
        if not isinstance(attr, list | tuple):
            continue
        for item in attr:
            if not isinstance(item, Mapping):
                break
            start_key = _first_key(item, START_KEYS)
            value_key = _first_key(item, value_keys)
            if start_key is None or value_key is None:
                continue
            start = _parse_time(item[start_key])
            value = _number(item[value_key])
            if start is None or value is None:
                continue
            end_key = _first_key(item, END_KEYS)
            end = _parse_time(item[end_key]) if end_key else None
            rows.append((start, end, value, value_key))
    return rows


def _series(rows: list[tuple[Any, ...]], scale: float) -> Series:
    """Sort, de-duplicate (the later row wins) and close every interval."""
    by_start: dict[datetime, tuple[datetime | None, float]] = {}
    for start, end, value, key in rows:
        by_start[start] = (end, value * _KEY_SCALE.get(key, scale))
    starts = sorted(by_start)
    if not starts:
        return Series(start=(), end=(), values=())
    gaps = [b - a for a, b in pairwise(starts)]
    default_step = min(gaps) if gaps else timedelta(hours=1)
    ends: list[datetime] = []
    for i, start in enumerate(starts):
        end = by_start[start][0]
        if end is None or end <= start:
            end = starts[i + 1] if i + 1 < len(starts) else start + default_step
        if i + 1 < len(starts):
            end = min(end, starts[i + 1])
        ends.append(end)
    return Series(
        start=tuple(starts), end=tuple(ends), values=tuple(by_start[s][1] for s in starts)
    )


def price_scale(unit: str | None, values: Iterable[float]) -> float:
    """Factor from the entity's price unit to €/kWh (ct and per-MWh detected).

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


def parse_price_forecast(attributes: Mapping[str, Any], unit: str | None = None) -> Series:
    """The price forecast (€/kWh) in an entity's attributes; empty when there is none.

    ``unit`` is the entity's unit of measurement; a ``unit`` attribute (custom Nord Pool:
    ``"kWh"`` with ``price_in_cents``) is read too.
    """
    rows = _rows(attributes, PRICE_KEYS)
    if unit is None and isinstance(attributes.get("unit_of_measurement"), str):
        unit = attributes["unit_of_measurement"]
    if attributes.get("price_in_cents") is True:
        unit = "ct/kWh"
    elif unit is None and isinstance(attributes.get("unit"), str):
        unit = f"/{attributes['unit']}"
    scale = price_scale(unit, (r[2] for r in rows if r[3] not in _KEY_SCALE))
    return _series(rows, scale)


def parse_pv_forecast(attributes: Mapping[str, Any], unit: str | None = None) -> Series:
    """The PV power forecast (kW) in an entity's attributes; empty when there is none.

    Values named by their unit (Solcast's ``pv_estimate`` in kW, a ``watts`` mapping in W) need no
    unit; otherwise ``unit`` (W or kW) decides, and without one values above 100 are taken as W.
    """
    rows = _rows(attributes, PV_KEYS)
    if unit and unit.strip().lower() in ("w", "watt"):
        scale = 0.001
    elif unit and unit.strip().lower() in ("kw", "kilowatt"):
        scale = 1.0
    else:
        free = [abs(r[2]) for r in rows if r[3] not in _KEY_SCALE]
        scale = 0.001 if free and max(free) > 100 else 1.0
    return _series(rows, scale)


def floor_to_slot(when: datetime, slot_minutes: int = 15) -> datetime:
    """The start of the slot that contains ``when``."""
    return when.replace(minute=when.minute - when.minute % slot_minutes, second=0, microsecond=0)


def to_slots(
    series: Series, start: datetime, n_slots: int, slot_minutes: int = 15
) -> tuple[FloatArray, BoolArray]:
    """Values per slot from ``start`` and a mask of the slots the series covers.

    A slot takes the value of the interval that contains its start (hourly prices repeat over
    four 15-min slots; 15-min values map one to one). Uncovered slots are 0 and False.
    """
    values = np.zeros(n_slots, dtype=np.float64)
    known = np.zeros(n_slots, dtype=np.bool_)
    if not series.values or n_slots <= 0:
        return values, known
    step = timedelta(minutes=slot_minutes)
    t0 = start.astimezone(UTC)
    starts = np.array([(s - t0) / step for s in series.start], dtype=np.float64)
    ends = np.array([(e - t0) / step for e in series.end], dtype=np.float64)
    slot = np.arange(n_slots, dtype=np.float64)
    # the last interval that starts at or before each slot's start
    idx = np.searchsorted(starts, slot, side="right") - 1
    inside = (idx >= 0) & (slot < ends[np.clip(idx, 0, None)])
    values[inside] = np.asarray(series.values, dtype=np.float64)[idx[inside]]
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
