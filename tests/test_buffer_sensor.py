"""The dynamic battery buffer in Home Assistant: the plan's minimum SoC and its sensor."""

from __future__ import annotations

import logging
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import numpy as np
import pytest
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.smartload.const import CONF_BATTERY_MIN_SOC, CONF_BATTERY_SOC_ENTITY

from .conftest import PV, make_entry, pv_attributes, setup_entry

pytestmark = pytest.mark.usefixtures("home")

BUFFER = "sensor.smartload_battery_buffer"


def solcast(low: float, high: float) -> dict[str, Any]:
    """The test home's Solcast-like forecast with p10/p90 at these factors of the estimate."""
    attrs = pv_attributes()
    rows = [
        {
            **row,
            "pv_estimate10": round(row["pv_estimate"] * low, 3),
            "pv_estimate90": round(row["pv_estimate"] * high, 3),
        }
        for row in attrs["detailedForecast"]
    ]
    return {**attrs, "detailedForecast": rows}


async def test_narrow_spread_lowers_the_minimum(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """Narrow p10/p90 at midnight (PV refills in the morning): the minimum is lowered."""
    hass.states.async_set(PV, "0.0", solcast(0.9, 1.1))
    caplog.set_level(logging.INFO, logger="custom_components.smartload")
    entry = await setup_entry(hass, make_entry(**{CONF_BATTERY_MIN_SOC: 30.0}))
    result = entry.runtime_data.coordinator.data
    assert result.status == "optimal"
    prices = result.inputs.import_price_eur_per_kwh
    x = min(1.0, (np.percentile(prices, 90) - np.percentile(prices, 10)) / 0.20)
    expected_kwh = 3.0 - (3.0 - 1.0) * (0.5 + 0.5 * x)  # morning: the full weight
    assert 1.0 <= expected_kwh < 3.0
    assert result.inputs.battery.min_soc_kwh == pytest.approx(expected_kwh)

    state = hass.states.get(BUFFER)
    assert float(state.state) == pytest.approx(10 * expected_kwh, abs=0.05)
    assert state.attributes["unit_of_measurement"] == "%"
    assert state.attributes["friendly_name"] == "SmartLoad Battery buffer"
    assert state.attributes["configured_min_pct"] == 30.0
    assert state.attributes["floor_pct"] == 10.0
    assert state.attributes["confidence"] == "high"
    keys = [r["key"] for r in state.attributes["reasons"]]
    assert keys == [
        "pv_quantile_spread",
        "confidence_high",
        "price_spread",
        "morning_refill",
        "lowered",
    ]
    assert state.attributes["reasons"][0]["spread_pct"] == pytest.approx(20.0, abs=0.5)
    shown = f"{float(state.state):g}"
    assert f"minimum lowered from 30 % to {shown} %" in state.attributes["reason_text"]
    # the plan honours the lowered minimum, never the floor's other side
    assert result.plan.battery_soc_kwh.min() >= expected_kwh - 1e-6
    logged = f"battery minimum is {state.state} %"
    assert len([r for r in caplog.records if logged in r.getMessage()]) == 1

    # the next cycle, the same decision: not logged again
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert len([r for r in caplog.records if logged in r.getMessage()]) == 1

    # the spread widens (MEDIUM): the configured minimum again, logged once
    hass.states.async_set(PV, "0.0", solcast(0.75, 1.25))
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    result = entry.runtime_data.coordinator.data
    assert result.inputs.battery.min_soc_kwh == pytest.approx(3.0)
    assert float(hass.states.get(BUFFER).state) == pytest.approx(30.0)
    assert hass.states.get(BUFFER).attributes["confidence"] == "medium"
    assert any("configured one again" in r.getMessage() for r in caplog.records)


async def test_wide_spread_keeps_at_least_the_configured_minimum(hass: HomeAssistant) -> None:
    """Wide p10/p90: low confidence; the minimum is never below the configured one."""
    hass.states.async_set(PV, "0.0", solcast(0.3, 1.9))
    entry = await setup_entry(hass, make_entry(**{CONF_BATTERY_MIN_SOC: 30.0}))
    result = entry.runtime_data.coordinator.data
    state = hass.states.get(BUFFER)
    assert state.attributes["confidence"] == "low"
    assert float(state.state) >= 30.0
    assert result.inputs.battery.min_soc_kwh == pytest.approx(float(state.state) / 10, abs=0.01)


async def test_without_quantiles_the_configured_minimum(hass: HomeAssistant) -> None:
    """A forecast without p10/p90 states no confidence: medium, the configured minimum."""
    entry = await setup_entry(hass, make_entry(**{CONF_BATTERY_MIN_SOC: 30.0}))
    result = entry.runtime_data.coordinator.data
    state = hass.states.get(BUFFER)
    assert float(state.state) == pytest.approx(30.0)
    assert state.attributes["confidence"] == "medium"
    assert state.attributes["reasons"][0]["key"] == "pv_no_confidence"
    assert result.inputs.battery.min_soc_kwh == pytest.approx(3.0)


async def test_german_reasons(hass: HomeAssistant) -> None:
    """The reasons' text follows Home Assistant's language."""
    hass.config.language = "de"
    hass.states.async_set(PV, "0.0", solcast(0.9, 1.1))
    await setup_entry(hass, make_entry(**{CONF_BATTERY_MIN_SOC: 30.0}))
    state = hass.states.get("sensor.smartload_speicherpuffer")  # the German name
    assert state is not None
    text = state.attributes["reason_text"]
    assert "Minimum von 30 % auf " in text and "gesenkt" in text


async def test_no_battery_no_sensor(hass: HomeAssistant) -> None:
    """Without a battery there is no buffer sensor."""
    await setup_entry(hass, make_entry(**{CONF_BATTERY_SOC_ENTITY: None}))
    assert hass.states.get(BUFFER) is None


async def test_diagnostics(hass: HomeAssistant, hass_client: ClientSessionGenerator) -> None:
    """Diagnostics show the buffer as the sensor does."""
    hass.states.async_set(PV, "0.0", solcast(0.9, 1.1))
    assert await async_setup_component(hass, "diagnostics", {})
    entry = await setup_entry(hass, make_entry(**{CONF_BATTERY_MIN_SOC: 30.0}))
    diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    state = hass.states.get(BUFFER)
    assert diag["battery_buffer"]["min_pct"] == pytest.approx(float(state.state))
    assert diag["battery_buffer"]["confidence"] == "high"
    assert diag["battery_buffer"]["configured_min_pct"] == 30.0
    assert diag["inputs"]["battery"]["min_soc_kwh"] == pytest.approx(
        float(state.state) / 10, abs=0.01
    )
