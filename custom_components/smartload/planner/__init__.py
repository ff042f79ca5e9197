"""SmartLoad's planning core: plain Python + numpy/scipy, no Home Assistant import.

Importing this package is cheap: scipy and highspy are imported inside the functions that solve.
"""

from .lp import TerminalValues, plan, terminal_values, validate, warm_up
from .model import (
    BatteryInput,
    BatteryMode,
    Plan,
    PlanInput,
    PlannerSettings,
    PlanStatus,
    VehicleInput,
    VehiclePlan,
    Why,
)
from .scenario import check_answer, plan_to_answer, scenario_to_input

__all__ = [
    "BatteryInput",
    "BatteryMode",
    "Plan",
    "PlanInput",
    "PlanStatus",
    "PlannerSettings",
    "TerminalValues",
    "VehicleInput",
    "VehiclePlan",
    "Why",
    "check_answer",
    "plan",
    "plan_to_answer",
    "scenario_to_input",
    "terminal_values",
    "validate",
    "warm_up",
]
