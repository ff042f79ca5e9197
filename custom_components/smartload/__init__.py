"""SmartLoad: plans a home's battery and cars against dynamic prices, and acts on the plan."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.storage import Store
from homeassistant.helpers.typing import ConfigType

from .config_flow import DEFAULT_OPTIONS
from .const import CONF_AUTOMATION, DOMAIN
from .coordinator import SmartLoadConfigEntry, SmartLoadCoordinator, SmartLoadData
from .entity import home_device
from .handback import HandBack, HandBackReason
from .panel import async_setup_panel
from .services import async_setup_services

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.CALENDAR,
    Platform.NUMBER,
    Platform.SENSOR,
    Platform.SWITCH,
    Platform.TIME,
]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)
WATCHDOG_INTERVAL = timedelta(minutes=1)  # hand-back when no plan for too long (handback.py)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions and the panel once, for all SmartLoad homes."""
    async_setup_services(hass)
    await async_setup_panel(hass)  # the sidebar panel and /api/smartload/plan
    return True


def _setup_shape(entry: SmartLoadConfigEntry) -> dict[str, Any]:
    """Everything a running setup depends on (the automation switch is read live instead)."""
    return {
        "data": dict(entry.data),
        # an option absent from an older entry is its default: saving the form unchanged
        # (it fills the default in) needs no reload
        "options": {
            k: v for k, v in {**DEFAULT_OPTIONS, **entry.options}.items() if k != CONF_AUTOMATION
        },
        "title": entry.title,
        "subentries": {
            sid: (sub.subentry_type, sub.title, dict(sub.data))
            for sid, sub in entry.subentries.items()
        },
    }


async def async_setup_entry(hass: HomeAssistant, entry: SmartLoadConfigEntry) -> bool:
    """Plan once, then add the entities and watch the inputs."""
    shape = _setup_shape(entry)  # before anything reads the entry: a car added meanwhile reloads
    coordinator = SmartLoadCoordinator(hass, entry)
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = SmartLoadData(
        coordinator=coordinator,
        vehicles=coordinator.vehicles,
        setup_shape=shape,
        automation=coordinator.automation,
    )
    coordinator.async_start()
    # the home's device first: each car's device is linked to it
    dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, **home_device(coordinator)
    )
    entry.async_on_unload(entry.add_update_listener(_async_update_listener))

    async def _async_stop(_: Event) -> None:  # Home Assistant stops cleanly: hand back
        await coordinator.handback.async_hand_back(HandBackReason.SHUTDOWN, close=True)
        coordinator.async_update_listeners()  # the Problem sensor shows the hand-back

    entry.async_on_unload(hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, _async_stop))

    async def _async_watchdog(now: datetime) -> None:  # no plan for too long, even mid-cycle
        if await coordinator.handback.async_watchdog(now) is not None:
            coordinator.async_update_listeners()

    entry.async_on_unload(async_track_time_interval(hass, _async_watchdog, WATCHDOG_INTERVAL))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    if _setup_shape(entry) != shape:  # changed while this setup was planning
        coordinator.handback.keep_on_unload = True
        hass.config_entries.async_schedule_reload(entry.entry_id)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: SmartLoadConfigEntry) -> bool:
    """Hand the actuators back (kept for a reload of SmartLoad's own), remove the entities; the
    coordinator shuts down with the entry."""
    handback = entry.runtime_data.coordinator.handback
    if handback.keep_on_unload:
        await handback.async_suspend()
    else:
        await handback.async_hand_back(HandBackReason.UNLOADED, close=True)
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


def stored_data_keys(entry_id: str) -> tuple[str, ...]:
    """Every Store key an entry writes besides the hand-back record (removed with the entry)."""
    return (
        f"{DOMAIN}.{entry_id}.cars",  # car_state: departures, targets, boosts
        f"{DOMAIN}.cars.{entry_id}",  # cars: SoC readings, sequencer queue
        f"{DOMAIN}.error_table.{entry_id}",
        f"{DOMAIN}.pv_error.{entry_id}",
        f"{DOMAIN}.savings.{entry_id}",
    )


async def async_remove_entry(hass: HomeAssistant, entry: SmartLoadConfigEntry) -> None:
    """The entry is deleted (handed back when it unloaded): remove its record of the actuators
    and everything it learned and stored, so that nothing is left behind."""
    await HandBack(hass, entry.entry_id, timeout=timedelta(0)).async_remove()
    for key in stored_data_keys(entry.entry_id):
        await Store[Any](hass, 1, key).async_remove()


async def _async_update_listener(hass: HomeAssistant, entry: SmartLoadConfigEntry) -> None:
    """Reload on a change of settings or cars (the options flow relies on this listener).

    The automation switch (also an option) needs no reload: it takes effect with a re-plan.
    """
    runtime = entry.runtime_data
    if _setup_shape(entry) != runtime.setup_shape:
        runtime.coordinator.handback.keep_on_unload = True  # the new run takes over the record
        hass.config_entries.async_schedule_reload(entry.entry_id)
    elif runtime.coordinator.automation != runtime.automation:
        # switched on: re-plan and act now; switched off: re-plan so the entities say "advise"
        runtime.automation = runtime.coordinator.automation
        if not runtime.automation:  # switched off: hand the actuators back at once
            await runtime.coordinator.handback.async_hand_back(HandBackReason.AUTOMATION_OFF)
        await runtime.coordinator.async_request_refresh()
