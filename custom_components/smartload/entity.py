"""The base entity: reads the coordinator, lives on the home's device or on a car's device."""

from __future__ import annotations

from typing import override

from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import SmartLoadCoordinator
from .inputs import VehicleConfig


def home_device(coordinator: SmartLoadCoordinator) -> DeviceInfo:
    """The home: one device per config entry."""
    entry = coordinator.config_entry
    return DeviceInfo(
        identifiers={(DOMAIN, entry.entry_id)},
        name=entry.title,
        manufacturer="SmartLoad",
        model="Home energy planner",
        entry_type=DeviceEntryType.SERVICE,
    )


def car_device(coordinator: SmartLoadCoordinator, car: VehicleConfig) -> DeviceInfo:
    """One car: a device per vehicle subentry, connected through the home (set up first)."""
    entry_id = coordinator.config_entry.entry_id
    return DeviceInfo(
        identifiers={(DOMAIN, car.subentry_id)},
        name=car.name,
        manufacturer="SmartLoad",
        model="Electric vehicle",
        entry_type=DeviceEntryType.SERVICE,
        via_device_id=dr.async_get_device_id_by_identifier(
            coordinator.hass, (DOMAIN, entry_id), config_entry_id=entry_id
        ),
    )


class SmartLoadEntity(CoordinatorEntity[SmartLoadCoordinator]):
    """Base of all SmartLoad entities; a car's entities pass that car."""

    _attr_has_entity_name = True
    entity_description: EntityDescription

    def __init__(
        self,
        coordinator: SmartLoadCoordinator,
        description: EntityDescription,
        car: VehicleConfig | None = None,
    ) -> None:
        """Unique id and device from the entry or from the car's subentry."""
        super().__init__(coordinator)
        self.entity_description = description
        self.car = car
        if car is None:
            self._attr_unique_id = f"{coordinator.config_entry.entry_id}_{description.key}"
            self._attr_device_info = home_device(coordinator)
        else:
            self._attr_unique_id = f"{car.subentry_id}_{description.key}"
            self._attr_device_info = car_device(coordinator, car)

    @property
    @override
    def available(self) -> bool:
        """Available while the coordinator has a result (stale inputs are a result too)."""
        return super().available and self.coordinator.data is not None


class SmartLoadCarSettingEntity(SmartLoadEntity):
    """A car's setting kept in the car states (departure, target): it follows changes made
    elsewhere (an action, a driver's answer) as soon as they are stored."""

    car: VehicleConfig

    @override
    async def async_added_to_hass(self) -> None:
        """Subscribe to the car states."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self.coordinator.car_states.async_add_listener(self.async_write_ha_state)
        )
