"""The plan's current decision → Home Assistant service calls on the configured actuators.

Each actuator is optional. A write happens only when the entity's state differs from the wanted
value (idempotent); an entity that is missing, unavailable or cannot take the value is skipped
and reported, never guessed at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import logging
import math
from typing import Any

from homeassistant.const import (
    ATTR_ENTITY_ID,
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import probatio as vol

from .const import (
    CONF_BATTERY_DISCHARGE_CONTROL_ENTITY,
    CONF_BATTERY_GRID_CHARGE_LIMIT_ENTITY,
    CONF_LOADPOINT_MODE_ENTITY,
    CONF_SMART_COST_LIMIT_ENTITY,
)
from .planner.model import Decision

_LOGGER = logging.getLogger(__name__)

NUMBER_DOMAINS = ("number", "input_number")
SELECT_DOMAINS = ("select", "input_select")
SWITCH_DOMAINS = ("switch", "input_boolean")


@dataclass(frozen=True, kw_only=True, slots=True)
class Write:
    """One service call that brings an actuator to the plan's value."""

    entity_id: str
    domain: str
    service: str
    data: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """For logs and diagnostics."""
        value = next(iter(self.data.values()), None)
        return f"{self.domain}.{self.service} {self.entity_id}" + (
            f" = {value}" if value is not None else ""
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ActuatorProblem:
    """An actuator that could not be set."""

    entity_id: str
    error: str


def _domain(entity_id: str) -> str:
    return entity_id.partition(".")[0]


def _price_to_unit(eur_per_kwh: float, unit: str) -> float:
    text = unit.lower().replace(" ", "")
    factor = 100.0 if ("ct" in text or "cent" in text) else 1.0
    return eur_per_kwh * factor * (1000.0 if "mwh" in text else 1.0)


def _number_write(
    hass: HomeAssistant, entity_id: str, eur_per_kwh: float | None, problems: list[ActuatorProblem]
) -> Write | None:
    """Set a price-limit number; no limit (None) means its minimum: no grid charging."""
    state = hass.states.get(entity_id)
    if (reason := _unusable(entity_id, state, NUMBER_DOMAINS)) is not None:
        problems.append(ActuatorProblem(entity_id=entity_id, error=reason))
        return None
    assert state is not None
    attrs = state.attributes
    low = _float(attrs.get("min"), -math.inf)
    high = _float(attrs.get("max"), math.inf)
    step = _float(attrs.get("step"), 0.0)
    if eur_per_kwh is None:
        if not math.isfinite(low):
            problems.append(ActuatorProblem(entity_id=entity_id, error="no minimum to disable"))
            return None
        wanted = low
    else:
        wanted = _price_to_unit(eur_per_kwh, str(attrs.get(ATTR_UNIT_OF_MEASUREMENT) or ""))
    wanted = min(max(wanted, low), high)
    if step > 0:
        base = low if math.isfinite(low) else 0.0
        wanted = min(base + round((wanted - base) / step) * step, high)
        wanted = round(wanted, 6)
    current = _float(state.state, math.nan)
    if math.isfinite(current) and abs(current - wanted) <= max(step / 2, 1e-9):
        return None
    return Write(
        entity_id=entity_id, domain=_domain(entity_id), service="set_value", data={"value": wanted}
    )


def _select_write(
    hass: HomeAssistant, entity_id: str, option: str, problems: list[ActuatorProblem]
) -> Write | None:
    """Select an option, matched case-insensitively against the entity's options."""
    state = hass.states.get(entity_id)
    if (reason := _unusable(entity_id, state, SELECT_DOMAINS)) is not None:
        problems.append(ActuatorProblem(entity_id=entity_id, error=reason))
        return None
    assert state is not None
    options = [str(o) for o in state.attributes.get("options") or ()]
    match = next((o for o in options if o.lower() == option.lower()), None)
    if match is None:
        problems.append(
            ActuatorProblem(entity_id=entity_id, error=f"option '{option}' is not offered")
        )
        return None
    if state.state == match:
        return None
    return Write(
        entity_id=entity_id,
        domain=_domain(entity_id),
        service="select_option",
        data={"option": match},
    )


def _switch_write(
    hass: HomeAssistant, entity_id: str, on: bool, problems: list[ActuatorProblem]
) -> Write | None:
    state = hass.states.get(entity_id)
    if (reason := _unusable(entity_id, state, SWITCH_DOMAINS)) is not None:
        problems.append(ActuatorProblem(entity_id=entity_id, error=reason))
        return None
    assert state is not None
    if state.state == (STATE_ON if on else STATE_OFF):
        return None
    return Write(
        entity_id=entity_id, domain=_domain(entity_id), service="turn_on" if on else "turn_off"
    )


def _unusable(entity_id: str, state: Any, domains: tuple[str, ...]) -> str | None:
    """Why an actuator cannot be written now (None: it can; an unknown state can be set)."""
    if _domain(entity_id) not in domains:
        return f"{_domain(entity_id)} entities are not supported here"
    if state is None:
        return "entity not found"
    if state.state == STATE_UNAVAILABLE:
        return "entity is unavailable"
    return None


def _float(raw: Any, default: float) -> float:
    try:
        value = float(raw)
    except TypeError, ValueError:
        return default
    return value if not math.isnan(value) else default


def planned_writes(
    hass: HomeAssistant, conf: Mapping[str, Any], decision: Decision
) -> tuple[list[Write], list[ActuatorProblem]]:
    """The service calls that bring every configured actuator to the decision (none if right)."""
    writes: list[Write | None] = []
    problems: list[ActuatorProblem] = []
    if entity_id := conf.get(CONF_LOADPOINT_MODE_ENTITY):
        writes.append(_select_write(hass, entity_id, decision.loadpoint_mode.value, problems))
    if entity_id := conf.get(CONF_SMART_COST_LIMIT_ENTITY):
        writes.append(
            _number_write(hass, entity_id, decision.smart_cost_limit_eur_per_kwh, problems)
        )
    if entity_id := conf.get(CONF_BATTERY_GRID_CHARGE_LIMIT_ENTITY):
        writes.append(
            _number_write(hass, entity_id, decision.battery_grid_charge_limit_eur_per_kwh, problems)
        )
    if entity_id := conf.get(CONF_BATTERY_DISCHARGE_CONTROL_ENTITY):
        if _domain(entity_id) in SELECT_DOMAINS:
            writes.append(_select_write(hass, entity_id, decision.battery_mode.value, problems))
        else:
            writes.append(
                _switch_write(hass, entity_id, decision.battery_discharge_locked, problems)
            )
    return [w for w in writes if w is not None], problems


async def async_apply(
    hass: HomeAssistant, writes: list[Write]
) -> tuple[list[Write], list[ActuatorProblem]]:
    """Make the calls; a failing call is reported and does not stop the others."""
    done: list[Write] = []
    problems: list[ActuatorProblem] = []
    for write in writes:
        try:
            await hass.services.async_call(
                write.domain,
                write.service,
                {ATTR_ENTITY_ID: write.entity_id, **write.data},
                blocking=True,
            )
        except (HomeAssistantError, vol.Invalid, ValueError) as err:
            problems.append(ActuatorProblem(entity_id=write.entity_id, error=str(err) or repr(err)))
        except Exception as err:  # a broken actuator must not break the cycle
            _LOGGER.debug("Writing %s failed", write.entity_id, exc_info=True)
            problems.append(ActuatorProblem(entity_id=write.entity_id, error=repr(err)))
        else:
            done.append(write)
    return done, problems
