"""The bridge to ``planner.prices.extend_prices`` (profile-based estimate beyond known prices)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .engine import Replay


@dataclass(frozen=True, slots=True)
class PriceExtender:
    """(replay, t, end) -> (import prices, estimated flags) for the MPC.

    The horizon is the published prices, extended by ``extend_prices`` (the median daily profile
    of the last ``history_days`` days, shifted to the level of the known prices) to at least
    ``min_horizon_h`` hours, never past the data.
    """

    min_horizon_h: float = 24.0
    history_days: int = 14

    def __call__(self, replay: Replay, t: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """Prices for the horizon from slot ``t``; slots ``t`` … ``end`` − 1 are published."""
        from custom_components.smartload.planner.prices import extend_prices

        per_h = 60 // replay.data.slot_minutes
        n = max(end - t, round(self.min_horizon_h * per_h))
        n = min(n, replay.data.n_slots - t)
        first = max(0, t - self.history_days * replay.slots_per_day)
        return extend_prices(
            replay.data.time_of(t),
            replay.data.slot_minutes,
            replay.import_price[t:end],
            n,
            history=replay.import_price[first:t] if t > first else None,
            history_start=replay.data.time_of(first) if t > first else None,
            history_days=self.history_days,
        )


def price_extender(min_horizon_h: float = 24.0) -> PriceExtender | None:
    """The extender, or None when ``min_horizon_h`` is 0 or the planner has no ``prices``."""
    if min_horizon_h <= 0:
        return None
    try:
        from custom_components.smartload.planner import prices  # noqa: F401
    except ImportError:
        return None
    return PriceExtender(min_horizon_h=min_horizon_h)
