"""Nord Pool (Home Assistant core ``nordpool``).

Shape read: the ``nordpool.get_prices_for_date`` action response
(``homeassistant/components/nordpool/services.py``): ``{"<AREA>": [{"start": "<ISO>", "end":
"<ISO>", "price": <float>}, ...]}``, one list per delivery area (``"SE3"``, ``"DE-LU"``, ...), times
in UTC (``+00:00``), prices in the entry's currency **per MWh** (pynordpool's delivery-period
entries; the core price sensors divide them by 1000 for per-kWh states). One call covers one
delivery date: the shell calls it for today and tomorrow and hands over ``{area: today +
tomorrow}``. With several areas the first is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
import re
from typing import Any

from ._common import Row, Series, build_series, mappings, number, require, times_of

NAME = "nordpool"
_AREA = re.compile(r"^[A-Z][A-Z0-9]{1,3}(-[A-Z0-9]{2,4})?$")
_KEYS = frozenset(("start", "end", "price"))


def _areas(attributes: Mapping[str, Any]) -> list[list[Mapping[str, Any]]]:
    areas = []
    for key, items in attributes.items():
        if not isinstance(key, str) or not _AREA.match(key):
            continue
        rows = mappings(items)
        if rows and all(set(r) >= _KEYS for r in rows):
            areas.append(rows)
    return areas


def detect(attributes: Mapping[str, Any]) -> bool:
    """An area code mapping to a list of ``{start, end, price}``."""
    return bool(_areas(attributes))


def parse(
    attributes: Mapping[str, Any], unit: str | None = None, *, tz: tzinfo | None = None
) -> Series:
    """Prices in €/kWh (the response is per MWh; ``unit`` is not needed)."""
    areas = _areas(attributes)
    items = areas[0] if areas else []
    starts = times_of(items, "start", tz)
    ends = times_of(items, "end", tz)
    rows = [
        Row(start=start, end=end, value=value * 0.001)
        for start, end, item in zip(starts, ends, items, strict=True)
        if start is not None and (value := number(item.get("price"))) is not None
    ]
    return require(build_series(rows), NAME)
