"""The plan's windows: merged runs per car and battery mode, kept across re-plans, en/de text."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from custom_components.smartload.planner.model import (
    BatteryInput,
    BatteryMode,
    Plan,
    PlanInput,
    PlanStatus,
    VehiclePlan,
    Why,
)
from custom_components.smartload.planner.windows import (
    Window,
    WindowKind,
    WindowTracker,
    merge_history,
    plan_windows,
    window_description,
    window_summary,
)

START = datetime(2026, 1, 15, 22, 0, tzinfo=UTC)
Q = timedelta(minutes=15)
N, H, C = BatteryMode.NORMAL, BatteryMode.HOLD, BatteryMode.CHARGE


def inputs(n: int, price: list[float], *, battery: bool = True, start: datetime = START):
    return PlanInput(
        start=start,
        import_price_eur_per_kwh=np.asarray(price, dtype=float),
        export_price_eur_per_kwh=np.full(n, 0.08),
        load_kw=np.full(n, 0.5),
        pv_kw=np.zeros(n),
        battery=BatteryInput(
            capacity_kwh=10.0,
            soc_kwh=4.0,
            min_soc_kwh=1.0,
            max_soc_kwh=10.0,
            max_charge_kw=5.0,
            max_discharge_kw=5.0,
        )
        if battery
        else None,
    )


def plan(
    car_kw: dict[str, list[float]],
    modes: list[BatteryMode],
    *,
    charge: list[float] | None = None,
    soc: list[float] | None = None,
    start: datetime = START,
) -> Plan:
    n = len(modes)
    return Plan(
        status=PlanStatus.OPTIMAL,
        start=start,
        slot_minutes=15,
        grid_import_kw=np.zeros(n),
        grid_export_kw=np.zeros(n),
        battery_charge_kw=np.asarray(charge or [0.0] * n, dtype=float),
        battery_discharge_kw=np.zeros(n),
        battery_soc_kwh=np.asarray(soc or [4.0] * n, dtype=float),
        battery_mode=tuple(modes),
        battery_price_limit_eur_per_kwh=None,
        battery_value_eur_per_kwh=np.zeros(n),
        vehicles=tuple(
            VehiclePlan(
                name=name,
                charge_kw=np.asarray(kw, dtype=float),
                soc_kwh=np.zeros(n),
                shortfall_kwh=0.0,
                soc_at_departure_kwh=None,
                price_limit_eur_per_kwh=None,
                value_eur_per_kwh=np.zeros(n),
            )
            for name, kw in car_kw.items()
        ),
        cost_eur=0.0,
        objective_eur=0.0,
        solve_ms=1.0,
        why=tuple(Why(key="idle", params={"slot": float(t)}) for t in range(n)),
        price_estimated=np.zeros(n, dtype=bool),
    )


def test_runs_are_merged_per_car_and_battery_mode() -> None:
    price = [0.10, 0.10, 0.20, 0.30, 0.30, 0.40]
    p = plan(
        {"Kia": [11.0, 11.0, 0.0, 0.02, 4.0, 4.0], "Zoe": [0.0, 0.0, 7.0, 0.0, 0.0, 0.0]},
        [C, C, N, H, H, H],
        charge=[4.0, 2.0, 0, 0, 0, 0],
        soc=[5.0, 5.5, 5.5, 5.5, 5.5, 5.5],
    )
    got = plan_windows(inputs(6, price), p)
    kinds = [(w.kind, w.vehicle, (w.start - START) // Q, (w.end - START) // Q) for w in got]
    assert kinds == [
        (WindowKind.BATTERY_CHARGE, None, 0, 2),
        (WindowKind.VEHICLE, "Kia", 0, 2),
        (WindowKind.VEHICLE, "Zoe", 2, 3),
        (WindowKind.BATTERY_HOLD, None, 3, 6),
        (WindowKind.VEHICLE, "Kia", 4, 6),  # 0.02 kW is not charging: a new window
    ]
    charge, kia, zoe, hold, kia2 = got
    assert kia.energy_kwh == pytest.approx(22 * 0.25)
    assert kia.mean_price_eur_per_kwh == pytest.approx(0.10)
    assert charge.energy_kwh == pytest.approx(6 * 0.25)
    assert hold.energy_kwh == pytest.approx(5.5)  # the SoC when holding begins
    assert hold.mean_price_eur_per_kwh == pytest.approx(1.0 / 3, abs=1e-5)
    assert kia2.why.params["slot"] == 4.0  # the why of the window's first slot
    assert len({zoe.uid, kia.uid, kia2.uid}) == 3


def test_no_battery_no_battery_windows() -> None:
    p = plan({"Kia": [0.0, 3.0]}, [C, C])
    got = plan_windows(inputs(2, [0.1, 0.1], battery=False), p)
    assert [w.kind for w in got] == [WindowKind.VEHICLE]


def test_a_running_window_keeps_its_start_across_replans() -> None:
    first = plan_windows(inputs(4, [0.1] * 4), plan({"Kia": [11, 11, 11, 0]}, [N] * 4))
    history = merge_history((), first, START)
    # one slot later the plan starts at the running window's second slot
    later = START + Q
    second = plan_windows(
        inputs(4, [0.1] * 4, start=later), plan({"Kia": [11, 11, 0, 0]}, [N] * 4, start=later)
    )
    merged = merge_history(history, second, later)
    assert len(merged) == 1
    assert merged[0].start == START and merged[0].end == START + 3 * Q


def test_past_windows_stay_and_unstarted_ones_are_replaced() -> None:
    first = plan_windows(inputs(8, [0.1] * 8), plan({"Kia": [11, 0, 0, 0, 0, 11, 11, 0]}, [N] * 8))
    history = merge_history((), first, START)
    later = START + 2 * Q  # the first window has ended; the plan now charges at once, for 1 slot
    second = plan_windows(
        inputs(6, [0.1] * 6, start=later), plan({"Kia": [11, 0, 0, 0, 0, 0]}, [N] * 6, start=later)
    )
    merged = merge_history(history, second, later)
    spans = [((w.start - START) // Q, (w.end - START) // Q) for w in merged]
    assert spans == [(0, 1), (2, 3)]  # the window at slots 5-6 is no longer planned


def test_a_window_cut_by_a_replan_ends_at_the_cut_and_old_ones_are_dropped() -> None:
    first = plan_windows(inputs(4, [0.1] * 4), plan({"Kia": [11, 11, 11, 11]}, [N] * 4))
    later = START + Q
    merged = merge_history(merge_history((), first, START), (), later)
    assert [(w.start, w.end) for w in merged] == [(START, later)]
    much_later = START + timedelta(days=8)
    assert merge_history(merged, (), much_later) == ()


def test_tracker_counts_a_cycle_once() -> None:
    tracker = WindowTracker()
    i = inputs(2, [0.1, 0.1])
    p = plan({"Kia": [11, 11]}, [N, N])
    token = object()
    assert len(tracker.update(token, i, p, START)) == 1
    # the same cycle read again (another entity) changes nothing, a cycle without plan cuts
    assert len(tracker.update(token, i, p, START)) == 1
    assert tracker.update(object(), None, None, START) == ()


def test_text_en_and_de() -> None:
    w = Window(
        kind=WindowKind.VEHICLE,
        vehicle="Kia",
        start=START,
        end=START + Q,
        energy_kwh=12.345,
        mean_price_eur_per_kwh=0.1234,
        why=Why(key="idle"),
    )
    assert window_summary(w, "en") == "Kia charging"
    assert window_summary(w, "de") == "Kia lädt"
    assert window_summary(w, "fr") == "Kia charging"
    en = window_description(w, "en")
    assert en.startswith("12.3 kWh planned, on average 12.3 ct/kWh.\nWhy: ")
    de = window_description(w, "de")
    assert de.startswith("12,3 kWh geplant, im Schnitt 12,3 ct/kWh.\nWarum: ")
    hold = replace(w, kind=WindowKind.BATTERY_HOLD, vehicle=None)
    assert window_summary(hold, "de") == "Hausbatterie hält ihre Ladung"
