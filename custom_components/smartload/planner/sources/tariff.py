"""Gross (all-in) prices from raw spot prices: ``all_in = (spot + surcharge) * (1 + vat)``.

Raw spot sources (Nord Pool, EPEX Spot's price, evcc's spot tariffs) give the exchange price; a
household pays that plus a per-kWh surcharge (grid fees, levies, electricity tax, the supplier's
margin) with VAT on the sum. In Germany 2024, for example, the surcharge is about 0.17–0.20 €/kWh
net and VAT 19 %. Tibber's ``total``, Energi Data Service's prices and EPEX Spot's net price are
already gross: they need no tariff.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import math

from ._common import Series


@dataclass(frozen=True, kw_only=True, slots=True)
class SpotTariff:
    """What turns a spot price into the price paid (all in €/kWh; ``vat`` as a fraction)."""

    surcharge_eur_per_kwh: float = 0.0  # net, added to the spot price before VAT
    vat: float = 0.0  # 0.19 for 19 %

    def __post_init__(self) -> None:
        """Reject a tariff that cannot be meant (non-finite, VAT outside 0…100 %)."""
        if not math.isfinite(self.surcharge_eur_per_kwh):
            raise ValueError("surcharge_eur_per_kwh must be finite")
        if not (math.isfinite(self.vat) and 0.0 <= self.vat < 1.0):
            raise ValueError("vat is a fraction in [0, 1)")


def gross_price(spot_eur_per_kwh: float, tariff: SpotTariff) -> float:
    """The all-in price for one spot price: ``(spot + surcharge) * (1 + vat)``."""
    return (spot_eur_per_kwh + tariff.surcharge_eur_per_kwh) * (1.0 + tariff.vat)


def apply_tariff(series: Series, tariff: SpotTariff) -> Series:
    """The series with every value (and quantile) turned into the all-in price."""

    def gross(values: tuple[float, ...] | None) -> tuple[float, ...] | None:
        return None if values is None else tuple(gross_price(v, tariff) for v in values)

    return replace(
        series,
        values=tuple(gross_price(v, tariff) for v in series.values),
        low=gross(series.low),
        high=gross(series.high),
    )
