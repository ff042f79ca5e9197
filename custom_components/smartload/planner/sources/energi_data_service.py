"""Energi Data Service (HACS ``energidataservice``, github.com/MTrab/energidataservice).

Shape read: the sensor's ``raw_today`` / ``raw_tomorrow`` attributes, lists of ``{"hour": <local
datetime>, "price": <float>}`` (``sensor.py``: ``_add_raw``), ``raw_tomorrow`` ``None`` until
tomorrow's prices are out. Prices are the integration's final prices (spot + its tariff template +
VAT) in ``unit_of_measurement`` = ``"<currency>/<price type>"`` (e.g. ``"DKK/kWh"``, ``"EUR/MWh"``)
with the price type also in the ``unit`` attribute; the unit decides the scale (a magnitude guess
would take Danish kroner for cents). Currencies are not converted: the plan works in the currency
the user's prices are in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from ._common import Row, Series, build_series, mappings, number, price_scale, require, times_of

NAME = "energi_data_service"
_LISTS = ("raw_today", "raw_tomorrow")


def _lists(attributes: Mapping[str, Any]) -> list[list[Mapping[str, Any]]]:
    found = []
    for name in _LISTS:
        items = mappings(attributes.get(name))
        if items and all("hour" in i and "price" in i for i in items):
            found.append(items)
    return found


def detect(attributes: Mapping[str, Any]) -> bool:
    """``raw_today`` (and ``raw_tomorrow``) lists of ``{hour, price}``."""
    return bool(_lists(attributes))


def _unit(attributes: Mapping[str, Any], unit: str | None) -> str | None:
    for candidate in (unit, attributes.get("unit_of_measurement")):
        if isinstance(candidate, str) and "wh" in candidate.lower():
            return candidate
    price_type = attributes.get("unit")
    return f"/{price_type}" if isinstance(price_type, str) and price_type else None


def parse(
    attributes: Mapping[str, Any], unit: str | None = None, *, tz: tzinfo | None = None
) -> Series:
    """Prices per kWh in the sensor's currency (per MWh converted)."""
    rows: list[Row] = []
    for items in _lists(attributes):
        for start, item in zip(times_of(items, "hour", tz), items, strict=True):
            if start is not None and (value := number(item.get("price"))) is not None:
                rows.append(Row(start=start, end=None, value=value))
    factor = price_scale(_unit(attributes, unit), [r.value for r in rows])
    return require(build_series(Row(r.start, None, r.value * factor) for r in rows), NAME)
