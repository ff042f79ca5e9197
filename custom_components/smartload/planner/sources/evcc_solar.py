"""evcc's solar forecast (as exposed by evcc's HA integrations, e.g. HACS ``evcc_intg``).

Shape read: evcc's ``/api/tariff/solar`` response, the same ``{"rates": [{"start", "end",
"value"}]}`` as its price tariffs (see ``evcc``), here with ``value`` the forecast PV power in W
(batcontrol's evcc-solar provider reads it as W). A ``unit`` of ``"kW"`` overrides.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from . import evcc
from ._common import Series, build_series, power_scale, require

NAME = "evcc_solar"


def detect(attributes: Mapping[str, Any]) -> bool:
    """A ``rates`` list of ``{start, end, value|price}``."""
    return evcc.detect(attributes)


def parse(
    attributes: Mapping[str, Any], unit: str | None = None, *, tz: tzinfo | None = None
) -> Series:
    """PV power in kW (W unless ``unit`` says kW)."""
    factor = power_scale(unit if unit else "W", [])
    return require(build_series(evcc.rows_of(evcc.rates(attributes), tz, factor)), NAME)
