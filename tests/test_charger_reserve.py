"""A plain charger (switch + current), the battery reserve and failing service calls, on real
stand-in entities."""

from __future__ import annotations

import logging
import math
from types import MappingProxyType

from homeassistant.config_entries import ConfigEntryState, ConfigSubentry
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.smartload.actuator import (
    charger_current_a,
    planned_writes,
)
from custom_components.smartload.const import (
    CONF_BATTERY_MIN_SOC_ENTITY,
    CONF_CHARGER_CURRENT_ENTITY,
    CONF_CHARGER_PHASES,
    CONF_CHARGER_SWITCH_ENTITY,
    DOMAIN,
    SUBENTRY_VEHICLE,
)
from custom_components.smartload.planner.model import BatteryMode, Decision, LoadpointMode, Why

from .conftest import (
    BATTERY_SOC,
    CAR_DATA,
    COST_LIMIT,
    HOUSE,
    NOW,
    PRICE,
    PV,
    make_entry,
    setup_entry,
)

pytestmark = pytest.mark.usefixtures("home")

CHARGER = "input_boolean.charger"
CURRENT = "input_number.charger_current"
RESERVE = "input_number.battery_reserve"
FAILING = "select.failing_loadpoint_mode"
PLAIN = {
    "loadpoint_mode_entity": None,
    "smart_cost_limit_entity": None,
    CONF_CHARGER_SWITCH_ENTITY: CHARGER,
    CONF_CHARGER_CURRENT_ENTITY: CURRENT,
    CONF_CHARGER_PHASES: 3,
}


def _decision(mode: LoadpointMode, kw: float) -> Decision:
    return Decision(
        loadpoint_mode=mode,
        active_vehicle="Model 3" if kw else None,
        vehicle_charge_kw=kw,
        smart_cost_limit_eur_per_kwh=None,
        battery_mode=BatteryMode.NORMAL,
        battery_grid_charge_limit_eur_per_kwh=None,
        battery_discharge_locked=False,
        battery_target_soc_kwh=None,
        why=Why(key="idle"),
    )


async def test_plain_charger_follows_the_plan(hass: HomeAssistant) -> None:
    """Charging now: the charger on at the planned power's current; off again: handed back."""
    entry = await setup_entry(hass, make_entry(**PLAIN))
    result = entry.runtime_data.coordinator.data
    decision = result.decision
    assert result.acted and decision.loadpoint_mode is LoadpointMode.NOW
    assert hass.states.get(CHARGER).state == "on"
    expected = min(16, math.floor(decision.vehicle_charge_kw * 1000 / (3 * 230)))
    assert expected >= 6
    assert float(hass.states.get(CURRENT).state) == expected

    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": "switch.smartload_automation"}, blocking=True
    )
    await hass.async_block_till_done()
    assert hass.states.get(CHARGER).state == "off"
    assert float(hass.states.get(CURRENT).state) == 6


async def test_plain_charger_rules(hass: HomeAssistant) -> None:
    """Current per phase count, rounded down, clamped; off switches off and leaves the current."""
    conf = {**PLAIN, CONF_CHARGER_PHASES: 1}
    assert charger_current_a(3.0, 1) == pytest.approx(13.04, abs=0.01)
    writes, problems = planned_writes(hass, conf, _decision(LoadpointMode.NOW, 3.0))
    assert problems == []
    assert [(w.entity_id, w.service, w.data) for w in writes] == [
        (CURRENT, "set_value", {"value": 13.0}),
        (CHARGER, "turn_on", {}),
    ]
    # 11 kW on one phase would be 47.8 A: the charger's maximum
    writes, _ = planned_writes(hass, conf, _decision(LoadpointMode.PV, 11.0))
    assert writes[0].data == {"value": 16.0}
    # off: the switch only (it is off already: nothing at all)
    writes, _ = planned_writes(hass, conf, _decision(LoadpointMode.OFF, 0.0))
    assert writes == []
    await hass.services.async_call("input_boolean", "turn_on", {"entity_id": CHARGER})
    await hass.services.async_call("input_number", "set_value", {"entity_id": CURRENT, "value": 10})
    await hass.async_block_till_done()
    writes, _ = planned_writes(hass, conf, _decision(LoadpointMode.OFF, 0.0))
    assert [(w.entity_id, w.service) for w in writes] == [(CHARGER, "turn_off")]
    # a charger with a current entity only: off is its minimum current
    writes, _ = planned_writes(
        hass, {CONF_CHARGER_CURRENT_ENTITY: CURRENT}, _decision(LoadpointMode.OFF, 0.0)
    )
    assert [(w.entity_id, w.data) for w in writes] == [(CURRENT, {"value": 6.0})]


async def test_plain_charger_wrong_unit_is_a_problem(hass: HomeAssistant) -> None:
    """A current entity that is not in A is not written, and says why."""
    hass.states.async_set("number.charger_power", "6", {"unit_of_measurement": "kW", "min": 0})
    writes, problems = planned_writes(
        hass,
        {CONF_CHARGER_CURRENT_ENTITY: "number.charger_power"},
        _decision(LoadpointMode.NOW, 7.0),
    )
    assert writes == []
    assert [p.entity_id for p in problems] == ["number.charger_power"]
    assert "unit" in problems[0].error


async def test_battery_reserve_is_the_plans_minimum(hass: HomeAssistant) -> None:
    """The reserve entity gets the dynamic buffer's minimum SoC; handed back when off."""
    entry = await setup_entry(hass, make_entry(**{CONF_BATTERY_MIN_SOC_ENTITY: RESERVE}))
    result = entry.runtime_data.coordinator.data
    assert result.acted and result.battery_buffer is not None
    wanted = math.ceil(max(result.battery_buffer.pct(), 10.0))
    assert wanted != 30
    assert float(hass.states.get(RESERVE).state) == wanted
    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": "switch.smartload_automation"}, blocking=True
    )
    await hass.async_block_till_done()
    assert float(hass.states.get(RESERVE).state) == 30


async def test_battery_reserve_never_below_the_floor(hass: HomeAssistant) -> None:
    """A minimum below 10 % is written as 10 %; a fractional one is rounded up to the step."""
    conf = {CONF_BATTERY_MIN_SOC_ENTITY: RESERVE}
    decision = _decision(LoadpointMode.OFF, 0.0)
    writes, _ = planned_writes(hass, conf, decision, min_soc_pct=4.0)
    assert writes[0].data == {"value": 10.0}
    writes, _ = planned_writes(hass, conf, decision, min_soc_pct=22.3)
    assert writes[0].data == {"value": 23.0}
    writes, _ = planned_writes(hass, conf, decision, min_soc_pct=30.0)
    assert writes == []  # already right
    writes, _ = planned_writes(hass, conf, decision)  # no buffer (no battery): not touched
    assert writes == []


async def test_service_call_raising_is_a_repair(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """evcc's service raising: caught, logged once, a repair; the other actuators still work."""
    calls: list[ServiceCall] = []

    async def _fail(call: ServiceCall) -> None:  # evcc's API does not answer
        calls.append(call)
        raise HomeAssistantError("evcc did not answer")

    hass.services.async_register("evcc_test", "set_mode", _fail)  # the stand-in calls it
    assert hass.states.get(FAILING) is not None

    with caplog.at_level(logging.WARNING):
        entry = await setup_entry(hass, make_entry(loadpoint_mode_entity=FAILING))
        coordinator = entry.runtime_data.coordinator
        assert calls  # the call was made, and it raised
        assert [p.entity_id for p in coordinator.data.actuator_problems] == [FAILING]
        assert float(hass.states.get(COST_LIMIT).state) != 0.0  # the others are written
        await hass.services.async_call(
            "button", "press", {"entity_id": "button.smartload_re_plan_now"}, blocking=True
        )
        await hass.async_block_till_done()
        assert len(calls) == 2
    logged = [
        r for r in caplog.records if FAILING in r.getMessage() and "could not set" in r.getMessage()
    ]
    assert len(logged) == 1
    assert not [r for r in caplog.records if r.exc_info]
    issues = [i for (d, _), i in ir.async_get(hass).issues.items() if d == DOMAIN]
    assert [(i.translation_key, i.translation_placeholders["entity_id"]) for i in issues] == [
        ("actuator_failed", FAILING)
    ]
    assert "evcc did not answer" in issues[0].translation_placeholders["error"]
    problem = hass.states.get("binary_sensor.smartload_problem")
    assert problem.state == "on"
    assert problem.attributes["kind"] == "actuator"

    # its write never went through: it still shows what was found, so handing back needs no call
    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": "switch.smartload_automation"}, blocking=True
    )
    await hass.async_block_till_done()
    attrs = hass.states.get("binary_sensor.smartload_problem").attributes
    assert attrs["handed_back"][FAILING] == "pv"
    assert attrs["handed_back_failed"] == {}
    assert len(calls) == 2
    assert float(hass.states.get(COST_LIMIT).state) == 0.0


async def test_actuators_form_takes_a_plain_charger_and_a_reserve(hass: HomeAssistant) -> None:
    """Domain and unit are checked in the form; what it stores runs the real integration."""
    hass.states.async_set("number.charger_power", "6", {"unit_of_measurement": "kW"})
    hass.states.async_set("number.charger_current_no_unit", "6")
    hass.states.async_set("number.battery_reserve_kwh", "2", {"unit_of_measurement": "kWh"})
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            "name": "Plain home",
            "price_entity": PRICE,
            "feed_in_mode": "fixed",
            "feed_in_price": 0.08,
            "consumption_entity": HOUSE,
            "pv_forecast_entity": PV,
            "grid_import_limit_kw": 17,
            "wallbox_max_kw": 11,
        },
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            "battery_soc_entity": BATTERY_SOC,
            "battery_capacity_kwh": 10,
            "battery_max_charge_kw": 5,
            "battery_max_discharge_kw": 5,
            "battery_min_soc": 10,
            "battery_max_soc": 100,
            "battery_efficiency": 0.9,
        },
    )
    assert result["step_id"] == "actuators"
    for wrong, errors in (
        (
            {CONF_CHARGER_CURRENT_ENTITY: "number.charger_power"},
            {CONF_CHARGER_CURRENT_ENTITY: "unsupported_unit"},
        ),
        (
            {CONF_CHARGER_CURRENT_ENTITY: "number.charger_current_no_unit"},
            {CONF_CHARGER_CURRENT_ENTITY: "unsupported_unit"},
        ),
        ({CONF_CHARGER_SWITCH_ENTITY: HOUSE}, {CONF_CHARGER_SWITCH_ENTITY: "wrong_domain"}),
        (
            {CONF_BATTERY_MIN_SOC_ENTITY: "number.battery_reserve_kwh"},
            {CONF_BATTERY_MIN_SOC_ENTITY: "unsupported_unit"},
        ),
        (
            {CONF_CHARGER_SWITCH_ENTITY: "switch.gone"},
            {CONF_CHARGER_SWITCH_ENTITY: "entity_not_found"},
        ),
    ):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], wrong)
        assert result["step_id"] == "actuators"
        assert result["errors"] == errors, wrong

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_CHARGER_SWITCH_ENTITY: CHARGER,
            CONF_CHARGER_CURRENT_ENTITY: CURRENT,
            CONF_CHARGER_PHASES: "1",
            CONF_BATTERY_MIN_SOC_ENTITY: RESERVE,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    data = result["data"]
    assert data[CONF_CHARGER_SWITCH_ENTITY] == CHARGER
    assert data[CONF_CHARGER_CURRENT_ENTITY] == CURRENT
    assert data[CONF_CHARGER_PHASES] == 1
    assert data[CONF_BATTERY_MIN_SOC_ENTITY] == RESERVE
    entry = result["result"]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.coordinator.data.acted
    assert float(hass.states.get(RESERVE).state) != 30  # the plan's minimum
    assert hass.states.get(CHARGER).state == "off"  # no car yet: nothing to charge

    hass.config_entries.async_add_subentry(  # a car arrives: the entry reloads with it
        entry,
        ConfigSubentry(
            data=MappingProxyType(CAR_DATA),
            subentry_type=SUBENTRY_VEHICLE,
            title="Model 3",
            unique_id=None,
        ),
    )
    await hass.async_block_till_done()
    decision = entry.runtime_data.coordinator.data.decision
    assert decision.loadpoint_mode is not LoadpointMode.OFF
    assert hass.states.get(CHARGER).state == "on"
    one_phase = min(16, math.floor(decision.vehicle_charge_kw * 1000 / 230))
    assert float(hass.states.get(CURRENT).state) == one_phase


async def test_diagnostics_show_the_takeover(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    """Diagnostics carry what SmartLoad found on each control and the heartbeat."""
    entry = await setup_entry(hass, make_entry(**PLAIN))
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    handback = diagnostics["handback"]
    assert handback["taken"][CHARGER]["found"] == "off"
    assert handback["taken"][CURRENT]["found"] == "6.0"
    assert handback["last_success"] == NOW.isoformat()
    assert handback["timeout_minutes"] == 45
