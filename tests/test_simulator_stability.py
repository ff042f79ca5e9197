"""The simulator's plan-stability figures: actuator writes and car charging starts per day."""

from __future__ import annotations

from datetime import UTC, datetime
import json
from pathlib import Path

import numpy as np

from benchmarks.simulate import __main__ as cli
from benchmarks.simulate.data import load_replay
from benchmarks.simulate.engine import Replay, RunResult, SimState, prepare, run
from benchmarks.simulate.home import HomeParams
from benchmarks.simulate.report import charge_starts, metrics
from custom_components.smartload.planner.model import (
    BatteryMode,
    Decision,
    LoadpointMode,
    Why,
)

FIXTURES = Path(__file__).parent / "fixtures" / "sim"
FILES = {
    "--prices": FIXTURES / "prices_day_ahead_de_lu_2024_may10d.csv",
    "--pv": FIXTURES / "pv_germany_national_2024_may10d.csv",
    "--load": FIXTURES / "household_load_bdew_h25_4000kwh_2024_may10d.csv",
    "--trips": FIXTURES / "ev_trips_two_cars_2024_may10d.csv",
}


def decision(mode: LoadpointMode, limit: float | None = None, *, lock: bool = False) -> Decision:
    return Decision(
        loadpoint_mode=mode,
        active_vehicle=None if mode is LoadpointMode.OFF else "Kia",
        vehicle_charge_kw=0.0 if mode is LoadpointMode.OFF else 11.0,
        smart_cost_limit_eur_per_kwh=limit,
        battery_mode=BatteryMode.HOLD if lock else BatteryMode.NORMAL,
        battery_grid_charge_limit_eur_per_kwh=None,
        battery_discharge_locked=lock,
        battery_target_soc_kwh=None,
        why=Why(key="test"),
    )


class Scripted:
    """Decisions from a list, one per slot."""

    name = "scripted"

    def __init__(self, decisions: list[Decision]) -> None:
        self.decisions = decisions

    def decide(self, replay: Replay, state: SimState) -> Decision:
        return self.decisions[(state.t - replay.first) % len(self.decisions)]


def test_writes_count_each_changed_actuator_setting() -> None:
    data = load_replay(*(FILES[k] for k in ("--prices", "--pv", "--load", "--trips")))
    replay = prepare(data, HomeParams(), start=datetime(2024, 5, 8, 0, tzinfo=UTC), days=0.25)
    script = [
        decision(LoadpointMode.OFF),
        decision(LoadpointMode.OFF),  # nothing changes
        decision(LoadpointMode.NOW, 0.25),  # mode and cost limit: 2 writes
        decision(LoadpointMode.NOW, 0.25, lock=True),  # discharge lock: 1
        decision(LoadpointMode.NOW, 0.252),  # the limit (by 0.2 ct) and the lock: 2
        decision(LoadpointMode.OFF),  # mode and limit: 2
    ]
    result = run(replay, Scripted(script))
    assert len(result.writes) == replay.n_sim == 24
    np.testing.assert_array_equal(result.writes[:6], [0, 0, 2, 1, 2, 2])
    figures = metrics(result, replay)
    assert figures["writes_per_day"] == round(float(result.writes.sum()) / 0.25, 2)


def test_charge_starts_count_rises_from_zero() -> None:
    kw = np.array([5.0, 5.0, 0.0, 11.0, 0.0, 0.0, 3.0])  # starts at 0, 3 and 6
    result = RunResult(
        name="x",
        dt_h=0.25,
        grid_import_kw=np.zeros(7),
        grid_export_kw=np.zeros(7),
        battery_charge_kw=np.zeros(7),
        battery_discharge_kw=np.zeros(7),
        battery_soc_kwh=np.zeros(7),
        car_kw={"Kia": kw, "Zoe": np.array([0, 0, 0, 0, 2.0, 2.0, 0])},
        car_soc_kwh={},
        cost_eur=np.zeros(7),
        departures=[],
    )
    assert charge_starts(result) == 4


def test_cli_json_has_writes_and_starts_before_and_after_stability(capfd) -> None:
    args = [str(x) for pair in FILES.items() for x in pair]
    code = cli.main(
        [
            *args,
            "--start",
            "2024-05-08",
            "--days",
            "1",
            "--strategies",
            "threshold,mpc-unstable,mpc",
            "--json",
            "--quiet",
        ]
    )
    assert code == 0
    out = json.loads(capfd.readouterr().out)
    assert set(out["strategies"]) == {"threshold", "mpc-unstable", "mpc"}
    for figures in out["strategies"].values():
        assert {"cost_eur", "cost_adjusted_eur", "writes_per_day", "charge_starts_per_day"} <= set(
            figures
        )
        assert figures["writes_per_day"] >= 0 and figures["charge_starts_per_day"] >= 0
    assert out["min_gain_eur"] == 0.05 and out["min_block_minutes"] == 30.0
    stable, unstable = out["strategies"]["mpc"], out["strategies"]["mpc-unstable"]
    assert stable["writes_per_day"] <= unstable["writes_per_day"]
