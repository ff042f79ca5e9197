"""Each car's departure time: the regular one, set by the driver (persisted, re-plans at once)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time
from typing import Any, override

from homeassistant.components.time import TimeEntity, TimeEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .coordinator import SmartLoadConfigEntry
from .entity import SmartLoadCarSettingEntity

PARALLEL_UPDATES = 1

DEPARTURE = TimeEntityDescription(key="departure", translation_key="departure")


async def async_setup_entry(
    hass: HomeAssistant,
    config_entry: SmartLoadConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """One departure time per car, on the car's device."""
    coordinator = config_entry.runtime_data.coordinator
    for car in coordinator.vehicles:
        async_add_entities(
            [SmartLoadDepartureTime(coordinator, DEPARTURE, car)],
            config_subentry_id=car.subentry_id,
        )


class SmartLoadDepartureTime(SmartLoadCarSettingEntity, TimeEntity):
    """The car's regular departure; a one-off departure ahead shows as an attribute."""

    @property
    @override
    def native_value(self) -> time:
        """The regular departure."""
        return self.coordinator.car_states.get(self.car.subentry_id).departure

    @property
    @override
    def extra_state_attributes(self) -> Mapping[str, Any]:
        """The next departure planned for, and whether it is a one-off."""
        values = self.coordinator.car_states.for_plan(self.car, dt_util.utcnow())
        return {"next_departure": values.departure.isoformat(), "one_off": values.one_off}

    @override
    async def async_set_value(self, value: time) -> None:
        """A new regular departure: saved, and the plan follows at once."""
        await self.coordinator.car_states.async_update(
            self.car.subentry_id, departure=value.replace(microsecond=0)
        )
        await self.coordinator.async_refresh()
