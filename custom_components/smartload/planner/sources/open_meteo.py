"""Open-Meteo Solar Forecast (HACS ``open_meteo_solar_forecast``).

Source: github.com/rany2/ha-open-meteo-solar-forecast.

Shape read: the energy-production sensors' attributes (``sensor.py``, ``const.py``):
``{"watts": {"<local ISO>": W, ...}, "wh_period": {"<local ISO>": Wh, ...}}``, one day per sensor
(``energy_production_today``, ``..._tomorrow``, ``..._d2`` ...) on the library's 15-minute grid,
including the night's zeros. What tells it from Forecast.Solar (which has the same two keys) is
that grid: every step exactly 15 minutes. ``watts`` is read (W → kW); each value holds for its
quarter hour. For more than one day the shell merges the sensors' ``watts`` mappings.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, timedelta, tzinfo
from itertools import pairwise
from typing import Any

from ._common import Row, Series, build_series, require, time_map

NAME = "open_meteo"
_STEP = timedelta(minutes=15)


def detect(attributes: Mapping[str, Any]) -> bool:
    """``watts`` on a regular 15-minute grid."""
    points = time_map(attributes.get("watts"), UTC)
    return len(points) >= 2 and all(b[0] - a[0] == _STEP for a, b in pairwise(points))


def parse(
    attributes: Mapping[str, Any], unit: str | None = None, *, tz: tzinfo | None = None
) -> Series:
    """PV power in kW (``watts`` is in W; ``unit`` is not needed)."""
    rows = [
        Row(start=when, end=when + _STEP, value=watts * 0.001)
        for when, watts in time_map(attributes.get("watts"), tz)
    ]
    return require(build_series(rows, default_step=_STEP), NAME)
