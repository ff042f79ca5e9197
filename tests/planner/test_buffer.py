"""The dynamic battery buffer's formula."""

from __future__ import annotations

import numpy as np
import pytest

from custom_components.smartload.planner.buffer import (
    TEMPLATES,
    Confidence,
    dynamic_min_soc,
    pv_confidence,
    render_reason,
)

N = 96
PV = np.concatenate([np.zeros(28), np.full(40, 4.0), np.zeros(28)])  # 40 kWh tomorrow
FLAT = np.full(N, 0.30)
SPREAD = np.concatenate([np.full(48, 0.20), np.full(48, 0.45)])  # 25 ct spread


def _decide(spread: float | None = None, error: float | None = None, **kw):
    low = high = None
    if spread is not None:
        low, high = PV * (1 - spread / 2), PV * (1 + spread / 2)
    args = {
        "capacity_kwh": 10.0,
        "configured_min_soc_kwh": 3.0,
        "max_soc_kwh": 10.0,
        "import_price_eur_per_kwh": SPREAD,
        "local_hour": 5.0,
        "pv_kw": PV,
        "pv_low_kw": low,
        "pv_high_kw": high,
        "pv_recent_error": error,
    }
    return dynamic_min_soc(**(args | kw))


def test_confidence_levels() -> None:
    """Quantile spread first, then the recent error, else medium."""
    assert pv_confidence(PV, low_kw=PV * 0.9, high_kw=PV * 1.1)[0] is Confidence.HIGH
    assert pv_confidence(PV, low_kw=PV * 0.75, high_kw=PV * 1.25)[0] is Confidence.MEDIUM
    assert pv_confidence(PV, low_kw=PV * 0.4, high_kw=PV * 1.6)[0] is Confidence.LOW
    # the quantiles win over the recent error
    assert pv_confidence(PV, low_kw=PV * 0.4, high_kw=PV * 1.6, recent_error=0.01)[0] == "low"
    assert pv_confidence(PV, recent_error=0.10)[0] is Confidence.HIGH
    assert pv_confidence(PV, recent_error=0.30)[0] is Confidence.MEDIUM
    assert pv_confidence(PV, recent_error=0.50)[0] is Confidence.LOW
    level, why = pv_confidence(PV)
    assert level is Confidence.MEDIUM and why.key == "pv_no_confidence"
    # a night-only horizon has no meaningful spread
    level, why = pv_confidence(np.zeros(N), low_kw=np.zeros(N), high_kw=np.ones(N) * 0.001)
    assert level is Confidence.MEDIUM and why.key == "pv_little"


def test_high_lowers_never_below_floor() -> None:
    """HIGH lowers toward the 10 % floor; the full weight (morning, wide prices) reaches it."""
    d = _decide(spread=0.1)
    assert d.confidence is Confidence.HIGH
    assert d.floor_kwh == pytest.approx(1.0)
    assert d.lowered and d.min_soc_kwh == pytest.approx(1.0)  # m - (m-f)*1*1
    assert d.reasons[-1].key == "at_floor"
    evening = _decide(spread=0.1, local_hour=18.0)
    assert 1.0 < evening.min_soc_kwh < 3.0  # half the weight: 3 - 2*0.5*1 = 2
    assert evening.min_soc_kwh == pytest.approx(2.0)
    assert evening.reasons[-1].key == "lowered"
    flat = _decide(spread=0.1, import_price_eur_per_kwh=FLAT)
    assert flat.min_soc_kwh == pytest.approx(2.0)  # no spread: half as far
    # configured at or below the floor: never lowered (nor raised to the floor)
    low_conf = _decide(spread=0.1, configured_min_soc_kwh=0.5)
    assert low_conf.min_soc_kwh == pytest.approx(0.5) and not low_conf.lowered
    for hour in np.arange(0.0, 24.0, 0.5):
        for m in (1.0, 2.0, 5.0, 9.0):
            d = _decide(spread=0.05, local_hour=float(hour), configured_min_soc_kwh=m)
            assert d.floor_kwh - 1e-9 <= d.min_soc_kwh <= m + 1e-9


def test_medium_and_low_never_below_configured() -> None:
    """MEDIUM keeps the configured minimum; LOW raises it before high evening prices."""
    medium = _decide(spread=0.5)
    assert medium.confidence is Confidence.MEDIUM
    assert medium.min_soc_kwh == pytest.approx(3.0) and medium.reasons[-1].key == "kept"
    assert _decide().min_soc_kwh == pytest.approx(3.0)  # no confidence data: MEDIUM
    low = _decide(spread=1.2, local_hour=15.0)
    assert low.confidence is Confidence.LOW and low.raised
    assert low.min_soc_kwh == pytest.approx(3.0 + 7.0 * 0.25)
    assert low.reasons[-1].key == "raised"
    assert any(r.key == "evening_ahead" for r in low.reasons)
    assert _decide(spread=1.2, import_price_eur_per_kwh=FLAT).min_soc_kwh == pytest.approx(3.0)
    capped = _decide(spread=1.2, local_hour=15.0, max_soc_kwh=3.5)
    assert 3.0 < capped.min_soc_kwh <= 3.5


@pytest.mark.parametrize("hour", [2.0, 9.0, 13.0, 19.0, 23.0])
@pytest.mark.parametrize("prices", [FLAT, SPREAD])
def test_monotonic_in_confidence(hour: float, prices: np.ndarray) -> None:
    """Less confidence never means less reserve."""
    values = [
        _decide(error=e, local_hour=hour, import_price_eur_per_kwh=prices).min_soc_kwh
        for e in (0.05, 0.25, 0.60)  # HIGH, MEDIUM, LOW
    ]
    assert values[0] <= values[1] <= values[2]
    assert values[0] < values[1]  # HIGH always lowers a minimum above the floor


def test_reasons_render_en_de() -> None:
    """Every reason has an English and a German text with its numbers filled in."""
    assert TEMPLATES["en"].keys() == TEMPLATES["de"].keys()
    d = _decide(spread=0.1, local_hour=18.0)
    keys = [r.key for r in d.reasons]
    assert keys[:3] == ["pv_quantile_spread", "confidence_high", "price_spread"]
    for why in d.reasons:
        for lang in ("en", "de"):
            text = render_reason(why, lang)
            assert text != why.key and "{" not in text
    assert render_reason(d.reasons[-1], "en") == "minimum lowered from 30 % to 20 %"
    assert render_reason(d.reasons[0], "de") == "Spanne p10–p90 der PV-Prognose 10 % der Prognose"
    assert render_reason(d.reasons[2], "de") == "Preisspanne 25 ct/kWh"
