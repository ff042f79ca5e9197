"""Soak: the real integration through days of 15-min cycles from the shared data.

In CI: two days of the committed May slice. ``script/bench --soak --days N`` runs this same test
with ``SMARTLOAD_SOAK_DAYS`` (and the shared year when present) and prints its report.
"""

from __future__ import annotations

from datetime import datetime
import json
import os
from pathlib import Path
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from .soak import ENV_DATA, ENV_DAYS, ENV_REPORT, ENV_START, SoakHome, replay_data

CI_DAYS = 2
CI_START = "2024-05-06"  # local midnight; the fixture slice starts there


async def test_soak(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, hass_storage: dict[str, Any]
) -> None:
    """No error logged; entities, listeners, timers, stored data and remembered prices bounded."""
    days = int(os.environ.get(ENV_DAYS, CI_DAYS))
    data = replay_data(os.environ.get(ENV_DATA, "fixture"))
    await hass.config.async_set_time_zone("Europe/Berlin")
    local = datetime.fromisoformat(os.environ.get(ENV_START, CI_START))
    start = local.replace(tzinfo=dt_util.get_default_time_zone()).astimezone(dt_util.UTC)
    home = SoakHome(hass, freezer, hass_storage, data, start)
    await home.async_setup()
    first = home.coordinator.data
    assert first.status.value in ("optimal", "shortfall"), first.reason

    report = await home.async_run(days)
    if path := os.environ.get(ENV_REPORT):
        await hass.async_add_executor_job(Path(path).write_text, json.dumps(report.as_json()))

    assert report.cycles == days * 96
    assert report.exceptions == 0, report.error_lines
    # every slot planned (the tick), plus the debounced re-plans on new forecasts
    assert report.plans >= report.cycles
    assert set(report.statuses) <= {"optimal", "shortfall"}, report.statuses
    assert report.writes > 0  # it acted: the actuators followed the plan
    assert report.entities_end == report.entities_start > 0
    assert report.states_end == report.states_start
    assert report.listeners_end <= report.listeners_start
    # scheduled timers (cycles, delayed saves, watchdogs): no more at a day's end than on day one
    assert max(report.timers_by_day) <= report.timers_by_day[0] + 10, report.timers_by_day
    # the stored data stay bounded: the error table has a fixed number of cells
    assert 0 < report.store_bytes_end <= 2 * report.store_bytes_day1 + 4096
    # prices remembered for the estimate: 14 days behind, the published ones ahead
    assert report.price_memory_slots_max <= (14 + 2) * 96
    assert report.unloaded
    assert report.rss_end_mb > 0 and report.rss_start_mb > 0
