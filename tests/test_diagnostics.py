"""Config entry diagnostics."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from .conftest import MODE, PRICE, make_entry, setup_entry

pytestmark = pytest.mark.usefixtures("home")


async def test_diagnostics(hass: HomeAssistant, hass_client: ClientSessionGenerator) -> None:
    """Settings, cars, the inputs and plan summaries, what was written, the last error."""
    assert await async_setup_component(hass, "diagnostics", {})
    entry = await setup_entry(hass, make_entry())
    diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    assert diag["entry"]["data"]["price_entity"] == PRICE
    assert diag["automation"] is True
    assert [v["title"] for v in diag["vehicles"]] == ["Model 3"]
    assert diag["cycle"]["status"] == "optimal"
    assert diag["inputs"]["n_slots"] == 192  # the 48 h horizon
    assert diag["inputs"]["price_estimated_slots"] == 96  # the unpublished second day
    assert diag["inputs"]["import_price_eur_per_kwh"]["min"] == pytest.approx(0.05)
    plan = entry.runtime_data.coordinator.data.plan
    assert diag["plan"]["cost_eur"] == pytest.approx(round(plan.cost_eur, 4))
    assert diag["plan"]["vehicles"][0]["name"] == "Model 3"
    assert diag["decision"]["loadpoint_mode"] == "now"
    assert diag["cars"]["tracks"]["Model 3"]["soc_pct"] == 40.0
    assert diag["cars"]["estimates"]["Model 3"]["stale"] is False
    assert diag["cars"]["decision"]["now"] == diag["cars"]["decision"]["queue"][0]
    assert any(MODE in line for line in diag["cycle"]["writes"])
    assert any(MODE in line for line in diag["recent_writes"])
    assert diag["last_error"] is None
    # no recorder here: no history, so today's flat value (see test_history.py for the learned)
    assert diag["load_forecast"]["entity_id"] == "sensor.house_power"
    assert diag["load_forecast"]["model"] is None
    assert diag["load_forecast"]["used"] == "flat"
    assert diag["load_forecast"]["history_days"] == 0


async def test_diagnostics_with_stale_inputs(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    """With stale inputs the problems are listed and there is no plan."""
    assert await async_setup_component(hass, "diagnostics", {})
    hass.states.async_set(PRICE, "unavailable")
    entry = await setup_entry(hass, make_entry())
    diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diag["cycle"]["status"] == "stale_inputs"
    assert diag["cycle"]["input_problems"] == [
        {
            "kind": "input_unavailable",
            "entity_id": PRICE,
            "state": "unavailable",
            "placeholders": [],  # more for the repair's text (e.g. since when): none here
        }
    ]
    assert diag["plan"] is None and diag["inputs"] is None and diag["decision"] is None


async def test_diagnostics_redact_what_locates_a_car_everywhere(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    """A car's presence tracker (where it is) is redacted in the settings and anywhere else."""
    assert await async_setup_component(hass, "diagnostics", {})
    hass.states.async_set("device_tracker.model_3", "home", {"latitude": 52.5, "longitude": 13.4})
    entry = make_entry()
    entry.add_to_hass(hass)
    (sub,) = entry.subentries.values()
    hass.config_entries.async_update_subentry(
        entry, sub, data={**sub.data, "presence_entity": "device_tracker.model_3"}
    )
    await setup_entry(hass, entry)
    diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    (car,) = diag["vehicles"]
    assert car["data"]["presence_entity"] == "**REDACTED**"
    assert "device_tracker.model_3" not in str(diag)
    assert "52.5" not in str(diag)
