"""The seasonal plan-error table in Home Assistant: observed each cycle, kept in a ``Store``.

Each cycle compares the previous cycle's forecast for the slot that just ended with what was
realised: the house consumption (the consumption reading of this cycle) and, when the PV forecast
entity is itself a power sensor, PV (its current value; otherwise PV is skipped). The cost error
is what the two errors cost at the slot's planned import price: ``(Δload − ΔPV) · price · h``.
The table (``planner.errors``) is saved with a delay and flushed when the entry unloads.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
import logging
from typing import Any, Final, override

from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN, SLOT
from .planner.errors import ErrorTable, Sample, from_dict, to_dict, update
from .planner.model import PlanInput
from .storage import async_load_store

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION: Final = 1
STORAGE_MINOR_VERSION: Final = 1
SAVE_DELAY_S: Final = 60
POWER_UNITS: Final = {"W": 0.001, "kW": 1.0, "MW": 1000.0}


def storage_key(entry_id: str) -> str:
    """The Store's key of one entry's table."""
    return f"{DOMAIN}.error_table.{entry_id}"


class ErrorTableStore(Store[dict[str, Any]]):
    """The table's Store; later versions migrate here."""

    @override
    async def _async_migrate_func(
        self, old_major_version: int, old_minor_version: int, old_data: dict[str, Any]
    ) -> dict[str, Any]:
        """Version 1 is the only one so far: its minor versions keep the data as it is."""
        return old_data


def power_kw(hass: HomeAssistant, entity_id: str | None) -> float | None:
    """The current value of a power sensor in kW; None when it is not one or not readable."""
    if not entity_id or (state := hass.states.get(entity_id)) is None:
        return None
    if state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
        return None
    scale = POWER_UNITS.get(str(state.attributes.get(ATTR_UNIT_OF_MEASUREMENT) or "").strip())
    if scale is None:
        return None
    try:
        return float(state.state) * scale
    except ValueError:
        return None


class ErrorTracker:
    """One entry's table, its Store and the previous cycle's forecast."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Bind to one entry (load with ``async_load``)."""
        self.hass = hass
        self.store = ErrorTableStore(
            hass,
            STORAGE_VERSION,
            storage_key(entry_id),
            minor_version=STORAGE_MINOR_VERSION,
        )
        self.table = ErrorTable()
        self._previous: PlanInput | None = None
        self._last_slot: datetime | None = None  # the latest slot counted
        self._dirty = False

    async def async_load(self) -> None:
        """Read the stored table (an unusable one starts empty, with a repair)."""
        raw = await async_load_store(
            self.hass,
            self.store,
            what="plan-error table",
            valid=lambda data: isinstance(data, Mapping),
        )
        self.table = from_dict(raw)

    def observe(self, inputs: PlanInput, load_kw: float | None, pv_kw: float | None) -> bool:
        """Count the slot that just ended against the previous forecast. True: a cell changed."""
        previous, self._previous = self._previous, inputs
        if previous is None or load_kw is None:
            return False
        ended = inputs.start - SLOT
        k = int((ended - previous.start) // SLOT)
        if not 0 <= k < previous.n_slots or (
            self._last_slot is not None and ended <= self._last_slot
        ):
            return False
        predicted_load = float(previous.load_kw[k])
        predicted_pv = float(previous.pv_kw[k])
        error_kw = load_kw - predicted_load - (0.0 if pv_kw is None else pv_kw - predicted_pv)
        price = float(previous.import_price_eur_per_kwh[k])
        new = update(
            self.table,
            dt_util.as_local(ended),
            Sample(consumption_kw=predicted_load, pv_kw=predicted_pv, cost_eur=0.0),
            Sample(consumption_kw=load_kw, pv_kw=pv_kw, cost_eur=error_kw * price * previous.dt_h),
        )
        self._last_slot = ended
        if new is self.table:
            return False
        self.table = new
        self._dirty = True
        self.store.async_delay_save(self._data, SAVE_DELAY_S)
        return True

    def _data(self) -> dict[str, Any]:
        self._dirty = False
        return to_dict(self.table)

    async def async_flush(self) -> None:
        """Write a pending change now (the entry unloads)."""
        if self._dirty:
            await self.store.async_save(self._data())

    def summary(self) -> dict[str, Any]:
        """Diagnostics: the samples counted and the cells that have any."""
        return {
            "samples": self.table.n_samples,
            "cells": {key: cell for key, cell in to_dict(self.table).items() if cell},
        }
