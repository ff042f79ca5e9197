"""Backtest of the consumption forecaster on the shared household profile: profile vs SARIMA.

``python -m benchmarks.forecast_backtest [--weeks N] [--step 60]``: for N end dates spread over
the year, the forecaster is fitted on the 8 weeks before (as Home Assistant's hourly statistics
would give them: ``--step 60`` averages the 15-min data per hour) and its own rolling backtest
(day-ahead from each of the last 7 local midnights, MAE per 15-min slot) is printed.
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
import time

import numpy as np

from custom_components.smartload.planner.forecast import (
    MAX_HISTORY_DAYS,
    fit_load_forecaster,
)

DATA = Path("/work/shared/data/household_load_bdew_h25_4000kwh_2024.csv")
START = datetime(2023, 12, 31, 23, 0, tzinfo=UTC)
# German public holidays of 2024 (nationwide); the profile counts them as weekend days.
HOLIDAYS = {
    date(2024, 1, 1),
    date(2024, 3, 29),
    date(2024, 4, 1),
    date(2024, 5, 1),
    date(2024, 5, 9),
    date(2024, 5, 20),
    date(2024, 10, 3),
    date(2024, 12, 25),
    date(2024, 12, 26),
}


def main() -> None:
    """Print the backtest MAE of the profile and of SARIMA per sample week, and the means."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weeks", type=int, default=8, help="sample end dates over the year")
    parser.add_argument("--step", type=int, default=60, choices=(15, 60), help="input minutes")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    load = np.genfromtxt(args.data, delimiter=",", skip_header=1, usecols=1)
    per_step = args.step // 15
    history = MAX_HISTORY_DAYS * 96
    ends = np.linspace(history, len(load), args.weeks).astype(int) // 96 * 96
    rows = []
    head = f"{'history end (UTC)':<18} {'model':<8} {'MAE profile':>12} {'MAE SARIMA':>11}"
    print(f"{head} {'CPU s':>6}")
    for end in (int(e) for e in ends):
        first = end - history
        values = load[first:end]
        if per_step > 1:
            values = values.reshape(-1, per_step).mean(axis=1)
        t0 = time.process_time()
        fc = fit_load_forecaster(
            START + timedelta(minutes=15 * first),
            values,
            step_minutes=args.step,
            timezone="Europe/Berlin",
            holidays=HOLIDAYS,
        )
        cpu = time.process_time() - t0
        rows.append((fc.mae_profile_kw, fc.mae_sarima_kw))
        stamp = (START + timedelta(minutes=15 * end)).strftime("%Y-%m-%d %H:%M")
        sarima = "-" if fc.mae_sarima_kw is None else f"{fc.mae_sarima_kw:.4f}"
        print(f"{stamp:<18} {fc.model:<8} {fc.mae_profile_kw:>12.4f} {sarima:>11} {cpu:>6.1f}")
    prof = np.mean([r[0] for r in rows])
    sar = [r[1] for r in rows if r[1] is not None]
    mean_load = float(np.mean(load))
    print(f"mean load {mean_load:.3f} kW; mean MAE profile {prof:.4f} kW ({prof / mean_load:.1%})")
    if sar:
        print(f"mean MAE SARIMA {np.mean(sar):.4f} kW ({np.mean(sar) / mean_load:.1%})")


if __name__ == "__main__":
    main()
