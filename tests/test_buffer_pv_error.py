"""The battery buffer's PV confidence from the forecast's own recent error (real HA cycles).

The PV forecast has no p10/p90; the PV power entity reports what the panels make. After a day of
15-min slots the recent relative error decides the confidence.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartload.const import (
    CONF_BATTERY_MIN_SOC,
    CONF_HORIZON_HOURS,
    CONF_PV_POWER_ENTITY,
)
from custom_components.smartload.diagnostics import async_get_config_entry_diagnostics

from .conftest import NOW, PRICE, PV, make_entry, price_attributes, pv_attributes, setup_entry

pytestmark = pytest.mark.usefixtures("home")

BUFFER = "sensor.smartload_battery_buffer"
PV_POWER = "sensor.pv_power"


def forecast_kw(t: datetime) -> float:
    """The test home's PV forecast (conftest.pv_attributes) for the half hour holding t."""
    half = t.replace(minute=30 * (t.minute // 30), second=0, microsecond=0)
    return pv_attributes(half)["detailedForecast"][0]["pv_estimate"]


async def setup_home(hass: HomeAssistant, **data: Any) -> MockConfigEntry:
    """The test home, a 30 % configured minimum, a 24-h horizon (fewer LP variables)."""
    hass.states.async_set(
        PV_POWER, str(round(1000 * forecast_kw(NOW))), {"unit_of_measurement": "W"}
    )
    entry = make_entry(**{CONF_BATTERY_MIN_SOC: 30.0, **data})
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, options={**entry.options, CONF_HORIZON_HOURS: 24})
    return await setup_entry(hass, entry)


async def test_an_accurate_forecast_lowers_the_minimum(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Realised PV close to the forecast: after a day, HIGH confidence, the minimum lowered."""
    entry = await setup_home(hass, **{CONF_PV_POWER_ENTITY: PV_POWER})
    await run_cycles_from(hass, freezer, entry, 1, 60, factor=1.0)
    state = hass.states.get(BUFFER)  # less than a day: no error stated yet
    assert state.attributes["confidence"] == "medium"
    assert state.attributes["pv_recent_error_pct"] is None
    assert float(state.state) == pytest.approx(30.0)

    await run_cycles_from(hass, freezer, entry, 61, 98, factor=1.0)
    state = hass.states.get(BUFFER)
    error = state.attributes["pv_recent_error_pct"]
    assert error is not None and error <= 15.0
    assert state.attributes["confidence"] == "high"
    assert state.attributes["reasons"][0] == {"key": "pv_recent_error", "error_pct": error}
    result = entry.runtime_data.coordinator.data
    assert result.status == "optimal"
    assert float(state.state) < 30.0
    assert float(state.state) >= 10.0
    assert result.inputs.battery.min_soc_kwh == pytest.approx(float(state.state) / 10, abs=0.01)
    assert "recent error" in state.attributes["reason_text"]

    # a day later the test client's token has expired: the diagnostics handler directly
    diag = await async_get_config_entry_diagnostics(hass, entry)
    assert diag["pv_forecast_error"]["slots"] >= 96
    assert diag["pv_forecast_error"]["relative_error"] == pytest.approx(error / 100, abs=0.001)
    assert diag["battery_buffer"]["pv_recent_error_pct"] == error


async def run_cycles_from(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    first: int,
    last: int,
    *,
    factor: float,
) -> None:
    """Cycles `first` .. `last` (slot numbers after NOW)."""
    coordinator = entry.runtime_data.coordinator
    for i in range(first, last + 1):
        t = NOW + i * timedelta(minutes=15) + timedelta(seconds=5)
        freezer.move_to(t)
        hour = t.replace(minute=0, second=0, microsecond=0)
        half = t.replace(minute=30 * (t.minute // 30), second=0, microsecond=0)
        hass.states.async_set(PRICE, "0.05", price_attributes(hour))
        hass.states.async_set(PV, "0.0", pv_attributes(half))
        watts = round(1000 * factor * forecast_kw(t))
        hass.states.async_set(PV_POWER, str(watts), {"unit_of_measurement": "W"})
        await coordinator.async_refresh()
        await hass.async_block_till_done()


def stored_window(first: int, last: int, factor: float) -> dict[str, Any]:
    """A PV error window as the Store holds it: slots `first` .. `last` before NOW."""
    slots = [NOW - i * timedelta(minutes=15) for i in range(last, first - 1, -1)]
    return {
        "slot_minutes": 15,
        "samples": [[t.isoformat(), forecast_kw(t), factor * forecast_kw(t)] for t in slots],
    }


async def setup_with_stored_window(
    hass: HomeAssistant, hass_storage: dict[str, Any], window: Any
) -> MockConfigEntry:
    """The test home with a PV power entity and a stored PV error window (as after a restart)."""
    hass.states.async_set(
        PV_POWER, str(round(1000 * forecast_kw(NOW))), {"unit_of_measurement": "W"}
    )
    entry = make_entry(**{CONF_BATTERY_MIN_SOC: 30.0, CONF_PV_POWER_ENTITY: PV_POWER})
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, options={**entry.options, CONF_HORIZON_HOURS: 24})
    hass_storage[f"smartload.pv_error.{entry.entry_id}"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"smartload.pv_error.{entry.entry_id}",
        "data": window,
    }
    return await setup_entry(hass, entry)


async def test_a_wrong_forecast_lowers_confidence_from_the_stored_window(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """A restart with a stored day of realised PV at a third of the forecast: LOW confidence
    from the first cycle, never below the configured 30 %."""
    entry = await setup_with_stored_window(hass, hass_storage, stored_window(1, 100, 1 / 3))
    assert len(entry.runtime_data.coordinator.pv_error.samples) == 100
    state = hass.states.get(BUFFER)
    assert state.attributes["confidence"] == "low"
    assert state.attributes["pv_recent_error_pct"] > 35.0
    assert float(state.state) >= 30.0


async def test_an_old_or_damaged_window_is_not_used(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """Slots older than the 7-day window are dropped; rows that cannot be read are skipped."""
    window = stored_window(7 * 96, 7 * 96 + 120, 1 / 3)
    window["samples"] += [["not a time", 1, 1], ["2024-01-01T00:00:00", 1, 1], [None]]
    entry = await setup_with_stored_window(hass, hass_storage, window)
    assert len(entry.runtime_data.coordinator.pv_error.samples) == 0
    assert hass.states.get(BUFFER).attributes["confidence"] == "medium"


async def test_the_window_survives_a_reload(
    hass: HomeAssistant, hass_storage: dict[str, Any], freezer: FrozenDateTimeFactory
) -> None:
    """Cycles add slots; unloading writes them; the next setup starts from them."""
    entry = await setup_with_stored_window(hass, hass_storage, stored_window(1, 10, 1.0))
    await run_cycles_from(hass, freezer, entry, 1, 3, factor=1.0)
    samples = list(entry.runtime_data.coordinator.pv_error.samples)
    assert len(samples) == 13  # 10 stored, and the slots of the setup cycle and cycles 1, 2
    assert await hass.config_entries.async_unload(entry.entry_id)
    stored = hass_storage[f"smartload.pv_error.{entry.entry_id}"]["data"]
    assert len(stored["samples"]) == 13
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert list(entry.runtime_data.coordinator.pv_error.samples) == samples


async def test_without_pv_power_medium_as_before(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """No PV power entity: no error is tracked, the confidence stays MEDIUM."""
    entry = await setup_home(hass)
    await run_cycles_from(hass, freezer, entry, 1, 4, factor=1.0)
    state = hass.states.get(BUFFER)
    assert state.attributes["confidence"] == "medium"
    assert state.attributes["reasons"][0]["key"] == "pv_no_confidence"
    assert state.attributes["pv_recent_error_pct"] is None
    assert float(state.state) == pytest.approx(30.0)
    assert len(entry.runtime_data.coordinator.pv_error.samples) == 0
