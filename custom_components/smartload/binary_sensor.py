"""Binary sensors: problems to alert on (the home), and per car what needs a driver's eye.

Each description reads the coordinator (its latest result and the state it keeps between cycles),
so that sensors fed between cycles (a SoC going stale, a departure at risk) update at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, override

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import SmartLoadConfigEntry, SmartLoadCoordinator, Status
from .entity import SmartLoadEntity
from .inputs import VehicleConfig
from .notifier import departure_risk, risk_attributes

PARALLEL_UPDATES = 0


def _no_attrs(*_: Any) -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True, kw_only=True)
class SmartLoadBinarySensorDescription(BinarySensorEntityDescription):
    """A home binary sensor: its value and attributes from the coordinator."""

    is_on_fn: Callable[[SmartLoadCoordinator], bool | None]
    attrs_fn: Callable[[SmartLoadCoordinator], Mapping[str, Any]] = _no_attrs


@dataclass(frozen=True, kw_only=True)
class SmartLoadCarBinarySensorDescription(BinarySensorEntityDescription):
    """A car's binary sensor: its value and attributes from the coordinator and the car."""

    is_on_fn: Callable[[SmartLoadCoordinator, VehicleConfig], bool | None]
    attrs_fn: Callable[[SmartLoadCoordinator, VehicleConfig], Mapping[str, Any]] = _no_attrs


def problem(coordinator: SmartLoadCoordinator) -> tuple[str, str] | None:
    """What is wrong now (kind, text), or None: no plan, stale inputs, a fallback plan, an
    actuator that could not be set."""
    result = coordinator.data
    if result is None:
        return "no_plan", "no cycle has run yet"
    if result.status is Status.ERROR:
        return "no_plan", result.reason
    if result.status is Status.STALE_INPUTS:
        return "stale_inputs", result.reason
    if result.status is Status.FALLBACK:
        return "fallback", result.reason
    if result.actuator_problems:
        return "actuator", "; ".join(f"{p.entity_id}: {p.error}" for p in result.actuator_problems)
    return None


def _problem_attrs(coordinator: SmartLoadCoordinator) -> Mapping[str, Any]:
    """The reason, the heartbeat and the last hand-back."""
    found = problem(coordinator)
    handback = coordinator.handback
    return {
        "kind": found[0] if found else None,
        "reason": found[1] if found else None,
        "last_successful_plan": handback.last_success.isoformat()
        if handback.last_success
        else None,
        "controlled": sorted(handback.taken),
        **(handback.last.attributes() if handback.last else {}),
    }


# Add descriptions here (one entry each; keep the tuples sorted by key).
HOME_BINARY_SENSORS: tuple[SmartLoadBinarySensorDescription, ...] = (
    SmartLoadBinarySensorDescription(
        key="problem",
        translation_key="problem",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda coordinator: problem(coordinator) is not None,
        attrs_fn=_problem_attrs,
    ),
)
CAR_BINARY_SENSORS: tuple[SmartLoadCarBinarySensorDescription, ...] = (
    SmartLoadCarBinarySensorDescription(
        key="departure_at_risk",
        translation_key="departure_at_risk",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda coordinator, car: departure_risk(coordinator, car) is not None,
        attrs_fn=risk_attributes,
    ),
    SmartLoadCarBinarySensorDescription(
        key="soc_stale",
        translation_key="soc_stale",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda coordinator, car: coordinator.cars.estimate(car).stale,
        attrs_fn=lambda coordinator, car: coordinator.cars.stale_attributes(car),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    config_entry: SmartLoadConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Home binary sensors on the entry; each car's on its subentry."""
    coordinator = config_entry.runtime_data.coordinator
    async_add_entities(
        SmartLoadBinarySensor(coordinator, description) for description in HOME_BINARY_SENSORS
    )
    for car in coordinator.vehicles:
        async_add_entities(
            (
                SmartLoadCarBinarySensor(coordinator, description, car)
                for description in CAR_BINARY_SENSORS
            ),
            config_subentry_id=car.subentry_id,
        )


class SmartLoadBinarySensor(SmartLoadEntity, BinarySensorEntity):
    """A home binary sensor."""

    entity_description: SmartLoadBinarySensorDescription

    @property
    @override
    def is_on(self) -> bool | None:
        """From the coordinator."""
        return self.entity_description.is_on_fn(self.coordinator)

    @property
    @override
    def extra_state_attributes(self) -> Mapping[str, Any]:
        """From the coordinator."""
        return self.entity_description.attrs_fn(self.coordinator)


class SmartLoadCarBinarySensor(SmartLoadEntity, BinarySensorEntity):
    """A binary sensor of one car."""

    entity_description: SmartLoadCarBinarySensorDescription
    car: VehicleConfig

    @property
    @override
    def is_on(self) -> bool | None:
        """From the coordinator, for this car."""
        return self.entity_description.is_on_fn(self.coordinator, self.car)

    @property
    @override
    def extra_state_attributes(self) -> Mapping[str, Any]:
        """From the coordinator, for this car."""
        return self.entity_description.attrs_fn(self.coordinator, self.car)
