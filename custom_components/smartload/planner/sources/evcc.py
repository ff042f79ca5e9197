"""evcc tariff forecast (as exposed by evcc's HA integrations, e.g. HACS ``evcc_intg``).

Shape read: evcc's ``/api/tariff/<grid|feedin|...>`` response, which github.com/marq24/ha-evcc
hands over unchanged as the tariff sensor's attributes (``sensor.py`` →
``coordinator.read_tag_tariff``): ``{"rates": [{"start": "<ISO>", "end": "<ISO>", "value": <float>},
...]}`` with ``value`` in the site currency per kWh (evcc ≥ 0.203; ``price`` before), and before
evcc 0.207 wrapped as ``{"result": {"rates": [...]}}``. The same shape carries evcc's solar forecast
(in W): that one is read by ``evcc_solar`` in the PV registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from ._common import Row, Series, build_series, mappings, number, require, times_of

NAME = "evcc"


def rates(attributes: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The ``rates`` items (also inside a legacy ``result`` wrapper) with start, end and a value."""
    raw = attributes.get("rates")
    result = attributes.get("result")
    if raw is None and isinstance(result, Mapping):
        raw = result.get("rates")
    items = mappings(raw)
    if items and all("start" in i and "end" in i and ("value" in i or "price" in i) for i in items):
        return items
    return []


def rows_of(items: list[Mapping[str, Any]], tz: tzinfo | None, factor: float) -> list[Row]:
    """Rows of evcc rates (``value``, or ``price`` of older evcc), times a factor."""
    starts = times_of(items, "start", tz)
    ends = times_of(items, "end", tz)
    rows = []
    for start, end, item in zip(starts, ends, items, strict=True):
        raw = item.get("value")
        value = number(raw if raw is not None else item.get("price"))
        if start is not None and value is not None:
            rows.append(Row(start=start, end=end, value=value * factor))
    return rows


def detect(attributes: Mapping[str, Any]) -> bool:
    """A ``rates`` list of ``{start, end, value|price}``."""
    return bool(rates(attributes))


def parse(
    attributes: Mapping[str, Any], unit: str | None = None, *, tz: tzinfo | None = None
) -> Series:
    """Prices in €/kWh (evcc rates are per kWh; ``unit`` is not needed)."""
    return require(build_series(rows_of(rates(attributes), tz, 1.0)), NAME)
