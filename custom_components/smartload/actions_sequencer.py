"""The charge sequencer's actions: put a car first on the wallbox for a while, or resume.

``smartload.sequencer_override`` (vehicle, optional minutes, default 90) lasts until it expires,
its car leaves, or ``smartload.sequencer_resume`` ends it.
"""

from __future__ import annotations

from typing import Final

from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
import probatio as vol

from .const import DEFAULT_OVERRIDE_MIN, DOMAIN
from .services import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_VEHICLE,
    async_check_control,
    entry_for_call,
    vehicle_for_call,
)

SERVICE_SEQUENCER_OVERRIDE: Final = "sequencer_override"
SERVICE_SEQUENCER_RESUME: Final = "sequencer_resume"
ATTR_MINUTES: Final = "minutes"
MAX_OVERRIDE_MIN: Final = 720

OVERRIDE_SCHEMA: Final = vol.Schema(
    {
        vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Required(ATTR_VEHICLE): cv.string,
        vol.Optional(ATTR_MINUTES, default=DEFAULT_OVERRIDE_MIN): vol.Coerce(float),
    }
)
RESUME_SCHEMA: Final = vol.Schema({vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string})


async def _async_override(call: ServiceCall) -> None:
    entry = entry_for_call(call.hass, call)
    car = vehicle_for_call(call.hass, entry, call)
    await async_check_control(call.hass, call, "time", f"{car.subentry_id}_departure")
    minutes = float(call.data[ATTR_MINUTES])
    if not 1 <= minutes <= MAX_OVERRIDE_MIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="override_minutes_out_of_range",
            translation_placeholders={"minutes": f"{minutes:g}", "max": str(MAX_OVERRIDE_MIN)},
        )
    entry.runtime_data.coordinator.cars.async_set_override(car, minutes)


async def _async_resume(call: ServiceCall) -> None:
    entry = entry_for_call(call.hass, call)
    await async_check_control(call.hass, call, "switch", f"{entry.entry_id}_automation")
    entry.runtime_data.coordinator.cars.async_clear_override()


@callback
def async_setup_sequencer_actions(hass: HomeAssistant) -> None:
    """Register the sequencer's actions."""
    hass.services.async_register(
        DOMAIN, SERVICE_SEQUENCER_OVERRIDE, _async_override, schema=OVERRIDE_SCHEMA
    )
    hass.services.async_register(
        DOMAIN, SERVICE_SEQUENCER_RESUME, _async_resume, schema=RESUME_SCHEMA
    )
