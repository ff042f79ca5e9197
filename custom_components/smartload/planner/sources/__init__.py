"""Price and PV forecasts from an entity's attributes (plain mappings, no Home Assistant).

The HA shell hands over ``state.attributes`` (or an action's response) as a plain mapping; one
small module per source says whether the mapping has its shape (``detect``) and reads it
(``parse``) into one typed ``Series`` in base units: €/kWh for prices, kW for PV power. The
registries below list the sources in priority order, the generic reader last; adding a source is
adding a module and a line. Times, units, duplicates, gaps and slots are handled once, in
``_common``.

Errors: a source's ``parse`` raises ``ParseError`` (a ``ValueError``) when the mapping holds no
usable forecast of its shape, and nothing else. ``read_price_forecast``/``read_pv_forecast`` do
the same for the whole registry; ``parse_price_forecast``/``parse_pv_forecast`` (what the shell
calls today) return an empty ``Series`` instead, which the shell reports as an empty forecast.

What the shell fetches (it only fetches; parsing is here):

- Tibber: ``tibber.get_prices`` (``return_response``), default window today + tomorrow.
- Nord Pool: ``nordpool.get_prices_for_date`` for today and tomorrow (``return_response``), the
  two responses' area lists concatenated (``{area: today + tomorrow}``).
- Forecast.Solar: ``forecast_solar.get_forecast`` (``return_response``).
- Open-Meteo Solar Forecast: the ``watts`` of the today and tomorrow sensors merged.
- EPEX Spot, Energi Data Service, evcc, Solcast: the entity's attributes as they are.
- Raw spot prices (Nord Pool, EPEX Spot's price, evcc spot): ``apply_tariff`` with the user's
  ``SpotTariff`` (surcharge, VAT).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from . import (
    energi_data_service,
    epex_spot,
    evcc,
    evcc_solar,
    forecast_solar,
    generic,
    generic_pv,
    nordpool,
    open_meteo,
    solcast,
    tibber,
)
from ._common import (
    EMPTY,
    ParseError,
    Series,
    Source,
    after,
    floor_to_slot,
    known_slots,
    power_scale,
    price_scale,
    to_slots,
)
from .tariff import SpotTariff, apply_tariff, gross_price

# priority order: the most specific shapes first, the generic reader last
PRICE_SOURCES: tuple[Source, ...] = (
    tibber,
    nordpool,
    epex_spot,
    energi_data_service,
    evcc,
    generic,
)
PV_SOURCES: tuple[Source, ...] = (
    solcast,
    open_meteo,
    forecast_solar,
    evcc_solar,
    generic_pv,
)

__all__ = [
    "PRICE_SOURCES",
    "PV_SOURCES",
    "ParseError",
    "Series",
    "Source",
    "SpotTariff",
    "after",
    "apply_tariff",
    "detect_source",
    "floor_to_slot",
    "gross_price",
    "known_slots",
    "parse_forecast",
    "parse_price_forecast",
    "parse_pv_forecast",
    "power_scale",
    "price_scale",
    "read_forecast",
    "read_price_forecast",
    "read_pv_forecast",
    "to_slots",
]


def detect_source(attributes: Mapping[str, Any], sources: tuple[Source, ...]) -> Source | None:
    """The first source in ``sources`` whose shape the attributes have."""
    if not isinstance(attributes, Mapping):
        return None
    return next((source for source in sources if source.detect(attributes)), None)


def read_forecast(
    attributes: Mapping[str, Any],
    sources: tuple[Source, ...],
    unit: str | None = None,
    *,
    tz: tzinfo | None = None,
    now: datetime | None = None,
) -> Series:
    """The forecast read by the first source that detects its shape; ``ParseError`` if none does.

    ``tz`` places naive times; with ``now`` the intervals that ended by then are dropped (a stale
    forecast comes back empty, which is not an error: the data was read, it is just over).
    """
    source = detect_source(attributes, sources)
    if source is None:
        raise ParseError("no known forecast shape in the attributes")
    series = source.parse(attributes, unit, tz=tz)
    return series if now is None else after(series, now)


def read_price_forecast(
    attributes: Mapping[str, Any],
    unit: str | None = None,
    *,
    tz: tzinfo | None = None,
    now: datetime | None = None,
) -> Series:
    """The price forecast (€/kWh); ``ParseError`` when the attributes hold none."""
    return read_forecast(attributes, PRICE_SOURCES, unit, tz=tz, now=now)


def read_pv_forecast(
    attributes: Mapping[str, Any],
    unit: str | None = None,
    *,
    tz: tzinfo | None = None,
    now: datetime | None = None,
) -> Series:
    """The PV power forecast (kW); ``ParseError`` when the attributes hold none."""
    return read_forecast(attributes, PV_SOURCES, unit, tz=tz, now=now)


def parse_forecast(
    attributes: Mapping[str, Any],
    sources: tuple[Source, ...],
    unit: str | None = None,
    *,
    tz: tzinfo | None = None,
    now: datetime | None = None,
) -> Series:
    """Like ``read_forecast``, but an empty series instead of ``ParseError``."""
    try:
        return read_forecast(attributes, sources, unit, tz=tz, now=now)
    except ParseError:
        return EMPTY


def parse_price_forecast(
    attributes: Mapping[str, Any],
    unit: str | None = None,
    *,
    tz: tzinfo | None = None,
    now: datetime | None = None,
) -> Series:
    """The price forecast (€/kWh) in an entity's attributes; empty when there is none."""
    return parse_forecast(attributes, PRICE_SOURCES, unit, tz=tz, now=now)


def parse_pv_forecast(
    attributes: Mapping[str, Any],
    unit: str | None = None,
    *,
    tz: tzinfo | None = None,
    now: datetime | None = None,
) -> Series:
    """The PV power forecast (kW) in an entity's attributes; empty when there is none."""
    return parse_forecast(attributes, PV_SOURCES, unit, tz=tz, now=now)
