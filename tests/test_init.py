"""Setup, unload and reload of a SmartLoad entry (real Home Assistant)."""

from __future__ import annotations

from datetime import timedelta
from types import MappingProxyType
from typing import Any

from homeassistant.config_entries import ConfigEntryState, ConfigSubentry
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
import pytest

from custom_components.smartload import stored_data_keys
from custom_components.smartload.const import (
    CONF_AUTOMATION,
    CONF_CYCLE_MINUTES,
    CONF_HORIZON_HOURS,
    DOMAIN,
    SUBENTRY_VEHICLE,
)

from .conftest import CAR_DATA, make_entry, setup_entry

pytestmark = pytest.mark.usefixtures("home")


async def test_setup_creates_devices_and_entities(hass: HomeAssistant) -> None:
    """The home and the car are devices; the car's entities belong to its subentry."""
    entry = await setup_entry(hass, make_entry())
    assert entry.state is ConfigEntryState.LOADED

    devices = dr.async_get(hass)
    home = devices.async_get_device_by_identifier((DOMAIN, entry.entry_id), entry.entry_id)
    (subentry_id,) = entry.subentries
    car = devices.async_get_device_by_identifier((DOMAIN, subentry_id), entry.entry_id)
    assert home is not None and car is not None
    assert home.name == "SmartLoad"
    assert car.name == "Model 3"
    assert car.via_device_id == home.id
    assert car.config_entry_id == entry.entry_id
    assert car.config_subentry_id == subentry_id
    assert home.config_subentry_id is None

    entities = er.async_get(hass)
    own = {e.entity_id: e for e in er.async_entries_for_config_entry(entities, entry.entry_id)}
    assert set(own) == {
        "sensor.smartload_plan_status",
        "sensor.smartload_next_action",
        "sensor.smartload_planned_cost",
        "sensor.smartload_battery_price_limit",
        "sensor.smartload_battery_buffer",
        "sensor.smartload_load_forecast",
        "sensor.smartload_last_successful_plan",
        "binary_sensor.smartload_problem",
        "sensor.smartload_plan",
        "switch.smartload_automation",
        "calendar.smartload_plan",
        "sensor.smartload_savings_today",
        "sensor.smartload_battery_target_soc",
        "sensor.smartload_forecast_confidence",
        "sensor.model_3_planned_energy",
        "sensor.model_3_next_charging_start",
        "sensor.model_3_next_charging_end",
        "button.smartload_re_plan_now",
        "sensor.model_3_price_limit",
        "sensor.model_3_expected_soc_at_departure",
        "sensor.model_3_shortfall",
        # the charge sequencer's and the SoC's (cars.py)
        "sensor.smartload_next_car",
        "sensor.model_3_queue_position",
        "binary_sensor.model_3_soc_stale",
        "time.model_3_departure",
        "number.model_3_charge_target",
        "button.model_3_boost",
        "binary_sensor.model_3_departure_at_risk",
    }
    assert own["sensor.model_3_queue_position"].config_subentry_id == subentry_id
    assert own["binary_sensor.model_3_soc_stale"].config_subentry_id == subentry_id
    assert own["sensor.model_3_shortfall"].config_subentry_id == subentry_id
    assert own["sensor.model_3_shortfall"].unique_id == f"{subentry_id}_shortfall"
    assert own["sensor.smartload_plan_status"].config_subentry_id is None
    assert own["sensor.smartload_plan_status"].unique_id == f"{entry.entry_id}_plan_status"


async def test_no_battery_no_battery_sensor(hass: HomeAssistant) -> None:
    """Without a home battery there is no battery price limit."""
    entry = await setup_entry(hass, make_entry(battery_soc_entity=None))
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.smartload_battery_price_limit") is None
    status = hass.states.get("sensor.smartload_plan_status")
    assert status.state == "optimal", status.attributes.get("reason")


async def test_unload(hass: HomeAssistant) -> None:
    """Unloading removes the coordinator's work; the entities go unavailable."""
    entry = await setup_entry(hass, make_entry())
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert hass.states.get("sensor.smartload_plan_status").state == STATE_UNAVAILABLE


async def test_unload_withdraws_repairs(hass: HomeAssistant) -> None:
    """A repair about an input goes with the entry."""
    hass.states.async_set("sensor.day_ahead_price", "unavailable")
    entry = await setup_entry(hass, make_entry())
    issues = ir.async_get(hass).issues
    assert [key for (domain, key) in issues if domain == DOMAIN]
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert not [key for (domain, key) in issues if domain == DOMAIN]


async def test_reload_on_new_vehicle(hass: HomeAssistant) -> None:
    """Adding a car (subentry) reloads the entry and brings the car's device and entities."""
    entry = await setup_entry(hass, make_entry())
    hass.states.async_set("sensor.id_buzz_soc", "70", {"unit_of_measurement": "%"})
    hass.states.async_set("binary_sensor.id_buzz_plugged", "off")
    hass.config_entries.async_add_subentry(
        entry,
        ConfigSubentry(
            data=MappingProxyType(
                {
                    **CAR_DATA,
                    "soc_entity": "sensor.id_buzz_soc",
                    "plugged_entity": "binary_sensor.id_buzz_plugged",
                }
            ),
            subentry_type=SUBENTRY_VEHICLE,
            title="ID. Buzz",
            unique_id=None,
        ),
    )
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert len(entry.runtime_data.coordinator.vehicles) == 2
    # away (unplugged): no plan for it, so its outlook is unknown — but it exists
    assert hass.states.get("sensor.id_buzz_expected_soc_at_departure").state == "unknown"
    assert hass.states.get("sensor.model_3_expected_soc_at_departure").state not in (
        "unknown",
        STATE_UNAVAILABLE,
    )


async def test_removing_a_car_removes_its_device_and_entities(hass: HomeAssistant) -> None:
    """A deleted car subentry leaves no stale device or entity behind; the plan goes on."""
    entry = await setup_entry(hass, make_entry())
    (subentry_id,) = entry.subentries
    devices = dr.async_get(hass)
    entities = er.async_get(hass)
    car = devices.async_get_device_by_identifier((DOMAIN, subentry_id), entry.entry_id)
    assert car is not None
    own = er.async_entries_for_device(entities, car.id)
    assert own
    assert hass.config_entries.async_remove_subentry(entry, subentry_id)
    await hass.async_block_till_done()
    assert devices.async_get(car.id) is None
    assert all(entities.async_get(e.entity_id) is None for e in own)
    assert all(hass.states.get(e.entity_id) is None for e in own)
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.coordinator.vehicles == ()
    assert hass.states.get("sensor.smartload_plan_status").state == "optimal"


async def test_automation_toggle_does_not_reload(hass: HomeAssistant) -> None:
    """The automation switch persists in the options without reloading the entry."""
    entry = await setup_entry(hass, make_entry())
    coordinator = entry.runtime_data.coordinator
    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": "switch.smartload_automation"}, blocking=True
    )
    await hass.async_block_till_done()
    assert entry.options[CONF_AUTOMATION] is False
    assert entry.runtime_data.coordinator is coordinator  # same setup: no reload
    assert hass.states.get("switch.smartload_automation").state == "off"


async def test_options_flow_change_reloads(hass: HomeAssistant) -> None:
    """A new horizon from the options flow reloads the entry with the new setting."""
    entry = await setup_entry(hass, make_entry())
    coordinator = entry.runtime_data.coordinator
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_HORIZON_HOURS: "24", CONF_CYCLE_MINUTES: 5, CONF_AUTOMATION: True},
    )
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.coordinator is not coordinator
    assert entry.runtime_data.coordinator.cycle == timedelta(minutes=5)


async def test_options_flow_automation_only_replans(
    hass: HomeAssistant, service_calls: list[tuple[str, str, Any]]
) -> None:
    """Turning the automation on in the options flow acts at once, without a reload."""
    entry = await setup_entry(hass, make_entry(automation=False))
    coordinator = entry.runtime_data.coordinator
    assert service_calls == []
    result = await hass.config_entries.options.async_init(entry.entry_id)
    await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_HORIZON_HOURS: "48", CONF_CYCLE_MINUTES: 15, CONF_AUTOMATION: True},
    )
    await hass.async_block_till_done()
    assert entry.runtime_data.coordinator is coordinator
    assert coordinator.data.acted and service_calls
    assert hass.states.get("switch.smartload_automation").state == "on"


async def test_removing_the_entry_leaves_no_stored_data(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """Deleting SmartLoad removes every Store of the entry: the ones it wrote while running and
    the learned data of a long-running home (filled in here)."""
    entry = make_entry()
    entry.add_to_hass(hass)
    for key in stored_data_keys(entry.entry_id):
        hass_storage[key] = {"version": 1, "minor_version": 1, "key": key, "data": {}}
    await setup_entry(hass, entry)
    await entry.runtime_data.coordinator.async_refresh()
    assert await hass.config_entries.async_unload(entry.entry_id)  # flushes what it learned
    written = {key for key in hass_storage if entry.entry_id in key}
    known = {*stored_data_keys(entry.entry_id), f"smartload.handback.{entry.entry_id}"}
    assert written <= known, f"a Store that removal would leave behind: {written - known}"
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert not [key for key in hass_storage if entry.entry_id in key]
