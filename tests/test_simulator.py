"""The replay simulator: physics on hand-checked cases, the loop, a short replay on real data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.simulate import __main__ as cli
from benchmarks.simulate.data import DataError, ReplayData, Trip, load_replay, read_series
from benchmarks.simulate.engine import Replay, RunResult, prepare, run
from benchmarks.simulate.home import CarParams, HomeParams
from benchmarks.simulate.physics import execute
from benchmarks.simulate.prices_hook import price_extender
from benchmarks.simulate.report import markdown, metrics, summary
from benchmarks.simulate.strategies import (
    DumbStrategy,
    MpcStrategy,
    ThresholdStrategy,
    run_perfect,
)
from custom_components.smartload.planner.model import (
    BatteryMode,
    Decision,
    LoadpointMode,
    Why,
)

FIXTURES = Path(__file__).parent / "fixtures" / "sim"
PRICES = FIXTURES / "prices_day_ahead_de_lu_2024_may10d.csv"
PV = FIXTURES / "pv_germany_national_2024_may10d.csv"
LOAD = FIXTURES / "household_load_bdew_h25_4000kwh_2024_may10d.csv"
TRIPS = FIXTURES / "ev_trips_two_cars_2024_may10d.csv"
HOME = HomeParams()
DT = 0.25


def decision(
    battery: BatteryMode = BatteryMode.NORMAL,
    *,
    mode: LoadpointMode = LoadpointMode.OFF,
    car: str | None = None,
    kw: float = 0.0,
    cost_limit: float | None = None,
    grid_limit: float | None = None,
    target: float | None = None,
) -> Decision:
    return Decision(
        loadpoint_mode=mode,
        active_vehicle=car,
        vehicle_charge_kw=kw,
        smart_cost_limit_eur_per_kwh=cost_limit,
        battery_mode=battery,
        battery_grid_charge_limit_eur_per_kwh=grid_limit,
        battery_discharge_locked=battery is not BatteryMode.NORMAL,
        battery_target_soc_kwh=target,
        why=Why(key="test"),
    )


def step(d: Decision, *, load: float, pv: float, soc: float = 5.0, price: float = 0.30, **kw):
    return execute(
        d,
        home=HOME,
        load_kw=load,
        pv_kw=pv,
        import_price=price,
        export_price=0.08,
        battery_soc_kwh=soc,
        car=kw.get("car"),
        car_soc_kwh=kw.get("car_soc"),
        dt_h=DT,
    )


def balance(out, load: float, pv: float) -> float:
    return (
        out.grid_import_kw
        - out.grid_export_kw
        + pv
        + out.battery_discharge_kw
        - out.battery_charge_kw
        - out.car_kw
        - load
    )


# --- physics ------------------------------------------------------------------------------


def test_normal_mode_absorbs_whatever_the_real_net_load_is() -> None:
    # More load than forecast: the inverter covers it, nothing is imported.
    out = step(decision(), load=3.0, pv=0.0)
    assert out.battery_discharge_kw == pytest.approx(3.0)
    assert out.grid_import_kw == 0.0
    assert out.battery_soc_kwh == pytest.approx(5.0 - 3.0 * DT / 0.95)
    # More PV than forecast: the surplus goes into the battery, nothing is exported.
    out = step(decision(), load=1.0, pv=4.0)
    assert out.battery_charge_kw == pytest.approx(3.0)
    assert out.grid_export_kw == 0.0
    assert out.battery_soc_kwh == pytest.approx(5.0 + 3.0 * DT * 0.95)
    # Beyond the inverter's 5 kW the grid takes the rest.
    out = step(decision(), load=8.0, pv=0.0)
    assert out.battery_discharge_kw == pytest.approx(5.0)
    assert out.grid_import_kw == pytest.approx(3.0)
    # At the minimum SoC (1 kWh) nothing more comes out.
    out = step(decision(), load=2.0, pv=0.0, soc=1.0)
    assert out.battery_discharge_kw == 0.0
    assert out.grid_import_kw == pytest.approx(2.0)
    # Nearly full: only what fits goes in, the rest is exported.
    out = step(decision(), load=0.0, pv=5.0, soc=9.9)
    assert out.battery_soc_kwh == pytest.approx(10.0)
    assert out.grid_export_kw == pytest.approx(5.0 - 0.1 / (0.95 * DT))


def test_hold_never_discharges_but_takes_surplus() -> None:
    out = step(decision(BatteryMode.HOLD), load=3.0, pv=0.5)
    assert out.battery_discharge_kw == 0.0
    assert out.battery_soc_kwh == 5.0
    assert out.grid_import_kw == pytest.approx(2.5)
    out = step(decision(BatteryMode.HOLD), load=0.5, pv=2.5)
    assert out.battery_charge_kw == pytest.approx(2.0)
    assert out.grid_export_kw == 0.0


def test_charge_mode_charges_from_the_grid_up_to_target_and_limit() -> None:
    d = decision(BatteryMode.CHARGE, grid_limit=0.25, target=6.0)
    out = step(d, load=0.5, pv=0.0, price=0.20)
    need_kw = 1.0 / (0.95 * DT)  # 4.21 kW reaches 6 kWh in this slot
    assert out.battery_charge_kw == pytest.approx(need_kw)
    assert out.battery_soc_kwh == pytest.approx(6.0)
    assert out.grid_import_kw == pytest.approx(0.5 + need_kw)
    # Far from the target: at most the 5 kW the battery takes.
    out = step(decision(BatteryMode.CHARGE, grid_limit=0.25, target=9.5), load=0, pv=0, price=0.2)
    assert out.battery_charge_kw == pytest.approx(5.0)
    # Above the grid-charge limit it only holds (and takes surplus).
    out = step(d, load=0.5, pv=1.5, price=0.30)
    assert out.battery_charge_kw == pytest.approx(1.0)
    assert out.battery_discharge_kw == 0.0


def test_car_modes_follow_evcc() -> None:
    kia = HOME.car("Kia")
    pv_mode = decision(mode=LoadpointMode.PV, car="Kia")
    # PV: follows the real surplus, whatever was planned.
    out = step(pv_mode, load=0.5, pv=6.5, car=kia, car_soc=30.0)
    assert out.car_kw == pytest.approx(6.0)
    assert out.car_soc_kwh == pytest.approx(30.0 + 6.0 * 0.9 * DT)
    # ... and stops below the wallbox minimum (1.4 kW).
    out = step(pv_mode, load=0.5, pv=1.5, car=kia, car_soc=30.0)
    assert out.car_kw == 0.0
    # A smart cost limit at or above the price: full power from the grid.
    limited = decision(mode=LoadpointMode.PV, car="Kia", cost_limit=0.25)
    assert step(limited, load=0.5, pv=0.0, price=0.25, car=kia, car_soc=30.0).car_kw == 11.0
    assert step(limited, load=0.5, pv=0.0, price=0.26, car=kia, car_soc=30.0).car_kw == 0.0
    # MINPV: the minimum from the grid plus the surplus.
    minpv = decision(mode=LoadpointMode.MINPV, car="Kia")
    assert step(minpv, load=0.5, pv=0.5, car=kia, car_soc=30.0).car_kw == pytest.approx(1.4)
    assert step(minpv, load=0.5, pv=4.5, car=kia, car_soc=30.0).car_kw == pytest.approx(4.0)
    # NOW: the planned power; never past the car's limit.
    now = decision(mode=LoadpointMode.NOW, car="Kia", kw=7.0)
    assert step(now, load=0.5, pv=0.0, car=kia, car_soc=30.0).car_kw == pytest.approx(7.0)
    full = step(now, load=0.5, pv=0.0, car=kia, car_soc=76.5)
    assert full.car_soc_kwh == pytest.approx(77.0)
    # OFF: nothing.
    assert step(decision(), load=0.5, pv=9.0, car=kia, car_soc=30.0).car_kw == 0.0


def test_energy_balance_and_cost_booking_per_slot() -> None:
    kia = HOME.car("Kia")
    cases = [
        (decision(), 2.0, 0.0),
        (decision(BatteryMode.HOLD, mode=LoadpointMode.PV, car="Kia"), 0.4, 7.0),
        (decision(BatteryMode.CHARGE, grid_limit=1.0, target=9.0), 1.0, 3.0),
        (decision(mode=LoadpointMode.NOW, car="Kia", kw=11.0), 0.5, 2.0),
    ]
    for d, load, pv in cases:
        out = step(d, load=load, pv=pv, price=0.31, car=kia, car_soc=20.0)
        assert balance(out, load, pv) == pytest.approx(0.0, abs=1e-9)
        assert out.grid_import_kw == 0.0 or out.grid_export_kw == 0.0
        expected = (out.grid_import_kw * 0.31 - out.grid_export_kw * 0.08) * DT
        assert out.cost_eur == pytest.approx(expected)


# --- the loop on a hand-made day ------------------------------------------------------------


def tiny_replay(*, trips: tuple[Trip, ...], pv: float = 0.0, load: float = 0.5) -> Replay:
    start = datetime(2024, 5, 6, 22, 0, tzinfo=UTC)  # Tuesday 00:00 local
    n = 96
    data = ReplayData(
        start=start,
        slot_minutes=15,
        spot_eur_per_mwh=np.full(n, 100.0),
        pv_kw_per_kwp=np.full(n, pv / HOME.pv_kwp),
        load_kw=np.full(n, load),
        trips=trips,
    )
    home = HomeParams(
        annual_load_kwh=None,
        cars=(CarParams(name="Kia", capacity_kwh=77.0, initial_soc=0.5, priority=1),),
    )
    return prepare(data, home)


def test_trip_drains_the_car_and_dumb_charges_on_plug_in() -> None:
    start = datetime(2024, 5, 6, 22, 0, tzinfo=UTC)
    trip = Trip("Kia", start + timedelta(hours=8), start + timedelta(hours=12), 10.0)
    replay = tiny_replay(trips=(trip,))
    result = run(replay, DumbStrategy())
    soc = result.car_soc_kwh["Kia"]
    # From 38.5 kWh the car charges at 11 kW (2.475 kWh per slot) right away up to 61.6 kWh.
    assert soc[0] == pytest.approx(38.5 + 2.475)
    assert soc[9] == pytest.approx(61.6, abs=1e-6)
    assert result.car_kw["Kia"][10] == 0.0
    # It leaves at slot 32 with its target, comes back at slot 48 with 10 kWh less, recharges.
    assert len(result.departures) == 1
    assert result.departures[0].slot == 32
    assert result.departures[0].short_kwh == 0.0
    assert soc[47] == pytest.approx(61.6)
    assert result.car_kw["Kia"][40] == 0.0  # away
    assert soc[48] == pytest.approx(61.6 - 10.0 + result.car_kw["Kia"][48] * 0.9 * DT)
    # The last 0.1 kWh came at the wallbox's 1.4 kW minimum: a little above the target.
    assert soc[-1] == pytest.approx(61.6 - 10.0 + 4 * 2.475 + 1.4 * 0.9 * DT)
    # Everything the wallbox delivered is in the car (or was driven away).
    assert result.car_kw["Kia"].sum() * DT == pytest.approx((soc[-1] - 38.5 + 10.0) / 0.9)
    # Cost: everything imported at the flat all-in price (no PV, nothing exported).
    price = (100.0 / 1000 + 0.165) * 1.19
    assert result.grid_export_kw.max() == 0.0
    assert result.cost_eur.sum() == pytest.approx(result.grid_import_kw.sum() * DT * price)
    # The battery covered the house load first (self-consumption) down to its minimum.
    assert result.battery_soc_kwh.min() == pytest.approx(1.0)


def test_a_missed_departure_is_counted() -> None:
    start = datetime(2024, 5, 6, 22, 0, tzinfo=UTC)
    # Leaves after 30 minutes: 2 slots × 2.475 kWh cannot lift 38.5 to 61.6 kWh.
    trip = Trip("Kia", start + timedelta(minutes=30), start + timedelta(hours=5), 5.0)
    result = run(tiny_replay(trips=(trip,)), DumbStrategy())
    figures = metrics(result, tiny_replay(trips=(trip,)))
    assert figures["missed_departures"] == 1
    assert figures["short_kwh"] == pytest.approx(61.6 - 38.5 - 2 * 2.475)


# --- a short replay on real data --------------------------------------------------------------


@pytest.fixture(scope="module")
def short_replay() -> tuple[Replay, dict[str, RunResult]]:
    data = load_replay(PRICES, PV, LOAD, TRIPS)
    # Two days from Thursday 9 May local midnight; the three days before are history.
    replay = prepare(data, HomeParams(), start=datetime(2024, 5, 8, 22, tzinfo=UTC), days=2)
    results = {
        "dumb": run(replay, DumbStrategy()),
        "threshold": run(replay, ThresholdStrategy(replay)),
        "mpc": run(replay, MpcStrategy(replay, extend_prices=price_extender())),
        "perfect": run_perfect(replay),
    }
    return replay, results


def test_short_replay_balances_every_slot(short_replay) -> None:
    replay, results = short_replay
    a, b = replay.first, replay.last
    load, pv = replay.load_kw[a:b], replay.pv_kw[a:b]
    for name, res in results.items():
        cars = sum(res.car_kw.values())
        residual = (
            res.grid_import_kw
            - res.grid_export_kw
            + pv
            + res.battery_discharge_kw
            - res.battery_charge_kw
            - cars
            - load
        )
        assert np.abs(residual).max() < 1e-6, name
        assert res.battery_soc_kwh.min() >= HOME.battery_min_kwh - 1e-6, name
        assert res.battery_soc_kwh.max() <= HOME.battery_capacity_kwh + 1e-6, name
        both = np.minimum(res.grid_import_kw, res.grid_export_kw)
        assert both.max() < 1e-6, name


def test_short_replay_orders_the_strategies(short_replay) -> None:
    replay, results = short_replay
    s = summary(results, replay, 0.0)["strategies"]
    cost = {name: f["cost_adjusted_eur"] for name, f in s.items()}
    assert cost["dumb"] >= cost["mpc"]
    assert cost["mpc"] >= cost["perfect"] - 0.05
    assert cost["threshold"] >= cost["perfect"] - 0.05
    assert s["mpc"]["solves"] == replay.n_sim
    assert "| mpc |" in markdown(summary(results, replay, 0.0))


def test_mpc_misses_no_reachable_departure(short_replay) -> None:
    replay, results = short_replay
    mpc = results["mpc"]
    for dep in mpc.departures:
        car = replay.home.car(dep.vehicle)
        sched = next(s for s in replay.cars if s.name == dep.vehicle)
        # Slots the car was home before this departure (within the replay).
        plug = dep.slot
        while plug > replay.first and sched.home[plug - 1]:
            plug -= 1
        i = plug - replay.first
        soc_at_plug = (
            mpc.car_soc_kwh[dep.vehicle][i - 1] if i > 0 else car.initial_soc * car.capacity_kwh
        )
        reachable = soc_at_plug + (dep.slot - plug) * 11.0 * 0.9 * DT >= car.target_kwh
        if reachable:
            assert dep.short_kwh <= 0.1, dep


# --- inputs and the command line ---------------------------------------------------------------


def test_series_with_a_gap_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "gap.csv"
    path.write_text(
        "timestamp_utc,v\n2024-01-01T00:00:00Z,1\n2024-01-01T00:15:00Z,2\n2024-01-01T00:45:00Z,3\n"
    )
    with pytest.raises(DataError):
        read_series(path)
    ok = tmp_path / "ok.csv"
    ok.write_text("timestamp_utc,v\n2024-01-01T00:00:00Z,1\n2024-01-01T00:15:00Z,2\n")
    assert read_series(ok).values.tolist() == [1.0, 2.0]


def test_cli_prints_one_json_object(capfd) -> None:
    code = cli.main(
        [
            "--prices",
            str(PRICES),
            "--pv",
            str(PV),
            "--load",
            str(LOAD),
            "--trips",
            str(TRIPS),
            "--start",
            "2024-05-07",
            "--days",
            "1",
            "--strategies",
            "dumb,threshold,perfect",
            "--json",
            "--quiet",
        ]
    )
    assert code == 0
    out = json.loads(capfd.readouterr().out)
    assert set(out["strategies"]) == {"dumb", "threshold", "perfect"}
    assert out["days"] == 1.0
    for figures in out["strategies"].values():
        assert {"cost_eur", "missed_departures", "short_kwh"} <= set(figures)
    assert out["strategies"]["perfect"]["gap_to_perfect_pct"] == 0.0


def test_html_report_has_cost_and_plan_vs_reality(short_replay, tmp_path: Path) -> None:
    from benchmarks.simulate.report import write_html

    replay, results = short_replay
    path = tmp_path / "report.html"
    write_html(path, results, replay, summary(results, replay, 0.0), week_start=0)
    html = path.read_text(encoding="utf-8")
    assert "Cumulative cost" in html
    assert "import planned" in html
    assert "| perfect |" in html
