"""SmartLoad's ``Store`` files, loaded safely: an unusable file starts anew, with a repair.

Every SmartLoad ``Store`` is read through ``async_load_store``. What it guards against:

- a corrupt JSON file: Home Assistant's ``Store`` itself moves it aside (``….corrupt.<time>``) and
  raises its own repair (``storage_corruption``); the load returns None and SmartLoad starts anew;
- a file written by a newer SmartLoad (a downgrade: an unsupported major version), a migration
  that fails, or data of the wrong shape (``valid`` says no): logged once, a SmartLoad repair
  issue ``store_reset`` names the data that started anew, and the load returns None.

An older version is migrated by the Store's own ``_async_migrate_func`` (the Store subclass of each
file). Nothing here raises: a damaged file never stops the entry from loading.
"""

from __future__ import annotations

from collections.abc import Callable
import logging
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.storage import Store

from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)

STORE_RESET = "store_reset"  # issue translation key


def store_issue_id(key: str) -> str:
    """The repair issue of one Store (its key is unique)."""
    return f"{STORE_RESET}_{key}"


async def async_load_store(
    hass: HomeAssistant,
    store: Store[Any],
    *,
    what: str,
    name: str | None = None,
    valid: Callable[[Any], bool] = lambda _: True,
) -> Any | None:
    """The Store's data, or None (nothing stored, or unusable: logged and a repair raised).

    ``what``: the data in plain English ("plan-error table"); ``name``: the home's title for
    the repair (default: the title of the entry whose id ends the Store's key); ``valid``:
    whether loaded data have a usable shape.
    """
    try:
        data = await store.async_load()
    except Exception as err:  # an unsupported version, a failing migration, unreadable data
        _reset(hass, store, name=name, what=what, error=f"{type(err).__name__}: {err}")
        return None
    if data is not None and not valid(data):
        _reset(hass, store, name=name, what=what, error=f"unexpected data ({type(data).__name__})")
        return None
    return data


def _reset(
    hass: HomeAssistant, store: Store[Any], *, name: str | None, what: str, error: str
) -> None:
    if name is None:
        entry = hass.config_entries.async_get_entry(store.key.rpartition(".")[2])
        name = entry.title if entry is not None else "SmartLoad"
    _LOGGER.warning(
        "SmartLoad could not use its stored %s (%s: %s); it starts anew", what, store.key, error
    )
    ir.async_create_issue(
        hass,
        DOMAIN,
        store_issue_id(store.key),
        is_fixable=False,
        is_persistent=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key=STORE_RESET,
        translation_placeholders={"name": name, "what": what, "key": store.key, "error": error},
    )
