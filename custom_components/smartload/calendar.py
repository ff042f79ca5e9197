"""The plan as a calendar: each car's charging windows and the battery's grid-charging and
holding windows, each event with the plan's why in Home Assistant's language.

Windows are merged from consecutive slots (``planner.windows``); a window that has begun stays
on the calendar with its real start when later cycles re-plan (for seven days, in memory), so
automations can trigger on an event's start and end (the calendar trigger).
"""

from __future__ import annotations

from datetime import datetime
from typing import override

from homeassistant.components.calendar import (
    CalendarEntity,
    CalendarEntityDescription,
    CalendarEvent,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .coordinator import SmartLoadConfigEntry, SmartLoadCoordinator
from .entity import SmartLoadEntity
from .planner.windows import Window, window_description, window_summary

PARALLEL_UPDATES = 0

PLAN_CALENDAR = CalendarEntityDescription(key="plan", translation_key="plan")


async def async_setup_entry(
    hass: HomeAssistant,
    config_entry: SmartLoadConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """One calendar per home: the windows of every car and of the battery."""
    async_add_entities([SmartLoadCalendar(config_entry.runtime_data.coordinator, PLAN_CALENDAR)])


class SmartLoadCalendar(SmartLoadEntity, CalendarEntity):
    """The plan's windows as calendar events."""

    def __init__(
        self, coordinator: SmartLoadCoordinator, description: CalendarEntityDescription
    ) -> None:
        """On the home's device."""
        super().__init__(coordinator, description)

    def _event(self, window: Window) -> CalendarEvent:
        lang = self.hass.config.language
        return CalendarEvent(
            start=window.start,
            end=window.end,
            summary=window_summary(window, lang),
            description=window_description(window, lang, dt_util.get_default_time_zone()),
            uid=window.uid,
        )

    @property
    @override
    def event(self) -> CalendarEvent | None:
        """The window running now, else the next one."""
        now = dt_util.utcnow()
        window = next((w for w in self.coordinator.plan_windows() if w.end > now), None)
        return self._event(window) if window is not None else None

    @override
    async def async_get_events(
        self, hass: HomeAssistant, start_date: datetime, end_date: datetime
    ) -> list[CalendarEvent]:
        """The windows that overlap ``[start_date, end_date)``."""
        return [
            self._event(w)
            for w in self.coordinator.plan_windows()
            if w.start < end_date and w.end > start_date
        ]
