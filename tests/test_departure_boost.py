"""Departure time and charge target per car, set_departure, boost and cancel_boost (real HA)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError, Unauthorized, UnknownUser
from homeassistant.util import dt as dt_util
import numpy as np
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.smartload.const import DOMAIN
from custom_components.smartload.planner.model import LoadpointMode, VehicleInput

from .conftest import MODE, NOW, PRICE, make_entry, price_attributes, setup_entry

pytestmark = pytest.mark.usefixtures("home")

DEPARTURE = "time.model_3_departure"
TARGET = "number.model_3_charge_target"
BOOST = "button.model_3_boost"
# dear for the first three hours of the night, cheap after (still above the 0.08 feed-in, so
# the plan needs no exclusivity MILP): without a boost the car waits
DEAR_FIRST = [0.40, 0.40, 0.40] + [0.10] * 4 + [0.30] * 17


def car_input(entry: Any) -> VehicleInput:
    (car,) = entry.runtime_data.coordinator.data.inputs.vehicles
    return car


def departure_local(entry: Any, hass: HomeAssistant) -> str:
    inputs = entry.runtime_data.coordinator.data.inputs
    when = inputs.slot_start(car_input(entry).departure_slot)
    return dt_util.as_local(when).strftime("%Y-%m-%d %H:%M")


async def test_entities_show_the_subentry_defaults(hass: HomeAssistant) -> None:
    entry = await setup_entry(hass, make_entry())
    assert hass.states.get(DEPARTURE).state == "07:00:00"
    assert hass.states.get(DEPARTURE).attributes["one_off"] is False
    assert float(hass.states.get(TARGET).state) == 80.0
    assert car_input(entry).target_soc_kwh == pytest.approx(48.0)
    assert departure_local(entry, hass) == "2026-05-12 07:00"


async def test_time_and_number_replan_at_once(hass: HomeAssistant) -> None:
    entry = await setup_entry(hass, make_entry())
    await hass.services.async_call(
        "time", "set_value", {"entity_id": DEPARTURE, "time": "05:30:00"}, blocking=True
    )
    await hass.async_block_till_done()
    assert hass.states.get(DEPARTURE).state == "05:30:00"
    assert departure_local(entry, hass) == "2026-05-12 05:30"

    await hass.services.async_call(
        "number", "set_value", {"entity_id": TARGET, "value": 90}, blocking=True
    )
    await hass.async_block_till_done()
    assert float(hass.states.get(TARGET).state) == 90.0
    assert car_input(entry).target_soc_kwh == pytest.approx(54.0)


async def test_restart_keeps_departure_and_target(hass: HomeAssistant) -> None:
    entry = await setup_entry(hass, make_entry())
    await hass.services.async_call(
        DOMAIN, "set_departure", {"vehicle": "Model 3", "time": "06:15", "target_soc": 70}
    )
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(DEPARTURE).state == "06:15:00"
    assert float(hass.states.get(TARGET).state) == 70.0
    assert car_input(entry).target_soc_kwh == pytest.approx(42.0)
    assert departure_local(entry, hass) == "2026-05-12 06:15"


async def test_stored_values_from_a_previous_run_and_a_corrupt_file(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    entry = make_entry()
    (subentry_id,) = entry.subentries
    key = f"{DOMAIN}.{entry.entry_id}.cars"
    hass_storage[key] = {
        "version": 1,
        "minor_version": 1,
        "key": key,
        "data": {
            "cars": {
                subentry_id: {
                    "departure": "08:45:00",
                    "target_soc_pct": 60,
                    "one_off": "not a time",  # unreadable: ignored, the rest is kept
                    "default_departure": "07:00:00",
                    "default_target_pct": 80.0,
                }
            }
        },
    }
    await setup_entry(hass, entry)
    assert hass.states.get(DEPARTURE).state == "08:45:00"
    assert float(hass.states.get(TARGET).state) == 60.0

    # an unreadable file: the subentry's defaults, no traceback, the home plans
    assert await hass.config_entries.async_unload(entry.entry_id)
    hass_storage[key] = {"version": 1, "key": key, "data": ["garbage"]}
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(DEPARTURE).state == "07:00:00"
    assert hass.states.get("sensor.smartload_plan_status").state == "optimal"


async def test_one_off_departure_reverts_after_it_passed(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    entry = await setup_entry(hass, make_entry())
    await hass.services.async_call(
        DOMAIN,
        "set_departure",
        {"vehicle": "Model 3", "time": "09:15", "date": "2026-05-12", "target_soc": 95},
        blocking=True,
    )
    await hass.async_block_till_done()
    assert departure_local(entry, hass) == "2026-05-12 09:15"
    assert car_input(entry).target_soc_kwh == pytest.approx(57.0)
    assert hass.states.get(DEPARTURE).state == "07:00:00"  # the regular one is unchanged
    assert hass.states.get(DEPARTURE).attributes["one_off"] is True

    freezer.move_to(NOW + timedelta(hours=9, minutes=16))  # 09:16 in Berlin
    async_fire_time_changed(hass)
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert departure_local(entry, hass) == "2026-05-13 07:00"
    assert car_input(entry).target_soc_kwh == pytest.approx(48.0)
    assert hass.states.get(DEPARTURE).attributes["one_off"] is False


async def test_set_departure_rejects_the_past_and_unknown_cars(hass: HomeAssistant) -> None:
    await setup_entry(hass, make_entry())
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "set_departure",
            {"vehicle": "Model 3", "time": "23:00", "date": date(2026, 5, 11).isoformat()},
            blocking=True,
        )
    assert err.value.translation_key == "departure_in_past"
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "set_departure", {"vehicle": "Zoe", "time": "07:00"}, blocking=True
        )
    assert err.value.translation_key == "unknown_vehicle"


async def _dear_first(hass: HomeAssistant) -> Any:
    hass.states.async_set(PRICE, "0.40", price_attributes(prices=DEAR_FIRST))
    # no home battery: it would otherwise feed the car now (the plan's economics, not a boost)
    entry = await setup_entry(hass, make_entry(automation=True, battery_soc_entity=None))
    plan = entry.runtime_data.coordinator.data.plan
    assert plan.vehicles[0].charge_kw[0] == pytest.approx(0.0, abs=1e-6)
    assert hass.states.get(MODE).state != "now"
    return entry


async def test_boost_button_charges_now_and_evcc_follows(hass: HomeAssistant) -> None:
    entry = await _dear_first(hass)
    await hass.services.async_call("button", "press", {"entity_id": BOOST}, blocking=True)
    await hass.async_block_till_done()
    result = entry.runtime_data.coordinator.data
    assert car_input(entry).boost_until_slot == 4  # an hour
    assert np.allclose(result.plan.vehicles[0].charge_kw[:4], 11.0)
    assert result.decision.loadpoint_mode is LoadpointMode.NOW
    assert result.decision.why.key == "car_boost"
    assert hass.states.get(MODE).state == "now"
    assert "boost" in hass.states.get("sensor.smartload_next_action").state

    await hass.services.async_call(DOMAIN, "cancel_boost", {"vehicle": "Model 3"}, blocking=True)
    await hass.async_block_till_done()
    result = entry.runtime_data.coordinator.data
    assert car_input(entry).boost_until_slot == 0
    assert result.plan.vehicles[0].charge_kw[0] == pytest.approx(0.0, abs=1e-6)
    assert hass.states.get(MODE).state != "now"


async def test_boost_action_to_a_target(hass: HomeAssistant) -> None:
    entry = await _dear_first(hass)
    await hass.services.async_call(
        DOMAIN, "boost", {"vehicle": "Model 3", "target_soc": 50}, blocking=True
    )
    await hass.async_block_till_done()
    car = car_input(entry)
    assert car.boost_target_kwh == pytest.approx(30.0)
    kw = entry.runtime_data.coordinator.data.plan.vehicles[0].charge_kw
    # 40 % -> 50 % of 60 kWh = 6 kWh at 11 kW x 0.9 x 0.25 h = 2.475 kWh a slot: 2.42 slots
    assert np.allclose(kw[:2], 11.0)
    assert kw[2] == pytest.approx(11.0 * (6.0 / 2.475 - 2), abs=0.05)


async def test_boost_ends_at_its_expiry(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    entry = await _dear_first(hass)
    await hass.services.async_call(
        DOMAIN, "boost", {"vehicle": "Model 3", "duration": {"minutes": 30}}, blocking=True
    )
    await hass.async_block_till_done()
    assert car_input(entry).boost_until_slot == 2
    assert hass.states.get(MODE).state == "now"

    freezer.tick(timedelta(minutes=31))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    coordinator = entry.runtime_data.coordinator
    assert coordinator.car_states.get(coordinator.vehicles[0].subentry_id).boost_until is None
    assert car_input(entry).boost_until_slot == 0
    assert hass.states.get(MODE).state != "now"


async def test_actions_check_the_calling_user(
    hass: HomeAssistant, hass_admin_user: Any, hass_read_only_user: Any
) -> None:
    entry = await setup_entry(hass, make_entry())
    data = {"vehicle": "Model 3", "time": "06:00"}
    with pytest.raises(Unauthorized):
        await hass.services.async_call(
            DOMAIN,
            "set_departure",
            data,
            blocking=True,
            context=Context(user_id=hass_read_only_user.id),
        )
    with pytest.raises(Unauthorized):
        await hass.services.async_call(
            DOMAIN,
            "boost",
            {"vehicle": "Model 3"},
            blocking=True,
            context=Context(user_id=hass_read_only_user.id),
        )
    with pytest.raises(UnknownUser):
        await hass.services.async_call(
            DOMAIN,
            "cancel_boost",
            {"vehicle": "Model 3"},
            blocking=True,
            context=Context(user_id="nobody"),
        )
    assert hass.states.get(DEPARTURE).state == "07:00:00"
    coordinator = entry.runtime_data.coordinator
    assert coordinator.car_states.get(coordinator.vehicles[0].subentry_id).boost_until is None
    await hass.services.async_call(
        DOMAIN, "set_departure", data, blocking=True, context=Context(user_id=hass_admin_user.id)
    )
    assert hass.states.get(DEPARTURE).state == "06:00:00"


async def test_sequencer_actions_check_the_calling_user(
    hass: HomeAssistant, hass_admin_user: Any, hass_read_only_user: Any
) -> None:
    """Overriding the charge order or resuming it changes behaviour: a read-only user may not;
    an admin (and an automation, without a user) may."""
    entry = await setup_entry(hass, make_entry())
    read_only = Context(user_id=hass_read_only_user.id)
    for action, data in (("sequencer_override", {"vehicle": "Model 3"}), ("sequencer_resume", {})):
        with pytest.raises(Unauthorized):
            await hass.services.async_call(DOMAIN, action, data, blocking=True, context=read_only)
    assert entry.runtime_data.coordinator.cars.decision.override is None
    await hass.services.async_call(
        DOMAIN,
        "sequencer_override",
        {"vehicle": "Model 3"},
        blocking=True,
        context=Context(user_id=hass_admin_user.id),
    )
    assert entry.runtime_data.coordinator.cars.decision.override is not None
    await hass.services.async_call(DOMAIN, "sequencer_resume", {}, blocking=True)
    assert entry.runtime_data.coordinator.cars.decision.override is None
