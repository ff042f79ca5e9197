"""Acting on the decision: real service calls on real template/input entities, idempotent."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import pytest

from custom_components.smartload.actuator import async_apply, planned_writes
from custom_components.smartload.const import (
    CONF_BATTERY_DISCHARGE_CONTROL_ENTITY,
    CONF_BATTERY_GRID_CHARGE_LIMIT_ENTITY,
    CONF_LOADPOINT_MODE_ENTITY,
    CONF_SMART_COST_LIMIT_ENTITY,
    DOMAIN,
)
from custom_components.smartload.planner.model import BatteryMode, Decision, LoadpointMode, Why

from .conftest import COST_LIMIT, DISCHARGE, GRID_LIMIT, MODE, make_entry, setup_entry

pytestmark = pytest.mark.usefixtures("home")


async def test_automation_on_writes_the_decision(
    hass: HomeAssistant, service_calls: list[tuple[str, str, Any]]
) -> None:
    """The current decision lands in evcc's controls (and, through them, in the helpers)."""
    entry = await setup_entry(hass, make_entry(automation=True))
    result = entry.runtime_data.coordinator.data
    decision = result.decision
    assert decision is not None and result.acted

    # the night is cheap for three hours and the car must reach 80 % by 07:00: charge now
    assert decision.loadpoint_mode is LoadpointMode.NOW
    assert hass.states.get(MODE).state == "now"
    assert hass.states.get("input_select.lp_mode").state == "now"
    limit = decision.smart_cost_limit_eur_per_kwh
    assert limit is not None and limit >= 0.05
    assert float(hass.states.get(COST_LIMIT).state) == pytest.approx(limit, abs=1e-3)
    assert float(hass.states.get("input_number.cost_limit").state) == pytest.approx(limit, abs=1e-3)

    expected_grid = decision.battery_grid_charge_limit_eur_per_kwh
    if expected_grid is None:  # no grid charging: the limit goes to the control's minimum
        expected_grid = -0.5
    assert float(hass.states.get(GRID_LIMIT).state) == pytest.approx(expected_grid, abs=1e-3)
    wanted_lock = "on" if decision.battery_discharge_locked else "off"
    assert hass.states.get(DISCHARGE).state == wanted_lock

    written = {entity for _, _, entity in service_calls}
    assert MODE in written and COST_LIMIT in written
    assert hass.states.get("sensor.smartload_next_action").attributes["applied"] is True


async def test_idempotent_no_second_write(
    hass: HomeAssistant, service_calls: list[tuple[str, str, Any]]
) -> None:
    """A second cycle with the same decision writes nothing."""
    entry = await setup_entry(hass, make_entry(automation=True))
    assert service_calls
    service_calls.clear()
    await hass.services.async_call(
        "button", "press", {"entity_id": "button.smartload_re_plan_now"}, blocking=True
    )
    await hass.async_block_till_done()
    assert entry.runtime_data.coordinator.data.acted
    assert service_calls == []


async def test_automation_off_writes_nothing(
    hass: HomeAssistant, service_calls: list[tuple[str, str, Any]]
) -> None:
    """Off: plan and advise only; switching it on applies the current decision at once."""
    entry = await setup_entry(hass, make_entry(automation=False))
    coordinator = entry.runtime_data.coordinator
    assert coordinator.data.decision is not None and not coordinator.data.acted
    assert hass.states.get("sensor.smartload_next_action").state not in ("unknown", "")
    assert service_calls == []
    assert hass.states.get(MODE).state == "pv"  # untouched

    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": "switch.smartload_automation"}, blocking=True
    )
    await hass.async_block_till_done()
    assert coordinator.data.acted
    assert hass.states.get(MODE).state == "now"
    assert (("select", "select_option", MODE)) in service_calls


async def test_actuator_failure_is_a_repair_not_a_crash(
    hass: HomeAssistant, service_calls: list[tuple[str, str, Any]]
) -> None:
    """An unavailable control is skipped and reported; the others are still written."""
    hass.states.async_set(COST_LIMIT, "unavailable")
    entry = await setup_entry(hass, make_entry(automation=True))
    result = entry.runtime_data.coordinator.data
    assert [p.entity_id for p in result.actuator_problems] == [COST_LIMIT]
    assert hass.states.get(MODE).state == "now"
    assert COST_LIMIT not in {entity for _, _, entity in service_calls}
    issues = [i for (d, _), i in ir.async_get(hass).issues.items() if d == DOMAIN]
    assert [(i.translation_key, i.translation_placeholders["entity_id"]) for i in issues] == [
        ("actuator_failed", COST_LIMIT)
    ]


async def test_cent_unit_and_plain_helpers(hass: HomeAssistant) -> None:
    """A price limit in ct/kWh on an input_number helper is converted, clamped and stepped."""
    # input_number.grid_limit_ct: 0..40 ct/kWh in steps of 0.5 (set up with the stand-ins)
    conf = {CONF_BATTERY_GRID_CHARGE_LIMIT_ENTITY: "input_number.grid_limit_ct"}

    def decision(limit: float | None) -> Decision:
        return Decision(
            loadpoint_mode=LoadpointMode.OFF,
            active_vehicle=None,
            vehicle_charge_kw=0.0,
            smart_cost_limit_eur_per_kwh=None,
            battery_mode=BatteryMode.CHARGE,
            battery_grid_charge_limit_eur_per_kwh=limit,
            battery_discharge_locked=True,
            battery_target_soc_kwh=8.0,
            why=Why(key="idle"),
        )

    (write,), problems = planned_writes(hass, conf, decision(0.1234))
    assert problems == []
    done, failed = await async_apply(hass, [write])
    assert done == [write] and failed == []
    assert float(hass.states.get("input_number.grid_limit_ct").state) == 12.5
    assert (write.domain, write.service, write.data) == (
        "input_number",
        "set_value",
        {"value": 12.5},
    )
    (write,), _ = planned_writes(hass, conf, decision(0.90))  # above the maximum: clamped
    assert write.data == {"value": 40.0}
    writes, _ = planned_writes(hass, conf, decision(0.1251))  # 12.51 ct steps to 12.5: no write
    assert writes == []
    (write,), _ = planned_writes(hass, conf, decision(None))  # no grid charging: the minimum
    assert write.data == {"value": 0.0}


def _decision(mode: BatteryMode) -> Decision:
    return Decision(
        loadpoint_mode=LoadpointMode.PV,
        active_vehicle="Model 3",
        vehicle_charge_kw=3.0,
        smart_cost_limit_eur_per_kwh=None,
        battery_mode=mode,
        battery_grid_charge_limit_eur_per_kwh=None,
        battery_discharge_locked=mode is not BatteryMode.NORMAL,
        battery_target_soc_kwh=None,
        why=Why(key="idle"),
    )


async def test_battery_mode_select(hass: HomeAssistant) -> None:
    """A select as battery control takes the plan's mode, matched regardless of case."""
    conf = {CONF_BATTERY_DISCHARGE_CONTROL_ENTITY: "input_select.battery_mode"}
    (write,), problems = planned_writes(hass, conf, _decision(BatteryMode.HOLD))
    assert problems == []
    assert write.data == {"option": "Hold"}
    await async_apply(hass, [write])
    assert hass.states.get("input_select.battery_mode").state == "Hold"
    writes, _ = planned_writes(hass, conf, _decision(BatteryMode.HOLD))
    assert writes == []  # already there


async def test_unsupported_targets_are_problems(hass: HomeAssistant) -> None:
    """No such option, the wrong kind of entity, a missing one: reported, not written."""
    conf = {
        CONF_LOADPOINT_MODE_ENTITY: "input_select.battery_mode",  # has no "pv"
        CONF_SMART_COST_LIMIT_ENTITY: "sensor.not_a_number_entity",
        CONF_BATTERY_DISCHARGE_CONTROL_ENTITY: "switch.does_not_exist",
    }
    writes, problems = planned_writes(hass, conf, _decision(BatteryMode.NORMAL))
    assert writes == []
    assert {p.entity_id: p.error for p in problems} == {
        "input_select.battery_mode": "option 'pv' is not offered",
        "sensor.not_a_number_entity": "sensor entities are not supported here",
        "switch.does_not_exist": "entity not found",
    }
