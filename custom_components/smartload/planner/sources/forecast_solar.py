"""Forecast.Solar (Home Assistant core ``forecast_solar``).

Shapes read (``homeassistant/components/forecast_solar/services.py`` and ``energy.py``):

- the ``forecast_solar.get_forecast`` action response ``{"watts": {"<ISO>": W}, "wh_period":
  {"<ISO>": Wh}}``, keys in the site's zone; with the default ``raw`` resolution the API's own
  timestamps (sunrise, whole hours, sunset: an irregular grid, daytime only), with ``hourly``
  whole hours. ``watts`` holds from its timestamp to the next one (night: from sunset's 0 W to
  sunrise).
- the energy platform's ``{"wh_hours": {"<ISO>": Wh}}`` (hourly energy) and a bare ``wh_period``:
  energy over the interval to the next timestamp, turned into mean power.

The core sensors' attributes hold no time series, so the shell calls the action (package docs).
A 15-minute ``watts`` grid is Open-Meteo's shape and is left to ``open_meteo``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from itertools import pairwise
from typing import Any

from . import open_meteo
from ._common import Row, Series, build_series, require, time_map

NAME = "forecast_solar"
_ENERGY_KEYS = ("wh_period", "wh_hours")


def detect(attributes: Mapping[str, Any]) -> bool:
    """A ``watts``, ``wh_period`` or ``wh_hours`` time mapping (not on Open-Meteo's grid)."""
    if open_meteo.detect(attributes):
        return False
    return any(time_map(attributes.get(k), UTC) for k in ("watts", *_ENERGY_KEYS))


def _step(points: list[tuple[datetime, float]]) -> timedelta:
    gaps = [b[0] - a[0] for a, b in pairwise(points)]
    return min(gaps) if gaps else timedelta(hours=1)


def parse(
    attributes: Mapping[str, Any], unit: str | None = None, *, tz: tzinfo | None = None
) -> Series:
    """PV power in kW (``watts`` in W, or energy in Wh over each interval; ``unit`` not needed)."""
    points = time_map(attributes.get("watts"), tz)
    if points:
        step = _step(points)
        nexts = [p[0] for p in points[1:]] + [points[-1][0] + step]
        rows = [
            Row(start=when, end=end, value=watts * 0.001)
            for (when, watts), end in zip(points, nexts, strict=True)
        ]
        return require(build_series(rows, default_step=step), NAME)
    for key in _ENERGY_KEYS:
        if points := time_map(attributes.get(key), tz):
            step = _step(points)
            nexts = [p[0] for p in points[1:]] + [points[-1][0] + step]
            rows = [
                Row(start=when, end=end, value=wh / 1000 / ((end - when) / timedelta(hours=1)))
                for (when, wh), end in zip(points, nexts, strict=True)
            ]
            return require(build_series(rows, default_step=step), NAME)
    return require(build_series([]), NAME)
