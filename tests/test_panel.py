"""The plan panel, its authenticated HTTP view and the plan's read actions (real Home Assistant)."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus
from pathlib import Path
import re

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import frontend
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.util import dt as dt_util
import probatio as vol
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
import yaml

from custom_components.smartload.const import DOMAIN
from custom_components.smartload.panel import PANEL_JS, plotly_js_path
from custom_components.smartload.planner.explain import render

from .conftest import BATTERY_SOC, NOW, PRICE, make_entry, setup_entry

pytestmark = pytest.mark.usefixtures("home")

API = "/api/smartload/plan"


async def test_panel_is_registered_once_with_its_module(hass: HomeAssistant) -> None:
    """A custom panel "smartload" in the sidebar, loading the JS module served by SmartLoad."""
    await setup_entry(hass, make_entry())
    second = make_entry()
    await setup_entry(hass, second)  # a second home: still one panel
    panel = hass.data[frontend.DATA_PANELS]["smartload"]
    assert panel.component_name == "custom"
    assert panel.sidebar_title == "SmartLoad"
    assert panel.sidebar_icon == "mdi:chart-timeline-variant"
    assert panel.require_admin is False
    custom = panel.config["_panel_custom"]
    assert custom["name"] == "smartload-panel"
    assert custom["module_url"].startswith("/smartload_static/smartload-panel.js?v=")
    assert panel.config["plotly_url"].startswith("/smartload_static/plotly.min.js?v=")
    assert panel.config["api"] == "smartload/plan"


async def test_panel_files_are_served(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    """The module and plotly.js (the plotly package's own copy: no CDN) come from HA itself."""
    await setup_entry(hass, make_entry())
    client = await hass_client()
    custom = hass.data[frontend.DATA_PANELS]["smartload"].config
    module = await client.get(custom["_panel_custom"]["module_url"])
    assert module.status == HTTPStatus.OK
    text = await module.text()
    assert text == PANEL_JS.read_text(encoding="utf-8")
    assert 'customElements.define("smartload-panel"' in text
    assert "callApi" in text  # the data comes through the user's authenticated connection
    assert "http://" not in text and "https://" not in text  # nothing from the internet

    plotly = await client.get(custom["plotly_url"])
    assert plotly.status == HTTPStatus.OK
    body = await plotly.read()
    bundled = plotly_js_path()
    assert bundled is not None and body == bundled.read_bytes()
    assert b"plotly.js v" in body[:400]


async def test_plan_view_needs_a_token(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator
) -> None:
    await setup_entry(hass, make_entry())
    client = await hass_client_no_auth()
    response = await client.get(API)
    assert response.status == HTTPStatus.UNAUTHORIZED
    response = await client.get(API, headers={"Authorization": "Bearer not-a-token"})
    assert response.status == HTTPStatus.UNAUTHORIZED


async def test_plan_view_returns_the_plan(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    """200 with a token: every slot of the 48-h plan with prices, SoCs and the why."""
    entry = await setup_entry(hass, make_entry())
    result = entry.runtime_data.coordinator.data
    plan, inputs = result.plan, result.inputs
    client = await hass_client()
    response = await client.get(API)
    assert response.status == HTTPStatus.OK
    doc = await response.json()
    assert doc["status"] == "optimal"
    assert doc["entry_id"] == entry.entry_id
    assert doc["entries"] == [{"entry_id": entry.entry_id, "title": "SmartLoad"}]
    assert doc["entity_id"] == "sensor.smartload_plan"
    assert doc["time_zone"] == "Europe/Berlin"
    assert doc["start"] == NOW.isoformat()
    assert len(doc["slots"]) == plan.n_slots == 192
    tz = dt_util.get_default_time_zone()
    first = doc["slots"][0]
    assert first["start"] == NOW.isoformat()
    assert first["import_price"] == 0.05
    assert first["why"]["text"] == render(plan.why[0], "en", tz)
    assert first["battery"]["soc_pct"] == pytest.approx(
        100 * plan.battery_soc_kwh[0] / inputs.battery.capacity_kwh, abs=0.05
    )
    assert first["vehicles"]["Model 3"]["charge_kw"] == pytest.approx(
        plan.vehicle("Model 3").charge_kw[0], abs=1e-3
    )
    assert doc["battery"]["soc_pct"] == 50.0
    assert doc["vehicles"][0]["target_soc_pct"] == 80.0
    # 07:00 in Berlin is 05:00 UTC
    assert doc["vehicles"][0]["departure"] == (NOW + timedelta(hours=7)).isoformat()
    assert doc["now"]["why"]["text"] == result.next_action
    assert doc["past"][0]["start"] == NOW.isoformat()
    assert doc["past"][0]["battery_soc_pct"] == 50.0

    german = await (await client.get(API, params={"lang": "de-DE"})).json()
    assert german["language"] == "de"
    assert german["slots"][0]["why"]["text"] == render(plan.why[0], "de", tz)
    assert german["slots"][0]["why"]["text"] != first["why"]["text"]

    six = await (await client.get(API, params={"hours": "6"})).json()
    assert [s["start"] for s in six["slots"]] == [s["start"] for s in doc["slots"][:24]]


async def test_plan_view_rejects_bad_queries(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    await setup_entry(hass, make_entry())
    client = await hass_client()
    for hours in ("abc", "0", "-3", "nan", "1000"):
        response = await client.get(API, params={"hours": hours})
        assert response.status == HTTPStatus.BAD_REQUEST, hours
    response = await client.get(API, params={"entry_id": "nope"})
    assert response.status == HTTPStatus.NOT_FOUND


async def test_no_home_loaded_is_not_found(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    entry = await setup_entry(hass, make_entry())
    await hass.config_entries.async_unload(entry.entry_id)
    client = await hass_client()
    response = await client.get(API)
    assert response.status == HTTPStatus.NOT_FOUND


async def test_the_export_is_built_once_per_plan_and_keeps_the_past(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Cached until the next cycle; each cycle adds the slot it started to the past."""
    entry = await setup_entry(hass, make_entry())
    coordinator = entry.runtime_data.coordinator
    timeline = coordinator.timeline
    first = await timeline.async_document("en")
    assert await timeline.async_document("en") is first
    assert await timeline.async_document("de") is not first
    planned_soc = first["slots"][0]["battery"]["soc_pct"]

    # the next slot: the battery reports what it really did
    hass.states.async_set(BATTERY_SOC, "47", {"unit_of_measurement": "%"})
    freezer.tick(timedelta(minutes=15, seconds=6))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert coordinator.data.inputs.start == NOW + timedelta(minutes=15)

    second = await timeline.async_document("en")
    assert second is not first
    assert second["start"] == (NOW + timedelta(minutes=15)).isoformat()
    assert [p["start"] for p in second["past"]] == [
        NOW.isoformat(),
        (NOW + timedelta(minutes=15)).isoformat(),
    ]
    latest = second["past"][1]
    assert latest["battery_soc_pct"] == 47.0
    assert latest["planned_battery_soc_pct"] == planned_soc


# -- actions ------------------------------------------------------------------------------------


async def test_get_plan_action(hass: HomeAssistant) -> None:
    """The same document as the view; start/end select the slots (naive: local time)."""
    entry = await setup_entry(hass, make_entry())
    full = await hass.services.async_call(
        DOMAIN, "get_plan", {}, blocking=True, return_response=True
    )
    assert full == await entry.runtime_data.coordinator.timeline.async_document("en")
    assert len(full["slots"]) == 192

    # 01:00 to 02:30 in Berlin: 23:00 to 00:30 UTC, six slots
    part = await hass.services.async_call(
        DOMAIN,
        "get_plan",
        {
            "config_entry_id": entry.entry_id,
            "start": "2026-05-12 01:00:00",
            "end": "2026-05-12 02:30:00",
            "language": "de",
        },
        blocking=True,
        return_response=True,
    )
    assert [s["start"] for s in part["slots"]] == [
        (NOW + timedelta(hours=1, minutes=15 * k)).isoformat() for k in range(6)
    ]
    assert part["language"] == "de"


async def test_get_plan_validates_its_inputs(hass: HomeAssistant) -> None:
    await setup_entry(hass, make_entry())
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "get_plan",
            {"start": "2026-05-12 03:00:00", "end": "2026-05-12 02:00:00"},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "invalid_time_range"
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "get_plan",
            {"config_entry_id": "nope"},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "entry_not_loaded"
    with pytest.raises(ServiceValidationError):  # a read action needs return_response
        await hass.services.async_call(DOMAIN, "get_plan", {}, blocking=True)


async def test_explain_now_and_at_a_time(hass: HomeAssistant) -> None:
    entry = await setup_entry(hass, make_entry())
    plan = entry.runtime_data.coordinator.data.plan
    tz = dt_util.get_default_time_zone()
    now = await hass.services.async_call(DOMAIN, "explain", {}, blocking=True, return_response=True)
    assert now["start"] == NOW.isoformat()
    assert now["why"]["key"] == plan.why[0].key
    assert now["why"]["text"] == render(plan.why[0], "en", tz)
    assert now["status"] == "optimal"

    # 03:20 local (01:20 UTC) lies in slot 13 (01:15 UTC)
    later = await hass.services.async_call(
        DOMAIN,
        "explain",
        {"time": "2026-05-12T03:20:00+02:00", "language": "de"},
        blocking=True,
        return_response=True,
    )
    assert later["start"] == (NOW + timedelta(minutes=195)).isoformat()
    assert later["why"]["text"] == render(plan.why[13], "de", tz)
    assert later["battery"]["mode"] == plan.battery_mode[13].value

    same = await hass.services.async_call(
        DOMAIN, "explain", {"time": "NOW"}, blocking=True, return_response=True
    )
    assert same["start"] == now["start"]


async def test_explain_outside_the_plan_says_so(hass: HomeAssistant) -> None:
    await setup_entry(hass, make_entry())
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "explain",
            {"time": "2026-05-20 12:00:00"},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "time_outside_plan"
    assert err.value.translation_placeholders["start"] == "2026-05-12T00:00+02:00"
    with pytest.raises(vol.Invalid):  # neither "now" nor a time: the schema refuses it
        await hass.services.async_call(
            DOMAIN, "explain", {"time": "soon"}, blocking=True, return_response=True
        )


async def test_replan_action(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    entry = await setup_entry(hass, make_entry())
    coordinator = entry.runtime_data.coordinator
    freezer.move_to(NOW + timedelta(minutes=3))
    response = await hass.services.async_call(
        DOMAIN, "replan", {}, blocking=True, return_response=True
    )
    assert coordinator.data.updated == NOW + timedelta(minutes=3)
    assert response["status"] == "optimal"
    assert response["updated"] == (NOW + timedelta(minutes=3)).isoformat()
    assert response["next_action"] == coordinator.data.next_action
    assert response["acted"] is True
    # without response data too
    assert await hass.services.async_call(DOMAIN, "replan", {}, blocking=True) is None


async def test_without_a_plan_the_actions_say_why(hass: HomeAssistant) -> None:
    """Stale inputs: replan, get_plan and explain raise with the reason, the view says so."""
    await setup_entry(hass, make_entry())
    hass.states.async_set(PRICE, "unavailable")
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(DOMAIN, "replan", {}, blocking=True, return_response=True)
    assert err.value.translation_key == "replan_stale_inputs"
    assert PRICE in err.value.translation_placeholders["reason"]
    for action in ("get_plan", "explain"):
        with pytest.raises(HomeAssistantError) as err:
            await hass.services.async_call(DOMAIN, action, {}, blocking=True, return_response=True)
        assert err.value.translation_key == "replan_stale_inputs"

    state = hass.states.get("sensor.smartload_plan")
    assert state.state == "unknown"
    assert state.attributes["status"] == "stale_inputs"
    assert "times" not in state.attributes


async def test_view_without_a_plan_keeps_the_past(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    entry = await setup_entry(hass, make_entry())
    hass.states.async_set(PRICE, "unavailable")
    await entry.runtime_data.coordinator.async_refresh()
    client = await hass_client()
    doc = await (await client.get(API)).json()
    assert doc["status"] == "stale_inputs"
    assert PRICE in doc["message"]
    assert doc["slots"] == []
    assert [p["start"] for p in doc["past"]] == [NOW.isoformat()]


# -- the plan sensor for apexcharts-card -------------------------------------------------------


async def test_plan_sensor_carries_the_series(hass: HomeAssistant) -> None:
    entry = await setup_entry(hass, make_entry())
    result = entry.runtime_data.coordinator.data
    state = hass.states.get("sensor.smartload_plan")
    assert state.state == NOW.isoformat()
    assert state.attributes["device_class"] == "timestamp"
    assert state.attributes["friendly_name"] == "SmartLoad Plan"
    attrs = state.attributes
    assert attrs["status"] == "optimal"
    assert attrs["slot_minutes"] == 15
    n = result.plan.n_slots
    assert attrs["times"][0] == NOW.isoformat() and len(attrs["times"]) == n
    for key in ("import_price", "export_price", "pv_kw", "load_kw", "battery_soc"):
        assert len(attrs[key]) == n, key
    assert attrs["battery_soc"][0] == 50.0
    car = attrs["cars"]["model_3"]
    assert car["name"] == "Model 3"
    assert car["power_kw"][0] == pytest.approx(
        result.plan.vehicle("Model 3").charge_kw[0], abs=1e-3
    )
    assert len(car["soc"]) == n and car["soc"][0] == 40.0


async def test_readme_apexcharts_card_reads_existing_attributes(hass: HomeAssistant) -> None:
    """The README's ready-to-paste card refers only to attributes the plan sensor has."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(type: custom:apexcharts-card\n.*?)```", readme, re.S)
    assert len(blocks) == 1
    card = yaml.safe_load(blocks[0])
    await setup_entry(hass, make_entry())
    attrs = hass.states.get("sensor.smartload_plan").attributes
    car = next(iter(attrs["cars"].values()))
    used: set[str] = set()
    for series in card["series"]:
        assert series["entity"] == "sensor.smartload_plan"
        code = series["data_generator"]
        assert "a.times.map(" in code and "new Date(t).getTime()" in code
        for name in re.findall(r"\ba\.(\w+)\[i\]", code):
            assert name in attrs and len(attrs[name]) == len(attrs["times"]), name
            used.add(name)
        for field in re.findall(r"\ba\.cars\.\w+\.(\w+)\[i\]", code):
            assert field in car and len(car[field]) == len(attrs["times"]), field
            used.add(f"cars.{field}")
    assert used == {"import_price", "battery_soc", "cars.power_kw"}
