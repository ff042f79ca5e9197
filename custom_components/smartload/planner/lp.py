"""The planner's linear program: battery and cars on one wallbox against a price forecast.

Model (slot ``t`` of ``N``, length ``dt`` hours; every variable a named slice of one vector ``x``)::

    balance     imp_t - exp_t - bc_t + bd_t - sum_k cc_kt            = load_t - pv_t
    battery     bs_t - bs_(t-1) - dt*eta_c*bc_t + dt/eta_d*bd_t       = 0      (bs_(-1) = soc0)
    car k       add_k - dt*eta_k*sum_t cc_kt                          = 0
    wallbox     sum_k cc_kt                                           <= wallbox_max_kw
    target k    add_k + short_k                                       >= target_k - soc0_k
    car value k g_k + g2_k - add_k                                    <= 0,    0 <= g_k <= G_k,
                                                                               0 <= g2_k <= G2_k
    bounds      0 <= imp <= max_import, 0 <= exp <= max_export, 0 <= bc <= P_c, 0 <= bd <= P_d,
                min_soc <= bs <= max_soc, bs_(N-1) >= end_soc_min, 0 <= cc_k <= P_k inside the
                plug-in window (plugged_from_slot <= t < departure_slot), else 0,
                0 <= add_k <= capacity_k - soc0_k, 0 <= cur_t <= pv_t (curtailed PV, only in
                slots where it can be needed or pay: it enters the balance as -cur_t and costs
                pv_curtailment_eur_per_kwh; not at all in scenario mode)

    minimise    sum_t dt*(p_in*imp - p_out*exp + wear*(bc + bd))
                + penalty * sum_k short_k - v_bat*(bs_(N-1) - soc0) - sum_k (v_k*g_k + v2_k*g2_k)
                (+ a tie-break of 1e-5 EUR/kWh x (priority + t/N) on car charging: the
                higher-priority car first; earlier slots first where the solver's tolerances
                can see the difference, i.e. short horizons only)

No on/off chatter (``settings.min_charge_block_minutes``, B slots): for each car, slot t of its
window and 1 <= j < B (t + j inside the window) a row
``-now_k [t=0] <= cc_(k,t+j) - cc_(k,t) + cc_(k,t-1) <= P_k - now_k [t=0]`` (``cc_(k,-1)`` = the
power it charges at now, ``VehicleInput.charging_kw``): a rise of its charging power lasts B slots
and so does a fall — a linear minimum up/down time, no binaries. Only a departure (the window's
end) cuts a block short, so a forced short charge stays possible. Optionally
(``charge_start_penalty_eur_per_kw``) every kW of rise costs, ``up_kt >= cc_kt - cc_k(t-1)``.

A car only charges, and only inside its window, so its SoC is ``soc0_k`` plus the running sum of
``dt*eta_k*cc_k``: its SoC at departure (or at the horizon's end) is ``soc0_k + add_k`` and no
earlier SoC can bind. Its dynamics therefore collapse into one row (the SoC array is the running
sum); the battery, which also discharges, keeps one dynamics row per slot. The wallbox rows exist
only in the slots where the plugged-in cars could exceed the wallbox together.

One wallbox charges one car at a time; the wallbox row lets the plan share a slot's power between
cars (a relaxation: ``decision.decide`` gives the slot to one car and later cycles re-plan the
rest). The one slot no later cycle can correct is a car's last slot before it leaves, so while a
car is below its target, the other cars get no power in that slot (a restriction, not a binary).
Without it, a plan that needs every remaining slot at full power could miss a target by the part
of a shared slot (seen on the shared year's data).

The constraint matrix is assembled from ``scipy.sparse`` blocks sized by the horizon (identities,
the difference operator ``D = I - shift``, slot selections, ``[I, I, ...]`` for the cars), one dict
``{variable: block}`` per row group, stacked in one go (``_assemble``); nothing loops over slots.
A departure target that cannot be met is absorbed by ``short_k`` (penalised), so the problem is
never infeasible because of a car.

Terminal value (what makes a rolling plan pay). With ``settings.terminal_value_eur_per_kwh`` set,
every stored kWh (battery and car) is worth that much at the horizon's end (0.0: scenario mode).
When it is None it is derived from the forecast itself, nothing tuned to particular days:

- battery: a kWh still stored at the end will later displace an import. Its price is unknown, so a
  robust statistic stands in: the ``terminal_battery_price_quantile`` (default the median) of the
  horizon's import prices. Discharging delivers ``eta_d`` of it and wears the battery, so
  ``v_bat = eta_d * (Q_b(p_in) - wear)``, floored at 0 (stored energy can always just be kept).
  Since ``Q_b <= max(p_in)`` the value never exceeds what the kWh could earn in this horizon. The
  plan therefore charges from the grid only below ``eta_c * v_bat`` and, at the end, discharges
  only above ``Q_b`` (minus wear): it does not drain the battery because the horizon ends.
- cars: the energy a car gains, up to ``target + expected_use_kwh`` (for a car that departs in the
  horizon: evaluated at its departure, so energy above the target counts up to its expected use;
  for a car with no departure in the horizon: at the horizon's end, including the energy up to the
  target), replaces energy it would otherwise charge later. A car charges in cheap slots, so the
  price it would otherwise pay is a *low* quantile (``terminal_vehicle_price_quantile``, default
  0.25) of the import prices, and a kWh in the car replaces ``1/eta_k`` kWh from the grid:
  ``v_k = Q_v(p_in) / eta_k``, floored at 0. The plan then fills a car beyond its target in the
  slots cheaper than ``Q_v`` and puts PV surplus into it rather than exporting it below ``Q_v``.
- spare room in a car (above ``target + expected_use_kwh``, up to its capacity): the car will
  drive again, so such a kWh also replaces a later charge, only further ahead, when it may come
  from PV surplus (worth the feed-in ``p_out``) as well as from the grid (worth ``Q_v``). Nothing
  in the horizon says which, so each counts half: ``v2_k = (p_out + (Q_v - p_out) / 2) / eta_k``
  with ``p_out`` the horizon's median feed-in (``v2_k <= v_k``). The plan then puts PV surplus
  that the battery cannot take into the car rather than exporting it, and grid energy only when
  it costs less than ``(p_out + Q_v) / 2`` (negative and near-zero spot prices); it does not
  fill the car to capacity from the grid at ordinary prices, where nothing is gained. Measured on
  the shared year (benchmarks/simulate/README.md) this lowers both the raw and the adjusted cost.

Physical plans (no simultaneous import+export, no simultaneous battery charge+discharge). Both
tempt an LP only when energy has a non-positive value somewhere: import price <= export price
(arbitrage by buying and selling at once) or a non-positive price (burning energy through the
battery's losses). The LP is solved first; in the usual case it is physical already (where the
two grid prices are equal an overlap is netted at no cost). Only when it is not, binaries are added
in the tempted slots (``p_in < p_out``, ``min(p_in, p_out) <= 0``) and wherever the relaxation
overlapped, the MILP is solved, and the LP is re-solved with those directions fixed to obtain the
duals. ``settings.enforce_exclusivity`` toggles this.

Solvers, measured with ``script/bench --solvers`` on the 2-core dev machine (load ~2 from other
jobs; backends interleaved; 48 h x 15 min, battery + 3 cars: 478 rows x 1,544 columns; median
wall ms, CPU ms within 1 %):

    model build (sparse blocks)                        1.7
    LP, highspy (bare HighsLp, presolve off)           8.5    <- used
    LP, scipy.optimize.linprog (HiGHS)                13.0
    MILP, binaries in all 192 slots, highspy           525
    MILP, binaries in all 192 slots, scipy milp        465
    whole plan, real negative-price day (24 h, battery + 2 cars; LP, MILP on the 8-28 tempted
    slots, fixed LP, explanations): highspy 86-91, scipy 94-102

So the direct highspy call is ~1.5x faster than linprog for the LP (no conversion and checking
layer), exclusivity binaries everywhere would cost ~60x the LP on every cycle, and binaries only
where the LP is tempted cost ~10x the LP, on the few days that need them. HiGHS' presolve is
off: it costs more than it saves on these small models (LP ~30 %, MILP ~3x). Warm-starting the
MILP with a direction-fixing heuristic did not help (HiGHS finds the optimum at its root node).

Duals: ``battery_value_eur_per_kwh[t]`` and each ``VehiclePlan.value_eur_per_kwh[t]`` are the
marginal value of one more kWh stored at the end of slot ``t`` (minus the dual of that slot's SoC
dynamics row), taken from the final LP (after a MILP: the LP with the binaries fixed). A car's
value is the same in every slot before its departure (a kWh added at any time before counts
alike) and 0 after it.

Price limits: for the battery and each car, the highest import price among the slots in which the
plan charges it from the grid, over the run of such slots that starts *now* (slot 0), at most
``settings.price_limit_window_h`` hours; None when the plan does not charge it from the grid now.
evcc's limit acts immediately (charge while price <= limit), and the plan is re-solved every cycle,
so a limit covering a later run would make evcc charge now, against the plan.

SoC limits: a battery below its minimum SoC now (or above its maximum) is allowed to stay there
but never goes further out (floor ``min(min_soc, soc0)``); this keeps the LP feasible whatever the
grid limits are. ``end_soc_min`` applies as far as the battery's charge power can reach it.

Battery mode per slot: CHARGE when the battery takes grid energy (it charges more than the PV
surplus left after load and cars, while the house imports); HOLD when it deliberately does not
discharge although the house imports and it could (above its minimum SoC); NORMAL otherwise.

scipy and highspy are imported inside functions: Home Assistant must not import them at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
from dataclasses import dataclass
import logging
import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from .model import (
    BatteryInput,
    BatteryMode,
    FirstSlot,
    FloatArray,
    Plan,
    PlanInput,
    PlanStatus,
    VehicleInput,
    VehiclePlan,
)
from .prices import leading_run_price_limit

if TYPE_CHECKING:
    from scipy import sparse

_LOGGER = logging.getLogger(__name__)

# A flow or energy below this counts as zero (kW / kWh); the benchmark checks at 1e-6.
FLOW_TOL = 1e-6
# Shortfall below this (kWh) is solver noise, not a missed target.
SHORTFALL_TOL = 1e-4
# Tie-break (EUR/kWh, far below any real price difference, above HiGHS' 1e-7 dual tolerance
# per priority step): at equal prices the higher-priority car first (and early, where visible).
_TIE_EUR_PER_KWH = 1e-5
# Exclusivity rounds: MILP + fixed LP, repeated only if an overlap appears in a new slot.
_MAX_EXCLUSIVITY_ROUNDS = 3
_MILP_SHARE = 0.5  # of the time left that the exclusivity MILP may take

# --------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------


def _series(name: str, value: Any, n: int | None) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a one-dimensional series, got shape {arr.shape}")
    if n is not None and len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} values but the price forecast has {n}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


def _finite(name: str, value: float) -> None:
    _check(isinstance(value, int | float) and math.isfinite(value), f"{name} must be finite")


def validate(inputs: PlanInput) -> None:
    """Raise ValueError with a clear message when the inputs are inconsistent."""
    p_in = _series("import_price_eur_per_kwh", inputs.import_price_eur_per_kwh, None)
    n = len(p_in)
    _check(n > 0, "the price forecast is empty")
    _series("export_price_eur_per_kwh", inputs.export_price_eur_per_kwh, n)
    load = _series("load_kw", inputs.load_kw, n)
    pv = _series("pv_kw", inputs.pv_kw, n)
    _check(bool(np.all(load >= 0)), "load_kw must not be negative")
    _check(bool(np.all(pv >= 0)), "pv_kw must not be negative")
    if inputs.price_estimated is not None:
        _check(len(inputs.price_estimated) == n, "price_estimated must have one value per slot")
    _check(inputs.slot_minutes > 0, "slot_minutes must be positive")
    for name in ("max_import_kw", "max_export_kw", "wallbox_max_kw"):
        value = getattr(inputs, name)
        _check(not math.isnan(value) and value >= 0, f"{name} must be >= 0")
    s = inputs.settings
    _finite("shortfall_penalty_eur_per_kwh", s.shortfall_penalty_eur_per_kwh)
    _check(s.shortfall_penalty_eur_per_kwh > 0, "shortfall_penalty_eur_per_kwh must be positive")
    _check(s.time_limit_s > 0, "time_limit_s must be positive")
    if s.terminal_value_eur_per_kwh is not None:
        _finite("terminal_value_eur_per_kwh", s.terminal_value_eur_per_kwh)
    for name in ("terminal_battery_price_quantile", "terminal_vehicle_price_quantile"):
        _check(0.0 <= getattr(s, name) <= 1.0, f"{name} must be within [0, 1]")
    _check(s.price_limit_window_h > 0, "price_limit_window_h must be positive")
    _finite("min_charge_block_minutes", s.min_charge_block_minutes)
    _check(s.min_charge_block_minutes >= 0, "min_charge_block_minutes must be >= 0")
    _finite("charge_start_penalty_eur_per_kw", s.charge_start_penalty_eur_per_kw)
    _check(s.charge_start_penalty_eur_per_kw >= 0, "charge_start_penalty_eur_per_kw must be >= 0")
    if s.pv_curtailment_eur_per_kwh is not None:
        _finite("pv_curtailment_eur_per_kwh", s.pv_curtailment_eur_per_kwh)
        _check(s.pv_curtailment_eur_per_kwh >= 0, "pv_curtailment_eur_per_kwh must be >= 0")
    if (b := inputs.battery) is not None:
        _validate_battery(b)
    names = [v.name for v in inputs.vehicles]
    _check(len(set(names)) == len(names), f"vehicle names must be unique: {names}")
    for v in inputs.vehicles:
        _validate_vehicle(v)


def _validate_battery(b: BatteryInput) -> None:
    for name in (
        "capacity_kwh",
        "soc_kwh",
        "min_soc_kwh",
        "max_soc_kwh",
        "max_charge_kw",
        "max_discharge_kw",
        "charge_efficiency",
        "discharge_efficiency",
        "end_soc_min_kwh",
        "wear_cost_eur_per_kwh",
    ):
        _finite(f"battery {name}", getattr(b, name))
    _check(b.capacity_kwh > 0, "battery capacity_kwh must be positive")
    _check(
        0 <= b.min_soc_kwh <= b.max_soc_kwh <= b.capacity_kwh,
        "battery SoC limits must satisfy 0 <= min_soc_kwh <= max_soc_kwh <= capacity_kwh",
    )
    _check(0 <= b.soc_kwh <= b.capacity_kwh, "battery soc_kwh must be within [0, capacity_kwh]")
    _check(b.max_charge_kw >= 0 and b.max_discharge_kw >= 0, "battery powers must be >= 0")
    for name in ("charge_efficiency", "discharge_efficiency"):
        _check(0 < getattr(b, name) <= 1, f"battery {name} must be within (0, 1]")
    _check(b.end_soc_min_kwh <= b.max_soc_kwh, "battery end_soc_min_kwh exceeds max_soc_kwh")
    _check(b.wear_cost_eur_per_kwh >= 0, "battery wear_cost_eur_per_kwh must be >= 0")


def _validate_vehicle(v: VehicleInput) -> None:
    who = f"vehicle {v.name!r}"
    for name in (
        "capacity_kwh",
        "soc_kwh",
        "target_soc_kwh",
        "max_charge_kw",
        "charge_efficiency",
        "expected_use_kwh",
        "charging_kw",
    ):
        _finite(f"{who} {name}", getattr(v, name))
    _check(v.capacity_kwh > 0, f"{who}: capacity_kwh must be positive")
    _check(0 <= v.soc_kwh <= v.capacity_kwh, f"{who}: soc_kwh must be within [0, capacity_kwh]")
    _check(
        0 <= v.target_soc_kwh <= v.capacity_kwh,
        f"{who}: target_soc_kwh must be within [0, capacity_kwh]",
    )
    _check(v.max_charge_kw >= 0, f"{who}: max_charge_kw must be >= 0")
    _check(0 < v.charge_efficiency <= 1, f"{who}: charge_efficiency must be within (0, 1]")
    _check(v.plugged_from_slot >= 0, f"{who}: plugged_from_slot must be >= 0")
    _check(v.departure_slot is None or v.departure_slot >= 0, f"{who}: departure_slot must be >= 0")
    _check(v.expected_use_kwh >= 0, f"{who}: expected_use_kwh must be >= 0")
    _check(v.charging_kw >= 0, f"{who}: charging_kw must be >= 0")
    _check(v.boost_until_slot >= 0, f"{who}: boost_until_slot must be >= 0")
    if v.boost_target_kwh is not None:
        _finite(f"{who} boost_target_kwh", v.boost_target_kwh)


# --------------------------------------------------------------------------------------------
# Terminal value
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TerminalValues:
    """EUR per stored kWh at the horizon's end (battery) / at departure or end (each car)."""

    battery_eur_per_kwh: float
    vehicle_eur_per_kwh: tuple[float, ...]
    # Each car's room above target + expected use, up to its capacity (empty: not valued).
    vehicle_spare_eur_per_kwh: tuple[float, ...] = ()


def terminal_values(inputs: PlanInput) -> TerminalValues:
    """The value of stored energy at the horizon's end (see the module docstring)."""
    s = inputs.settings
    if s.terminal_value_eur_per_kwh is not None:
        value = float(s.terminal_value_eur_per_kwh)
        return TerminalValues(value, tuple(value for _ in inputs.vehicles))
    p_in = np.asarray(inputs.import_price_eur_per_kwh, dtype=np.float64)
    battery = 0.0
    if (b := inputs.battery) is not None:
        q_b = float(np.quantile(p_in, s.terminal_battery_price_quantile))
        battery = max(0.0, b.discharge_efficiency * (q_b - b.wear_cost_eur_per_kwh))
    q_v = max(0.0, float(np.quantile(p_in, s.terminal_vehicle_price_quantile)))
    cars = tuple(q_v / v.charge_efficiency for v in inputs.vehicles)
    if _SPARE_GRID_SHARE is None:
        return TerminalValues(battery, cars)
    feed_in = max(0.0, float(np.median(inputs.export_price_eur_per_kwh)))
    spare = min(q_v, feed_in + _SPARE_GRID_SHARE * max(0.0, q_v - feed_in))
    return TerminalValues(
        battery, cars, tuple(spare / v.charge_efficiency for v in inputs.vehicles)
    )


def charge_start_penalty(inputs: PlanInput) -> float:
    """EUR per kW by which a car's charging power rises (0: none, the default)."""
    if not inputs.vehicles:
        return 0.0
    return float(inputs.settings.charge_start_penalty_eur_per_kw)


def min_block_slots(inputs: PlanInput) -> int:
    """A car's charging block in slots (``min_charge_block_minutes``, at least one slot)."""
    minutes = inputs.settings.min_charge_block_minutes
    return max(1, math.ceil(minutes / inputs.slot_minutes - 1e-9))


# A kWh in a car beyond target + expected use replaces a later charge that comes either from PV
# surplus (worth the feed-in) or from the grid (worth Q_v): the share of the grid (see module doc).
_SPARE_GRID_SHARE: float | None = 0.5


# --------------------------------------------------------------------------------------------
# Model assembly
# --------------------------------------------------------------------------------------------


class _Layout:
    """Variables as named slices of one vector."""

    def __init__(self) -> None:
        self.slices: dict[str, slice] = {}
        self.size = 0

    def add(self, name: str, size: int) -> None:
        self.slices[name] = slice(self.size, self.size + size)
        self.size += size

    def __getitem__(self, name: str) -> slice:
        return self.slices[name]

    def __contains__(self, name: str) -> bool:
        return name in self.slices


@dataclass(slots=True)
class _Problem:
    """``min c@x + const  s.t.  row_lo <= A x <= row_hi,  col_lo <= x <= col_hi``."""

    layout: _Layout
    rows: dict[str, slice]  # row groups by name
    departing: tuple[int, ...]  # the cars with a departure in the horizon, in "short" order
    c: FloatArray
    const: float
    a: sparse.csc_matrix
    row_lo: FloatArray
    row_hi: FloatArray
    col_lo: FloatArray
    col_hi: FloatArray
    integrality: FloatArray | None = None


@dataclass(slots=True)
class _Fix:
    """Flow directions fixed per slot (True: that flow is forced to zero)."""

    no_import: np.ndarray
    no_export: np.ndarray
    no_charge: np.ndarray
    no_discharge: np.ndarray


@dataclass(slots=True)
class _Binaries:
    """Slots that get an exclusivity binary."""

    grid: np.ndarray  # slot indices
    battery: np.ndarray


def _departure(v: VehicleInput, n: int) -> int | None:
    """The departure slot if it lies within the horizon (its start is a slot boundary <= n)."""
    return v.departure_slot if v.departure_slot is not None and v.departure_slot <= n else None


def _curtailment_slots(inputs: PlanInput) -> np.ndarray:
    """Slots where curtailing PV can be needed or pay: the surplus over the load could exceed
    the export limit, or exporting costs more than curtailing. Elsewhere exporting all of the
    surplus is always feasible and cheaper, so no curtailment column is needed there."""
    cost = inputs.settings.pv_curtailment_eur_per_kwh
    if cost is None:
        return np.zeros(0, dtype=np.int64)
    pv = np.asarray(inputs.pv_kw, dtype=np.float64)
    load = np.asarray(inputs.load_kw, dtype=np.float64)
    p_out = np.asarray(inputs.export_price_eur_per_kwh, dtype=np.float64)
    need = (pv > 0) & ((pv - load > inputs.max_export_kw) | (p_out < -cost))
    return np.flatnonzero(need)


def _big_m(inputs: PlanInput, cars_max_kw: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Per slot, the most the meter can import (with no export) and export (with no import)."""
    load = np.asarray(inputs.load_kw, dtype=np.float64)
    pv = np.asarray(inputs.pv_kw, dtype=np.float64)
    b = inputs.battery
    imp = load - pv + (b.max_charge_kw if b else 0.0) + cars_max_kw
    exp = pv - load + (b.max_discharge_kw if b else 0.0)
    return (
        np.clip(imp, 0.0, inputs.max_import_kw),
        np.clip(exp, 0.0, inputs.max_export_kw),
    )


def _coo(values: Any, rows: Any, cols: Any, shape: tuple[int, int]) -> sparse.coo_matrix:
    from scipy import sparse

    return sparse.coo_matrix((values, (rows, cols)), shape=shape)


def _eye(n: int, coef: float | FloatArray = 1.0) -> sparse.coo_matrix:
    """coef * I_n (coef a scalar or one value per row)."""
    idx = np.arange(n)
    return _coo(np.broadcast_to(coef, n), idx, idx, (n, n))


def _select(rows: Any, n: int, coef: float | FloatArray = 1.0) -> sparse.coo_matrix:
    """coef * the rows ``rows`` of I_n (a slot selection)."""
    rows = np.asarray(rows)
    m = len(rows)
    return _coo(np.broadcast_to(coef, m), np.arange(m), rows, (m, n))


def _side_by_side(block: sparse.coo_matrix, k: int) -> sparse.coo_matrix:
    """[block, block, ..., block] (k times), i.e. kron(ones((1, k)), block)."""
    rows, cols = block.shape
    shift = np.repeat(np.arange(k) * cols, block.nnz)
    return _coo(
        np.tile(block.data, k),
        np.tile(block.row, k),
        np.tile(block.col, k) + shift,
        (rows, k * cols),
    )


def _row_sums(weights: FloatArray, n: int) -> sparse.coo_matrix:
    """Row k sums the k-th n columns, times weights[k]: kron(diag(weights), ones((1, n)))."""
    k = len(weights)
    return _coo(np.repeat(weights, n), np.repeat(np.arange(k), n), np.arange(k * n), (k, k * n))


def _assemble(
    groups: list[tuple[str, dict[str, Any], FloatArray, FloatArray]], lay: _Layout
) -> tuple[sparse.csc_matrix, dict[str, slice]]:
    """Stack the row groups' blocks into one matrix (what sparse.bmat does, without its
    per-block bookkeeping, which costs more than the whole LP build otherwise)."""
    from scipy import sparse

    rows: dict[str, slice] = {}
    data, row_idx, col_idx = [], [], []
    start = 0
    for name, group, r_lo, _ in groups:
        for var, block in group.items():
            coo = block.tocoo()
            data.append(coo.data)
            row_idx.append(coo.row + start)
            col_idx.append(coo.col + lay[var].start)
        rows[name] = slice(start, start + len(r_lo))
        start += len(r_lo)
    matrix = sparse.csc_matrix(
        (np.concatenate(data), (np.concatenate(row_idx), np.concatenate(col_idx))),
        shape=(start, lay.size),
    )
    return matrix, rows


def _build(
    inputs: PlanInput,
    values: TerminalValues,
    fix: _Fix | None = None,
    binaries: _Binaries | None = None,
) -> _Problem:
    """Assemble the LP (or, with ``binaries``, the MILP) from sparse blocks."""
    from scipy import sparse

    n = inputs.n_slots
    dt = inputs.dt_h
    slots = np.arange(n)
    p_in = np.asarray(inputs.import_price_eur_per_kwh, dtype=np.float64)
    p_out = np.asarray(inputs.export_price_eur_per_kwh, dtype=np.float64)
    load = np.asarray(inputs.load_kw, dtype=np.float64)
    pv = np.asarray(inputs.pv_kw, dtype=np.float64)
    bat = inputs.battery
    cars = inputs.vehicles
    n_cars = len(cars)
    eye = _eye(n)
    diff = sparse.diags([np.ones(n), -np.ones(n - 1)], [0, -1], format="coo")  # x_t - x_(t-1)
    first = np.zeros(n)
    first[0] = 1.0
    deps = [_departure(v, n) for v in cars]
    departing = [k for k in range(n_cars) if deps[k] is not None]
    caps = [_valued_energy(v, values.vehicle_eur_per_kwh[k]) for k, v in enumerate(cars)]
    spare_values = values.vehicle_spare_eur_per_kwh or (0.0,) * n_cars
    spares = [_spare_energy(v, caps[k], spare_values[k]) for k, v in enumerate(cars)]
    valued = [k for k in range(n_cars) if caps[k] > 0 or spares[k] > 0]
    spare = [k for k in valued if spares[k] > 0]

    # Variables: cc holds every car's charge power, car k in cc[k*n:(k+1)*n].
    lay = _Layout()
    lay.add("imp", n)
    lay.add("exp", n)
    if bat is not None:
        lay.add("bc", n)
        lay.add("bd", n)
        lay.add("bs", n)
    if n_cars:
        lay.add("cc", n_cars * n)
        lay.add("add", n_cars)  # energy each car gains over the horizon (kWh)
    if departing:
        lay.add("short", len(departing))  # shortfall at departure (kWh)
    if valued:
        lay.add("g", len(valued))  # added energy that carries the terminal value (kWh)
    if spare:
        lay.add("g2", len(spare))  # added energy above target + expected use (kWh)
    curtail = _curtailment_slots(inputs)
    if len(curtail):
        lay.add("cur", len(curtail))  # curtailed PV (kW) in those slots
    start_cost = charge_start_penalty(inputs)
    rises = _rise_slots(inputs, deps) if start_cost > 0 else np.zeros(0, dtype=np.int64)
    if len(rises):
        lay.add("up", len(rises))  # rise of a car's charging power into a slot (kW)
    if binaries is not None:
        lay.add("z", len(binaries.grid))  # 1: the meter may import, 0: it may export
        lay.add("y", len(binaries.battery))  # 1: the battery may charge, 0: it may discharge

    # Costs and bounds.
    c = np.zeros(lay.size)
    lo = np.zeros(lay.size)
    hi = np.full(lay.size, np.inf)
    const = 0.0
    c[lay["imp"]] = p_in * dt
    c[lay["exp"]] = -p_out * dt
    hi[lay["imp"]] = inputs.max_import_kw
    hi[lay["exp"]] = inputs.max_export_kw
    if bat is not None:
        wear = bat.wear_cost_eur_per_kwh * dt
        c[lay["bc"]] = wear
        c[lay["bd"]] = wear
        hi[lay["bc"]] = bat.max_charge_kw
        hi[lay["bd"]] = bat.max_discharge_kw
        # SoC limits. A battery that is below its minimum now (or above its maximum) may stay
        # where it is, but never goes further out: the plan never discharges it below
        # min(min_soc, soc0), which keeps the problem feasible whatever the grid limits are.
        soc_lo = np.full(n, min(bat.min_soc_kwh, bat.soc_kwh))
        soc_hi = np.full(n, max(bat.max_soc_kwh, bat.soc_kwh))
        # end_soc_min: as far as the battery's charge power can reach it.
        reach = bat.soc_kwh + n * dt * bat.max_charge_kw * bat.charge_efficiency
        soc_lo[-1] = max(soc_lo[-1], min(bat.end_soc_min_kwh, reach, soc_hi[-1]))
        lo[lay["bs"]] = soc_lo
        hi[lay["bs"]] = soc_hi
        c[lay["bs"].stop - 1] = -values.battery_eur_per_kwh
        const += values.battery_eur_per_kwh * bat.soc_kwh
    if n_cars:
        cc_hi = hi[lay["cc"]].reshape(n_cars, n)  # views into c / hi, one row per car
        cc_c = c[lay["cc"]].reshape(n_cars, n)
        for k, v in enumerate(cars):
            end = n if deps[k] is None else deps[k]
            window = (slots >= v.plugged_from_slot) & (slots < end)
            cc_hi[k] = np.where(window, min(v.max_charge_kw, inputs.wallbox_max_kw), 0.0)
            cc_c[k] = _TIE_EUR_PER_KWH * dt * (v.priority + slots / n)
        # The wallbox serves one car at a time; sharing a slot's power between cars is a
        # relaxation that later cycles sort out, except in a car's last slot before it leaves
        # (below its target): no later cycle can correct that one, so it is the leaving car's.
        for k, v in enumerate(cars):
            last = deps[k] - 1 if deps[k] is not None else -1
            if last >= 0 and cc_hi[k, last] > 0 and v.soc_kwh < v.target_soc_kwh:
                others = np.arange(n_cars) != k
                cc_hi[others, last] = 0.0
        hi[lay["add"]] = [v.capacity_kwh - v.soc_kwh for v in cars]  # SoC <= capacity
        # Boost: the driver's override is a lower bound on the car's power, not a preference.
        lo[lay["cc"]] = _boost_floor(inputs, cc_hi).ravel()
    if departing:
        c[lay["short"]] = inputs.settings.shortfall_penalty_eur_per_kwh
        hi[lay["short"]] = [max(0.0, cars[k].target_soc_kwh - cars[k].soc_kwh) for k in departing]
    if valued:
        c[lay["g"]] = [-values.vehicle_eur_per_kwh[k] for k in valued]
        hi[lay["g"]] = [caps[k] for k in valued]
    if spare:
        c[lay["g2"]] = [-spare_values[k] for k in spare]
        hi[lay["g2"]] = [spares[k] for k in spare]
    if "cur" in lay:
        c[lay["cur"]] = (inputs.settings.pv_curtailment_eur_per_kwh or 0.0) * dt
        hi[lay["cur"]] = pv[curtail]
    if "up" in lay:
        c[lay["up"]] = start_cost
    if (kept := inputs.first_slot) is not None:
        _fix_first_slot(inputs, kept, lo=lo, hi=hi, lay=lay, cc_hi=cc_hi if n_cars else None)
    if fix is not None:
        hi[lay["imp"]][fix.no_import] = 0.0
        hi[lay["exp"]][fix.no_export] = 0.0
        if bat is not None:
            hi[lay["bc"]][fix.no_charge] = 0.0
            hi[lay["bd"]][fix.no_discharge] = 0.0
    if binaries is not None:
        hi[lay["z"]] = 1.0
        hi[lay["y"]] = 1.0

    # Constraints: (name, {variable: block}, row_lo, row_hi).
    groups: list[tuple[str, dict[str, Any], FloatArray, FloatArray]] = []
    balance: dict[str, Any] = {"imp": eye, "exp": -eye}
    if bat is not None:
        balance |= {"bc": -eye, "bd": eye}
    if n_cars:
        balance["cc"] = _side_by_side(_eye(n, -1.0), n_cars)
    if "cur" in lay:
        balance["cur"] = _select(curtail, n, -1.0).T  # PV used = pv - cur
    groups.append(("balance", balance, load - pv, load - pv))
    if bat is not None:
        dyn = {
            "bs": diff,
            "bc": -dt * bat.charge_efficiency * eye,
            "bd": (dt / bat.discharge_efficiency) * eye,
        }
        groups.append(("battery", dyn, bat.soc_kwh * first, bat.soc_kwh * first))
    if n_cars:
        # A car only charges, so its SoC is soc0 + the running sum of its charge: the SoC at
        # departure (or at the horizon's end) is soc0 + add_k, and no earlier SoC can bind.
        eta = np.array([v.charge_efficiency for v in cars])
        gain = _row_sums(-dt * eta, n)
        zeros = np.zeros(n_cars)
        groups.append(("cars", {"add": _eye(n_cars), "cc": gain}, zeros, zeros))
        # The wallbox limit, in the slots where the plugged-in cars could exceed it together.
        shared = cc_hi.sum(axis=0) > inputs.wallbox_max_kw
        if n_cars > 1 and shared.any():
            m = int(shared.sum())
            wallbox = {"cc": _side_by_side(_select(np.flatnonzero(shared), n), n_cars)}
            cap = np.full(m, inputs.wallbox_max_kw)
            groups.append(("wallbox", wallbox, np.full(m, -np.inf), cap))
    if "up" in lay:
        # up_j >= cc_(k,t) - cc_(k,t-1), with cc_(k,-1) the power the car charges at now.
        m = len(rises)
        k_idx, t_idx = np.divmod(rises, n)
        prev = t_idx > 0
        r = np.arange(m)
        step = _coo(
            np.concatenate([np.ones(m), -np.ones(int(prev.sum()))]),
            np.concatenate([r, r[prev]]),
            np.concatenate([rises, rises[prev] - 1]),
            (m, n_cars * n),
        )
        now_kw = np.array([v.charging_kw for v in cars])[k_idx]
        rhs = np.where(prev, 0.0, now_kw)
        groups.append(("starts", {"cc": step, "up": _eye(m, -1.0)}, np.full(m, -np.inf), rhs))
    if n_cars and (block := min_block_slots(inputs)) > 1:
        blocks = _block_rows(inputs, deps, block)
        if blocks is not None:
            groups.append(("blocks", {"cc": blocks[0]}, blocks[1], blocks[2]))
    if departing:
        # soc0 + add + short >= target (a car charges only before its departure).
        d = len(departing)
        pick = _select(departing, n_cars)
        rhs = np.array([cars[k].soc_kwh - cars[k].target_soc_kwh for k in departing])
        target = {"add": -pick, "short": _eye(d, -1.0)}
        groups.append(("target", target, np.full(d, -np.inf), rhs))
    if valued:
        m = len(valued)
        pick = _select(valued, n_cars)
        row = {"g": _eye(m), "add": -pick}
        if spare:
            row["g2"] = _select([valued.index(k) for k in spare], m).T
        groups.append(("value", row, np.full(m, -np.inf), np.zeros(m)))
    if binaries is not None:
        cars_max = cc_hi.sum(axis=0) if n_cars else np.zeros(n)
        m_imp, m_exp = _big_m(inputs, cars_max)
        if len(sel := binaries.grid):
            m = len(sel)
            neg = np.full(m, -np.inf)
            # imp_t <= M_imp_t * z_t,  exp_t <= M_exp_t * (1 - z_t)
            imp_z = {"imp": _select(sel, n), "z": _eye(m, -m_imp[sel])}
            exp_z = {"exp": _select(sel, n), "z": _eye(m, m_exp[sel])}
            groups.append(("bin_imp", imp_z, neg, np.zeros(m)))
            groups.append(("bin_exp", exp_z, neg, m_exp[sel]))
        if bat is not None and len(sel := binaries.battery):
            m = len(sel)
            neg = np.full(m, -np.inf)
            p_c, p_d = bat.max_charge_kw, bat.max_discharge_kw
            # bc_t <= P_c * y_t,  bd_t <= P_d * (1 - y_t)
            bc_y = {"bc": _select(sel, n), "y": _eye(m, -p_c)}
            bd_y = {"bd": _select(sel, n), "y": _eye(m, p_d)}
            groups.append(("bin_bc", bc_y, neg, np.zeros(m)))
            groups.append(("bin_bd", bd_y, neg, np.full(m, p_d)))

    a, rows = _assemble(groups, lay)
    integrality = None
    if binaries is not None:
        integrality = np.zeros(lay.size)
        integrality[lay["z"]] = 1.0
        integrality[lay["y"]] = 1.0
    return _Problem(
        layout=lay,
        rows=rows,
        departing=tuple(departing),
        c=c,
        const=const,
        a=a,
        row_lo=np.concatenate([g[2] for g in groups]),
        row_hi=np.concatenate([g[3] for g in groups]),
        col_lo=lo,
        col_hi=hi,
        integrality=integrality,
    )


def _rise_slots(inputs: PlanInput, deps: list[int | None]) -> np.ndarray:
    """Flat indices ``k*n + t`` of the slots in which car k's charging power can rise: inside its
    plug-in window (a car's power drops to zero when the window ends, which costs nothing)."""
    n = inputs.n_slots
    slots = np.arange(n)
    out = []
    for k, v in enumerate(inputs.vehicles):
        if min(v.max_charge_kw, inputs.wallbox_max_kw) <= 0:
            continue
        end = n if deps[k] is None else deps[k]
        window = np.flatnonzero((slots >= v.plugged_from_slot) & (slots < end))
        out.append(k * n + window)
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def _block_rows(
    inputs: PlanInput, deps: list[int | None], block: int
) -> tuple[sparse.coo_matrix, FloatArray, FloatArray] | None:
    """The minimum charging block as rows on ``cc`` (see the module docstring).

    For every car k, slot t of its window and 1 <= j < block with t + j still in the window:
    ``-now_k [t=0] <= cc_(k,t+j) - cc_(k,t) + cc_(k,t-1) <= P_k - now_k [t=0]`` (cc_(k,-1) is
    the power it charges at now, ``now_k``): a rise of power lasts ``block`` slots, and so
    does a fall (from P_k to 0: no restart). Near the window's end (a departure) no row
    binds, so a block that a departure cuts short stays allowed; nor from a current slot
    fixed to a kept decision (``PlanInput.first_slot``).
    """
    n = inputs.n_slots
    slots = np.arange(n)
    ks, ts, js = [], [], []
    tops, nows = [], []
    for k, v in enumerate(inputs.vehicles):
        top = min(v.max_charge_kw, inputs.wallbox_max_kw)
        if top <= 0:
            continue
        end = n if deps[k] is None else deps[k]
        window = slots[(slots >= v.plugged_from_slot) & (slots < end)]
        if inputs.first_slot is not None:
            window = window[window > 0]  # a kept current slot is fixed as it is done
        for j in range(1, block):
            t = window[window + j < end]
            ks.append(np.full(len(t), k))
            ts.append(t)
            js.append(np.full(len(t), j))
            tops.append(np.full(len(t), top))
            nows.append(np.where(t == 0, v.charging_kw, 0.0))
    if not ks or not sum(len(t) for t in ts):
        return None
    k = np.concatenate(ks)
    t = np.concatenate(ts)
    j = np.concatenate(js)
    now = np.concatenate(nows)
    m = len(t)
    r = np.arange(m)
    prev = t > 0
    base = k * n
    matrix = _coo(
        np.concatenate([np.ones(m), -np.ones(m), np.ones(int(prev.sum()))]),
        np.concatenate([r, r, r[prev]]),
        np.concatenate([base + t + j, base + t, (base + t - 1)[prev]]),
        (m, len(inputs.vehicles) * n),
    )
    return matrix, -now, np.concatenate(tops) - now


def _fix_first_slot(
    inputs: PlanInput,
    first: FirstSlot,
    *,
    lo: FloatArray,
    hi: FloatArray,
    lay: _Layout,
    cc_hi: FloatArray | None,
) -> None:
    """Bound slot 0 to a kept decision (``PlanInput.first_slot``), within what is physical."""
    n = inputs.n_slots
    dt = inputs.dt_h
    wanted = dict(first.vehicle_kw)
    cars_kw = 0.0
    for k, v in enumerate(inputs.vehicles):
        room_kw = max(0.0, v.capacity_kwh - v.soc_kwh) / (dt * v.charge_efficiency)
        top = float(cc_hi[k, 0]) if cc_hi is not None else 0.0
        kw = min(max(0.0, wanted.get(v.name, 0.0)), top, room_kw)
        col = lay["cc"].start + k * n
        lo[col] = hi[col] = kw
        cars_kw += kw
    bat = inputs.battery
    if bat is None or first.battery_mode is None:
        return
    surplus = float(inputs.pv_kw[0]) - float(inputs.load_kw[0]) - cars_kw
    if first.battery_mode in (BatteryMode.NORMAL, BatteryMode.HOLD):
        # self-consumption: charges only from the surplus
        hi[lay["bc"].start] = min(hi[lay["bc"].start], max(0.0, surplus))
    if first.battery_mode in (BatteryMode.HOLD, BatteryMode.CHARGE):
        hi[lay["bd"].start] = 0.0


def _boost_floor(inputs: PlanInput, cc_hi: FloatArray) -> FloatArray:
    """Each car's least power per slot (kW): full power while it boosts, until its boost target.

    A boosting car takes its full power (within its plug-in window) in the slots before
    ``boost_until_slot`` until the energy to ``boost_target_kwh`` is in; the last of those slots
    takes only the rest. Cars boost in input order and share what the wallbox and the grid
    connection leave (grid: ``max_import + pv - load``), so the bound never makes the problem
    infeasible.
    """
    n = inputs.n_slots
    dt = inputs.dt_h
    floor = np.zeros_like(cc_hi)
    wallbox = np.full(n, inputs.wallbox_max_kw)
    grid = np.maximum(
        inputs.max_import_kw + np.asarray(inputs.pv_kw) - np.asarray(inputs.load_kw), 0.0
    )
    in_boost = np.arange(n)
    for k, v in enumerate(inputs.vehicles):
        if v.boost_until_slot <= 0:
            continue
        target = v.capacity_kwh if v.boost_target_kwh is None else v.boost_target_kwh
        need_kw_slots = max(0.0, min(target, v.capacity_kwh) - v.soc_kwh) / (
            dt * v.charge_efficiency
        )
        power = np.where(
            in_boost < v.boost_until_slot, np.minimum(np.minimum(cc_hi[k], wallbox), grid), 0.0
        )
        before = np.cumsum(power) - power  # power-slots delivered before each slot
        floor[k] = np.clip(need_kw_slots - before, 0.0, power)
        wallbox = wallbox - floor[k]
        grid = grid - floor[k]
    return floor


def _valued_energy(v: VehicleInput, value: float) -> float:
    """kWh of added energy in a car that carry the terminal value (G_k)."""
    if value <= 0:
        return 0.0
    return max(0.0, min(v.capacity_kwh, v.target_soc_kwh + v.expected_use_kwh) - v.soc_kwh)


def _spare_energy(v: VehicleInput, valued: float, value: float) -> float:
    """kWh of room above the valued energy, up to the capacity, that carry the spare value."""
    if value <= 0:
        return 0.0
    return max(0.0, v.capacity_kwh - v.soc_kwh - valued)


# --------------------------------------------------------------------------------------------
# Solvers
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Solution:
    ok: bool
    message: str
    x: FloatArray
    row_dual: FloatArray | None  # d(objective)/d(row bound), as scipy reports marginals
    objective: float


class SolverError(RuntimeError):
    """The solver did not return an optimal solution."""


def _solve_highspy(prob: _Problem, time_limit_s: float) -> _Solution:
    import highspy

    # The bare binding: highspy.Highs() adds Python callbacks and prints a banner to stdout at
    # its first construction (which would corrupt script/bench's JSON). Fall back to it only if
    # a future highspy no longer has the binding.
    bare = getattr(getattr(highspy, "_core", None), "_Highs", None)
    h = bare() if bare is not None else highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_s))
    # Small, tight models: presolve costs more than it saves (LP ~30 %, exclusivity MILP ~3x).
    h.setOptionValue("presolve", "off")
    lp = highspy.HighsLp()
    lp.num_col_ = len(prob.c)
    lp.num_row_ = prob.a.shape[0]
    lp.col_cost_ = prob.c
    lp.col_lower_ = prob.col_lo
    lp.col_upper_ = prob.col_hi
    lp.row_lower_ = prob.row_lo
    lp.row_upper_ = prob.row_hi
    lp.offset_ = prob.const
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = prob.a.indptr
    lp.a_matrix_.index_ = prob.a.indices
    lp.a_matrix_.value_ = prob.a.data
    if prob.integrality is not None:
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if flag else highspy.HighsVarType.kContinuous
            for flag in prob.integrality
        ]
    h.passModel(lp)
    h.run()
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        return _Solution(False, h.modelStatusToString(status), np.zeros(0), None, math.nan)
    sol = h.getSolution()
    x = np.asarray(sol.col_value, dtype=np.float64)
    duals = None if prob.integrality is not None else np.asarray(sol.row_dual, dtype=np.float64)
    return _Solution(True, "optimal", x, duals, float(h.getInfo().objective_function_value))


def _solve_scipy(prob: _Problem, time_limit_s: float) -> _Solution:
    from scipy.optimize import Bounds, LinearConstraint, linprog, milp

    bounds = np.column_stack([prob.col_lo, prob.col_hi])
    if prob.integrality is not None:
        res = milp(
            prob.c,
            constraints=LinearConstraint(prob.a, prob.row_lo, prob.row_hi),
            integrality=prob.integrality,
            bounds=Bounds(prob.col_lo, prob.col_hi),
            options={"time_limit": time_limit_s, "presolve": False},
        )
        if res.status != 0:
            return _Solution(False, res.message, np.zeros(0), None, math.nan)
        return _Solution(True, "optimal", res.x, None, float(res.fun) + prob.const)
    eq = prob.row_lo == prob.row_hi
    a = prob.a.tocsr()
    res = linprog(
        prob.c,
        A_ub=a[~eq],
        b_ub=prob.row_hi[~eq],
        A_eq=a[eq],
        b_eq=prob.row_hi[eq],
        bounds=bounds,
        method="highs",
        options={"time_limit": time_limit_s, "presolve": False},
    )
    if res.status != 0:
        return _Solution(False, res.message, np.zeros(0), None, math.nan)
    duals = np.zeros(len(eq))
    duals[eq] = res.eqlin.marginals
    duals[~eq] = res.ineqlin.marginals
    return _Solution(True, "optimal", res.x, duals, float(res.fun) + prob.const)


SOLVERS: dict[str, Callable[[_Problem, float], _Solution]] = {
    "highspy": _solve_highspy,
    "scipy": _solve_scipy,
}
DEFAULT_SOLVER = "highspy"


# --------------------------------------------------------------------------------------------
# Solve with exclusivity
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Flows:
    imp: FloatArray
    exp: FloatArray
    bc: FloatArray
    bd: FloatArray


def _flows(prob: _Problem, x: FloatArray, n: int) -> _Flows:
    lay = prob.layout
    zeros = np.zeros(n)
    return _Flows(
        imp=x[lay["imp"]],
        exp=x[lay["exp"]],
        bc=x[lay["bc"]] if "bc" in lay else zeros,
        bd=x[lay["bd"]] if "bd" in lay else zeros,
    )


def _overlaps(inputs: PlanInput, f: _Flows) -> tuple[np.ndarray, np.ndarray]:
    """Slots where the solution imports and exports (at a spread it profits from) / burns."""
    p_in = np.asarray(inputs.import_price_eur_per_kwh, dtype=np.float64)
    p_out = np.asarray(inputs.export_price_eur_per_kwh, dtype=np.float64)
    # Where p_in >= p_out an overlap is netted afterwards at no loss: only p_in < p_out counts.
    grid = (np.minimum(f.imp, f.exp) > FLOW_TOL) & (p_in < p_out)
    battery = np.minimum(f.bc, f.bd) > FLOW_TOL
    return grid, battery


def _solve(
    inputs: PlanInput, values: TerminalValues, solver: str, deadline: float
) -> tuple[_Problem, _Solution, bool]:
    """Solve; returns the final LP, its solution and whether binaries were needed."""
    solve = SOLVERS[solver]
    n = inputs.n_slots

    def remaining() -> float:
        left = deadline - time.perf_counter()
        if left <= 0:
            raise SolverError("time limit reached")
        return left

    prob = _build(inputs, values)
    sol = solve(prob, remaining())
    if not sol.ok:
        raise SolverError(sol.message)
    if not inputs.settings.enforce_exclusivity:
        return prob, sol, False
    grid_over, batt_over = _overlaps(inputs, _flows(prob, sol.x, n))
    if not (grid_over.any() or batt_over.any()):
        return prob, sol, False
    p_in = np.asarray(inputs.import_price_eur_per_kwh, dtype=np.float64)
    p_out = np.asarray(inputs.export_price_eur_per_kwh, dtype=np.float64)
    grid_sel = (p_in < p_out) | grid_over
    batt_sel = (np.minimum(p_in, p_out) <= 0) | batt_over
    if inputs.battery is None:
        batt_sel[:] = False
    for _ in range(_MAX_EXCLUSIVITY_ROUNDS):
        binaries = _Binaries(np.flatnonzero(grid_sel), np.flatnonzero(batt_sel))
        mip = _build(inputs, values, binaries=binaries)
        # the MILP may use half of the time left; without its answer in time (a slow machine,
        # many tempted slots) each direction is taken from the relaxation's larger flow: still
        # physical, at most a little less optimal, and never the rule-based fallback for that
        msol = solve(mip, remaining() * _MILP_SHARE)
        z = np.ones(n, dtype=bool)  # True: may import
        y = np.ones(n, dtype=bool)  # True: may charge
        if msol.ok:
            z[binaries.grid] = msol.x[mip.layout["z"]] > 0.5
            y[binaries.battery] = msol.x[mip.layout["y"]] > 0.5
        else:
            _LOGGER.debug("Exclusivity MILP: %s; directions from the relaxation", msol.message)
            relaxed = _flows(prob, sol.x, n)
            z[binaries.grid] = (relaxed.imp >= relaxed.exp)[binaries.grid]
            y[binaries.battery] = (relaxed.bc >= relaxed.bd)[binaries.battery]
        fix = _Fix(
            no_import=~z,
            no_export=np.isin(np.arange(n), binaries.grid) & z,
            no_charge=~y,
            no_discharge=np.isin(np.arange(n), binaries.battery) & y,
        )
        prob = _build(inputs, values, fix=fix)
        sol = solve(prob, remaining())
        if not sol.ok:
            raise SolverError(f"LP with fixed directions: {sol.message}")
        grid_over, batt_over = _overlaps(inputs, _flows(prob, sol.x, n))
        if not (grid_over.any() or batt_over.any()):
            break
        grid_sel |= grid_over
        batt_sel |= batt_over
    else:
        raise SolverError("could not make the plan physical (simultaneous flows remain)")
    return prob, sol, True


# --------------------------------------------------------------------------------------------
# Plan
# --------------------------------------------------------------------------------------------


def warm_up() -> None:
    """Import the solver libraries (~1 s on a Pi), e.g. once in an executor job at set-up, so
    that the first plan's ``solve_ms`` is the solve alone. Never call it in the event loop."""
    import highspy  # noqa: F401
    from scipy import sparse  # noqa: F401

    from . import explain  # noqa: F401


def plan(inputs: PlanInput, *, solver: str = DEFAULT_SOLVER) -> Plan:
    """Solve the planning LP for ``inputs`` and return the plan with one ``why`` per slot.

    Raises ValueError for inconsistent inputs (nothing is solved). A solver failure, time-out
    (``settings.time_limit_s``) or error in the solve returns the rule-based fallback plan
    (``planner.fallback``, status FALLBACK, the reason in ``message``) instead. ``solve_ms``
    counts model building, solving and outputs; the explanations come after. Blocking (tens of
    ms, more on negative-price days): call it in an executor job, never in the event loop.
    """
    validate(inputs)
    t0 = time.perf_counter()
    values = terminal_values(inputs)
    try:
        prob, sol, _ = _solve(inputs, values, solver, t0 + inputs.settings.time_limit_s)
        result = _to_plan(inputs, prob, sol)
    except Exception as err:  # any solver failure must end in the safe fallback
        _LOGGER.debug("Planner solve failed", exc_info=True)
        from .fallback import fallback_plan

        return fallback_plan(inputs, f"{type(err).__name__}: {err}")
    result = dataclasses.replace(result, solve_ms=(time.perf_counter() - t0) * 1000.0)
    from .explain import explain

    return dataclasses.replace(result, why=tuple(explain(inputs, result)))


def _to_plan(inputs: PlanInput, prob: _Problem, sol: _Solution) -> Plan:
    n = inputs.n_slots
    dt = inputs.dt_h
    lay = prob.layout
    x = np.where(np.abs(sol.x) < 1e-9, 0.0, sol.x)
    p_in = np.asarray(inputs.import_price_eur_per_kwh, dtype=np.float64)
    p_out = np.asarray(inputs.export_price_eur_per_kwh, dtype=np.float64)
    load = np.asarray(inputs.load_kw, dtype=np.float64)
    pv = np.asarray(inputs.pv_kw, dtype=np.float64)
    dual = sol.row_dual if sol.row_dual is not None else np.zeros(prob.a.shape[0])
    bat = inputs.battery
    slots = np.arange(n)

    if bat is not None:
        bc = np.clip(x[lay["bc"]], 0.0, bat.max_charge_kw)
        bd = np.clip(x[lay["bd"]], 0.0, bat.max_discharge_kw)
        # SoC re-integrated from the flows: exact dynamics, within solver tolerance of the bounds.
        delta = dt * (bat.charge_efficiency * bc - bd / bat.discharge_efficiency)
        bs = bat.soc_kwh + np.cumsum(delta)
        b_value = -dual[prob.rows["battery"]]
    else:
        bc = bd = bs = np.zeros(n)
        b_value = np.zeros(n)

    car_kw: list[FloatArray] = []
    vehicles: list[VehiclePlan] = []
    for k, v in enumerate(inputs.vehicles):
        cc = np.clip(x[lay["cc"]][k * n : (k + 1) * n], 0.0, None)
        cs = np.minimum(
            v.soc_kwh + np.cumsum(dt * v.charge_efficiency * cc), max(v.capacity_kwh, v.soc_kwh)
        )
        car_kw.append(cc)
        dep = _departure(v, n)
        at_dep: float | None = None
        shortfall = 0.0
        if dep is not None:
            at_dep = float(cs[dep - 1]) if dep > 0 else v.soc_kwh
            shortfall = max(0.0, v.target_soc_kwh - at_dep)
            shortfall = shortfall if shortfall > FLOW_TOL else 0.0
        vehicles.append(
            VehiclePlan(
                name=v.name,
                charge_kw=cc,
                soc_kwh=cs,
                shortfall_kwh=shortfall,
                soc_at_departure_kwh=at_dep,
                price_limit_eur_per_kwh=None,
                value_eur_per_kwh=np.where(
                    slots < (n if dep is None else dep), -dual[prob.rows["cars"]][k], 0.0
                ),
            )
        )
    cars_kw = np.sum(car_kw, axis=0) if car_kw else np.zeros(n)
    curtailed = None
    if "cur" in lay:
        curtailed = np.zeros(n)
        curtailed[_curtailment_slots(inputs)] = x[lay["cur"]]
        curtailed = np.clip(curtailed, 0.0, pv)
        pv = pv - curtailed  # what the plan uses of the PV

    # Grid flows from the balance, exactly; physical (netted) when exclusivity is enforced.
    net = load + bc + cars_kw - pv - bd
    if inputs.settings.enforce_exclusivity:
        imp = np.maximum(net, 0.0)
        exp = np.maximum(-net, 0.0)
    else:
        imp = np.clip(x[lay["imp"]], 0.0, None)
        exp = imp - net
        imp = np.where(exp < 0, imp - exp, imp)
        exp = np.maximum(exp, 0.0)

    importing = imp > FLOW_TOL
    window = max(1, math.ceil(inputs.settings.price_limit_window_h * 60 / inputs.slot_minutes))
    surplus = pv - load - cars_kw  # what self-consumption would put into the battery
    if bat is not None:
        grid_charge = (bc > FLOW_TOL) & (bc > surplus + FLOW_TOL) & importing
        soc_start = np.concatenate([[bat.soc_kwh], bs[:-1]])
        could_discharge = (soc_start > bat.min_soc_kwh + FLOW_TOL) & (bat.max_discharge_kw > 0)
        hold = ~grid_charge & (bd <= FLOW_TOL) & importing & could_discharge
        modes = tuple(
            BatteryMode.CHARGE if g else BatteryMode.HOLD if h else BatteryMode.NORMAL
            for g, h in zip(grid_charge.tolist(), hold.tolist(), strict=True)
        )
        battery_limit = leading_run_price_limit(grid_charge, p_in, window)
    else:
        modes = tuple(BatteryMode.NORMAL for _ in range(n))
        battery_limit = None
    vehicles = [
        dataclasses.replace(
            vp,
            price_limit_eur_per_kwh=leading_run_price_limit(
                (vp.charge_kw > FLOW_TOL) & importing, p_in, window
            ),
        )
        for vp in vehicles
    ]

    cost = float(np.sum((imp * p_in - exp * p_out) * dt))
    short = any(vp.shortfall_kwh > SHORTFALL_TOL for vp in vehicles)
    status = PlanStatus.SHORTFALL if short else PlanStatus.OPTIMAL
    estimated = (
        np.zeros(n, dtype=bool)
        if inputs.price_estimated is None
        else np.asarray(inputs.price_estimated, dtype=bool)
    )
    return Plan(
        status=status,
        start=inputs.start,
        slot_minutes=inputs.slot_minutes,
        grid_import_kw=imp,
        grid_export_kw=exp,
        battery_charge_kw=bc,
        battery_discharge_kw=bd,
        battery_soc_kwh=bs,
        battery_mode=modes,
        battery_price_limit_eur_per_kwh=battery_limit,
        battery_value_eur_per_kwh=b_value,
        vehicles=tuple(vehicles),
        cost_eur=cost,
        objective_eur=sol.objective,
        solve_ms=0.0,
        why=(),
        price_estimated=estimated,
        pv_curtailed_kw=curtailed,
    )
