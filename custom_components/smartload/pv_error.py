"""The PV forecast's own recent error: what it said for a slot against what the panels made.

Used for the dynamic battery buffer's confidence when the forecast has no p10/p90 (everything
but Solcast). Each cycle :meth:`PvErrorTracker.observe` remembers the forecast the cycle planned
with for the current 15-min slot (kW) and reads the realised PV power (the configured PV power
entity). When a later cycle sees that the slot has ended, the slot's realised power is the mean
of the readings taken in it and the reading at its end; the pair (forecast, realised) joins a
rolling window of the last ``WINDOW_DAYS`` days (a bounded deque). :class:`StoredPvErrorTracker`
keeps the window in a ``Store`` so that a restart does not forget it.

The relative error is ``sum(|f - r|) / sum(r)`` over the daylight slots of the window (a slot
where both are below ``DARK_KW`` is skipped); it is None until the window holds at least a day
of slots and ``MIN_REALISED_KWH`` of realised PV.

Only the window itself can seed it after a restart: no past forecasts are stored anywhere else,
so the recorder's history of the PV power entity alone cannot.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import logging
import math
from typing import Any, Final, override

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .const import DOMAIN
from .storage import async_load_store

_LOGGER = logging.getLogger(__name__)

SLOT_MINUTES = 15
WINDOW_DAYS = 7
DARK_KW = 0.05  # both forecast and realised below: night, not counted
MIN_REALISED_KWH = 1.0  # less realised PV in the window: the error says nothing
STORAGE_VERSION: Final = 1
SAVE_DELAY_S: Final = 300


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
        if self.samples and start <= self.samples[-1].start:
            return  # a slot is counted once, in order (a restored window may already hold it)
        self.samples.append(SlotSample(start, forecast_kw, realised_kw))
        cutoff = start - timedelta(days=WINDOW_DAYS)
        while self.samples and self.samples[0].start <= cutoff:
            self.samples.popleft()
        self._added()

    def _added(self) -> None:
        """A sample joined the window (a subclass saves it)."""

    def to_dict(self) -> dict[str, Any]:
        """The window, JSON-friendly: slot starts (ISO) and the two powers (kW)."""
        return {
            "slot_minutes": int(self.slot / timedelta(minutes=1)),
            "samples": [
                [s.start.isoformat(), round(s.forecast_kw, 4), round(s.realised_kw, 4)]
                for s in self.samples
            ],
        }

    def restore(self, data: Any) -> int:
        """Refill the window from :meth:`to_dict`'s output; what does not fit is dropped.

        Returns the number of samples taken. A window of another slot length is not used.
        """
        self.samples.clear()
        if not isinstance(data, dict) or data.get("slot_minutes") != int(
            self.slot / timedelta(minutes=1)
        ):
            return 0
        rows = data.get("samples")
        for row in rows if isinstance(rows, list) else []:
            try:
                start = datetime.fromisoformat(row[0])
                forecast, realised = float(row[1]), float(row[2])
            except TypeError, ValueError, IndexError:
                continue
            if (
                start.tzinfo is None
                or not (math.isfinite(forecast) and math.isfinite(realised))
                or (self.samples and start <= self.samples[-1].start)
            ):
                continue
            self.samples.append(SlotSample(start, max(0.0, forecast), max(0.0, realised)))
        return len(self.samples)

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


class StoredPvErrorTracker(PvErrorTracker):
    """The window kept in a ``Store``: saved with a delay after each new slot, flushed on unload."""

    def __init__(
        self, hass: HomeAssistant, entry_id: str, slot_minutes: int = SLOT_MINUTES
    ) -> None:
        """Bind to one entry (load with ``async_load``)."""
        super().__init__(slot_minutes)
        self.store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.pv_error.{entry_id}"
        )
        self._dirty = False

    async def async_load(self, now: datetime) -> None:
        """Read the stored window; slots older than the window are dropped, a damaged file
        starts an empty window (logged)."""
        raw = await async_load_store(
            self.store.hass,
            self.store,
            what="PV forecast error window",
            valid=lambda data: isinstance(data, dict),
        )
        self.restore(raw)
        cutoff = now - timedelta(days=WINDOW_DAYS)
        while self.samples and self.samples[0].start <= cutoff:
            self.samples.popleft()

    @override
    def _added(self) -> None:
        self._dirty = True
        self.store.async_delay_save(self._data, SAVE_DELAY_S)

    def _data(self) -> dict[str, Any]:
        self._dirty = False
        return self.to_dict()

    async def async_flush(self) -> None:
        """Write a pending change now (the entry unloads)."""
        if self._dirty:
            await self.store.async_save(self._data())


def _kw(value: float) -> float:
    return max(0.0, float(value))
