"""Each car's charge target (%): set by the driver (persisted, re-plans at once)."""

from __future__ import annotations

from typing import override

from homeassistant.components.number import (
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.const import PERCENTAGE
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import SmartLoadConfigEntry
from .entity import SmartLoadCarSettingEntity

PARALLEL_UPDATES = 1

TARGET_SOC = NumberEntityDescription(
    key="target_soc",
    translation_key="target_soc",
    native_min_value=10,
    native_max_value=100,
    native_step=5,
    native_unit_of_measurement=PERCENTAGE,
    mode=NumberMode.SLIDER,
)


async def async_setup_entry(
    hass: HomeAssistant,
    config_entry: SmartLoadConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """One charge target per car, on the car's device."""
    coordinator = config_entry.runtime_data.coordinator
    for car in coordinator.vehicles:
        async_add_entities(
            [SmartLoadTargetSoc(coordinator, TARGET_SOC, car)],
            config_subentry_id=car.subentry_id,
        )


class SmartLoadTargetSoc(SmartLoadCarSettingEntity, NumberEntity):
    """The car's regular charge target."""

    @property
    @override
    def native_value(self) -> float:
        """The regular charge target."""
        return self.coordinator.car_states.get(self.car.subentry_id).target_soc_pct

    @override
    async def async_set_native_value(self, value: float) -> None:
        """A new charge target: saved, and the plan follows at once."""
        await self.coordinator.car_states.async_update(
            self.car.subentry_id, target_soc_pct=float(value)
        )
        await self.coordinator.async_refresh()
