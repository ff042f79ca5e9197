"""Run one strategy over a long replay in parallel segments (``--jobs``).

The closed loop is sequential; to use several cores the replay is cut into ``jobs`` consecutive
segments. Each segment after the first starts ``warmup_days`` earlier from the home's initial state
and only its own slots are kept, so at the junction the battery and the cars have been driven by
the strategy for days already (their state no longer depends on where the run began; the
forecasters see all data before the segment in any case). With one job it is the plain loop.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
import itertools
import multiprocessing
import time

import numpy as np

from .data import ReplayData
from .engine import Replay, RunResult, Strategy, prepare, run
from .home import HomeParams

type StrategyFactory = Callable[[Replay], Strategy]


def _segment(
    data: ReplayData,
    home: HomeParams,
    factory: StrategyFactory,
    span: tuple[int, int],
    warmup: int,
) -> RunResult:
    begin, end = span
    start = max(0, begin - warmup)
    replay = prepare(
        data, home, start=data.time_of(start), days=(end - start) / (24 * 60 / data.slot_minutes)
    )
    result = run(replay, factory(replay))
    skip = begin - replay.first
    if skip <= 0:
        return result
    return _tail(result, skip, begin)


def _tail(result: RunResult, skip: int, begin: int) -> RunResult:
    """The part of a result from index ``skip`` on (the state before it becomes the start)."""
    return RunResult(
        name=result.name,
        dt_h=result.dt_h,
        grid_import_kw=result.grid_import_kw[skip:],
        grid_export_kw=result.grid_export_kw[skip:],
        battery_charge_kw=result.battery_charge_kw[skip:],
        battery_discharge_kw=result.battery_discharge_kw[skip:],
        battery_soc_kwh=result.battery_soc_kwh[skip:],
        car_kw={k: v[skip:] for k, v in result.car_kw.items()},
        car_soc_kwh={k: v[skip:] for k, v in result.car_soc_kwh.items()},
        cost_eur=result.cost_eur[skip:],
        departures=[d for d in result.departures if d.slot >= begin],
        solve_ms=result.solve_ms[skip:],
        runtime_s=result.runtime_s,
        trace={k: v[skip:] for k, v in result.trace.items()},
        battery_initial_kwh=float(result.battery_soc_kwh[skip - 1]),
        car_initial_kwh={k: float(v[skip - 1]) for k, v in result.car_soc_kwh.items()},
        writes=result.writes[skip:],
    )


def run_segmented(
    replay: Replay,
    factory: StrategyFactory,
    *,
    jobs: int = 1,
    warmup_days: float = 3.0,
) -> RunResult:
    """Run ``factory(replay)`` over the replay, in ``jobs`` parallel segments when > 1."""
    if jobs <= 1:
        return run(replay, factory(replay))
    started = time.perf_counter()
    bounds = np.linspace(replay.first, replay.last, jobs + 1).round().astype(int)
    warmup = round(warmup_days * replay.slots_per_day)
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [
            pool.submit(_segment, replay.data, replay.home, factory, (int(a), int(b)), warmup)
            for a, b in itertools.pairwise(bounds)
        ]
        parts = [f.result() for f in futures]
    first = parts[0]
    return RunResult(
        name=first.name,
        dt_h=first.dt_h,
        grid_import_kw=np.concatenate([p.grid_import_kw for p in parts]),
        grid_export_kw=np.concatenate([p.grid_export_kw for p in parts]),
        battery_charge_kw=np.concatenate([p.battery_charge_kw for p in parts]),
        battery_discharge_kw=np.concatenate([p.battery_discharge_kw for p in parts]),
        battery_soc_kwh=np.concatenate([p.battery_soc_kwh for p in parts]),
        car_kw={k: np.concatenate([p.car_kw[k] for p in parts]) for k in first.car_kw},
        car_soc_kwh={
            k: np.concatenate([p.car_soc_kwh[k] for p in parts]) for k in first.car_soc_kwh
        },
        cost_eur=np.concatenate([p.cost_eur for p in parts]),
        departures=[d for p in parts for d in p.departures],
        solve_ms=[ms for p in parts for ms in p.solve_ms],
        runtime_s=time.perf_counter() - started,
        trace={k: np.concatenate([p.trace[k] for p in parts]) for k in first.trace},
        battery_initial_kwh=first.battery_initial_kwh,
        car_initial_kwh=first.car_initial_kwh,
        writes=np.concatenate([p.writes for p in parts]),
    )
