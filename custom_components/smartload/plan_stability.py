"""Plan stability in the shell: the options, the applied decision across cycles, the keep rule.

The coordinator hands each cycle's inputs to ``PlanStability.prepare`` (the planner knobs from the
options, each car's power now from the applied decision) and solves with ``PlanStability.plan``
in an executor job: the planner, ``decide`` and ``planner.stability.stabilise``. A new plan only
changes what is applied now when it saves at least the minimum gain or the situation changed;
``request_change`` (the re-plan button, a boost) makes the next cycle take the new plan as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import dataclasses
from typing import Any

from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
)
import probatio as vol

from .const import (
    CONF_MIN_CHARGE_BLOCK_MINUTES,
    CONF_REPLAN_PRICE_DELTA_CT,
    CONF_STABILITY_MIN_GAIN_EUR,
    DEFAULT_MIN_CHARGE_BLOCK_MINUTES,
    DEFAULT_REPLAN_PRICE_DELTA_CT,
    DEFAULT_STABILITY_MIN_GAIN_EUR,
)
from .planner.decision import decide
from .planner.lp import plan as solve
from .planner.model import Decision, LoadpointMode, Plan, PlanInput, PlanStatus
from .planner.stability import Applied, Outcome, StabilitySettings, stabilise

STABILITY_DEFAULTS: Mapping[str, float] = {
    CONF_STABILITY_MIN_GAIN_EUR: DEFAULT_STABILITY_MIN_GAIN_EUR,
    CONF_MIN_CHARGE_BLOCK_MINUTES: DEFAULT_MIN_CHARGE_BLOCK_MINUTES,
    CONF_REPLAN_PRICE_DELTA_CT: DEFAULT_REPLAN_PRICE_DELTA_CT,
}


def stability_fields() -> dict[vol.Marker, Any]:
    """The options form's fields (range-checked by their selectors and validators)."""

    def number(unit: str, maximum: float, step: float) -> Any:
        return vol.All(
            NumberSelector(
                NumberSelectorConfig(
                    min=0,
                    max=maximum,
                    step=step,
                    mode=NumberSelectorMode.BOX,
                    unit_of_measurement=unit,
                )
            ),
            vol.Coerce(float),
            vol.Range(min=0, max=maximum),
        )

    return {
        vol.Optional(CONF_STABILITY_MIN_GAIN_EUR): number("€", 10.0, 0.01),
        vol.Optional(CONF_MIN_CHARGE_BLOCK_MINUTES): number("min", 120.0, 15),
        vol.Optional(CONF_REPLAN_PRICE_DELTA_CT): number("ct/kWh", 100.0, 0.1),
    }


def stability_options(user_input: Mapping[str, Any]) -> dict[str, float]:
    """The options to store from the form (absent fields: the defaults)."""
    return {
        key: float(user_input.get(key, default))
        for key, default in STABILITY_DEFAULTS.items()
        if user_input.get(key) is not None
    }


class PlanStability:
    """The applied decision across cycles and the keep rule, with the entry's options."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        """Read the knobs."""

        def get(key: str) -> float:
            return float(options.get(key, STABILITY_DEFAULTS[key]))

        self.settings = StabilitySettings(
            min_gain_eur=get(CONF_STABILITY_MIN_GAIN_EUR),
            price_revision_eur_per_kwh=get(CONF_REPLAN_PRICE_DELTA_CT) / 100.0,
        )
        self.min_block_minutes = get(CONF_MIN_CHARGE_BLOCK_MINUTES)
        self.applied: Applied | None = None  # the decision applied and the inputs of its cycle
        self.last: Decision | None = None  # the previous cycle's decision (kept or new)
        self.outcome: Outcome | None = None  # the last cycle's keep-rule outcome
        self._force = False

    def request_change(self) -> None:
        """The next cycle applies its new plan as it is (re-plan button, boost)."""
        self._force = True

    def reset(self) -> None:
        """No decision stands (no plan this cycle): the next plan is applied as it comes."""
        self.applied = None
        self.last = None
        self.outcome = None

    def prepare(self, inputs: PlanInput) -> PlanInput:
        """The planner knobs from the options; each car's power now from the last decision."""
        settings = dataclasses.replace(
            inputs.settings, min_charge_block_minutes=self.min_block_minutes
        )
        prev = self.last
        vehicles = inputs.vehicles
        if prev is not None and prev.loadpoint_mode is not LoadpointMode.OFF:
            vehicles = tuple(
                dataclasses.replace(v, charging_kw=prev.vehicle_charge_kw)
                if v.name == prev.active_vehicle
                else v
                for v in vehicles
            )
        return dataclasses.replace(inputs, settings=settings, vehicles=vehicles)

    def plan(
        self, inputs: PlanInput, solver: Callable[[PlanInput], Plan] = solve
    ) -> tuple[Plan, Decision | None]:
        """Solve (with ``solver``, the planner), decide and apply the keep rule.

        Blocking: call it in an executor job.
        """
        plan = solver(inputs)
        if plan.status is PlanStatus.ERROR:
            self.reset()
            return plan, None
        decision = decide(inputs, plan)
        force, self._force = self._force, False
        out = stabilise(
            inputs,
            plan,
            decision,
            self.applied,
            solve=solver,
            settings=self.settings,
            force=force or plan.status is PlanStatus.FALLBACK,
        )
        self.outcome = out
        self.applied = out.applied  # the new decision, or the kept one with its loss so far
        self.last = out.decision
        return out.plan, out.decision

    def diagnostics(self) -> dict[str, Any]:
        """The knobs and the last outcome."""
        out = self.outcome
        return {
            "min_gain_eur": self.settings.min_gain_eur,
            "price_revision_eur_per_kwh": self.settings.price_revision_eur_per_kwh,
            "min_charge_block_minutes": self.min_block_minutes,
            "kept": out.kept if out is not None else None,
            "gain_eur": None if out is None or out.gain_eur is None else round(out.gain_eur, 4),
            "reason": out.reason if out is not None else None,
        }
