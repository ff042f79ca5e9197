"""The consumption entity's history from the recorder → the fitted consumption forecaster.

The recorder's long-term statistics of the configured consumption entity are read for the last 8
weeks, hourly: the ``mean`` of a power sensor (W, kW, MW) or the hourly ``change`` of an energy
meter (Wh, kWh, MWh; a total meter's ``sum``). The database is read in the recorder's executor
and the forecaster (profile, SARIMA where statsmodels is installed, see ``planner.forecast``) is
fitted in Home Assistant's executor: nothing blocks the event loop. It runs as a background task
of the entry, so that set-up and the cycles do not wait for it (until the first fit, the plan uses
today's flat value; a new fit triggers a re-plan). The fit is cached and refreshed once a day, or
within the hour while there is no history yet (a new install learns as soon as the recorder has
compiled its first statistics).

Loads the plan controls are subtracted when the consumption entity includes them: the optional
controlled-load entity (typically the wallbox's power or energy) is read the same way and passed as
``fit_load_forecaster(controlled_kw=...)``, so the forecaster learns the base load and not
SmartLoad's own decisions. Hours where it has no statistics subtract nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
import logging
import math
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import numpy as np

from .const import DOMAIN, LOAD_MODEL_AUTO, LOAD_MODEL_PROFILE, LOAD_MODEL_SARIMA
from .planner.forecast import LoadForecaster, fit_load_forecaster, sarima_available

_LOGGER = logging.getLogger(__name__)

HISTORY = timedelta(weeks=8)
REFRESH = timedelta(days=1)
RETRY = timedelta(hours=1)  # while there is no history (or the last read failed)
HOUR = timedelta(hours=1)
SARIMA_UNAVAILABLE = "sarima_unavailable"  # repair issue: SARIMA chosen, statsmodels missing

POWER = "power"
ENERGY = "energy"
POWER_SCALE = {"W": 0.001, "kW": 1.0, "MW": 1000.0}
ENERGY_SCALE = {"Wh": 0.001, "kWh": 1.0, "MWh": 1000.0}


@dataclass(frozen=True, kw_only=True, slots=True)
class HourlyHistory:
    """Mean kW per hour from ``start`` (UTC), NaN where the recorder has nothing."""

    start: datetime
    load_kw: np.ndarray
    kind: str  # POWER or ENERGY
    unit: str


def read_hourly_history(
    hass: HomeAssistant, entity_id: str, start: datetime, end: datetime
) -> HourlyHistory | None:
    """Read the statistics (blocking: run it in the recorder's executor).

    None if the entity has no statistics or a unit that is neither power nor energy.
    """
    from homeassistant.components.recorder.statistics import (
        get_metadata,
        statistics_during_period,
    )

    found = get_metadata(hass, statistic_ids={entity_id}).get(entity_id)
    if found is None:
        return None
    meta = found[1]
    unit = (meta.get("unit_of_measurement") or "").strip()
    if meta.get("has_sum") and unit in ENERGY_SCALE:
        kind, scale, column = ENERGY, ENERGY_SCALE[unit], "change"
    elif unit in POWER_SCALE:
        kind, scale, column = POWER, POWER_SCALE[unit], "mean"
    else:
        return None
    rows = statistics_during_period(hass, start, end, {entity_id}, "hour", None, {column}).get(
        entity_id, []
    )
    n = int((end - start) // HOUR)
    load = np.full(n, np.nan)
    for row in rows:
        value = row.get(column)
        if value is None or not math.isfinite(value):
            continue
        index = int((row["start"] - start.timestamp()) // 3600)
        if 0 <= index < n:
            kw = float(value) * scale  # an hour's kWh is its mean kW
            load[index] = kw if kind == POWER or kw >= 0 else np.nan  # a meter reset: unknown
    return HourlyHistory(start=start, load_kw=np.maximum(load, 0.0), kind=kind, unit=unit)


class ConsumptionHistory:
    """The fitted forecaster of one consumption entity, refreshed daily."""

    def __init__(
        self,
        hass: HomeAssistant,
        entity_id: str | None,
        controlled_id: str | None = None,
        *,
        model: str = LOAD_MODEL_AUTO,
        issue_id: str | None = None,
        name: str = "SmartLoad",
    ) -> None:
        """Bind to the consumption entity (None: nothing to learn from) and the entity of the
        controlled loads it includes (None: it includes none). ``model``: the user's choice of
        forecast model; ``issue_id``: the repair issue raised when SARIMA is chosen but
        statsmodels cannot be imported."""
        self.hass = hass
        self.model = model
        self.issue_id = issue_id
        self.name = name  # the home's name, in the repair issue
        self.entity_id = entity_id
        self.controlled_id = controlled_id
        self.controlled_kwh: float | None = None  # subtracted over the history read last
        self.forecaster: LoadForecaster | None = None
        self.kind: str | None = None
        self.unit: str | None = None
        self.fitted_at: datetime | None = None
        self.attempted_at: datetime | None = None
        self.error: str | None = None
        self._task: asyncio.Task[None] | None = None

    def due(self, now: datetime) -> bool:
        """Whether the history should be read (again) now."""
        if self.entity_id is None:
            return False
        if self.attempted_at is None:
            return True
        if now - self.attempted_at < RETRY:  # also while a read is under way
            return False
        if self.forecaster is None or self.error is not None:
            return True
        return self.fitted_at is None or now - self.fitted_at >= REFRESH

    @callback
    def async_schedule(
        self,
        now: datetime,
        entry: ConfigEntry,
        on_learned: Callable[[], Coroutine[Any, Any, None]],
    ) -> None:
        """Learn in the background when due; ``on_learned`` is awaited after a useful new fit."""
        if (self._task is not None and not self._task.done()) or not self.due(now):
            return
        self._task = entry.async_create_background_task(
            self.hass,
            self._async_learn(now, on_learned),
            name=f"SmartLoad consumption history {self.entity_id}",
        )

    async def _async_learn(
        self, now: datetime, on_learned: Callable[[], Coroutine[Any, Any, None]]
    ) -> None:
        await self.async_update(now)
        if self.error is None and self.forecaster is not None and self.forecaster.n_days > 0:
            await on_learned()

    async def async_update(self, now: datetime) -> None:
        """Read the history and fit the forecaster when due. Never raises."""
        if not self.due(now) or self.entity_id is None:
            return
        self.attempted_at = now
        end = now.astimezone(dt_util.UTC).replace(minute=0, second=0, microsecond=0)
        try:
            history = await self._async_read(self.entity_id, end - HISTORY, end)
            controlled = (
                await self._async_read(self.controlled_id, end - HISTORY, end)
                if history is not None and self.controlled_id is not None
                else None
            )
            if self.model == LOAD_MODEL_SARIMA:
                self._report_sarima(await self.hass.async_add_executor_job(sarima_available))
            if history is None:
                forecaster = None
            else:
                forecaster = await self.hass.async_add_executor_job(
                    partial(
                        fit_load_forecaster,
                        history.start,
                        history.load_kw,
                        step_minutes=60,
                        timezone=self.hass.config.time_zone,
                        controlled_kw=[controlled.load_kw] if controlled is not None else [],
                        use_sarima=self.model != LOAD_MODEL_PROFILE,
                        prefer_sarima=self.model == LOAD_MODEL_SARIMA,
                    )
                )
            self.controlled_kwh = (
                round(float(np.nansum(controlled.load_kw)), 3) if controlled is not None else None
            )
        except Exception as err:  # a database or fit problem: keep the last fit, plan on
            if self.error is None:
                _LOGGER.warning(
                    "SmartLoad cannot learn the consumption of %s (it plans with the last "
                    "forecast or the current value): %r",
                    self.entity_id,
                    err,
                )
            self.error = repr(err)
            return
        self.error = None
        self.forecaster = forecaster
        self.kind = history.kind if history is not None else None
        self.unit = history.unit if history is not None else None
        self.fitted_at = now
        if forecaster is not None:
            _LOGGER.debug(
                "Consumption forecaster for %s: %s from %d days (MAE profile %s, SARIMA %s kW)",
                self.entity_id,
                forecaster.model,
                forecaster.n_days,
                forecaster.mae_profile_kw,
                forecaster.mae_sarima_kw,
            )

    def _report_sarima(self, available: bool) -> None:
        """SARIMA chosen: a repair issue while statsmodels cannot be imported (the profile
        forecasts meanwhile), withdrawn when it can."""
        if self.issue_id is None:
            return
        if available:
            ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)
            return
        if ir.async_get(self.hass).async_get_issue(DOMAIN, self.issue_id) is None:
            _LOGGER.warning(
                "SARIMA is chosen for the consumption forecast, but statsmodels cannot be "
                "imported: the profile forecasts instead"
            )
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self.issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=SARIMA_UNAVAILABLE,
            translation_placeholders={"name": self.name},
        )

    def async_clear_issue(self) -> None:
        """The entry unloads: nothing left to repair."""
        if self.issue_id is not None:
            ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)

    async def _async_read(
        self, entity_id: str, start: datetime, end: datetime
    ) -> HourlyHistory | None:
        if "recorder" not in self.hass.config.components:
            return None
        from homeassistant.components.recorder import get_instance

        return await get_instance(self.hass).async_add_executor_job(
            read_hourly_history, self.hass, entity_id, start, end
        )

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly view (diagnostics)."""
        fc = self.forecaster
        return {
            "entity_id": self.entity_id,
            "kind": self.kind,
            "unit": self.unit,
            "fitted_at": self.fitted_at.isoformat() if self.fitted_at else None,
            "error": self.error,
            "model": fc.model if fc is not None else None,
            "history_days": fc.n_days if fc is not None else 0,
            "mae_profile_kw": _round(fc.mae_profile_kw) if fc is not None else None,
            "mae_sarima_kw": _round(fc.mae_sarima_kw) if fc is not None else None,
            "model_choice": self.model,
            "controlled_entity_id": self.controlled_id,
            "controlled_kwh_subtracted": self.controlled_kwh,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
