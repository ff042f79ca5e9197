"""Hand-back in script/develop's demo home: turn the automation off, evcc's stand-ins (the demo's
input helpers) return to what they were.

The demo package that script/develop writes is set up in the test harness's Home Assistant (its
real input helpers and template entities), with SmartLoad configured as the demo seeds it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import json
from pathlib import Path
from types import MappingProxyType
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import async_get_platforms
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartload.const import DOMAIN, SUBENTRY_VEHICLE

from .conftest import setup_entry
from .test_develop_config import _package, _setup_demo, dc

# the helpers behind the demo's evcc-like controls: what a user sees move
HELPERS = (
    "input_select.demo_loadpoint_mode",
    "input_number.demo_smart_cost_limit",
    "input_number.demo_battery_grid_charge_limit",
    "input_boolean.demo_battery_discharge_locked",
)


@pytest.fixture(autouse=True)
async def remove_template_entities(hass: HomeAssistant) -> AsyncIterator[None]:
    """Remove the template entities after a test: their now() templates keep a minute timer."""
    yield
    for platform in async_get_platforms(hass, "template"):
        await platform.async_reset()
    await hass.async_block_till_done()


def demo_entry() -> MockConfigEntry:
    """SmartLoad as the demo home seeds it: the demo's settings and its two cars."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=dc.MAIN_DATA["name"],
        data=dict(dc.MAIN_DATA),
        options=dict(dc.OPTIONS),
        subentries_data=[
            ConfigSubentryData(
                data=MappingProxyType(dict(car)),
                subentry_type=SUBENTRY_VEHICLE,
                title=car["name"],
                unique_id=car["soc_entity"],
            )
            for car in dc.CARS
        ],
    )


def _helpers(hass: HomeAssistant) -> dict[str, str]:
    return {entity_id: hass.states.get(entity_id).state for entity_id in HELPERS}


@pytest.mark.parametrize("now_utc", ["2026-11-29T21:20:00+00:00", "2026-11-30T01:05:00+00:00"])
async def test_demo_home_automation_off_restores_the_stand_ins(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, tmp_path: Path, now_utc: str
) -> None:
    """The demo home as script/develop starts it: SmartLoad takes over, then lets go."""
    freezer.move_to(now_utc)
    config = tmp_path / "config"
    dc.generate(config, "127.0.0.1", 8123, entry="flow")
    await _setup_demo(hass, _package(config))
    before = _helpers(hass)

    entry = demo_entry()
    await setup_entry(hass, entry)
    result = entry.runtime_data.coordinator.data
    assert result.acted and result.writes, result.reason
    taken = entry.runtime_data.coordinator.handback.taken
    assert taken
    assert _helpers(hass) != before

    registry = er.async_get(hass)
    switch = registry.async_get_entity_id("switch", DOMAIN, f"{entry.entry_id}_automation")
    problem = registry.async_get_entity_id("binary_sensor", DOMAIN, f"{entry.entry_id}_problem")
    assert switch is not None and problem is not None
    await hass.services.async_call("switch", "turn_off", {"entity_id": switch}, blocking=True)
    await hass.async_block_till_done()
    after: dict[str, Any] = _helpers(hass)
    for entity_id in HELPERS:
        if entity_id.startswith("input_number"):
            assert float(after[entity_id]) == pytest.approx(float(before[entity_id]))
        else:
            assert after[entity_id] == before[entity_id]
    assert hass.states.get(problem).attributes["handed_back_reason"] == "automation_off"


async def test_demo_dashboard_shows_only_entities_that_exist(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, tmp_path: Path
) -> None:
    """The overview dashboard script/develop writes: every card's entity is in the demo home."""
    freezer.move_to("2026-11-29T21:20:00+00:00")
    config = tmp_path / "config"
    dc.generate(config, "127.0.0.1", 8123, entry="storage")
    await _setup_demo(hass, _package(config))
    entry = demo_entry()
    await setup_entry(hass, entry)
    index = json.loads((config / ".storage" / "lovelace_dashboards").read_text())
    assert [i["url_path"] for i in index["data"]["items"]] == ["smartload-demo"]
    stored = json.loads((config / ".storage" / "lovelace.smartload_demo").read_text())
    cards = stored["data"]["config"]["views"][0]["cards"]
    assert {c["type"] for c in cards} == {"entities", "calendar", "history-graph"}
    shown = [e if isinstance(e, str) else e["entity"] for c in cards for e in c["entities"]]
    assert len(shown) > 20
    assert [e for e in shown if hass.states.get(e) is None] == []
    assert not dc.seed_dashboard(config)  # a dashboard the user has is kept
