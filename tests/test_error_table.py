"""The seasonal plan-error table in Home Assistant: observed each cycle, kept in a Store."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.smartload.coordinator import SmartLoadCoordinator
from custom_components.smartload.diagnostics import async_get_config_entry_diagnostics
from custom_components.smartload.error_table import SAVE_DELAY_S, storage_key
from custom_components.smartload.planner.errors import ErrorTable, Sample, to_dict, update

from .conftest import HOUSE, NOW, PV, make_entry, setup_entry

pytestmark = pytest.mark.usefixtures("home")

# 22:00 UTC on Monday 11 May 2026 is 00:00 Berlin on Tuesday 12 May: spring, night, weekday
CELL = "spring/night/weekday"


async def _next_slot(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, coordinator: SmartLoadCoordinator, k: int
) -> None:
    """Cycle at the start of slot ``k`` (after the first)."""
    freezer.move_to(NOW + k * timedelta(minutes=15) + timedelta(seconds=5))
    await coordinator.async_refresh()
    await hass.async_block_till_done()


async def test_two_cycles_write_a_cell_that_survives_a_reload(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, hass_storage: dict[str, Any]
) -> None:
    """The first slot's forecast (0.5 kW) against the realised 0.8 kW; stored; reloaded."""
    entry = await setup_entry(hass, make_entry(automation=False))
    coordinator = entry.runtime_data.coordinator
    first = coordinator.data.inputs
    assert first is not None and first.load_kw[0] == pytest.approx(0.5)
    assert coordinator.errors.table.n_samples == 0  # nothing to compare with yet

    hass.states.async_set(HOUSE, "800", {"unit_of_measurement": "W"})
    await _next_slot(hass, freezer, coordinator, 1)
    cell = coordinator.errors.table.cells[CELL]
    assert cell.consumption_kw.n == 1
    assert cell.consumption_kw.mean_error == pytest.approx(0.3)
    assert cell.consumption_kw.mean_abs_error == pytest.approx(0.3)
    # the PV forecast entity is a kW sensor reading 0 at night, as forecast
    assert cell.pv_kw.n == 1 and cell.pv_kw.mean_error == pytest.approx(0.0)
    # 0.3 kW more than planned for a quarter hour at the slot's 0.05 €/kWh
    price = float(first.import_price_eur_per_kwh[0])
    assert cell.cost_eur.mean_error == pytest.approx(0.3 * price * 0.25)
    assert coordinator.errors.table.n_samples == 1

    # a re-plan within the same slot counts nothing more
    await coordinator.async_refresh()
    assert coordinator.errors.table.n_samples == 1

    diag = await async_get_config_entry_diagnostics(hass, entry)
    assert diag["plan_errors"]["samples"] == 1
    assert diag["plan_errors"]["cells"][CELL]["consumption_kw"]["n"] == 1
    assert set(diag["plan_errors"]["cells"]) == {CELL}

    # saved with a delay
    key = storage_key(entry.entry_id)
    assert key not in hass_storage
    freezer.tick(timedelta(seconds=SAVE_DELAY_S + 1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass_storage[key]["version"] == 1
    assert hass_storage[key]["data"][CELL]["consumption_kw"]["n"] == 1

    # one more slot, then a reload before the delayed save: flushed on unload, loaded again
    hass.states.async_set(HOUSE, "400", {"unit_of_measurement": "W"})
    await _next_slot(hass, freezer, coordinator, 2)
    assert coordinator.errors.table.cells[CELL].consumption_kw.n == 2
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert hass_storage[key]["data"][CELL]["consumption_kw"]["n"] == 2
    reloaded = entry.runtime_data.coordinator
    assert reloaded is not coordinator
    cell = reloaded.errors.table.cells[CELL]
    assert cell.consumption_kw.n == 2
    # slot 1 forecast 0.8 kW (the flat reading then), realised 0.4: errors +0.3 and -0.4
    assert cell.consumption_kw.mean_error == pytest.approx((0.3 - 0.4) / 2)


async def test_stored_table_is_loaded_and_pv_skipped_without_power_sensor(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, hass_storage: dict[str, Any]
) -> None:
    """A table stored before set-up is the starting point; an energy PV entity is not observed."""
    entry = make_entry(automation=False)
    entry.add_to_hass(hass)
    when = datetime(2026, 7, 4, 13, 0)  # a summer afternoon (another cell)
    stored = update(ErrorTable(), when, Sample(consumption_kw=1.0), Sample(consumption_kw=1.2))
    key = storage_key(entry.entry_id)
    hass_storage[key] = {"version": 1, "minor_version": 1, "key": key, "data": to_dict(stored)}
    state = hass.states.get(PV)
    assert state is not None
    hass.states.async_set(PV, "12.5", {**state.attributes, "unit_of_measurement": "kWh"})

    await setup_entry(hass, entry)
    coordinator = entry.runtime_data.coordinator
    assert coordinator.errors.table == stored
    await _next_slot(hass, freezer, coordinator, 1)
    cell = coordinator.errors.table.cells[CELL]
    assert cell.consumption_kw.n == 1
    assert cell.pv_kw.n == 0  # not a power sensor: PV is skipped
    assert coordinator.errors.table.n_samples == 2


async def test_damaged_store_starts_empty(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """Unreadable cells are dropped; the entry sets up."""
    entry = make_entry(automation=False)
    entry.add_to_hass(hass)
    key = storage_key(entry.entry_id)
    hass_storage[key] = {"version": 1, "minor_version": 1, "key": key, "data": ["not", "a", "map"]}
    await setup_entry(hass, entry)
    assert entry.runtime_data.coordinator.errors.table == ErrorTable()
