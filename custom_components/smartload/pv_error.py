"""The PV forecast's own recent error: what it said for a slot against what the panels made.

Used for the dynamic battery buffer's confidence when the forecast has no p10/p90 (everything
but Solcast). Each cycle :meth:`PvErrorTracker.observe` remembers the forecast the cycle planned
with for the current 15-min slot (kW) and reads the realised PV power (the configured PV power
entity). When a later cycle sees that the slot has ended, the slot's realised power is the mean
of the readings taken in it and the reading at its end; the pair (forecast, realised) joins a
rolling window of the last ``WINDOW_DAYS`` days (a bounded deque, in memory only).

The relative error is ``sum(|f - r|) / sum(r)`` over the daylight slots of the window (a slot
where both are below ``DARK_KW`` is skipped); it is None until the window holds at least a day
of slots and ``MIN_REALISED_KWH`` of realised PV.

It starts empty at every start-up: no past forecasts are stored anywhere, so the recorder's
history of the PV power entity alone cannot seed it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import math

SLOT_MINUTES = 15
WINDOW_DAYS = 7
DARK_KW = 0.05  # both forecast and realised below: night, not counted
MIN_REALISED_KWH = 1.0  # less realised PV in the window: the error says nothing


@dataclass(frozen=True, slots=True)
class SlotSample:
    """One ended slot: its start, the forecast and the realised mean power (kW)."""

    start: datetime
    forecast_kw: float
    realised_kw: float


@dataclass(slots=True)
class _Pending:
    start: datetime
    forecast_kw: float
    readings: list[float] = field(default_factory=list)


class PvErrorTracker:
    """The rolling window of (forecast, realised) slots and the relative error."""

    def __init__(self, slot_minutes: int = SLOT_MINUTES) -> None:
        """An empty window."""
        self.slot = timedelta(minutes=slot_minutes)
        self.samples: deque[SlotSample] = deque(maxlen=WINDOW_DAYS * 24 * 60 // slot_minutes)
        self._pending: _Pending | None = None

    def observe(
        self, slot_start: datetime, forecast_kw: float | None, realised_kw: float | None
    ) -> None:
        """A cycle in the slot starting at ``slot_start``: the forecast it planned with for that
        slot and the PV power now (None: not known; a missing reading ends nothing)."""
        pending = self._pending
        if pending is not None and slot_start != pending.start:
            # the pending slot has ended: only the slot right before this one is complete
            if slot_start - pending.start == self.slot and realised_kw is not None:
                readings = [*pending.readings, _kw(realised_kw)]
                self._add(pending.start, pending.forecast_kw, sum(readings) / len(readings))
            self._pending = pending = None
        if pending is None:
            if forecast_kw is None or not math.isfinite(forecast_kw):
                return
            pending = self._pending = _Pending(slot_start, max(0.0, float(forecast_kw)))
        if realised_kw is not None and math.isfinite(realised_kw):
            pending.readings.append(_kw(realised_kw))

    def _add(self, start: datetime, forecast_kw: float, realised_kw: float) -> None:
        self.samples.append(SlotSample(start, forecast_kw, realised_kw))
        cutoff = start - timedelta(days=WINDOW_DAYS)
        while self.samples and self.samples[0].start <= cutoff:
            self.samples.popleft()

    @property
    def days(self) -> float:
        """How many days of slots the window holds."""
        return len(self.samples) * self.slot / timedelta(days=1)

    def relative_error(self) -> float | None:
        """``sum(|f - r|) / sum(r)`` over daylight slots; None with less than a day of data."""
        if len(self.samples) * self.slot < timedelta(days=1):
            return None
        day = [s for s in self.samples if s.forecast_kw >= DARK_KW or s.realised_kw >= DARK_KW]
        hours = self.slot / timedelta(hours=1)
        realised = sum(s.realised_kw for s in day) * hours
        if realised < MIN_REALISED_KWH:
            return None
        return sum(abs(s.forecast_kw - s.realised_kw) for s in day) * hours / realised

    def summary(self) -> dict[str, float | int | None]:
        """For diagnostics."""
        error = self.relative_error()
        return {
            "slots": len(self.samples),
            "days": round(self.days, 2),
            "relative_error": None if error is None else round(error, 4),
        }


def _kw(value: float) -> float:
    return max(0.0, float(value))
