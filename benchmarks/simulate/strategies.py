"""The strategies compared: dumb, threshold (evcc smart cost limit), SmartLoad MPC, perfect."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
import functools
import math
import time

import numpy as np

from custom_components.smartload.planner import lp
from custom_components.smartload.planner.baseline import (
    THRESHOLD_PERCENTILE,
    THRESHOLD_WINDOW_DAYS,
    deadline_urgent,
    threshold_limit,
)
from custom_components.smartload.planner.buffer import BufferDecision, dynamic_min_soc
from custom_components.smartload.planner.decision import decide, safe_decision
from custom_components.smartload.planner.forecast import (
    ConsumptionProfile,
    PvHistoryForecast,
    nowcast_additive,
    nowcast_ratio,
)
from custom_components.smartload.planner.model import (
    BatteryInput,
    BatteryMode,
    Decision,
    LoadpointMode,
    PlanInput,
    PlannerSettings,
    VehicleInput,
    Why,
)
from custom_components.smartload.planner.stability import (
    Applied,
    StabilitySettings,
    stabilise,
)

from .engine import Departure, Replay, RunResult, SimState, stored_energy_values
from .perfect import CarSchedule, solve_perfect, solve_perfect_chunked

type PriceExtender = Callable[..., tuple[np.ndarray, np.ndarray]]

_MODE_CODE = {mode: i for i, mode in enumerate(LoadpointMode)}
_BATTERY_CODE = {mode: i for i, mode in enumerate(BatteryMode)}


def _decision(
    *,
    mode: LoadpointMode,
    car: str | None,
    kw: float,
    limit: float | None = None,
    why: str = "baseline",
) -> Decision:
    """A baseline's decision: the battery always in self-consumption."""
    return Decision(
        loadpoint_mode=mode,
        active_vehicle=car,
        vehicle_charge_kw=kw,
        smart_cost_limit_eur_per_kwh=limit,
        battery_mode=BatteryMode.NORMAL,
        battery_grid_charge_limit_eur_per_kwh=None,
        battery_discharge_locked=False,
        battery_target_soc_kwh=None,
        why=Why(key=why),
    )


def _home_cars(replay: Replay, state: SimState) -> list[str]:
    """Plugged-in cars, earliest next departure first, then priority."""
    cars = [c for c in replay.home.cars if state.car_home.get(c.name, False)]
    cars.sort(
        key=lambda c: (
            state.next_departure[c.name] if state.next_departure[c.name] is not None else math.inf,
            c.priority,
        )
    )
    return [c.name for c in cars]


class DumbStrategy:
    """The car charges at full power as soon as it is plugged in, up to its target."""

    name = "dumb"

    def decide(self, replay: Replay, state: SimState) -> Decision:
        """Full power for the first plugged-in car below its target."""
        for name in _home_cars(replay, state):
            car = replay.home.car(name)
            need = car.target_kwh - state.car_soc_kwh[name]
            if need > 1e-6:
                kw = min(
                    replay.home.wallbox_max_kw,
                    car.max_charge_kw,
                    need / (car.charge_efficiency * replay.dt_h),
                )
                return _decision(mode=LoadpointMode.NOW, car=name, kw=kw, why="dumb")
        return _decision(mode=LoadpointMode.OFF, car=None, kw=0.0, why="dumb")


class ThresholdStrategy:
    """evcc-style: PV surplus charging plus a smart cost limit at a rolling price percentile.

    The limit is the ``percentile`` of the import prices of the last ``window_days`` days (past
    prices only). Below the limit the car charges at full power from the grid up to its target;
    otherwise it takes PV surplus (up to its charge limit). When the departure would otherwise be
    missed the car charges at full power regardless of the price.
    """

    name = "threshold"

    def __init__(
        self,
        replay: Replay,
        *,
        percentile: float = THRESHOLD_PERCENTILE,
        window_days: float = THRESHOLD_WINDOW_DAYS,
    ):
        w = round(window_days * replay.slots_per_day)
        self.limit = np.zeros(replay.data.n_slots)
        for t in range(replay.first, replay.last):
            past = replay.import_price[max(0, t - w) : t]
            if len(past) < replay.slots_per_day:
                past = replay.import_price[max(0, t - w) : replay.known_end[t]]
            self.limit[t] = threshold_limit(past, percentile)

    def decide(self, replay: Replay, state: SimState) -> Decision:
        """Urgent car at full power, else PV mode with the smart cost limit."""
        t = state.t
        home = replay.home
        cars = _home_cars(replay, state)
        for name in cars:
            car = home.car(name)
            need = car.target_kwh - state.car_soc_kwh[name]
            dep = state.next_departure[name]
            if need <= 1e-6 or dep is None:
                continue
            power = min(home.wallbox_max_kw, car.max_charge_kw)
            hours_left = (dep - t) * replay.dt_h
            if deadline_urgent(need, power, car.charge_efficiency, hours_left, replay.dt_h):
                return _decision(mode=LoadpointMode.NOW, car=name, kw=power, why="deadline")
        for name in cars:
            car = home.car(name)
            if car.target_kwh - state.car_soc_kwh[name] > 1e-6:
                return _decision(
                    mode=LoadpointMode.PV, car=name, kw=0.0, limit=float(self.limit[t]), why="pv"
                )
        for name in cars:
            car = home.car(name)
            if car.limit_kwh - state.car_soc_kwh[name] > 1e-6:
                return _decision(mode=LoadpointMode.PV, car=name, kw=0.0, why="pv")
        return _decision(mode=LoadpointMode.OFF, car=None, kw=0.0, why="idle")


class MpcStrategy:
    """SmartLoad as shipped: forecast (past data only), ``lp.plan``, ``decide`` the current slot.

    - prices: the published day-ahead prices (known at ``day_ahead_publish_hour`` local for the
      next day), extended by ``extend_prices`` when given;
    - load: ``ConsumptionProfile`` over the last ``history_days`` days, refitted each local day,
      nowcast from the last measured slot;
    - PV: ``PvHistoryForecast`` from the past whole UTC days, nowcast ratio from the last slot;
    - cars: the next departure (as the driver says it) with the target, and as expected use the
      car's average daily use over the last ``expected_use_days`` days (past trips only), times
      ``expected_use_factor`` (1: one day's use, as shipped).

    ``oracle=True`` feeds the true load and PV instead (a diagnostic, not a product strategy).

    ``reserve_soc``: the minimum SoC the user configured in SmartLoad (fraction; None: the home's
    inverter floor ``battery_min_soc``). ``buffer=True`` replaces it each cycle by
    ``planner.buffer.dynamic_min_soc``, its PV confidence from the forecast's own recent error:
    the day-ahead forecast of each of the last ``buffer_error_days`` whole UTC days against the
    realised PV (MAE / mean; past data only). ``enforce_reserve=True``: the inverter does not
    discharge below the cycle's minimum SoC (SmartLoad writes it as the inverter's reserve);
    otherwise the reserve only shapes the plan and the inverter discharges to its own floor.

    ``stability``: the keep rule (``planner.stability``) as the coordinator runs it — the
    decision applied in the previous slot is kept unless the new plan saves at least its
    minimum gain or the situation changed; None: every new decision is applied as it comes.
    Each car's ``charging_kw`` is what the previous decision charged it at (for the planner's
    minimum charging block, ``settings.min_charge_block_minutes``).
    """

    def __init__(
        self,
        replay: Replay,
        *,
        settings: PlannerSettings | None = None,
        history_days: int = 56,
        half_life_days: float = 14.0,
        pv_window_days: int = 14,
        expected_use_days: int = 14,
        expected_use_factor: float = 1.0,
        default_load_kw: float = 0.45,
        oracle: bool = False,
        extend_prices: PriceExtender | None = None,
        name: str = "mpc",
        reserve_soc: float | None = None,
        buffer: bool = False,
        buffer_error_days: int = 7,
        enforce_reserve: bool = False,
        stability: StabilitySettings | None = None,
    ):
        self.name = name
        self.stability = stability
        self._applied: Applied | None = None
        self._previous: Decision | None = None
        self.kept = 0  # cycles in which the keep rule kept the applied decision
        self.reserve_soc = reserve_soc
        self.buffer = buffer
        self.buffer_error_days = buffer_error_days
        self.buffers: list[BufferDecision] = []
        self.enforce_reserve = enforce_reserve
        self.inverter_reserve_kwh: float | None = None
        # per UTC day (index from the first midnight): the day-ahead PV forecast made for it
        self._pv_dayahead: dict[int, np.ndarray] = {}
        self.settings = settings or PlannerSettings()
        self.history_days = history_days
        self.half_life_days = half_life_days
        self.pv_window_days = pv_window_days
        self.expected_use_days = expected_use_days
        self.expected_use_factor = expected_use_factor
        self.default_load_kw = default_load_kw
        self.oracle = oracle
        self.extend_prices = extend_prices
        self.solve_ms: list[float] = []
        self.errors = 0
        per_day = replay.slots_per_day
        midnights = np.flatnonzero(replay.utc_slot_of_day == 0)
        self._day0 = int(midnights[0]) if len(midnights) else replay.data.n_slots
        n_days = max(0, (replay.data.n_slots - self._day0) // per_day)
        self._pv_days = replay.pv_kw[self._day0 : self._day0 + n_days * per_day].reshape(
            n_days, per_day
        )
        self._profile: ConsumptionProfile | None = None
        self._pv: PvHistoryForecast | None = None
        self._pv_day = -2
        self._returns: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for car in replay.home.cars:
            trips = sorted(
                (replay.data.slot_at_or_after(tr.ret), tr.energy_kwh)
                for tr in replay.data.trips
                if tr.vehicle == car.name
            )
            slots = np.array([s for s, _ in trips], dtype=np.int64)
            cum = np.concatenate([[0.0], np.cumsum([e for _, e in trips])])
            self._returns[car.name] = (slots, cum)
        m = replay.n_sim
        self.trace = {
            key: np.full(m, np.nan)
            for key in (
                "load_forecast_kw",
                "pv_forecast_kw",
                "planned_import_kw",
                "planned_export_kw",
                "planned_battery_soc_kwh",
                "planned_car_kw",
                "horizon_slots",
                "loadpoint_mode",
                "battery_mode",
                "pv_dayahead_kw",
                "planned_min_soc_kwh",
            )
        }

    def expected_use(self, replay: Replay, name: str, t: int) -> float:
        """The car's average daily use over the recent past (trips returned before ``t``)."""
        slots, cum = self._returns[name]
        per_day = replay.slots_per_day
        start = max(0, t - self.expected_use_days * per_day)
        days = (t - start) / per_day
        if days < 1.0:
            return 0.0
        lo = int(np.searchsorted(slots, start, side="left"))
        hi = int(np.searchsorted(slots, t, side="right"))
        return self.expected_use_factor * float(cum[hi] - cum[lo]) / days

    def forecasts(self, replay: Replay, t: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """(load, PV) forecasts for slots ``t`` … ``end`` − 1 from data before ``t``."""
        if self.oracle:
            return replay.load_kw[t:end].copy(), replay.pv_kw[t:end].copy()
        per_day = replay.slots_per_day
        if self._profile is None or replay.local_slot_of_day[t] == 0:
            h = slice(max(0, t - self.history_days * per_day), t)
            self._profile = ConsumptionProfile.fit_calendar(
                replay.local_slot_of_day[h],
                replay.local_weekend[h],
                replay.seconds[h],
                replay.load_kw[h],
                slot_minutes=replay.data.slot_minutes,
                half_life_days=self.half_life_days,
                now_s=float(replay.seconds[t]),
                default_kw=self.default_load_kw,
            )
        utc_day = (t - self._day0) // per_day if t >= self._day0 else -1
        if self._pv is None or utc_day != self._pv_day:
            past = self._pv_days[max(0, utc_day - self.pv_window_days) : max(0, utc_day)]
            self._pv = PvHistoryForecast.fit(past, slot_minutes=replay.data.slot_minutes)
            self._pv_day = utc_day
            if utc_day >= 0:
                self._pv_dayahead[utc_day] = self._pv.predict_slots(np.arange(per_day))
        profile = self._profile
        sod = replay.local_slot_of_day[t:end]
        load = profile.predict_calendar(sod, replay.local_weekend[t:end])
        pv = self._pv.predict_slots(replay.utc_slot_of_day[t:end])
        if t > 0:
            prev = slice(t - 1, t)
            expected = float(
                profile.predict_calendar(
                    replay.local_slot_of_day[prev], replay.local_weekend[prev]
                )[0]
            )
            load = nowcast_additive(load, float(replay.load_kw[t - 1]), expected)
            pv_expected = float(self._pv.predict_slots(replay.utc_slot_of_day[prev])[0])
            pv = nowcast_ratio(pv, float(replay.pv_kw[t - 1]), pv_expected)
        return load, pv

    def pv_recent_error(self, replay: Replay, t: int) -> float | None:
        """MAE / mean of the day-ahead PV forecasts of the last whole UTC days before ``t``."""
        per_day = replay.slots_per_day
        if t < self._day0:
            return None
        today = (t - self._day0) // per_day
        err = actual = 0.0
        for day in range(max(0, today - self.buffer_error_days), today):
            forecast = self._pv_dayahead.get(day)
            if forecast is None:
                continue
            real = self._pv_days[day]
            err += float(np.abs(forecast - real).sum())
            actual += float(real.sum())
        return err / actual if actual > 1e-6 else None

    def plan_input(self, replay: Replay, state: SimState) -> PlanInput:
        """What the integration would hand the planner at slot ``state.t``."""
        t = state.t
        home = replay.home
        end = int(replay.known_end[t])
        p_in = replay.import_price[t:end]
        p_out = replay.export_price[t:end]
        estimated = np.zeros(end - t, dtype=bool)
        if self.extend_prices is not None:
            p_in, estimated = self.extend_prices(replay, t, end)
            p_out = np.full(len(p_in), home.feed_in_eur_per_kwh)
            end = min(replay.data.n_slots, t + len(p_in))
            p_in, p_out, estimated = p_in[: end - t], p_out[: end - t], estimated[: end - t]
        load, pv = self.forecasts(replay, t, end)
        n = end - t
        battery = None
        if home.has_battery:
            soc = min(home.battery_capacity_kwh, max(home.battery_min_kwh, state.battery_soc_kwh))
            cap = home.battery_capacity_kwh
            min_soc = home.battery_min_kwh if self.reserve_soc is None else self.reserve_soc * cap
            if self.buffer:
                decision = dynamic_min_soc(
                    capacity_kwh=cap,
                    configured_min_soc_kwh=min_soc,
                    max_soc_kwh=cap,
                    import_price_eur_per_kwh=p_in,
                    local_hour=float(replay.local_slot_of_day[t]) * replay.dt_h,
                    pv_kw=pv,
                    pv_recent_error=self.pv_recent_error(replay, t),
                    dt_h=replay.dt_h,
                )
                self.buffers.append(decision)
                min_soc = decision.min_soc_kwh
            battery = BatteryInput(
                capacity_kwh=cap,
                soc_kwh=soc,
                min_soc_kwh=min_soc,
                max_soc_kwh=home.battery_capacity_kwh,
                max_charge_kw=home.battery_max_charge_kw,
                max_discharge_kw=home.battery_max_discharge_kw,
                charge_efficiency=home.battery_charge_efficiency,
                discharge_efficiency=home.battery_discharge_efficiency,
            )
        vehicles = []
        for car in home.cars:
            if not state.car_home.get(car.name, False):
                continue
            dep = state.next_departure[car.name]
            rel = dep - t if dep is not None and dep - t <= n else None
            vehicles.append(
                VehicleInput(
                    name=car.name,
                    capacity_kwh=car.capacity_kwh,
                    soc_kwh=min(car.capacity_kwh, state.car_soc_kwh[car.name]),
                    target_soc_kwh=car.target_kwh,
                    max_charge_kw=min(car.max_charge_kw, home.wallbox_max_kw),
                    charge_efficiency=car.charge_efficiency,
                    departure_slot=rel,
                    priority=car.priority,
                    expected_use_kwh=self.expected_use(replay, car.name, t),
                )
            )
        return PlanInput(
            start=replay.data.time_of(t),
            slot_minutes=replay.data.slot_minutes,
            import_price_eur_per_kwh=np.ascontiguousarray(p_in, dtype=np.float64),
            export_price_eur_per_kwh=np.ascontiguousarray(p_out, dtype=np.float64),
            load_kw=load,
            pv_kw=pv,
            wallbox_max_kw=home.wallbox_max_kw,
            battery=battery,
            vehicles=tuple(vehicles),
            price_estimated=estimated,
            settings=self.settings,
        )

    def decide(self, replay: Replay, state: SimState) -> Decision:
        """Forecast, plan, decide the current slot."""
        inputs = self._charging_now(self.plan_input(replay, state))
        started = time.perf_counter()
        try:
            plan = lp.plan(inputs)
        except ValueError:
            self.errors += 1
            self.solve_ms.append(float("nan"))
            self._applied = self._previous = None
            return safe_decision(Why(key="idle"))
        decision = decide(inputs, plan, 0, min_charge_kw=replay.home.wallbox_min_kw)
        if self.stability is not None:
            out = stabilise(
                inputs,
                plan,
                decision,
                self._applied,
                solve=lp.plan,
                settings=self.stability,
                min_charge_kw=replay.home.wallbox_min_kw,
            )
            plan, decision = out.plan, out.decision
            self.kept += out.kept
            self._applied = out.applied
        self._previous = decision
        self.solve_ms.append((time.perf_counter() - started) * 1000.0)
        if self.enforce_reserve and inputs.battery is not None:
            self.inverter_reserve_kwh = inputs.battery.min_soc_kwh
        i = state.t - replay.first
        tr = self.trace
        tr["load_forecast_kw"][i] = inputs.load_kw[0]
        tr["pv_forecast_kw"][i] = inputs.pv_kw[0]
        tr["planned_import_kw"][i] = plan.grid_import_kw[0]
        tr["planned_export_kw"][i] = plan.grid_export_kw[0]
        tr["planned_battery_soc_kwh"][i] = plan.battery_soc_kwh[0]
        tr["planned_car_kw"][i] = sum(float(v.charge_kw[0]) for v in plan.vehicles)
        tr["horizon_slots"][i] = inputs.n_slots
        if inputs.battery is not None:
            tr["planned_min_soc_kwh"][i] = inputs.battery.min_soc_kwh
        day = self._pv_dayahead.get(self._pv_day)
        if day is not None:
            tr["pv_dayahead_kw"][i] = day[replay.utc_slot_of_day[state.t]]
        tr["loadpoint_mode"][i] = _MODE_CODE[decision.loadpoint_mode]
        tr["battery_mode"][i] = _BATTERY_CODE[decision.battery_mode]
        return decision

    def _charging_now(self, inputs: PlanInput) -> PlanInput:
        """Each car's power now: what the previous decision charged it at."""
        prev = self._previous
        if prev is None or prev.active_vehicle is None or prev.loadpoint_mode is LoadpointMode.OFF:
            return inputs
        vehicles = tuple(
            replace(v, charging_kw=prev.vehicle_charge_kw) if v.name == prev.active_vehicle else v
            for v in inputs.vehicles
        )
        return replace(inputs, vehicles=vehicles)


def run_perfect(
    replay: Replay, *, chunk_days: float | None = 14.0, overlap_days: float = 3.0
) -> RunResult:
    """The perfect-foresight bound over the simulated slots (see ``perfect``).

    ``chunk_days``: solve in chunks of this many days, each looking ``overlap_days`` further
    (None, or a replay no longer than one chunk: a single LP).
    """
    a, b = replay.first, replay.last
    cars = tuple(
        CarSchedule(
            name=s.name,
            home=s.home[a:b],
            departures=s.departures - a,
            returns=s.returns - a,
            energy_kwh=s.energy_kwh,
        )
        for s in replay.cars
    )
    home = replay.home
    battery_value, car_values = stored_energy_values(replay)
    started = time.perf_counter()
    solver = solve_perfect
    if chunk_days is not None and replay.n_sim > chunk_days * replay.slots_per_day:
        solver = functools.partial(
            solve_perfect_chunked,
            chunk_slots=round(chunk_days * replay.slots_per_day),
            overlap_slots=round(overlap_days * replay.slots_per_day),
        )
    sol = solver(
        home,
        import_price=replay.import_price[a:b],
        export_price=replay.export_price[a:b],
        load_kw=replay.load_kw[a:b],
        pv_kw=replay.pv_kw[a:b],
        cars=cars,
        dt_h=replay.dt_h,
        battery_end_value=battery_value,
        car_end_values=tuple(car_values[c.name] for c in cars),
    )
    dt = replay.dt_h
    cost = (sol.grid_import_kw * replay.import_price[a:b]) * dt - (
        sol.grid_export_kw * replay.export_price[a:b]
    ) * dt
    departures = []
    for j, s in enumerate(cars):
        car = home.car(s.name)
        for d in s.departures:
            soc = float(sol.car_soc_kwh[j, d - 1]) if d > 0 else car.initial_soc * car.capacity_kwh
            departures.append(Departure(s.name, int(d) + a, soc, car.target_kwh))
    departures.sort(key=lambda dep: dep.slot)
    return RunResult(
        name="perfect",
        dt_h=dt,
        grid_import_kw=sol.grid_import_kw,
        grid_export_kw=sol.grid_export_kw,
        battery_charge_kw=sol.battery_charge_kw,
        battery_discharge_kw=sol.battery_discharge_kw,
        battery_soc_kwh=sol.battery_soc_kwh,
        car_kw={s.name: sol.car_kw[j] for j, s in enumerate(cars)},
        car_soc_kwh={s.name: sol.car_soc_kwh[j] for j, s in enumerate(cars)},
        cost_eur=cost,
        departures=departures,
        solve_ms=[sol.solve_s * 1000.0],
        runtime_s=time.perf_counter() - started,
        battery_initial_kwh=home.battery_initial_soc * home.battery_capacity_kwh,
        car_initial_kwh={c.name: c.initial_soc * c.capacity_kwh for c in home.cars},
    )
