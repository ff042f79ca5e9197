"""The raw-spot-price tariff set in the options: ``(spot + surcharge) * (1 + VAT)``.

Some price entities give the exchange price only (Nord Pool, EPEX Spot's price, evcc's spot
tariffs). With "prices are raw spot prices" on, the reader turns them into what the household
pays with ``planner.sources.apply_tariff`` before planning.
"""

from __future__ import annotations

from collections.abc import Mapping
import math
from typing import Any, Final

from .planner.sources import SpotTariff

CONF_SPOT_PRICES: Final = "spot_prices"  # bool: the price entity gives raw spot prices
CONF_SPOT_SURCHARGE: Final = "spot_surcharge"  # €/kWh, net, added before VAT
CONF_SPOT_VAT: Final = "spot_vat"  # %
SPOT_KEYS: Final = (CONF_SPOT_PRICES, CONF_SPOT_SURCHARGE, CONF_SPOT_VAT)
DEFAULT_SPOT_SURCHARGE: Final = 0.0
DEFAULT_SPOT_VAT: Final = 19.0  # Germany


def surcharge_valid(value: Any) -> bool:
    """A finite number."""
    return isinstance(value, int | float) and math.isfinite(value)


def vat_valid(value: Any) -> bool:
    """A percentage from 0 up to (not including) 100."""
    return isinstance(value, int | float) and math.isfinite(value) and 0.0 <= value < 100.0


def spot_tariff(settings: Mapping[str, Any]) -> SpotTariff | None:
    """The tariff to apply to the import prices, or None when the prices are all-in already."""
    if not settings.get(CONF_SPOT_PRICES):
        return None
    return SpotTariff(
        surcharge_eur_per_kwh=float(settings.get(CONF_SPOT_SURCHARGE, DEFAULT_SPOT_SURCHARGE)),
        vat=float(settings.get(CONF_SPOT_VAT, DEFAULT_SPOT_VAT)) / 100.0,
    )
