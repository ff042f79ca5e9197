"""Solcast (HACS ``solcast_solar``, github.com/BJReplay/ha-solcast-solar).

Shape read: the forecast-day sensors' ``detailedForecast`` attribute (half-hourly) or
``detailedHourly`` (hourly), per-site ``detailedForecast_<site>`` when only those are there:
lists of ``{"period_start": <local datetime>, "pv_estimate": kW, "pv_estimate10": kW,
"pv_estimate90": kW}``
(``solcastapi.py`` builds them with ``period_start.astimezone(tz)``; ``sensor.py`` keeps them out of
the recorder). ``pv_estimate`` is the mean power of the period in kW; the 10 % and 90 % estimates
become the series' ``low``/``high`` quantiles.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta, tzinfo
from typing import Any

from ._common import Row, Series, build_series, mappings, number, require, times_of

NAME = "solcast"


def _items(attributes: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    names = ["detailedForecast", "detailedHourly"]
    names += sorted(
        k for k in attributes if isinstance(k, str) and k.startswith("detailedForecast_")
    )
    for name in names:
        items = mappings(attributes.get(name))
        if items and all("period_start" in i and "pv_estimate" in i for i in items):
            return items
    return []


def detect(attributes: Mapping[str, Any]) -> bool:
    """A ``detailedForecast``/``detailedHourly`` list of ``{period_start, pv_estimate, ...}``."""
    return bool(_items(attributes))


def parse(
    attributes: Mapping[str, Any], unit: str | None = None, *, tz: tzinfo | None = None
) -> Series:
    """PV power in kW with the 10 %/90 % estimates as ``low``/``high`` (``unit`` not needed)."""
    items = _items(attributes)
    rows = [
        Row(
            start=start,
            end=None,
            value=value,
            low=number(item.get("pv_estimate10")),
            high=number(item.get("pv_estimate90")),
        )
        for start, item in zip(times_of(items, "period_start", tz), items, strict=True)
        if start is not None and (value := number(item.get("pv_estimate"))) is not None
    ]
    return require(build_series(rows, default_step=timedelta(minutes=30)), NAME)
