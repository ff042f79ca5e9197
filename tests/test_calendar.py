"""The plan calendar (real Home Assistant): windows from the plan, the state, re-plans, triggers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Event, HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import numpy as np
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.smartload.planner.explain import render
from custom_components.smartload.planner.model import BatteryMode, Plan

from .conftest import NOW, PRICE, make_entry, setup_entry

pytestmark = pytest.mark.usefixtures("home")

CALENDAR = "calendar.smartload_plan"
Q = timedelta(minutes=15)


async def get_events(hass: HomeAssistant, hours: float = 48) -> list[dict[str, Any]]:
    """The calendar's events from now on, through the calendar.get_events action."""
    response = await hass.services.async_call(
        "calendar",
        "get_events",
        {"start_date_time": NOW, "end_date_time": NOW + timedelta(hours=hours)},
        target={"entity_id": CALENDAR},
        blocking=True,
        return_response=True,
    )
    return response[CALENDAR]["events"]


def slots_of(events: list[dict[str, Any]], summary: str, start: datetime) -> list[int]:
    """The slots (from ``start``) that the events with this summary cover, in order."""
    covered: list[int] = []
    for event in events:
        if event["summary"] == summary:
            a = (dt_util.parse_datetime(event["start"]) - start) // Q
            b = (dt_util.parse_datetime(event["end"]) - start) // Q
            covered.extend(range(a, b))
    return covered


def runs(slots: list[int]) -> int:
    """How many runs of consecutive slots."""
    return sum(1 for i, s in enumerate(slots) if i == 0 or slots[i - 1] != s - 1)


async def test_events_are_the_plans_windows(hass: HomeAssistant) -> None:
    """Each car charging slot and each grid-charging / holding slot lies in one merged event."""
    entry = await setup_entry(hass, make_entry())
    plan: Plan = entry.runtime_data.coordinator.data.plan
    events = await get_events(hass)

    car = np.flatnonzero(plan.vehicles[0].charge_kw >= 0.05).tolist()
    charge = [t for t, m in enumerate(plan.battery_mode) if m is BatteryMode.CHARGE]
    hold = [t for t, m in enumerate(plan.battery_mode) if m is BatteryMode.HOLD]
    assert car and charge and hold  # the cheap night: the car and the battery both act
    assert slots_of(events, "Model 3 charging", plan.start) == car
    assert slots_of(events, "Battery charging from the grid", plan.start) == charge
    assert slots_of(events, "Battery holding its charge", plan.start) == hold
    # merged: one event per run of consecutive slots
    assert len(events) == runs(car) + runs(charge) + runs(hold)

    tz = dt_util.get_default_time_zone()
    for event in events:
        first = (dt_util.parse_datetime(event["start"]) - plan.start) // Q
        assert event["description"].endswith("Why: " + render(plan.why[first], "en", tz))
        if event["summary"] == "Model 3 charging":
            a, b = first, (dt_util.parse_datetime(event["end"]) - plan.start) // Q
            energy = float(plan.vehicles[0].charge_kw[a:b].sum()) * 0.25
            assert event["description"].startswith(f"{round(energy, 3):.1f} kWh planned")

    # a window that lies outside the asked range is not listed
    assert all(
        dt_util.parse_datetime(e["start"]) < NOW + timedelta(hours=1)
        for e in await get_events(hass, hours=1)
    )


async def test_state_is_the_running_window(hass: HomeAssistant) -> None:
    """On while a window runs; its attributes name the earliest one (the car charges now)."""
    entry = await setup_entry(hass, make_entry())
    plan = entry.runtime_data.coordinator.data.plan
    assert plan.vehicles[0].charge_kw[0] >= 0.05
    state = hass.states.get(CALENDAR)
    assert state.state == "on"
    assert state.attributes["friendly_name"] == "SmartLoad Plan"
    assert state.attributes["start_time"] == "2026-05-12 00:00:00"  # local time
    starts_now = [e for e in await get_events(hass) if dt_util.parse_datetime(e["start"]) == NOW]
    assert state.attributes["message"] in {e["summary"] for e in starts_now}


async def test_german_summaries_and_descriptions(hass: HomeAssistant) -> None:
    """In a German Home Assistant the events speak German."""
    hass.config.language = "de"
    await setup_entry(hass, make_entry())
    events = await get_events(hass)
    summaries = {e["summary"] for e in events}
    assert "Model 3 lädt" in summaries
    assert "Hausbatterie lädt aus dem Netz" in summaries
    assert all("\nWarum: " in e["description"] for e in events)


async def test_a_running_window_keeps_its_start_after_a_replan(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, hass_client: ClientSessionGenerator
) -> None:
    """A slot later the car's window still begins at midnight (REST API of the calendar)."""
    entry = await setup_entry(hass, make_entry())
    coordinator = entry.runtime_data.coordinator
    freezer.move_to(NOW + Q + timedelta(seconds=10))
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert coordinator.data.plan.start == NOW + Q
    assert coordinator.data.plan.vehicles[0].charge_kw[0] >= 0.05  # still charging

    client = await hass_client()
    start, end = NOW - timedelta(hours=1), NOW + timedelta(hours=12)
    resp = await client.get(
        f"/api/calendars/{CALENDAR}",
        params={"start": start.isoformat(), "end": end.isoformat()},
    )
    assert resp.status == 200
    events = await resp.json()
    car = [e for e in events if e["summary"] == "Model 3 charging"]
    assert dt_util.parse_datetime(car[0]["start"]["dateTime"]) == NOW
    assert hass.states.get(CALENDAR).attributes["start_time"] == "2026-05-12 00:00:00"


async def test_no_plan_no_future_windows(hass: HomeAssistant) -> None:
    """Stale inputs: nothing is planned, so nothing lies ahead on the calendar."""
    entry = await setup_entry(hass, make_entry())
    hass.states.async_set(PRICE, "unavailable")  # a car SoC no longer blocks (it is estimated)
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert entry.runtime_data.coordinator.data.status == "stale_inputs"
    assert await get_events(hass) == []
    assert hass.states.get(CALENDAR).state == "off"


async def test_an_automation_triggers_on_a_window_start(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A calendar trigger fires when the battery's grid-charging window begins."""
    entry = await setup_entry(hass, make_entry())
    plan = entry.runtime_data.coordinator.data.plan
    first_charge = next(t for t, m in enumerate(plan.battery_mode) if m is BatteryMode.CHARGE)
    assert first_charge > 0
    fired: list[Event] = []
    hass.bus.async_listen("smartload_test_window", fired.append)
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "trigger": {"platform": "calendar", "event": "start", "entity_id": CALENDAR},
                "condition": "{{ trigger.calendar_event.summary.endswith('from the grid') }}",
                "action": {
                    "event": "smartload_test_window",
                    "event_data": {"summary": "{{ trigger.calendar_event.summary }}"},
                },
            }
        },
    )
    await hass.async_block_till_done()
    when = NOW
    while when < plan.start + first_charge * Q + timedelta(minutes=1):
        when += timedelta(minutes=5)
        freezer.move_to(when)
        async_fire_time_changed(hass, when)
        await hass.async_block_till_done()
    assert [e.data["summary"] for e in fired] == ["Battery charging from the grid"]
    # the trigger fired at the window's start (within the 5-minute steps of this test)
    assert fired[0].time_fired - (plan.start + first_charge * Q) <= timedelta(minutes=5)
    await hass.services.async_call("automation", "turn_off", {"entity_id": "all"}, blocking=True)
