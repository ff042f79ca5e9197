"""The coordinator's cycle from real states: plan, stale inputs, repairs, debounced re-plans."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import numpy as np
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.smartload.const import DOMAIN, STATE_CHANGE_DEBOUNCE_S
from custom_components.smartload.coordinator import TICK_DELAY, SmartLoadCoordinator, Status
from custom_components.smartload.inputs import DEFAULT_LOAD_KW
from custom_components.smartload.planner import lp

from .conftest import (
    BATTERY_SOC,
    CAR_PLUGGED,
    CAR_SOC,
    HOUSE,
    NOW,
    PRICE,
    PV,
    make_entry,
    price_attributes,
    pv_attributes,
    setup_entry,
)

pytestmark = pytest.mark.usefixtures("home")

STATUS = "sensor.smartload_plan_status"


def smartload_issues(hass: HomeAssistant) -> dict[str, ir.IssueEntry]:
    """SmartLoad's open repair issues by id."""
    return {
        issue_id: issue
        for (domain, issue_id), issue in ir.async_get(hass).issues.items()
        if domain == DOMAIN
    }


async def test_cycle_from_real_states(hass: HomeAssistant) -> None:
    """Live states → one plan over the published prices, with the car met by its departure."""
    entry = await setup_entry(hass, make_entry())
    result = entry.runtime_data.coordinator.data
    assert result.status is Status.OPTIMAL
    inputs = result.inputs
    assert inputs is not None and result.plan is not None
    assert inputs.start == NOW
    assert inputs.n_slots == 48 * 4  # the configured horizon, in 15-min slots
    assert inputs.import_price_eur_per_kwh[:12].tolist() == [0.05] * 12
    # the published day is known; the second day is a flagged estimate
    assert inputs.price_estimated is not None
    assert not inputs.price_estimated[: 24 * 4].any() and inputs.price_estimated[24 * 4 :].all()
    assert inputs.load_kw[0] == pytest.approx(0.5)  # 500 W
    assert inputs.battery is not None and inputs.battery.soc_kwh == pytest.approx(5.0)
    (car,) = inputs.vehicles
    assert car.soc_kwh == pytest.approx(24.0) and car.target_soc_kwh == pytest.approx(48.0)
    assert car.departure_slot == 7 * 4 - 0  # 07:00 Berlin is 05:00 UTC, 7 h after 22:00 UTC

    # the car needs 24 kWh: the three cheap hours give 3 h x 11 kW, so it charges now
    assert result.decision is not None
    assert result.decision.active_vehicle == "Model 3"
    assert hass.states.get(STATUS).state == "optimal"
    assert float(hass.states.get("sensor.smartload_planned_cost").state) == pytest.approx(
        result.plan.cost_eur, abs=1e-3
    )
    assert float(hass.states.get("sensor.model_3_expected_soc_at_departure").state) >= 80.0 - 0.1
    assert float(hass.states.get("sensor.model_3_shortfall").state) == pytest.approx(0.0, abs=1e-3)
    assert smartload_issues(hass) == {}


async def test_each_cycle_resolves_from_new_states(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The 15-min cycle re-reads the states: a new SoC gives a new plan, not the cached one."""
    entry = await setup_entry(hass, make_entry(automation=False))
    coordinator = entry.runtime_data.coordinator
    first = coordinator.data
    hass.states.async_set(CAR_SOC, "79", {"unit_of_measurement": "%"})
    freezer.tick(timedelta(minutes=14, seconds=59))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert coordinator.data is first  # not yet: the cycle runs just after the next slot begins
    freezer.tick(TICK_DELAY + timedelta(seconds=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    second = coordinator.data
    assert second is not first
    assert second.inputs is not None and second.inputs.start == NOW + timedelta(minutes=15)
    assert second.inputs.vehicles[0].soc_kwh == pytest.approx(0.79 * 60)
    assert second.plan is not None and first.plan is not None
    assert second.plan.vehicles[0].charge_kw.sum() < first.plan.vehicles[0].charge_kw.sum()


async def test_truncated_forecast_is_extended_from_remembered_prices(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Beyond the published prices the horizon goes on with yesterday's shape, flagged."""
    entry = await setup_entry(hass, make_entry(automation=False))
    coordinator = entry.runtime_data.coordinator
    first = coordinator.data.inputs
    assert first is not None
    # no history yet: the estimate is flat at the published mean
    flat = first.import_price_eur_per_kwh[first.price_estimated]
    assert flat == pytest.approx(float(first.import_price_eur_per_kwh[:96].mean()))

    # a day later only six hours are published (before the day-ahead auction)
    freezer.move_to(NOW + timedelta(days=1))
    later = [0.15] * 6
    hass.states.async_set(PRICE, "0.15", price_attributes(NOW + timedelta(days=1), later))
    hass.states.async_set(PV, "0.0", pv_attributes(NOW + timedelta(days=1)))  # not stale
    await coordinator.async_refresh()
    inputs = coordinator.data.inputs
    assert coordinator.data.status is Status.OPTIMAL
    assert inputs is not None and inputs.n_slots == 48 * 4
    assert inputs.price_estimated is not None
    assert not inputs.price_estimated[:24].any() and inputs.price_estimated[24:].all()
    estimate = inputs.import_price_eur_per_kwh
    # yesterday's cheap first three hours repeat a day on, shifted to today's level
    yesterday = first.import_price_eur_per_kwh[:96]
    offset = float(np.mean(np.asarray(later).repeat(4) - yesterday[:24]))
    assert estimate[96 : 96 + 12] == pytest.approx(yesterday[:12] + offset)
    assert estimate[96 + 12] > estimate[96 + 11]  # the profile's shape, not a flat line


@pytest.mark.parametrize(
    ("entity_id", "state", "attributes", "translation_key"),
    [
        (PRICE, "unavailable", {}, "input_unavailable"),
        (CAR_SOC, "n/a", {"unit_of_measurement": "%"}, "input_not_numeric"),
        (BATTERY_SOC, "unknown", {}, "input_unavailable"),
        (PRICE, "0.21", {"unit_of_measurement": "EUR/kWh", "raw_today": []}, "forecast_empty"),
        (CAR_PLUGGED, "maybe", {}, "input_not_plugged_state"),
    ],
)
async def test_bad_input_gives_repair_and_no_actuation(  # noqa: PLR0917
    hass: HomeAssistant,
    service_calls: list[tuple[str, str, Any]],
    caplog: pytest.LogCaptureFixture,
    entity_id: str,
    state: str,
    attributes: dict[str, Any],
    translation_key: str,
) -> None:
    """A bad input: one log line, a repair naming the entity, status stale, nothing written."""
    hass.states.async_set(entity_id, state, attributes)
    with caplog.at_level(logging.WARNING):
        entry = await setup_entry(hass, make_entry())
        coordinator = entry.runtime_data.coordinator
        await coordinator.async_refresh()  # a second cycle with the same problem
        await hass.async_block_till_done()

    status = hass.states.get(STATUS)
    assert status.state == "stale_inputs"
    assert entity_id in status.attributes["reason"]
    assert hass.states.get("sensor.smartload_planned_cost").state == "unknown"
    assert hass.states.get("sensor.smartload_next_action").state == "unknown"
    assert service_calls == []  # no actuation at all
    issues = smartload_issues(hass)
    assert len(issues) == 1
    (issue,) = issues.values()
    assert issue.translation_key == translation_key
    assert issue.translation_placeholders["entity_id"] == entity_id
    logged = [r for r in caplog.records if r.name.startswith("custom_components.smartload")]
    assert len([r for r in logged if entity_id in r.getMessage()]) == 1  # once, not per cycle
    assert not [r for r in caplog.records if r.exc_info]  # no traceback

    # recovery: the issue goes away and the plan comes back
    set_good = {
        PRICE: ("0.05", price_attributes()),
        CAR_SOC: ("40", {"unit_of_measurement": "%"}),
        BATTERY_SOC: ("50", {"unit_of_measurement": "%"}),
        CAR_PLUGGED: ("on", {}),
    }
    hass.states.async_set(entity_id, *set_good[entity_id])
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(STATUS).state == "optimal"
    assert smartload_issues(hass) == {}
    assert service_calls  # acting again


async def test_unplugged_car_needs_no_soc(hass: HomeAssistant) -> None:
    """A car that is away may report no SoC: it is not planned, and that is no problem."""
    hass.states.async_set(CAR_PLUGGED, "off")
    hass.states.async_set(CAR_SOC, "unavailable")
    entry = await setup_entry(hass, make_entry())
    assert hass.states.get(STATUS).state == "optimal"
    assert entry.runtime_data.coordinator.data.inputs.vehicles == ()
    assert hass.states.get("sensor.model_3_expected_soc_at_departure").state == "unknown"
    assert smartload_issues(hass) == {}


async def test_planner_error_is_reported_once(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """Inputs the planner rejects: status error with the reason, one log line, no traceback loop."""
    # a battery whose maximum is below its minimum: the planner refuses it
    entry = await setup_entry(hass, make_entry(battery_min_soc=90.0, battery_max_soc=20.0))
    coordinator = entry.runtime_data.coordinator
    status = hass.states.get(STATUS)
    assert status.state == "error"
    assert "planner failed" in status.attributes["reason"]
    await coordinator.async_refresh()
    await coordinator.async_refresh()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and "plan" in r.getMessage()]
    assert len(errors) == 1
    assert coordinator.last_error is not None


async def test_plug_in_triggers_debounced_replan(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Plugging the car in re-plans once, after the debounce, without waiting for the cycle."""
    hass.states.async_set(CAR_PLUGGED, "off")
    entry = await setup_entry(hass, make_entry())
    coordinator = entry.runtime_data.coordinator
    assert coordinator.data.inputs.vehicles == ()
    before = coordinator.data

    hass.states.async_set(CAR_PLUGGED, "on")
    hass.states.async_set(CAR_PLUGGED, "on", {"note": "attribute noise"})
    freezer.tick(timedelta(seconds=STATE_CHANGE_DEBOUNCE_S / 2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert coordinator.data is before  # still debouncing

    freezer.tick(timedelta(seconds=STATE_CHANGE_DEBOUNCE_S))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert coordinator.data is not before
    assert [v.name for v in coordinator.data.inputs.vehicles] == ["Model 3"]
    assert hass.states.get("sensor.model_3_expected_soc_at_departure").state != "unknown"

    # a change that is not a plug change (a SoC update) does not re-plan by itself
    after = coordinator.data
    hass.states.async_set(CAR_SOC, "41", {"unit_of_measurement": "%"})
    freezer.tick(timedelta(seconds=STATE_CHANGE_DEBOUNCE_S + 1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert coordinator.data is after


async def test_new_price_forecast_triggers_replan(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Tomorrow's prices arriving replace the estimate at the next debounced re-plan."""
    hass.states.async_set(PRICE, "0.05", price_attributes(prices=[0.05] * 3 + [0.3] * 9))
    entry = await setup_entry(hass, make_entry())
    coordinator = entry.runtime_data.coordinator
    assert coordinator.data.inputs.price_estimated.sum() == (48 - 12) * 4
    hass.states.async_set(PRICE, "0.05", price_attributes())
    freezer.tick(timedelta(seconds=STATE_CHANGE_DEBOUNCE_S + 1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert coordinator.data.inputs.price_estimated.sum() == (48 - 24) * 4


async def test_recovering_input_triggers_replan(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """An input that becomes readable again clears the stale state without waiting 15 min."""
    hass.states.async_set(BATTERY_SOC, "unavailable")
    entry = await setup_entry(hass, make_entry())
    assert hass.states.get(STATUS).state == "stale_inputs"
    hass.states.async_set(BATTERY_SOC, "55", {"unit_of_measurement": "%"})
    freezer.tick(timedelta(seconds=STATE_CHANGE_DEBOUNCE_S + 1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get(STATUS).state == "optimal"
    assert entry.runtime_data.coordinator.data.inputs.battery.soc_kwh == pytest.approx(5.5)
    assert smartload_issues(hass) == {}


async def test_feed_in_entity_and_energy_meter(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Feed-in from an entity in ct/kWh; house load from an energy meter's increase."""
    hass.states.async_set("sensor.feed_in", "7.5", {"unit_of_measurement": "ct/kWh"})
    hass.states.async_set(HOUSE, "1000.00", {"unit_of_measurement": "kWh"})
    entry = await setup_entry(
        hass, make_entry(feed_in_mode="entity", feed_in_entity="sensor.feed_in")
    )
    coordinator = entry.runtime_data.coordinator
    inputs = coordinator.data.inputs
    assert inputs.export_price_eur_per_kwh.tolist() == pytest.approx([0.075] * 192)
    assert inputs.load_kw[0] == pytest.approx(DEFAULT_LOAD_KW)  # one reading: the default

    freezer.tick(timedelta(minutes=15))
    hass.states.async_set(HOUSE, "1000.25", {"unit_of_measurement": "kWh"})
    await coordinator.async_refresh()
    assert coordinator.data.inputs.load_kw[0] == pytest.approx(1.0)  # 0.25 kWh in 15 min


async def test_unusable_setting_is_an_error_not_a_loop(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """A setting the reader cannot use (no battery capacity) is status error, logged once."""
    entry = make_entry()
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, data={k: v for k, v in entry.data.items() if k != "battery_capacity_kwh"}
    )
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data.coordinator
    await coordinator.async_refresh()
    status = hass.states.get(STATUS)
    assert status.state == "error"
    assert "battery_capacity_kwh" in status.attributes["reason"]
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1


async def test_cycles_follow_the_slots(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Started mid-slot (22:07), the next cycle runs at 22:15, the one after at 22:30."""
    freezer.move_to(NOW + timedelta(minutes=7))
    entry = await setup_entry(hass, make_entry(automation=False))
    coordinator = entry.runtime_data.coordinator
    assert coordinator.data.inputs.start == NOW
    for minutes in (15, 30):
        freezer.move_to(NOW + timedelta(minutes=minutes) + TICK_DELAY + timedelta(seconds=1))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)
        assert coordinator.data.inputs.start == NOW + timedelta(minutes=minutes)
        assert coordinator.data.updated > NOW + timedelta(minutes=minutes)


def test_next_tick_for_other_cycle_lengths(hass: HomeAssistant) -> None:
    """A 5-min cycle ticks on the 5-min marks; 15 on the quarter hours."""
    entry = make_entry()
    entry.add_to_hass(hass)
    coordinator = SmartLoadCoordinator(hass, entry)
    at = NOW + timedelta(minutes=52, seconds=30)
    assert coordinator.next_tick(at) == NOW + timedelta(hours=1) + TICK_DELAY
    hass.config_entries.async_update_entry(entry, options={**entry.options, "cycle_minutes": 5})
    assert (
        SmartLoadCoordinator(hass, entry).next_tick(at) == NOW + timedelta(minutes=55) + TICK_DELAY
    )


async def test_solver_failure_acts_on_fallback_with_repair(
    hass: HomeAssistant,
    caplog: pytest.LogCaptureFixture,
    service_calls: list[tuple[str, str, Any]],
) -> None:
    """HiGHS failing: the rule-based plan stands in, flagged, logged once, with a repair issue."""

    def broken_solver(*_: Any) -> Any:
        raise RuntimeError("HiGHS crashed")

    with patch.dict(lp.SOLVERS, {name: broken_solver for name in lp.SOLVERS}):
        entry = await setup_entry(hass, make_entry())
        coordinator = entry.runtime_data.coordinator
        await coordinator.async_refresh()
    result = coordinator.data
    assert result.status is Status.FALLBACK
    assert "HiGHS crashed" in result.reason
    assert hass.states.get(STATUS).state == "fallback"
    # the fallback plan is safe to act on: the car still gets its cheap night hours
    assert result.acted and result.decision is not None
    assert result.decision.active_vehicle == "Model 3"
    assert service_calls
    issue_id = f"{entry.entry_id}_plan_planner_fallback"
    issue = smartload_issues(hass)[issue_id]
    assert issue.translation_key == "planner_fallback"
    assert "HiGHS crashed" in issue.translation_placeholders["reason"]
    warnings = [r for r in caplog.records if "fallback plan" in r.getMessage()]
    assert len(warnings) == 1  # two failing cycles, one log line

    await coordinator.async_refresh()  # the optimiser works again
    assert coordinator.data.status is Status.OPTIMAL
    assert issue_id not in smartload_issues(hass)


async def test_naive_forecast_times_are_local(hass: HomeAssistant) -> None:
    """A forecast without offsets (local wall-clock times) is placed in Home Assistant's zone."""
    local_midnight = "2026-05-12T{:02d}:00:00"  # NOW is midnight in Berlin (22:00 UTC)
    rows = [
        {
            "start": local_midnight.format(h),
            "end": local_midnight.format(h + 1),
            "price": 0.05 if h < 3 else 0.30,
        }
        for h in range(23)
    ]
    hass.states.async_set(PRICE, "0.05", {"unit_of_measurement": "EUR/kWh", "forecast": rows})
    entry = await setup_entry(hass, make_entry(automation=False))
    result = entry.runtime_data.coordinator.data
    assert result.status is Status.OPTIMAL  # read as UTC it would start two hours late: stale
    assert result.inputs is not None
    prices = result.inputs.import_price_eur_per_kwh
    assert prices[:12].tolist() == [0.05] * 12 and prices[12] == pytest.approx(0.30)
