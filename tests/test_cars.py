"""Cars in real Home Assistant: a stale SoC and its estimate, the charge sequencer, its events,
its override and a restart (frozen and advanced time)."""

from __future__ import annotations

from datetime import timedelta
from types import MappingProxyType
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.smartload.cars import storage_key
from custom_components.smartload.const import (
    CONF_AUTOMATION,
    CONF_CYCLE_MINUTES,
    CONF_HORIZON_HOURS,
    CONF_VEHICLE_CAPACITY_KWH,
    CONF_VEHICLE_CHARGE_POWER_ENTITY,
    CONF_VEHICLE_DEPARTURE,
    CONF_VEHICLE_MAX_CHARGE_KW,
    CONF_VEHICLE_PLUGGED_ENTITY,
    CONF_VEHICLE_PRESENCE_ENTITY,
    CONF_VEHICLE_PRIORITY,
    CONF_VEHICLE_SESSION_ENERGY_ENTITY,
    CONF_VEHICLE_SOC_ENTITY,
    CONF_VEHICLE_STALE_AFTER_MIN,
    CONF_VEHICLE_TARGET_SOC,
    DOMAIN,
    EVENT_DRIVER_MESSAGE,
    STATE_CHANGE_DEBOUNCE_S,
    SUBENTRY_VEHICLE,
)

from .conftest import CAR_DATA, CAR_PLUGGED, CAR_SOC, HOME_DATA, NOW, setup_entry

pytestmark = pytest.mark.usefixtures("home")

POWER = "sensor.wallbox_power"
SESSION = "sensor.wallbox_session_energy"
M3_HOME = "device_tracker.model_3"
ZOE_SOC = "sensor.zoe_soc"
ZOE_PLUGGED = "binary_sensor.zoe_plugged"
ZOE_HOME = "device_tracker.zoe"

STALE = "binary_sensor.model_3_soc_stale"
NEXT_CAR = "sensor.smartload_next_car"
M3_POSITION = "sensor.model_3_queue_position"
ZOE_POSITION = "sensor.zoe_queue_position"

ZOE_DATA: dict[str, Any] = {
    CONF_VEHICLE_CAPACITY_KWH: 40.0,
    CONF_VEHICLE_SOC_ENTITY: ZOE_SOC,
    CONF_VEHICLE_PLUGGED_ENTITY: ZOE_PLUGGED,
    CONF_VEHICLE_MAX_CHARGE_KW: 11.0,
    CONF_VEHICLE_TARGET_SOC: 80.0,
    CONF_VEHICLE_DEPARTURE: "07:00:00",
    CONF_VEHICLE_PRIORITY: 2,
    CONF_VEHICLE_PRESENCE_ENTITY: ZOE_HOME,
}


def _entry(model_3: dict[str, Any], zoe: dict[str, Any] | None = None) -> MockConfigEntry:
    cars = [("Model 3", {**CAR_DATA, **model_3})]
    if zoe is not None:
        cars.append(("Zoe", zoe))
    return MockConfigEntry(
        domain=DOMAIN,
        title="SmartLoad",
        data=HOME_DATA,
        options={CONF_HORIZON_HOURS: 48, CONF_CYCLE_MINUTES: 15, CONF_AUTOMATION: True},
        subentries_data=[
            ConfigSubentryData(
                data=MappingProxyType(data),
                subentry_type=SUBENTRY_VEHICLE,
                title=title,
                unique_id=None,
            )
            for title, data in cars
        ],
    )


def _car_id(entry: MockConfigEntry, title: str) -> str:
    return next(s.subentry_id for s in entry.subentries.values() if s.title == title)


async def _advance(hass: HomeAssistant, freezer: FrozenDateTimeFactory, **delta: float) -> None:
    freezer.tick(timedelta(**delta))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


@pytest.fixture
def messages(hass: HomeAssistant) -> list[Event[Any]]:
    """Every smartload_driver_message fired."""
    found: list[Event[Any]] = []
    hass.bus.async_listen(EVENT_DRIVER_MESSAGE, found.append)
    return found


# -- 1. a SoC you can trust ----------------------------------------------------------------------


async def test_soc_goes_stale_while_charging_is_estimated_and_resyncs(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """No SoC update for 20 min while 11 kW flow: stale, estimated, planned on; then resync."""
    hass.states.async_set(POWER, "11000", {"unit_of_measurement": "W"})
    entry = await setup_entry(
        hass,
        _entry({CONF_VEHICLE_CHARGE_POWER_ENTITY: POWER, CONF_VEHICLE_STALE_AFTER_MIN: 20}),
    )
    coordinator = entry.runtime_data.coordinator
    stale = hass.states.get(STALE)
    assert stale.state == "off"
    assert stale.attributes["device_class"] == "problem"
    assert stale.attributes["last_reading"] == 40.0
    assert stale.attributes["friendly_name"] == "Model 3 SoC stale"

    await _advance(hass, freezer, minutes=19)
    stale = hass.states.get(STALE)
    assert stale.state == "off"
    assert stale.attributes["estimated_soc"] == 40.0  # the reading is still believed

    # 20 min without a reading while charging: stale at once (a timer, not the next cycle)
    await _advance(hass, freezer, minutes=1, seconds=2)
    stale = hass.states.get(STALE)
    assert stale.state == "on"
    delivered = 11.0 * (20 * 60 + 2) / 3600  # kWh at the wallbox
    assert stale.attributes["delivered_kwh"] == pytest.approx(delivered, abs=0.01)
    assert stale.attributes["estimated_soc"] == pytest.approx(
        40 + 100 * delivered * 0.9 / 60, abs=0.01
    )
    assert stale.attributes["estimate_age_min"] == 20

    # the planner gets the conservative estimate, flagged, after the debounced re-plan
    await _advance(hass, freezer, seconds=STATE_CHANGE_DEBOUNCE_S + 1)
    (car,) = coordinator.data.inputs.vehicles
    assert car.soc_estimated
    elapsed_h = (20 * 60 + 2 + STATE_CHANGE_DEBOUNCE_S + 1) / 3600
    assert car.soc_kwh == pytest.approx(24.0 + 11.0 * elapsed_h * 0.9 * 0.9, abs=0.02)

    # a fresh reading: believed at once, the estimate's error recorded, planned on again
    estimated = hass.states.get(STALE).attributes["estimated_soc"]
    hass.states.async_set(CAR_SOC, "46", {"unit_of_measurement": "%"})
    await hass.async_block_till_done()
    stale = hass.states.get(STALE)
    assert stale.state == "off"
    assert stale.attributes["last_reading"] == 46.0
    assert stale.attributes["delivered_kwh"] == 0.0
    assert stale.attributes["last_resync_error"] == pytest.approx(estimated - 46, abs=0.05)
    await _advance(hass, freezer, seconds=STATE_CHANGE_DEBOUNCE_S + 1)
    (car,) = coordinator.data.inputs.vehicles
    assert not car.soc_estimated
    assert car.soc_kwh == pytest.approx(60 * 0.46)


async def test_not_charging_is_not_stale(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A SoC that does not move while nothing flows is simply right."""
    hass.states.async_set(POWER, "0", {"unit_of_measurement": "W"})
    await setup_entry(
        hass,
        _entry({CONF_VEHICLE_CHARGE_POWER_ENTITY: POWER, CONF_VEHICLE_STALE_AFTER_MIN: 20}),
    )
    await _advance(hass, freezer, minutes=45)
    assert hass.states.get(STALE).state == "off"
    # charging starts: stale only after the time since the reading *and* energy flowing
    hass.states.async_set(POWER, "7.4", {"unit_of_measurement": "kW"})
    await _advance(hass, freezer, minutes=10)
    stale = hass.states.get(STALE)
    assert stale.state == "on"
    assert stale.attributes["delivered_kwh"] == pytest.approx(7.4 / 6, abs=0.01)


async def test_estimate_from_session_energy_with_a_new_session(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The wallbox's session counter is preferred; a counter that restarts is a new session."""
    hass.states.async_set(SESSION, "0.0", {"unit_of_measurement": "kWh"})
    hass.states.async_set(POWER, "11000", {"unit_of_measurement": "W"})  # ignored: session wins
    await setup_entry(
        hass,
        _entry(
            {
                CONF_VEHICLE_SESSION_ENERGY_ENTITY: SESSION,
                CONF_VEHICLE_CHARGE_POWER_ENTITY: POWER,
                CONF_VEHICLE_STALE_AFTER_MIN: 20,
            }
        ),
    )
    await _advance(hass, freezer, minutes=10)
    hass.states.async_set(SESSION, "2000", {"unit_of_measurement": "Wh"})
    await _advance(hass, freezer, minutes=11)
    stale = hass.states.get(STALE)
    assert stale.state == "on"
    assert stale.attributes["estimated_soc"] == pytest.approx(40 + 100 * 2 * 0.9 / 60)
    hass.states.async_set(SESSION, "5.0", {"unit_of_measurement": "kWh"})
    hass.states.async_set(SESSION, "0.5", {"unit_of_measurement": "kWh"})  # a new session
    await hass.async_block_till_done()
    stale = hass.states.get(STALE)
    assert stale.attributes["delivered_kwh"] == pytest.approx(5.5)
    assert stale.attributes["estimated_soc"] == pytest.approx(40 + 100 * 5.5 * 0.9 / 60)


# -- 2. the charge sequencer ---------------------------------------------------------------------


def _two_cars(hass: HomeAssistant, **model_3: Any) -> MockConfigEntry:
    hass.states.async_set(M3_HOME, "home")
    hass.states.async_set(ZOE_HOME, "home")
    hass.states.async_set(ZOE_SOC, "30", {"unit_of_measurement": "%"})
    hass.states.async_set(ZOE_PLUGGED, "off")
    return _entry({CONF_VEHICLE_PRESENCE_ENTITY: M3_HOME, **model_3}, ZOE_DATA)


async def test_sequencer_plug_target_starvation_vacancy_swap(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, messages: list[Event[Any]]
) -> None:
    """Model 3 on the wallbox, Zoe waits: starvation after an hour; Model 3 full: vacancy after
    15 min; the swap empties the queue's wait."""
    entry = await setup_entry(hass, _two_cars(hass))
    m3, zoe = _car_id(entry, "Model 3"), _car_id(entry, "Zoe")

    nxt = hass.states.get(NEXT_CAR)
    assert nxt.state == "Zoe"
    assert nxt.attributes["options"] == ["Model 3", "Zoe", "none"]
    assert nxt.attributes["charging_now"] == "Model 3"
    assert nxt.attributes["queue"] == ["Model 3", "Zoe"]
    assert nxt.attributes["reason"] == "on_wallbox"
    assert hass.states.get(M3_POSITION).state == "1"
    assert hass.states.get(M3_POSITION).attributes["state"] == "active"
    zoe_pos = hass.states.get(ZOE_POSITION)
    assert zoe_pos.state == "2"
    assert zoe_pos.attributes["state"] == "queued"
    assert zoe_pos.attributes["waiting_since"] == NOW.isoformat()

    await _advance(hass, freezer, minutes=59)
    assert messages == []
    await _advance(hass, freezer, minutes=1, seconds=2)
    assert len(messages) == 1
    assert messages[0].data == {
        "config_entry_id": entry.entry_id,
        "vehicle": zoe,
        "kind": "starvation",
        "placeholders": {
            "name": "Zoe",
            "waited_min": 60,
            "needed_kwh": 20.0,
            "position": 2,
            "on_wallbox": "Model 3",
        },
    }
    await _advance(hass, freezer, minutes=20)  # once per wait, not every cycle
    assert len(messages) == 1

    # Model 3 reaches its target: Zoe is first at once (no cycle needed)
    hass.states.async_set(CAR_SOC, "80", {"unit_of_measurement": "%"})
    await hass.async_block_till_done()
    assert hass.states.get(M3_POSITION).state == "0"
    assert hass.states.get(M3_POSITION).attributes["state"] == "full"
    assert hass.states.get(ZOE_POSITION).state == "1"
    assert hass.states.get(NEXT_CAR).state == "Zoe"
    await _advance(hass, freezer, minutes=14)
    assert len(messages) == 1
    await _advance(hass, freezer, minutes=1, seconds=2)
    assert len(messages) == 2
    vacancy = messages[1].data
    assert vacancy["kind"] == "vacancy" and vacancy["vehicle"] == m3
    assert vacancy["placeholders"]["waiting_vehicle"] == zoe
    assert vacancy["placeholders"]["waiting_name"] == "Zoe"
    assert vacancy["placeholders"]["full_min"] == 15

    # the swap: Model 3 unplugged, Zoe plugged in; nobody waits any more
    hass.states.async_set(CAR_PLUGGED, "off")
    hass.states.async_set(ZOE_PLUGGED, "on")
    await hass.async_block_till_done()
    assert hass.states.get(NEXT_CAR).state == "none"
    assert hass.states.get(NEXT_CAR).attributes["charging_now"] == "Zoe"
    assert hass.states.get(ZOE_POSITION).state == "1"
    assert hass.states.get(ZOE_POSITION).attributes["waiting_since"] is None
    await _advance(hass, freezer, minutes=90)
    assert len(messages) == 2
    # the plan charges Zoe now
    assert [v.name for v in entry.runtime_data.coordinator.data.inputs.vehicles] == ["Zoe"]


async def test_unplugged_car_without_presence_is_away(hass: HomeAssistant) -> None:
    """Without a presence entity an unplugged car cannot be known to wait."""
    hass.states.async_set(ZOE_SOC, "30", {"unit_of_measurement": "%"})
    hass.states.async_set(ZOE_PLUGGED, "off")
    zoe = {k: v for k, v in ZOE_DATA.items() if k != CONF_VEHICLE_PRESENCE_ENTITY}
    await setup_entry(hass, _entry({}, zoe))
    assert hass.states.get(ZOE_POSITION).state == "0"
    assert hass.states.get(ZOE_POSITION).attributes["state"] == "away"
    assert hass.states.get(NEXT_CAR).state == "none"


async def test_override_by_action_expires(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Zoe first by hand for 90 minutes (the default), then the sequencer resumes."""
    entry = await setup_entry(hass, _two_cars(hass))
    await hass.services.async_call(DOMAIN, "sequencer_override", {"vehicle": "zoe"}, blocking=True)
    nxt = hass.states.get(NEXT_CAR)
    assert nxt.attributes["charging_now"] == "Zoe"
    assert nxt.attributes["reason"] == "override"
    assert nxt.attributes["override_vehicle"] == "Zoe"
    assert nxt.attributes["override_until"] == (NOW + timedelta(minutes=90)).isoformat()
    assert hass.states.get(ZOE_POSITION).state == "1"
    assert hass.states.get(M3_POSITION).state == "2"

    await _advance(hass, freezer, minutes=89)
    assert hass.states.get(ZOE_POSITION).state == "1"
    await _advance(hass, freezer, minutes=1, seconds=2)
    nxt = hass.states.get(NEXT_CAR)
    assert nxt.attributes["override_vehicle"] is None
    assert nxt.attributes["charging_now"] == "Model 3"
    assert hass.states.get(M3_POSITION).state == "1"

    # by device id, 30 minutes; then resumed by hand
    device_id = dr.async_get_device_id_by_identifier(
        hass, (DOMAIN, _car_id(entry, "Zoe")), config_entry_id=entry.entry_id
    )
    assert device_id is not None
    await hass.services.async_call(
        DOMAIN, "sequencer_override", {"vehicle": device_id, "minutes": 30}, blocking=True
    )
    assert hass.states.get(ZOE_POSITION).state == "1"
    await hass.services.async_call(DOMAIN, "sequencer_resume", {}, blocking=True)
    assert hass.states.get(M3_POSITION).state == "1"
    assert hass.states.get(NEXT_CAR).attributes["override_until"] is None


async def test_override_action_errors(hass: HomeAssistant) -> None:
    """A duration out of range and an unknown car are refused with a translated message."""
    await setup_entry(hass, _two_cars(hass))
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "sequencer_override", {"vehicle": "Zoe", "minutes": 0}, blocking=True
        )
    assert err.value.translation_key == "override_minutes_out_of_range"
    assert str(err.value) == "An override lasts from 1 to 720 minutes, not 0"
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "sequencer_override", {"vehicle": "Golf"}, blocking=True
        )
    assert err.value.translation_key == "unknown_vehicle"
    assert hass.states.get(NEXT_CAR).attributes["override_vehicle"] is None


async def test_departure_change_reorders(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Zoe's departure moved to 02:00 (local): it cannot wait for Model 3 any more."""
    entry = await setup_entry(hass, _two_cars(hass))
    assert hass.states.get(NEXT_CAR).attributes["charging_now"] == "Model 3"
    subentry = entry.subentries[_car_id(entry, "Zoe")]
    hass.config_entries.async_update_subentry(
        entry, subentry, data={**subentry.data, CONF_VEHICLE_DEPARTURE: "02:00:00"}
    )
    await hass.async_block_till_done()  # the entry reloads with the new departure
    nxt = hass.states.get(NEXT_CAR)
    assert nxt.attributes["charging_now"] == "Zoe"
    assert nxt.attributes["reason"] == "urgent"
    assert hass.states.get(ZOE_POSITION).state == "1"


# -- the state survives a restart ----------------------------------------------------------------


async def test_state_survives_a_reload(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    messages: list[Event[Any]],
    hass_storage: dict[str, Any],
) -> None:
    """Override, waiting timers and a stale SoC's track are stored and picked up again."""
    hass.states.async_set(POWER, "11", {"unit_of_measurement": "kW"})
    entry = await setup_entry(
        hass,
        _two_cars(
            hass, **{CONF_VEHICLE_CHARGE_POWER_ENTITY: POWER, CONF_VEHICLE_STALE_AFTER_MIN: 20}
        ),
    )
    zoe = _car_id(entry, "Zoe")
    await _advance(hass, freezer, minutes=30)
    await hass.services.async_call(
        DOMAIN, "sequencer_override", {"vehicle": "Zoe", "minutes": 120}, blocking=True
    )
    before = hass.states.get(STALE)
    assert before.state == "on"
    until = hass.states.get(NEXT_CAR).attributes["override_until"]

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    stored = hass_storage[storage_key(entry.entry_id)]
    assert stored["version"] == 1
    assert stored["data"]["sequencer"]["override"]["car_id"] == zoe
    assert stored["data"]["sequencer"]["waiting_since"][zoe] == NOW.isoformat()

    await _advance(hass, freezer, minutes=5)  # Home Assistant is down for 5 minutes
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    nxt = hass.states.get(NEXT_CAR)
    assert nxt.attributes["override_vehicle"] == "Zoe"
    assert nxt.attributes["override_until"] == until
    assert hass.states.get(ZOE_POSITION).attributes["waiting_since"] == NOW.isoformat()
    after = hass.states.get(STALE)
    assert after.state == "on"  # the same old reading: still stale
    assert after.attributes["last_reading"] == 40.0
    # the 30 minutes before the restart count; the 5 minutes down do not (power unknown then)
    assert after.attributes["delivered_kwh"] == pytest.approx(11 * 0.5, abs=0.01)

    # Zoe has waited since the start (not since the restart): starvation after the first hour
    assert messages == []
    await _advance(hass, freezer, minutes=25, seconds=2)
    assert [(m.data["kind"], m.data["vehicle"]) for m in messages] == [("starvation", zoe)]


async def test_damaged_store_starts_afresh(
    hass: HomeAssistant, hass_storage: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Unreadable stored state: the entry sets up, the sequencer decides anew."""
    entry = _two_cars(hass)
    hass_storage[storage_key(entry.entry_id)] = {
        "version": 1,
        "minor_version": 1,
        "key": storage_key(entry.entry_id),
        "data": {
            "tracks": {"x": "garbage"},
            "sequencer": {"override": {"car_id": "gone", "until": "not a time"}, "queue": 5},
        },
    }
    await setup_entry(hass, entry)
    nxt = hass.states.get(NEXT_CAR)
    assert nxt.state == "Zoe"
    assert nxt.attributes["override_vehicle"] is None
    assert hass.states.get(STALE).attributes["last_reading"] == 40.0
    assert not [r for r in caplog.records if r.exc_info]


async def test_two_plugged_cars_follow_the_plan_and_evaluate_is_idempotent(
    hass: HomeAssistant, hass_storage: dict[str, Any], messages: list[Event[Any]]
) -> None:
    """Both cars plugged (a dual-socket box): the car the plan charges now is first; evaluating
    again with nothing changed fires nothing and changes nothing."""
    entry = _two_cars(hass)
    hass.states.async_set(ZOE_PLUGGED, "on")
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data.coordinator
    active = coordinator.data.decision.active_vehicle
    assert active in ("Model 3", "Zoe")
    nxt = hass.states.get(NEXT_CAR)
    assert nxt.attributes["charging_now"] == active
    assert nxt.attributes["reason"] == "on_wallbox"
    assert nxt.state == "none"  # both are plugged in: nobody has to come
    other = "Zoe" if active == "Model 3" else "Model 3"
    assert nxt.attributes["then"] == other

    before = (coordinator.cars.state, coordinator.cars.decision)
    last_changed = hass.states.get(NEXT_CAR).last_updated
    decision = coordinator.cars.evaluate_and_apply()
    decision = coordinator.cars.evaluate_and_apply()
    await hass.async_block_till_done()
    assert (coordinator.cars.state, decision) == before
    assert hass.states.get(NEXT_CAR).last_updated == last_changed
    assert messages == []


async def test_stale_without_a_meter_follows_the_plan(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """No session energy, no power entity: while the plan charges the car, a SoC that does not
    move for the stale time is flagged (there is nothing to estimate from)."""
    entry = await setup_entry(hass, _entry({CONF_VEHICLE_STALE_AFTER_MIN: 20}))
    assert entry.runtime_data.coordinator.data.decision.active_vehicle == "Model 3"
    await _advance(hass, freezer, minutes=21)
    stale = hass.states.get(STALE)
    assert stale.state == "on"
    assert stale.attributes["estimated_soc"] == 40.0  # flagged, not guessed
    assert stale.attributes["delivered_kwh"] == 0.0
    await _advance(hass, freezer, seconds=STATE_CHANGE_DEBOUNCE_S + 1)
    (car,) = entry.runtime_data.coordinator.data.inputs.vehicles
    assert not car.soc_estimated  # the reading is all there is


async def test_unreadable_soc_plans_on_the_reading_since_plug_in(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, service_calls: list[Any]
) -> None:
    """The car's SoC goes unavailable (its API sleeps) while it charges: the reading since it
    was plugged in plus the energy delivered stands in, with a repair issue; after a new plug-in
    there is no reading to stand in, and nothing is planned on a guess."""
    hass.states.async_set(POWER, "11", {"unit_of_measurement": "kW"})
    entry = await setup_entry(hass, _entry({CONF_VEHICLE_CHARGE_POWER_ENTITY: POWER}))
    coordinator = entry.runtime_data.coordinator
    await _advance(hass, freezer, minutes=6)
    hass.states.async_set(CAR_SOC, "unavailable")
    await _advance(hass, freezer, seconds=STATE_CHANGE_DEBOUNCE_S + 1)
    assert coordinator.data.status.value == "optimal"
    (car,) = coordinator.data.inputs.vehicles
    assert car.soc_estimated
    delivered = 11 * (6 * 60 + STATE_CHANGE_DEBOUNCE_S + 1) / 3600
    assert car.soc_kwh == pytest.approx(24.0 + delivered * 0.9 * 0.9, abs=0.01)
    issues = {
        i.translation_key: i
        for (domain, _), i in ir.async_get(hass).issues.items()
        if domain == DOMAIN
    }
    assert set(issues) == {"soc_estimated"}
    placeholders = issues["soc_estimated"].translation_placeholders
    assert placeholders["entity_id"] == CAR_SOC
    assert placeholders["since"] == "2026-05-12 00:00"  # the reading at setup, Berlin time
    assert placeholders["max_age_h"] == "12"
    stale = hass.states.get(STALE)  # the car's SoC stale sensor shows the estimate and its age
    assert stale.state == "on"
    assert stale.attributes["estimate_age_min"] == 6
    assert stale.attributes["last_reading"] == 40.0

    # unplugged and plugged in again: the old reading may predate a drive
    hass.states.async_set(CAR_PLUGGED, "off")
    await hass.async_block_till_done()
    hass.states.async_set(CAR_PLUGGED, "on")
    await _advance(hass, freezer, seconds=STATE_CHANGE_DEBOUNCE_S + 1)
    assert coordinator.data.status.value == "stale_inputs"
    keys = {i.translation_key for (d, _), i in ir.async_get(hass).issues.items() if d == DOMAIN}
    assert keys == {"input_unavailable"}

    # the car reports again: planned on the reading, the issue gone
    hass.states.async_set(CAR_SOC, "52", {"unit_of_measurement": "%"})
    await _advance(hass, freezer, seconds=STATE_CHANGE_DEBOUNCE_S + 1)
    assert coordinator.data.status.value == "optimal"
    (car,) = coordinator.data.inputs.vehicles
    assert not car.soc_estimated and car.soc_kwh == pytest.approx(31.2)
    assert not [i for (d, _), i in ir.async_get(hass).issues.items() if d == DOMAIN]


async def test_unreadable_soc_estimate_survives_a_restart(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, hass_storage: dict[str, Any]
) -> None:
    """A restart while the SoC cannot be read: the stored plug-in time and reading still stand
    in (the restart is no new plug-in), with the same time in the repair."""
    hass.states.async_set(POWER, "11", {"unit_of_measurement": "kW"})
    entry = await setup_entry(hass, _entry({CONF_VEHICLE_CHARGE_POWER_ENTITY: POWER}))
    hass.states.async_set(CAR_SOC, "unavailable")
    await _advance(hass, freezer, seconds=STATE_CHANGE_DEBOUNCE_S + 1)
    assert entry.runtime_data.coordinator.data.inputs.vehicles[0].soc_estimated

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    car_id = next(iter(entry.subentries))
    assert hass_storage[storage_key(entry.entry_id)]["data"]["plugged_at"] == {
        car_id: NOW.isoformat()
    }
    await _advance(hass, freezer, minutes=5)  # Home Assistant is down for 5 minutes
    # on a real restart the plug's state is new (unavailable, then on): only the stored
    # plug-in time tells that the reading was taken while plugged in
    hass.states.async_set(CAR_PLUGGED, "unavailable")
    hass.states.async_set(CAR_PLUGGED, "on")
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    result = entry.runtime_data.coordinator.data
    assert result.status.value == "optimal"
    (car,) = result.inputs.vehicles
    assert car.soc_estimated
    issues = [i for (d, _), i in ir.async_get(hass).issues.items() if d == DOMAIN]
    assert [i.translation_key for i in issues] == ["soc_estimated"]
    assert issues[0].translation_placeholders["since"] == "2026-05-12 00:00"
    assert hass.states.get(STALE).state == "on"


async def test_drivers_departure_and_boost_reorder_at_once(hass: HomeAssistant) -> None:
    """A driver's set_departure and boost (the drivers' actions) move the queue at once."""
    await setup_entry(hass, _two_cars(hass))
    assert hass.states.get(NEXT_CAR).attributes["charging_now"] == "Model 3"

    # Zoe must leave at 01:30 local (23:30 UTC): 20 kWh take 2 h, it is urgent now
    await hass.services.async_call(
        DOMAIN, "set_departure", {"vehicle": "Zoe", "time": "01:30:00"}, blocking=True
    )
    nxt = hass.states.get(NEXT_CAR)
    assert nxt.attributes["charging_now"] == "Zoe"
    assert nxt.attributes["reason"] == "urgent"

    await hass.services.async_call(
        DOMAIN, "set_departure", {"vehicle": "Zoe", "time": "09:00:00"}, blocking=True
    )
    assert hass.states.get(NEXT_CAR).attributes["charging_now"] == "Model 3"

    await hass.services.async_call(DOMAIN, "boost", {"vehicle": "Zoe"}, blocking=True)
    nxt = hass.states.get(NEXT_CAR)
    assert nxt.attributes["charging_now"] == "Zoe"
    assert nxt.attributes["reason"] == "boost"
    assert hass.states.get(ZOE_POSITION).state == "1"
    await hass.services.async_call(DOMAIN, "cancel_boost", {"vehicle": "Zoe"}, blocking=True)
    assert hass.states.get(NEXT_CAR).attributes["charging_now"] == "Model 3"
