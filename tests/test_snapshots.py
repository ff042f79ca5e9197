"""Snapshots (syrupy) of every platform's entities, of get_plan's response and of diagnostics.

The home of conftest at a frozen midnight, with fixed entry and car ids, so that unique ids and
the plan are the same on every run. A change to an entity (name, unit, device class, category,
state, attributes) shows up as a snapshot diff; `pytest --snapshot-update` accepts it.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import MappingProxyType
from typing import Any
from unittest.mock import PropertyMock, patch

from homeassistant.config_entries import ConfigSubentryData
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.smartload import PLATFORMS
from custom_components.smartload.const import (
    CONF_AUTOMATION,
    CONF_CYCLE_MINUTES,
    CONF_HORIZON_HOURS,
    DOMAIN,
    SUBENTRY_VEHICLE,
)
from custom_components.smartload.diagnostics import async_get_config_entry_diagnostics

from .conftest import CAR_DATA, HOME_DATA, setup_entry

pytestmark = pytest.mark.usefixtures("home")

ENTRY_ID = "01SNAPSHOTHOME0000000000000"
CAR_ID = "01SNAPSHOTCAR00000000000000"


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Home Assistant's serializer: registry ids and contexts are <ANY>, times are frozen."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture(autouse=True)
def all_entities_enabled() -> Iterator[None]:
    """Entities disabled by default are snapshotted too."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


def snapshot_entry() -> MockConfigEntry:
    """The test home with one car, with ids that do not change between runs."""
    return MockConfigEntry(
        domain=DOMAIN,
        entry_id=ENTRY_ID,
        title="SmartLoad",
        data=dict(HOME_DATA),
        options={CONF_HORIZON_HOURS: 48, CONF_CYCLE_MINUTES: 15, CONF_AUTOMATION: False},
        subentries_data=[
            ConfigSubentryData(
                data=MappingProxyType(CAR_DATA),
                subentry_id=CAR_ID,
                subentry_type=SUBENTRY_VEHICLE,
                title="Model 3",
                unique_id=None,
            )
        ],
    )


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_platform_entities(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    platform: Platform,
) -> None:
    """Each platform's entities: registry entries (names, units, classes, categories) and states."""
    with patch("custom_components.smartload.PLATFORMS", [platform]):
        entry = await setup_entry(hass, snapshot_entry())
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)


async def test_get_plan_response(hass: HomeAssistant, snapshot: SnapshotAssertion) -> None:
    """The plan as the get_plan action returns it: the first six hours."""
    await setup_entry(hass, snapshot_entry())
    response = await hass.services.async_call(
        DOMAIN,
        "get_plan",
        {"start": "2026-05-12T00:00:00+02:00", "end": "2026-05-12T06:00:00+02:00"},
        blocking=True,
        return_response=True,
    )
    assert response == snapshot


async def test_diagnostics(hass: HomeAssistant, snapshot: SnapshotAssertion) -> None:
    """Diagnostics: the settings (redacted where private), the inputs, the plan and its state."""
    entry = await setup_entry(hass, snapshot_entry())
    diagnostics: dict[str, Any] = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics == snapshot(
        exclude=props("solve_ms", "build_ms", "created_at", "modified_at")
    )
