"""Savings today, battery target SoC, forecast confidence; per car planned energy and the next
charging window (real Home Assistant, stand-in states)."""

from __future__ import annotations

from datetime import datetime, timedelta
import math
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartload.const import DOMAIN
from custom_components.smartload.planner.model import BatteryMode

from .conftest import (
    BATTERY_SOC,
    CAR_SOC,
    NIGHT_PRICES,
    NOW,
    PRICE,
    make_entry,
    price_attributes,
    setup_entry,
)

pytestmark = pytest.mark.usefixtures("home")
Q = timedelta(minutes=15)


async def setup_enabled(hass: HomeAssistant) -> MockConfigEntry:
    """The entry with the disabled-by-default battery target SoC enabled."""
    entry = make_entry()
    entry.add_to_hass(hass)
    er.async_get(hass).async_get_or_create(
        "sensor",
        DOMAIN,
        f"{entry.entry_id}_battery_target_soc",
        suggested_object_id="smartload_battery_target_soc",
        config_entry=entry,
    )
    return await setup_entry(hass, entry)


async def test_battery_target_soc(hass: HomeAssistant) -> None:
    """The planned SoC at the end of the current slot; mode and SoC now as attributes."""
    entry = await setup_enabled(hass)
    result = entry.runtime_data.coordinator.data
    state = hass.states.get("sensor.smartload_battery_target_soc")
    assert state.attributes["unit_of_measurement"] == "%"
    assert state.attributes["state_class"] == "measurement"
    assert float(state.state) == pytest.approx(100 * result.plan.battery_soc_kwh[0] / 10, abs=0.1)
    assert state.attributes["battery_mode"] == result.decision.battery_mode.value
    assert state.attributes["soc_now_pct"] == 50.0  # the stand-in SoC sensor
    assert result.decision.battery_mode is BatteryMode.HOLD  # the car takes the cheap hours
    assert state.attributes["grid_charge_target_pct"] is None
    assert float(state.state) == pytest.approx(50.0, abs=0.1)  # holding: where it is


async def test_battery_target_soc_disabled_by_default(hass: HomeAssistant) -> None:
    """Noisy: off unless the user enables it."""
    await setup_entry(hass, make_entry())
    entity = er.async_get(hass).async_get("sensor.smartload_battery_target_soc")
    assert entity is not None and entity.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert hass.states.get("sensor.smartload_battery_target_soc") is None


async def test_forecast_confidence(hass: HomeAssistant) -> None:
    """PV confidence from the buffer (no p10/p90, no PV power: medium); the price horizon."""
    entry = await setup_entry(hass, make_entry())
    inputs = entry.runtime_data.coordinator.data.inputs
    state = hass.states.get("sensor.smartload_forecast_confidence")
    assert state.state == "medium"
    assert state.attributes["options"] == ["high", "medium", "low"]
    assert state.attributes["device_class"] == "enum"
    # the stand-in publishes 24 h of prices from now; the 48 h horizon is extended
    assert state.attributes["price_horizon_h"] == 24.0
    assert state.attributes["price_extended"] is True
    assert state.attributes["planning_horizon_h"] == inputs.n_slots / 4 == 48.0
    assert state.attributes["pv_reason"]["key"] == "pv_no_confidence"
    entity = er.async_get(hass).async_get("sensor.smartload_forecast_confidence")
    assert entity.entity_category is er.EntityCategory.DIAGNOSTIC


async def test_car_planned_energy_and_next_window(hass: HomeAssistant) -> None:
    """Planned kWh over the horizon; the charging window running now, its end and energy."""
    entry = await setup_entry(hass, make_entry())
    plan = entry.runtime_data.coordinator.data.plan
    kw = plan.vehicles[0].charge_kw
    energy = hass.states.get("sensor.model_3_planned_energy")
    assert energy.attributes["unit_of_measurement"] == "kWh"
    assert energy.attributes["device_class"] == "energy"
    assert float(energy.state) == pytest.approx(float(kw.sum()) * 0.25, abs=1e-3)
    # the car is 40 % of 60 kWh and wants 80 %: at least 24 kWh / 0.9 are planned
    assert float(energy.state) >= 24 / 0.9 - 0.01

    start = hass.states.get("sensor.model_3_next_charging_start")
    end = hass.states.get("sensor.model_3_next_charging_end")
    assert start.attributes["device_class"] == "timestamp"
    assert dt_util.parse_datetime(start.state) == NOW  # it charges from the first slot
    first_stop = next(t for t in range(len(kw)) if kw[t] < 0.05)
    assert dt_util.parse_datetime(end.state) == NOW + first_stop * Q
    assert dt_util.parse_datetime(start.attributes["end"]) == NOW + first_stop * Q
    assert start.attributes["energy_kwh"] == pytest.approx(float(kw[:first_stop].sum()) * 0.25)


async def test_car_away_plans_nothing(hass: HomeAssistant) -> None:
    """Unplugged: 0 kWh planned and no window."""
    hass.states.async_set("binary_sensor.model_3_plugged", "off")
    await setup_entry(hass, make_entry())
    assert float(hass.states.get("sensor.model_3_planned_energy").state) == 0.0
    assert hass.states.get("sensor.model_3_next_charging_start").state == "unknown"
    assert hass.states.get("sensor.model_3_next_charging_end").state == "unknown"


async def test_savings_today_from_realised_slots(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Two realised slots: the car charged 11 kW at 5 ct, the battery held. The threshold
    baseline (limit above 5 ct) charges the car alike but lets the battery discharge 5 kW into
    the house and the car; the energy the battery lost is credited back at the median price."""
    entry = await setup_entry(hass, make_entry())
    coordinator = entry.runtime_data.coordinator
    state = hass.states.get("sensor.smartload_savings_today")
    assert state.state == "unknown"  # nothing realised yet
    assert state.attributes["slots"] == 0

    per_slot_kwh = 11 * 0.9 * 0.25  # what 11 kW put into the car in a slot
    soc = 40.0
    for k in (1, 2):
        soc += 100 * per_slot_kwh / 60
        hass.states.async_set(CAR_SOC, f"{soc:.4f}", {"unit_of_measurement": "%"})
        hass.states.async_set(BATTERY_SOC, "50", {"unit_of_measurement": "%"})
        freezer.move_to(NOW + k * Q + timedelta(seconds=5))
        await coordinator.async_refresh()
        await hass.async_block_till_done()

    state = hass.states.get("sensor.smartload_savings_today")
    attrs = state.attributes
    assert attrs["slots"] == 2
    assert attrs["since"] == NOW.isoformat()
    assert attrs["vehicle_kwh"] == pytest.approx(2 * per_slot_kwh, abs=1e-3)
    assert attrs["pv_measured"] is False  # no PV power entity: the forecast (0 at night)
    # SmartLoad: house 0.5 kW + car 11 kW at 0.05 €/kWh, two slots
    assert attrs["smartload_cost_eur"] == pytest.approx(2 * 11.5 * 0.05 * 0.25, abs=1e-4)
    # threshold: the battery (5 kWh, η = √0.9 each way) gives 5 kW in both slots
    assert attrs["baseline_cost_eur"] == pytest.approx(2 * 6.5 * 0.05 * 0.25, abs=1e-4)
    eta = math.sqrt(0.9)
    lost_kwh = 2 * 5.0 * 0.25 / eta  # the baseline battery's SoC drop
    assert attrs["stored_value_eur_per_kwh"] == pytest.approx(0.05)
    assert attrs["stored_energy_adjustment_eur"] == pytest.approx(lost_kwh * eta * 0.05, abs=1e-4)
    assert attrs["baseline_limit_eur_per_kwh"] >= 0.05  # so the baseline charged at once
    # the same energy at the same price either way: nothing saved, nothing lost
    assert float(state.state) == pytest.approx(0.0, abs=1e-4)
    assert state.attributes["unit_of_measurement"] == "EUR"
    assert state.attributes["device_class"] == "monetary"


async def test_savings_count_each_slot_once_and_reset_at_midnight(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A re-plan within a slot does not count it twice; the next local day starts anew."""
    start = NOW - 2 * Q  # 23:30 in Berlin
    hass.states.async_set(PRICE, "0.3", price_attributes(NOW - timedelta(hours=1), NIGHT_PRICES))
    freezer.move_to(start + timedelta(seconds=5))
    entry = await setup_entry(hass, make_entry())
    coordinator = entry.runtime_data.coordinator

    async def cycle(when: datetime) -> dict[str, Any]:
        freezer.move_to(when)
        await coordinator.async_refresh()
        await hass.async_block_till_done()
        return dict(hass.states.get("sensor.smartload_savings_today").attributes)

    attrs = await cycle(start + Q + timedelta(seconds=5))
    assert attrs["slots"] == 1
    attrs = await cycle(start + Q + timedelta(minutes=5))  # a re-plan within the slot
    assert attrs["slots"] == 1
    attrs = await cycle(NOW + timedelta(seconds=5))  # 23:45 counted: still the 11th
    assert attrs["slots"] == 2
    assert attrs["since"] == start.isoformat()
    attrs = await cycle(NOW + Q + timedelta(seconds=5))  # 00:00 counted: the 12th
    assert attrs["slots"] == 1
    assert attrs["since"] == NOW.isoformat()
    assert coordinator.realised.day == dt_util.as_local(NOW).date()


async def test_savings_survive_a_restart(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, hass_storage: dict[str, Any]
) -> None:
    """The day's counted slots are stored and read back after a reload; a damaged Store starts
    the count anew without stopping the entry."""
    entry = await setup_entry(hass, make_entry())
    freezer.move_to(NOW + Q + timedelta(seconds=5))
    await entry.runtime_data.coordinator.async_refresh()
    assert entry.runtime_data.coordinator.realised.slots
    assert await hass.config_entries.async_reload(entry.entry_id)  # unload flushes the Store
    await hass.async_block_till_done()
    stored = hass_storage[f"{DOMAIN}.savings.{entry.entry_id}"]["data"]
    assert [s["start"] for s in stored["slots"]] == [NOW.isoformat()]

    coordinator = entry.runtime_data.coordinator
    assert list(coordinator.realised.slots) == [NOW]  # read back
    freezer.move_to(NOW + 2 * Q + timedelta(seconds=5))
    await coordinator.async_refresh()  # counts 00:15 (the reload's own cycle began it)
    freezer.move_to(NOW + 3 * Q + timedelta(seconds=5))
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    attrs = hass.states.get("sensor.smartload_savings_today").attributes
    assert attrs["slots"] == 3  # 00:00 from before the restart, 00:15 and 00:30 after it
    assert attrs["since"] == NOW.isoformat()

    assert await hass.config_entries.async_unload(entry.entry_id)
    hass_storage[f"{DOMAIN}.savings.{entry.entry_id}"]["data"] = {"slots": [{"start": 1}]}
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.runtime_data.coordinator.realised.slots == {}
