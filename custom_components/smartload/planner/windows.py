"""The plan's windows: runs of consecutive slots in which a car charges or the battery is steered.

``plan_windows(inputs, plan)`` merges the plan's slots into :class:`Window` s — per car the slots
in which it charges (from the grid or from PV), for the battery the slots in which it charges from
the grid (``BatteryMode.CHARGE``) and those in which it holds its energy (``BatteryMode.HOLD``).
Each window carries its energy, the mean import price over its slots and the *why* of its first
slot (the plan's own explanation). ``merge_history`` keeps the windows that have begun across
re-plans (a rolling plan starts at the current slot, so a running window would otherwise seem to
start anew every cycle). ``window_summary``/``window_description`` give English or German text.

Pure Python + numpy: the calendar and the sensors of the Home Assistant shell read these.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum

import numpy as np

from .explain import render
from .model import BatteryMode, Plan, PlanInput, Why

CHARGE_KW = 0.05  # a car charging with less than this in a slot does not charge


class WindowKind(StrEnum):
    """What happens in a window."""

    VEHICLE = "vehicle"  # a car charges
    BATTERY_CHARGE = "battery_charge"  # the battery charges from the grid
    BATTERY_HOLD = "battery_hold"  # the battery keeps its energy for later


@dataclass(frozen=True, kw_only=True, slots=True)
class Window:
    """Consecutive slots of one kind (for one car)."""

    kind: WindowKind
    vehicle: str | None  # the car's name (VEHICLE), else None
    start: datetime  # UTC
    end: datetime  # UTC, exclusive
    energy_kwh: float  # into the car / into the battery; HOLD: the energy held at the start
    mean_price_eur_per_kwh: float  # mean import price of the window's slots
    why: Why  # the plan's reason for the window's first slot

    @property
    def key(self) -> str:
        """What identifies a window across re-plans: its kind and car."""
        return f"{self.kind.value}:{self.vehicle or ''}"

    @property
    def uid(self) -> str:
        """Unique per window: its key and start."""
        return f"{self.key}:{self.start.isoformat()}"


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` of each run of True."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()
    return list(zip(starts, ends, strict=True))


def plan_windows(inputs: PlanInput, plan: Plan) -> tuple[Window, ...]:
    """The plan's windows, sorted by start (then kind, then car)."""
    dt_h = plan.slot_minutes / 60.0
    slot = timedelta(minutes=plan.slot_minutes)
    price = np.asarray(inputs.import_price_eur_per_kwh[: plan.n_slots], dtype=np.float64)
    whys = plan.why

    def window(kind: WindowKind, car: str | None, a: int, b: int, energy: float) -> Window:
        return Window(
            kind=kind,
            vehicle=car,
            start=plan.start + a * slot,
            end=plan.start + b * slot,
            energy_kwh=round(energy, 3),
            mean_price_eur_per_kwh=round(float(price[a:b].mean()), 5),
            why=whys[a] if a < len(whys) else Why(key="idle"),
        )

    out: list[Window] = []
    for car in plan.vehicles:
        kw = np.asarray(car.charge_kw, dtype=np.float64)
        for a, b in _runs(kw >= CHARGE_KW):
            out.append(window(WindowKind.VEHICLE, car.name, a, b, float(kw[a:b].sum()) * dt_h))
    if inputs.battery is not None and plan.battery_mode:
        modes = np.array([m.value for m in plan.battery_mode])
        charge = np.asarray(plan.battery_charge_kw, dtype=np.float64)
        soc = np.asarray(plan.battery_soc_kwh, dtype=np.float64)
        for a, b in _runs(modes == BatteryMode.CHARGE.value):
            out.append(
                window(WindowKind.BATTERY_CHARGE, None, a, b, float(charge[a:b].sum()) * dt_h)
            )
        for a, b in _runs(modes == BatteryMode.HOLD.value):
            held = inputs.battery.soc_kwh if a == 0 else float(soc[a - 1])
            out.append(window(WindowKind.BATTERY_HOLD, None, a, b, held))
    return tuple(sorted(out, key=lambda w: (w.start, w.kind.value, w.vehicle or "")))


def merge_history(
    history: tuple[Window, ...],
    windows: tuple[Window, ...],
    cut: datetime,
    keep: timedelta = timedelta(days=7),
) -> tuple[Window, ...]:
    """The windows known so far: the past ones (ended at ``cut``) and the plan's from ``cut`` on.

    ``history`` is the previous answer; its windows are cut at ``cut`` (the new plan's start):
    what began before it is kept, what had not begun is replaced by the new plan. A new window
    that starts at ``cut`` continues a window of the same key that was running until ``cut``.
    Windows that ended more than ``keep`` before ``cut`` are dropped.
    """
    past: dict[str, Window] = {}  # the running window (ended at cut) per key
    kept: list[Window] = []
    for old in history:
        if old.start >= cut or old.end <= cut - keep:
            continue
        clipped = replace(old, end=min(old.end, cut))
        if clipped.end == cut:
            past[old.key] = clipped
        else:
            kept.append(clipped)
    for new in windows:
        running = past.pop(new.key, None) if new.start == cut else None
        kept.append(new if running is None else replace(new, start=running.start))
    kept.extend(past.values())
    return tuple(sorted(kept, key=lambda w: (w.start, w.kind.value, w.vehicle or "")))


SUMMARIES: dict[str, dict[WindowKind, str]] = {
    "en": {
        WindowKind.VEHICLE: "{vehicle} charging",
        WindowKind.BATTERY_CHARGE: "Battery charging from the grid",
        WindowKind.BATTERY_HOLD: "Battery holding its charge",
    },
    "de": {
        WindowKind.VEHICLE: "{vehicle} lädt",
        WindowKind.BATTERY_CHARGE: "Hausbatterie lädt aus dem Netz",
        WindowKind.BATTERY_HOLD: "Hausbatterie hält ihre Ladung",
    },
}
FACTS: dict[str, dict[WindowKind, str]] = {
    "en": {
        WindowKind.VEHICLE: "{energy} kWh planned, on average {price} ct/kWh.",
        WindowKind.BATTERY_CHARGE: "{energy} kWh planned, on average {price} ct/kWh.",
        WindowKind.BATTERY_HOLD: "{energy} kWh kept for later (now {price} ct/kWh on average).",
    },
    "de": {
        WindowKind.VEHICLE: "{energy} kWh geplant, im Schnitt {price} ct/kWh.",
        WindowKind.BATTERY_CHARGE: "{energy} kWh geplant, im Schnitt {price} ct/kWh.",
        WindowKind.BATTERY_HOLD: (
            "{energy} kWh bleiben für später (jetzt im Schnitt {price} ct/kWh)."
        ),
    },
}
WHY_LABEL: dict[str, str] = {"en": "Why: ", "de": "Warum: "}


def _lang(lang: str) -> str:
    return lang if lang in SUMMARIES else "en"


def _number(value: float, decimals: int, lang: str) -> str:
    text = f"{value:.{decimals}f}"
    return text.replace(".", ",") if lang == "de" else text


def window_summary(window: Window, lang: str = "en") -> str:
    """The event's title ("Kia charging" / "Kia lädt"); a car's always starts with its name."""
    return SUMMARIES[_lang(lang)][window.kind].format(vehicle=window.vehicle or "")


def window_description(window: Window, lang: str = "en", tz: tzinfo | None = None) -> str:
    """The facts of the window and the plan's why of its first slot, in English or German."""
    lang = _lang(lang)
    facts = FACTS[lang][window.kind].format(
        energy=_number(window.energy_kwh, 1, lang),
        price=_number(100.0 * window.mean_price_eur_per_kwh, 1, lang),
    )
    return f"{facts}\n{WHY_LABEL[lang]}{render(window.why, lang, tz)}"


class WindowTracker:
    """The windows across cycles: updated once per new plan (``update``), read any time."""

    def __init__(self) -> None:
        """Nothing known yet."""
        self.windows: tuple[Window, ...] = ()
        self._seen: object | None = None

    def update(
        self, token: object, inputs: PlanInput | None, plan: Plan | None, cut: datetime
    ) -> tuple[Window, ...]:
        """The windows after a cycle (``token`` identifies it; a cycle is counted once).

        ``plan`` None (no plan to act on): nothing is planned from ``cut`` on.
        """
        if token is not self._seen:
            self._seen = token
            new = plan_windows(inputs, plan) if inputs is not None and plan is not None else ()
            self.windows = merge_history(self.windows, new, cut)
        return self.windows
