"""EPEX Spot (HACS ``epex_spot``, github.com/mampfes/ha_epex_spot).

Shape read: the price sensors' ``data`` attribute, a list of ``{"start_time": "<local ISO>",
"end_time": "<local ISO>", <price>}`` (``sensor.py``: ``dt_util.as_local(...).isoformat()``, so
offsets change on DST days). The price key names its unit (``localization.py``/``const.py``):
``price_eur_per_mwh`` / ``price_gbp_per_mwh`` (spot, per MWh), ``price_ct_per_kwh`` /
``price_pence_per_kwh`` (per kWh in cents; the "Net Price" sensor's value with the user's
surcharges), and in newer releases ``price_per_kwh`` (in the sensor's per-kWh unit, else told by its
magnitude). Rank/quantile sensors carry a ``data`` list without a price and are not read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from ._common import Row, Series, build_series, mappings, number, price_scale, require, times_of

NAME = "epex_spot"
# value key -> factor to €/kWh (None: from the unit or the magnitude)
_PRICE_KEYS: dict[str, float | None] = {
    "price_eur_per_mwh": 0.001,
    "price_gbp_per_mwh": 0.001,
    "price_ct_per_kwh": 0.01,
    "price_pence_per_kwh": 0.01,
    "price_per_kwh": None,
}


def _items(attributes: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], str | None]:
    items = mappings(attributes.get("data"))
    if not items or not all("start_time" in item for item in items):
        return [], None
    key = next((k for k in _PRICE_KEYS if all(k in item for item in items)), None)
    return (items, key) if key else ([], None)


def detect(attributes: Mapping[str, Any]) -> bool:
    """A ``data`` list of ``{start_time, [end_time], price_*}``."""
    return _items(attributes)[1] is not None


def parse(
    attributes: Mapping[str, Any], unit: str | None = None, *, tz: tzinfo | None = None
) -> Series:
    """Prices in €/kWh (spot per MWh or net per kWh, as the key says)."""
    items, key = _items(attributes)
    if key is None:
        return require(build_series([]), NAME)
    values = [number(item.get(key)) for item in items]
    factor = _PRICE_KEYS[key]
    if factor is None:
        kwh_unit = unit if unit and "kwh" in unit.lower() else None
        factor = price_scale(kwh_unit, [v for v in values if v is not None])
    starts = times_of(items, "start_time", tz)
    ends = times_of(items, "end_time", tz)
    rows = [
        Row(start=start, end=end, value=value * factor)
        for start, end, value in zip(starts, ends, values, strict=True)
        if start is not None and value is not None
    ]
    return require(build_series(rows), NAME)
