"""The fault matrix (issue #8 §4): one test per fault, on real Home Assistant.

Each asserts the message (the log line, once), the repair issue, the safe behaviour (what is and
is not written to evcc's stand-ins) and that nothing is lost (the entry stays loaded, its entities
stay, remembered prices and stored data survive, and SmartLoad plans again once the fault clears).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
import logging
import threading
from typing import Any
from unittest.mock import patch
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, issue_registry as ir, storage
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.smartload.const import DOMAIN
from custom_components.smartload.coordinator import TICK_DELAY, Status
from custom_components.smartload.planner import lp

from .conftest import (
    ACTUATORS,
    BATTERY_SOC,
    CAR_PLUGGED,
    CAR_SOC,
    COST_LIMIT,
    DISCHARGE,
    GRID_LIMIT,
    HOUSE,
    MODE,
    NIGHT_PRICES,
    NOW,
    PRICE,
    PV,
    hourly_prices,
    make_entry,
    price_attributes,
    pv_attributes,
    setup_entry,
)

pytestmark = pytest.mark.usefixtures("home")

STATUS = "sensor.smartload_plan_status"
BERLIN = ZoneInfo("Europe/Berlin")
PRICES = [p + 0.10 for p in NIGHT_PRICES]  # cheap for three hours (0.15), dear after
SMARTLOAD_LOGGER = "custom_components.smartload"


# -- helpers -----------------------------------------------------------------------------------
def smartload_issues(hass: HomeAssistant) -> dict[str, ir.IssueEntry]:
    """SmartLoad's open repair issues by id."""
    return {
        issue_id: issue
        for (domain, issue_id), issue in ir.async_get(hass).issues.items()
        if domain == DOMAIN
    }


def actuator_states(hass: HomeAssistant) -> dict[str, str]:
    """What evcc's stand-ins are set to now."""
    return {entity_id: hass.states.get(entity_id).state for entity_id in ACTUATORS}


def own_entities(hass: HomeAssistant, entry: MockConfigEntry) -> set[str]:
    """The entry's entities in the registry."""
    return {
        e.entity_id for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    }


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Log records with a traceback."""
    return [r for r in caplog.records if r.exc_info]


def smartload_lines(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    """SmartLoad's log lines (warning or above) that contain ``text``."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith(SMARTLOAD_LOGGER)
        and r.levelno >= logging.WARNING
        and text in r.getMessage()
    ]


async def next_cycle(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Move to just after the next 15-min slot begins and let its cycle run."""
    now = datetime.now(UTC)
    boundary = now.replace(second=0, microsecond=0) - timedelta(minutes=now.minute % 15)
    freezer.move_to(boundary + timedelta(minutes=15) + TICK_DELAY + timedelta(seconds=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.fixture
def service_calls(hass: HomeAssistant) -> Iterator[list[tuple[str, str, Any]]]:
    """Every service call aimed at one of the actuators (domain, service, entity_id)."""
    calls: list[tuple[str, str, Any]] = []

    def _record(event: Any) -> None:
        entity = event.data.get("service_data", {}).get("entity_id")
        if entity in ACTUATORS:
            calls.append((event.data["domain"], event.data["service"], entity))

    unsub = hass.bus.async_listen("call_service", _record)
    yield calls
    unsub()


async def running_home(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, **data: Any
) -> MockConfigEntry:
    """A home that has planned and acted for two cycles (so it has something to lose).

    Its prices stay above the feed-in tariff (as German all-in prices do unless the spot price is
    far below zero), so that the plans are plain LPs: the faults here are not about the MILP.
    """
    hass.states.async_set(PRICE, "0.15", price_attributes(NOW, PRICES))
    entry = await setup_entry(hass, make_entry(**data))
    await next_cycle(hass, freezer)
    assert entry.runtime_data.coordinator.data.status is Status.OPTIMAL
    return entry


# -- every input: unavailable / unknown / missing / not a number / NaN --------------------------
GOOD: dict[str, tuple[str, dict[str, Any]]] = {
    HOUSE: ("500", {"unit_of_measurement": "W"}),
    BATTERY_SOC: ("50", {"unit_of_measurement": "%"}),
    CAR_SOC: ("40", {"unit_of_measurement": "%"}),
    CAR_PLUGGED: ("on", {}),
}
FAULTS = ("unavailable", "unknown", "missing", "not_a_number", "nan", "inf")


def _expected_key(entity_id: str, fault: str) -> str:
    if fault in ("unavailable", "unknown", "missing"):
        return "input_unavailable"
    if entity_id == CAR_PLUGGED:
        return "input_not_plugged_state"
    return "input_not_numeric"


def _inject(hass: HomeAssistant, entity_id: str, fault: str) -> None:
    _, attributes = GOOD.get(entity_id, ("0", {}))
    match fault:
        case "missing":
            hass.states.async_remove(entity_id)
        case "not_a_number":
            hass.states.async_set(entity_id, "n/a", attributes)
        case "unavailable" | "unknown" | "nan" | "inf":
            hass.states.async_set(entity_id, fault, attributes)
        case _:
            raise AssertionError(fault)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("entity_id", [HOUSE, BATTERY_SOC, CAR_PLUGGED])
async def test_input_fault(  # noqa: PLR0917
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    service_calls: list[tuple[str, str, Any]],
    entity_id: str,
    fault: str,
) -> None:
    """A value input goes bad while running: stale, one line, one repair, nothing written."""
    entry = await running_home(hass, freezer)
    coordinator = entry.runtime_data.coordinator
    entities = own_entities(hass, entry)
    remembered = dict(coordinator.reader._price_history)
    settings = actuator_states(hass)
    service_calls.clear()

    _inject(hass, entity_id, fault)
    await next_cycle(hass, freezer)
    await next_cycle(hass, freezer)  # a second cycle with the same fault: no second line

    status = hass.states.get(STATUS)
    assert status.state == "stale_inputs"
    assert entity_id in status.attributes["reason"]
    assert service_calls == []  # nothing is written on a guess ...
    assert actuator_states(hass) == settings  # ... and nothing is undone either
    key = _expected_key(entity_id, fault)
    issue = smartload_issues(hass)[f"{entry.entry_id}_input_{key}_{entity_id}"]
    assert issue.translation_placeholders["entity_id"] == entity_id
    assert len(smartload_lines(caplog, entity_id)) == 1
    assert not tracebacks(caplog)
    # nothing lost: the entry, its entities and the remembered prices
    assert entry.state is ConfigEntryState.LOADED
    assert own_entities(hass, entry) == entities
    assert remembered.items() <= coordinator.reader._price_history.items()

    hass.states.async_set(entity_id, *GOOD[entity_id])
    await next_cycle(hass, freezer)
    assert hass.states.get(STATUS).state == "optimal"
    assert smartload_issues(hass) == {}


# -- a plugged-in car's SoC: an estimate stands in for a while, never a reading from before ----
def _issue_keys(hass: HomeAssistant) -> set[str]:
    return {issue.translation_key for issue in smartload_issues(hass).values()}


@pytest.mark.parametrize("fault", FAULTS)
async def test_car_soc_fault(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    service_calls: list[tuple[str, str, Any]],
    fault: str,
) -> None:
    """The plugged-in car's SoC goes bad after a good reading since the plug-in (its API
    sleeps): planned on that reading plus the energy delivered, a non-blocking repair saying
    since when, the car's SoC stale sensor on, and SmartLoad keeps acting."""
    entry = await running_home(hass, freezer)
    coordinator = entry.runtime_data.coordinator

    _inject(hass, CAR_SOC, fault)
    await next_cycle(hass, freezer)
    await next_cycle(hass, freezer)  # a second cycle with the same fault: no second line

    result = coordinator.data
    assert result.status is Status.OPTIMAL and hass.states.get(STATUS).state == "optimal"
    (car,) = result.inputs.vehicles
    assert car.soc_estimated and car.soc_kwh == pytest.approx(24.0)  # 40 % of 60 kWh, no meter
    assert result.acted and result.decision is not None
    issue = smartload_issues(hass)[f"{entry.entry_id}_input_soc_estimated_{CAR_SOC}"]
    assert issue.translation_key == "soc_estimated"
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.translation_placeholders["entity_id"] == CAR_SOC
    assert issue.translation_placeholders["since"] == "2026-05-12 00:00"  # the reading, local
    assert _issue_keys(hass) == {"soc_estimated"}  # nothing blocking
    stale = hass.states.get("binary_sensor.model_3_soc_stale")
    assert stale.state == "on"
    assert stale.attributes["estimate_age_min"] == 45  # three cycles after the setup's reading
    assert len(smartload_lines(caplog, CAR_SOC)) == 1
    assert not tracebacks(caplog)

    # SmartLoad keeps acting on the estimate: a new, very cheap hour now is taken at once
    service_calls.clear()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    hass.states.async_set(PRICE, "0.01", price_attributes(now, [0.01, *PRICES]))
    await next_cycle(hass, freezer)
    assert coordinator.data.status is Status.OPTIMAL and coordinator.data.acted
    assert coordinator.data.decision.battery_grid_charge_limit_eur_per_kwh == pytest.approx(0.01)
    assert ("number", "set_value", GRID_LIMIT) in service_calls  # written on the estimate
    assert float(hass.states.get(GRID_LIMIT).state) == pytest.approx(0.01)

    # the car reports again: planned on the reading, the repair gone
    hass.states.async_set(CAR_SOC, *GOOD[CAR_SOC])
    await next_cycle(hass, freezer)
    assert hass.states.get(STATUS).state == "optimal"
    assert not coordinator.data.inputs.vehicles[0].soc_estimated
    assert smartload_issues(hass) == {}
    assert hass.states.get("binary_sensor.model_3_soc_stale").state == "off"


async def test_car_soc_fault_without_a_reading_since_plug_in(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    service_calls: list[tuple[str, str, Any]],
) -> None:
    """Unplugged and plugged in again while the SoC cannot be read: the reading from before may
    predate a drive, so nothing stands in: stale, input_unavailable, nothing written."""
    entry = await running_home(hass, freezer)
    hass.states.async_set(CAR_SOC, "unavailable", GOOD[CAR_SOC][1])
    hass.states.async_set(CAR_PLUGGED, "off")
    await hass.async_block_till_done()
    hass.states.async_set(CAR_PLUGGED, "on")
    await hass.async_block_till_done()
    settings = actuator_states(hass)
    service_calls.clear()
    await next_cycle(hass, freezer)
    await next_cycle(hass, freezer)

    status = hass.states.get(STATUS)
    assert status.state == "stale_inputs" and CAR_SOC in status.attributes["reason"]
    issue = smartload_issues(hass)[f"{entry.entry_id}_input_input_unavailable_{CAR_SOC}"]
    assert issue.translation_placeholders["entity_id"] == CAR_SOC
    assert _issue_keys(hass) == {"input_unavailable"}
    assert service_calls == [] and actuator_states(hass) == settings
    assert len(smartload_lines(caplog, "acts on nothing")) == 1
    assert not tracebacks(caplog)

    hass.states.async_set(CAR_SOC, *GOOD[CAR_SOC])
    await next_cycle(hass, freezer)
    assert hass.states.get(STATUS).state == "optimal"
    assert smartload_issues(hass) == {}


async def test_car_soc_estimate_too_old(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    service_calls: list[tuple[str, str, Any]],
) -> None:
    """An estimate more than 12 h after its reading is blocking again: stale, a repair saying
    so (with the reading's time), the estimate's repair gone, nothing written."""
    entry = await running_home(hass, freezer)
    _inject(hass, CAR_SOC, "unavailable")
    await next_cycle(hass, freezer)
    assert _issue_keys(hass) == {"soc_estimated"}

    freezer.move_to(NOW + timedelta(hours=11, minutes=50))  # still within the bound: acts
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.runtime_data.coordinator.data.status is Status.OPTIMAL
    assert entry.runtime_data.coordinator.data.acted
    settings = actuator_states(hass)
    service_calls.clear()

    await next_cycle(hass, freezer)  # 12 h and a few seconds after the reading
    await next_cycle(hass, freezer)
    status = hass.states.get(STATUS)
    assert status.state == "stale_inputs" and CAR_SOC in status.attributes["reason"]
    issue = smartload_issues(hass)[f"{entry.entry_id}_input_soc_estimate_expired_{CAR_SOC}"]
    assert issue.translation_placeholders["since"] == "2026-05-12 00:00"
    assert issue.translation_placeholders["max_age_h"] == "12"
    assert _issue_keys(hass) == {"soc_estimate_expired"}
    assert service_calls == [] and actuator_states(hass) == settings
    assert len(smartload_lines(caplog, "too old to plan on")) == 1
    assert hass.states.get("binary_sensor.model_3_soc_stale").state == "on"
    assert not tracebacks(caplog)

    hass.states.async_set(CAR_SOC, *GOOD[CAR_SOC])
    await next_cycle(hass, freezer)
    assert hass.states.get(STATUS).state == "optimal"
    assert smartload_issues(hass) == {}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("entity_id", [PRICE, PV])
async def test_forecast_entity_state_fault(  # noqa: PLR0917
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    service_calls: list[tuple[str, str, Any]],
    entity_id: str,
    fault: str,
) -> None:
    """A forecast entity: its forecast (attributes) counts, not its state.

    Unavailable, unknown or gone: no forecast, so stale and a repair. A state that is not a
    number (or NaN) with a good forecast in the attributes: planned as usual, no repair.
    """
    entry = await running_home(hass, freezer)
    settings = actuator_states(hass)
    good = (
        ("0.15", price_attributes(NOW + timedelta(minutes=15), PRICES))
        if entity_id == PRICE
        else ("0.0", pv_attributes())
    )
    if fault in ("unavailable", "unknown", "missing"):
        _inject(hass, entity_id, fault)
    else:
        hass.states.async_set(entity_id, {"not_a_number": "n/a"}.get(fault, fault), good[1])
    service_calls.clear()
    await next_cycle(hass, freezer)

    if fault in ("unavailable", "unknown", "missing"):
        assert hass.states.get(STATUS).state == "stale_inputs"
        issue = smartload_issues(hass)[f"{entry.entry_id}_input_input_unavailable_{entity_id}"]
        assert issue.translation_placeholders["entity_id"] == entity_id
        assert len(smartload_lines(caplog, entity_id)) == 1
        assert service_calls == []
        assert actuator_states(hass) == settings
        hass.states.async_set(entity_id, *good)
        await next_cycle(hass, freezer)
    assert hass.states.get(STATUS).state == "optimal"
    assert smartload_issues(hass) == {}
    assert not tracebacks(caplog)


# -- the price forecast: empty, truncated, stale, duplicated, malformed -------------------------
async def test_price_forecast_empty(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    service_calls: list[tuple[str, str, Any]],
) -> None:
    """No forecast in the attributes: stale, forecast_empty, nothing written; recovers."""
    entry = await running_home(hass, freezer)
    settings = actuator_states(hass)
    service_calls.clear()
    hass.states.async_set(PRICE, "0.05", {"unit_of_measurement": "EUR/kWh", "raw_today": []})
    await next_cycle(hass, freezer)
    await next_cycle(hass, freezer)
    assert hass.states.get(STATUS).state == "stale_inputs"
    issue = smartload_issues(hass)[f"{entry.entry_id}_input_forecast_empty_{PRICE}"]
    assert issue.translation_key == "forecast_empty"
    assert len(smartload_lines(caplog, f"{PRICE} has no forecast")) == 1
    assert service_calls == [] and actuator_states(hass) == settings
    hass.states.async_set(PRICE, "0.15", price_attributes(NOW + timedelta(minutes=30), PRICES))
    await next_cycle(hass, freezer)
    assert hass.states.get(STATUS).state == "optimal"
    assert smartload_issues(hass) == {}


async def test_price_forecast_truncated(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Three hours published: planned on them, the rest a flagged estimate, no repair."""
    await running_home(hass, freezer)
    start = NOW + timedelta(minutes=30)
    hass.states.async_set(PRICE, "0.25", price_attributes(start, [0.25, 0.26, 0.27]))
    await next_cycle(hass, freezer)
    result = hass.config_entries.async_entries(DOMAIN)[0].runtime_data.coordinator.data
    assert result.status is Status.OPTIMAL
    inputs = result.inputs
    assert inputs is not None and inputs.start == start and inputs.n_slots == 48 * 4
    assert inputs.price_estimated is not None
    assert not inputs.price_estimated[:12].any() and inputs.price_estimated[12:].all()
    assert inputs.import_price_eur_per_kwh[:12].tolist() == pytest.approx(
        [0.25] * 4 + [0.26] * 4 + [0.27] * 4
    )
    assert smartload_issues(hass) == {}
    assert not smartload_lines(caplog, PRICE)


async def test_price_forecast_stale(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    service_calls: list[tuple[str, str, Any]],
) -> None:
    """The price sensor stopped updating: its forecast ended. Stale, a repair saying when,
    nothing written (until the hand-back's timeout, which is the failsafe's to test)."""
    entry = await running_home(hass, freezer)
    settings = actuator_states(hass)
    service_calls.clear()
    ended = NOW + timedelta(minutes=30)  # the forecast's last hour ends as the next slot begins
    hass.states.async_set(PRICE, "0.15", price_attributes(ended - timedelta(hours=24), PRICES))
    await next_cycle(hass, freezer)
    await next_cycle(hass, freezer)
    assert hass.states.get(STATUS).state == "stale_inputs"
    issue = smartload_issues(hass)[f"{entry.entry_id}_input_forecast_stale_{PRICE}"]
    assert issue.translation_key == "forecast_stale"
    assert datetime.fromisoformat(issue.translation_placeholders["state"]) == ended
    assert len(smartload_lines(caplog, "ended")) == 1
    assert service_calls == [] and actuator_states(hass) == settings
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    hass.states.async_set(PRICE, "0.15", price_attributes(now, PRICES))
    await next_cycle(hass, freezer)
    assert hass.states.get(STATUS).state == "optimal"
    assert smartload_issues(hass) == {}


async def test_pv_forecast_stale(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    service_calls: list[tuple[str, str, Any]],
) -> None:
    """A PV forecast that ended is not "no sun": stale, a repair, nothing written."""
    entry = await running_home(hass, freezer)
    service_calls.clear()
    hass.states.async_set(PV, "0.0", pv_attributes(NOW - timedelta(days=1)))
    await next_cycle(hass, freezer)
    assert hass.states.get(STATUS).state == "stale_inputs"
    issue = smartload_issues(hass)[f"{entry.entry_id}_input_forecast_stale_{PV}"]
    assert datetime.fromisoformat(issue.translation_placeholders["state"]) == NOW
    assert len(smartload_lines(caplog, f"the forecast of {PV} ended")) == 1
    assert service_calls == []
    hass.states.async_set(PV, "0.0", pv_attributes())
    await next_cycle(hass, freezer)
    assert hass.states.get(STATUS).state == "optimal"
    assert smartload_issues(hass) == {}


async def test_price_forecast_duplicated(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Every hour listed twice (today and tomorrow overlapping): read once, the later one wins."""
    await running_home(hass, freezer)
    start = NOW + timedelta(minutes=30)
    first = hourly_prices(start, [0.30] * 24)
    again = hourly_prices(start, [0.15] * 3 + [0.30] * 21)  # a correction, sent last
    hass.states.async_set(
        PRICE,
        "0.05",
        {"unit_of_measurement": "EUR/kWh", "raw_today": first, "raw_tomorrow": again + first[3:]},
    )
    await next_cycle(hass, freezer)
    result = hass.config_entries.async_entries(DOMAIN)[0].runtime_data.coordinator.data
    assert result.status is Status.OPTIMAL
    prices = result.inputs.import_price_eur_per_kwh
    assert prices[:12].tolist() == [0.15] * 12 and prices[12:96].tolist() == [0.30] * 84
    assert not result.inputs.price_estimated[:96].any()
    assert smartload_issues(hass) == {}


@pytest.mark.parametrize(
    "raw_today",
    [
        "not a list",
        [{"start": "yesterday-ish", "end": "soon", "value": "cheap"}],
        [{"begin": 1, "cost": 2}],
        [None, 5, "x"],
    ],
)
async def test_price_forecast_malformed(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    service_calls: list[tuple[str, str, Any]],
    raw_today: Any,
) -> None:
    """Garbage in the forecast: no traceback, a forecast_empty repair, nothing written."""
    entry = await running_home(hass, freezer)
    service_calls.clear()
    hass.states.async_set(PRICE, "0.05", {"unit_of_measurement": "EUR/kWh", "raw_today": raw_today})
    await next_cycle(hass, freezer)
    assert hass.states.get(STATUS).state == "stale_inputs"
    assert f"{entry.entry_id}_input_forecast_empty_{PRICE}" in smartload_issues(hass)
    assert service_calls == []
    assert not tracebacks(caplog)


async def test_price_forecast_partly_malformed(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """One broken hour in the middle: known up to it, estimated after it, flagged; no repair."""
    await running_home(hass, freezer)
    start = NOW + timedelta(minutes=30)
    rows = hourly_prices(start, [0.15] * 3 + [0.30] * 21)
    rows[5] = {**rows[5], "value": "n/a"}
    hass.states.async_set(PRICE, "0.05", {"unit_of_measurement": "EUR/kWh", "raw_today": rows})
    await next_cycle(hass, freezer)
    result = hass.config_entries.async_entries(DOMAIN)[0].runtime_data.coordinator.data
    assert result.status is Status.OPTIMAL
    estimated = result.inputs.price_estimated
    assert not estimated[:20].any() and estimated[20:].all()  # the gap is not bridged
    assert smartload_issues(hass) == {}
    assert not tracebacks(caplog)


# -- DST days (Europe/Berlin) ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("local_day", "hours", "departure_utc_hour"),
    [("2026-03-29", 23, 5), ("2026-10-25", 25, 6)],
)
async def test_dst_day(  # noqa: PLR0917
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    local_day: str,
    hours: int,
    departure_utc_hour: int,
) -> None:
    """A 23-h and a 25-h day, every 15-min cycle: the slots, prices and departure stay right."""
    start = datetime.fromisoformat(local_day).replace(tzinfo=BERLIN).astimezone(UTC)
    freezer.move_to(start)
    prices = [0.15 if h < 3 else 0.25 + 0.01 * (h % 5) for h in range(hours)]
    hass.states.async_set(PRICE, "0.05", price_attributes(start, prices))
    hass.states.async_set(PV, "0.0", pv_attributes(start))
    entry = await setup_entry(hass, make_entry())
    coordinator = entry.runtime_data.coordinator
    inputs = coordinator.data.inputs
    assert inputs is not None and inputs.start == start
    # 07:00 local is 05:00 UTC in summer time, 06:00 UTC in winter time
    departure = datetime.fromisoformat(local_day).replace(hour=departure_utc_hour, tzinfo=UTC)
    assert inputs.vehicles[0].departure_slot == (departure - start) // timedelta(minutes=15)
    n_slots = hours * 4
    seen = [inputs.start]
    for i in range(n_slots - 1):
        if i == 48:  # the PV forecast is renewed during the day (it covers 24 h)
            hass.states.async_set(PV, "0.0", pv_attributes(start + timedelta(hours=12)))
        await next_cycle(hass, freezer)
        result = coordinator.data
        assert result.status in (Status.OPTIMAL, Status.SHORTFALL), result.reason
        seen.append(result.inputs.start)
        known = int((~result.inputs.price_estimated).sum())
        assert known == n_slots - len(seen) + 1  # the published day, to its last quarter hour
    assert seen == [start + i * timedelta(minutes=15) for i in range(n_slots)]
    assert not tracebacks(caplog)
    assert smartload_issues(hass) == {}


# -- the plan: an infeasible target, the solver failing or timing out -----------------------------
async def test_infeasible_target_is_a_shortfall(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    service_calls: list[tuple[str, str, Any]],
) -> None:
    """A target no charging can reach: not a failed plan but a shortfall; the car charges now."""
    entry = await running_home(hass, freezer)
    # 07:00 is in 6.5 h; 5 % of 60 kWh to 100 % needs 57 kWh at 2 kW: impossible
    subentry = next(iter(entry.subentries.values()))
    hass.config_entries.async_update_subentry(
        entry, subentry, data={**subentry.data, "target_soc": 100.0, "max_charge_kw": 2.0}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    hass.states.async_set(CAR_SOC, "5", {"unit_of_measurement": "%"})
    await next_cycle(hass, freezer)
    result = entry.runtime_data.coordinator.data
    assert result.status is Status.SHORTFALL
    assert hass.states.get(STATUS).state == "shortfall"
    shortfall = float(hass.states.get("sensor.model_3_shortfall").state)
    assert shortfall == pytest.approx(57.0 - 6.5 * 2.0 * 0.9, abs=1.5)  # 2 kW x 90 % x 6.5 h
    assert result.decision is not None and result.decision.active_vehicle == "Model 3"
    assert hass.states.get(MODE).state == "now"  # as fast as it can
    assert smartload_issues(hass) == {}  # a fact, not a fault to repair
    assert not tracebacks(caplog)


def _broken(message: str) -> Callable[..., Any]:
    def solver(*_: Any) -> Any:
        raise RuntimeError(message)

    return solver


def _time_limit(*_: Any) -> Any:
    """What HiGHS answers when its time limit runs out (the model status, not an exception)."""
    return lp._Solution(False, "Time limit reached", lp.np.zeros(0), None, float("nan"))


@pytest.mark.parametrize(
    ("solver", "reason"),
    [(_broken("HiGHS crashed"), "HiGHS crashed"), (_time_limit, "Time limit reached")],
    ids=["failure", "timeout"],
)
async def test_solver_fault_acts_on_fallback(  # noqa: PLR0917
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    service_calls: list[tuple[str, str, Any]],
    solver: Callable[..., Any],
    reason: str,
) -> None:
    """Solver failure or time-out: the rule-based plan stands in, flagged, one line, a repair."""
    entry = await running_home(hass, freezer)
    coordinator = entry.runtime_data.coordinator
    with patch.dict(lp.SOLVERS, dict.fromkeys(lp.SOLVERS, solver)):
        await next_cycle(hass, freezer)
        await next_cycle(hass, freezer)
    result = coordinator.data
    assert result.status is Status.FALLBACK and reason in result.reason
    assert hass.states.get(STATUS).state == "fallback"
    # the fallback is safe to act on: the car is charged in the cheap night hours
    assert result.acted and result.decision is not None
    assert result.decision.active_vehicle == "Model 3"
    issue = smartload_issues(hass)[f"{entry.entry_id}_plan_planner_fallback"]
    assert reason in issue.translation_placeholders["reason"]
    assert len(smartload_lines(caplog, "fallback plan")) == 1
    assert not [r for r in caplog.records if r.exc_info and r.levelno >= logging.WARNING]

    await next_cycle(hass, freezer)  # the solver works again
    assert coordinator.data.status is Status.OPTIMAL
    assert smartload_issues(hass) == {}


async def test_solver_and_fallback_fail(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    service_calls: list[tuple[str, str, Any]],
) -> None:
    """Both the optimiser and the fallback fail: status error, one error line, nothing written."""
    entry = await running_home(hass, freezer)
    settings = actuator_states(hass)
    service_calls.clear()
    with (
        patch.dict(lp.SOLVERS, dict.fromkeys(lp.SOLVERS, _broken("HiGHS crashed"))),
        patch(
            "custom_components.smartload.planner.fallback.fallback_plan",
            side_effect=RuntimeError("fallback broken"),
        ),
    ):
        await next_cycle(hass, freezer)
        await next_cycle(hass, freezer)
    assert hass.states.get(STATUS).state == "error"
    assert "fallback broken" in hass.states.get(STATUS).attributes["reason"]
    assert service_calls == [] and actuator_states(hass) == settings
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "nothing is written" in errors[0].getMessage()
    await next_cycle(hass, freezer)
    assert hass.states.get(STATUS).state == "optimal"
    assert entry.state is ConfigEntryState.LOADED


# -- the actuators: an evcc call that raises, an entity that disappears ---------------------------
EVCC_MODE = "select.evcc_loadpoint_mode"


@pytest.fixture
async def evcc(hass: HomeAssistant) -> dict[str, str]:
    """evcc's loadpoint mode as the outside world: ``evcc.set_mode``, failing while told to.

    A UI template select (a template config entry) whose action calls the service; the service
    writes the loadpoint helper, or raises ``HomeAssistantError`` with ``failing["mode"]``.
    """
    failing: dict[str, str] = {}

    async def set_mode(call: ServiceCall) -> None:
        if "mode" in failing:
            raise HomeAssistantError(failing["mode"])
        await hass.services.async_call(
            "input_select",
            "select_option",
            {"entity_id": "input_select.lp_mode", "option": call.data["option"]},
            blocking=True,
        )

    hass.services.async_register("evcc", "set_mode", set_mode)
    template = MockConfigEntry(
        domain="template",
        options={
            "name": "evcc loadpoint mode",
            "template_type": "select",
            "state": "{{ states('input_select.lp_mode') }}",
            "options": "{{ ['off', 'pv', 'minpv', 'now'] }}",
            "select_option": [{"action": "evcc.set_mode", "data": {"option": "{{ option }}"}}],
        },
        title="evcc loadpoint mode",
    )
    template.add_to_hass(hass)
    assert await hass.config_entries.async_setup(template.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(EVCC_MODE) is not None
    return failing


async def test_evcc_call_raises(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    service_calls: list[tuple[str, str, Any]],
    evcc: dict[str, str],
) -> None:
    """evcc refuses the mode: the other settings are still written, one line, a repair."""
    hass.states.async_set(CAR_PLUGGED, "off")  # nothing to charge: the mode stays pv
    entry = await running_home(hass, freezer, loadpoint_mode_entity=EVCC_MODE)
    before = hass.states.get(EVCC_MODE).state
    assert before != "now"

    evcc["mode"] = "evcc is not reachable"
    hass.states.async_set(CAR_PLUGGED, "on")  # now it wants the car charged in the cheap hours
    await next_cycle(hass, freezer)
    await next_cycle(hass, freezer)
    result = entry.runtime_data.coordinator.data
    assert result.status is Status.OPTIMAL and result.acted
    assert result.decision is not None and result.decision.loadpoint_mode.value == "now"
    assert hass.states.get(EVCC_MODE).state == before  # refused
    # the smart cost limit is still set: evcc charges below it even in pv mode
    assert float(hass.states.get(COST_LIMIT).state) == pytest.approx(
        result.decision.smart_cost_limit_eur_per_kwh, abs=1e-3
    )
    issue = smartload_issues(hass)[f"{entry.entry_id}_actuator_{EVCC_MODE}"]
    assert issue.translation_key == "actuator_failed"
    assert "evcc is not reachable" in issue.translation_placeholders["error"]
    assert len(smartload_lines(caplog, f"could not set an actuator: {EVCC_MODE}")) == 1
    assert entry.state is ConfigEntryState.LOADED

    del evcc["mode"]  # evcc is back: the next cycle writes the mode and the repair goes
    await next_cycle(hass, freezer)
    assert hass.states.get(EVCC_MODE).state == "now"
    assert smartload_issues(hass) == {}


async def test_actuator_disappears(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    service_calls: list[tuple[str, str, Any]],
) -> None:
    """The discharge lock's entity is gone: the others are written, one line, a repair."""
    entry = await running_home(hass, freezer)
    hass.states.async_remove(DISCHARGE)
    hass.states.async_set(CAR_SOC, "79", {"unit_of_measurement": "%"})  # a new decision
    service_calls.clear()
    await next_cycle(hass, freezer)
    await next_cycle(hass, freezer)
    result = entry.runtime_data.coordinator.data
    assert result.status is Status.OPTIMAL and result.acted
    issue = smartload_issues(hass)[f"{entry.entry_id}_actuator_{DISCHARGE}"]
    assert issue.translation_placeholders["error"] == "entity not found"
    assert len(smartload_lines(caplog, f"{DISCHARGE}: entity not found")) == 1
    assert all(entity != DISCHARGE for _, _, entity in service_calls)
    assert [p.entity_id for p in result.actuator_problems] == [DISCHARGE]
    decision = result.decision
    assert decision is not None  # the others follow the decision
    assert hass.states.get(MODE).state == decision.loadpoint_mode.value
    assert not tracebacks(caplog)

    hass.states.async_set(DISCHARGE, "off")  # it comes back
    await next_cycle(hass, freezer)
    assert f"{entry.entry_id}_actuator_{DISCHARGE}" not in smartload_issues(hass)


# -- Home Assistant stops in the middle of a cycle ------------------------------------------------
@pytest.mark.parametrize("trigger", ["tick", "state_change"])
async def test_restart_mid_cycle(  # noqa: PLR0917
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    service_calls: list[tuple[str, str, Any]],
    hass_storage: dict[str, Any],
    trigger: str,
) -> None:
    """Unloaded while a cycle is in the solver: that cycle writes nothing; the next start plans.

    The stop hands the actuators back (the failsafe's part); the interrupted cycle must not
    write over that afterwards. The plan-error table is flushed at the stop and read back.
    """
    found = actuator_states(hass)  # before SmartLoad takes over
    entry = await running_home(hass, freezer)
    coordinator = entry.runtime_data.coordinator
    samples = coordinator.errors.table.n_samples
    assert samples > 0
    in_solver, release = threading.Event(), threading.Event()

    def slow_solve(inputs: Any) -> Any:
        in_solver.set()
        release.wait(30)
        return lp.plan(inputs)

    hass.states.async_set(CAR_SOC, "79", {"unit_of_measurement": "%"})  # the next plan differs
    with patch("custom_components.smartload.coordinator.solve", slow_solve):
        if trigger == "tick":
            now = datetime.now(UTC)
            freezer.move_to(coordinator.next_tick(now) + timedelta(seconds=1))
        else:  # the car is plugged in again: a debounced re-plan
            hass.states.async_set(CAR_PLUGGED, "off")
            hass.states.async_set(CAR_PLUGGED, "on")
            freezer.tick(timedelta(seconds=11))
        async_fire_time_changed(hass)
        assert await hass.async_add_executor_job(in_solver.wait, 10)
        assert await hass.config_entries.async_unload(entry.entry_id)  # Home Assistant stops
        handed_back = actuator_states(hass)
        service_calls.clear()
        release.set()
        await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert service_calls == []  # the interrupted cycle wrote nothing after the stop
    assert actuator_states(hass) == handed_back == found
    stored = hass_storage[f"{DOMAIN}.error_table.{entry.entry_id}"]
    assert stored["data"]  # flushed

    assert await hass.config_entries.async_setup(entry.entry_id)  # and starts again
    await hass.async_block_till_done(wait_background_tasks=True)
    coordinator = entry.runtime_data.coordinator
    assert coordinator.data.status is Status.OPTIMAL
    assert coordinator.errors.table.n_samples >= samples  # nothing lost
    assert service_calls  # acting again
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# -- a corrupt or old-version Store: every SmartLoad Store present ------------------------------
REAL_STORE_LOAD = storage.Store._async_load  # before pytest-homeassistant mocks it per test
STORE_FAULTS = ("corrupt_json", "wrong_shape", "newer_version", "older_version")


async def running_home_stores(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, hass_storage: dict[str, Any]
) -> tuple[MockConfigEntry, dict[str, dict[str, Any]]]:
    """Every SmartLoad Store a running home loads or writes, as stored after a clean stop."""
    loaded: set[str] = set()
    real_load = storage.Store.async_load

    async def spy(store: storage.Store[Any]) -> Any:
        loaded.add(store.key)
        return await real_load(store)

    with patch.object(storage.Store, "async_load", spy):
        entry = await running_home(hass, freezer)
        await next_cycle(hass, freezer)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    keys = {k for k in loaded | set(hass_storage) if k.startswith(f"{DOMAIN}.")}
    return entry, {k: hass_storage[k] for k in keys if k in hass_storage}


async def check_store_fault(  # noqa: PLR0917
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Any,
    entry: MockConfigEntry,
    key: str,
    envelope: dict[str, Any],
    fault: str,
) -> None:
    """One Store with one fault: the entry loads and plans, the fault is reported, no crash.

    A corrupt file is Home Assistant's to move aside (its ``storage_corruption`` repair); wrong
    data or a newer version is SmartLoad's ``store_reset`` repair; an older version is migrated
    (or reset with that repair). Afterwards the Store holds its current version again.
    """
    caplog.clear()
    version = envelope["version"]
    real_files = False
    match fault:
        case "corrupt_json":
            hass_storage.pop(key, None)
            folder = tmp_path / ".storage"
            folder.mkdir(exist_ok=True)
            (folder / key).write_text('{"version": 1, "data": {', encoding="utf-8")
            hass.config.config_dir = str(tmp_path)
            real_files = True
        case "wrong_shape":
            hass_storage[key] = {**envelope, "data": ["not", "what", "it", "stores"]}
        case "newer_version":
            hass_storage[key] = {**envelope, "version": version + 1}
        case "older_version":
            hass_storage[key] = {**envelope, "version": version - 1, "minor_version": 1}
    with patch.object(storage.Store, "_async_load", REAL_STORE_LOAD) if real_files else _Nothing():
        assert await hass.config_entries.async_setup(entry.entry_id), (key, fault)
        await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED, (key, fault)
    await next_cycle(hass, freezer)
    await next_cycle(hass, freezer)
    assert entry.runtime_data.coordinator.data.status is Status.OPTIMAL, (key, fault)
    assert not [r for r in caplog.records if r.exc_info and r.name.startswith(SMARTLOAD_LOGGER)]

    reset = (DOMAIN, f"store_reset_{key}") in ir.async_get(hass).issues
    match fault:
        case "corrupt_json":
            assert any(
                domain == "homeassistant" and issue_id.startswith(f"storage_corruption_{key}")
                for domain, issue_id in ir.async_get(hass).issues
            ), key
            assert list((tmp_path / ".storage").glob(f"{key}.corrupt.*")), key  # kept aside
        case "wrong_shape" | "newer_version":
            assert reset, (key, fault)
            assert len(smartload_lines(caplog, key)) == 1, (key, fault)
        case "older_version":
            pass  # migrated, or reset with the repair: either way it loaded and plans
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    if key in hass_storage:
        assert hass_storage[key]["version"] == version, (key, fault)
    hass_storage[key] = envelope  # the next check starts from the good file
    ir.async_get(hass).async_delete(DOMAIN, f"store_reset_{key}")


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


@pytest.mark.parametrize("fault", STORE_FAULTS)
async def test_store_fault(  # noqa: PLR0917
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Any,
    fault: str,
) -> None:
    """Each SmartLoad Store, damaged or of another version: never a crash, reported, rebuilt."""
    entry, stores = await running_home_stores(hass, freezer, hass_storage)
    assert f"{DOMAIN}.error_table.{entry.entry_id}" in stores
    config_dir = hass.config.config_dir
    try:
        for key, envelope in sorted(stores.items()):
            await check_store_fault(
                hass, freezer, hass_storage, caplog, tmp_path, entry, key, envelope, fault
            )
    finally:
        hass.config.config_dir = config_dir


async def test_store_round_trip(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, hass_storage: dict[str, Any]
) -> None:
    """A good Store survives a restart unchanged (the other side of the checks above)."""
    entry, stores = await running_home_stores(hass, freezer, hass_storage)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    for key, envelope in stores.items():
        assert hass_storage[key] == envelope, key
    assert not any(domain == DOMAIN for domain, _ in ir.async_get(hass).issues)
