"""Command line: ``python -m benchmarks.simulate [options]`` (see ``script/simulate --help``)."""

from __future__ import annotations

import argparse
from datetime import datetime
import functools
import json
import os
from pathlib import Path
import sys
import time

from custom_components.smartload.planner.model import PlannerSettings
from custom_components.smartload.planner.stability import StabilitySettings

from .data import DEFAULT_LOAD, DEFAULT_PRICES, DEFAULT_PV, DEFAULT_TRIPS, load_replay, parse_time
from .engine import Replay, RunResult, prepare, run
from .home import HomeParams
from .parallel import run_segmented
from .prices_hook import price_extender
from .report import markdown, summary, write_html
from .strategies import DumbStrategy, MpcStrategy, ThresholdStrategy, run_perfect

STRATEGIES = ("dumb", "threshold", "mpc", "perfect", "mpc-oracle", "mpc-buffer", "mpc-unstable")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The options."""
    parser = argparse.ArgumentParser(
        prog="script/simulate",
        description="Closed-loop replay of a home over real price, PV, load and trip data.",
    )
    parser.add_argument("--prices", type=Path, default=DEFAULT_PRICES, help="day-ahead €/MWh CSV")
    parser.add_argument("--pv", type=Path, default=DEFAULT_PV, help="PV kW per kWp CSV")
    parser.add_argument("--load", type=Path, default=DEFAULT_LOAD, help="household load kW CSV")
    parser.add_argument("--trips", type=Path, default=DEFAULT_TRIPS, help="car trips CSV")
    parser.add_argument("--kwp", type=float, default=HomeParams().pv_kwp, help="PV size (kWp)")
    parser.add_argument(
        "--annual-load-kwh",
        type=float,
        default=None,
        help="rescale the load to this many kWh/year (default: as read)",
    )
    parser.add_argument("--days", type=float, default=None, help="simulate only N days")
    parser.add_argument("--start", type=str, default=None, help="first day (ISO date/time, UTC)")
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="recorded in the output; the shipped strategies and physics draw no random numbers",
    )
    parser.add_argument(
        "--strategies",
        default="dumb,threshold,mpc,perfect",
        help=f"comma-separated subset of {', '.join(STRATEGIES)}",
    )
    parser.add_argument(
        "--min-horizon-h",
        type=float,
        default=24.0,
        help="MPC: extend the published prices by an estimate to at least this many hours (0: no)",
    )
    parser.add_argument(
        "--expected-use-factor",
        type=float,
        default=1.0,
        help="MPC: expected use beyond the next departure = this × the car's recent daily use",
    )
    parser.add_argument(
        "--battery-reserve",
        type=float,
        default=None,
        help="MPC: the minimum SoC configured in SmartLoad, a fraction (default: the inverter "
        "floor); mpc-buffer moves it per cycle (planner.buffer)",
    )
    parser.add_argument(
        "--reserve-enforced",
        action="store_true",
        help="MPC: the inverter keeps the cycle's minimum SoC (otherwise it discharges to its "
        "own floor, the home's battery minimum)",
    )
    parser.add_argument(
        "--min-gain",
        type=float,
        default=StabilitySettings().min_gain_eur,
        help="MPC: a new plan changes the applied decision only when the kept cycles' gains "
        "add up to this many EUR (0: no keep rule); mpc-unstable: none",
    )
    parser.add_argument(
        "--min-block",
        type=float,
        default=PlannerSettings().min_charge_block_minutes,
        help="MPC: a car's minimum charging block in minutes (0: none); mpc-unstable: none",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="MPC in this many parallel segments (3-day warm-up each; 1: one closed loop)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.add_argument("--html", type=Path, default=None, help="write a plotly HTML report here")
    parser.add_argument("--week", type=str, default=None, help="first day of the HTML's week")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    names = [s.strip() for s in args.strategies.split(",") if s.strip()]
    unknown = [s for s in names if s not in STRATEGIES]
    if unknown or not names:
        parser.error(f"unknown strategies: {', '.join(unknown) or '(none)'}")
    args.strategy_names = names
    return args


def _start(text: str | None) -> datetime | None:
    return None if text is None else parse_time(text if "T" in text else text + "T00:00:00Z")


def run_all(
    replay: Replay,
    names: list[str],
    *,
    quiet: bool = True,
    min_horizon_h: float = 24.0,
    jobs: int = 1,
    expected_use_factor: float = 1.0,
    battery_reserve: float | None = None,
    reserve_enforced: bool = False,
    min_gain: float = StabilitySettings().min_gain_eur,
    min_block: float = PlannerSettings().min_charge_block_minutes,
) -> dict[str, RunResult]:
    """Run the named strategies on one replay."""
    results: dict[str, RunResult] = {}
    for name in names:
        started = time.perf_counter()

        def progress(done: int, total: int, name: str = name, started: float = started) -> None:
            if not quiet:
                print(
                    f"  {name}: {done}/{total} slots, {time.perf_counter() - started:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )

        match name:
            case "dumb":
                results[name] = run(replay, DumbStrategy(), progress=progress)
            case "threshold":
                results[name] = run(replay, ThresholdStrategy(replay), progress=progress)
            case "mpc" | "mpc-oracle" | "mpc-buffer" | "mpc-unstable":
                # mpc-unstable: every new plan applied as it comes, no minimum block (before
                # plan stability); the others as shipped
                stable = name != "mpc-unstable"
                factory = functools.partial(
                    MpcStrategy,
                    settings=PlannerSettings(min_charge_block_minutes=min_block if stable else 0),
                    stability=StabilitySettings(min_gain_eur=min_gain) if stable else None,
                    extend_prices=price_extender(min_horizon_h),
                    oracle=name == "mpc-oracle",
                    expected_use_factor=expected_use_factor,
                    name=name,
                    reserve_soc=battery_reserve,
                    buffer=name == "mpc-buffer",
                    enforce_reserve=reserve_enforced,
                )
                results[name] = run_segmented(replay, factory, jobs=jobs)
            case "perfect":
                results[name] = run_perfect(replay)
        if not quiet:
            print(f"{name}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    started = time.perf_counter()
    # Solver libraries may print banners to the C-level stdout: keep stdout for the result.
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        result, results, replay, data = _simulate(args, started)
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
    if args.html is not None:
        week = None
        if args.week is not None:
            week = max(0, data.slot_of(_start(args.week)) - replay.first)
        write_html(args.html, results, replay, result, week_start=week)
    if args.json:
        print(json.dumps(result))
    else:
        print(markdown(result))
    return 0


def _simulate(args: argparse.Namespace, started: float):
    """Load, prepare and run; returns (summary, results, replay, data)."""
    data = load_replay(args.prices, args.pv, args.load, args.trips)
    home = HomeParams(pv_kwp=args.kwp, annual_load_kwh=args.annual_load_kwh)
    replay = prepare(data, home, start=_start(args.start), days=args.days, seed=args.seed)
    results = run_all(
        replay,
        args.strategy_names,
        quiet=args.quiet,
        min_horizon_h=args.min_horizon_h,
        jobs=args.jobs,
        expected_use_factor=args.expected_use_factor,
        battery_reserve=args.battery_reserve,
        reserve_enforced=args.reserve_enforced,
        min_gain=args.min_gain,
        min_block=args.min_block,
    )
    result = summary(results, replay, time.perf_counter() - started)
    result["seed"] = args.seed
    result["jobs"] = args.jobs
    result["expected_use_factor"] = args.expected_use_factor
    result["min_horizon_h"] = args.min_horizon_h
    result["battery_reserve"] = args.battery_reserve
    result["reserve_enforced"] = args.reserve_enforced
    result["min_gain_eur"] = args.min_gain
    result["min_block_minutes"] = args.min_block
    return result, results, replay, data


if __name__ == "__main__":
    sys.exit(main())
