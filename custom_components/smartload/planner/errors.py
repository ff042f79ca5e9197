"""The seasonal plan-error table: how wrong the plan's forecasts were, by season and time of day.

48 cells: 4 seasons (meteorological, northern hemisphere: winter = Dec–Feb, …) × 6 periods of
the day (4 h each, local time) × weekday/weekend. Each cell keeps, for each quantity (house
consumption kW, PV kW, cost €), the running mean of the signed error (realised − predicted: the
forecast's bias) and of its absolute value, with the number of samples. A quantity may be
missing from a sample (PV when it cannot be observed); its statistics are then left alone.

Pure: no Home Assistant, no I/O; ``update`` returns a new table. ``to_dict``/``from_dict`` give
the JSON-friendly form the HA shell persists; ``from_dict`` skips what it cannot read rather than
fail, so a damaged file costs samples, not the integration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
import math
from typing import Any, Final

SEASONS: Final = ("winter", "spring", "summer", "autumn")
PERIODS: Final = ("night", "early_morning", "morning", "afternoon", "evening", "late_evening")
DAY_TYPES: Final = ("weekday", "weekend")
QUANTITIES: Final = ("consumption_kw", "pv_kw", "cost_eur")
HOURS_PER_PERIOD: Final = 24 // len(PERIODS)


def season_of(when: datetime) -> str:
    """Meteorological season of a (local) time: Dec–Feb winter, Mar–May spring, …."""
    return SEASONS[(when.month % 12) // 3]


def period_of(when: datetime) -> str:
    """The 4-hour period of the (local) day: 00–04 night, 04–08 early morning, …."""
    return PERIODS[when.hour // HOURS_PER_PERIOD]


def day_type_of(when: datetime) -> str:
    """Weekday (Mon–Fri) or weekend (Sat, Sun)."""
    return DAY_TYPES[1] if when.weekday() >= 5 else DAY_TYPES[0]


def cell_key(when: datetime) -> str:
    """The cell of a (local) time, e.g. ``"winter/evening/weekday"``."""
    return f"{season_of(when)}/{period_of(when)}/{day_type_of(when)}"


ALL_KEYS: Final = tuple(f"{s}/{p}/{d}" for s in SEASONS for p in PERIODS for d in DAY_TYPES)


@dataclass(frozen=True, kw_only=True, slots=True)
class Stat:
    """Running means of one quantity's error in one cell."""

    n: int = 0
    mean_error: float = 0.0  # realised − predicted (bias)
    mean_abs_error: float = 0.0

    def add(self, error: float) -> Stat:
        """With one more sample."""
        n = self.n + 1
        return Stat(
            n=n,
            mean_error=self.mean_error + (error - self.mean_error) / n,
            mean_abs_error=self.mean_abs_error + (abs(error) - self.mean_abs_error) / n,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Cell:
    """One season × period × day type."""

    consumption_kw: Stat = field(default_factory=Stat)
    pv_kw: Stat = field(default_factory=Stat)
    cost_eur: Stat = field(default_factory=Stat)


@dataclass(frozen=True, kw_only=True, slots=True)
class Sample:
    """Values of one slot, predicted or realised; None: not known."""

    consumption_kw: float | None = None
    pv_kw: float | None = None
    cost_eur: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ErrorTable:
    """All 48 cells by key (``ALL_KEYS``)."""

    cells: Mapping[str, Cell] = field(default_factory=lambda: {k: Cell() for k in ALL_KEYS})

    def cell(self, when: datetime) -> Cell:
        """The cell of a (local) time."""
        return self.cells[cell_key(when)]

    @property
    def n_samples(self) -> int:
        """Consumption samples over all cells (one per observed slot)."""
        return sum(c.consumption_kw.n for c in self.cells.values())


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def update(table: ErrorTable, when: datetime, predicted: Sample, realised: Sample) -> ErrorTable:
    """The table with one slot's errors added to the cell of ``when`` (local time).

    A quantity counts only when both its predicted and realised values are finite numbers.
    """
    key = cell_key(when)
    cell = table.cells[key]
    changes: dict[str, Stat] = {}
    for name in QUANTITIES:
        p, r = getattr(predicted, name), getattr(realised, name)
        if _finite(p) and _finite(r):
            changes[name] = getattr(cell, name).add(float(r) - float(p))
    if not changes:
        return table
    return ErrorTable(cells={**table.cells, key: replace(cell, **changes)})


def to_dict(table: ErrorTable) -> dict[str, Any]:
    """JSON-friendly: ``{key: {quantity: {n, mean_error, mean_abs_error}}}``."""
    return {
        key: {
            name: {
                "n": stat.n,
                "mean_error": stat.mean_error,
                "mean_abs_error": stat.mean_abs_error,
            }
            for name in QUANTITIES
            if (stat := getattr(cell, name)).n
        }
        for key, cell in table.cells.items()
    }


def _stat(raw: Any) -> Stat | None:
    if not isinstance(raw, Mapping):
        return None
    n, mean, mean_abs = raw.get("n"), raw.get("mean_error"), raw.get("mean_abs_error")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        return None
    values = (mean, mean_abs)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return None
    if not all(math.isfinite(v) for v in values) or mean_abs < 0:
        return None
    return Stat(n=n, mean_error=float(mean), mean_abs_error=float(mean_abs))


def from_dict(raw: Any) -> ErrorTable:
    """The table of ``to_dict``'s form; unknown cells and unreadable statistics are skipped."""
    table = ErrorTable()
    if not isinstance(raw, Mapping):
        return table
    cells = dict(table.cells)
    for key, quantities in raw.items():
        if key not in cells or not isinstance(quantities, Mapping):
            continue
        stats = {
            name: stat for name in QUANTITIES if (stat := _stat(quantities.get(name))) is not None
        }
        cells[key] = Cell(**stats)
    return ErrorTable(cells=cells)
