"""The "Re-plan now" button of the home, and each car's "Boost" button."""

from __future__ import annotations

from typing import override

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .actions_car import async_boost
from .const import DOMAIN
from .coordinator import SmartLoadConfigEntry, Status
from .entity import SmartLoadEntity
from .inputs import VehicleConfig

PARALLEL_UPDATES = 1

REPLAN = ButtonEntityDescription(key="replan", translation_key="replan")
BOOST = ButtonEntityDescription(key="boost", translation_key="boost")


async def async_setup_entry(
    hass: HomeAssistant,
    config_entry: SmartLoadConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """The re-plan button of the home; a boost button per car."""
    coordinator = config_entry.runtime_data.coordinator
    async_add_entities([SmartLoadReplanButton(coordinator, REPLAN)])
    for car in coordinator.vehicles:
        async_add_entities(
            [SmartLoadBoostButton(coordinator, BOOST, car)], config_subentry_id=car.subentry_id
        )


class SmartLoadReplanButton(SmartLoadEntity, ButtonEntity):
    """Re-solves from the current states now (and acts if the automation is on)."""

    @override
    async def async_press(self) -> None:
        """Run a cycle now and follow its plan as it is; say so when no plan came out of it."""
        self.coordinator.stability.request_change()  # asked for: no keeping the course
        await self.coordinator.async_refresh()
        result = self.coordinator.data
        if result.status in (Status.STALE_INPUTS, Status.ERROR):
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key=f"replan_{result.status.value}",
                translation_placeholders={"reason": result.reason},
            )


class SmartLoadBoostButton(SmartLoadEntity, ButtonEntity):
    """Charges the car at full power now, whatever the price, for an hour."""

    car: VehicleConfig

    @override
    async def async_press(self) -> None:
        """Boost (the plan, the entities and evcc follow at once)."""
        await async_boost(self.coordinator, self.car)
