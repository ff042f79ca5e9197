"""Fail-safe hand-back on real stand-in entities: each trigger, the Store, the heartbeat."""

from __future__ import annotations

from datetime import timedelta
import json
import logging
import threading
from types import MappingProxyType
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryDisabler, ConfigEntryState, ConfigSubentry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.event import async_track_state_change_event
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.smartload.config_flow import ACTUATOR_KEYS
from custom_components.smartload.const import (
    CONF_HANDBACK_MINUTES,
    CONF_HANDBACK_PREFIX,
    CONF_LOADPOINT_MODE_ENTITY,
    CONF_SMART_COST_LIMIT_ENTITY,
    SUBENTRY_VEHICLE,
)
from custom_components.smartload.coordinator import Status
from custom_components.smartload.handback import STORAGE_VERSION, storage_key

from .conftest import (
    ACTUATORS,
    CAR_DATA,
    COST_LIMIT,
    DISCHARGE,
    GRID_LIMIT,
    MODE,
    NOW,
    PRICE,
    make_entry,
    setup_entry as _setup_entry,
)

pytestmark = pytest.mark.usefixtures("home")

PROBLEM = "binary_sensor.smartload_problem"
LAST_PLAN = "sensor.smartload_last_successful_plan"
NUMBERS = (COST_LIMIT, GRID_LIMIT)


async def _prepare(hass: HomeAssistant) -> dict[str, Any]:
    """The values the user left on evcc's controls before SmartLoad (none is the plan's)."""
    await hass.services.async_call(
        "input_number", "set_value", {"entity_id": "input_number.cost_limit", "value": 0.2}
    )
    await hass.services.async_call(
        "input_number", "set_value", {"entity_id": "input_number.grid_limit", "value": 0.15}
    )
    await hass.services.async_call(
        "input_select", "select_option", {"entity_id": "input_select.lp_mode", "option": "minpv"}
    )
    await hass.async_block_till_done()
    return _values(hass)


def _values(hass: HomeAssistant) -> dict[str, Any]:
    """The actuators' states (numbers as floats)."""
    out: dict[str, Any] = {}
    for entity_id in ACTUATORS:
        state = hass.states.get(entity_id).state
        out[entity_id] = round(float(state), 4) if entity_id in NUMBERS else state
    return out


def _taken(hass_storage: dict[str, Any], entry: MockConfigEntry) -> dict[str, Any]:
    return hass_storage[storage_key(entry.entry_id)]["data"]["taken"]


def _handback_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "handed its actuators back" in r.getMessage()]


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    """Set up and check SmartLoad took control of evcc's controls."""
    entry = await _setup_entry(hass, entry)
    assert entry.runtime_data.coordinator.data.acted
    return entry


async def _took_control(
    hass: HomeAssistant, hass_storage: dict[str, Any], entry: MockConfigEntry, before: dict
) -> None:
    """The plan's values are on the controls, and what was there is in the Store."""
    now = _values(hass)
    assert now[MODE] == "now" != before[MODE]
    assert now[COST_LIMIT] != before[COST_LIMIT]
    taken = _taken(hass_storage, entry)
    assert taken[MODE]["found"] == "minpv"
    assert taken[MODE]["key"] == CONF_LOADPOINT_MODE_ENTITY
    assert float(taken[COST_LIMIT]["found"]) == pytest.approx(0.2)
    assert set(taken) == {e for e in ACTUATORS if now[e] != before[e]}


async def test_automation_off_hands_back(
    hass: HomeAssistant, hass_storage: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Switching the automation off gives every control back what SmartLoad found, once."""
    before = await _prepare(hass)
    entry = await setup_entry(hass, make_entry())
    await _took_control(hass, hass_storage, entry, before)
    assert hass.states.get(PROBLEM).state == "off"
    assert sorted(hass.states.get(PROBLEM).attributes["controlled"]) == sorted(
        _taken(hass_storage, entry)
    )

    with caplog.at_level(logging.WARNING):
        await hass.services.async_call(
            "switch", "turn_off", {"entity_id": "switch.smartload_automation"}, blocking=True
        )
        await hass.async_block_till_done()
        assert _values(hass) == before
        assert _taken(hass_storage, entry) == {}
        attrs = hass.states.get(PROBLEM).attributes
        assert attrs["handed_back_reason"] == "automation_off"
        assert attrs["handed_back"][MODE] == "minpv"
        assert attrs["controlled"] == []
        # another plan with the automation off: nothing more to hand back, nothing logged
        await hass.services.async_call(
            "button", "press", {"entity_id": "button.smartload_re_plan_now"}, blocking=True
        )
        await hass.async_block_till_done()
    assert _values(hass) == before
    assert len(_handback_lines(caplog)) == 1

    # on again: SmartLoad takes over anew, recording the values it finds now
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": "switch.smartload_automation"}, blocking=True
    )
    await hass.async_block_till_done()
    await _took_control(hass, hass_storage, entry, before)


async def test_unload_hands_back(hass: HomeAssistant, hass_storage: dict[str, Any]) -> None:
    """Unloading the entry hands back; nothing is written after it."""
    before = await _prepare(hass)
    entry = await setup_entry(hass, make_entry())
    await _took_control(hass, hass_storage, entry, before)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert _values(hass) == before
    assert _taken(hass_storage, entry) == {}


async def test_disable_hands_back(hass: HomeAssistant, hass_storage: dict[str, Any]) -> None:
    """Disabling the entry (it unloads) hands back."""
    before = await _prepare(hass)
    entry = await setup_entry(hass, make_entry())
    await _took_control(hass, hass_storage, entry, before)
    assert await hass.config_entries.async_set_disabled_by(entry.entry_id, ConfigEntryDisabler.USER)
    await hass.async_block_till_done()
    assert _values(hass) == before


async def test_remove_hands_back_and_forgets(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """Deleting the entry hands back and removes its record."""
    before = await _prepare(hass)
    entry = await setup_entry(hass, make_entry())
    await _took_control(hass, hass_storage, entry, before)
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert _values(hass) == before
    assert storage_key(entry.entry_id) not in hass_storage


async def test_shutdown_hands_back(hass: HomeAssistant, hass_storage: dict[str, Any]) -> None:
    """Home Assistant stopping cleanly hands back, and no later cycle takes over again."""
    before = await _prepare(hass)
    entry = await setup_entry(hass, make_entry())
    await _took_control(hass, hass_storage, entry, before)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert _values(hass) == before
    assert _taken(hass_storage, entry) == {}
    attrs = hass.states.get(PROBLEM).attributes
    assert attrs["handed_back_reason"] == "shutdown"
    await entry.runtime_data.coordinator.async_refresh()  # a cycle already under way
    await hass.async_block_till_done()
    assert _values(hass) == before


async def test_no_trusted_plan_for_45_minutes_hands_back(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Stale inputs keep the plan's settings for a while; after 45 min they are handed back."""
    before = await _prepare(hass)
    entry = await setup_entry(hass, make_entry())
    coordinator = entry.runtime_data.coordinator
    await _took_control(hass, hass_storage, entry, before)
    planned = _values(hass)
    assert hass.states.get(LAST_PLAN).state == NOW.isoformat()

    hass.states.async_set(PRICE, "unavailable")
    for minutes in (15, 30):
        freezer.tick(timedelta(minutes=15))
        await coordinator.async_refresh()
        await hass.async_block_till_done()
        assert coordinator.data.status is Status.STALE_INPUTS, minutes
        assert _values(hass) == planned, minutes  # not yet: a short outage keeps the plan
        problem = hass.states.get(PROBLEM)
        assert problem.state == "on"
        assert problem.attributes["kind"] == "stale_inputs"
        assert PRICE in problem.attributes["reason"]
        assert problem.attributes["last_successful_plan"] == NOW.isoformat()
        assert hass.states.get(LAST_PLAN).state == NOW.isoformat()

    with caplog.at_level(logging.WARNING):
        freezer.tick(timedelta(minutes=15))
        await coordinator.async_refresh()
        await hass.async_block_till_done()
        assert _values(hass) == before
        assert hass.states.get(PROBLEM).attributes["handed_back_reason"] == "no_plan"
        freezer.tick(timedelta(minutes=15))
        await coordinator.async_refresh()
        await hass.async_block_till_done()
    assert len(_handback_lines(caplog)) == 1
    assert _taken(hass_storage, entry) == {}
    stored = hass_storage[storage_key(entry.entry_id)]["data"]
    assert stored["last_success"] == NOW.isoformat()


async def test_safe_values_from_the_options(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """A safe value chosen per actuator is what it gets back; the others get what was found."""
    before = await _prepare(hass)
    entry = make_entry()
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry,
        options={
            **entry.options,
            f"{CONF_HANDBACK_PREFIX}{CONF_LOADPOINT_MODE_ENTITY}": "off",
            f"{CONF_HANDBACK_PREFIX}{CONF_SMART_COST_LIMIT_ENTITY}": 0.1,
        },
    )
    await setup_entry(hass, entry)
    await _took_control(hass, hass_storage, entry, before)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    after = _values(hass)
    assert after[MODE] == "off"
    assert after[COST_LIMIT] == pytest.approx(0.1)
    assert after[GRID_LIMIT] == before[GRID_LIMIT]
    assert after[DISCHARGE] == before[DISCHARGE]


def _stored(entry: MockConfigEntry, found: str) -> dict[str, Any]:
    """The Store a run left when it stopped uncleanly while controlling the loadpoint mode."""
    return {
        "version": STORAGE_VERSION,
        "minor_version": 1,
        "key": storage_key(entry.entry_id),
        "data": {
            "taken": {
                MODE: {
                    "key": CONF_LOADPOINT_MODE_ENTITY,
                    "found": found,
                    "at": (NOW - timedelta(hours=2)).isoformat(),
                }
            },
            "last_success": (NOW - timedelta(minutes=20)).isoformat(),
        },
    }


async def test_unclean_restart_plans_before_writing(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """After a crash the first cycle plans and writes; the value found before the crash is kept."""
    # the crash left the loadpoint in "off"; before SmartLoad took over it was "minpv"
    await hass.services.async_call(
        "input_select", "select_option", {"entity_id": "input_select.lp_mode", "option": "off"}
    )
    entry = make_entry()
    hass_storage[storage_key(entry.entry_id)] = _stored(entry, "minpv")
    await setup_entry(hass, entry)
    assert hass.states.get(MODE).state == "now"  # the new plan
    assert _taken(hass_storage, entry)[MODE]["found"] == "minpv"
    assert not entry.runtime_data.coordinator.handback.recovering

    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": "switch.smartload_automation"}, blocking=True
    )
    await hass.async_block_till_done()
    assert hass.states.get(MODE).state == "minpv"


async def test_unclean_restart_without_a_plan_hands_back_at_once(
    hass: HomeAssistant, hass_storage: dict[str, Any], service_calls: list[tuple[str, str, Any]]
) -> None:
    """After a crash, a first cycle that cannot plan hands back at once (no 45-minute wait)."""
    await hass.services.async_call(
        "input_select", "select_option", {"entity_id": "input_select.lp_mode", "option": "off"}
    )
    hass.states.async_set(PRICE, "unavailable")
    entry = make_entry()
    hass_storage[storage_key(entry.entry_id)] = _stored(entry, "minpv")
    entry = await _setup_entry(hass, entry)
    assert entry.runtime_data.coordinator.data.status is Status.STALE_INPUTS
    assert hass.states.get(MODE).state == "minpv"
    assert service_calls == [("select", "select_option", MODE)]  # the hand-back, nothing else
    assert _taken(hass_storage, entry) == {}
    attrs = hass.states.get(PROBLEM).attributes
    assert attrs["handed_back_reason"] == "unclean_restart"
    assert hass.states.get(PROBLEM).state == "on"


async def test_corrupt_store_starts_anew(hass: HomeAssistant, hass_storage: dict[str, Any]) -> None:
    """A damaged record does not stop the entry: it plans and records afresh."""
    before = await _prepare(hass)
    entry = make_entry()
    hass_storage[storage_key(entry.entry_id)] = {
        "version": STORAGE_VERSION,
        "minor_version": 1,
        "key": storage_key(entry.entry_id),
        "data": {"taken": {MODE: "garbage"}, "last_success": 17},
    }
    await setup_entry(hass, entry)
    await _took_control(hass, hass_storage, entry, before)


async def test_options_choose_the_safe_values(hass: HomeAssistant) -> None:
    """The options form offers each configured actuator's safe value and the hand-back time."""
    entry = await setup_entry(hass, make_entry())
    result = await hass.config_entries.options.async_init(entry.entry_id)
    fields = {str(marker.schema): marker for marker in result["data_schema"].schema}
    mode_field = f"{CONF_HANDBACK_PREFIX}{CONF_LOADPOINT_MODE_ENTITY}"
    assert {
        CONF_HANDBACK_MINUTES,
        mode_field,
        f"{CONF_HANDBACK_PREFIX}{CONF_SMART_COST_LIMIT_ENTITY}",
        f"{CONF_HANDBACK_PREFIX}battery_grid_charge_limit_entity",
        f"{CONF_HANDBACK_PREFIX}battery_discharge_control_entity",
    } <= set(fields)
    selector = result["data_schema"].schema[fields[mode_field]]
    assert selector.config["options"] == ["recorded", "off", "pv", "minpv", "now"]
    assert fields[CONF_HANDBACK_MINUTES].description["suggested_value"] == 45

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "horizon_hours": "48",
            "cycle_minutes": 15,
            "automation": True,
            CONF_HANDBACK_MINUTES: 30,
            mode_field: "pv",
            f"{CONF_HANDBACK_PREFIX}{CONF_SMART_COST_LIMIT_ENTITY}": 0.12,
            f"{CONF_HANDBACK_PREFIX}battery_discharge_control_entity": "recorded",
        },
    )
    await hass.async_block_till_done()
    assert entry.options[CONF_HANDBACK_MINUTES] == 30
    assert entry.options[mode_field] == "pv"
    assert entry.options[f"{CONF_HANDBACK_PREFIX}{CONF_SMART_COST_LIMIT_ENTITY}"] == 0.12
    assert f"{CONF_HANDBACK_PREFIX}battery_discharge_control_entity" not in entry.options
    # the entry reloaded with them
    handback = entry.runtime_data.coordinator.handback
    assert handback.timeout == timedelta(minutes=30)
    assert handback.target(handback.taken[MODE]) == "pv"


def test_handback_fields_translated() -> None:
    """Every hand-back field and choice has an en and a de text."""
    for lang in ("en", "de"):
        with open(f"custom_components/smartload/translations/{lang}.json", encoding="utf-8") as f:
            texts = json.load(f)
        init = texts["options"]["step"]["init"]
        for key in (CONF_HANDBACK_MINUTES, *(f"{CONF_HANDBACK_PREFIX}{k}" for k in ACTUATOR_KEYS)):
            assert init["data"].get(key), (lang, key)
            assert init["data_description"].get(key), (lang, key)
        labels = texts["selector"]["handback_value"]["options"]
        for option in ("recorded", "on", "off", "pv", "minpv", "now", "normal", "hold", "charge"):
            assert labels.get(option), (lang, option)


async def test_watchdog_hands_back_when_a_cycle_hangs(
    hass: HomeAssistant, hass_storage: dict[str, Any], freezer: FrozenDateTimeFactory
) -> None:
    """A planner that never returns: no cycle ends, the watchdog hands back after 45 min."""
    before = await _prepare(hass)
    entry = await setup_entry(hass, make_entry())
    await _took_control(hass, hass_storage, entry, before)
    planned = _values(hass)
    release = threading.Event()

    def hanging(_inputs: Any) -> Any:  # the solver hangs (it is released at the end)
        release.wait(60)
        raise RuntimeError("released")

    with patch("custom_components.smartload.coordinator.solve", hanging):
        try:
            freezer.tick(timedelta(minutes=16))  # the 15-min cycle starts and hangs
            async_fire_time_changed(hass)
            await hass.async_block_till_done()
            freezer.tick(timedelta(minutes=28))  # 44 min after the last plan
            async_fire_time_changed(hass)
            await hass.async_block_till_done()
            assert _values(hass) == planned
            freezer.tick(timedelta(minutes=2))  # 46 min
            async_fire_time_changed(hass)
            await hass.async_block_till_done()
            assert _values(hass) == before
            problem = hass.states.get(PROBLEM)
            assert problem.attributes["handed_back_reason"] == "no_plan"
            assert _taken(hass_storage, entry) == {}
        finally:
            release.set()
        await hass.async_block_till_done(wait_background_tasks=True)
        assert _values(hass) == before  # the released cycles failed: nothing written


async def test_reload_of_its_own_keeps_control(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """A car added reloads the entry: no hand-back and re-take (evcc would flip), the new run
    plans first and keeps what the first takeover found."""
    before = await _prepare(hass)
    entry = await setup_entry(hass, make_entry())
    await _took_control(hass, hass_storage, entry, before)
    modes: list[str] = []

    @callback
    def _mode_changed(event: Event[EventStateChangedData]) -> None:
        if (new := event.data["new_state"]) is not None:
            modes.append(new.state)

    unsub = async_track_state_change_event(hass, [MODE], _mode_changed)
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
    unsub()
    assert len(entry.runtime_data.coordinator.vehicles) == 2  # reloaded
    assert "minpv" not in modes  # never handed back in between
    assert hass.states.get(MODE).state == "now"
    handback = entry.runtime_data.coordinator.handback
    assert handback.resumed and not handback.recovering  # planned, then wrote
    assert _taken(hass_storage, entry)[MODE]["found"] == "minpv"

    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": "switch.smartload_automation"}, blocking=True
    )
    await hass.async_block_till_done()
    assert _values(hass) == before
