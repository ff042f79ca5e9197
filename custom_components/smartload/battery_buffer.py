"""The dynamic battery buffer in Home Assistant: the cycle's minimum SoC, logged and exposed.

``planner.buffer.dynamic_min_soc`` decides (formula in its docstring); this module feeds it the
live inputs — the PV forecast's p10/p90 when the source gives them (Solcast), the import prices of
the horizon and the local time — replaces the configured minimum of the planner's
``BatteryInput`` by the result, and logs every change of a lowered (or raised) minimum once.
Without quantiles the confidence comes from the forecast's recent error (``pv_error``: the
configured PV power against the forecast, once a day of slots is known); without either it is
MEDIUM and the configured minimum stands.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, tzinfo
import logging
from typing import Any

import numpy as np

from .planner.buffer import BufferDecision, dynamic_min_soc, render_reason
from .planner.model import BatteryInput, FloatArray
from .planner.sources import Series, to_slots

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class BufferReport:
    """What the Battery buffer sensor shows: the decision and its reasons in HA's language."""

    decision: BufferDecision
    text: str
    pv_recent_error: float | None = None  # realised vs forecast PV, Σ|f - r| / Σr (None: unknown)

    def pct(self) -> float:
        """The dynamic minimum SoC in percent of the capacity."""
        return self.decision.pct(self.decision.min_soc_kwh)

    def attributes(self) -> dict[str, Any]:
        """Configured minimum, floor, confidence, the reasons (keys and numbers) and their text."""
        d = self.decision
        return {
            "configured_min_pct": d.pct(d.configured_min_soc_kwh),
            "floor_pct": d.pct(d.floor_kwh),
            "confidence": d.confidence.value,
            "reasons": [{"key": r.key, **r.params} for r in d.reasons],
            "reason_text": self.text,
            "pv_recent_error_pct": None
            if self.pv_recent_error is None
            else round(100.0 * self.pv_recent_error, 1),
        }


class BatteryBuffer:
    """One entry's buffer: the latest decision and what was last logged."""

    def __init__(self) -> None:
        """No decision yet."""
        self.report: BufferReport | None = None
        self._logged: float | None = None  # the minimum (%) last logged as changed

    def apply(
        self,
        battery: BatteryInput | None,
        *,
        pv: Series | None,
        pv_kw: FloatArray,
        import_price: FloatArray,
        start: datetime,
        slot_minutes: int,
        tz: tzinfo,
        lang: str = "en",
        pv_recent_error: float | None = None,
    ) -> BatteryInput | None:
        """The battery with this cycle's minimum SoC (None stays None)."""
        if battery is None:
            self.report = None
            return None
        n = len(pv_kw)
        low = high = None
        if pv is not None and pv.low is not None and pv.high is not None:
            low_kw, known_low = to_slots(pv, start, n, slot_minutes, field="low")
            high_kw, known_high = to_slots(pv, start, n, slot_minutes, field="high")
            if known_low.any() and known_high.any():
                low, high = np.clip(low_kw, 0.0, None), np.clip(high_kw, 0.0, None)
        local = start.astimezone(tz)
        decision = dynamic_min_soc(
            capacity_kwh=battery.capacity_kwh,
            configured_min_soc_kwh=battery.min_soc_kwh,
            max_soc_kwh=battery.max_soc_kwh,
            import_price_eur_per_kwh=import_price,
            local_hour=local.hour + local.minute / 60,
            pv_kw=pv_kw,
            pv_low_kw=low,
            pv_high_kw=high,
            pv_recent_error=pv_recent_error,
            dt_h=slot_minutes / 60,
        )
        text = "; ".join(render_reason(r, lang) for r in decision.reasons)
        self.report = BufferReport(decision=decision, text=text, pv_recent_error=pv_recent_error)
        self._log(decision)
        return dataclasses.replace(battery, min_soc_kwh=decision.min_soc_kwh)

    def _log(self, decision: BufferDecision) -> None:
        """Each new lowered or raised minimum once; the return to the configured one once."""
        pct = decision.pct(decision.min_soc_kwh)
        changed = decision.lowered or decision.raised
        if changed and self._logged != pct:
            _LOGGER.info(
                "SmartLoad's battery minimum is %s %% (configured %s %%) this cycle: %s",
                pct,
                decision.pct(decision.configured_min_soc_kwh),
                "; ".join(render_reason(r) for r in decision.reasons),
            )
            self._logged = pct
        elif not changed and self._logged is not None:
            _LOGGER.info("SmartLoad's battery minimum is the configured one again")
            self._logged = None
