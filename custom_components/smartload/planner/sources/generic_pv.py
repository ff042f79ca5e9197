"""Any list of ``{start, power|value|...}`` items or ``{time: W}`` mapping (the PV fallback).

Same shapes as the generic price reader (``generic``), with PV value keys. Keys that name their
unit need no unit (``pv_estimate``/``power_kw`` in kW, a ``watts`` mapping in W); otherwise the
entity's unit and then the magnitude (above 100: W) decide (``power_scale``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, tzinfo
from typing import Any

from ._common import Row, Series, build_series, power_scale, require, unit_of
from .generic import raw_rows

NAME = "generic_pv"
PV_KEYS = ("pv_estimate", "power_kw", "power", "value", "watts", "pv_power")
PV_KEY_SCALE = {"pv_estimate": 1.0, "power_kw": 1.0, "watts": 0.001}


def detect(attributes: Mapping[str, Any]) -> bool:
    """Any attribute that yields at least one row."""
    return bool(raw_rows(attributes, PV_KEYS, UTC))


def parse(
    attributes: Mapping[str, Any], unit: str | None = None, *, tz: tzinfo | None = None
) -> Series:
    """PV power in kW."""
    rows = raw_rows(attributes, PV_KEYS, tz)
    factor = power_scale(
        unit_of(attributes, unit), (r.value for r, key in rows if key not in PV_KEY_SCALE)
    )
    return require(
        build_series(
            Row(r.start, r.end, r.value * PV_KEY_SCALE.get(key, factor)) for r, key in rows
        ),
        NAME,
    )
