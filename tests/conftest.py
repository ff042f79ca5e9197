"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
import logging
from types import MappingProxyType
from typing import Any

import freezegun
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartload.const import (
    CONF_AUTOMATION,
    CONF_BATTERY_CAPACITY_KWH,
    CONF_BATTERY_DISCHARGE_CONTROL_ENTITY,
    CONF_BATTERY_EFFICIENCY,
    CONF_BATTERY_GRID_CHARGE_LIMIT_ENTITY,
    CONF_BATTERY_MAX_CHARGE_KW,
    CONF_BATTERY_MAX_DISCHARGE_KW,
    CONF_BATTERY_MAX_SOC,
    CONF_BATTERY_MIN_SOC,
    CONF_BATTERY_SOC_ENTITY,
    CONF_CONSUMPTION_ENTITY,
    CONF_CYCLE_MINUTES,
    CONF_FEED_IN_MODE,
    CONF_FEED_IN_PRICE,
    CONF_GRID_IMPORT_LIMIT_KW,
    CONF_HORIZON_HOURS,
    CONF_LOADPOINT_MODE_ENTITY,
    CONF_NAME,
    CONF_PRICE_ENTITY,
    CONF_PV_FORECAST_ENTITY,
    CONF_SMART_COST_LIMIT_ENTITY,
    CONF_VEHICLE_CAPACITY_KWH,
    CONF_VEHICLE_DEPARTURE,
    CONF_VEHICLE_MAX_CHARGE_KW,
    CONF_VEHICLE_PLUGGED_ENTITY,
    CONF_VEHICLE_PRIORITY,
    CONF_VEHICLE_SOC_ENTITY,
    CONF_VEHICLE_TARGET_SOC,
    CONF_WALLBOX_MAX_KW,
    DOMAIN,
    FEED_IN_FIXED,
    SUBENTRY_VEHICLE,
)

# The planner's solver budget is wall time (time.perf_counter). Frozen time must not reach it: a
# solve in the executor would otherwise see a deadline in another clock and give up at once.
freezegun.configure(extend_ignore_list=["custom_components.smartload.planner"])

# pytest-homeassistant-custom-component calls logging.basicConfig(INFO) and turns SQLAlchemy's
# statement log on at import: a handler on the real stderr that pytest does not capture, which
# floods the CI log with every SQL statement of the recorder tests. pytest's own log capture
# (caplog, reports of failing tests) is unaffected.
for _handler in list(logging.root.handlers):
    if type(_handler) is logging.StreamHandler:
        logging.root.removeHandler(_handler)
logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/smartload in every test."""


# -- a real home for the HA-shell tests (coordinator, entities, actuation) -----------------------


# 00:00 in Berlin: the night's cheap hours lie ahead, the car leaves at 07:00.
NOW = datetime(2026, 5, 11, 22, 0, tzinfo=UTC)
PRICE = "sensor.day_ahead_price"
PV = "sensor.pv_forecast"
HOUSE = "sensor.house_power"
BATTERY_SOC = "sensor.home_battery_soc"
CAR_SOC = "sensor.model_3_soc"
CAR_PLUGGED = "binary_sensor.model_3_plugged"
MODE = "select.loadpoint_mode"
COST_LIMIT = "number.smart_cost_limit"
GRID_LIMIT = "number.battery_grid_charge_limit"
DISCHARGE = "switch.battery_discharge_lock"
ACTUATORS = (MODE, COST_LIMIT, GRID_LIMIT, DISCHARGE)


def hourly_prices(start: datetime, eur_per_kwh: list[float]) -> list[dict[str, str | float]]:
    """A Nord Pool-like ``raw_today`` list: hourly entries with start, end and value."""
    return [
        {
            "start": (start + timedelta(hours=h)).isoformat(),
            "end": (start + timedelta(hours=h + 1)).isoformat(),
            "value": price,
        }
        for h, price in enumerate(eur_per_kwh)
    ]


# Cheap for the first three hours of the night, dear after that.
NIGHT_PRICES = [0.05, 0.05, 0.05] + [0.30] * 5 + [0.25] * 8 + [0.35] * 8


def price_attributes(start: datetime = NOW, prices: list[float] | None = None) -> dict[str, Any]:
    """Attributes of the price entity (custom Nord Pool shape, €/kWh)."""
    return {
        "unit_of_measurement": "EUR/kWh",
        "raw_today": hourly_prices(start, prices or NIGHT_PRICES),
    }


def pv_attributes(start: datetime = NOW) -> dict[str, Any]:
    """A Solcast-like detailed forecast (kW, half-hourly): sun from 04:00 to 18:00 UTC."""
    rows = []
    for half_hour in range(48):
        when = start + timedelta(minutes=30 * half_hour)
        hour = when.hour + when.minute / 60
        kw = max(0.0, 6.0 * (1 - abs(hour - 11) / 7)) if 4 <= hour <= 18 else 0.0
        rows.append({"period_start": when.isoformat(), "pv_estimate": round(kw, 3)})
    return {"unit_of_measurement": "kW", "detailedForecast": rows}


def set_home_states(hass: HomeAssistant) -> None:
    """The live states SmartLoad reads."""
    hass.states.async_set(PRICE, "0.05", price_attributes())
    hass.states.async_set(PV, "0.0", pv_attributes())
    hass.states.async_set(HOUSE, "500", {"unit_of_measurement": "W"})
    hass.states.async_set(BATTERY_SOC, "50", {"unit_of_measurement": "%"})
    hass.states.async_set(CAR_SOC, "40", {"unit_of_measurement": "%"})
    hass.states.async_set(CAR_PLUGGED, "on")


async def setup_actuators(hass: HomeAssistant) -> None:
    """evcc's controls as real template entities that write into input_* helpers."""
    assert await async_setup_component(
        hass,
        "input_select",
        {
            "input_select": {
                "lp_mode": {"options": ["off", "pv", "minpv", "now"], "initial": "pv"},
                # a battery-mode select as some inverter integrations name it
                "battery_mode": {"options": ["Normal", "Hold", "Charge"], "initial": "Normal"},
            }
        },
    )
    assert await async_setup_component(
        hass,
        "input_number",
        {
            "input_number": {
                "cost_limit": {"min": -0.5, "max": 1.0, "step": 0.001, "initial": 0.0},
                "grid_limit": {"min": -0.5, "max": 1.0, "step": 0.001, "initial": 0.0},
                # a plain helper in ct/kWh (homes that drive an inverter without evcc)
                "grid_limit_ct": {
                    "min": 0,
                    "max": 40,
                    "step": 0.5,
                    "initial": 0,
                    "unit_of_measurement": "ct/kWh",
                },
                # a plain charger's current and an inverter's battery reserve (no evcc)
                "charger_current": {
                    "min": 6,
                    "max": 16,
                    "step": 1,
                    "initial": 6,
                    "unit_of_measurement": "A",
                },
                "battery_reserve": {
                    "min": 0,
                    "max": 100,
                    "step": 1,
                    "initial": 30,
                    "unit_of_measurement": "%",
                },
            }
        },
    )
    assert await async_setup_component(
        hass,
        "input_boolean",
        {"input_boolean": {"discharge_lock": {"initial": False}, "charger": {"initial": False}}},
    )

    def number(name: str, helper: str) -> dict[str, Any]:
        return {
            "name": name,
            "unique_id": helper,
            "state": f"{{{{ states('input_number.{helper}') | float }}}}",
            "min": "-0.5",
            "max": "1.0",
            "step": "0.001",
            "set_value": {
                "action": "input_number.set_value",
                "target": {"entity_id": f"input_number.{helper}"},
                "data": {"value": "{{ value }}"},
            },
        }

    assert await async_setup_component(
        hass,
        "template",
        {
            "template": [
                {
                    "number": [
                        number("Smart cost limit", "cost_limit"),
                        number("Battery grid charge limit", "grid_limit"),
                    ],
                    "select": [
                        {  # evcc's mode behind a service that may fail (tests register it)
                            "name": "Failing loadpoint mode",
                            "state": "pv",
                            "options": "{{ ['off', 'pv', 'minpv', 'now'] }}",
                            "select_option": {"action": "evcc_test.set_mode"},
                        },
                        {
                            "name": "Loadpoint mode",
                            "unique_id": "lp_mode",
                            "state": "{{ states('input_select.lp_mode') }}",
                            "options": "{{ state_attr('input_select.lp_mode', 'options') }}",
                            "select_option": {
                                "action": "input_select.select_option",
                                "target": {"entity_id": "input_select.lp_mode"},
                                "data": {"option": "{{ option }}"},
                            },
                        },
                    ],
                    "switch": [
                        {
                            "name": "Battery discharge lock",
                            "unique_id": "discharge_lock",
                            "state": "{{ is_state('input_boolean.discharge_lock', 'on') }}",
                            "turn_on": {
                                "action": "input_boolean.turn_on",
                                "target": {"entity_id": "input_boolean.discharge_lock"},
                            },
                            "turn_off": {
                                "action": "input_boolean.turn_off",
                                "target": {"entity_id": "input_boolean.discharge_lock"},
                            },
                        }
                    ],
                }
            ]
        },
    )
    await hass.async_block_till_done()
    for entity_id in ACTUATORS:
        assert hass.states.get(entity_id) is not None, entity_id


HOME_DATA: dict[str, Any] = {
    CONF_NAME: "SmartLoad",
    CONF_PRICE_ENTITY: PRICE,
    CONF_FEED_IN_MODE: FEED_IN_FIXED,
    CONF_FEED_IN_PRICE: 0.08,
    CONF_GRID_IMPORT_LIMIT_KW: 17.0,
    CONF_WALLBOX_MAX_KW: 11.0,
    CONF_CONSUMPTION_ENTITY: HOUSE,
    CONF_PV_FORECAST_ENTITY: PV,
    CONF_BATTERY_SOC_ENTITY: BATTERY_SOC,
    CONF_BATTERY_CAPACITY_KWH: 10.0,
    CONF_BATTERY_MAX_CHARGE_KW: 5.0,
    CONF_BATTERY_MAX_DISCHARGE_KW: 5.0,
    CONF_BATTERY_MIN_SOC: 10.0,
    CONF_BATTERY_MAX_SOC: 100.0,
    CONF_BATTERY_EFFICIENCY: 0.9,
    CONF_LOADPOINT_MODE_ENTITY: MODE,
    CONF_SMART_COST_LIMIT_ENTITY: COST_LIMIT,
    CONF_BATTERY_GRID_CHARGE_LIMIT_ENTITY: GRID_LIMIT,
    CONF_BATTERY_DISCHARGE_CONTROL_ENTITY: DISCHARGE,
}

CAR_DATA: dict[str, Any] = {
    CONF_VEHICLE_CAPACITY_KWH: 60.0,
    CONF_VEHICLE_SOC_ENTITY: CAR_SOC,
    CONF_VEHICLE_PLUGGED_ENTITY: CAR_PLUGGED,
    CONF_VEHICLE_MAX_CHARGE_KW: 11.0,
    CONF_VEHICLE_TARGET_SOC: 80.0,
    CONF_VEHICLE_DEPARTURE: "07:00:00",
    CONF_VEHICLE_PRIORITY: 1,
}


def make_entry(automation: bool = True, **data: Any) -> MockConfigEntry:
    """The home with one car (a vehicle subentry)."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="SmartLoad",
        data={**HOME_DATA, **data},
        options={CONF_HORIZON_HOURS: 48, CONF_CYCLE_MINUTES: 15, CONF_AUTOMATION: automation},
        subentries_data=[
            ConfigSubentryData(
                data=MappingProxyType(CAR_DATA),
                subentry_type=SUBENTRY_VEHICLE,
                title="Model 3",
                unique_id=None,
            )
        ],
    )


@pytest.fixture
async def home(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Berlin, at midnight, with the home's states and evcc's stand-in controls."""
    freezer.move_to(NOW)
    await hass.config.async_set_time_zone("Europe/Berlin")
    await setup_actuators(hass)
    set_home_states(hass)


@pytest.fixture
def service_calls(hass: HomeAssistant) -> Iterator[list[tuple[str, str, Any]]]:
    """Every service call aimed at one of the actuators (domain, service, entity_id)."""
    calls: list[tuple[str, str, Any]] = []

    def _record(event: Any) -> None:
        entity = event.data.get("service_data", {}).get("entity_id")
        if entity in ACTUATORS:
            calls.append((event.data["domain"], event.data["service"], entity))

    unsub = hass.bus.async_listen("call_service", _record)
    yield calls
    unsub()


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    """Add (unless added) and set up an entry."""
    if hass.config_entries.async_get_entry(entry.entry_id) is None:
        entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry
