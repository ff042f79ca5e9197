"""SmartLoad's actions: registered once in ``async_setup``; each finds its config entry and car.

Every action takes an optional ``config_entry_id`` (needed only with more than one SmartLoad
home); a car's action takes the car as ``vehicle``: its device id, or its name.
"""

from __future__ import annotations

from homeassistant.auth.permissions.const import POLICY_CONTROL
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError, Unauthorized, UnknownUser
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .actions_car import async_setup_car_actions
from .const import DOMAIN
from .coordinator import SmartLoadConfigEntry
from .inputs import VehicleConfig

ATTR_CONFIG_ENTRY_ID = "config_entry_id"
ATTR_VEHICLE = "vehicle"


def entry_for_call(hass: HomeAssistant, call: ServiceCall) -> SmartLoadConfigEntry:
    """The loaded SmartLoad entry an action is meant for."""
    entry_id = call.data.get(ATTR_CONFIG_ENTRY_ID)
    loaded = [
        e for e in hass.config_entries.async_entries(DOMAIN) if e.state is ConfigEntryState.LOADED
    ]
    if entry_id is not None:
        loaded = [e for e in loaded if e.entry_id == entry_id]
        if not loaded:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="entry_not_loaded",
                translation_placeholders={"entry_id": str(entry_id)},
            )
    if len(loaded) != 1:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded" if not loaded else "entry_ambiguous",
            translation_placeholders={"entry_id": ""},
        )
    return loaded[0]


def vehicle_for_call(
    hass: HomeAssistant, entry: SmartLoadConfigEntry, call: ServiceCall
) -> VehicleConfig:
    """The car an action names: by its device id or by its name (case-insensitive)."""
    wanted = str(call.data.get(ATTR_VEHICLE, "")).strip()
    cars = entry.runtime_data.coordinator.vehicles
    device = dr.async_get(hass).async_get(wanted)
    for car in cars:
        if device is not None and (DOMAIN, car.subentry_id) in device.identifiers:
            return car
        if car.name.casefold() == wanted.casefold() or car.subentry_id == wanted:
            return car
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="unknown_vehicle",
        translation_placeholders={
            "vehicle": wanted,
            "vehicles": ", ".join(c.name for c in cars) or "-",
        },
    )


async def async_check_control(
    hass: HomeAssistant, call: ServiceCall, platform: str, key: str
) -> None:
    """An action that changes behaviour, called by a user (HA names one; automations and scripts
    run without): that user must be allowed to control the SmartLoad entity ``key`` stands for
    (its unique id) — the same right HA checks when the user operates that entity directly."""
    if (user_id := call.context.user_id) is None:
        return
    user = await hass.auth.async_get_user(user_id)
    if user is None:
        raise UnknownUser(context=call.context, permission=POLICY_CONTROL)
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, key)
    if entity_id is not None and not user.permissions.check_entity(entity_id, POLICY_CONTROL):
        raise Unauthorized(context=call.context, entity_id=entity_id, permission=POLICY_CONTROL)


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register SmartLoad's actions (one line per module that provides actions)."""
    from .actions_plan import async_setup_plan_actions  # it uses entry_for_call from here

    async_setup_plan_actions(hass)
    from .actions_sequencer import async_setup_sequencer_actions  # imports this module

    async_setup_sequencer_actions(hass)  # the charge sequencer's override and resume
    async_setup_car_actions(hass)
