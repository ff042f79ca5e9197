"""The dynamic battery buffer: the minimum SoC the plan may use, per cycle.

``dynamic_min_soc`` returns a :class:`BufferDecision` from three things the cycle knows:

1. **PV-forecast confidence** (:class:`Confidence`), from the first that is available:

   - the forecast's own quantiles over the next 24 h (Solcast's p10/p90): the relative spread
     ``s = sum(high - low) / sum(pv)``; HIGH when ``s <= 0.30``, MEDIUM when ``s <= 0.70``,
     LOW above (a day with less than ``MIN_PV_KWH`` of forecast PV has no meaningful spread:
     MEDIUM);
   - the forecast's recent relative error ``e = MAE / mean`` of realised vs forecast PV (past
     data only): HIGH when ``e <= 0.15``, MEDIUM when ``e <= 0.35``, LOW above;
   - neither: MEDIUM.

2. **Price spread** of the horizon, robustly ``P90 - P10`` of the import prices (€/kWh), scaled to
   ``x = clip(spread / SPREAD_FULL, 0, 1)`` with ``SPREAD_FULL = 0.20`` €/kWh: a large spread
   makes a stored kWh worth more in the expensive slots.

3. **Time of day** (local hour ``h`` at the cycle's start):

   - night and morning before the PV ramp (``0 <= h < 10``): PV refills the battery within hours,
     so a lowered reserve is needed only briefly: weight ``w = 1``;
   - otherwise ``w = 0.5``;
   - the evening peak lies ahead (``12 <= h < 21``): a raise counts fully (``r = 1``), else
     ``r = 0.5``.

With the configured minimum ``m``, the hard floor ``f = 0.10 * capacity`` and the maximum SoC
``M``:

- HIGH: ``min = max(f, m - (m - f) * w * (0.5 + 0.5 * x))`` — lowered toward the floor, the more
  the larger the price spread and the sooner PV refills; never below ``f`` (and never lowered at
  all when ``m <= f``);
- MEDIUM: ``min = m``;
- LOW: ``min = min(M, m + (M - m) * RAISE * x * r)`` with ``RAISE = 0.25`` — more reserve against
  a PV shortfall when the evening's prices are high.

So the result is monotonic in confidence (LOW >= MEDIUM >= HIGH), equals the configured minimum
unless the confidence is HIGH or LOW, and stays within ``[min(m, f) .. M]``.

``reasons`` are :class:`~.model.Why` (key + numbers, like the plan's explanations);
``render_reason`` gives English or German text (``TEMPLATES``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
import math

import numpy as np

from .model import FloatArray, Why

FLOOR_FRACTION = 0.10  # hard floor: never plan below 10 % of the capacity
SPREAD_HIGH = 0.30  # quantile spread (p90 - p10) / forecast at or below: HIGH
SPREAD_MEDIUM = 0.70  # … at or below: MEDIUM, above: LOW
ERROR_HIGH = 0.15  # recent relative error (MAE / mean) at or below: HIGH
ERROR_MEDIUM = 0.35  # … at or below: MEDIUM, above: LOW
MIN_PV_KWH = 1.0  # less forecast PV in the next 24 h: the spread says nothing
SPREAD_FULL = 0.20  # €/kWh price spread (P90 - P10) that counts fully
RAISE = 0.25  # at most this share of the room above the configured minimum is added (LOW)
HORIZON_H = 24.0  # the confidence is judged on the next 24 h


class Confidence(StrEnum):
    """How far the PV forecast can be trusted."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True, kw_only=True, slots=True)
class BufferDecision:
    """The minimum SoC for this cycle and why."""

    min_soc_kwh: float
    configured_min_soc_kwh: float
    floor_kwh: float
    capacity_kwh: float
    confidence: Confidence
    reasons: tuple[Why, ...]

    def pct(self, kwh: float) -> float:
        """An energy in percent of the capacity (one decimal)."""
        return round(100.0 * kwh / self.capacity_kwh, 1) if self.capacity_kwh > 0 else 0.0

    @property
    def lowered(self) -> bool:
        """Below the configured minimum."""
        return self.min_soc_kwh < self.configured_min_soc_kwh - 1e-9

    @property
    def raised(self) -> bool:
        """Above the configured minimum."""
        return self.min_soc_kwh > self.configured_min_soc_kwh + 1e-9


def pv_confidence(
    pv_kw: FloatArray,
    *,
    low_kw: FloatArray | None = None,
    high_kw: FloatArray | None = None,
    recent_error: float | None = None,
    dt_h: float = 0.25,
) -> tuple[Confidence, Why]:
    """The forecast's confidence and the reason (see the module docstring)."""
    n = min(len(pv_kw), round(HORIZON_H / dt_h))
    pv = np.asarray(pv_kw[:n], dtype=np.float64)
    if low_kw is not None and high_kw is not None and len(low_kw) >= n and len(high_kw) >= n:
        energy = float(np.clip(pv, 0.0, None).sum() * dt_h)
        if energy >= MIN_PV_KWH:
            width = np.clip(np.asarray(high_kw[:n]) - np.asarray(low_kw[:n]), 0.0, None)
            spread = float(width.sum() * dt_h) / energy
            level = _level(spread, SPREAD_HIGH, SPREAD_MEDIUM)
            return level, Why(key="pv_quantile_spread", params={"spread_pct": _pct(spread)})
        return Confidence.MEDIUM, Why(key="pv_little", params={"pv_kwh": round(energy, 2)})
    if recent_error is not None and math.isfinite(recent_error) and recent_error >= 0:
        level = _level(recent_error, ERROR_HIGH, ERROR_MEDIUM)
        return level, Why(key="pv_recent_error", params={"error_pct": _pct(recent_error)})
    return Confidence.MEDIUM, Why(key="pv_no_confidence")


def dynamic_min_soc(
    *,
    capacity_kwh: float,
    configured_min_soc_kwh: float,
    max_soc_kwh: float,
    import_price_eur_per_kwh: FloatArray,
    local_hour: float,
    pv_kw: FloatArray,
    pv_low_kw: FloatArray | None = None,
    pv_high_kw: FloatArray | None = None,
    pv_recent_error: float | None = None,
    dt_h: float = 0.25,
) -> BufferDecision:
    """The minimum SoC for this cycle (formula in the module docstring)."""
    m = float(configured_min_soc_kwh)
    top = max(m, float(max_soc_kwh))
    floor = FLOOR_FRACTION * float(capacity_kwh)
    confidence, why_pv = pv_confidence(
        pv_kw, low_kw=pv_low_kw, high_kw=pv_high_kw, recent_error=pv_recent_error, dt_h=dt_h
    )
    prices = np.asarray(import_price_eur_per_kwh, dtype=np.float64)
    prices = prices[np.isfinite(prices)]
    spread = float(np.percentile(prices, 90) - np.percentile(prices, 10)) if len(prices) else 0.0
    x = min(1.0, max(0.0, spread / SPREAD_FULL))
    hour = local_hour % 24
    morning = hour < 10
    evening_ahead = 12 <= hour < 21
    reasons = [
        why_pv,
        Why(key=f"confidence_{confidence.value}"),
        Why(key="price_spread", params={"spread_ct": round(100 * spread, 2)}),
    ]
    value = m
    if confidence is Confidence.HIGH and m > floor:
        w = 1.0 if morning else 0.5
        value = max(floor, m - (m - floor) * w * (0.5 + 0.5 * x))
        reasons.append(Why(key="morning_refill" if morning else "daytime"))
    elif confidence is Confidence.LOW:
        r = 1.0 if evening_ahead else 0.5
        value = min(top, m + (top - m) * RAISE * x * r)
        if evening_ahead:
            reasons.append(Why(key="evening_ahead"))
    if value < m - 1e-9:
        key = "at_floor" if value <= floor + 1e-9 else "lowered"
    elif value > m + 1e-9:
        key = "raised"
    else:
        key = "kept"
    pct = 100.0 / capacity_kwh if capacity_kwh > 0 else 0.0
    reasons.append(
        Why(
            key=key,
            params={
                "min_pct": round(value * pct, 1),
                "configured_pct": round(m * pct, 1),
                "floor_pct": round(floor * pct, 1),
            },
        )
    )
    return BufferDecision(
        min_soc_kwh=value,
        configured_min_soc_kwh=m,
        floor_kwh=floor,
        capacity_kwh=float(capacity_kwh),
        confidence=confidence,
        reasons=tuple(reasons),
    )


def _level(value: float, high: float, medium: float) -> Confidence:
    if value <= high:
        return Confidence.HIGH
    return Confidence.MEDIUM if value <= medium else Confidence.LOW


def _pct(fraction: float) -> float:
    return round(100.0 * fraction, 1)


TEMPLATES: dict[str, dict[str, str]] = {
    "en": {
        "pv_quantile_spread": "PV forecast p10–p90 spread {spread_pct} % of the forecast",
        "pv_little": "little PV forecast ({pv_kwh} kWh): no spread to judge",
        "pv_recent_error": "PV forecast's recent error {error_pct} %",
        "pv_no_confidence": "the PV forecast states no confidence",
        "confidence_high": "confidence high",
        "confidence_medium": "confidence medium",
        "confidence_low": "confidence low",
        "price_spread": "price spread {spread_ct} ct/kWh",
        "morning_refill": "PV refills the battery this morning",
        "daytime": "daytime: lowered by half as much",
        "evening_ahead": "evening peak ahead",
        "lowered": "minimum lowered from {configured_pct} % to {min_pct} %",
        "at_floor": "minimum lowered to the {floor_pct} % floor",
        "raised": "minimum raised from {configured_pct} % to {min_pct} %",
        "kept": "configured minimum {configured_pct} % kept",
    },
    "de": {
        "pv_quantile_spread": "Spanne p10–p90 der PV-Prognose {spread_pct} % der Prognose",
        "pv_little": "wenig PV prognostiziert ({pv_kwh} kWh): keine Spanne zu bewerten",
        "pv_recent_error": "jüngster Fehler der PV-Prognose {error_pct} %",
        "pv_no_confidence": "die PV-Prognose gibt keine Sicherheit an",
        "confidence_high": "Sicherheit hoch",
        "confidence_medium": "Sicherheit mittel",
        "confidence_low": "Sicherheit gering",
        "price_spread": "Preisspanne {spread_ct} ct/kWh",
        "morning_refill": "PV lädt den Speicher heute Vormittag wieder",
        "daytime": "tagsüber: nur halb so weit gesenkt",
        "evening_ahead": "Abendspitze steht bevor",
        "lowered": "Minimum von {configured_pct} % auf {min_pct} % gesenkt",
        "at_floor": "Minimum auf die Untergrenze von {floor_pct} % gesenkt",
        "raised": "Minimum von {configured_pct} % auf {min_pct} % angehoben",
        "kept": "eingestelltes Minimum von {configured_pct} % beibehalten",
    },
}


def render_reason(why: Why, lang: str = "en") -> str:
    """One reason as text (English or German; other languages: English). Never raises."""
    table = TEMPLATES.get(lang, TEMPLATES["en"])
    template = table.get(why.key)
    if template is None:
        return why.key
    values = {
        k: (f"{v:g}".replace(".", ",") if lang == "de" and isinstance(v, float) else f"{v:g}")
        if isinstance(v, int | float)
        else str(v)
        for k, v in why.params.items()
    }
    try:
        return template.format_map(values)
    except KeyError:
        return why.key
