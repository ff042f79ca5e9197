"""The plan sensor's series stay out of the recorder's database (real recorder)."""

from __future__ import annotations

from datetime import timedelta

from homeassistant.components.recorder import Recorder, get_instance
from homeassistant.components.recorder.history import get_significant_states
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.smartload.plan_sensor import SERIES_ATTRIBUTES

from .conftest import NOW, make_entry, setup_entry

pytestmark = pytest.mark.usefixtures("home")
PLAN = "sensor.smartload_plan"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, enable_custom_integrations: None
) -> None:
    """The recorder's database must be set up before ``hass`` (overrides conftest's fixture)."""


async def test_series_are_not_recorded(hass: HomeAssistant) -> None:
    """The state machine has the series; the database keeps the state without them."""
    await setup_entry(hass, make_entry())
    live = hass.states.get(PLAN)
    assert set(SERIES_ATTRIBUTES) <= set(live.attributes)
    await async_wait_recording_done(hass)

    states = await get_instance(hass).async_add_executor_job(
        get_significant_states, hass, NOW - timedelta(hours=1), None, [PLAN]
    )
    recorded = states[PLAN]
    assert [s.state for s in recorded] == [NOW.isoformat()]
    attributes = recorded[0].attributes
    assert attributes["status"] == "optimal"  # the small attributes stay
    assert attributes["friendly_name"] == "SmartLoad Plan"
    assert not set(SERIES_ATTRIBUTES) & set(attributes)
    # and another sensor of the same integration keeps its attributes (nothing else is cut)
    status = await get_instance(hass).async_add_executor_job(
        get_significant_states,
        hass,
        NOW - timedelta(hours=1),
        None,
        ["sensor.smartload_plan_status"],
    )
    assert "reason" in status["sensor.smartload_plan_status"][0].attributes
