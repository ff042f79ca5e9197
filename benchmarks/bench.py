"""Planner benchmarks (``script/bench``).

- default: one JSON object per line, for 24 and 48 h x battery + 1, 3 and 5 cars: the wall time of
  ``plan()`` (validation, model building, solve, outputs and explanations) over repeated runs,
  ``p50_ms``/``p95_ms``, the Python-heap peak of one plan (``peak_mem_mb``, tracemalloc: HiGHS'
  native memory is not included) and the process's peak RSS (``rss_mb``). Inputs are synthetic
  but realistic and deterministic: real 2024 prices, PV and household load from the committed
  fixture ``tests/fixtures/scenarios/de-2024-08-04-48h-2cars.json``, the reference home's battery
  and a fixed set of cars.
- ``--solvers``: the solve alone on the 48 h / 3-car model, by backend (direct highspy, scipy's
  linprog), and the exclusivity MILP with binaries in every slot (highspy, scipy's milp).
- ``--scenario FILE``: the answer to one scenario (``../shared/bench/README.md``) on stdout.
- ``--check FILE...``: answers each scenario, checks the answer, lists the violations and exits
  non-zero if there are any.
- ``--soak --days N [--start YYYY-MM-DD] [--data shared|fixture]``: the real integration through N
  simulated days (``benchmarks/soak.py``); one JSON object.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
import dataclasses
import json
from pathlib import Path
import resource
import sys
import time
import tracemalloc
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from custom_components.smartload.planner import lp  # noqa: E402
from custom_components.smartload.planner.model import (  # noqa: E402
    BatteryInput,
    PlanInput,
    PlannerSettings,
    VehicleInput,
)
from custom_components.smartload.planner.scenario import (  # noqa: E402
    check_answer,
    plan_to_answer,
    scenario_to_input,
)

FIXTURE = ROOT / "tests" / "fixtures" / "scenarios" / "de-2024-08-04-48h-2cars.json"
NEGATIVE_DAYS = (
    "de-2024-05-12-24h-negative-prices-battery-2cars.json",
    "de-2024-05-12-24h-raw-spot-negative-battery-2cars.json",
)
HORIZONS_H = (24, 48)
CAR_COUNTS = (1, 3, 5)
RUNS = 40
WARMUP = 3

# The cars of the synthetic homes (taken in this order): name, capacity, SoC now, target,
# max charge kW, plugged-in from slot, departure slot (from the start), expected use kWh.
_CARS = (
    ("Kia", 77.0, 20.0, 61.6, 11.0, 0, 60, 12.0),
    ("Zoe", 52.0, 18.0, 41.6, 11.0, 8, 90, 6.0),
    ("Tesla", 75.0, 40.0, 60.0, 11.0, 4, None, 10.0),
    ("Golf", 58.0, 30.0, 46.4, 7.4, 20, 130, 8.0),
    ("Model3", 60.0, 25.0, 48.0, 11.0, 2, 170, 9.0),
)


def synthetic_input(horizon_h: int, n_cars: int) -> PlanInput:
    """A realistic home: real prices/PV/load, the reference battery and ``n_cars`` cars."""
    base = scenario_to_input(json.loads(FIXTURE.read_text()))
    n = horizon_h * 60 // base.slot_minutes
    cars = []
    for name, cap, soc, target, kw, plugged, dep, use in _CARS[:n_cars]:
        cars.append(
            VehicleInput(
                name=name,
                capacity_kwh=cap,
                soc_kwh=soc,
                target_soc_kwh=target,
                max_charge_kw=kw,
                plugged_from_slot=plugged,
                departure_slot=dep if dep is not None and dep < n else None,
                expected_use_kwh=use,
            )
        )
    return dataclasses.replace(
        base,
        import_price_eur_per_kwh=base.import_price_eur_per_kwh[:n],
        export_price_eur_per_kwh=base.export_price_eur_per_kwh[:n],
        load_kw=base.load_kw[:n],
        pv_kw=base.pv_kw[:n],
        battery=BatteryInput(
            capacity_kwh=10.0,
            soc_kwh=4.0,
            min_soc_kwh=1.0,
            max_soc_kwh=10.0,
            max_charge_kw=5.0,
            max_discharge_kw=5.0,
            wear_cost_eur_per_kwh=0.02,
        ),
        vehicles=tuple(cars),
        settings=PlannerSettings(),
    )


def _times_ms(fn: Callable[[], Any], runs: int = RUNS, warmup: int = WARMUP) -> np.ndarray:
    for _ in range(warmup):
        fn()
    out = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter()
        fn()
        out[i] = (time.perf_counter() - t0) * 1000.0
    return out


def _peak_mb(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1e6


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def bench_plans() -> list[dict[str, Any]]:
    """The default benchmark: one record per horizon x car count."""
    records = []
    for horizon_h in HORIZONS_H:
        for n_cars in CAR_COUNTS:
            inputs = synthetic_input(horizon_h, n_cars)
            result = lp.plan(inputs)
            times = _times_ms(lambda inputs=inputs: lp.plan(inputs))
            records.append(
                {
                    "horizon_h": horizon_h,
                    "cars": n_cars,
                    "p50_ms": round(float(np.percentile(times, 50)), 2),
                    "p95_ms": round(float(np.percentile(times, 95)), 2),
                    "peak_mem_mb": round(_peak_mb(lambda inputs=inputs: lp.plan(inputs)), 2),
                    "rss_mb": round(_rss_mb(), 1),
                    "status": str(result.status),
                }
            )
    return records


def _interleaved(cases: dict[str, Callable[[], Any]], runs: int) -> dict[str, dict[str, float]]:
    """Wall and CPU medians/p95 of several callables, run in turns (fair on a busy machine)."""
    for fn in cases.values():
        fn()
    wall: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, fn in cases.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall[name].append((time.perf_counter() - t0) * 1000.0)
            cpu[name].append((time.process_time() - c0) * 1000.0)
    return {
        name: {
            "p50_ms": round(float(np.percentile(wall[name], 50)), 2),
            "p95_ms": round(float(np.percentile(wall[name], 95)), 2),
            "cpu_p50_ms": round(float(np.percentile(cpu[name], 50)), 2),
        }
        for name in cases
    }


def bench_solvers(horizon_h: int = 48, n_cars: int = 3) -> list[dict[str, Any]]:
    """The solve alone, by backend, on one model (the LP and an all-binaries MILP), and whole
    plans on the real negative-price days (LP -> MILP where tempted -> LP with fixed directions)."""
    inputs = synthetic_input(horizon_h, n_cars)
    values = lp.terminal_values(inputs)
    model = lp._build(inputs, values)
    every = np.arange(inputs.n_slots)
    mip = lp._build(inputs, values, binaries=lp._Binaries(every, every))
    size = {"horizon_h": horizon_h, "cars": n_cars}
    records: list[dict[str, Any]] = []
    build = _interleaved({"build": lambda: lp._build(inputs, values)}, runs=20)
    records.append(size | {"problem": "build"} | build["build"])
    for kind, problem, runs in (("lp", model, 30), ("milp_all_slots", mip, 5)):
        cases = {
            name: (lambda name=name, problem=problem: lp.SOLVERS[name](problem, 60.0))
            for name in lp.SOLVERS
        }
        shape = {"rows": problem.a.shape[0], "cols": problem.a.shape[1]}
        for name, stats in _interleaved(cases, runs).items():
            records.append(size | {"problem": kind, "solver": name} | shape | stats)
    for fixture in NEGATIVE_DAYS:
        day = scenario_to_input(json.loads((FIXTURE.parent / fixture).read_text()))
        cases = {n: (lambda n=n, day=day: lp.plan(day, solver=n)) for n in lp.SOLVERS}
        for name, stats in _interleaved(cases, runs=10).items():
            scenario = fixture.removesuffix(".json")
            records.append({"scenario": scenario, "problem": "plan", "solver": name} | stats)
    return records


def answer(path: Path) -> dict[str, Any]:
    """The answer to one scenario file; ``solve_ms`` counts from the parsed scenario."""
    scenario = json.loads(path.read_text())
    lp.warm_up()  # library imports are not part of the solve
    t0 = time.perf_counter()
    result = lp.plan(scenario_to_input(scenario))
    out = plan_to_answer(result)
    out["solve_ms"] = round((time.perf_counter() - t0) * 1000.0, 3)
    return out


def check(paths: Sequence[Path]) -> list[str]:
    """Answer and check each scenario; the violations, prefixed with the file name."""
    problems = []
    for path in paths:
        scenario = json.loads(path.read_text())
        try:
            result = answer(path)
        except ValueError as err:
            problems.append(f"{path.name}: rejected: {err}")
            continue
        problems.extend(f"{path.name}: {error}" for error in check_answer(scenario, result))
        if result["status"] in ("fallback", "error"):
            problems.append(f"{path.name}: status {result['status']}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="script/bench", description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--scenario", type=Path, metavar="FILE", help="answer one scenario")
    group.add_argument("--check", type=Path, nargs="+", metavar="FILE", help="check scenarios")
    group.add_argument("--solvers", action="store_true", help="compare solver backends")
    group.add_argument("--soak", action="store_true", help="soak the integration (real HA)")
    parser.add_argument("--days", type=int, default=30, help="--soak: simulated days")
    parser.add_argument("--start", help="--soak: first local day (YYYY-MM-DD)")
    parser.add_argument("--data", choices=("shared", "fixture"), help="--soak: data set")
    args = parser.parse_args(argv)
    if args.soak:
        from benchmarks import soak

        report, code = soak.run(args.days, args.start, args.data)
        print(json.dumps(report))
        return code
    if args.scenario is not None:
        print(json.dumps(answer(args.scenario)))
        return 0
    if args.check is not None:
        problems = check(args.check)
        for problem in problems:
            print(problem)
        print(f"{len(args.check)} scenarios checked, {len(problems)} violations", file=sys.stderr)
        return 1 if problems else 0
    for record in bench_solvers() if args.solvers else bench_plans():
        print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
