"""Summaries of a replay: the metrics per strategy, a markdown table, JSON, a plotly HTML report."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from .engine import MISSED_TOL_KWH, Replay, RunResult, stored_energy_values

ORDER = ("dumb", "threshold", "mpc", "mpc-buffer", "perfect")
FLOOR_FRACTION = 0.10  # the buffer's hard floor (planner.buffer): SoC slots below it are counted
WORST_DAYS = 5  # the days with the worst day-ahead PV forecast, listed with each SoC minimum


def metrics(result: RunResult, replay: Replay) -> dict[str, Any]:
    """The figures of one strategy."""
    dt = result.dt_h
    home = replay.home
    cap = home.battery_capacity_kwh
    discharged = float(result.battery_discharge_kw.sum()) * dt / home.battery_discharge_efficiency
    short = [d.short_kwh for d in result.departures]
    # Energy left in the battery and the cars compared with the start, valued at the median
    # import price of the replay (a stored kWh displaces a later import): without this, a short
    # replay would reward emptying the storage at the end.
    battery_value, car_values = stored_energy_values(replay)
    battery_delta = float(result.battery_soc_kwh[-1]) - result.battery_initial_kwh
    end_energy = battery_delta
    stored_value = battery_delta * battery_value
    for name, soc in result.car_soc_kwh.items():
        delta = float(soc[-1]) - result.car_initial_kwh.get(name, 0.0)
        end_energy += delta
        stored_value += delta * car_values[name]
    cost = float(result.cost_eur.sum())
    out: dict[str, Any] = {
        "cost_eur": round(cost, 2),
        "cost_adjusted_eur": round(cost - stored_value, 2),
        "missed_departures": sum(1 for s in short if s > MISSED_TOL_KWH),
        "departures": len(short),
        "short_kwh": round(float(sum(short)), 2),
        "battery_cycles": round(discharged / cap, 1) if cap > 0 else 0.0,
        "import_kwh": round(float(result.grid_import_kw.sum()) * dt, 1),
        "export_kwh": round(float(result.grid_export_kw.sum()) * dt, 1),
        "car_charged_kwh": round(sum(float(v.sum()) for v in result.car_kw.values()) * dt, 1),
        "stored_energy_change_kwh": round(end_energy, 1),
        "runtime_s": round(result.runtime_s, 1),
    }
    days = len(result.cost_eur) * dt / 24.0
    if days > 0:
        # plan stability: actuator writes and car charging starts (realised power from zero)
        out["writes_per_day"] = (
            round(float(np.sum(result.writes)) / days, 2) if len(result.writes) else None
        )
        out["charge_starts_per_day"] = round(charge_starts(result) / days, 2)
    if cap > 0:
        soc = result.battery_soc_kwh
        out["battery_soc_min_pct"] = round(100.0 * float(soc.min()) / cap, 2)
        out["slots_below_floor"] = int((soc < FLOOR_FRACTION * cap - 1e-6).sum())
        planned_min = result.trace.get("planned_min_soc_kwh")
        if planned_min is not None and np.isfinite(planned_min).any():
            out["planned_min_soc_pct_mean"] = round(100.0 * float(np.nanmean(planned_min)) / cap, 1)
            out["planned_min_soc_pct_min"] = round(100.0 * float(np.nanmin(planned_min)) / cap, 1)
    if result.solve_ms:
        ms = np.asarray(result.solve_ms)
        out["plan_errors"] = int(np.isnan(ms).sum())
        ms = ms[np.isfinite(ms)] if np.isfinite(ms).any() else np.zeros(1)
        out["solve_ms_p50"] = round(float(np.percentile(ms, 50)), 1)
        out["solve_ms_p95"] = round(float(np.percentile(ms, 95)), 1)
        out["solve_ms_max"] = round(float(ms.max()), 1)
        out["solves"] = len(ms)
    return out


def charge_starts(result: RunResult) -> int:
    """How often a car's realised charging power rose from zero (the first slot counts when it
    charges)."""
    starts = 0
    for kw in result.car_kw.values():
        on = np.asarray(kw) > 1e-3
        starts += int(on[0]) + int(np.sum(on[1:] & ~on[:-1]))
    return starts


def _pct(a: float, b: float) -> float | None:
    return None if abs(b) < 1e-9 else round(100.0 * (b - a) / abs(b), 1)


def worst_forecast_days(
    results: dict[str, RunResult], replay: Replay, n: int = WORST_DAYS
) -> list[dict[str, Any]]:
    """The whole UTC days with the largest day-ahead PV forecast error (kWh) of an MPC run, each
    with the real PV, the forecast and every battery strategy's lowest SoC (%) that day."""
    source = next(
        (r for r in results.values() if np.isfinite(r.trace.get("pv_dayahead_kw", [np.nan])).any()),
        None,
    )
    cap = replay.home.battery_capacity_kwh
    if source is None or cap <= 0:
        return []
    per_day = replay.slots_per_day
    offset = int((-replay.utc_slot_of_day[replay.first]) % per_day)  # first whole UTC day
    forecast = source.trace["pv_dayahead_kw"]
    real = replay.pv_kw[replay.first : replay.last]
    days = []
    for a in range(offset, replay.n_sim - per_day + 1, per_day):
        f = forecast[a : a + per_day]
        if not np.isfinite(f).all():
            continue
        r = real[a : a + per_day]
        err = float(np.abs(f - r).sum()) * replay.dt_h
        days.append((err, a, float(f.sum()) * replay.dt_h, float(r.sum()) * replay.dt_h))
    days.sort(reverse=True)
    out = []
    for err, a, f_kwh, r_kwh in days[:n]:
        out.append(
            {
                "day": replay.data.time_of(replay.first + a).date().isoformat(),
                "pv_error_kwh": round(err, 1),
                "pv_forecast_kwh": round(f_kwh, 1),
                "pv_real_kwh": round(r_kwh, 1),
                "soc_min_pct": {
                    name: round(100.0 * float(res.battery_soc_kwh[a : a + per_day].min()) / cap, 1)
                    for name, res in results.items()
                },
            }
        )
    return out


def summary(results: dict[str, RunResult], replay: Replay, runtime_s: float) -> dict[str, Any]:
    """The JSON summary: per strategy its metrics and its savings/gap versus the others."""
    strategies = {name: metrics(res, replay) for name, res in results.items()}
    key = "cost_adjusted_eur"
    for figures in strategies.values():
        cost = figures[key]
        if "dumb" in strategies:
            figures["savings_vs_dumb_pct"] = _pct(cost, strategies["dumb"][key])
        if "threshold" in strategies:
            figures["savings_vs_threshold_pct"] = _pct(cost, strategies["threshold"][key])
        if "perfect" in strategies:
            bound = strategies["perfect"][key]
            figures["gap_to_perfect_pct"] = (
                None if abs(bound) < 1e-9 else round(100.0 * (cost - bound) / abs(bound), 1)
            )
    return {
        "strategies": strategies,
        "days": round(replay.n_sim * replay.dt_h / 24.0, 2),
        "start": replay.data.time_of(replay.first).isoformat(),
        "runtime_s": round(runtime_s, 1),
        "worst_pv_forecast_days": worst_forecast_days(results, replay),
    }


def _fmt(value: Any, suffix: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.1f}{suffix}"
    return f"{value}{suffix}"


def markdown(summary_: dict[str, Any]) -> str:
    """The summary as a markdown table."""
    head = (
        "| strategy | cost € | cost adj. € | vs dumb | vs threshold | gap to perfect "
        "| missed (kWh short) "
        "| battery cycles | SoC min % (slots < floor) "
        "| import kWh | export kWh | solve ms p50 / p95 / max | runtime s |"
    )
    lines = [head, "|" + "---|" * 13]
    strategies = summary_["strategies"]
    names = [n for n in ORDER if n in strategies] + [n for n in strategies if n not in ORDER]
    for name in names:
        f = strategies[name]
        solve = "–"
        if "solve_ms_p50" in f:
            solve = f"{f['solve_ms_p50']:.0f} / {f['solve_ms_p95']:.0f} / {f['solve_ms_max']:.0f}"
        lines.append(
            f"| {name} | {f['cost_eur']:,.2f} | {f['cost_adjusted_eur']:,.2f} "
            f"| {_fmt(f.get('savings_vs_dumb_pct'), ' %')} "
            f"| {_fmt(f.get('savings_vs_threshold_pct'), ' %')} "
            f"| {_fmt(f.get('gap_to_perfect_pct'), ' %')} "
            f"| {f['missed_departures']} of {f['departures']} ({f['short_kwh']:.1f}) "
            f"| {f['battery_cycles']:.1f} "
            f"| {_fmt(f.get('battery_soc_min_pct'))} ({_fmt(f.get('slots_below_floor'))}) "
            f"| {f['import_kwh']:,.0f} | {f['export_kwh']:,.0f} "
            f"| {solve} | {f['runtime_s']:.1f} |"
        )
    lines.append("")
    lines.append(
        f"{summary_['days']} days from {summary_['start']}, total runtime "
        f"{summary_['runtime_s']:.1f} s. 'cost adj.': the grid cost minus the energy left in the "
        "battery and the cars versus the start, valued at the replay's median import price; "
        "savings and gap are computed on it, relative to the other strategy's cost. 'missed': "
        f"departures short of the target by more than {MISSED_TOL_KWH} kWh. 'SoC min': the "
        f"real battery SoC's lowest value; 'slots < floor': slots below {FLOOR_FRACTION:.0%}."
    )
    worst = summary_.get("worst_pv_forecast_days") or []
    if worst:
        lines += [
            "",
            "Worst day-ahead PV forecasts (kWh) and each strategy's lowest SoC that day:",
            "",
        ]
        for d in worst:
            socs = ", ".join(f"{k} {v:.1f} %" for k, v in d["soc_min_pct"].items())
            lines.append(
                f"- {d['day']}: error {d['pv_error_kwh']:.1f} "
                f"(forecast {d['pv_forecast_kwh']:.1f}, real {d['pv_real_kwh']:.1f}); "
                f"SoC min {socs}"
            )
    return "\n".join(lines)


def write_html(
    path: Path | str,
    results: dict[str, RunResult],
    replay: Replay,
    summary_: dict[str, Any],
    *,
    week_start: int | None = None,
) -> None:
    """Plotly report: cumulative cost per strategy, one week of the MPC's plan vs reality."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    m = replay.n_sim
    step = timedelta(minutes=replay.data.slot_minutes)
    t0 = replay.data.time_of(replay.first)
    times = [t0 + step * i for i in range(m)]
    fig = make_subplots(
        rows=4,
        cols=1,
        subplot_titles=(
            "Cumulative cost (€)",
            "Selected week: PV and load, forecast (dashed) vs real",
            "Selected week: grid import, planned for the slot (dashed) vs real (kW)",
            "Selected week: battery SoC (kWh), planned vs real; car charging (kW)",
        ),
        vertical_spacing=0.07,
    )
    thin = max(1, m // 2000)  # at most ~2,000 points per cost line keep the file small
    for name, res in results.items():
        cumulative = np.cumsum(res.cost_eur)[thin - 1 :: thin]
        fig.add_trace(
            go.Scatter(x=times[thin - 1 :: thin], y=cumulative, name=f"{name} cost", mode="lines"),
            row=1,
            col=1,
        )
    mpc = results.get("mpc")
    per_week = replay.slots_per_day * 7
    if week_start is None:
        week_start = max(0, (m - per_week) // 2)
    w = slice(week_start, min(m, week_start + per_week))
    wt = times[w]
    a = replay.first
    truth = {
        "PV": replay.pv_kw[a:][w],
        "load": replay.load_kw[a:][w],
    }
    for label, series in truth.items():
        fig.add_trace(go.Scatter(x=wt, y=series, name=f"{label} real"), row=2, col=1)
    if mpc is not None and mpc.trace:
        tr = mpc.trace
        fig.add_trace(
            go.Scatter(x=wt, y=tr["pv_forecast_kw"][w], name="PV forecast", line={"dash": "dash"}),
            row=2,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=wt, y=tr["load_forecast_kw"][w], name="load forecast", line={"dash": "dash"}
            ),
            row=2,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=wt, y=tr["planned_import_kw"][w], name="import planned", line={"dash": "dash"}
            ),
            row=3,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=wt,
                y=tr["planned_battery_soc_kwh"][w],
                name="battery SoC planned",
                line={"dash": "dash"},
            ),
            row=4,
            col=1,
        )
    if mpc is not None:
        fig.add_trace(
            go.Scatter(x=wt, y=mpc.grid_import_kw[w], name="import real (mpc)"), row=3, col=1
        )
        fig.add_trace(
            go.Scatter(x=wt, y=mpc.battery_soc_kwh[w], name="battery SoC real (mpc)"), row=4, col=1
        )
        car_kw = sum(mpc.car_kw.values())
        fig.add_trace(go.Scatter(x=wt, y=car_kw[w], name="car kW real (mpc)"), row=4, col=1)
    fig.update_layout(
        height=1400,
        title=f"SmartLoad replay — {summary_['days']} days from {summary_['start']}",
    )
    table = markdown(summary_).replace("\n", "<br>\n")
    html = fig.to_html(include_plotlyjs="cdn", full_html=False)
    Path(path).write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>SmartLoad replay</title></head>"
        f"<body><pre>{table}</pre>{html}</body></html>\n",
        encoding="utf-8",
    )
