"""The charge sequencer: which car should be on the (one) wallbox now, and which next.

Several cars share one wallbox, and swapping them takes a person. ``evaluate`` orders the cars at
home that still need charge:

1. a manual override (until it expires, 90 min by default) puts its car first, then a car
   whose driver asked for a boost (earliest departure first);
2. the car on the wallbox keeps it while it needs charge, unless a waiting car is *urgent* (it
   would miss its departure if it waited for the plugged car to finish) and the plugged car is
   not; among several plugged cars, the one the plan charges now comes first;
3. then urgent cars by slack (time to departure minus the time the charge takes at full power),
   then the others by driver priority (1 first), then slack, then name.

It also keeps the timers that call for a person: *starvation* (a car has waited for the wallbox
for longer than ``starvation_after`` with charge still needed) and *vacancy* (a full car has
stayed plugged in for longer than ``vacancy_after`` while another car needed charge). Each fires
one event per episode. ``evaluate`` is idempotent: the same cars, state and time give the same
decision and no event twice; its new state is what the caller keeps (and stores).

Pure Python: no Home Assistant import; times are timezone-aware ``datetime``s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
import math
from typing import Any

STARVATION = "starvation"  # event kinds (the driver-message kinds)
VACANCY = "vacancy"
OVERRIDE_ENDED = "override_ended"  # not a driver message: the override expired or its car left

DEFAULT_OVERRIDE = timedelta(minutes=90)
URGENT_SLACK = timedelta(minutes=60)  # less slack than this: the car is urgent


class CarState:
    """A car's place in the sequence (the values of ``SequencerDecision.car_states``)."""

    ACTIVE = "active"  # should be on the wallbox now
    QUEUED = "queued"  # needs charge, waits for its turn
    FULL = "full"  # at home, at its target
    AWAY = "away"  # not at home (or not known to be)


@dataclass(frozen=True, kw_only=True, slots=True)
class CarStatus:
    """One car as the sequencer sees it now."""

    car_id: str
    name: str
    at_home: bool  # plugged in, or known to be at home
    plugged: bool  # on the wallbox
    needed_kwh: float  # energy into the car still missing to its target
    charge_kw: float  # power into the car at full speed (car, wallbox and efficiency)
    departure: datetime | None = None
    priority: int = 3  # 1 = highest
    planned_now: bool = False  # the plan charges this car in the current slot
    boosting: bool = False  # a driver asked for full power now (boost)


@dataclass(frozen=True, kw_only=True, slots=True)
class Override:
    """A driver's choice of the car that goes first, until ``until``."""

    car_id: str
    until: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class SequencerSettings:
    """Timers and thresholds."""

    starvation_after: timedelta = timedelta(minutes=60)
    vacancy_after: timedelta = timedelta(minutes=15)
    need_kwh: float = 0.5  # less missing than this counts as full


@dataclass(frozen=True, kw_only=True, slots=True)
class SequencerState:
    """What the sequencer remembers between evaluations (kept in a Store across restarts)."""

    queue: tuple[str, ...] = ()
    override: Override | None = None
    waiting_since: Mapping[str, datetime] = field(default_factory=dict)
    full_since: Mapping[str, datetime] = field(default_factory=dict)
    notified: frozenset[str] = frozenset()  # "starvation:<car>", "vacancy:<car>" of this episode

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly (the Store)."""
        return {
            "queue": list(self.queue),
            "override": None
            if self.override is None
            else {"car_id": self.override.car_id, "until": self.override.until.isoformat()},
            "waiting_since": {k: v.isoformat() for k, v in self.waiting_since.items()},
            "full_since": {k: v.isoformat() for k, v in self.full_since.items()},
            "notified": sorted(self.notified),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SequencerState:
        """From ``as_dict``; what cannot be read is left out."""
        override = None
        raw = data.get("override")
        if isinstance(raw, Mapping) and (until := _time(raw.get("until"))) is not None:
            override = Override(car_id=str(raw.get("car_id")), until=until)
        return cls(
            queue=_strings(data.get("queue")),
            override=override,
            waiting_since=_times(data.get("waiting_since")),
            full_since=_times(data.get("full_since")),
            notified=frozenset(_strings(data.get("notified"))),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class SequencerEvent:
    """Something to tell: a driver message (starvation, vacancy) or an override that ended."""

    kind: str
    car_id: str
    placeholders: dict[str, str | float] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class SequencerDecision:
    """Which car now, which next, and why."""

    now: str | None  # the car that should be on the wallbox now (None: no car needs charge)
    next: str | None  # the one after it
    queue: tuple[str, ...]  # every car at home that needs charge, in order (``now`` first)
    reason: str | None  # why ``now`` is first: override | boost | on_wallbox | urgent | priority
    car_states: Mapping[str, str]  # car id → CarState value
    override: Override | None
    next_check: datetime | None  # when a timer runs out (evaluate again then)

    def position(self, car_id: str) -> int:
        """1-based place in the queue; 0: not queued."""
        return self.queue.index(car_id) + 1 if car_id in self.queue else 0


def set_override(
    state: SequencerState, car_id: str, now: datetime, duration: timedelta = DEFAULT_OVERRIDE
) -> SequencerState:
    """Put a car first until ``now + duration``."""
    return replace(state, override=Override(car_id=car_id, until=now + duration))


def clear_override(state: SequencerState) -> SequencerState:
    """Resume the automatic order."""
    return replace(state, override=None)


def slack(car: CarStatus, now: datetime) -> timedelta:
    """Time to spare: until departure minus the time the missing energy takes at full power."""
    if car.departure is None:
        return timedelta.max
    hours = car.needed_kwh / car.charge_kw if car.charge_kw > 0 else math.inf
    if not math.isfinite(hours):
        return timedelta.min
    return car.departure - now - timedelta(hours=hours)


def evaluate(
    cars: Sequence[CarStatus],
    state: SequencerState,
    now: datetime,
    settings: SequencerSettings | None = None,
) -> tuple[SequencerDecision, SequencerState, tuple[SequencerEvent, ...]]:
    """Decide the order, advance the timers, and tell what happened (each event once)."""
    settings = settings or SequencerSettings()
    by_id = {c.car_id: c for c in cars}
    events: list[SequencerEvent] = []

    override = state.override
    if override is not None:
        car = by_id.get(override.car_id)
        if now >= override.until or car is None or not car.at_home:
            events.append(
                SequencerEvent(
                    kind=OVERRIDE_ENDED,
                    car_id=override.car_id,
                    placeholders={"name": car.name if car else override.car_id},
                )
            )
            override = None

    needing = [c for c in cars if c.at_home and c.needed_kwh >= settings.need_kwh]
    queue, reason = _order(needing, now, override, by_id)
    now_car = queue[0] if queue else None

    # timers: a car waits while it needs charge and is not the one on the wallbox charging
    waiting = [c for c in needing if not (c.car_id == now_car and c.plugged)]
    waiting_since = {c.car_id: state.waiting_since.get(c.car_id, now) for c in waiting}
    full = [c for c in cars if c.plugged and c.needed_kwh < settings.need_kwh]
    full_since = {c.car_id: state.full_since.get(c.car_id, now) for c in full}
    on_wallbox = next((c.name for c in cars if c.plugged and c.car_id == now_car), "")

    notified: set[str] = set()
    next_check: datetime | None = override.until if override is not None else None
    for car in waiting:
        key, since = f"{STARVATION}:{car.car_id}", waiting_since[car.car_id]
        due = since + settings.starvation_after
        if key in state.notified:
            notified.add(key)
        elif now >= due:
            notified.add(key)
            events.append(
                SequencerEvent(
                    kind=STARVATION,
                    car_id=car.car_id,
                    placeholders={
                        "name": car.name,
                        "waited_min": int((now - since).total_seconds() // 60),
                        "needed_kwh": round(car.needed_kwh, 1),
                        "position": queue.index(car.car_id) + 1,
                        "on_wallbox": on_wallbox,
                    },
                )
            )
        else:
            next_check = _earliest(next_check, due)
    others_waiting = [c for c in waiting if not c.plugged]
    for car in full:
        if override is not None and override.car_id == car.car_id:
            continue  # a driver put it there on purpose
        if not others_waiting:
            continue  # nobody needs the wallbox: nothing to tell
        # the time it has been full while another car needed the wallbox
        key = f"{VACANCY}:{car.car_id}"
        since = max(full_since[car.car_id], min(waiting_since[c.car_id] for c in others_waiting))
        due = since + settings.vacancy_after
        if key in state.notified:
            notified.add(key)
        elif now >= due:
            notified.add(key)
            first = min(others_waiting, key=lambda c: queue.index(c.car_id))
            events.append(
                SequencerEvent(
                    kind=VACANCY,
                    car_id=car.car_id,
                    placeholders={
                        "name": car.name,
                        "full_min": int((now - since).total_seconds() // 60),
                        "waiting_name": first.name,
                        "waiting_vehicle": first.car_id,
                        "waiting_needed_kwh": round(first.needed_kwh, 1),
                    },
                )
            )
        else:
            next_check = _earliest(next_check, due)

    car_states: dict[str, str] = {}
    for car in cars:
        if car.car_id == now_car:
            car_states[car.car_id] = CarState.ACTIVE
        elif car.car_id in queue:
            car_states[car.car_id] = CarState.QUEUED
        elif car.at_home:
            car_states[car.car_id] = CarState.FULL
        else:
            car_states[car.car_id] = CarState.AWAY
    decision = SequencerDecision(
        now=now_car,
        next=queue[1] if len(queue) > 1 else None,
        queue=queue,
        reason=reason,
        car_states=car_states,
        override=override,
        next_check=next_check,
    )
    new_state = SequencerState(
        queue=queue,
        override=override,
        waiting_since=waiting_since,
        full_since=full_since,
        notified=frozenset(notified),
    )
    return decision, new_state, tuple(events)


def _order(
    needing: list[CarStatus],
    now: datetime,
    override: Override | None,
    by_id: Mapping[str, CarStatus],
) -> tuple[tuple[str, ...], str | None]:
    """The queue and why its first car is first."""
    urgent = sorted(
        (c for c in needing if slack(c, now) < URGENT_SLACK),
        key=lambda c: (slack(c, now), c.priority, c.name),
    )
    relaxed = sorted(
        (c for c in needing if slack(c, now) >= URGENT_SLACK),
        key=lambda c: (c.priority, slack(c, now), c.name),
    )
    order = urgent + relaxed
    reason: str | None = None
    if order:
        reason = "urgent" if order[0] in urgent else "priority"
    # the car on the wallbox keeps it unless the first one is urgent and it is not
    plugged = sorted(
        (c for c in needing if c.plugged), key=lambda c: (not c.planned_now, order.index(c))
    )
    if plugged and order:
        sitting = plugged[0]
        if sitting is not order[0] and (order[0] not in urgent or sitting in urgent):
            order.remove(sitting)
            order.insert(0, sitting)
        if order[0] is sitting:
            reason = "on_wallbox"
    boosted = [c for c in order if c.boosting]
    if boosted:  # a driver wants it now: before the car on the wallbox and the urgent ones
        order = boosted + [c for c in order if not c.boosting]
        reason = "boost"
    ids = [c.car_id for c in order]
    if override is not None and override.car_id in by_id:
        if override.car_id in ids:
            ids.remove(override.car_id)
        ids.insert(0, override.car_id)
        reason = "override"
    return tuple(ids), reason


def _earliest(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b < a else a


def _time(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def _strings(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, (list, tuple)):
        return ()
    return tuple(str(x) for x in raw if isinstance(x, str))


def _times(raw: Any) -> dict[str, datetime]:
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): t for k, v in raw.items() if (t := _time(v)) is not None}
