"""One home's plan timeline: the past 24 h beside the plan, and the plan's export, cached.

The coordinator calls ``observe`` after every cycle. ``async_document`` builds the export of the
current plan (``planner.export``) once per plan and language in the executor and keeps it until
the next cycle; the panel's HTTP view and the read actions slice it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from homeassistant.core import callback
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util

from .const import CONF_PV_POWER_ENTITY, DOMAIN
from .error_table import power_kw
from .inputs import entry_settings
from .planner.export import PastLog, export_plan, window

if TYPE_CHECKING:
    from .coordinator import CycleResult, SmartLoadCoordinator

PLAN_SENSOR_KEY = "plan"  # the plan sensor's description key (unique id: <entry_id>_plan)
LANGUAGES = ("en", "de")  # the languages of the whys (planner.explain)


def language(lang: str | None) -> str:
    """A language the whys are written in: "de" for "de", "de-CH", ...; else English."""
    base = (lang or "").replace("_", "-").split("-")[0].casefold()
    return base if base in LANGUAGES else "en"


class PlanTimeline:
    """The past slots of one entry and the cached export of its current plan."""

    def __init__(self, coordinator: SmartLoadCoordinator) -> None:
        """Empty until the first cycle."""
        self.coordinator = coordinator
        self.past = PastLog()
        self._observed: CycleResult | None = None
        self._cache: dict[str, dict[str, Any]] = {}  # language -> full document
        self._cached_for: CycleResult | None = None

    @callback
    def async_start(self) -> None:
        """Record this cycle and every following one."""
        self.observe()
        self.coordinator.config_entry.async_on_unload(
            self.coordinator.async_add_listener(self.observe)
        )

    @callback
    def observe(self) -> None:
        """Record the coordinator's latest cycle (once per cycle)."""
        result = self.coordinator.data
        if result is None or result is self._observed:
            return
        self._observed = result
        if result.inputs is None:
            return
        conf = entry_settings(self.coordinator.config_entry)
        self.past.observe(
            result.inputs,
            result.plan if result.decision is not None else None,
            load_kw=self.coordinator.reader.load_reading_kw,
            pv_kw=power_kw(self.coordinator.hass, conf.get(CONF_PV_POWER_ENTITY)),
        )

    @property
    def plan_entity_id(self) -> str | None:
        """The plan sensor's entity id (the panel watches it for new plans)."""
        entry_id = self.coordinator.config_entry.entry_id
        return er.async_get(self.coordinator.hass).async_get_entity_id(
            "sensor", DOMAIN, f"{entry_id}_{PLAN_SENSOR_KEY}"
        )

    async def async_document(self, lang: str) -> dict[str, Any]:
        """The whole plan and the past 24 h as plain data (built once per cycle and language)."""
        lang = language(lang)
        result = self.coordinator.data
        if result is not self._cached_for:
            self._cache.clear()
            self._cached_for = result
        if (doc := self._cache.get(lang)) is None:
            doc = await self.coordinator.hass.async_add_executor_job(
                self._build, result, lang, self.past.slots()
            )
            if result is self.coordinator.data:  # no new cycle meanwhile
                self._cache[lang] = doc
        return doc

    def _build(self, result: CycleResult, lang: str, past: list) -> dict[str, Any]:
        entry = self.coordinator.config_entry
        tz = dt_util.get_default_time_zone()
        head = {
            "entry_id": entry.entry_id,
            "title": entry.title,
            "time_zone": str(tz),
            "entity_id": self.plan_entity_id,
        }
        if result.inputs is not None and result.plan is not None and result.decision is not None:
            buffer = result.battery_buffer
            doc = export_plan(
                result.inputs,
                result.plan,
                lang=lang,
                tz=tz,
                past=past,
                decision=result.decision,
                configured_min_soc_kwh=buffer.decision.configured_min_soc_kwh if buffer else None,
                updated=result.updated,
            )
        else:
            doc = {
                "version": 1,
                "language": lang,
                "updated": result.updated.isoformat(),
                "start": None,
                "end": None,
                "slots": [],
                "past": [p.as_dict() for p in past],
            }
        # the cycle's status (stale inputs, error) tells more than the plan's own
        doc |= head | {"status": result.status.value, "message": result.reason}
        return doc

    async def async_window(
        self, lang: str, start: datetime | None = None, end: datetime | None = None
    ) -> dict[str, Any]:
        """The document with only the slots overlapping ``[start, end)``."""
        return window(await self.async_document(lang), start, end)
