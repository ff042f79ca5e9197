"""Tibber (Home Assistant core ``tibber``).

Shapes read:

- the ``tibber.get_prices`` action response (``homeassistant/components/tibber/services.py``):
  ``{"prices": {"<home nickname>": [{"start_time": "<ISO with offset>", "price": <total>}, ...]}}``
  with the total price (energy + grid fees + taxes) in the home's currency per kWh. The first home
  is read (a user with several homes picks the entity of the one SmartLoad runs).
- the Tibber API ``priceInfo`` shape, a list of ``{"startsAt": ..., "total": ...}`` (per kWh), as
  copied into attributes by Tibber REST/template sensors.

The core price *sensor* has no forecast in its attributes (only ``min_price``/``max_price``/
``avg_price`` of the day), so the shell must call the action (see the package docstring).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from ._common import Row, Series, build_series, mappings, number, require, times_of

NAME = "tibber"


def _homes(attributes: Mapping[str, Any]) -> list[list[Mapping[str, Any]]]:
    prices = attributes.get("prices")
    if not isinstance(prices, Mapping):
        return []
    homes = []
    for items in prices.values():
        rows = mappings(items)
        if rows and all("start_time" in r and "price" in r for r in rows):
            homes.append(rows)
    return homes


def _price_info(attributes: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    for attr in attributes.values():
        rows = mappings(attr)
        if rows and all("startsAt" in r and "total" in r for r in rows):
            return rows
    return []


def detect(attributes: Mapping[str, Any]) -> bool:
    """A ``get_prices`` response (``prices`` by home) or a ``startsAt``/``total`` list."""
    return bool(_homes(attributes) or _price_info(attributes))


def parse(
    attributes: Mapping[str, Any], unit: str | None = None, *, tz: tzinfo | None = None
) -> Series:
    """Total prices in €/kWh (Tibber states prices per kWh; ``unit`` is not needed)."""
    homes = _homes(attributes)
    if homes:
        items, start_key, value_key = homes[0], "start_time", "price"
    else:
        items, start_key, value_key = _price_info(attributes), "startsAt", "total"
    rows = [
        Row(start=start, end=None, value=value)
        for start, item in zip(times_of(items, start_key, tz), items, strict=True)
        if start is not None and (value := number(item.get(value_key))) is not None
    ]
    return require(build_series(rows), NAME)
