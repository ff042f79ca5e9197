"""A car's state of charge you can trust: staleness, an estimate from delivered energy, resync.

A car's SoC sensor often goes quiet while the car charges (its cloud API sleeps). ``SocTrack``
keeps the last good reading and the energy the wallbox delivered since (from a session-energy
counter when there is one, else the integral of the charge power). ``estimate`` tells whether the
reading is *stale* (no update for longer than ``stale_after`` while energy flowed into the car)
and what the SoC is likely to be now. A fresh reading resynchronises the track and records how far
the estimate was off.

The planner gets a *conservative* estimate (``SocEstimate.soc_pct_planning``): the delivered
energy counted with a margin (``ESTIMATE_MARGIN``), so that a car whose sensor sleeps is rather
charged a little more than left short at departure.

Pure Python: no Home Assistant import; times are timezone-aware ``datetime``s.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

DEFAULT_STALE_AFTER = timedelta(minutes=30)
CHARGING_KW = 0.1  # a charge power above this counts as charging
DELIVERED_EPS_KWH = 0.05  # energy below this counts as none delivered
ESTIMATE_MARGIN = 0.1  # the planner's estimate counts 10 % less of the delivered energy


@dataclass(frozen=True, kw_only=True, slots=True)
class SocTrack:
    """What is known about one car's SoC between readings (kept across restarts)."""

    soc_pct: float | None = None  # the last good reading
    read_at: datetime | None = None  # when it was reported
    delivered_kwh: float = 0.0  # energy the wallbox delivered since that reading (AC side)
    session_kwh: float | None = None  # the session-energy counter's last value
    power_kw: float = 0.0  # the charge power's last value
    power_at: datetime | None = None  # when the power was last integrated up to
    # estimate minus the fresh reading at the last resync (percentage points; None: none yet)
    last_error_pct: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly (the Store)."""
        return {
            "soc_pct": self.soc_pct,
            "read_at": self.read_at.isoformat() if self.read_at else None,
            "delivered_kwh": self.delivered_kwh,
            "session_kwh": self.session_kwh,
            "power_kw": self.power_kw,
            "power_at": self.power_at.isoformat() if self.power_at else None,
            "last_error_pct": self.last_error_pct,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SocTrack:
        """From ``as_dict``; anything unreadable becomes the default."""

        def _time(key: str) -> datetime | None:
            raw = data.get(key)
            try:
                value = datetime.fromisoformat(raw) if isinstance(raw, str) else None
            except ValueError:
                return None
            return value if value is None or value.tzinfo is not None else None

        def _float(key: str, default: float | None) -> float | None:
            raw = data.get(key)
            return float(raw) if isinstance(raw, (int, float)) else default

        return cls(
            soc_pct=_float("soc_pct", None),
            read_at=_time("read_at"),
            delivered_kwh=_float("delivered_kwh", 0.0) or 0.0,
            session_kwh=_float("session_kwh", None),
            power_kw=_float("power_kw", 0.0) or 0.0,
            power_at=_time("power_at"),
            last_error_pct=_float("last_error_pct", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class SocEstimate:
    """The SoC to believe now."""

    soc_pct: float | None  # best estimate (the reading itself while fresh); None: never read
    soc_pct_planning: float | None  # what the planner gets (conservative while estimated)
    stale: bool  # no reading for longer than stale_after while energy flowed into the car
    estimated: bool  # soc_pct includes energy delivered since the last reading
    age: timedelta | None  # since the last good reading
    delivered_kwh: float  # since the last good reading (AC side)
    reading_pct: float | None  # the last good reading


def on_reading(
    track: SocTrack,
    soc_pct: float,
    at: datetime,
    *,
    efficiency: float = 0.9,
    capacity_kwh: float | None = None,
) -> SocTrack:
    """A fresh SoC reading: resynchronise (the delivered energy starts again from zero)."""
    error = None
    delivered = track.delivered_kwh + _integral(track, at)
    if capacity_kwh and track.soc_pct is not None and delivered > DELIVERED_EPS_KWH:
        guess = _add(track.soc_pct, delivered * efficiency, capacity_kwh)
        error = round(guess - soc_pct, 2)
    return replace(
        track,
        soc_pct=min(max(soc_pct, 0.0), 100.0),
        read_at=at,
        delivered_kwh=0.0,
        last_error_pct=error if error is not None else track.last_error_pct,
        # the power integral restarts at the reading
        power_at=at if track.power_at is not None else None,
    )


def on_power(track: SocTrack, power_kw: float, at: datetime) -> SocTrack:
    """A new charge power: integrate the previous one up to ``at`` (left rectangles)."""
    delivered = track.delivered_kwh + _integral(track, at)
    return replace(track, delivered_kwh=delivered, power_kw=max(power_kw, 0.0), power_at=at)


def on_session_energy(track: SocTrack, session_kwh: float) -> SocTrack:
    """A new session-energy counter value; a counter that went down started a new session."""
    if session_kwh < 0:
        return track
    if track.session_kwh is None:
        return replace(track, session_kwh=session_kwh)
    step = session_kwh - track.session_kwh
    if step < 0:  # a new session: the counter restarted from zero
        step = session_kwh
    return replace(track, session_kwh=session_kwh, delivered_kwh=track.delivered_kwh + step)


def estimate(
    track: SocTrack,
    now: datetime,
    *,
    capacity_kwh: float,
    efficiency: float = 0.9,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
    charging: bool | None = None,
    unreadable: bool = False,
) -> SocEstimate:
    """The SoC now: the reading while it is fresh, else the reading plus the delivered energy.

    ``charging`` (the wallbox says so) makes a reading stale after ``stale_after`` even before
    any energy is counted (e.g. no power entity); None: judged by the delivered energy alone.
    ``unreadable``: the SoC entity cannot be read now, so the last reading is stale at once.
    """
    if track.soc_pct is None or track.read_at is None:
        return SocEstimate(
            soc_pct=None,
            soc_pct_planning=None,
            stale=False,
            estimated=False,
            age=None,
            delivered_kwh=0.0,
            reading_pct=None,
        )
    delivered = track.delivered_kwh + _integral(track, now)
    age = max(now - track.read_at, timedelta(0))
    flowing = delivered > DELIVERED_EPS_KWH or bool(charging) or track.power_kw > CHARGING_KW
    stale = unreadable or (age > stale_after and flowing)
    estimated = stale and delivered > DELIVERED_EPS_KWH
    if not estimated:
        return SocEstimate(
            soc_pct=track.soc_pct,
            soc_pct_planning=track.soc_pct,
            stale=stale,
            estimated=False,
            age=age,
            delivered_kwh=delivered,
            reading_pct=track.soc_pct,
        )
    into_car = delivered * efficiency
    return SocEstimate(
        soc_pct=_add(track.soc_pct, into_car, capacity_kwh),
        soc_pct_planning=_add(track.soc_pct, into_car * (1 - ESTIMATE_MARGIN), capacity_kwh),
        stale=True,
        estimated=True,
        age=age,
        delivered_kwh=delivered,
        reading_pct=track.soc_pct,
    )


def next_stale_at(track: SocTrack, stale_after: timedelta = DEFAULT_STALE_AFTER) -> datetime | None:
    """When the reading would turn stale (None: never read)."""
    return None if track.read_at is None else track.read_at + stale_after


def _integral(track: SocTrack, until: datetime) -> float:
    """Energy of the last power reading from its time to ``until`` (the power holds till then)."""
    if track.power_at is None or track.power_kw <= 0 or until <= track.power_at:
        return 0.0
    return track.power_kw * (until - track.power_at).total_seconds() / 3600


def _add(soc_pct: float, kwh: float, capacity_kwh: float) -> float:
    if capacity_kwh <= 0:
        return soc_pct
    return round(min(100.0, soc_pct + 100.0 * kwh / capacity_kwh), 2)
