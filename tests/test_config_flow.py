"""Config flow, reconfigure, options and vehicle subentries, against a real Home Assistant.

Every form and abort a test reaches is checked against translations/en.json and de.json
(step title/description, each field's label and description, each error, selector options).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
import json
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock, patch

from homeassistant.config_entries import (
    SOURCE_USER,
    ConfigEntry,
    ConfigEntryState,
    ConfigSubentryData,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.selector import Selector, SelectSelector
import probatio as vol
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartload.config_flow import (
    MAIN_ERRORS,
    VEHICLE_ERRORS,
    FlowError,
    actuators_schema,
    battery_schema,
    home_schema,
    options_schema,
    vehicle_schema,
)
from custom_components.smartload.const import (
    CONF_AUTOMATION,
    CONF_BATTERY_CAPACITY_KWH,
    CONF_BATTERY_DISCHARGE_CONTROL_ENTITY,
    CONF_BATTERY_EFFICIENCY,
    CONF_BATTERY_GRID_CHARGE_LIMIT_ENTITY,
    CONF_BATTERY_MAX_CHARGE_KW,
    CONF_BATTERY_MAX_DISCHARGE_KW,
    CONF_BATTERY_MAX_SOC,
    CONF_BATTERY_MIN_SOC,
    CONF_BATTERY_MIN_SOC_ENTITY,
    CONF_BATTERY_SOC_ENTITY,
    CONF_CHARGER_CURRENT_ENTITY,
    CONF_CHARGER_PHASES,
    CONF_CHARGER_SWITCH_ENTITY,
    CONF_CONSUMPTION_ENTITY,
    CONF_CONTROLLED_LOAD_ENTITY,
    CONF_CYCLE_MINUTES,
    CONF_FEED_IN_ENTITY,
    CONF_FEED_IN_MODE,
    CONF_FEED_IN_PRICE,
    CONF_GRID_EXPORT_LIMIT_KW,
    CONF_GRID_IMPORT_LIMIT_KW,
    CONF_HORIZON_HOURS,
    CONF_LOAD_MODEL,
    CONF_LOADPOINT_MODE_ENTITY,
    CONF_NAME,
    CONF_PRICE_ENTITY,
    CONF_PV_FORECAST_ENTITY,
    CONF_PV_POWER_ENTITY,
    CONF_SMART_COST_LIMIT_ENTITY,
    CONF_VEHICLE_CAPACITY_KWH,
    CONF_VEHICLE_CHARGE_POWER_ENTITY,
    CONF_VEHICLE_DAILY_USE_KWH,
    CONF_VEHICLE_DEPARTURE,
    CONF_VEHICLE_MAX_CHARGE_KW,
    CONF_VEHICLE_PLUGGED_ENTITY,
    CONF_VEHICLE_PRESENCE_ENTITY,
    CONF_VEHICLE_PRIORITY,
    CONF_VEHICLE_SESSION_ENERGY_ENTITY,
    CONF_VEHICLE_SOC_ENTITY,
    CONF_VEHICLE_STALE_AFTER_MIN,
    CONF_VEHICLE_TARGET_SOC,
    CONF_WALLBOX_MAX_KW,
    DEFAULT_AUTOMATION,
    DEFAULT_CYCLE_MINUTES,
    DEFAULT_FEED_IN_PRICE,
    DEFAULT_HORIZON_HOURS,
    DEFAULT_VEHICLE_DAILY_USE_KWH,
    DOMAIN,
    FEED_IN_ENTITY,
    FEED_IN_FIXED,
    SUBENTRY_VEHICLE,
)
from custom_components.smartload.spot_tariff import (
    CONF_SPOT_PRICES,
    CONF_SPOT_SURCHARGE,
    CONF_SPOT_VAT,
)

from . import conftest

TRANSLATIONS_DIR = Path(__file__).parents[1] / "custom_components" / "smartload" / "translations"
LANGUAGES = ("en", "de")
TRANSLATIONS: dict[str, dict[str, Any]] = {
    lang: json.loads((TRANSLATIONS_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    for lang in LANGUAGES
}
CONFIG = ("config",)
OPTIONS = ("options",)
VEHICLE = ("config_subentries", SUBENTRY_VEHICLE)

# Entities of a real-looking home (evcc's entities, a Tibber-like price sensor, two cars).
PRICE = "sensor.electricity_price"
HOUSE = "sensor.house_power"
PV = "sensor.pv_forecast_today"
FEED_IN = "sensor.feed_in_tariff"
BATTERY_SOC = "sensor.home_battery_soc"
LP_MODE = "select.evcc_carport_mode"
SMART_LIMIT = "number.evcc_carport_smart_cost_limit"
GRID_CHARGE_LIMIT = "number.evcc_battery_grid_charge_limit"
DISCHARGE_CONTROL = "switch.evcc_battery_discharge_control"
CAR_A_SOC = "sensor.id4_soc"
CAR_A_PLUGGED = "binary_sensor.evcc_carport_connected"
CAR_B_SOC = "sensor.zoe_soc"
CAR_B_PLUGGED = "input_boolean.zoe_plugged_in"
MISSING = "sensor.does_not_exist"
PV_POWER = "sensor.pv_power"

HOME_INPUT: dict[str, Any] = {
    CONF_NAME: "Home",
    CONF_PRICE_ENTITY: PRICE,
    CONF_FEED_IN_MODE: FEED_IN_FIXED,
    CONF_FEED_IN_PRICE: 0.0796,
    CONF_CONSUMPTION_ENTITY: HOUSE,
    CONF_GRID_IMPORT_LIMIT_KW: 17,
    CONF_WALLBOX_MAX_KW: 11,
}
BATTERY_INPUT: dict[str, Any] = {
    CONF_BATTERY_SOC_ENTITY: BATTERY_SOC,
    CONF_BATTERY_CAPACITY_KWH: 10.2,
    CONF_BATTERY_MAX_CHARGE_KW: 5,
    CONF_BATTERY_MAX_DISCHARGE_KW: 4.6,
    CONF_BATTERY_MIN_SOC: 10,
    CONF_BATTERY_MAX_SOC: 95,
    CONF_BATTERY_EFFICIENCY: 0.9,
}
ACTUATORS_INPUT: dict[str, Any] = {
    CONF_LOADPOINT_MODE_ENTITY: LP_MODE,
    CONF_SMART_COST_LIMIT_ENTITY: SMART_LIMIT,
    CONF_BATTERY_GRID_CHARGE_LIMIT_ENTITY: GRID_CHARGE_LIMIT,
    CONF_BATTERY_DISCHARGE_CONTROL_ENTITY: DISCHARGE_CONTROL,
}
VEHICLE_INPUT: dict[str, Any] = {
    CONF_NAME: "ID.4",
    CONF_VEHICLE_CAPACITY_KWH: 77,
    CONF_VEHICLE_SOC_ENTITY: CAR_A_SOC,
    CONF_VEHICLE_PLUGGED_ENTITY: CAR_A_PLUGGED,
    CONF_VEHICLE_MAX_CHARGE_KW: 11,
    CONF_VEHICLE_TARGET_SOC: 80,
    CONF_VEHICLE_DEPARTURE: "07:30",
    CONF_VEHICLE_PRIORITY: 2,
    CONF_VEHICLE_DAILY_USE_KWH: 12.5,
}
# What a minimal entry stores (HOME_INPUT through the three forms, no battery, no actuators).
MINIMAL_DATA: dict[str, Any] = {
    CONF_NAME: "Home",
    CONF_PRICE_ENTITY: PRICE,
    CONF_FEED_IN_MODE: FEED_IN_FIXED,
    CONF_FEED_IN_PRICE: 0.0796,
    CONF_CONSUMPTION_ENTITY: HOUSE,
    CONF_GRID_IMPORT_LIMIT_KW: 17.0,
    CONF_WALLBOX_MAX_KW: 11.0,
}
# The plain charger's fields (optional, every home) and the battery reserve (with a battery).
CHARGER_FIELDS = {CONF_CHARGER_SWITCH_ENTITY, CONF_CHARGER_CURRENT_ENTITY, CONF_CHARGER_PHASES}
DEFAULT_OPTIONS = {
    CONF_HORIZON_HOURS: DEFAULT_HORIZON_HOURS,
    CONF_CYCLE_MINUTES: DEFAULT_CYCLE_MINUTES,
    CONF_AUTOMATION: DEFAULT_AUTOMATION,
    CONF_LOAD_MODEL: "auto",
}


# Translation checks -----------------------------------------------------------------------------


def _section(lang: str, path: tuple[str, ...]) -> dict[str, Any]:
    node = TRANSLATIONS[lang]
    for key in path:
        node = node[key]
    return node


def _selectors(validator: Any) -> Iterator[Selector[Any]]:
    """The selectors in a field's validator (bare, or inside vol.All)."""
    if isinstance(validator, Selector):
        yield validator
    for inner in getattr(validator, "validators", ()):
        yield from _selectors(inner)


def assert_schema_translated(path: tuple[str, ...], step_id: str, schema: vol.Schema) -> None:
    """Every field of the form has a label and a description, every select option a label."""
    for lang in LANGUAGES:
        step = _section(lang, path)["step"][step_id]
        assert step.get("title"), (lang, path, step_id, "title")
        assert step.get("description"), (lang, path, step_id, "description")
        for marker, validator in schema.schema.items():
            key = str(marker.schema)
            assert step["data"].get(key), (lang, path, step_id, "data", key)
            assert step["data_description"].get(key), (lang, step_id, "data_description", key)
            for selector in _selectors(validator):
                if isinstance(selector, SelectSelector) and (
                    tkey := selector.config.get("translation_key")
                ):
                    labels = TRANSLATIONS[lang]["selector"][tkey]["options"]
                    for option in selector.config["options"]:
                        assert labels.get(option), (lang, "selector", tkey, option)


def assert_translated(result: Any, path: tuple[str, ...]) -> None:
    """Check a flow result (form, its errors, or abort reason) against en and de."""
    if result["type"] is FlowResultType.FORM:
        assert_schema_translated(path, result["step_id"], result["data_schema"])
        for error in (result.get("errors") or {}).values():
            for lang in LANGUAGES:
                assert _section(lang, path)["error"].get(error), (lang, path, error)
    elif result["type"] is FlowResultType.ABORT and result.get("translation_domain") is None:
        for lang in LANGUAGES:
            assert _section(lang, path)["abort"].get(result["reason"]), (lang, result["reason"])


def _suggested(result: Any, key: str) -> Any:
    for marker in result["data_schema"].schema:
        if marker.schema == key:
            return (marker.description or {}).get("suggested_value")
    raise KeyError(key)


def _fields(result: Any) -> set[str]:
    return {str(marker.schema) for marker in result["data_schema"].schema}


# Fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
def mock_setup() -> Generator[AsyncMock]:
    """Flow tests do not run the integration itself; count its set-ups instead."""
    with (
        patch("custom_components.smartload.async_setup_entry", return_value=True) as setup,
        patch("custom_components.smartload.async_unload_entry", return_value=True),
    ):
        yield setup


@pytest.fixture(autouse=True)
def home_states(hass: HomeAssistant) -> None:
    """The real states the flows check for."""
    hass.states.async_set(PRICE, "0.2841", {"unit_of_measurement": "EUR/kWh"})
    hass.states.async_set(HOUSE, "430", {"unit_of_measurement": "W", "device_class": "power"})
    hass.states.async_set(PV, "18.4", {"unit_of_measurement": "kWh", "device_class": "energy"})
    hass.states.async_set(FEED_IN, "0.0811", {"unit_of_measurement": "EUR/kWh"})
    hass.states.async_set(
        BATTERY_SOC, "56", {"unit_of_measurement": "%", "device_class": "battery"}
    )
    hass.states.async_set(LP_MODE, "pv", {"options": ["off", "now", "minpv", "pv"]})
    hass.states.async_set(SMART_LIMIT, "0.25", {"min": -1, "max": 1, "step": 0.005})
    hass.states.async_set(GRID_CHARGE_LIMIT, "0.2", {"min": -1, "max": 1, "step": 0.005})
    hass.states.async_set(DISCHARGE_CONTROL, "off")
    hass.states.async_set(CAR_A_SOC, "42", {"unit_of_measurement": "%", "device_class": "battery"})
    hass.states.async_set(CAR_A_PLUGGED, "on", {"device_class": "plug"})
    hass.states.async_set(CAR_B_SOC, "67", {"unit_of_measurement": "%", "device_class": "battery"})
    hass.states.async_set(CAR_B_PLUGGED, "off")


async def _user(hass: HomeAssistant, data: dict[str, Any] | None = None) -> Any:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert_translated(result, CONFIG)
    if data is not None:
        result = await _configure(hass, result, data)
    return result


async def _configure(hass: HomeAssistant, result: Any, data: dict[str, Any]) -> Any:
    result = await hass.config_entries.flow.async_configure(result["flow_id"], data)
    assert_translated(result, CONFIG)
    return result


def _entry(
    hass: HomeAssistant,
    data: dict[str, Any] | None = None,
    *,
    unique_id: str | None = None,
    subentries: tuple[ConfigSubentryData, ...] = (),
) -> MockConfigEntry:
    data = dict(MINIMAL_DATA if data is None else data)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=data[CONF_NAME],
        data=data,
        options=DEFAULT_OPTIONS,
        unique_id=unique_id or f"{data[CONF_PRICE_ENTITY]}_{data[CONF_NAME].lower()}",
        subentries_data=subentries,
    )
    entry.add_to_hass(hass)
    return entry


def _car(name: str, soc: str, plugged: str) -> ConfigSubentryData:
    return ConfigSubentryData(
        data={
            CONF_NAME: name,
            CONF_VEHICLE_CAPACITY_KWH: 52.0,
            CONF_VEHICLE_SOC_ENTITY: soc,
            CONF_VEHICLE_PLUGGED_ENTITY: plugged,
            CONF_VEHICLE_MAX_CHARGE_KW: 22.0,
            CONF_VEHICLE_TARGET_SOC: 80.0,
            CONF_VEHICLE_DEPARTURE: "07:00:00",
            CONF_VEHICLE_PRIORITY: 3,
        },
        subentry_type=SUBENTRY_VEHICLE,
        title=name,
        unique_id=soc,
    )


# Main entry: happy paths ------------------------------------------------------------------------


async def test_minimal_entry(hass: HomeAssistant, mock_setup: AsyncMock) -> None:
    """Home and tariff only: no battery, no actuators; options get their defaults."""
    result = await _user(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}
    assert _suggested(result, CONF_FEED_IN_PRICE) == DEFAULT_FEED_IN_PRICE

    result = await _configure(hass, result, HOME_INPUT)
    assert result["step_id"] == "battery"
    result = await _configure(hass, result, {})
    assert result["step_id"] == "actuators"
    # Without a battery there is nothing to say about battery actuators.
    assert _fields(result) == {
        CONF_LOADPOINT_MODE_ENTITY,
        CONF_SMART_COST_LIMIT_ENTITY,
        *CHARGER_FIELDS,
    }
    result = await _configure(hass, result, {})

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Home"
    assert result["data"] == MINIMAL_DATA
    assert result["options"] == DEFAULT_OPTIONS
    entry = result["result"]
    assert entry.unique_id == f"{PRICE}_home"
    await hass.async_block_till_done()
    assert mock_setup.await_count == 1


async def test_entry_with_battery_and_actuators(hass: HomeAssistant, mock_setup: AsyncMock) -> None:
    """Feed-in from an entity, PV forecast, zero feed-in limit, battery, every actuator."""
    home = {
        **HOME_INPUT,
        CONF_NAME: "  Haus am See ",
        CONF_FEED_IN_MODE: FEED_IN_ENTITY,
        CONF_FEED_IN_ENTITY: FEED_IN,
        CONF_PV_FORECAST_ENTITY: PV,
        CONF_GRID_EXPORT_LIMIT_KW: 0,
    }
    result = await _user(hass, home)
    result = await _configure(hass, result, BATTERY_INPUT)
    assert result["step_id"] == "actuators"
    assert _fields(result) == set(ACTUATORS_INPUT) | CHARGER_FIELDS | {CONF_BATTERY_MIN_SOC_ENTITY}
    result = await _configure(hass, result, ACTUATORS_INPUT)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Haus am See"
    data = result["data"]
    assert data == {
        CONF_NAME: "Haus am See",
        CONF_PRICE_ENTITY: PRICE,
        CONF_FEED_IN_MODE: FEED_IN_ENTITY,
        CONF_FEED_IN_ENTITY: FEED_IN,  # the fixed price that was also in the form is dropped
        CONF_CONSUMPTION_ENTITY: HOUSE,
        CONF_PV_FORECAST_ENTITY: PV,
        CONF_GRID_IMPORT_LIMIT_KW: 17.0,
        CONF_GRID_EXPORT_LIMIT_KW: 0.0,
        CONF_WALLBOX_MAX_KW: 11.0,
        CONF_BATTERY_SOC_ENTITY: BATTERY_SOC,
        CONF_BATTERY_CAPACITY_KWH: 10.2,
        CONF_BATTERY_MAX_CHARGE_KW: 5.0,
        CONF_BATTERY_MAX_DISCHARGE_KW: 4.6,
        CONF_BATTERY_MIN_SOC: 10.0,
        CONF_BATTERY_MAX_SOC: 95.0,
        CONF_BATTERY_EFFICIENCY: 0.9,
        **ACTUATORS_INPUT,
    }
    assert all(type(data[k]) is float for k in BATTERY_INPUT if k != CONF_BATTERY_SOC_ENTITY)
    assert result["result"].unique_id == f"{PRICE}_haus_am_see"


async def test_battery_defaults_apply(hass: HomeAssistant, mock_setup: AsyncMock) -> None:
    """Min/max SoC and efficiency may be left at their defaults."""
    result = await _user(hass, HOME_INPUT)
    battery = {
        k: v
        for k, v in BATTERY_INPUT.items()
        if k not in (CONF_BATTERY_MIN_SOC, CONF_BATTERY_MAX_SOC, CONF_BATTERY_EFFICIENCY)
    }
    result = await _configure(hass, result, battery)
    result = await _configure(hass, result, {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_BATTERY_MIN_SOC] == 10.0
    assert result["data"][CONF_BATTERY_MAX_SOC] == 100.0
    assert result["data"][CONF_BATTERY_EFFICIENCY] == 0.9


# Main entry: validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "error"),
    [
        ({CONF_PRICE_ENTITY: MISSING}, CONF_PRICE_ENTITY, FlowError.ENTITY_NOT_FOUND),
        ({CONF_CONSUMPTION_ENTITY: MISSING}, CONF_CONSUMPTION_ENTITY, FlowError.ENTITY_NOT_FOUND),
        ({CONF_PV_FORECAST_ENTITY: MISSING}, CONF_PV_FORECAST_ENTITY, FlowError.ENTITY_NOT_FOUND),
        (
            {CONF_FEED_IN_MODE: FEED_IN_ENTITY, CONF_FEED_IN_ENTITY: MISSING},
            CONF_FEED_IN_ENTITY,
            FlowError.ENTITY_NOT_FOUND,
        ),
        ({CONF_NAME: "   "}, CONF_NAME, FlowError.NAME_EMPTY),
        ({CONF_FEED_IN_PRICE: None}, CONF_FEED_IN_PRICE, FlowError.FEED_IN_PRICE_MISSING),
        (
            {CONF_FEED_IN_MODE: FEED_IN_ENTITY},
            CONF_FEED_IN_ENTITY,
            FlowError.FEED_IN_ENTITY_MISSING,
        ),
        ({CONF_GRID_IMPORT_LIMIT_KW: 0}, CONF_GRID_IMPORT_LIMIT_KW, FlowError.LIMIT_NOT_POSITIVE),
        ({CONF_WALLBOX_MAX_KW: 0}, CONF_WALLBOX_MAX_KW, FlowError.LIMIT_NOT_POSITIVE),
    ],
)
async def test_home_errors(
    hass: HomeAssistant,
    mock_setup: AsyncMock,
    change: dict[str, Any],
    field: str,
    error: str,
) -> None:
    """Each bad home input is named in its field; fixing it lets the flow go on."""
    bad = {k: v for k, v in {**HOME_INPUT, **change}.items() if v is not None}
    result = await _user(hass, bad)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {field: error}
    # What was entered is offered again, not the defaults.
    assert _suggested(result, CONF_NAME) == bad[CONF_NAME]

    result = await _configure(hass, result, HOME_INPUT)
    assert result["step_id"] == "battery"


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        (
            {CONF_BATTERY_SOC_ENTITY: None},
            {CONF_BATTERY_SOC_ENTITY: FlowError.BATTERY_SOC_ENTITY_MISSING},
        ),
        (
            {CONF_BATTERY_SOC_ENTITY: None, CONF_BATTERY_CAPACITY_KWH: None},
            {CONF_BATTERY_SOC_ENTITY: FlowError.BATTERY_SOC_ENTITY_MISSING},
        ),
        ({CONF_BATTERY_SOC_ENTITY: MISSING}, {CONF_BATTERY_SOC_ENTITY: FlowError.ENTITY_NOT_FOUND}),
        (
            {CONF_BATTERY_CAPACITY_KWH: None, CONF_BATTERY_MAX_DISCHARGE_KW: None},
            {
                CONF_BATTERY_CAPACITY_KWH: FlowError.BATTERY_VALUE_MISSING,
                CONF_BATTERY_MAX_DISCHARGE_KW: FlowError.BATTERY_VALUE_MISSING,
            },
        ),
        (
            {CONF_BATTERY_CAPACITY_KWH: 0},
            {CONF_BATTERY_CAPACITY_KWH: FlowError.CAPACITY_NOT_POSITIVE},
        ),
        (
            {CONF_BATTERY_MAX_CHARGE_KW: 0},
            {CONF_BATTERY_MAX_CHARGE_KW: FlowError.POWER_NOT_POSITIVE},
        ),
        (
            {CONF_BATTERY_MAX_DISCHARGE_KW: 0},
            {CONF_BATTERY_MAX_DISCHARGE_KW: FlowError.POWER_NOT_POSITIVE},
        ),
        (
            {CONF_BATTERY_MIN_SOC: 50, CONF_BATTERY_MAX_SOC: 50},
            {CONF_BATTERY_MIN_SOC: FlowError.MIN_SOC_NOT_BELOW_MAX},
        ),
        (
            {CONF_BATTERY_MIN_SOC: 90, CONF_BATTERY_MAX_SOC: 80},
            {CONF_BATTERY_MIN_SOC: FlowError.MIN_SOC_NOT_BELOW_MAX},
        ),
        (
            {CONF_BATTERY_EFFICIENCY: 0},
            {CONF_BATTERY_EFFICIENCY: FlowError.EFFICIENCY_OUT_OF_RANGE},
        ),
    ],
)
async def test_battery_errors(
    hass: HomeAssistant,
    mock_setup: AsyncMock,
    change: dict[str, Any],
    errors: dict[str, str],
) -> None:
    """Each inconsistent battery is refused in its field; fixing it lets the flow go on."""
    result = await _user(hass, HOME_INPUT)
    bad = {k: v for k, v in {**BATTERY_INPUT, **change}.items() if v is not None}
    result = await _configure(hass, result, bad)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "battery"
    assert result["errors"] == errors

    result = await _configure(hass, result, BATTERY_INPUT)
    assert result["step_id"] == "actuators"


@pytest.mark.parametrize(
    ("step", "data"),
    [
        ("battery", {**BATTERY_INPUT, CONF_BATTERY_EFFICIENCY: 1.2}),
        ("battery", {**BATTERY_INPUT, CONF_BATTERY_CAPACITY_KWH: -5}),
        ("battery", {**BATTERY_INPUT, CONF_BATTERY_MAX_SOC: 120}),
        ("user", {**HOME_INPUT, CONF_FEED_IN_MODE: "negotiated"}),
        ("user", {**HOME_INPUT, CONF_GRID_IMPORT_LIMIT_KW: -1}),
    ],
)
async def test_out_of_range_refused_by_selector(
    hass: HomeAssistant, mock_setup: AsyncMock, step: str, data: dict[str, Any]
) -> None:
    """Values the selectors' bounds exclude never reach the entry."""
    result = await _user(hass)
    if step == "battery":
        result = await _configure(hass, result, HOME_INPUT)
    with pytest.raises(InvalidData):
        await hass.config_entries.flow.async_configure(result["flow_id"], data)


@pytest.mark.parametrize("field", list(ACTUATORS_INPUT))
async def test_actuator_must_exist(hass: HomeAssistant, mock_setup: AsyncMock, field: str) -> None:
    """An actuator that is not in the state machine is refused."""
    result = await _user(hass, HOME_INPUT)
    result = await _configure(hass, result, BATTERY_INPUT)
    domain_of = {
        CONF_LOADPOINT_MODE_ENTITY: "select",
        CONF_SMART_COST_LIMIT_ENTITY: "number",
        CONF_BATTERY_GRID_CHARGE_LIMIT_ENTITY: "number",
        CONF_BATTERY_DISCHARGE_CONTROL_ENTITY: "switch",
    }
    missing = f"{domain_of[field]}.gone"
    result = await _configure(hass, result, {**ACTUATORS_INPUT, field: missing})
    assert result["step_id"] == "actuators"
    assert result["errors"] == {field: FlowError.ENTITY_NOT_FOUND}
    result = await _configure(hass, result, ACTUATORS_INPUT)
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize(
    ("field", "entity_id"),
    [
        (CONF_LOADPOINT_MODE_ENTITY, DISCHARGE_CONTROL),  # a switch cannot take a mode
        (CONF_SMART_COST_LIMIT_ENTITY, HOUSE),  # a sensor cannot be set
    ],
)
async def test_actuator_wrong_domain(
    hass: HomeAssistant, mock_setup: AsyncMock, field: str, entity_id: str
) -> None:
    """An existing entity of a domain SmartLoad cannot drive there is refused."""
    result = await _user(hass, HOME_INPUT)
    result = await _configure(hass, result, {})
    result = await _configure(hass, result, {field: entity_id})
    assert result["errors"] == {field: FlowError.WRONG_DOMAIN}


@pytest.mark.parametrize(("unit", "ok"), [("kWh", True), ("kW", True), ("A", False), ("%", False)])
async def test_consumption_unit(
    hass: HomeAssistant, mock_setup: AsyncMock, unit: str, ok: bool
) -> None:
    """House consumption is power or energy; another unit means the wrong sensor was picked."""
    hass.states.async_set(HOUSE, "1234.5", {"unit_of_measurement": unit})
    result = await _user(hass, HOME_INPUT)
    if ok:
        assert result["step_id"] == "battery"
    else:
        assert result["errors"] == {CONF_CONSUMPTION_ENTITY: FlowError.UNSUPPORTED_UNIT}


@pytest.mark.parametrize(
    ("unit", "ok"), [("W", True), ("kW", True), ("kWh", False), ("A", False), (None, False)]
)
async def test_pv_power_entity(
    hass: HomeAssistant, mock_setup: AsyncMock, unit: str | None, ok: bool
) -> None:
    """The optional PV power is stored when it is a power sensor; another unit is refused."""
    attributes = {"unit_of_measurement": unit} if unit else {}
    hass.states.async_set(PV_POWER, "3120", attributes)
    result = await _user(hass)
    assert CONF_PV_POWER_ENTITY in _fields(result)
    result = await _configure(hass, result, {**HOME_INPUT, CONF_PV_POWER_ENTITY: PV_POWER})
    if not ok:
        assert result["errors"] == {CONF_PV_POWER_ENTITY: FlowError.UNSUPPORTED_UNIT}
        return
    assert result["step_id"] == "battery"
    result = await _configure(hass, result, {})
    result = await _configure(hass, result, {})
    assert result["data"] == {**MINIMAL_DATA, CONF_PV_POWER_ENTITY: PV_POWER}


@pytest.mark.parametrize(("unit", "ok"), [("W", True), ("kWh", True), ("A", False), (None, False)])
async def test_controlled_load_entity(
    hass: HomeAssistant, mock_setup: AsyncMock, unit: str | None, ok: bool
) -> None:
    """The optional wallbox power in the consumption: power or energy with a unit."""
    attributes = {"unit_of_measurement": unit} if unit else {}
    hass.states.async_set("sensor.wallbox_power", "0", attributes)
    result = await _user(hass)
    assert CONF_CONTROLLED_LOAD_ENTITY in _fields(result)
    result = await _configure(
        hass, result, {**HOME_INPUT, CONF_CONTROLLED_LOAD_ENTITY: "sensor.wallbox_power"}
    )
    if not ok:
        assert result["errors"] == {CONF_CONTROLLED_LOAD_ENTITY: FlowError.UNSUPPORTED_UNIT}
        return
    result = await _configure(hass, result, {})
    result = await _configure(hass, result, {})
    assert result["data"] == {**MINIMAL_DATA, CONF_CONTROLLED_LOAD_ENTITY: "sensor.wallbox_power"}


async def test_pv_power_entity_missing(hass: HomeAssistant, mock_setup: AsyncMock) -> None:
    """A PV power entity that does not exist is refused."""
    result = await _user(hass, {**HOME_INPUT, CONF_PV_POWER_ENTITY: MISSING})
    assert result["errors"] == {CONF_PV_POWER_ENTITY: FlowError.ENTITY_NOT_FOUND}


async def test_reconfigure_adds_pv_power(hass: HomeAssistant, mock_setup: AsyncMock) -> None:
    """Reconfigure offers the PV power and stores it."""
    hass.states.async_set(PV_POWER, "0", {"unit_of_measurement": "kW"})
    entry = _entry(hass, MINIMAL_DATA)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    result = await _reconfigure(hass, entry)
    assert CONF_PV_POWER_ENTITY in _fields(result)
    result = await _configure(hass, result, {**HOME_INPUT, CONF_PV_POWER_ENTITY: PV_POWER})
    result = await _configure(hass, result, {})
    result = await _configure(hass, result, {})
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_PV_POWER_ENTITY] == PV_POWER


async def test_battery_soc_unit(hass: HomeAssistant, mock_setup: AsyncMock) -> None:
    """A battery's energy (kWh) is not its state of charge (%)."""
    hass.states.async_set(BATTERY_SOC, "5.2", {"unit_of_measurement": "kWh"})
    result = await _user(hass, HOME_INPUT)
    result = await _configure(hass, result, BATTERY_INPUT)
    assert result["errors"] == {CONF_BATTERY_SOC_ENTITY: FlowError.UNSUPPORTED_UNIT}


async def test_fixed_tariff_ignores_feed_in_entity(
    hass: HomeAssistant, mock_setup: AsyncMock
) -> None:
    """An entity left in the form under a fixed tariff is neither checked nor stored."""
    result = await _user(hass, {**HOME_INPUT, CONF_FEED_IN_ENTITY: "sensor.old_tariff"})
    assert result["step_id"] == "battery"
    result = await _configure(hass, result, {})
    result = await _configure(hass, result, {})
    assert result["data"] == MINIMAL_DATA


async def test_home_wrong_domain(hass: HomeAssistant, mock_setup: AsyncMock) -> None:
    """The price forecast must be a sensor."""
    result = await _user(hass, {**HOME_INPUT, CONF_PRICE_ENTITY: LP_MODE})
    assert result["errors"] == {CONF_PRICE_ENTITY: FlowError.WRONG_DOMAIN}


# Main entry: duplicates -------------------------------------------------------------------------


async def test_duplicate_aborts(hass: HomeAssistant, mock_setup: AsyncMock) -> None:
    """Same price entity and name as an existing home: abort already_configured."""
    _entry(hass, unique_id=f"{PRICE}_home")
    result = await _user(hass, {**HOME_INPUT, CONF_NAME: "HOME"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_same_price_other_name_allowed(hass: HomeAssistant, mock_setup: AsyncMock) -> None:
    """A second home on the same price sensor is fine under another name."""
    _entry(hass, unique_id=f"{PRICE}_home")
    result = await _user(hass, {**HOME_INPUT, CONF_NAME: "Ferienhaus"})
    result = await _configure(hass, result, {})
    result = await _configure(hass, result, {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert len(hass.config_entries.async_entries(DOMAIN)) == 2


# Reconfigure -------------------------------------------------------------------------------------


async def _reconfigure(hass: HomeAssistant, entry: ConfigEntry) -> Any:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "reconfigure", "entry_id": entry.entry_id}
    )
    assert_translated(result, CONFIG)
    return result


async def test_reconfigure(hass: HomeAssistant, mock_setup: AsyncMock) -> None:
    """Prefilled forms; the battery is removed, with its actuators; the entry reloads."""
    battery = {k: v if isinstance(v, str) else float(v) for k, v in BATTERY_INPUT.items()}
    data = {**MINIMAL_DATA, **battery, **ACTUATORS_INPUT}
    entry = _entry(hass, data)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert mock_setup.await_count == 1

    result = await _reconfigure(hass, entry)
    assert result["step_id"] == "reconfigure"
    assert _suggested(result, CONF_PRICE_ENTITY) == PRICE
    assert _suggested(result, CONF_GRID_IMPORT_LIMIT_KW) == 17.0

    result = await _configure(
        hass, result, {**HOME_INPUT, CONF_NAME: "Zuhause", CONF_GRID_IMPORT_LIMIT_KW: 24}
    )
    assert result["step_id"] == "battery"
    assert _suggested(result, CONF_BATTERY_CAPACITY_KWH) == 10.2
    result = await _configure(hass, result, {})  # the battery was sold
    assert result["step_id"] == "actuators"
    assert _fields(result) == {
        CONF_LOADPOINT_MODE_ENTITY,
        CONF_SMART_COST_LIMIT_ENTITY,
        *CHARGER_FIELDS,
    }
    assert _suggested(result, CONF_LOADPOINT_MODE_ENTITY) == LP_MODE
    result = await _configure(hass, result, {CONF_LOADPOINT_MODE_ENTITY: LP_MODE})

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert dict(entry.data) == {
        **MINIMAL_DATA,
        CONF_NAME: "Zuhause",
        CONF_GRID_IMPORT_LIMIT_KW: 24.0,
        CONF_LOADPOINT_MODE_ENTITY: LP_MODE,
    }
    assert entry.title == "Zuhause"
    assert entry.unique_id == f"{PRICE}_zuhause"
    assert dict(entry.options) == DEFAULT_OPTIONS
    await hass.async_block_till_done()
    assert mock_setup.await_count == 2  # reloaded


async def test_reconfigure_leaves_reload_to_update_listener(
    hass: HomeAssistant, mock_setup: AsyncMock
) -> None:
    """When the integration reloads itself on updates, the flow does not reload a second time."""
    entry = _entry(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    listener = AsyncMock()
    entry.async_on_unload(entry.add_update_listener(listener))

    result = await _reconfigure(hass, entry)
    result = await _configure(hass, result, {**HOME_INPUT, CONF_WALLBOX_MAX_KW: 22})
    result = await _configure(hass, result, {})
    result = await _configure(hass, result, {})
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_WALLBOX_MAX_KW] == 22.0
    assert listener.await_count == 1
    assert mock_setup.await_count == 1


async def test_reconfigure_validates(hass: HomeAssistant, mock_setup: AsyncMock) -> None:
    """The reconfigure forms refuse what the set-up forms refuse."""
    entry = _entry(hass)
    result = await _reconfigure(hass, entry)
    result = await _configure(hass, result, {**HOME_INPUT, CONF_WALLBOX_MAX_KW: 0})
    assert result["step_id"] == "reconfigure"
    assert result["errors"] == {CONF_WALLBOX_MAX_KW: FlowError.LIMIT_NOT_POSITIVE}
    result = await _configure(hass, result, HOME_INPUT)
    result = await _configure(hass, result, {**BATTERY_INPUT, CONF_BATTERY_MIN_SOC: 100})
    assert result["errors"] == {CONF_BATTERY_MIN_SOC: FlowError.MIN_SOC_NOT_BELOW_MAX}
    assert dict(entry.data) == MINIMAL_DATA


async def test_reconfigure_onto_other_home_aborts(
    hass: HomeAssistant, mock_setup: AsyncMock
) -> None:
    """Renaming a home to another home's price entity and name is a duplicate."""
    _entry(hass, {**MINIMAL_DATA, CONF_NAME: "Ferienhaus"})
    entry = _entry(hass)
    result = await _reconfigure(hass, entry)
    result = await _configure(hass, result, {**HOME_INPUT, CONF_NAME: "Ferienhaus"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_NAME] == "Home"


# Options ------------------------------------------------------------------------------------------


async def _options(hass: HomeAssistant, entry: ConfigEntry, data: dict[str, Any] | None) -> Any:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert_translated(result, OPTIONS)
    if data is not None:
        result = await hass.config_entries.options.async_configure(result["flow_id"], data)
        assert_translated(result, OPTIONS)
    return result


async def test_options(hass: HomeAssistant, mock_setup: AsyncMock) -> None:
    """Horizon, cycle and automation are stored with their types; the entry reloads."""
    entry = _entry(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    result = await _options(hass, entry, None)
    assert result["step_id"] == "init"
    assert _suggested(result, CONF_HORIZON_HOURS) == "48"
    assert _suggested(result, CONF_CYCLE_MINUTES) == 15
    assert _suggested(result, CONF_AUTOMATION) is True

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_HORIZON_HOURS: "24",
            CONF_CYCLE_MINUTES: 30,
            CONF_AUTOMATION: False,
            CONF_LOAD_MODEL: "profile",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert dict(entry.options) == {
        CONF_HORIZON_HOURS: 24,
        CONF_CYCLE_MINUTES: 30,
        CONF_AUTOMATION: False,
        CONF_LOAD_MODEL: "profile",
    }
    assert type(entry.options[CONF_HORIZON_HOURS]) is int
    assert type(entry.options[CONF_CYCLE_MINUTES]) is int
    await hass.async_block_till_done()
    assert mock_setup.await_count == 2  # reloaded with the new options

    result = await _options(hass, entry, None)
    assert _suggested(result, CONF_HORIZON_HOURS) == "24"


async def test_options_with_update_listener(hass: HomeAssistant, mock_setup: AsyncMock) -> None:
    """With the integration's own update listener, the options flow leaves the reload to it."""
    entry = _entry(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    listener = AsyncMock()
    entry.async_on_unload(entry.add_update_listener(listener))
    result = await _options(
        hass, entry, {CONF_HORIZON_HOURS: "36", CONF_CYCLE_MINUTES: 15, CONF_AUTOMATION: True}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options[CONF_HORIZON_HOURS] == 36
    assert listener.await_count == 1
    assert mock_setup.await_count == 1


@pytest.mark.parametrize(
    "data",
    [
        {CONF_HORIZON_HOURS: "12", CONF_CYCLE_MINUTES: 15, CONF_AUTOMATION: True},
        {CONF_HORIZON_HOURS: "48", CONF_CYCLE_MINUTES: 4, CONF_AUTOMATION: True},
        {CONF_HORIZON_HOURS: "48", CONF_CYCLE_MINUTES: 61, CONF_AUTOMATION: True},
    ],
)
async def test_options_out_of_range(
    hass: HomeAssistant, mock_setup: AsyncMock, data: dict[str, Any]
) -> None:
    """Horizons other than 24/36/48 h and cycles outside 5–60 min are refused."""
    entry = _entry(hass)
    result = await _options(hass, entry, None)
    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(result["flow_id"], data)
    assert dict(entry.options) == DEFAULT_OPTIONS


async def test_options_spot_tariff(hass: HomeAssistant, mock_setup: AsyncMock) -> None:
    """Raw spot prices: the surcharge and VAT are stored with the switch; off removes them."""
    entry = _entry(hass)
    base = {CONF_HORIZON_HOURS: "48", CONF_CYCLE_MINUTES: 15, CONF_AUTOMATION: True}
    result = await _options(hass, entry, None)
    assert _suggested(result, CONF_SPOT_PRICES) is False
    result = await _options(
        hass,
        entry,
        {**base, CONF_SPOT_PRICES: True, CONF_SPOT_SURCHARGE: 0.1786, CONF_SPOT_VAT: 19},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert dict(entry.options) == {
        **DEFAULT_OPTIONS,
        CONF_SPOT_PRICES: True,
        CONF_SPOT_SURCHARGE: 0.1786,
        CONF_SPOT_VAT: 19.0,
    }
    result = await _options(hass, entry, None)
    assert _suggested(result, CONF_SPOT_PRICES) is True
    assert _suggested(result, CONF_SPOT_SURCHARGE) == 0.1786
    assert _suggested(result, CONF_SPOT_VAT) == 19.0

    result = await _options(
        hass,
        entry,
        {**base, CONF_SPOT_PRICES: False, CONF_SPOT_SURCHARGE: 0.1786, CONF_SPOT_VAT: 19},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert dict(entry.options) == DEFAULT_OPTIONS


@pytest.mark.parametrize(
    ("surcharge", "vat", "errors"),
    [
        (0.18, 100, {CONF_SPOT_VAT: "vat_out_of_range"}),
        (0.18, -1, {CONF_SPOT_VAT: "vat_out_of_range"}),
        (float("nan"), 19, {CONF_SPOT_SURCHARGE: "surcharge_not_finite"}),
        (
            float("inf"),
            float("nan"),
            {CONF_SPOT_SURCHARGE: "surcharge_not_finite", CONF_SPOT_VAT: "vat_out_of_range"},
        ),
    ],
)
async def test_options_spot_tariff_errors(
    hass: HomeAssistant,
    mock_setup: AsyncMock,
    surcharge: float,
    vat: float,
    errors: dict[str, str],
) -> None:
    """VAT outside 0–100 % and a surcharge that is not a finite number: translated errors."""
    entry = _entry(hass)
    data = {
        CONF_HORIZON_HOURS: "48",
        CONF_CYCLE_MINUTES: 15,
        CONF_AUTOMATION: True,
        CONF_SPOT_PRICES: True,
        CONF_SPOT_SURCHARGE: surcharge,
        CONF_SPOT_VAT: vat,
    }
    result = await _options(hass, entry, data)  # its errors are checked against en and de
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert dict(entry.options) == DEFAULT_OPTIONS


# Vehicles ---------------------------------------------------------------------------------------


async def _add_vehicle(hass: HomeAssistant, entry: ConfigEntry, data: dict[str, Any]) -> Any:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_VEHICLE), context={"source": SOURCE_USER}
    )
    assert_translated(result, VEHICLE)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return await _configure_vehicle(hass, result, data)


async def _configure_vehicle(hass: HomeAssistant, result: Any, data: dict[str, Any]) -> Any:
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], data)
    assert_translated(result, VEHICLE)
    return result


async def test_add_vehicle(hass: HomeAssistant, mock_setup: AsyncMock) -> None:
    """A car becomes a subentry keyed by its SoC entity, its values typed."""
    entry = _entry(hass)
    result = await _add_vehicle(hass, entry, VEHICLE_INPUT)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (car,) = entry.get_subentries_of_type(SUBENTRY_VEHICLE)
    assert car.title == "ID.4"
    assert car.unique_id == CAR_A_SOC
    assert dict(car.data) == {
        CONF_NAME: "ID.4",
        CONF_VEHICLE_CAPACITY_KWH: 77.0,
        CONF_VEHICLE_SOC_ENTITY: CAR_A_SOC,
        CONF_VEHICLE_PLUGGED_ENTITY: CAR_A_PLUGGED,
        CONF_VEHICLE_MAX_CHARGE_KW: 11.0,
        CONF_VEHICLE_TARGET_SOC: 80.0,
        CONF_VEHICLE_DEPARTURE: "07:30:00",
        CONF_VEHICLE_PRIORITY: 2,
        CONF_VEHICLE_DAILY_USE_KWH: 12.5,
        CONF_VEHICLE_STALE_AFTER_MIN: 30,  # the default; no optional SoC entities
    }
    assert type(car.data[CONF_VEHICLE_PRIORITY]) is int


async def test_add_vehicle_defaults(hass: HomeAssistant, mock_setup: AsyncMock) -> None:
    """Target, departure and priority have defaults; a plug may be an input_boolean."""
    entry = _entry(hass)
    data = {
        k: v
        for k, v in VEHICLE_INPUT.items()
        if k
        not in (
            CONF_VEHICLE_TARGET_SOC,
            CONF_VEHICLE_DEPARTURE,
            CONF_VEHICLE_PRIORITY,
            CONF_VEHICLE_DAILY_USE_KWH,
        )
    }
    data |= {CONF_NAME: "Zoe", CONF_VEHICLE_SOC_ENTITY: CAR_B_SOC}
    data[CONF_VEHICLE_PLUGGED_ENTITY] = CAR_B_PLUGGED
    result = await _add_vehicle(hass, entry, data)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (car,) = entry.get_subentries_of_type(SUBENTRY_VEHICLE)
    assert car.data[CONF_VEHICLE_TARGET_SOC] == 80.0
    assert car.data[CONF_VEHICLE_DEPARTURE] == "07:00:00"
    assert car.data[CONF_VEHICLE_PRIORITY] == 3
    assert car.data[CONF_VEHICLE_DAILY_USE_KWH] == DEFAULT_VEHICLE_DAILY_USE_KWH


@pytest.mark.parametrize(
    ("change", "field", "error"),
    [
        ({CONF_NAME: " "}, CONF_NAME, FlowError.NAME_EMPTY),
        (
            {CONF_VEHICLE_CAPACITY_KWH: 0},
            CONF_VEHICLE_CAPACITY_KWH,
            FlowError.CAPACITY_NOT_POSITIVE,
        ),
        ({CONF_VEHICLE_MAX_CHARGE_KW: 0}, CONF_VEHICLE_MAX_CHARGE_KW, FlowError.POWER_NOT_POSITIVE),
        ({CONF_VEHICLE_TARGET_SOC: 0}, CONF_VEHICLE_TARGET_SOC, FlowError.TARGET_SOC_OUT_OF_RANGE),
        (
            {CONF_VEHICLE_TARGET_SOC: 0.5},
            CONF_VEHICLE_TARGET_SOC,
            FlowError.TARGET_SOC_OUT_OF_RANGE,
        ),
        ({CONF_VEHICLE_SOC_ENTITY: MISSING}, CONF_VEHICLE_SOC_ENTITY, FlowError.ENTITY_NOT_FOUND),
        (
            {CONF_VEHICLE_PLUGGED_ENTITY: LP_MODE},
            CONF_VEHICLE_PLUGGED_ENTITY,
            FlowError.WRONG_DOMAIN,
        ),
        (
            {CONF_VEHICLE_PLUGGED_ENTITY: "binary_sensor.gone"},
            CONF_VEHICLE_PLUGGED_ENTITY,
            FlowError.ENTITY_NOT_FOUND,
        ),
    ],
)
async def test_vehicle_errors(
    hass: HomeAssistant,
    mock_setup: AsyncMock,
    change: dict[str, Any],
    field: str,
    error: str,
) -> None:
    """Each bad car value is named in its field; fixing it adds the car."""
    entry = _entry(hass)
    result = await _add_vehicle(hass, entry, {**VEHICLE_INPUT, **change})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {field: error}
    assert not entry.subentries
    result = await _configure_vehicle(hass, result, VEHICLE_INPUT)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert len(entry.subentries) == 1


async def test_vehicle_soc_unit(hass: HomeAssistant, mock_setup: AsyncMock) -> None:
    """A car's range (km) is not its state of charge."""
    hass.states.async_set(CAR_A_SOC, "312", {"unit_of_measurement": "km"})
    entry = _entry(hass)
    result = await _add_vehicle(hass, entry, VEHICLE_INPUT)
    assert result["errors"] == {CONF_VEHICLE_SOC_ENTITY: FlowError.UNSUPPORTED_UNIT}


@pytest.mark.parametrize(
    "data",
    [
        {**VEHICLE_INPUT, CONF_VEHICLE_TARGET_SOC: 101},
        {**VEHICLE_INPUT, CONF_VEHICLE_PRIORITY: 6},
        {**VEHICLE_INPUT, CONF_VEHICLE_DEPARTURE: "25:00"},
    ],
)
async def test_vehicle_out_of_range_refused_by_selector(
    hass: HomeAssistant, mock_setup: AsyncMock, data: dict[str, Any]
) -> None:
    """Targets above 100 %, priorities outside 1–5 and impossible times never get stored."""
    entry = _entry(hass)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_VEHICLE), context={"source": SOURCE_USER}
    )
    with pytest.raises(InvalidData):
        await hass.config_entries.subentries.async_configure(result["flow_id"], data)
    assert not entry.subentries


@pytest.mark.parametrize(
    "change",
    [
        {CONF_NAME: "Zoe 2"},  # same SoC entity under another name
        {CONF_NAME: "zoe", CONF_VEHICLE_SOC_ENTITY: CAR_A_SOC},  # same name, other SoC entity
    ],
)
async def test_duplicate_vehicle_aborts(
    hass: HomeAssistant, mock_setup: AsyncMock, change: dict[str, Any]
) -> None:
    """A car is unique per SoC entity and per name within its home."""
    entry = _entry(hass, subentries=(_car("Zoe", CAR_B_SOC, CAR_B_PLUGGED),))
    data = {**VEHICLE_INPUT, CONF_VEHICLE_SOC_ENTITY: CAR_B_SOC, **change}
    result = await _add_vehicle(hass, entry, data)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert len(entry.subentries) == 1


async def test_duplicate_vehicle_without_unique_id_aborts(
    hass: HomeAssistant, mock_setup: AsyncMock
) -> None:
    """A car stored without a unique id is still matched by its SoC entity."""
    car = _car("Zoe", CAR_B_SOC, CAR_B_PLUGGED)
    car["unique_id"] = None
    entry = _entry(hass, subentries=(car,))
    data = {**VEHICLE_INPUT, CONF_NAME: "Other", CONF_VEHICLE_SOC_ENTITY: CAR_B_SOC}
    result = await _add_vehicle(hass, entry, data)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reconfigure_vehicle(hass: HomeAssistant, mock_setup: AsyncMock) -> None:
    """Edit a car: prefilled form, validated, stored; the entry reloads."""
    entry = _entry(hass, subentries=(_car("Zoe", CAR_B_SOC, CAR_B_PLUGGED),))
    assert await hass.config_entries.async_setup(entry.entry_id)
    (car,) = entry.subentries.values()

    result = await entry.start_subentry_reconfigure_flow(hass, car.subentry_id)
    assert_translated(result, VEHICLE)
    assert result["step_id"] == "reconfigure"
    assert _suggested(result, CONF_VEHICLE_SOC_ENTITY) == CAR_B_SOC
    assert _suggested(result, CONF_VEHICLE_DEPARTURE) == "07:00:00"

    edited = {**dict(car.data), CONF_VEHICLE_TARGET_SOC: 0}
    result = await _configure_vehicle(hass, result, edited)
    assert result["errors"] == {CONF_VEHICLE_TARGET_SOC: FlowError.TARGET_SOC_OUT_OF_RANGE}

    edited = {
        **dict(car.data),
        CONF_NAME: "Renault Zoe",
        CONF_VEHICLE_TARGET_SOC: 90,
        CONF_VEHICLE_DEPARTURE: "06:15",
    }
    result = await _configure_vehicle(hass, result, edited)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    car = entry.subentries[car.subentry_id]
    assert car.title == "Renault Zoe"
    assert car.unique_id == CAR_B_SOC
    assert car.data[CONF_VEHICLE_TARGET_SOC] == 90.0
    assert car.data[CONF_VEHICLE_DEPARTURE] == "06:15:00"
    await hass.async_block_till_done()
    assert mock_setup.await_count == 2  # reloaded


async def test_reconfigure_vehicle_onto_other_car_aborts(
    hass: HomeAssistant, mock_setup: AsyncMock
) -> None:
    """Editing a car to use another car's SoC entity is a duplicate; the car is unchanged."""
    entry = _entry(
        hass,
        subentries=(
            _car("Zoe", CAR_B_SOC, CAR_B_PLUGGED),
            _car("ID.4", CAR_A_SOC, CAR_A_PLUGGED),
        ),
    )
    zoe = next(s for s in entry.subentries.values() if s.title == "Zoe")
    result = await entry.start_subentry_reconfigure_flow(hass, zoe.subentry_id)
    result = await _configure_vehicle(
        hass, result, {**dict(zoe.data), CONF_VEHICLE_SOC_ENTITY: CAR_A_SOC}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.subentries[zoe.subentry_id].data[CONF_VEHICLE_SOC_ENTITY] == CAR_B_SOC


# Translations, walked from the schemas ----------------------------------------------------------

SCHEMAS: list[tuple[tuple[str, ...], str, Callable[[], vol.Schema]]] = [
    (CONFIG, "user", lambda: home_schema("EUR")),
    (CONFIG, "reconfigure", lambda: home_schema("EUR")),
    (CONFIG, "battery", battery_schema),
    (CONFIG, "actuators", lambda: actuators_schema(with_battery=True)),
    (OPTIONS, "init", options_schema),
    (VEHICLE, "user", vehicle_schema),
    (VEHICLE, "reconfigure", vehicle_schema),
]


@pytest.mark.parametrize(("path", "step_id", "schema"), SCHEMAS)
def test_every_field_translated(
    path: tuple[str, ...], step_id: str, schema: Callable[[], vol.Schema]
) -> None:
    """Each form's title, description, fields and select options exist in en and de."""
    assert_schema_translated(path, step_id, schema())


def test_every_error_and_abort_translated() -> None:
    """Every error key the flows can show, and every abort reason they use, in en and de."""
    for lang in LANGUAGES:
        config = _section(lang, CONFIG)
        vehicle = _section(lang, VEHICLE)
        assert {str(e) for e in MAIN_ERRORS} <= set(config["error"]), lang
        assert {str(e) for e in VEHICLE_ERRORS} <= set(vehicle["error"]), lang
        assert {"already_configured", "already_in_progress"} <= set(config["abort"]), lang
        assert "already_configured" in vehicle["abort"], lang
        assert vehicle["entry_type"], lang
        assert vehicle["initiate_flow"]["user"], lang
        assert vehicle["initiate_flow"]["reconfigure"], lang
    assert set(FlowError) == MAIN_ERRORS | VEHICLE_ERRORS


def test_languages_have_the_same_keys() -> None:
    """de translates exactly what en has in the flow sections (no key only in one of them)."""

    def keys(node: Any, prefix: str = "") -> set[str]:
        if not isinstance(node, dict):
            return {prefix}
        return set().union(*(keys(v, f"{prefix}.{k}") for k, v in node.items())) or {prefix}

    for section in ("config", "options", "config_subentries"):
        assert keys(TRANSLATIONS["en"][section]) == keys(TRANSLATIONS["de"][section]), section
    for selector in ("feed_in_mode", "horizon_hours"):
        assert keys(TRANSLATIONS["en"]["selector"][selector]) == keys(
            TRANSLATIONS["de"]["selector"][selector]
        )


# End to end: what the flows store is what the integration runs on ----------------------------


async def test_flows_set_up_the_real_integration(hass: HomeAssistant, home: None) -> None:
    """UI set-up of the shared test home (tests/conftest.py), then a car: both load for real."""
    result = await _user(
        hass,
        {
            **HOME_INPUT,
            CONF_PRICE_ENTITY: conftest.PRICE,
            CONF_CONSUMPTION_ENTITY: conftest.HOUSE,
            CONF_PV_FORECAST_ENTITY: conftest.PV,
        },
    )
    result = await _configure(
        hass, result, {**BATTERY_INPUT, CONF_BATTERY_SOC_ENTITY: conftest.BATTERY_SOC}
    )
    result = await _configure(
        hass,
        result,
        {
            CONF_LOADPOINT_MODE_ENTITY: conftest.MODE,
            CONF_SMART_COST_LIMIT_ENTITY: conftest.COST_LIMIT,
            CONF_BATTERY_GRID_CHARGE_LIMIT_ENTITY: conftest.GRID_LIMIT,
            CONF_BATTERY_DISCHARGE_CONTROL_ENTITY: conftest.DISCHARGE,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    result = await _add_vehicle(
        hass,
        entry,
        {
            **VEHICLE_INPUT,
            CONF_VEHICLE_SOC_ENTITY: conftest.CAR_SOC,
            CONF_VEHICLE_PLUGGED_ENTITY: conftest.CAR_PLUGGED,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    (car,) = entry.subentries.values()
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, car.subentry_id), entry.entry_id
    )
    assert device is not None  # the new car was picked up (the entry reloaded)
    assert device.name == "ID.4"

    # Options through the integration's own update listener: a new horizon reloads the entry,
    # automation on/off alone does not (the switch and the coordinator read it live).
    coordinator = entry.runtime_data.coordinator
    result = await _options(
        hass, entry, {CONF_HORIZON_HOURS: "24", CONF_CYCLE_MINUTES: 15, CONF_AUTOMATION: True}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.coordinator is not coordinator
    coordinator = entry.runtime_data.coordinator
    result = await _options(
        hass, entry, {CONF_HORIZON_HOURS: "24", CONF_CYCLE_MINUTES: 15, CONF_AUTOMATION: False}
    )
    await hass.async_block_till_done()
    assert entry.runtime_data.coordinator is coordinator
    assert entry.options[CONF_AUTOMATION] is False

    # Reconfigure through the same listener: the new wallbox limit is set up.
    result = await _reconfigure(hass, entry)
    assert _suggested(result, CONF_PRICE_ENTITY) == conftest.PRICE
    data = dict(entry.data)
    result = await _configure(
        hass,
        result,
        {**{k: data[k] for k in _fields(result) if k in data}, CONF_WALLBOX_MAX_KW: 7.4},
    )
    result = await _configure(hass, result, {k: data[k] for k in BATTERY_INPUT})
    result = await _configure(hass, result, {k: data[k] for k in ACTUATORS_INPUT})
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.data[CONF_WALLBOX_MAX_KW] == 7.4
    assert entry.runtime_data.coordinator is not coordinator


# A SoC you can trust and the sequencer: the car's optional entities ---------------------------

SESSION = "sensor.wallbox_session_energy"
CHARGE_POWER = "sensor.wallbox_charge_power"
PRESENCE = "device_tracker.id4"


def _trust_states(hass: HomeAssistant) -> None:
    hass.states.async_set(SESSION, "3.2", {"unit_of_measurement": "kWh", "device_class": "energy"})
    hass.states.async_set(CHARGE_POWER, "7400", {"unit_of_measurement": "W"})
    hass.states.async_set(PRESENCE, "home")


async def test_add_vehicle_with_soc_trust_entities(
    hass: HomeAssistant, mock_setup: AsyncMock
) -> None:
    """Session energy, charge power, presence and the stale time are stored as given."""
    _trust_states(hass)
    entry = _entry(hass)
    extra = {
        CONF_VEHICLE_SESSION_ENERGY_ENTITY: SESSION,
        CONF_VEHICLE_CHARGE_POWER_ENTITY: CHARGE_POWER,
        CONF_VEHICLE_PRESENCE_ENTITY: PRESENCE,
        CONF_VEHICLE_STALE_AFTER_MIN: 45,
    }
    result = await _add_vehicle(hass, entry, {**VEHICLE_INPUT, **extra})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (car,) = entry.get_subentries_of_type(SUBENTRY_VEHICLE)
    assert {k: car.data[k] for k in extra} == extra
    assert type(car.data[CONF_VEHICLE_STALE_AFTER_MIN]) is int


@pytest.mark.parametrize(
    ("change", "field", "error"),
    [
        (
            {CONF_VEHICLE_SESSION_ENERGY_ENTITY: CHARGE_POWER},  # W is not an energy
            CONF_VEHICLE_SESSION_ENERGY_ENTITY,
            FlowError.UNSUPPORTED_UNIT,
        ),
        (
            {CONF_VEHICLE_CHARGE_POWER_ENTITY: SESSION},  # kWh is not a power
            CONF_VEHICLE_CHARGE_POWER_ENTITY,
            FlowError.UNSUPPORTED_UNIT,
        ),
        (
            {CONF_VEHICLE_PRESENCE_ENTITY: LP_MODE},
            CONF_VEHICLE_PRESENCE_ENTITY,
            FlowError.WRONG_DOMAIN,
        ),
        (
            {CONF_VEHICLE_PRESENCE_ENTITY: "device_tracker.gone"},
            CONF_VEHICLE_PRESENCE_ENTITY,
            FlowError.ENTITY_NOT_FOUND,
        ),
    ],
)
async def test_vehicle_soc_trust_errors(
    hass: HomeAssistant,
    mock_setup: AsyncMock,
    change: dict[str, Any],
    field: str,
    error: str,
) -> None:
    """A wrong optional entity is named in its field (translated in en and de)."""
    _trust_states(hass)
    entry = _entry(hass)
    result = await _add_vehicle(hass, entry, {**VEHICLE_INPUT, **change})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {field: error}
    assert not entry.subentries
