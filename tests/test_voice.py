"""Voice and the README's automations (real Home Assistant: Assist's built-in sentences, the
automations as the README prints them)."""

from __future__ import annotations

from pathlib import Path
import re
from typing import Any
from unittest.mock import patch

from homeassistant.components import conversation
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.core import Context, HomeAssistant, ServiceCall
from homeassistant.setup import async_setup_component
import pytest
import yaml

from custom_components.smartload.planner import lp

from .conftest import make_entry, setup_entry

pytestmark = pytest.mark.usefixtures("home")

SWITCH = "switch.smartload_automation"
STATUS = "sensor.smartload_plan_status"
README = Path(__file__).parent.parent / "README.md"


def readme_automations() -> dict[str, dict[str, Any]]:
    """Every automation in the README's YAML blocks that is a list of automations, by alias."""
    found: dict[str, dict[str, Any]] = {}
    for block in re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), re.S):
        data = yaml.safe_load(block)
        if isinstance(data, list):
            found.update({a["alias"]: a for a in data if isinstance(a, dict) and "alias" in a})
    return found


async def assist(hass: HomeAssistant, text: str, language: str = "en") -> Any:
    """Say something to Assist's built-in agent."""
    result = await conversation.async_converse(hass, text, None, Context(), language=language)
    await hass.async_block_till_done()
    return result.response


@pytest.fixture
async def voice(hass: HomeAssistant, home: None) -> None:
    """Assist with SmartLoad's switch and status exposed (as the README tells)."""
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    assert await async_setup_component(hass, "intent", {})
    await setup_entry(hass, make_entry())
    for entity_id in (SWITCH, STATUS):
        async_expose_entity(hass, conversation.DOMAIN, entity_id, True)


@pytest.mark.usefixtures("voice")
async def test_turn_the_automation_off_and_on_by_voice(hass: HomeAssistant) -> None:
    """ "turn off SmartLoad automation" is Assist's own HassTurnOff on the switch."""
    assert hass.states.get(SWITCH).state == "on"
    response = await assist(hass, "turn off SmartLoad automation")
    assert response.response_type.value == "action_done", response.speech
    assert hass.states.get(SWITCH).state == "off"
    response = await assist(hass, "turn on SmartLoad automation")
    assert response.response_type.value == "action_done", response.speech
    assert hass.states.get(SWITCH).state == "on"


@pytest.mark.usefixtures("voice")
async def test_german_voice(hass: HomeAssistant) -> None:
    """German Home Assistant: the switch is "SmartLoad Automatik"."""
    hass.config.language = "de"
    await hass.config_entries.async_reload(
        hass.config_entries.async_entries("smartload")[0].entry_id
    )
    await hass.async_block_till_done()
    assert hass.states.get(SWITCH).attributes["friendly_name"] == "SmartLoad Automatik"
    response = await assist(hass, "schalte SmartLoad Automatik aus", language="de")
    assert response.response_type.value == "action_done", response.speech
    assert hass.states.get(SWITCH).state == "off"


@pytest.mark.usefixtures("voice")
async def test_ask_for_the_plan_status(hass: HomeAssistant) -> None:
    """ "what is the SmartLoad plan status" answers with the state."""
    assert hass.states.get(STATUS).state == "optimal", hass.states.get(STATUS).attributes["reason"]
    response = await assist(hass, "what is the SmartLoad plan status")
    assert response.response_type.value == "query_answer", response.speech
    assert "optimal" in response.speech["plain"]["speech"].lower()


async def test_readme_fallback_notification(hass: HomeAssistant) -> None:
    """The README's "SmartLoad fell back" automation notifies with the reason."""
    sent: list[ServiceCall] = []

    async def notify(call: ServiceCall) -> None:  # the phone: the outside world
        sent.append(call)

    hass.services.async_register("notify", "notify", notify)
    automation = readme_automations()["SmartLoad fell back"]
    assert await async_setup_component(hass, "automation", {"automation": [automation]})
    entry = await setup_entry(hass, make_entry())
    assert sent == []  # optimal: nothing to tell

    def broken_solver(*_: Any) -> Any:
        raise RuntimeError("HiGHS crashed")

    with patch.dict(lp.SOLVERS, {name: broken_solver for name in lp.SOLVERS}):
        await entry.runtime_data.coordinator.async_refresh()
        await hass.async_block_till_done()
    assert hass.states.get(STATUS).state == "fallback"
    assert len(sent) == 1
    assert sent[0].data["title"] == "SmartLoad plans with its fallback"
    assert "HiGHS crashed" in sent[0].data["message"]


async def test_readme_automations_are_valid(hass: HomeAssistant) -> None:
    """The README's other automations load (their SmartLoad actions are called by name)."""
    automations = readme_automations()
    wanted = {
        "Voice: boost a car",
        "Voice: set a car's departure",
        "Long trip: boost the Kia when its window starts",
    }
    assert wanted <= set(automations)
    assert await async_setup_component(
        hass, "automation", {"automation": [automations[a] for a in sorted(wanted)]}
    )
    await hass.async_block_till_done()
    states = [s for s in hass.states.async_all("automation")]
    assert len(states) == 3
    assert all(s.state == "on" for s in states), [(s.entity_id, s.state) for s in states]
    await hass.services.async_call("automation", "turn_off", {"entity_id": "all"}, blocking=True)


async def test_readme_voice_boost_and_departure(hass: HomeAssistant, home: None) -> None:
    """ "boost Model 3" and "set Model 3 departure to 6:30" through the README's sentence
    triggers: the drivers' actions boost the car and move its departure."""
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    automations = readme_automations()
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": [
                automations["Voice: boost a car"],
                automations["Voice: set a car's departure"],
            ]
        },
    )
    entry = await setup_entry(hass, make_entry())
    coordinator = entry.runtime_data.coordinator
    car = coordinator.vehicles[0]
    assert coordinator.car_states.get(car.subentry_id).boost_until is None

    response = await assist(hass, "boost Model 3")
    assert response.speech["plain"]["speech"] == "Boosting Model 3"
    assert coordinator.car_states.get(car.subentry_id).boost_until is not None

    response = await assist(hass, "set Model 3 departure to 6:30")
    assert response.speech["plain"]["speech"] == "Model 3 leaves at 6:30"
    assert hass.states.get("time.model_3_departure").state == "06:30:00"
    await hass.services.async_call("automation", "turn_off", {"entity_id": "all"}, blocking=True)
