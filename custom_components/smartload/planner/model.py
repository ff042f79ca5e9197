"""Typed inputs and outputs of the planning core.

Plain dataclasses and numpy arrays, no Home Assistant import. Units are in the field names; every
array has one element per slot; times are timezone-aware UTC ``datetime``s. Slot ``t`` covers
``[start + t*slot, start + (t+1)*slot)``; a state (SoC) array holds the value at each slot's *end*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
import math

import numpy as np
from numpy.typing import NDArray

type FloatArray = NDArray[np.float64]
type BoolArray = NDArray[np.bool_]


class PlanStatus(StrEnum):
    """How a plan came about."""

    OPTIMAL = "optimal"  # the LP solved; every departure target is met
    SHORTFALL = "shortfall"  # the LP solved; at least one departure target cannot be met
    FALLBACK = "fallback"  # the solver failed or timed out; a rule-based plan stands in
    ERROR = "error"  # no plan at all (bad input)


class BatteryMode(StrEnum):
    """What the plan asks of the home battery in a slot (how evcc can drive a real inverter)."""

    NORMAL = "normal"  # self-consumption: the inverter charges from surplus, discharges for load
    HOLD = "hold"  # no discharge (keep the energy for later); may still take PV surplus
    CHARGE = "charge"  # charge from the grid (up to the plan's price limit / target SoC)


@dataclass(frozen=True, kw_only=True, slots=True)
class BatteryInput:
    """The home battery as it is now."""

    capacity_kwh: float
    soc_kwh: float
    min_soc_kwh: float
    max_soc_kwh: float
    max_charge_kw: float
    max_discharge_kw: float
    charge_efficiency: float = 0.95
    discharge_efficiency: float = 0.95
    end_soc_min_kwh: float = 0.0  # energy that must remain at the end of the horizon
    wear_cost_eur_per_kwh: float = 0.0  # per kWh of throughput (charged + discharged)


@dataclass(frozen=True, kw_only=True, slots=True)
class VehicleInput:
    """One car that may use the shared wallbox."""

    name: str
    capacity_kwh: float
    soc_kwh: float
    target_soc_kwh: float
    max_charge_kw: float
    charge_efficiency: float = 0.9
    plugged_from_slot: int = 0  # first slot in which it can charge (0: plugged in now)
    departure_slot: int | None = None  # the target must be reached by this slot's start
    priority: int = 3  # 1 = highest; breaks ties between cars
    # Energy the car is expected to use beyond its next departure, before it could charge again
    # cheaply; energy above the target up to this amount carries the terminal value (0: none).
    expected_use_kwh: float = 0.0
    # Power into the car now (kW, 0: not charging): continuing a running charge is no new start
    # (see PlannerSettings.min_charge_block_minutes).
    charging_kw: float = 0.0
    # True: soc_kwh is an estimate (the SoC sensor is stale; a conservative figure from the energy
    # delivered since its last reading), not a fresh reading.
    soc_estimated: bool = False
    # Boost (the driver's override): full power in the slots before ``boost_until_slot``, whatever
    # the price, until the car holds ``boost_target_kwh`` (None: its capacity). 0: no boost.
    boost_until_slot: int = 0
    boost_target_kwh: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class PlannerSettings:
    """How the planner values things; defaults are what the integration ships."""

    shortfall_penalty_eur_per_kwh: float = 10.0
    # Value of energy left at the end of the horizon. None: derive it from the price forecast
    # (what the integration does); 0.0: worthless (the benchmark scenario mode).
    terminal_value_eur_per_kwh: float | None = None
    # Forbid simultaneous import+export and battery charge+discharge (matters at negative prices).
    enforce_exclusivity: bool = True
    time_limit_s: float = 5.0
    # Derived terminal value (when terminal_value_eur_per_kwh is None), see planner.lp: a stored
    # battery kWh is worth this quantile of the horizon's import prices x discharge efficiency
    # (minus wear); a car kWh (up to target + expected use) this quantile / charge efficiency.
    terminal_battery_price_quantile: float = 0.5
    terminal_vehicle_price_quantile: float = 0.25
    # Price limits cover the grid-charging run that starts now, at most this many hours.
    price_limit_window_h: float = 12.0
    # Cost of curtailing one kWh of PV: the inverter limits feed-in when the export limit would
    # be exceeded. A high cost keeps it to what physics forces. None: PV cannot be curtailed
    # (the benchmark scenario mode, whose answers have no curtailment).
    pv_curtailment_eur_per_kwh: float | None = 1.0
    # No on/off chatter of a car's charging: a rise of its charging power lasts at least this
    # long, and so does a fall (planner.lp), unless the car's departure cuts the block short.
    # 0 or one slot: no minimum (the benchmark scenario mode).
    min_charge_block_minutes: float = 30.0
    # Optional: every kW by which a car's charging power rises (from what it charges at now)
    # costs this much (EUR/kW), which merges blocks (0: no penalty).
    charge_start_penalty_eur_per_kw: float = 0.0


@dataclass(frozen=True, kw_only=True, slots=True)
class FirstSlot:
    """The current slot fixed to what a kept decision does: each car's power and the battery mode.

    Cars not named get no power. The planner clips a power to what the car can take (its window,
    its room). The battery: NORMAL charges only from the slot's forecast surplus, HOLD in
    addition does not discharge, CHARGE does not discharge; None leaves it free.
    """

    vehicle_kw: tuple[tuple[str, float], ...] = ()
    battery_mode: BatteryMode | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class PlanInput:
    """Everything the planner needs at one moment."""

    start: datetime
    slot_minutes: int = 15
    import_price_eur_per_kwh: FloatArray
    export_price_eur_per_kwh: FloatArray
    load_kw: FloatArray
    pv_kw: FloatArray
    max_import_kw: float = math.inf
    max_export_kw: float = math.inf
    wallbox_max_kw: float = 11.0
    battery: BatteryInput | None = None
    vehicles: tuple[VehicleInput, ...] = ()
    # True where the price is an estimate (beyond the published forecast), not a published price.
    price_estimated: BoolArray | None = None
    settings: PlannerSettings = field(default_factory=PlannerSettings)
    # Slot 0 fixed to a decision that is kept (plan stability, planner.stability); None: free.
    first_slot: FirstSlot | None = None
    # The PV forecast's 10 % / 90 % quantiles per slot where the source gives them (Solcast); shown
    # as the confidence band of the plan's timeline (the planner itself uses pv_kw only).
    pv_p10_kw: FloatArray | None = None
    pv_p90_kw: FloatArray | None = None

    @property
    def n_slots(self) -> int:
        """Number of slots in the horizon."""
        return len(self.import_price_eur_per_kwh)

    @property
    def dt_h(self) -> float:
        """Slot length in hours."""
        return self.slot_minutes / 60.0

    def slot_start(self, slot: int) -> datetime:
        """Start time of a slot."""
        return self.start + timedelta(minutes=self.slot_minutes * slot)


@dataclass(frozen=True, kw_only=True, slots=True)
class Why:
    """A plain-language reason for one slot, as a translation key plus its parameters.

    ``planner.explain.render(why, lang, tz)`` renders it (English and German templates).
    """

    key: str
    params: dict[str, str | float] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class VehiclePlan:
    """What the plan does with one car."""

    name: str
    charge_kw: FloatArray  # power into the car (from the wallbox), per slot
    soc_kwh: FloatArray  # at each slot's end
    shortfall_kwh: float  # energy missing at departure (0: target met)
    soc_at_departure_kwh: float | None  # None: no departure in the horizon
    # Highest import price at which the plan still charges this car from the grid in the coming
    # window (what evcc's smart cost limit should be); None: no grid charging planned.
    price_limit_eur_per_kwh: float | None
    # Marginal value of one more kWh in this car at each slot's end (dual of its SoC dynamics,
    # €/kWh; zeros where the solver gives none): what the explanations compare prices against.
    value_eur_per_kwh: FloatArray


@dataclass(frozen=True, kw_only=True, slots=True)
class Plan:
    """The planner's answer."""

    status: PlanStatus
    start: datetime
    slot_minutes: int
    grid_import_kw: FloatArray
    grid_export_kw: FloatArray
    battery_charge_kw: FloatArray
    battery_discharge_kw: FloatArray
    battery_soc_kwh: FloatArray  # at each slot's end (zeros without a battery)
    battery_mode: tuple[BatteryMode, ...]
    # Highest import price at which the plan charges the battery from the grid in the coming window.
    battery_price_limit_eur_per_kwh: float | None
    # Marginal value of one more stored kWh at each slot's end (dual of the SoC dynamics, €/kWh).
    battery_value_eur_per_kwh: FloatArray
    vehicles: tuple[VehiclePlan, ...]
    cost_eur: float  # grid cost of the horizon: sum((import*p_in - export*p_out) * dt)
    objective_eur: float  # what the solver minimised (cost + penalties - terminal value)
    solve_ms: float
    why: tuple[Why, ...]  # one per slot
    price_estimated: BoolArray
    message: str = ""  # for fallback/error: what went wrong
    pv_curtailed_kw: FloatArray | None = None  # PV the plan curtails per slot (None: none)

    @property
    def n_slots(self) -> int:
        """Number of slots in the plan."""
        return len(self.grid_import_kw)

    def vehicle(self, name: str) -> VehiclePlan | None:
        """The plan of one car by name."""
        return next((v for v in self.vehicles if v.name == name), None)


class LoadpointMode(StrEnum):
    """evcc loadpoint modes."""

    OFF = "off"
    PV = "pv"  # charge from PV surplus only
    MINPV = "minpv"  # minimum current from the grid, the rest from surplus
    NOW = "now"  # full power now


@dataclass(frozen=True, kw_only=True, slots=True)
class Decision:
    """What to do *now* (the plan's current slot), in the terms evcc and the inverter understand.

    The simulator executes exactly this, and the Home Assistant shell writes it to evcc's entities,
    so both run the same translation (``planner.decision.decide``).
    """

    loadpoint_mode: LoadpointMode
    active_vehicle: str | None  # the car the plan charges on the wallbox now (None: none)
    vehicle_charge_kw: float  # planned power into that car in this slot
    # evcc's smart cost limit for the loadpoint: charge from the grid while price <= limit.
    smart_cost_limit_eur_per_kwh: float | None
    battery_mode: BatteryMode
    # evcc's battery grid-charge limit: charge the battery from the grid while price <= limit.
    battery_grid_charge_limit_eur_per_kwh: float | None
    battery_discharge_locked: bool  # True: the battery must not discharge (HOLD, or while CHARGE)
    battery_target_soc_kwh: float | None  # CHARGE: stop at this SoC
    why: Why
