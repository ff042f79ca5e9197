"""The automation switch: on = act on the plan, off = plan and advise only."""

from __future__ import annotations

from typing import Any, override

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import CONF_AUTOMATION
from .coordinator import SmartLoadConfigEntry
from .entity import SmartLoadEntity

PARALLEL_UPDATES = 1

AUTOMATION = SwitchEntityDescription(key="automation", translation_key="automation")


async def async_setup_entry(
    hass: HomeAssistant,
    config_entry: SmartLoadConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """The automation switch of the home."""
    async_add_entities(
        [SmartLoadAutomationSwitch(config_entry.runtime_data.coordinator, AUTOMATION)]
    )


class SmartLoadAutomationSwitch(SmartLoadEntity, SwitchEntity):
    """Persists in the entry's options; a change re-plans at once (acting when turned on)."""

    @property
    @override
    def is_on(self) -> bool:
        """Whether SmartLoad acts."""
        return self.coordinator.automation

    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        """Act from now on: re-plan and apply."""
        await self._set(True)

    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        """Plan and advise only."""
        await self._set(False)

    async def _set(self, on: bool) -> None:
        entry = self.coordinator.config_entry
        self.hass.config_entries.async_update_entry(
            entry, options={**entry.options, CONF_AUTOMATION: on}
        )
        self.async_write_ha_state()  # the update listener re-plans
