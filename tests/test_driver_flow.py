"""The vehicle form's driver section: stored as typed, validated, translated (en and de)."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.smartload.config_flow import DriverError, driver_schema
from custom_components.smartload.const import SUBENTRY_VEHICLE

from .test_config_flow import (  # noqa: F401 (fixtures)
    TRANSLATIONS,
    VEHICLE,
    VEHICLE_INPUT,
    _add_vehicle,
    _entry,
    _section,
    home_states,
    mock_setup,
)

pytestmark = pytest.mark.usefixtures("mock_setup")

DRIVER = {
    "notify_action": "notify.mobile_app_pixel",
    "telegram_chat_ids": " 4242 ; -100123 ",
    "quiet_start": "22:00",
    "quiet_end": "06:30",
    "query_time": "20:00",
}


async def test_driver_section_is_stored(hass: HomeAssistant) -> None:
    entry = _entry(hass)
    result = await _add_vehicle(hass, entry, {**VEHICLE_INPUT, "driver": DRIVER})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (car,) = entry.get_subentries_of_type(SUBENTRY_VEHICLE)
    assert car.data["driver"] == {
        "notify_action": "notify.mobile_app_pixel",
        "telegram_chat_ids": "4242, -100123",
        "quiet_start": "22:00:00",
        "quiet_end": "06:30:00",
        "query_time": "20:00:00",
    }


async def test_no_driver_section_stores_nothing(hass: HomeAssistant) -> None:
    entry = _entry(hass)
    result = await _add_vehicle(hass, entry, {**VEHICLE_INPUT, "driver": {}})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (car,) = entry.get_subentries_of_type(SUBENTRY_VEHICLE)
    assert "driver" not in car.data


@pytest.mark.parametrize(
    ("driver", "error"),
    [
        ({"notify_action": "mobile_app_pixel"}, DriverError.NOTIFY_ACTION_INVALID),
        ({"notify_action": "light.turn_on"}, DriverError.NOTIFY_ACTION_INVALID),
        ({"telegram_chat_ids": "4242, @someone"}, DriverError.CHAT_IDS_INVALID),
        ({"quiet_start": "22:00"}, DriverError.QUIET_HOURS_INCOMPLETE),
    ],
)
async def test_driver_section_errors(
    hass: HomeAssistant, driver: dict[str, Any], error: DriverError
) -> None:
    entry = _entry(hass)
    result = await _add_vehicle(hass, entry, {**VEHICLE_INPUT, "driver": driver})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    assert not entry.get_subentries_of_type(SUBENTRY_VEHICLE)


def test_driver_section_translated() -> None:
    for lang in ("en", "de"):
        vehicle = _section(lang, VEHICLE)
        assert {str(e) for e in DriverError} <= set(vehicle["error"]), lang
        for step in ("user", "reconfigure"):
            section = vehicle["step"][step]["sections"]["driver"]
            assert section["name"] and section["description"], (lang, step)
            for marker in driver_schema().schema:
                key = str(marker.schema)
                assert section["data"][key] and section["data_description"][key], (lang, key)
    assert TRANSLATIONS["de"]["services"]["boost"]["name"]
