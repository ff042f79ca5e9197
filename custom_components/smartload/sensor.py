"""Sensors: the plan's status, next action, cost, price limits and the battery buffer; per car
its outlook."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
)
from homeassistant.const import PERCENTAGE, UnitOfEnergy, UnitOfPower
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .car_sensors import async_add_car_sensors
from .const import CONF_BATTERY_SOC_ENTITY
from .coordinator import CycleResult, SmartLoadConfigEntry, SmartLoadCoordinator, Status
from .entity import SmartLoadEntity
from .inputs import VehicleConfig, entry_settings
from .plan_sensor import plan_sensors
from .planner.model import Plan, VehiclePlan

PARALLEL_UPDATES = 0

PRICE_UNIT = "EUR/kWh"
PLANNED = (Status.OPTIMAL, Status.SHORTFALL, Status.FALLBACK)


def _plan(result: CycleResult) -> Plan | None:
    """The plan of this cycle, if there is one to show."""
    return result.plan if result.status in PLANNED else None


def _car_plan(result: CycleResult, car: VehicleConfig) -> VehiclePlan | None:
    """A car's part of the plan (None: no plan, or the car is not plugged in)."""
    plan = _plan(result)
    return plan.vehicle(car.name) if plan is not None else None


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _next_action_attrs(result: CycleResult) -> dict[str, Any]:
    decision = result.decision if _plan(result) is not None else None
    if decision is None:
        return {}
    return {
        "key": decision.why.key,
        "loadpoint_mode": decision.loadpoint_mode.value,
        "active_vehicle": decision.active_vehicle,
        "vehicle_charge_kw": round(decision.vehicle_charge_kw, 2),
        "battery_mode": decision.battery_mode.value,
        "applied": result.acted,
    }


def _load_now(result: CycleResult) -> float | None:
    """The load forecast for the current slot (kW): learned, or today's flat value."""
    if result.load_forecast is not None and len(result.load_forecast.load_kw):
        return round(float(result.load_forecast.load_kw[0]), 3)
    if result.inputs is not None and result.inputs.n_slots:
        return round(float(result.inputs.load_kw[0]), 3)
    return None


def _load_attrs(result: CycleResult) -> dict[str, Any]:
    """How the load forecast was made: the model, both backtest MAEs, the days learned from."""
    fc = result.load_forecast
    if fc is None:
        return {"model": "flat", "mae_profile_kw": None, "mae_sarima_kw": None, "history_days": 0}
    return {
        "model": fc.model,
        "mae_profile_kw": _round(fc.mae_profile_kw, 4),
        "mae_sarima_kw": _round(fc.mae_sarima_kw, 4),
        "history_days": fc.n_days,
    }


@dataclass(frozen=True, kw_only=True)
class SmartLoadSensorDescription(SensorEntityDescription):
    """A home sensor: a value from the cycle's result."""

    value_fn: Callable[[CycleResult], StateType]
    attrs_fn: Callable[[CycleResult], Mapping[str, Any]] = lambda _: {}
    exists_fn: Callable[[Mapping[str, Any]], bool] = lambda _: True


@dataclass(frozen=True, kw_only=True)
class SmartLoadCarSensorDescription(SensorEntityDescription):
    """A car sensor: a value from the cycle's result for one car."""

    value_fn: Callable[[CycleResult, VehicleConfig], StateType]


HOME_SENSORS: tuple[SmartLoadSensorDescription, ...] = (
    SmartLoadSensorDescription(
        key="plan_status",
        translation_key="plan_status",
        device_class=SensorDeviceClass.ENUM,
        options=[s.value for s in Status],
        value_fn=lambda r: r.status.value,
        attrs_fn=lambda r: {"reason": r.reason, "updated": r.updated.isoformat()},
    ),
    SmartLoadSensorDescription(
        key="next_action",
        translation_key="next_action",
        value_fn=lambda r: r.next_action[:255] if r.next_action and _plan(r) else None,
        attrs_fn=_next_action_attrs,
    ),
    SmartLoadSensorDescription(
        key="planned_cost",
        translation_key="planned_cost",
        device_class=SensorDeviceClass.MONETARY,
        native_unit_of_measurement="EUR",
        suggested_display_precision=2,
        value_fn=lambda r: _round(p.cost_eur, 4) if (p := _plan(r)) else None,
    ),
    SmartLoadSensorDescription(
        key="battery_price_limit",
        translation_key="battery_price_limit",
        native_unit_of_measurement=PRICE_UNIT,
        suggested_display_precision=3,
        value_fn=lambda r: (
            _round(p.battery_price_limit_eur_per_kwh, 4) if (p := _plan(r)) else None
        ),
        exists_fn=lambda conf: bool(conf.get(CONF_BATTERY_SOC_ENTITY)),
    ),
    SmartLoadSensorDescription(
        key="battery_buffer",
        translation_key="battery_buffer",
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=0,
        value_fn=lambda r: b.pct() if (b := r.battery_buffer) and _plan(r) else None,
        attrs_fn=lambda r: b.attributes() if (b := r.battery_buffer) and _plan(r) else {},
        exists_fn=lambda conf: bool(conf.get(CONF_BATTERY_SOC_ENTITY)),
    ),
    SmartLoadSensorDescription(
        key="last_successful_plan",
        translation_key="last_successful_plan",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda r: r.last_successful_plan,
    ),
    SmartLoadSensorDescription(
        key="load_forecast",
        translation_key="load_forecast",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.KILO_WATT,
        suggested_display_precision=2,
        value_fn=_load_now,
        attrs_fn=_load_attrs,
    ),
)

CAR_SENSORS: tuple[SmartLoadCarSensorDescription, ...] = (
    SmartLoadCarSensorDescription(
        key="price_limit",
        translation_key="vehicle_price_limit",
        native_unit_of_measurement=PRICE_UNIT,
        suggested_display_precision=3,
        value_fn=lambda r, car: (
            _round(v.price_limit_eur_per_kwh, 4) if (v := _car_plan(r, car)) else None
        ),
    ),
    SmartLoadCarSensorDescription(
        key="soc_at_departure",
        translation_key="soc_at_departure",
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=0,
        value_fn=lambda r, car: (
            round(100 * v.soc_at_departure_kwh / car.capacity_kwh, 1)
            if (v := _car_plan(r, car)) and v.soc_at_departure_kwh is not None
            else None
        ),
    ),
    SmartLoadCarSensorDescription(
        key="shortfall",
        translation_key="shortfall",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=1,
        value_fn=lambda r, car: round(v.shortfall_kwh, 3) if (v := _car_plan(r, car)) else None,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    config_entry: SmartLoadConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Home sensors on the entry; each car's sensors on its subentry."""
    coordinator = config_entry.runtime_data.coordinator
    conf = entry_settings(config_entry)
    async_add_entities(
        SmartLoadSensor(coordinator, description)
        for description in HOME_SENSORS
        if description.exists_fn(conf)
    )
    async_add_entities(plan_sensors(coordinator))  # the forecast series for ApexCharts
    for car in coordinator.vehicles:
        async_add_entities(
            (SmartLoadCarSensor(coordinator, description, car) for description in CAR_SENSORS),
            config_subentry_id=car.subentry_id,
        )
    async_add_car_sensors(coordinator, async_add_entities)  # the charge sequencer's


class SmartLoadSensor(SmartLoadEntity, SensorEntity):
    """A home sensor."""

    entity_description: SmartLoadSensorDescription

    @property
    @override
    def native_value(self) -> StateType:
        """The value from the latest cycle."""
        return self.entity_description.value_fn(self.coordinator.data)

    @property
    @override
    def extra_state_attributes(self) -> Mapping[str, Any]:
        """Attributes from the latest cycle."""
        return self.entity_description.attrs_fn(self.coordinator.data)


class SmartLoadCarSensor(SmartLoadEntity, SensorEntity):
    """A sensor of one car."""

    entity_description: SmartLoadCarSensorDescription
    car: VehicleConfig

    def __init__(
        self,
        coordinator: SmartLoadCoordinator,
        description: SmartLoadCarSensorDescription,
        car: VehicleConfig,
    ) -> None:
        """Bind to one car."""
        super().__init__(coordinator, description, car)

    @property
    @override
    def native_value(self) -> StateType:
        """The car's value from the latest cycle."""
        return self.entity_description.value_fn(self.coordinator.data, self.car)
