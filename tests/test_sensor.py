"""The entities' states, units, translations and the re-plan button (real Home Assistant)."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest

from custom_components.smartload.const import DOMAIN
from custom_components.smartload.planner.explain import render

from .conftest import CAR_SOC, PRICE, make_entry, setup_entry

pytestmark = pytest.mark.usefixtures("home")


async def test_home_sensors(hass: HomeAssistant) -> None:
    """Status, next action, cost and the battery's price limit read the plan of this cycle."""
    entry = await setup_entry(hass, make_entry())
    result = entry.runtime_data.coordinator.data
    plan, decision = result.plan, result.decision
    assert plan is not None and decision is not None

    status = hass.states.get("sensor.smartload_plan_status")
    assert status.state == "optimal"
    assert status.attributes["options"] == [
        "optimal",
        "shortfall",
        "fallback",
        "stale_inputs",
        "error",
    ]
    assert status.attributes["reason"] == ""
    assert status.attributes["friendly_name"] == "SmartLoad Plan status"

    action = hass.states.get("sensor.smartload_next_action")
    assert action.state == render(decision.why, "en", dt_util.get_default_time_zone())[:255]
    assert action.attributes["key"] == decision.why.key
    assert action.attributes["loadpoint_mode"] == "now"
    assert action.attributes["active_vehicle"] == "Model 3"

    cost = hass.states.get("sensor.smartload_planned_cost")
    assert cost.attributes["unit_of_measurement"] == "EUR"
    assert cost.attributes["device_class"] == "monetary"
    assert float(cost.state) == pytest.approx(plan.cost_eur, abs=1e-3)

    load = hass.states.get("sensor.smartload_load_forecast")  # no recorder: today's value
    assert load.attributes["unit_of_measurement"] == "kW"
    assert load.attributes["device_class"] == "power"
    assert float(load.state) == pytest.approx(0.5)  # the house sensor's 500 W
    assert load.attributes["model"] == "flat"
    assert load.attributes["history_days"] == 0
    assert load.attributes["mae_profile_kw"] is None
    assert load.attributes["friendly_name"] == "SmartLoad Load forecast"

    limit = hass.states.get("sensor.smartload_battery_price_limit")
    assert limit.attributes["unit_of_measurement"] == "EUR/kWh"
    expected = plan.battery_price_limit_eur_per_kwh
    assert limit.state == ("unknown" if expected is None else str(round(expected, 4)))


async def test_car_sensors(hass: HomeAssistant) -> None:
    """The car's price limit, expected SoC at departure (%) and shortfall (kWh)."""
    entry = await setup_entry(hass, make_entry())
    car_plan = entry.runtime_data.coordinator.data.plan.vehicle("Model 3")
    assert car_plan is not None and car_plan.soc_at_departure_kwh is not None

    soc = hass.states.get("sensor.model_3_expected_soc_at_departure")
    assert soc.attributes["unit_of_measurement"] == "%"
    assert float(soc.state) == pytest.approx(100 * car_plan.soc_at_departure_kwh / 60, abs=0.1)
    assert soc.attributes["friendly_name"] == "Model 3 Expected SoC at departure"
    shortfall = hass.states.get("sensor.model_3_shortfall")
    assert shortfall.attributes["unit_of_measurement"] == "kWh"
    assert float(shortfall.state) == pytest.approx(car_plan.shortfall_kwh, abs=1e-3)
    price_limit = hass.states.get("sensor.model_3_price_limit")
    assert float(price_limit.state) == pytest.approx(car_plan.price_limit_eur_per_kwh, abs=1e-4)


async def test_shortfall_when_target_cannot_be_met(hass: HomeAssistant) -> None:
    """An empty 60 kWh car leaving in 7 h on a 3.7 kW wallbox cannot reach 80 % (48 kWh)."""
    hass.states.async_set(CAR_SOC, "0", {"unit_of_measurement": "%"})
    await setup_entry(hass, make_entry(wallbox_max_kw=3.7))
    assert hass.states.get("sensor.smartload_plan_status").state == "shortfall"
    assert float(hass.states.get("sensor.model_3_shortfall").state) > 1.0
    assert float(hass.states.get("sensor.model_3_expected_soc_at_departure").state) < 80.0


async def test_german_next_action(hass: HomeAssistant) -> None:
    """The next action speaks Home Assistant's language."""
    hass.config.language = "de"
    entry = await setup_entry(hass, make_entry())
    decision = entry.runtime_data.coordinator.data.decision
    german = render(decision.why, "de", dt_util.get_default_time_zone())
    assert german != render(decision.why, "en", dt_util.get_default_time_zone())
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{entry.entry_id}_next_action"
    )
    assert entity_id == "sensor.smartload_nachste_aktion"  # named in German too
    assert hass.states.get(entity_id).state == german[:255]


async def test_replan_button(hass: HomeAssistant) -> None:
    """The button re-plans from the current states now; with no plan it says why."""
    entry = await setup_entry(hass, make_entry(automation=False))
    coordinator = entry.runtime_data.coordinator
    before = coordinator.data
    hass.states.async_set(CAR_SOC, "75", {"unit_of_measurement": "%"})
    await hass.services.async_call(
        "button", "press", {"entity_id": "button.smartload_re_plan_now"}, blocking=True
    )
    assert coordinator.data is not before
    assert coordinator.data.inputs.vehicles[0].soc_kwh == pytest.approx(45.0)

    hass.states.async_set(PRICE, "unavailable")
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            "button", "press", {"entity_id": "button.smartload_re_plan_now"}, blocking=True
        )
    assert err.value.translation_key == "replan_stale_inputs"
    assert PRICE in err.value.translation_placeholders["reason"]
    assert hass.states.get("sensor.smartload_plan_status").state == "stale_inputs"
