"""The "Plan" sensor: the forecast series as attributes for apexcharts-card's data_generator.

Its state is the time the current plan was made; its attributes are ``planner.export``'s
``apex_series`` (ISO times and one list per series: prices, PV, load, grid import, the battery's
SoC and minimum, each car's power and SoC). They change with every plan and would swell the
database, so they are excluded from the recorder (``_unrecorded_attributes``): history keeps the
state only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
)

from .coordinator import CycleResult, SmartLoadCoordinator, Status
from .entity import SmartLoadEntity
from .planner.export import apex_series
from .timeline import PLAN_SENSOR_KEY

PLANNED = (Status.OPTIMAL, Status.SHORTFALL, Status.FALLBACK)
SERIES_ATTRIBUTES = frozenset(
    {
        "times",
        "import_price",
        "export_price",
        "pv_kw",
        "load_kw",
        "grid_import_kw",
        "battery_soc",
        "battery_min_soc",
        "cars",
    }
)

PLAN_SENSOR = SensorEntityDescription(
    key=PLAN_SENSOR_KEY,
    translation_key=PLAN_SENSOR_KEY,
    device_class=SensorDeviceClass.TIMESTAMP,
)


def plan_sensors(coordinator: SmartLoadCoordinator) -> list[SensorEntity]:
    """The home's plan sensor."""
    return [SmartLoadPlanSensor(coordinator, PLAN_SENSOR)]


class SmartLoadPlanSensor(SmartLoadEntity, SensorEntity):
    """When the plan was made; its forecast series as (unrecorded) attributes."""

    _unrecorded_attributes = SERIES_ATTRIBUTES

    def __init__(self, coordinator: SmartLoadCoordinator, description: SensorEntityDescription):
        """No series built yet."""
        super().__init__(coordinator, description)
        self._series_for: CycleResult | None = None
        self._series: dict[str, Any] = {}

    def _planned(self) -> CycleResult | None:
        result = self.coordinator.data
        if result is None or result.status not in PLANNED or result.plan is None:
            return None
        return result if result.inputs is not None else None

    @property
    @override
    def native_value(self) -> datetime | None:
        """When the current plan was made (unknown without a plan)."""
        result = self._planned()
        return result.updated if result is not None else None

    @property
    @override
    def extra_state_attributes(self) -> Mapping[str, Any]:
        """The plan's series (built once per plan), its status and slot length."""
        result = self._planned()
        if result is None:
            return {"status": self.coordinator.data.status.value}
        if result is not self._series_for:
            assert result.inputs is not None and result.plan is not None
            self._series = apex_series(result.inputs, result.plan)
            self._series_for = result
        return {
            "status": result.status.value,
            "slot_minutes": result.plan.slot_minutes,
            **self._series,
        }
