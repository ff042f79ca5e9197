"""The charge sequencer: order, stickiness, override expiry, starvation, vacancy, idempotence."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from custom_components.smartload.planner.sequencer import (
    OVERRIDE_ENDED,
    STARVATION,
    VACANCY,
    CarState,
    CarStatus,
    SequencerState,
    clear_override,
    evaluate,
    set_override,
)

T0 = datetime(2026, 5, 11, 18, 0, tzinfo=UTC)


def _min(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


def car(car_id: str, **kw: object) -> CarStatus:
    base: dict[str, object] = {
        "car_id": car_id,
        "name": car_id.upper(),
        "at_home": True,
        "plugged": False,
        "needed_kwh": 20.0,
        "charge_kw": 10.0,
        "departure": _min(13 * 60),
        "priority": 3,
    }
    base.update(kw)
    return CarStatus(**base)  # type: ignore[arg-type]


def test_nobody_needs_charge() -> None:
    cars = [car("a", needed_kwh=0.0, plugged=True), car("b", at_home=False)]
    decision, state, events = evaluate(cars, SequencerState(), T0)
    assert decision.now is None and decision.next is None and decision.queue == ()
    assert decision.car_states == {"a": CarState.FULL, "b": CarState.AWAY}
    assert events == () and state.full_since == {"a": T0}


def test_priority_orders_relaxed_cars() -> None:
    cars = [car("a", priority=3), car("b", priority=1)]
    decision, _, _ = evaluate(cars, SequencerState(), T0)
    assert decision.queue == ("b", "a") and decision.reason == "priority"
    assert decision.position("b") == 1 and decision.position("a") == 2


def test_urgent_car_goes_before_priority() -> None:
    # b: 20 kWh takes 2 h but it leaves in 2.5 h (slack 30 min): urgent
    cars = [car("a", priority=1), car("b", priority=5, departure=_min(150))]
    decision, _, _ = evaluate(cars, SequencerState(), T0)
    assert decision.queue == ("b", "a") and decision.reason == "urgent"


def test_plugged_car_keeps_the_wallbox_unless_another_is_urgent() -> None:
    cars = [car("a", priority=5, plugged=True), car("b", priority=1)]
    decision, _, _ = evaluate(cars, SequencerState(), T0)
    assert decision.now == "a" and decision.next == "b" and decision.reason == "on_wallbox"
    urgent_b = [cars[0], replace(cars[1], departure=_min(150))]
    decision, _, _ = evaluate(urgent_b, SequencerState(), T0)
    assert decision.now == "b" and decision.reason == "urgent"


def test_plan_breaks_the_tie_between_two_plugged_cars() -> None:
    cars = [car("a", plugged=True, priority=1), car("b", plugged=True, planned_now=True)]
    decision, _, _ = evaluate(cars, SequencerState(), T0)
    assert decision.now == "b"


def test_unplugging_and_reaching_the_target_move_the_queue() -> None:
    cars = [car("a", plugged=True), car("b")]
    decision, state, _ = evaluate(cars, SequencerState(), T0)
    assert decision.now == "a"
    cars = [car("a", plugged=True, needed_kwh=0.2), car("b")]  # a reached its target
    decision, state, _ = evaluate(cars, state, _min(5))
    assert decision.now == "b" and decision.car_states["a"] == CarState.FULL
    cars = [car("a", at_home=False, needed_kwh=0.2), car("b", plugged=True)]
    decision, state, _ = evaluate(cars, state, _min(6))
    assert decision.now == "b" and decision.queue == ("b",) and decision.reason == "on_wallbox"


def test_departure_change_makes_a_car_urgent() -> None:
    cars = [car("a", plugged=True), car("b", priority=5)]
    decision, state, _ = evaluate(cars, SequencerState(), T0)
    assert decision.now == "a"
    cars = [cars[0], replace(cars[1], departure=_min(140))]
    decision, _, _ = evaluate(cars, state, _min(1))
    assert decision.now == "b"


def test_override_lasts_until_it_expires() -> None:
    cars = [car("a", plugged=True), car("b")]
    state = set_override(SequencerState(), "b", T0, timedelta(minutes=90))
    decision, state, events = evaluate(cars, state, _min(10))
    assert decision.now == "b" and decision.reason == "override" and events == ()
    assert decision.next_check == _min(70)  # both wait from 10 min: starvation first
    decision, state, events = evaluate(cars, state, _min(89))
    assert decision.now == "b"
    decision, state, events = evaluate(cars, state, _min(90))
    assert decision.now == "a" and decision.override is None
    assert [e.kind for e in events] == [OVERRIDE_ENDED]
    assert state.override is None
    _, _, events = evaluate(cars, state, _min(91))
    assert events == ()


def test_override_ends_when_its_car_leaves_and_can_be_cleared() -> None:
    state = set_override(SequencerState(), "b", T0)
    decision, state, events = evaluate([car("a"), car("b", at_home=False)], state, _min(1))
    assert decision.override is None and events[0].kind == OVERRIDE_ENDED
    state = clear_override(set_override(state, "a", T0))
    assert state.override is None


def test_starvation_fires_once_after_an_hour() -> None:
    cars = [car("a", plugged=True), car("b")]
    decision, state, events = evaluate(cars, SequencerState(), T0)
    assert events == () and decision.next_check == _min(60)
    _, state, events = evaluate(cars, state, _min(59))
    assert events == ()
    _, state, events = evaluate(cars, state, _min(61))
    assert [(e.kind, e.car_id) for e in events] == [(STARVATION, "b")]
    assert events[0].placeholders["waited_min"] == 61
    assert events[0].placeholders["on_wallbox"] == "A"
    _, state, again = evaluate(cars, state, _min(61))  # idempotent
    assert again == ()
    _, state, later = evaluate(cars, state, _min(200))
    assert later == ()
    # b gets the wallbox, then waits again: a new episode
    _, state, _ = evaluate([car("a", needed_kwh=0), car("b", plugged=True)], state, _min(201))
    assert "b" not in state.waiting_since and not state.notified
    cars = [car("a", plugged=True), car("b", priority=5)]
    _, state, events = evaluate(cars, state, _min(202))
    _, state, events = evaluate(cars, state, _min(263))
    assert [e.kind for e in events] == [STARVATION]


def test_vacancy_when_a_full_car_blocks_a_waiting_one() -> None:
    cars = [car("a", plugged=True, needed_kwh=0.0), car("b")]
    decision, state, events = evaluate(cars, SequencerState(), T0)
    assert decision.now == "b" and events == ()
    assert decision.next_check == _min(15)
    _, state, events = evaluate(cars, state, _min(16))
    assert [(e.kind, e.car_id) for e in events] == [(VACANCY, "a")]
    assert events[0].placeholders["waiting_vehicle"] == "b"
    assert events[0].placeholders["waiting_name"] == "B"
    _, state, events = evaluate(cars, state, _min(17))
    assert events == ()


def test_no_vacancy_while_nobody_waits_and_the_overlap_counts() -> None:
    full = car("a", plugged=True, needed_kwh=0.0)
    _, state, events = evaluate([full, car("b", at_home=False)], SequencerState(), T0)
    _, state, events = evaluate([full, car("b", at_home=False)], state, _min(120))
    assert events == ()
    _, state, events = evaluate([full, car("b")], state, _min(121))  # b comes home
    assert events == ()
    _, state, events = evaluate([full, car("b")], state, _min(136))
    assert [e.kind for e in events] == [VACANCY]


def test_no_vacancy_for_the_override_car() -> None:
    cars = [car("a", plugged=True, needed_kwh=0.0), car("b")]
    state = set_override(SequencerState(), "a", T0, timedelta(minutes=120))
    decision, state, events = evaluate(cars, state, T0)
    assert decision.now == "a"
    _, state, events = evaluate(cars, state, _min(30))
    assert events == ()


def test_state_round_trip() -> None:
    cars = [car("a", plugged=True, needed_kwh=0.0), car("b")]
    state = set_override(SequencerState(), "b", T0)
    _, state, _ = evaluate(cars, state, _min(16))
    again = SequencerState.from_dict(state.as_dict())
    assert again == state
    assert SequencerState.from_dict({"override": {"until": "x"}, "queue": None}) == SequencerState()
    damaged = {"queue": 5, "notified": "starvation:a", "waiting_since": [1], "full_since": {"a": 3}}
    assert SequencerState.from_dict(damaged) == SequencerState()


def test_boost_goes_before_the_car_on_the_wallbox_but_not_an_override() -> None:
    cars = [car("a", plugged=True, departure=_min(150)), car("b", boosting=True)]
    decision, state, _ = evaluate(cars, SequencerState(), T0)
    assert decision.now == "b" and decision.reason == "boost"
    state = set_override(state, "a", T0)
    decision, _, _ = evaluate(cars, state, _min(1))
    assert decision.now == "a" and decision.reason == "override"
