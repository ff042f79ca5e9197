"""The plan's read actions: ``get_plan``, ``explain`` and ``replan`` (with response data).

``get_plan`` returns the same document as the panel's ``/api/smartload/plan`` (optionally only
the slots overlapping ``[start, end)``); ``explain`` one slot ("now" or a time) with its why;
``replan`` runs a cycle now and says what came out of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
import probatio as vol

from .const import DOMAIN
from .coordinator import Status
from .planner.export import explain_at
from .services import ATTR_CONFIG_ENTRY_ID, entry_for_call
from .timeline import language

SERVICE_GET_PLAN = "get_plan"
SERVICE_EXPLAIN = "explain"
SERVICE_REPLAN = "replan"
ATTR_START = "start"
ATTR_END = "end"
ATTR_TIME = "time"
ATTR_LANGUAGE = "language"
NOW = "now"

_ENTRY = {vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string}
_LANGUAGE = {vol.Optional(ATTR_LANGUAGE): cv.string}
GET_PLAN_SCHEMA = vol.Schema(
    {
        **_ENTRY,
        **_LANGUAGE,
        vol.Optional(ATTR_START): cv.datetime,
        vol.Optional(ATTR_END): cv.datetime,
    }
)
EXPLAIN_SCHEMA = vol.Schema(
    {
        **_ENTRY,
        **_LANGUAGE,
        vol.Optional(ATTR_TIME, default=NOW): vol.Any(
            vol.All(cv.string, vol.Lower, NOW), cv.datetime
        ),
    }
)
REPLAN_SCHEMA = vol.Schema(_ENTRY)


def _utc(value: datetime | None) -> datetime | None:
    """A time from an action (naive: Home Assistant's time zone) in UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt_util.get_default_time_zone())
    return dt_util.as_utc(value)


def _lang(hass: HomeAssistant, call: ServiceCall) -> str:
    return language(call.data.get(ATTR_LANGUAGE) or hass.config.language)


def _require_plan(status: Status, reason: str) -> None:
    """No plan to read: say why (stale inputs or an error)."""
    if status in (Status.STALE_INPUTS, Status.ERROR):
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key=f"replan_{status.value}",
            translation_placeholders={"reason": reason},
        )


async def async_get_plan(call: ServiceCall) -> ServiceResponse:
    """The plan's slots (all, or those overlapping start..end) with prices, SoCs and whys."""
    hass = call.hass
    entry = entry_for_call(hass, call)
    start, end = _utc(call.data.get(ATTR_START)), _utc(call.data.get(ATTR_END))
    if start is not None and end is not None and end <= start:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_time_range",
            translation_placeholders={"start": start.isoformat(), "end": end.isoformat()},
        )
    coordinator = entry.runtime_data.coordinator
    _require_plan(coordinator.data.status, coordinator.data.reason)
    return await coordinator.timeline.async_window(_lang(hass, call), start, end)


async def async_explain(call: ServiceCall) -> ServiceResponse:
    """One slot of the plan ("now" by default): its numbers and its why."""
    hass = call.hass
    entry = entry_for_call(hass, call)
    raw = call.data[ATTR_TIME]
    when = dt_util.utcnow() if raw == NOW else _utc(raw)
    assert when is not None
    result = entry.runtime_data.coordinator.data
    _require_plan(result.status, result.reason)
    if result.inputs is None or result.plan is None:  # a status with a plan always has both
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="replan_error",
            translation_placeholders={"reason": result.reason or "no plan"},
        )
    tz = dt_util.get_default_time_zone()
    slot = explain_at(result.inputs, result.plan, when, lang=_lang(hass, call), tz=tz)
    if slot is None:
        plan_end = result.inputs.slot_start(result.inputs.n_slots)
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="time_outside_plan",
            translation_placeholders={
                "time": when.astimezone(tz).isoformat(timespec="minutes"),
                "start": result.inputs.start.astimezone(tz).isoformat(timespec="minutes"),
                "end": plan_end.astimezone(tz).isoformat(timespec="minutes"),
            },
        )
    response: dict[str, Any] = {"time": when.isoformat(), "status": result.status.value}
    return response | slot


async def async_replan(call: ServiceCall) -> ServiceResponse:
    """Re-plan now (and act, if the automation is on); the outcome as response data."""
    entry = entry_for_call(call.hass, call)
    coordinator = entry.runtime_data.coordinator
    await coordinator.async_refresh()
    result = coordinator.data
    _require_plan(result.status, result.reason)
    decision = result.decision
    return {
        "status": result.status.value,
        "reason": result.reason,
        "updated": result.updated.isoformat(),
        "next_action": result.next_action,
        "acted": result.acted,
        "cost_eur": round(result.plan.cost_eur, 4) if result.plan is not None else None,
        "why_key": decision.why.key if decision is not None else None,
    }


@callback
def async_setup_plan_actions(hass: HomeAssistant) -> None:
    """Register get_plan, explain and replan."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_GET_PLAN,
        async_get_plan,
        schema=GET_PLAN_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_EXPLAIN,
        async_explain,
        schema=EXPLAIN_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_REPLAN,
        async_replan,
        schema=REPLAN_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
