"""Perfect foresight: one LP over the whole replay with the true load, PV, prices and trips.

``planner.lp.plan`` cannot express this: its ``VehicleInput`` carries one departure per car, and a
year holds hundreds of trips per car. So the bound is the simulator's own LP over the whole series
(no chunks), with the home's physics as constraints:

- one meter; the battery and the cars charge from PV or the grid; the battery only discharges into
  the house and the cars (as the modes of a real inverter do: export is PV surplus only);
- each car charges only while home, both share the wallbox; at each departure the car should hold
  its target (shortfall penalised at 10 €/kWh, as in the planner); a trip's energy leaves the car
  on its return (as in the simulator);
- slots whose import price is below the feed-in price get a binary: one meter never imports and
  exports at once (otherwise the LP would buy and sell in the same slot);
- energy left in the battery and the cars at the end is valued as the report values it for every
  strategy (``engine.stored_energy_values``), so the bound is a bound of the reported adjusted
  cost and does not profit from emptying the storage.

The result is a lower bound for every strategy the simulator executes.
"""

from __future__ import annotations

from dataclasses import dataclass
import time

import numpy as np
from numpy.typing import NDArray

from .home import HomeParams

type FloatArray = NDArray[np.float64]

SHORTFALL_PENALTY_EUR_PER_KWH = 10.0


@dataclass(frozen=True, slots=True)
class CarSchedule:
    """One car's trips as slot indices of the replay."""

    name: str
    home: NDArray[np.bool_]  # per slot: plugged in (can charge)
    departures: NDArray[np.int64]  # slot at whose start the car leaves
    returns: NDArray[np.int64]  # slot at whose start it is back
    energy_kwh: FloatArray  # used on each trip (leaves the car on return)


@dataclass(frozen=True, slots=True)
class PerfectResult:
    """Flows of the perfect-foresight solution (per slot, kW) and its departures."""

    grid_import_kw: FloatArray
    grid_export_kw: FloatArray
    battery_charge_kw: FloatArray
    battery_discharge_kw: FloatArray
    battery_soc_kwh: FloatArray
    car_kw: FloatArray  # (n_cars, n_slots)
    car_soc_kwh: FloatArray  # (n_cars, n_slots), at each slot's end
    solve_s: float


def solve_perfect(
    home: HomeParams,
    *,
    import_price: FloatArray,
    export_price: FloatArray,
    load_kw: FloatArray,
    pv_kw: FloatArray,
    cars: tuple[CarSchedule, ...],
    dt_h: float,
    battery_end_value: float = 0.0,
    car_end_values: tuple[float, ...] | None = None,
    battery_soc0: float | None = None,
    car_soc0: tuple[float, ...] | None = None,
) -> PerfectResult:
    """Solve the LP over the given slots in one piece (HiGHS through scipy)."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_array, csr_array, vstack

    n = len(import_price)
    k = len(cars)
    params = [home.car(c.name) for c in cars]
    n_dep = [len(c.departures) for c in cars]
    # Variable layout: imp, exp, bch, bdis, bsoc, then per car ch, csoc, then shortfalls,
    # then one binary per slot where import is cheaper than export.
    cheap = np.flatnonzero(import_price < export_price)
    n_bin = len(cheap)
    i_imp, i_exp, i_bch, i_bdis, i_bsoc = (np.arange(n) + j * n for j in range(5))
    i_ch = [5 * n + 2 * j * n + np.arange(n) for j in range(k)]
    i_cs = [5 * n + (2 * j + 1) * n + np.arange(n) for j in range(k)]
    base_short = 5 * n + 2 * k * n
    i_short = []
    offset = base_short
    for j in range(k):
        i_short.append(offset + np.arange(n_dep[j]))
        offset += n_dep[j]
    i_bin = offset + np.arange(n_bin)
    n_var = offset + n_bin

    cost = np.zeros(n_var)
    cost[i_imp] = import_price * dt_h
    cost[i_exp] = -export_price * dt_h
    for j in range(k):
        cost[i_short[j]] = SHORTFALL_PENALTY_EUR_PER_KWH
        if car_end_values is not None:
            cost[i_cs[j][-1]] -= car_end_values[j]
    cost[i_bsoc[-1]] -= battery_end_value
    lo = np.zeros(n_var)
    hi = np.full(n_var, np.inf)
    hi[i_exp] = np.maximum(pv_kw, 0.0)
    has_batt = home.has_battery
    hi[i_bch] = home.battery_max_charge_kw if has_batt else 0.0
    hi[i_bdis] = home.battery_max_discharge_kw if has_batt else 0.0
    lo[i_bsoc] = home.battery_min_kwh if has_batt else 0.0
    hi[i_bsoc] = home.battery_capacity_kwh if has_batt else 0.0
    batt0 = home.battery_initial_soc * home.battery_capacity_kwh if has_batt else 0.0
    if battery_soc0 is not None and has_batt:
        batt0 = battery_soc0
    soc0 = car_soc0 or tuple(c.initial_soc * c.capacity_kwh for c in params)
    for j, (car, sched) in enumerate(zip(params, cars, strict=True)):
        hi[i_ch[j]] = np.where(sched.home, min(car.max_charge_kw, home.wallbox_max_kw), 0.0)
        hi[i_cs[j]] = car.limit_kwh
    hi[i_bin] = 1.0

    rows: list[csr_array] = []
    rlo: list[FloatArray] = []
    rhi: list[FloatArray] = []
    t = np.arange(n)

    def block(cols: list[tuple[NDArray[np.int64], NDArray[np.int64], FloatArray]], m: int):
        r = np.concatenate([c[0] for c in cols])
        c_ = np.concatenate([c[1] for c in cols])
        v = np.concatenate([c[2] for c in cols])
        return coo_array((v, (r, c_)), shape=(m, n_var)).tocsr()

    ones = np.ones(n)
    # Balance: imp - exp - bch + bdis - sum(ch) = load - pv
    cols = [(t, i_imp, ones), (t, i_exp, -ones), (t, i_bch, -ones), (t, i_bdis, ones)]
    cols += [(t, i_ch[j], -ones) for j in range(k)]
    rows.append(block(cols, n))
    rlo.append(load_kw - pv_kw)
    rhi.append(load_kw - pv_kw)
    # Battery: bsoc[t] - bsoc[t-1] - eta_c dt bch + dt/eta_d bdis = 0 (bsoc[-1] = initial)
    eta_c = home.battery_charge_efficiency
    eta_d = home.battery_discharge_efficiency
    cols = [
        (t, i_bsoc, ones),
        (t[1:], i_bsoc[:-1], -ones[1:]),
        (t, i_bch, np.full(n, -eta_c * dt_h)),
        (t, i_bdis, np.full(n, dt_h / eta_d)),
    ]
    rows.append(block(cols, n))
    rhs = np.zeros(n)
    rhs[0] = batt0
    rlo.append(rhs)
    rhi.append(rhs)
    # Cars: csoc[t] - csoc[t-1] - eta dt ch = -trip energy (on return); shortfall at departure.
    for j, (car, sched) in enumerate(zip(params, cars, strict=True)):
        cols = [
            (t, i_cs[j], ones),
            (t[1:], i_cs[j][:-1], -ones[1:]),
            (t, i_ch[j], np.full(n, -car.charge_efficiency * dt_h)),
        ]
        rows.append(block(cols, n))
        rhs = np.zeros(n)
        np.add.at(rhs, sched.returns[sched.returns < n], -sched.energy_kwh[sched.returns < n])
        rhs[0] += soc0[j]
        rlo.append(rhs)
        rhi.append(rhs)
        if n_dep[j]:
            dep = sched.departures
            m = len(dep)
            r = np.arange(m)
            before = dep - 1
            inside = before >= 0
            cols = [
                (r[inside], i_cs[j][before[inside]], np.ones(int(inside.sum()))),
                (r, i_short[j], np.ones(m)),
            ]
            rows.append(block(cols, m))
            need = np.full(m, car.target_kwh)
            need[~inside] -= soc0[j]
            rlo.append(need)
            rhi.append(np.full(m, np.inf))
    # Wallbox: sum(ch) <= max
    if k > 1:
        rows.append(block([(t, i_ch[j], ones) for j in range(k)], n))
        rlo.append(np.full(n, -np.inf))
        rhi.append(np.full(n, home.wallbox_max_kw))
    # One meter where buying is cheaper than selling: imp <= M z, exp <= pv (1 - z).
    integrality = np.zeros(n_var)
    if n_bin:
        big = 1e3
        r = np.arange(n_bin)
        rows.append(
            block([(r, i_imp[cheap], np.ones(n_bin)), (r, i_bin, -np.full(n_bin, big))], n_bin)
        )
        rlo.append(np.full(n_bin, -np.inf))
        rhi.append(np.zeros(n_bin))
        cap = np.maximum(pv_kw[cheap], 0.0)
        rows.append(block([(r, i_exp[cheap], np.ones(n_bin)), (r, i_bin, cap)], n_bin))
        rlo.append(np.full(n_bin, -np.inf))
        rhi.append(cap)
        integrality[i_bin] = 1

    matrix = vstack(rows).tocsr()
    started = time.perf_counter()
    res = milp(
        cost,
        constraints=LinearConstraint(matrix, np.concatenate(rlo), np.concatenate(rhi)),
        bounds=Bounds(lo, hi),
        integrality=integrality,
        options={"disp": False, "mip_rel_gap": 1e-6},
    )
    solve_s = time.perf_counter() - started
    if res.x is None:
        raise RuntimeError(f"perfect-foresight LP failed: {res.message}")
    x = res.x
    return PerfectResult(
        grid_import_kw=x[i_imp],
        grid_export_kw=x[i_exp],
        battery_charge_kw=x[i_bch],
        battery_discharge_kw=x[i_bdis],
        battery_soc_kwh=x[i_bsoc],
        car_kw=np.array([x[i_ch[j]] for j in range(k)]).reshape(k, n),
        car_soc_kwh=np.array([x[i_cs[j]] for j in range(k)]).reshape(k, n),
        solve_s=solve_s,
    )


def solve_perfect_chunked(
    home: HomeParams,
    *,
    import_price: FloatArray,
    export_price: FloatArray,
    load_kw: FloatArray,
    pv_kw: FloatArray,
    cars: tuple[CarSchedule, ...],
    dt_h: float,
    battery_end_value: float = 0.0,
    car_end_values: tuple[float, ...] | None = None,
    chunk_slots: int,
    overlap_slots: int,
) -> PerfectResult:
    """The same LP in consecutive chunks, each looking ``overlap_slots`` beyond what it keeps.

    One LP over a whole year is too slow for HiGHS on a small machine (90 days already take
    minutes), while chunks of a few weeks solve in about a second. Each chunk starts from the
    state the previous one kept and values its end as the whole run does; with a lookahead of a
    few days (longer than any trip or battery cycle) the result is within a fraction of a per cent
    of the single LP (measured: see the report).
    """
    n = len(import_price)
    k = len(cars)
    parts: list[PerfectResult] = []
    keeps: list[int] = []
    battery_soc0: float | None = None
    car_soc0: tuple[float, ...] | None = None
    total_s = 0.0
    begin = 0
    while begin < n:
        keep = min(chunk_slots, n - begin)
        end = min(n, begin + keep + overlap_slots)
        window = tuple(
            CarSchedule(
                name=c.name,
                home=c.home[begin:end],
                departures=c.departures[(c.departures >= begin) & (c.departures < end)] - begin,
                returns=c.returns[(c.returns >= begin) & (c.returns < end)] - begin,
                energy_kwh=c.energy_kwh[(c.returns >= begin) & (c.returns < end)],
            )
            for c in cars
        )
        sol = solve_perfect(
            home,
            import_price=import_price[begin:end],
            export_price=export_price[begin:end],
            load_kw=load_kw[begin:end],
            pv_kw=pv_kw[begin:end],
            cars=window,
            dt_h=dt_h,
            battery_end_value=battery_end_value,
            car_end_values=car_end_values,
            battery_soc0=battery_soc0,
            car_soc0=car_soc0,
        )
        total_s += sol.solve_s
        parts.append(sol)
        keeps.append(keep)
        battery_soc0 = float(sol.battery_soc_kwh[keep - 1])
        car_soc0 = tuple(float(sol.car_soc_kwh[j, keep - 1]) for j in range(k))
        # A car away at the cut keeps draining on its return (already in the next window).
        begin += keep

    def joined(field: str) -> FloatArray:
        arrays = [getattr(p, field) for p in parts]
        return np.concatenate([a[..., :m] for a, m in zip(arrays, keeps, strict=True)], axis=-1)

    return PerfectResult(
        grid_import_kw=joined("grid_import_kw"),
        grid_export_kw=joined("grid_export_kw"),
        battery_charge_kw=joined("battery_charge_kw"),
        battery_discharge_kw=joined("battery_discharge_kw"),
        battery_soc_kwh=joined("battery_soc_kwh"),
        car_kw=joined("car_kw"),
        car_soc_kwh=joined("car_soc_kwh"),
        solve_s=total_s,
    )
