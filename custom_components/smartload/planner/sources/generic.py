"""Any list of ``{start, end?, price|value|total}`` items (the fallback, last in the registry).

Shapes read: every attribute that is a list of mappings with a start (``start``/``start_time``/
``startsAt``/``period_start``/``from``/``time``), an optional end and a value (``price``/``value``/
``total``/...), possibly split over several attributes (custom Nord Pool's ``raw_today`` +
``raw_tomorrow`` with ``price_in_cents``), or a mapping ``{iso time: value}``. A value key that
names its unit (``price_ct_per_kwh``, ``price_eur_per_mwh``, aWATTar's ``marketprice`` in €/MWh)
needs no unit; otherwise the entity's unit and then the magnitude decide (``price_scale``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, tzinfo
from typing import Any

from ._common import (
    Row,
    Series,
    build_series,
    first_key,
    number,
    parse_time,
    price_scale,
    require,
    times_of,
    unit_of,
)

NAME = "generic"
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
# value keys that name their unit (factor to €/kWh)
PRICE_KEY_SCALE = {
    "price_ct_per_kwh": 0.01,
    "price_eur_per_mwh": 0.001,
    "price_eur_per_kwh": 1.0,
    "marketprice": 0.001,
}

type RawRow = tuple[Row, str]  # the row (value unscaled) and the key (or attribute) it came from


def raw_rows(
    attributes: Mapping[str, Any], value_keys: Iterable[str], tz: tzinfo | None
) -> list[RawRow]:
    """Rows from every list-of-mappings or ``{time: value}`` attribute, with their value key."""
    keys = tuple(value_keys)
    out: list[RawRow] = []
    for name, attr in attributes.items():
        if isinstance(attr, Mapping) and attr:
            # {iso time: value}; the attribute's name gives the unit where it is one (watts)
            for raw_start, raw_value in attr.items():
                if (start := parse_time(raw_start, tz)) is None:
                    break
                if (value := number(raw_value)) is not None:
                    out.append((Row(start=start, end=None, value=value), str(name)))
            continue
        if not isinstance(attr, list | tuple):
            continue
        items: list[Mapping[str, Any]] = []
        for item in attr:
            if not isinstance(item, Mapping):
                break
            items.append(item)
        for item, row_key in _item_rows(items, keys, tz):
            out.append((item, row_key))
    return out


def _item_rows(
    items: list[Mapping[str, Any]], keys: tuple[str, ...], tz: tzinfo | None
) -> list[RawRow]:
    out: list[RawRow] = []
    start_keys = [first_key(item, START_KEYS) for item in items]
    used = {k for k in start_keys if k is not None}
    starts: dict[int, Any] = {}
    for key in used:  # times per start key, so repeated naive local times get their fold
        picked = [i for i, k in enumerate(start_keys) if k == key]
        for i, when in zip(picked, times_of([items[i] for i in picked], key, tz), strict=True):
            starts[i] = when
    for i, item in enumerate(items):
        value_key = first_key(item, keys)
        start = starts.get(i)
        if value_key is None or start is None:
            continue
        if (value := number(item[value_key])) is None:
            continue
        end_key = first_key(item, END_KEYS)
        end = parse_time(item[end_key], tz) if end_key else None
        out.append((Row(start=start, end=end, value=value), value_key))
    return out


def detect(attributes: Mapping[str, Any]) -> bool:
    """Any attribute that yields at least one row (naive times count: the shape is there)."""
    return bool(raw_rows(attributes, PRICE_KEYS, UTC))


def parse(
    attributes: Mapping[str, Any], unit: str | None = None, *, tz: tzinfo | None = None
) -> Series:
    """Prices in €/kWh; ``unit`` (or a ``unit``/``price_in_cents`` attribute) gives the scale.

    The custom Nord Pool's ``unit`` attribute (``"kWh"``) and ``price_in_cents`` are read too.
    """
    rows = raw_rows(attributes, PRICE_KEYS, tz)
    unit = unit_of(attributes, unit)
    if attributes.get("price_in_cents") is True:
        unit = "ct/kWh"
    elif unit is None and isinstance(attributes.get("unit"), str):
        unit = f"/{attributes['unit']}"
    factor = price_scale(unit, (r.value for r, key in rows if key not in PRICE_KEY_SCALE))
    return require(
        build_series(
            Row(r.start, r.end, r.value * PRICE_KEY_SCALE.get(key, factor)) for r, key in rows
        ),
        NAME,
    )
