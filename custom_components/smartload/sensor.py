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
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfEnergy, UnitOfPower
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from .car_sensors import async_add_car_sensors
from .const import CONF_BATTERY_SOC_ENTITY
from .coordinator import CycleResult, SmartLoadConfigEntry, SmartLoadCoordinator, Status
from .entity import SmartLoadEntity
from .inputs import VehicleConfig, entry_settings
from .plan_sensor import plan_sensors
from .planner.buffer import Confidence
from .planner.model import Plan, VehiclePlan
from .planner.windows import Window, WindowKind

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


def _battery_target(result: CycleResult) -> float | None:
    """Where the plan takes the battery in the current slot (% at the slot's end)."""
    plan, inputs = _plan(result), result.inputs
    if plan is None or inputs is None or inputs.battery is None or not plan.n_slots:
        return None
    return round(100.0 * float(plan.battery_soc_kwh[0]) / inputs.battery.capacity_kwh, 1)


def _battery_target_attrs(result: CycleResult) -> dict[str, Any]:
    decision, inputs = result.decision, result.inputs
    if _plan(result) is None or decision is None or inputs is None or inputs.battery is None:
        return {}
    capacity = inputs.battery.capacity_kwh
    target = decision.battery_target_soc_kwh
    return {
        "battery_mode": decision.battery_mode.value,
        "grid_charge_target_pct": None if target is None else round(100.0 * target / capacity, 1),
        "soc_now_pct": round(100.0 * inputs.battery.soc_kwh / capacity, 1),
    }


def _confidence(result: CycleResult) -> str | None:
    """The PV forecast's confidence as the battery buffer judged it (no battery: unknown)."""
    buffer = result.battery_buffer
    return buffer.decision.confidence.value if buffer is not None and result.inputs else None


def _confidence_attrs(result: CycleResult) -> dict[str, Any]:
    """How far the prices are published, whether the rest is an estimate, the PV reason."""
    inputs = result.inputs
    if inputs is None:
        return {}
    estimated = inputs.price_estimated
    extended = estimated is not None and bool(estimated.any())
    published = int(estimated.argmax()) if extended and estimated is not None else inputs.n_slots
    buffer = result.battery_buffer
    reason = buffer.decision.reasons[0] if buffer and buffer.decision.reasons else None
    return {
        "price_horizon_h": round(published * inputs.dt_h, 2),
        "price_extended": extended,
        "planning_horizon_h": round(inputs.n_slots * inputs.dt_h, 2),
        "pv_reason": None if reason is None else {"key": reason.key, **reason.params},
    }


def _savings(coordinator: SmartLoadCoordinator) -> float | None:
    realised = coordinator.realised
    if realised.result is None or realised.day != dt_util.now().date():
        return None
    return round(realised.result.savings_eur, 4)


def _planned_energy(result: CycleResult, car: VehicleConfig) -> float | None:
    """Energy the plan puts into the car over the horizon (0: not plugged in)."""
    if (plan := _plan(result)) is None:
        return None
    vehicle = plan.vehicle(car.name)
    if vehicle is None:
        return 0.0
    return round(float(vehicle.charge_kw.sum()) * plan.slot_minutes / 60, 3)


def _next_window(coordinator: SmartLoadCoordinator, car: VehicleConfig) -> Window | None:
    """The car's charging window running now, else its next one."""
    now = dt_util.utcnow()
    return next(
        (
            w
            for w in coordinator.plan_windows()
            if w.kind is WindowKind.VEHICLE and w.vehicle == car.name and w.end > now
        ),
        None,
    )


def _next_window_attrs(coordinator: SmartLoadCoordinator, car: VehicleConfig) -> dict[str, Any]:
    if (window := _next_window(coordinator, car)) is None:
        return {}
    return {"end": window.end.isoformat(), "energy_kwh": window.energy_kwh}


@dataclass(frozen=True, kw_only=True)
class SmartLoadSensorDescription(SensorEntityDescription):
    """A home sensor: a value from the cycle's result."""

    value_fn: Callable[[CycleResult], StateType]
    attrs_fn: Callable[[CycleResult], Mapping[str, Any]] = lambda _: {}
    exists_fn: Callable[[Mapping[str, Any]], bool] = lambda _: True
    # a value kept by the coordinator across cycles (takes the place of value_fn/attrs_fn)
    coordinator_fn: Callable[[SmartLoadCoordinator], StateType] | None = None
    coordinator_attrs_fn: Callable[[SmartLoadCoordinator], Mapping[str, Any]] | None = None


@dataclass(frozen=True, kw_only=True)
class SmartLoadCarSensorDescription(SensorEntityDescription):
    """A car sensor: a value from the cycle's result for one car."""

    value_fn: Callable[[CycleResult, VehicleConfig], StateType]
    attrs_fn: Callable[[CycleResult, VehicleConfig], Mapping[str, Any]] = lambda *_: {}
    # a value kept by the coordinator across cycles (takes the place of value_fn/attrs_fn)
    coordinator_fn: Callable[[SmartLoadCoordinator, VehicleConfig], StateType] | None = None
    coordinator_attrs_fn: (
        Callable[[SmartLoadCoordinator, VehicleConfig], Mapping[str, Any]] | None
    ) = None


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
        key="savings_today",
        translation_key="savings_today",
        device_class=SensorDeviceClass.MONETARY,
        native_unit_of_measurement="EUR",
        suggested_display_precision=2,
        value_fn=lambda _: None,
        coordinator_fn=_savings,
        coordinator_attrs_fn=lambda c: c.realised.attributes(),
    ),
    SmartLoadSensorDescription(
        key="battery_target_soc",
        translation_key="battery_target_soc",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        entity_registry_enabled_default=False,  # moves every slot
        value_fn=_battery_target,
        attrs_fn=_battery_target_attrs,
        exists_fn=lambda conf: bool(conf.get(CONF_BATTERY_SOC_ENTITY)),
    ),
    SmartLoadSensorDescription(
        key="forecast_confidence",
        translation_key="forecast_confidence",
        device_class=SensorDeviceClass.ENUM,
        options=[c.value for c in Confidence],
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_confidence,
        attrs_fn=_confidence_attrs,
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
    SmartLoadCarSensorDescription(
        key="planned_energy",
        translation_key="planned_energy",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=1,
        value_fn=_planned_energy,
    ),
    SmartLoadCarSensorDescription(
        key="next_charge_start",
        translation_key="next_charge_start",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda *_: None,
        coordinator_fn=lambda c, car: w.start if (w := _next_window(c, car)) else None,
        coordinator_attrs_fn=_next_window_attrs,
    ),
    SmartLoadCarSensorDescription(
        key="next_charge_end",
        translation_key="next_charge_end",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda *_: None,
        coordinator_fn=lambda c, car: w.end if (w := _next_window(c, car)) else None,
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
        if (fn := self.entity_description.coordinator_fn) is not None:
            return fn(self.coordinator)
        return self.entity_description.value_fn(self.coordinator.data)

    @property
    @override
    def extra_state_attributes(self) -> Mapping[str, Any]:
        """Attributes from the latest cycle."""
        if (fn := self.entity_description.coordinator_attrs_fn) is not None:
            return fn(self.coordinator)
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
        if (fn := self.entity_description.coordinator_fn) is not None:
            return fn(self.coordinator, self.car)
        return self.entity_description.value_fn(self.coordinator.data, self.car)

    @property
    @override
    def extra_state_attributes(self) -> Mapping[str, Any]:
        """The car's attributes from the latest cycle."""
        if (fn := self.entity_description.coordinator_attrs_fn) is not None:
            return fn(self.coordinator, self.car)
        return self.entity_description.attrs_fn(self.coordinator.data, self.car)
