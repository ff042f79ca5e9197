"""The plan's current decision → Home Assistant service calls on the configured actuators.

evcc's loadpoint mode and smart cost limit, the battery's grid-charge limit and discharge
control, the battery reserve (the plan's dynamic minimum SoC) and a plain charger (switch and
current) for homes without evcc. Each actuator is optional. A write happens only when the
entity's state differs from the wanted value (idempotent); an entity that is missing,
unavailable or cannot take the value is skipped and reported, never guessed at.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import dataclasses
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
    CHARGER_VOLTAGE_V,
    CONF_BATTERY_DISCHARGE_CONTROL_ENTITY,
    CONF_BATTERY_GRID_CHARGE_LIMIT_ENTITY,
    CONF_BATTERY_MIN_SOC_ENTITY,
    CONF_CHARGER_CURRENT_ENTITY,
    CONF_CHARGER_PHASES,
    CONF_CHARGER_SWITCH_ENTITY,
    CONF_LOADPOINT_MODE_ENTITY,
    CONF_SMART_COST_LIMIT_ENTITY,
    DEFAULT_CHARGER_PHASES,
)
from .planner.buffer import FLOOR_FRACTION
from .planner.model import Decision, LoadpointMode

_LOGGER = logging.getLogger(__name__)

NUMBER_DOMAINS = ("number", "input_number")
SELECT_DOMAINS = ("select", "input_select")
SWITCH_DOMAINS = ("switch", "input_boolean")
BATTERY_FLOOR_PCT = 100.0 * FLOOR_FRACTION  # the reserve written is never below this


@dataclass(frozen=True, kw_only=True, slots=True)
class Write:
    """One service call that brings an actuator to the plan's value."""

    entity_id: str
    domain: str
    service: str
    data: dict[str, Any] = field(default_factory=dict)
    key: str = ""  # the actuator's config key (CONF_..._ENTITY) it was written for

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


def _tag(write: Write | None, key: str) -> Write | None:
    return None if write is None else dataclasses.replace(write, key=key)


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

    def wanted(attrs: Mapping[str, Any], low: float) -> float | str:
        if eur_per_kwh is None:
            return low if math.isfinite(low) else "no minimum to disable"
        return _price_to_unit(eur_per_kwh, str(attrs.get(ATTR_UNIT_OF_MEASUREMENT) or ""))

    return _set_number(hass, entity_id, wanted, problems)


def _set_number(
    hass: HomeAssistant,
    entity_id: str,
    wanted_fn: Callable[[Mapping[str, Any], float], float | str],
    problems: list[ActuatorProblem],
    *,
    rounding: Callable[[float], float] = round,
) -> Write | None:
    """Bring a number to ``wanted_fn(attributes, minimum)`` (a str: why it cannot), clamped to
    the entity's range and rounded to its step (``rounding``: nearest, or math.floor/ceil)."""
    state = hass.states.get(entity_id)
    if (reason := _unusable(entity_id, state, NUMBER_DOMAINS)) is not None:
        problems.append(ActuatorProblem(entity_id=entity_id, error=reason))
        return None
    assert state is not None
    attrs = state.attributes
    low = _float(attrs.get("min"), -math.inf)
    high = _float(attrs.get("max"), math.inf)
    step = _float(attrs.get("step"), 0.0)
    wanted = wanted_fn(attrs, low)
    if isinstance(wanted, str):
        problems.append(ActuatorProblem(entity_id=entity_id, error=wanted))
        return None
    wanted = min(max(wanted, low), high)
    if step > 0:
        base = low if math.isfinite(low) else 0.0
        steps = (wanted - base) / step
        wanted = min(base + rounding(round(steps, 6)) * step, high)
        wanted = round(wanted, 6)
    current = _float(state.state, math.nan)
    if math.isfinite(current) and abs(current - wanted) <= max(step / 2, 1e-9):
        return None
    return Write(
        entity_id=entity_id, domain=_domain(entity_id), service="set_value", data={"value": wanted}
    )


def _unit_problem(attrs: Mapping[str, Any], units: tuple[str, ...]) -> str | None:
    """None when the entity's unit is one of ``units`` or it has none."""
    unit = str(attrs.get(ATTR_UNIT_OF_MEASUREMENT) or "").strip()
    return None if not unit or unit in units else f"unit '{unit}' is not {' or '.join(units)}"


def charger_current_a(charge_kw: float, phases: int) -> float:
    """The charging current for a power on a plain charger: P / (phases x 230 V)."""
    return max(0.0, charge_kw) * 1000.0 / (max(1, phases) * CHARGER_VOLTAGE_V)


def _charger_writes(
    hass: HomeAssistant,
    conf: Mapping[str, Any],
    decision: Decision,
    problems: list[ActuatorProblem],
) -> list[Write | None]:
    """A plain charger (no evcc): on while the plan charges a car, at the planned power.

    The current is the planned power over (phases x 230 V), rounded down to the entity's step and
    clamped to its range (a charger's minimum is usually 6 A): the charger cannot follow the PV
    surplus as evcc does, so a PV slot charges at the forecast surplus the plan counted on. Off
    is the switch turned off; a charger with a current entity only goes to its minimum.
    """
    switch_id = conf.get(CONF_CHARGER_SWITCH_ENTITY)
    current_id = conf.get(CONF_CHARGER_CURRENT_ENTITY)
    on = decision.loadpoint_mode is not LoadpointMode.OFF and decision.vehicle_charge_kw > 1e-3
    phases = int(conf.get(CONF_CHARGER_PHASES, DEFAULT_CHARGER_PHASES))
    writes: list[Write | None] = []
    if current_id and (on or not switch_id):

        def amps(attrs: Mapping[str, Any], low: float) -> float | str:
            if (problem := _unit_problem(attrs, ("A",))) is not None:
                return problem
            if not on:
                return low if math.isfinite(low) else 0.0
            return charger_current_a(decision.vehicle_charge_kw, phases)

        write = _set_number(hass, current_id, amps, problems, rounding=math.floor)
        writes.append(_tag(write, CONF_CHARGER_CURRENT_ENTITY))
    if switch_id:
        writes.append(
            _tag(_switch_write(hass, switch_id, on, problems), CONF_CHARGER_SWITCH_ENTITY)
        )
    return writes


def _min_soc_write(
    hass: HomeAssistant, entity_id: str, min_soc_pct: float, problems: list[ActuatorProblem]
) -> Write | None:
    """The battery reserve: the plan's minimum SoC (%), never below the 10 % floor."""
    pct = max(float(min_soc_pct), BATTERY_FLOOR_PCT)

    def wanted(attrs: Mapping[str, Any], low: float) -> float | str:
        return problem if (problem := _unit_problem(attrs, ("%",))) is not None else pct

    return _set_number(hass, entity_id, wanted, problems, rounding=math.ceil)


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
    hass: HomeAssistant,
    conf: Mapping[str, Any],
    decision: Decision,
    *,
    min_soc_pct: float | None = None,
) -> tuple[list[Write], list[ActuatorProblem]]:
    """The service calls that bring every configured actuator to the decision (none if right).

    ``min_soc_pct``: the plan's battery minimum (the dynamic buffer) for the reserve entity.
    """
    writes: list[Write | None] = []
    problems: list[ActuatorProblem] = []
    if entity_id := conf.get(CONF_LOADPOINT_MODE_ENTITY):
        write = _select_write(hass, entity_id, decision.loadpoint_mode.value, problems)
        writes.append(_tag(write, CONF_LOADPOINT_MODE_ENTITY))
    if entity_id := conf.get(CONF_SMART_COST_LIMIT_ENTITY):
        write = _number_write(hass, entity_id, decision.smart_cost_limit_eur_per_kwh, problems)
        writes.append(_tag(write, CONF_SMART_COST_LIMIT_ENTITY))
    writes += _charger_writes(hass, conf, decision, problems)
    if entity_id := conf.get(CONF_BATTERY_GRID_CHARGE_LIMIT_ENTITY):
        limit = decision.battery_grid_charge_limit_eur_per_kwh
        write = _number_write(hass, entity_id, limit, problems)
        writes.append(_tag(write, CONF_BATTERY_GRID_CHARGE_LIMIT_ENTITY))
    if entity_id := conf.get(CONF_BATTERY_DISCHARGE_CONTROL_ENTITY):
        if _domain(entity_id) in SELECT_DOMAINS:
            write = _select_write(hass, entity_id, decision.battery_mode.value, problems)
        else:
            write = _switch_write(hass, entity_id, decision.battery_discharge_locked, problems)
        writes.append(_tag(write, CONF_BATTERY_DISCHARGE_CONTROL_ENTITY))
    if (entity_id := conf.get(CONF_BATTERY_MIN_SOC_ENTITY)) and min_soc_pct is not None:
        write = _min_soc_write(hass, entity_id, min_soc_pct, problems)
        writes.append(_tag(write, CONF_BATTERY_MIN_SOC_ENTITY))
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


def restore_write(
    hass: HomeAssistant, entity_id: str, value: str | None, problems: list[ActuatorProblem]
) -> Write | None:
    """The call that gives an actuator back a value (a state as recorded, or a safe value)."""
    domain = _domain(entity_id)
    if value is None or value in (STATE_UNAVAILABLE, "unknown", ""):
        problems.append(ActuatorProblem(entity_id=entity_id, error="no value to hand back"))
        return None
    if domain in SELECT_DOMAINS:
        return _select_write(hass, entity_id, value, problems)
    if domain in SWITCH_DOMAINS:
        if value not in (STATE_ON, STATE_OFF):
            problems.append(ActuatorProblem(entity_id=entity_id, error=f"'{value}' is not on/off"))
            return None
        return _switch_write(hass, entity_id, value == STATE_ON, problems)
    number = _float(value, math.nan)
    if not math.isfinite(number):
        problems.append(ActuatorProblem(entity_id=entity_id, error=f"'{value}' is not a number"))
        return None
    return _set_number(hass, entity_id, lambda _attrs, _low: number, problems)
