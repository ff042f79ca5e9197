"""The charge sequencer's sensors: "Next car" (the home) and "Queue position" (each car).

They read ``coordinator.cars`` (updated on every car event, not only each cycle); the sensor
platform adds them with ``async_add_car_sensors``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .coordinator import SmartLoadCoordinator
from .entity import SmartLoadEntity
from .inputs import VehicleConfig

NO_CAR = "none"  # the Next car sensor's state when no car waits for the wallbox

NEXT_CAR = SensorEntityDescription(
    key="next_car",
    translation_key="next_car",
    device_class=SensorDeviceClass.ENUM,
)
QUEUE_POSITION = SensorEntityDescription(
    key="queue_position",
    translation_key="queue_position",
    state_class=SensorStateClass.MEASUREMENT,
)


def async_add_car_sensors(
    coordinator: SmartLoadCoordinator, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """The home's Next car sensor and each car's Queue position."""
    async_add_entities([NextCarSensor(coordinator, NEXT_CAR)])
    for car in coordinator.vehicles:
        async_add_entities(
            [QueuePositionSensor(coordinator, QUEUE_POSITION, car)],
            config_subentry_id=car.subentry_id,
        )


class NextCarSensor(SmartLoadEntity, SensorEntity):
    """The car that goes on the wallbox next (``none``: no car waits)."""

    def __init__(self, coordinator: SmartLoadCoordinator, description: SensorEntityDescription):
        """Its options are the cars' names."""
        super().__init__(coordinator, description)
        self._attr_options = [car.name for car in coordinator.vehicles] + [NO_CAR]

    @property
    @override
    def available(self) -> bool:
        """Available once the sequencer has decided (it needs no plan)."""
        return self.coordinator.cars.decision is not None

    @property
    @override
    def native_value(self) -> StateType:
        """The next car's name."""
        return self.coordinator.cars.next_car() or NO_CAR

    @property
    @override
    def extra_state_attributes(self) -> Mapping[str, Any]:
        """Who charges now, who then, the queue, why, the override."""
        return self.coordinator.cars.next_car_attributes()


class QueuePositionSensor(SmartLoadEntity, SensorEntity):
    """A car's place in the wallbox queue: 1 = on the wallbox now (or should be), 0 = none."""

    car: VehicleConfig

    def __init__(
        self,
        coordinator: SmartLoadCoordinator,
        description: SensorEntityDescription,
        car: VehicleConfig,
    ) -> None:
        """Bind to one car."""
        super().__init__(coordinator, description, car)

    @property
    @override
    def available(self) -> bool:
        """Available once the sequencer has decided."""
        return self.coordinator.cars.decision is not None

    @property
    @override
    def native_value(self) -> StateType:
        """1-based; 0 when the car is not queued (full or away)."""
        return self.coordinator.cars.position(self.car)

    @property
    @override
    def extra_state_attributes(self) -> Mapping[str, Any]:
        """The car's state in the sequence and since when it waits."""
        return self.coordinator.cars.position_attributes(self.car)
