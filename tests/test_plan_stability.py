"""Plan stability in the real integration: a new plan that saves only cents keeps the applied
decision (and says so); a plug-in, the re-plan button or a zero minimum gain follow the new plan."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.smartload.const import (
    CONF_MIN_CHARGE_BLOCK_MINUTES,
    CONF_REPLAN_PRICE_DELTA_CT,
    CONF_STABILITY_MIN_GAIN_EUR,
)
from custom_components.smartload.planner.model import LoadpointMode
from custom_components.smartload.planner.stability import KEPT, same_actuation

from .conftest import (
    CAR_PLUGGED,
    MODE,
    NOW,
    PRICE,
    make_entry,
    price_attributes,
    setup_entry,
)

pytestmark = pytest.mark.usefixtures("home")

# The car needs ~11 slots before 07:00. First the hour now is the cheapest (29 ct, else 30 ct):
# it charges now. Then the prices move by 1 ct: now 30 ct, 02:00-08:00 29 ct — the new plan
# would wait, saving 11 kW x 15 min x 1 ct (~0.03 EUR) plus the block: less than 0.05 EUR.
CHEAP_NOW = [0.29] + [0.30] * 23
CHEAP_LATER = [0.30, 0.30] + [0.29] * 6 + [0.30] * 16


def set_prices(hass: HomeAssistant, prices: list[float]) -> None:
    hass.states.async_set(PRICE, str(prices[0]), price_attributes(NOW, prices))


async def replan(hass: HomeAssistant, entry: Any) -> None:
    """A cycle now (not through the button, which asks for a fresh decision)."""
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()


async def test_a_tiny_gain_keeps_the_applied_decision(
    hass: HomeAssistant, service_calls: list[tuple[str, str, Any]]
) -> None:
    set_prices(hass, CHEAP_NOW)
    entry = await setup_entry(hass, make_entry(automation=True))
    coordinator = entry.runtime_data.coordinator
    first = coordinator.data.decision
    assert first is not None and first.loadpoint_mode is LoadpointMode.NOW
    assert hass.states.get(MODE).state == "now"

    set_prices(hass, CHEAP_LATER)
    service_calls.clear()
    await replan(hass, entry)
    result = coordinator.data
    outcome = coordinator.stability.outcome
    assert outcome is not None and outcome.kept
    assert outcome.gain_eur is not None and 0.0 <= outcome.gain_eur < 0.05
    assert result.decision is not None and result.decision.why.key == KEPT
    assert result.decision.loadpoint_mode is LoadpointMode.NOW
    assert result.plan is not None and result.plan.why[0].key == KEPT
    assert result.plan.vehicles[0].charge_kw[0] > 1.0  # the plan shown is the kept one
    assert hass.states.get(MODE).state == "now"
    assert service_calls == []  # nothing flips
    action = hass.states.get("sensor.smartload_next_action").state
    assert action.startswith("Kept: changing course would have saved only 0.0")
    diagnostics = coordinator.stability.diagnostics()
    assert diagnostics["kept"] is True and diagnostics["min_gain_eur"] == 0.05


async def test_without_a_minimum_gain_the_new_plan_is_followed(
    hass: HomeAssistant, service_calls: list[tuple[str, str, Any]]
) -> None:
    """The same price move with a minimum gain of 0: the new decision is written."""
    set_prices(hass, CHEAP_NOW)
    entry = make_entry(automation=True)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, CONF_STABILITY_MIN_GAIN_EUR: 0.0}
    )
    await setup_entry(hass, entry)
    first = entry.runtime_data.coordinator.data.decision
    assert first is not None and first.loadpoint_mode is LoadpointMode.NOW
    set_prices(hass, CHEAP_LATER)
    service_calls.clear()
    await replan(hass, entry)
    decision = entry.runtime_data.coordinator.data.decision
    assert decision is not None and decision.why.key != KEPT
    assert not same_actuation(first, decision)
    assert service_calls  # the actuators follow the new plan


async def test_a_plug_in_changes_the_decision(hass: HomeAssistant) -> None:
    """Unplugged: the wallbox is off. Plugged in, charging now gains only cents over waiting
    a slot, but a plug-in is a new situation: the new plan is followed at once."""
    set_prices(hass, CHEAP_NOW)
    hass.states.async_set(CAR_PLUGGED, "off")
    entry = await setup_entry(hass, make_entry(automation=True))
    coordinator = entry.runtime_data.coordinator
    assert coordinator.data.decision is not None
    assert coordinator.data.decision.loadpoint_mode is LoadpointMode.OFF

    hass.states.async_set(CAR_PLUGGED, "on")
    await replan(hass, entry)
    outcome = coordinator.stability.outcome
    assert outcome is not None and not outcome.kept
    assert outcome.reason == "plugged"
    assert coordinator.data.decision.loadpoint_mode is LoadpointMode.NOW
    assert hass.states.get(MODE).state == "now"


async def test_the_replan_button_asks_for_the_new_plan(hass: HomeAssistant) -> None:
    set_prices(hass, CHEAP_NOW)
    entry = await setup_entry(hass, make_entry(automation=True))
    first = entry.runtime_data.coordinator.data.decision
    set_prices(hass, CHEAP_LATER)
    await hass.services.async_call(
        "button", "press", {"entity_id": "button.smartload_re_plan_now"}, blocking=True
    )
    await hass.async_block_till_done()
    outcome = entry.runtime_data.coordinator.stability.outcome
    assert outcome is not None and outcome.reason == "forced"
    decision = entry.runtime_data.coordinator.data.decision
    assert first is not None and decision is not None and decision.why.key != KEPT
    assert not same_actuation(first, decision)  # what a plain cycle would have kept
    # and the next plain cycle compares with what the button applied
    await replan(hass, entry)
    assert entry.runtime_data.coordinator.stability.outcome.reason == "same"


async def test_options_set_the_stability_knobs(hass: HomeAssistant) -> None:
    entry = await setup_entry(hass, make_entry(automation=True))
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "horizon_hours": "48",
            "cycle_minutes": 15,
            "automation": True,
            CONF_STABILITY_MIN_GAIN_EUR: 0.25,
            CONF_MIN_CHARGE_BLOCK_MINUTES: 45,
            CONF_REPLAN_PRICE_DELTA_CT: 5,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options[CONF_STABILITY_MIN_GAIN_EUR] == 0.25
    assert entry.options[CONF_MIN_CHARGE_BLOCK_MINUTES] == 45.0
    stability = entry.runtime_data.coordinator.stability  # the reloaded entry's
    assert stability.settings.min_gain_eur == 0.25
    assert stability.settings.price_revision_eur_per_kwh == pytest.approx(0.05)
    inputs = entry.runtime_data.coordinator.data.inputs
    assert inputs is not None and inputs.settings.min_charge_block_minutes == 45.0
