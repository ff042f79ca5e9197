"""Price forecasts that come from an action (Tibber, Nord Pool), fetched and cached for the reader.

The core Tibber and Nord Pool price sensors hold no forecast in their attributes: the forecast is
the response of an action (``tibber.get_prices``, ``nordpool.get_prices_for_date``). When the
configured price entity belongs to one of these integrations (its entity-registry ``platform``),
the coordinator has this fetcher call the action before each cycle's read, at most once an hour
and only while the cached forecast is missing or ends within the next 12 hours. The response is
parsed by ``planner.sources`` (the shell only fetches). A failure (the action is missing, raises,
or gives a shape the parser refuses) leaves a non-blocking ``InputProblem`` with the reason; the
reader then falls back on a still-current cached forecast or on the entity's attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util

from .planner.sources import ParseError, Series, after, read_price_forecast

_LOGGER = logging.getLogger(__name__)

TIBBER = "tibber"
NORDPOOL = "nordpool"
PLATFORMS = frozenset({TIBBER, NORDPOOL})
MIN_INTERVAL = timedelta(hours=1)  # at most one call an hour
REFRESH_BEFORE_END = timedelta(hours=12)  # fetch again while the cache ends within this
TIBBER_WINDOW = timedelta(hours=48)


class ActionFailedError(Exception):
    """The forecast action could not be called or its response could not be read."""


def action_platform(hass: HomeAssistant, entity_id: str) -> tuple[str, str | None] | None:
    """``(platform, config_entry_id)`` when the entity's forecast comes from an action."""
    entry = er.async_get(hass).async_get(entity_id)
    if entry is None or entry.platform not in PLATFORMS:
        return None
    return entry.platform, entry.config_entry_id


class PriceAction:
    """Calls the price entity's forecast action when due and keeps its parsed forecast."""

    def __init__(self, hass: HomeAssistant, entity_id: str) -> None:
        """Bind to the price entity."""
        self.hass = hass
        self.entity_id = entity_id
        self.series: Series | None = None  # the latest parsed response (UTC, €/kWh)
        self.error: str | None = None  # why the latest call failed (None: it worked)
        self.last_call: datetime | None = None
        self.calls = 0

    def due(self, now: datetime) -> bool:
        """No call within the hour, and no cached forecast reaching 12 h ahead."""
        if self.last_call is not None and now - self.last_call < MIN_INTERVAL:
            return False
        if self.series is None or not self.series.end:
            return True
        return self.series.end[-1] - now <= REFRESH_BEFORE_END

    def current(self, now: datetime) -> Series | None:
        """The cached forecast from ``now`` on, or None when it is over or missing."""
        if self.series is None:
            return None
        remaining = after(self.series, now)
        return remaining if remaining.values else None

    async def async_update(self, now: datetime) -> bool:
        """Call the action when due. False: the price entity is not served by an action."""
        found = action_platform(self.hass, self.entity_id)
        if found is None:
            self.series, self.error = None, None
            return False
        if not self.due(now):
            return True
        self.last_call = now
        self.calls += 1
        platform, config_entry_id = found
        self.error = None
        try:
            if platform == TIBBER:
                response = await self._tibber(now)
            else:
                response = await self._nordpool(now, config_entry_id)
            series = read_price_forecast(response, tz=dt_util.get_default_time_zone())
        except (HomeAssistantError, ActionFailedError, ParseError) as err:
            self.error = str(err) or type(err).__name__
        except Exception as err:
            self.error = f"{type(err).__name__}: {err}"
        else:
            self.series = series
        if self.error is not None:
            _LOGGER.debug("Price forecast action for %s failed: %s", self.entity_id, self.error)
        return True

    async def _call(self, domain: str, service: str, data: dict[str, Any]) -> Mapping[str, Any]:
        if not self.hass.services.has_service(domain, service):
            raise ActionFailedError(f"the action {domain}.{service} does not exist")
        response = await self.hass.services.async_call(
            domain, service, data, blocking=True, return_response=True
        )
        if not isinstance(response, Mapping):
            raise ActionFailedError(f"{domain}.{service} gave no response")
        return response

    async def _tibber(self, now: datetime) -> Mapping[str, Any]:
        start = dt_util.as_local(now).replace(minute=0, second=0, microsecond=0)
        return await self._call(
            TIBBER,
            "get_prices",
            {"start": start.isoformat(), "end": (start + TIBBER_WINDOW).isoformat()},
        )

    async def _nordpool(self, now: datetime, config_entry_id: str | None) -> Mapping[str, Any]:
        entry = (
            self.hass.config_entries.async_get_entry(config_entry_id) if config_entry_id else None
        )
        if entry is None:
            raise ActionFailedError("the Nord Pool config entry of the price entity is missing")
        data: dict[str, Any] = {"config_entry": entry.entry_id}
        if areas := self._nordpool_areas(entry):
            data["areas"] = areas
        if currency := entry.data.get("currency"):
            data["currency"] = currency
        today = dt_util.as_local(now).date()
        merged: dict[str, list[Any]] = {}
        for day in (today, today + timedelta(days=1)):
            response = await self._call(
                NORDPOOL, "get_prices_for_date", {**data, "date": day.isoformat()}
            )
            for area, items in response.items():
                if isinstance(items, list):
                    merged.setdefault(str(area), []).extend(items)
        return merged

    def _nordpool_areas(self, entry: ConfigEntry) -> list[str]:
        """The entity's own delivery area (from its unique id), else the entry's areas."""
        areas = [str(a) for a in entry.data.get("areas") or []]
        reg = er.async_get(self.hass).async_get(self.entity_id)
        unique_id = reg.unique_id if reg is not None else ""
        own = [a for a in areas if unique_id.startswith(f"{a}-") or f"-{a}-" in unique_id]
        return own[:1] or areas
