"""The closed loop: per 15-min cycle a strategy decides, the physics advances with the truth.

``Replay`` prepares a home on a data set (prices, PV, load, trips as slot indices, the local
calendar, when day-ahead prices become known). ``run`` loops over the slots: departures and
returns of the cars, the strategy's Decision, ``physics.execute`` with the true load and PV, the
booked cost. Everything is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
import time
from typing import Protocol
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from custom_components.smartload.planner.model import Decision

from .data import ReplayData
from .home import HomeParams
from .perfect import CarSchedule
from .physics import execute

type FloatArray = NDArray[np.float64]
type IntArray = NDArray[np.int64]

MISSED_TOL_KWH = 0.1  # a departure short by more than this counts as missed


@dataclass(frozen=True, slots=True)
class Replay:
    """A home on a data set, with everything precomputed that every strategy needs."""

    home: HomeParams
    data: ReplayData
    first: int  # first simulated slot (earlier slots are history only)
    last: int  # one past the last simulated slot
    import_price: FloatArray
    export_price: FloatArray
    load_kw: FloatArray
    pv_kw: FloatArray
    local_slot_of_day: IntArray
    local_weekend: NDArray[np.bool_]
    utc_slot_of_day: IntArray
    seconds: FloatArray  # POSIX time of each slot's start
    known_end: IntArray  # per slot: one past the last slot whose price is published then
    cars: tuple[CarSchedule, ...]
    seed: int = 0

    @property
    def dt_h(self) -> float:
        """Slot length in hours."""
        return self.data.slot_minutes / 60.0

    @property
    def slots_per_day(self) -> int:
        """Slots per day."""
        return (24 * 60) // self.data.slot_minutes

    @property
    def n_sim(self) -> int:
        """Number of simulated slots."""
        return self.last - self.first


def prepare(
    data: ReplayData,
    home: HomeParams,
    *,
    start: datetime | None = None,
    days: float | None = None,
    seed: int = 0,
) -> Replay:
    """Precompute a replay of ``days`` days from ``start`` (default: the whole data set).

    Data before ``start`` stays available as history for the forecasters.
    """
    n = data.n_slots
    first = 0 if start is None else max(0, data.slot_at_or_after(start))
    last = n if days is None else min(n, first + round(days * 24 * 60 / data.slot_minutes))
    if last <= first:
        raise ValueError("nothing to simulate: start is after the data or days is zero")
    load = data.load_kw.copy()
    if home.annual_load_kwh is not None:
        mean_kw = float(load.mean())
        if mean_kw > 0:
            load *= home.annual_load_kwh / (mean_kw * 365.25 * 24)
    zone = ZoneInfo(home.timezone)
    step = timedelta(minutes=data.slot_minutes)
    local_sod = np.empty(n, dtype=np.int64)
    weekend = np.empty(n, dtype=bool)
    utc_sod = np.empty(n, dtype=np.int64)
    known_end = np.empty(n, dtype=np.int64)
    seconds = data.start.timestamp() + np.arange(n) * step.total_seconds()
    ends: dict[object, int] = {}
    for t in range(n):
        when = data.start + step * t
        local = when.astimezone(zone)
        local_sod[t] = (local.hour * 60 + local.minute) // data.slot_minutes
        weekend[t] = local.weekday() >= 5
        utc_sod[t] = (when.hour * 60 + when.minute) // data.slot_minutes
        extra_days = 2 if local.hour >= home.day_ahead_publish_hour else 1
        day = local.date() + timedelta(days=extra_days)
        if day not in ends:
            midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
            ends[day] = data.slot_at_or_after(midnight)
        known_end[t] = min(n, ends[day])
    cars = []
    for car in home.cars:
        trips = [trip for trip in data.trips if trip.vehicle == car.name]
        dep = np.array([data.slot_of(trip.depart) for trip in trips], dtype=np.int64)
        ret = np.array([data.slot_at_or_after(trip.ret) for trip in trips], dtype=np.int64)
        energy = np.array([trip.energy_kwh for trip in trips], dtype=np.float64)
        home_mask = np.ones(n, dtype=bool)
        for d, r in zip(dep, ret, strict=True):
            home_mask[max(0, d) : max(0, min(n, r))] = False
        keep = (dep >= first) & (dep < last)
        # Trips that started before the replay but return inside it still drain the car.
        drain = (ret > first) & (ret < last) & (dep < last)
        cars.append(
            CarSchedule(
                name=car.name,
                home=home_mask,
                departures=dep[keep],
                returns=ret[drain],
                energy_kwh=energy[drain],
            )
        )
    return Replay(
        home=home,
        data=data,
        first=first,
        last=last,
        import_price=home.import_price(data.spot_eur_per_mwh),
        export_price=home.export_price(n),
        load_kw=load,
        pv_kw=data.pv_kw_per_kwp * home.pv_kwp,
        local_slot_of_day=local_sod,
        local_weekend=weekend,
        utc_slot_of_day=utc_sod,
        seconds=seconds,
        known_end=known_end,
        cars=tuple(cars),
        seed=seed,
    )


def stored_energy_values(replay: Replay) -> tuple[float, dict[str, float]]:
    """€ per kWh left in the battery / in each car at the end versus the start.

    A stored kWh displaces a later import at the replay's median import price: a battery kWh
    delivers ``eta_d`` of it, a car kWh replaces ``1 / eta`` kWh from the wallbox. The report
    corrects every strategy's cost by this, and the perfect-foresight LP optimises the same.
    """
    home = replay.home
    price = float(np.median(replay.import_price[replay.first : replay.last]))
    cars = {c.name: price / c.charge_efficiency for c in home.cars}
    return home.battery_discharge_efficiency * price, cars


@dataclass(slots=True)
class SimState:
    """The real state at the start of slot ``t``."""

    t: int
    battery_soc_kwh: float
    car_soc_kwh: dict[str, float]
    car_home: dict[str, bool]
    # Slot of each car's next departure (None: no more trips).
    next_departure: dict[str, int | None]


class Strategy(Protocol):
    """Decides the current slot from the real state and whatever the past allows it to know."""

    name: str

    def decide(self, replay: Replay, state: SimState) -> Decision:
        """What to do in slot ``state.t``."""
        ...


@dataclass(frozen=True, slots=True)
class Departure:
    """One departure and how well the car was prepared."""

    vehicle: str
    slot: int
    soc_kwh: float
    target_kwh: float

    @property
    def short_kwh(self) -> float:
        """Energy missing to the target."""
        return max(0.0, self.target_kwh - self.soc_kwh)


@dataclass(slots=True)
class RunResult:
    """Per-slot record of one strategy on one replay (index 0 = the replay's first slot)."""

    name: str
    dt_h: float
    grid_import_kw: FloatArray
    grid_export_kw: FloatArray
    battery_charge_kw: FloatArray
    battery_discharge_kw: FloatArray
    battery_soc_kwh: FloatArray
    car_kw: dict[str, FloatArray]
    car_soc_kwh: dict[str, FloatArray]
    cost_eur: FloatArray
    departures: list[Departure]
    solve_ms: list[float] = field(default_factory=list)
    runtime_s: float = 0.0
    trace: dict[str, FloatArray] = field(default_factory=dict)
    battery_initial_kwh: float = 0.0
    car_initial_kwh: dict[str, float] = field(default_factory=dict)
    # per slot: how many actuator settings the decision changed against the previous slot's
    # (loadpoint mode, smart cost limit, battery grid-charge limit, discharge lock): the writes
    # SmartLoad's idempotent actuator layer would make
    writes: FloatArray = field(default_factory=lambda: np.zeros(0))


def actuator_settings(decision: Decision) -> tuple[object, ...]:
    """The values SmartLoad writes to the actuators for a decision (limits to 0.1 ct)."""

    def limit(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    return (
        decision.loadpoint_mode,
        limit(decision.smart_cost_limit_eur_per_kwh),
        limit(decision.battery_grid_charge_limit_eur_per_kwh),
        decision.battery_discharge_locked,
    )


def initial_state(replay: Replay) -> SimState:
    """Cars at their initial SoC, home unless a trip spans the first slot."""
    home = replay.home
    return SimState(
        t=replay.first,
        battery_soc_kwh=home.battery_initial_soc * home.battery_capacity_kwh,
        car_soc_kwh={c.name: c.initial_soc * c.capacity_kwh for c in home.cars},
        car_home={s.name: bool(s.home[replay.first]) for s in replay.cars},
        next_departure={s.name: None for s in replay.cars},
    )


def run(
    replay: Replay,
    strategy: Strategy,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Replay ``strategy`` over the simulated slots."""
    home = replay.home
    m = replay.n_sim
    dt = replay.dt_h
    state = initial_state(replay)
    result = RunResult(
        name=strategy.name,
        dt_h=dt,
        grid_import_kw=np.zeros(m),
        grid_export_kw=np.zeros(m),
        battery_charge_kw=np.zeros(m),
        battery_discharge_kw=np.zeros(m),
        battery_soc_kwh=np.zeros(m),
        car_kw={c.name: np.zeros(m) for c in home.cars},
        car_soc_kwh={c.name: np.zeros(m) for c in home.cars},
        cost_eur=np.zeros(m),
        departures=[],
        battery_initial_kwh=state.battery_soc_kwh,
        car_initial_kwh=dict(state.car_soc_kwh),
        writes=np.zeros(m),
    )
    previous: tuple[object, ...] | None = None
    dep_at: dict[int, list[str]] = {}
    ret_at: dict[int, list[tuple[str, float]]] = {}
    dep_lists: dict[str, IntArray] = {}
    for sched in replay.cars:
        dep_lists[sched.name] = sched.departures
        for d in sched.departures:
            dep_at.setdefault(int(d), []).append(sched.name)
        for r, e in zip(sched.returns, sched.energy_kwh, strict=True):
            ret_at.setdefault(int(r), []).append((sched.name, float(e)))
    dep_pos = dict.fromkeys(dep_lists, 0)
    started = time.perf_counter()
    for i in range(m):
        t = replay.first + i
        state.t = t
        for name, energy in ret_at.get(t, ()):
            state.car_home[name] = True
            state.car_soc_kwh[name] = max(0.0, state.car_soc_kwh[name] - energy)
        for name in dep_at.get(t, ()):
            car = home.car(name)
            result.departures.append(Departure(name, t, state.car_soc_kwh[name], car.target_kwh))
            state.car_home[name] = False
        for name, deps in dep_lists.items():
            pos = dep_pos[name]
            while pos < len(deps) and deps[pos] <= t:
                pos += 1
            dep_pos[name] = pos
            state.next_departure[name] = int(deps[pos]) if pos < len(deps) else None
        decision = strategy.decide(replay, state)
        settings = actuator_settings(decision)
        if previous is not None:
            result.writes[i] = sum(a != b for a, b in zip(settings, previous, strict=True))
        previous = settings
        slot_home = home
        # a strategy that sets the inverter's discharge reserve (above the hardware floor)
        floor = getattr(strategy, "inverter_reserve_kwh", None)
        if floor is not None and home.has_battery and floor > home.battery_min_kwh:
            slot_home = replace(home, battery_min_soc=floor / home.battery_capacity_kwh)
        active = decision.active_vehicle
        car = None
        car_soc = None
        if active is not None and state.car_home.get(active, False):
            car = home.car(active)
            car_soc = state.car_soc_kwh[active]
        out = execute(
            decision,
            home=slot_home,
            load_kw=float(replay.load_kw[t]),
            pv_kw=float(replay.pv_kw[t]),
            import_price=float(replay.import_price[t]),
            export_price=float(replay.export_price[t]),
            battery_soc_kwh=state.battery_soc_kwh,
            car=car,
            car_soc_kwh=car_soc,
            dt_h=dt,
        )
        state.battery_soc_kwh = out.battery_soc_kwh
        if car is not None and out.car_soc_kwh is not None:
            state.car_soc_kwh[car.name] = out.car_soc_kwh
            result.car_kw[car.name][i] = out.car_kw
        result.grid_import_kw[i] = out.grid_import_kw
        result.grid_export_kw[i] = out.grid_export_kw
        result.battery_charge_kw[i] = out.battery_charge_kw
        result.battery_discharge_kw[i] = out.battery_discharge_kw
        result.battery_soc_kwh[i] = out.battery_soc_kwh
        result.cost_eur[i] = out.cost_eur
        for name, soc in state.car_soc_kwh.items():
            result.car_soc_kwh[name][i] = soc
        if progress is not None and (i + 1) % (replay.slots_per_day * 7) == 0:
            progress(i + 1, m)
    result.runtime_s = time.perf_counter() - started
    result.solve_ms = list(getattr(strategy, "solve_ms", []))
    result.trace = dict(getattr(strategy, "trace", {}))
    return result
