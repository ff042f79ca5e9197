"""Diagnostics: the settings, the latest inputs and plan, what was written, the last error.

Also the consumption forecaster: its model, both backtest MAEs and the days it learned from; and
the seasonal plan-error table.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .coordinator import SmartLoadConfigEntry, summarize_plan
from .inputs import summarize

# SmartLoad stores no credentials; entity ids and tariffs are what a helper needs to see. How
# to reach a driver (Telegram chat ids, a phone's notify action or device, a user), the tokens
# of open questions and anything that locates the home or a car are personal: redacted wherever
# they appear in the document (the whole document is redacted, not only the settings).
TO_REDACT: set[str] = {
    "telegram_chat_ids",
    "chat_id",
    "chat_ids",
    "notify_action",
    "device_id",
    "user_id",
    "token",
    "presence_entity",
    "latitude",
    "longitude",
    "location",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: SmartLoadConfigEntry
) -> dict[str, Any]:
    """The entry, its cars and the latest cycle."""
    coordinator = entry.runtime_data.coordinator
    result = coordinator.data
    decision = result.decision
    document: dict[str, Any] = {
        "entry": async_redact_data(
            {"title": entry.title, "data": dict(entry.data), "options": dict(entry.options)},
            TO_REDACT,
        ),
        "vehicles": [
            {
                "subentry_id": sub.subentry_id,
                "title": sub.title,
                "data": async_redact_data(dict(sub.data), TO_REDACT),
            }
            for sub in entry.subentries.values()
        ],
        "automation": coordinator.automation,
        "cycle": {
            "status": result.status.value,
            "reason": result.reason,
            "updated": result.updated.isoformat(),
            "acted": result.acted,
            "writes": list(result.writes),
            "input_problems": [asdict(p) for p in result.input_problems],
            "actuator_problems": [asdict(p) for p in result.actuator_problems],
        },
        "inputs": summarize(result.inputs) if result.inputs is not None else None,
        "load_forecast": {
            **coordinator.history.summary(),
            "used": result.load_forecast.model if result.load_forecast is not None else "flat",
        },
        "battery_buffer": None
        if result.battery_buffer is None
        else {"min_pct": result.battery_buffer.pct(), **result.battery_buffer.attributes()},
        "pv_forecast_error": coordinator.pv_error.summary(),
        "plan": summarize_plan(result.plan) if result.plan is not None else None,
        "decision": None
        if decision is None
        else {
            "loadpoint_mode": decision.loadpoint_mode.value,
            "active_vehicle": decision.active_vehicle,
            "vehicle_charge_kw": decision.vehicle_charge_kw,
            "smart_cost_limit_eur_per_kwh": decision.smart_cost_limit_eur_per_kwh,
            "battery_mode": decision.battery_mode.value,
            "battery_grid_charge_limit_eur_per_kwh": decision.battery_grid_charge_limit_eur_per_kwh,
            "battery_discharge_locked": decision.battery_discharge_locked,
            "battery_target_soc_kwh": decision.battery_target_soc_kwh,
            "why": {"key": decision.why.key, "params": dict(decision.why.params)},
            "next_action": result.next_action,
        },
        # the seasonal plan-error table: the cells observed so far, with their sample counts
        "plan_errors": coordinator.errors.summary(),
        # the cars' SoC tracks and estimates, the charge sequencer's state and decision
        "cars": coordinator.cars.diagnostics(),
        "recent_writes": list(coordinator.recent_writes),
        # what SmartLoad found on the actuators it controls, the heartbeat, the last hand-back
        "handback": coordinator.handback.summary(),
        "stability": coordinator.stability.diagnostics(),
        "last_error": coordinator.last_error,
    }
    return async_redact_data(document, TO_REDACT)
