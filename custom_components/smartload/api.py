"""``GET /api/smartload/plan``: the current plan as JSON for the panel (authenticated).

Query parameters, all optional: ``entry_id`` (which SmartLoad home; default: the first loaded),
``hours`` (only the slots from now to that many hours ahead; default: the whole plan), ``lang``
(the language of the whys, "en" or "de"; default: Home Assistant's). The body is
``planner.export``'s document plus ``entries`` (every loaded home, for a chooser).
"""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus
import math

from aiohttp import web
from homeassistant.components.http import KEY_HASS, HomeAssistantView
from homeassistant.config_entries import ConfigEntryState
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .coordinator import SmartLoadConfigEntry

PLAN_API_URL = "/api/smartload/plan"
MAX_HOURS = 7 * 24


class SmartLoadPlanView(HomeAssistantView):
    """The plan of one SmartLoad home; 401 without a valid token."""

    url = PLAN_API_URL
    name = "api:smartload:plan"
    requires_auth = True

    async def get(self, request: web.Request) -> web.Response:
        """The plan (optionally the next ``hours``) with its past 24 h."""
        hass = request.app[KEY_HASS]
        loaded: list[SmartLoadConfigEntry] = [
            e
            for e in hass.config_entries.async_entries(DOMAIN)
            if e.state is ConfigEntryState.LOADED
        ]
        query = request.query
        hours: float | None = None
        if raw := query.get("hours"):
            try:
                hours = float(raw)
            except ValueError:
                hours = math.nan
            if not 0 < hours <= MAX_HOURS:  # NaN fails too
                return self.json_message(
                    f"hours must be a number above 0 and at most {MAX_HOURS}",
                    HTTPStatus.BAD_REQUEST,
                )
        wanted = query.get("entry_id")
        entry = next((e for e in loaded if wanted in (None, e.entry_id)), None)
        if entry is None:
            return self.json_message(
                "No loaded SmartLoad home" + (f" with entry_id {wanted}" if wanted else ""),
                HTTPStatus.NOT_FOUND,
            )
        timeline = entry.runtime_data.coordinator.timeline
        lang = query.get("lang") or hass.config.language
        if hours is None:
            doc = await timeline.async_document(lang)
        else:
            now = dt_util.utcnow()
            doc = await timeline.async_window(lang, now, now + timedelta(hours=hours))
        entries = [{"entry_id": e.entry_id, "title": e.title} for e in loaded]
        return self.json(doc | {"entries": entries})
