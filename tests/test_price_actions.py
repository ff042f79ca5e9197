"""Price forecasts served by an action (core Tibber, core Nord Pool), called by the coordinator.

The actions are fake services registered in a real Home Assistant, returning the real-shaped
responses of tests/fixtures/sources (moved to the test's night); the price entity is a real
entity-registry entry of the integration's platform.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
import json
from pathlib import Path
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant, ServiceCall, SupportsResponse
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartload.const import DOMAIN
from custom_components.smartload.coordinator import Status
from custom_components.smartload.inputs import FORECAST_ACTION_FAILED
from custom_components.smartload.spot_tariff import (
    CONF_SPOT_PRICES,
    CONF_SPOT_SURCHARGE,
    CONF_SPOT_VAT,
)

from .conftest import NOW, PRICE, PV, make_entry, pv_attributes, setup_entry

pytestmark = pytest.mark.usefixtures("home")

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
# the fixtures' first hour (2024-05-12 00:00 Berlin) becomes the test's first hour
SHIFT = NOW - datetime(2024, 5, 11, 22, 0, tzinfo=UTC)


def _moved(raw: str) -> str:
    return (datetime.fromisoformat(raw) + SHIFT).isoformat()


def tibber_prices() -> list[dict[str, Any]]:
    """The Tibber fixture's 48 hourly totals, moved to the test's night."""
    data = json.loads((FIXTURES / "tibber.json").read_text(encoding="utf-8"))
    return [
        {"start_time": _moved(item["start_time"]), "price": item["price"]}
        for item in data["prices"]["Zuhause"]
    ]


def nordpool_prices() -> list[dict[str, Any]]:
    """The Nord Pool fixture's 48 hourly prices (EUR/MWh), moved to the test's night."""
    data = json.loads((FIXTURES / "nordpool.json").read_text(encoding="utf-8"))
    return [
        {"start": _moved(item["start"]), "end": _moved(item["end"]), "price": item["price"]}
        for item in data["DE-LU"]
    ]


def register_price_entity(hass: HomeAssistant, platform: str, **kwargs: Any) -> None:
    """Make the test home's price sensor an entity of ``platform``."""
    state = hass.states.get(PRICE)
    assert state is not None
    hass.states.async_remove(PRICE)  # a state without an entry would take the entity id
    entry = er.async_get(hass).async_get_or_create(
        "sensor", platform, "DE-LU-current_price", suggested_object_id="day_ahead_price", **kwargs
    )
    assert entry.entity_id == PRICE
    hass.states.async_set(PRICE, state.state, state.attributes)


def register_tibber(hass: HomeAssistant, calls: list[dict[str, Any]], response: Any = None) -> None:
    """A ``tibber.get_prices`` that filters the fixture by start/end as the real action does."""

    async def get_prices(call: ServiceCall) -> dict[str, Any]:
        calls.append(dict(call.data))
        if isinstance(response, Exception):
            raise response
        if response is not None:
            return response
        start = datetime.fromisoformat(call.data["start"])
        end = datetime.fromisoformat(call.data["end"])
        return {
            "prices": {
                "Zuhause": [
                    p
                    for p in tibber_prices()
                    if start <= datetime.fromisoformat(p["start_time"]) < end
                ]
            }
        }

    hass.services.async_register(
        "tibber", "get_prices", get_prices, supports_response=SupportsResponse.ONLY
    )


def smartload_issues(hass: HomeAssistant) -> dict[str, ir.IssueEntry]:
    """SmartLoad's open repair issues by id."""
    return {
        issue_id: issue
        for (domain, issue_id), issue in ir.async_get(hass).issues.items()
        if domain == DOMAIN
    }


def action_issues(hass: HomeAssistant) -> list[ir.IssueEntry]:
    """The open "forecast action failed" issues."""
    return [
        issue
        for issue in smartload_issues(hass).values()
        if issue.translation_key == FORECAST_ACTION_FAILED
    ]


async def test_tibber_forecast_from_the_action(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The plan's prices are the action's totals (not the attributes); called at most hourly."""
    register_price_entity(hass, "tibber")
    calls: list[dict[str, Any]] = []
    register_tibber(hass, calls)
    entry = await setup_entry(hass, make_entry(automation=False))
    coordinator = entry.runtime_data.coordinator
    result = coordinator.data
    assert result.status is Status.OPTIMAL
    assert len(calls) == 1
    start = datetime.fromisoformat(calls[0]["start"])
    assert start == NOW and datetime.fromisoformat(calls[0]["end"]) == NOW + timedelta(hours=48)
    prices = tibber_prices()
    inputs = result.inputs
    assert inputs is not None
    # every hour of the response, four 15-min slots each (the attributes say 0.05 tonight)
    expected = [p["price"] for p in prices for _ in range(4)]
    assert inputs.import_price_eur_per_kwh.tolist() == pytest.approx(expected)
    assert inputs.price_estimated is not None and not inputs.price_estimated.any()
    assert action_issues(hass) == []

    # re-plans within the hour use the cache
    await coordinator.async_refresh()
    freezer.tick(timedelta(minutes=59))
    await coordinator.async_refresh()
    assert len(calls) == 1
    # later, the cache still reaches more than 12 h ahead: no call
    freezer.move_to(NOW + timedelta(hours=30))
    hass.states.async_set(PV, "0.0", pv_attributes(NOW + timedelta(hours=30)))  # renewed
    await coordinator.async_refresh()
    assert len(calls) == 1
    inputs = coordinator.data.inputs
    assert inputs is not None
    assert inputs.import_price_eur_per_kwh[0] == pytest.approx(prices[30]["price"])
    # once the cache ends within 12 h it is fetched again, but still at most once an hour
    freezer.move_to(NOW + timedelta(hours=36, minutes=15))
    await coordinator.async_refresh()
    assert len(calls) == 2
    freezer.move_to(NOW + timedelta(hours=36, minutes=45))
    await coordinator.async_refresh()
    assert len(calls) == 2
    freezer.move_to(NOW + timedelta(hours=37, minutes=15))
    await coordinator.async_refresh()
    assert len(calls) == 3


def register_nordpool(hass: HomeAssistant, calls: list[dict[str, Any]]) -> MockConfigEntry:
    """A Nord Pool entry, the price entity on it, and its ``get_prices_for_date`` (one day)."""
    nordpool_entry = MockConfigEntry(
        domain="nordpool", data={"areas": ["SE3", "DE-LU"], "currency": "EUR"}
    )
    nordpool_entry.add_to_hass(hass)
    register_price_entity(hass, "nordpool", config_entry=nordpool_entry)

    async def get_prices_for_date(call: ServiceCall) -> dict[str, Any]:
        calls.append(dict(call.data))
        day = date.fromisoformat(call.data["date"])
        return {
            area: [
                p
                for p in nordpool_prices()
                if dt_util.as_local(datetime.fromisoformat(p["start"])).date() == day
            ]
            for area in call.data["areas"]
        }

    hass.services.async_register(
        "nordpool",
        "get_prices_for_date",
        get_prices_for_date,
        supports_response=SupportsResponse.ONLY,
    )
    return nordpool_entry


async def test_nordpool_forecast_today_and_tomorrow(hass: HomeAssistant) -> None:
    """Two calls (today, tomorrow) for the entity's area in the entry's currency, concatenated."""
    calls: list[dict[str, Any]] = []
    nordpool_entry = register_nordpool(hass, calls)
    entry = await setup_entry(hass, make_entry(automation=False))
    result = entry.runtime_data.coordinator.data
    # planned (these spot prices go negative at noon: the solver may need its fallback)
    assert result.status in (Status.OPTIMAL, Status.FALLBACK)
    assert [c["date"] for c in calls] == ["2026-05-12", "2026-05-13"]  # Berlin dates
    for call in calls:
        assert call["config_entry"] == nordpool_entry.entry_id
        assert call["areas"] == ["DE-LU"]  # the entity's own area
        assert call["currency"] == "EUR"
    inputs = result.inputs
    assert inputs is not None
    expected = [p["price"] / 1000 for p in nordpool_prices() for _ in range(4)]  # €/MWh → €/kWh
    assert inputs.import_price_eur_per_kwh.tolist() == pytest.approx(expected)
    assert action_issues(hass) == []


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (None, "does not exist"),  # no tibber.get_prices at all
        (HomeAssistantError("Tibber timed out"), "Tibber timed out"),
        ({"prices": {"Zuhause": []}}, "no known forecast shape"),  # the parser's ParseError
    ],
)
async def test_action_failure_raises_a_repair_and_falls_back(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, response: Any, reason: str
) -> None:
    """A failing action: an issue naming the entity with the reason; the attributes are used."""
    register_price_entity(hass, "tibber")
    calls: list[dict[str, Any]] = []
    if response is not None:
        register_tibber(hass, calls, response)
    entry = await setup_entry(hass, make_entry(automation=False))
    coordinator = entry.runtime_data.coordinator
    result = coordinator.data
    # the attributes' forecast (0.05 for the first three hours) stands in
    assert result.status is Status.OPTIMAL
    assert result.inputs is not None
    assert result.inputs.import_price_eur_per_kwh[:12].tolist() == [0.05] * 12
    (issue,) = action_issues(hass)
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["entity_id"] == PRICE
    assert reason in issue.translation_placeholders["state"]

    # the action works again: at the next attempt (an hour later) the issue goes
    calls.clear()
    hass.services.async_remove("tibber", "get_prices")
    register_tibber(hass, calls)
    freezer.tick(timedelta(minutes=30))
    await coordinator.async_refresh()
    assert calls == [] and len(action_issues(hass)) == 1
    freezer.tick(timedelta(minutes=31))
    await coordinator.async_refresh()
    assert len(calls) == 1
    assert action_issues(hass) == []
    inputs = coordinator.data.inputs
    assert inputs is not None
    assert inputs.import_price_eur_per_kwh[0] != pytest.approx(0.05)


async def test_action_failure_without_attributes_plans_nothing(hass: HomeAssistant) -> None:
    """No action and no forecast in the attributes: both issues, stale inputs, nothing acted."""
    register_price_entity(hass, "tibber")
    hass.states.async_set(PRICE, "0.25", {"unit_of_measurement": "EUR/kWh"})
    entry = await setup_entry(hass, make_entry())
    result = entry.runtime_data.coordinator.data
    assert result.status is Status.STALE_INPUTS
    assert len(action_issues(hass)) == 1
    assert any(i.translation_key == "forecast_empty" for i in smartload_issues(hass).values())


async def test_other_platform_is_read_from_attributes(hass: HomeAssistant) -> None:
    """A price entity of another integration never triggers an action."""
    register_price_entity(hass, "epex_spot")
    calls: list[dict[str, Any]] = []
    register_tibber(hass, calls)
    entry = await setup_entry(hass, make_entry(automation=False))
    result = entry.runtime_data.coordinator.data
    assert calls == []
    assert result.inputs is not None
    assert result.inputs.import_price_eur_per_kwh[:12].tolist() == [0.05] * 12


async def test_raw_spot_prices_get_the_tariff(hass: HomeAssistant) -> None:
    """With "raw spot prices" on, the plan's import price is (spot + surcharge) * (1 + VAT)."""
    calls: list[dict[str, Any]] = []
    register_nordpool(hass, calls)
    entry = make_entry(automation=False)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry,
        options={
            **entry.options,
            CONF_SPOT_PRICES: True,
            CONF_SPOT_SURCHARGE: 0.1786,
            CONF_SPOT_VAT: 19.0,
        },
    )
    await setup_entry(hass, entry)
    inputs = entry.runtime_data.coordinator.data.inputs
    assert inputs is not None
    expected = [(p["price"] / 1000 + 0.1786) * 1.19 for p in nordpool_prices() for _ in range(4)]
    assert inputs.import_price_eur_per_kwh.tolist() == pytest.approx(expected)
    # the fixture's totals for Tibber are exactly this formula over the same day (to 4 decimals)
    assert expected[0] == pytest.approx(tibber_prices()[0]["price"], abs=1e-4)


async def test_tariff_applies_to_attribute_prices(hass: HomeAssistant) -> None:
    """The tariff also applies to a forecast read from the attributes (no action)."""
    entry = make_entry(automation=False)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, CONF_SPOT_PRICES: True, CONF_SPOT_SURCHARGE: 0.2}
    )
    await setup_entry(hass, entry)
    inputs = entry.runtime_data.coordinator.data.inputs
    assert inputs is not None
    # VAT left out of the options: 19 %
    assert inputs.import_price_eur_per_kwh[:12].tolist() == pytest.approx([0.25 * 1.19] * 12)
