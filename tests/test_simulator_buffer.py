"""The dynamic battery buffer in the replay simulator (10 days of real May data)."""

from __future__ import annotations

import numpy as np

from benchmarks.simulate.data import load_replay
from benchmarks.simulate.engine import prepare, run
from benchmarks.simulate.home import HomeParams
from benchmarks.simulate.prices_hook import price_extender
from benchmarks.simulate.report import metrics, summary, worst_forecast_days
from benchmarks.simulate.strategies import MpcStrategy
from custom_components.smartload.planner.buffer import Confidence

from .test_simulator import LOAD, PRICES, PV, TRIPS


def test_buffer_never_below_the_floor() -> None:
    """A 30 % reserve the inverter keeps, moved per cycle by the buffer: never below 10 %.

    The inverter itself could go down to 0 % here, so only the buffer's reserve (which the
    inverter keeps) stands between the battery and an empty one, on every day including those
    with the worst PV forecast.
    """
    data = load_replay(PRICES, PV, LOAD, TRIPS)
    home = HomeParams(battery_min_soc=0.0)
    replay = prepare(data, home)
    strategy = MpcStrategy(
        replay,
        extend_prices=price_extender(24.0),
        name="mpc-buffer",
        reserve_soc=0.30,
        buffer=True,
        enforce_reserve=True,
        buffer_error_days=2,  # the fixture's first days have no PV history: a short memory
    )
    result = run(replay, strategy)
    floor = 0.10 * home.battery_capacity_kwh
    planned = result.trace["planned_min_soc_kwh"]

    assert len(strategy.buffers) == replay.n_sim
    assert np.nanmin(planned) >= floor - 1e-9
    assert (planned < 3.0 - 1e-6).any(), "the buffer never lowered the reserve"
    assert {b.confidence for b in strategy.buffers} == set(Confidence)
    assert all(
        b.min_soc_kwh >= b.configured_min_soc_kwh - 1e-9
        for b in strategy.buffers
        if b.confidence is not Confidence.HIGH
    )
    assert result.battery_soc_kwh.min() >= floor - 1e-6

    figures = metrics(result, replay)
    assert figures["slots_below_floor"] == 0
    assert figures["battery_soc_min_pct"] >= 10.0 - 1e-6
    assert figures["missed_departures"] == 0
    worst = worst_forecast_days({"mpc-buffer": result}, replay)
    assert len(worst) == 5
    errors = [d["pv_error_kwh"] for d in worst]
    assert errors == sorted(errors, reverse=True) and errors[0] > 5.0
    assert all(d["soc_min_pct"]["mpc-buffer"] >= 10.0 - 1e-6 for d in worst)
    assert summary({"mpc-buffer": result}, replay, 0.0)["worst_pv_forecast_days"] == worst
