"""script/develop's config generation: the YAML loads, the demo home is complete and correct.

No server is started: the generated files are read back with Home Assistant's YAML loader, and the
demo package is set up in the test harness's Home Assistant core (real input helpers and template
entities) to check what SmartLoad will read from it and that its writes reach the helpers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
import importlib.util
import itertools
import json
from pathlib import Path
import sys
from types import ModuleType
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import async_get_platforms
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util.yaml import load_yaml
import pytest

from custom_components.smartload import const
from custom_components.smartload.planner.sources import parse_price_forecast, parse_pv_forecast

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "prices_de_2024-05-12.csv"


def _load_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "develop_config", REPO / "script" / "develop_config.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("develop_config", module)
    spec.loader.exec_module(module)
    return module


dc = _load_module()


@pytest.fixture(name="generated")
def generated_fixture(tmp_path: Path) -> Path:
    """A config directory as script/develop writes it."""
    config = tmp_path / "config"
    dc.generate(config, "127.0.0.1", 8123, entry="flow")
    return config


def _package(config: Path) -> dict[str, Any]:
    return load_yaml(str(config / "packages" / "smartload_demo.yaml"))


def _defined_entities(package: dict[str, Any]) -> set[str]:
    found = {
        f"{domain}.{key}"
        for domain in ("input_number", "input_boolean", "input_select")
        for key in package[domain]
    }
    for block in package["template"]:
        for domain, items in block.items():
            found |= {item["default_entity_id"] for item in items}
            assert all(item["default_entity_id"].startswith(f"{domain}.") for item in items)
    return found


# --------------------------------------------------------------------------- files


def test_configuration_yaml_loads_with_the_demo_package(generated: Path) -> None:
    """configuration.yaml is valid for Home Assistant and pulls in the demo package."""
    conf = load_yaml(str(generated / "configuration.yaml"))
    core = conf["homeassistant"]
    assert core["time_zone"] == "Europe/Berlin"
    assert core["currency"] == "EUR"
    assert core["country"] == "DE"
    assert core["unit_system"] == "metric"
    assert 47 < core["latitude"] < 55 and 5 < core["longitude"] < 15  # in Germany
    assert set(core["packages"]) == {"smartload_demo"}
    assert core["packages"]["smartload_demo"] == _package(generated)
    assert "http" not in conf  # HA 2026.10 ignores it after a one-off migration
    assert "default_config" not in conf
    for domain in ("frontend", "history", "config", "recorder"):
        assert domain in conf


def test_storage_files_and_symlink(generated: Path) -> None:
    """.storage/http binds as asked, onboarding skips core_config, the integration is linked."""
    http = json.loads((generated / ".storage" / "http").read_text())
    assert (http["version"], http["minor_version"], http["key"]) == (2, 2, "http")
    assert http["data"]["stable"]["server_host"] == ["127.0.0.1"]
    assert http["data"]["stable"]["server_port"] == 8123
    assert http["data"]["yaml_migration_done"] is True
    onboarding = json.loads((generated / ".storage" / "onboarding").read_text())
    assert onboarding["data"]["done"] == ["core_config"]
    link = generated / "custom_components" / "smartload"
    assert link.is_symlink()
    assert link.resolve() == (REPO / "custom_components" / "smartload").resolve()
    assert not (generated / ".storage" / "core.config_entries").exists()  # flow mode


def test_regeneration_keeps_user_edits_and_rebinds(generated: Path) -> None:
    """A second run rewrites .storage/http; a configuration.yaml without the marker is kept."""
    conf = generated / "configuration.yaml"
    conf.write_text("homeassistant:\n  name: Mine\n")
    dc.generate(generated, "0.0.0.0", 8300, entry="flow")
    assert conf.read_text() == "homeassistant:\n  name: Mine\n"
    http = json.loads((generated / ".storage" / "http").read_text())
    assert http["data"]["stable"]["server_host"] == ["0.0.0.0"]
    assert http["data"]["stable"]["server_port"] == 8300


def test_seeded_entry_matches_the_config_flow_shape(generated: Path) -> None:
    """--entry storage: one SmartLoad entry with both cars, in config entries storage 1.5."""
    dc.generate(generated, "127.0.0.1", 8123, entry="storage")
    assert dc.seed_entry(generated) is False  # never a second one
    store = json.loads((generated / ".storage" / "core.config_entries").read_text())
    assert (store["version"], store["minor_version"]) == (1, 5)
    (entry,) = store["data"]["entries"]
    assert entry["domain"] == const.DOMAIN
    assert entry["options"] == {
        const.CONF_HORIZON_HOURS: const.DEFAULT_HORIZON_HOURS,
        const.CONF_CYCLE_MINUTES: const.DEFAULT_CYCLE_MINUTES,
        const.CONF_AUTOMATION: True,
    }
    assert [s["title"] for s in entry["subentries"]] == ["Kia", "Zoe"]
    assert {s["subentry_type"] for s in entry["subentries"]} == {const.SUBENTRY_VEHICLE}
    assert {s["unique_id"] for s in entry["subentries"]} == {
        "sensor.demo_kia_soc",
        "sensor.demo_zoe_soc",
    }


# --------------------------------------------------------------------------- contents


def test_entry_data_uses_the_integration_keys() -> None:
    """Every key the demo configures is one of const.py's config keys (a rename fails here)."""
    conf_keys = {v for k, v in vars(const).items() if k.startswith("CONF_")}
    assert set(dc.MAIN_DATA) <= conf_keys
    assert set(dc.OPTIONS) <= conf_keys
    for car in dc.CARS:
        assert set(car) <= conf_keys
    assert {c["name"]: c["capacity_kwh"] for c in dc.CARS} == {"Kia": 77.0, "Zoe": 52.0}


def test_every_configured_entity_is_defined(generated: Path) -> None:
    """The entities SmartLoad is pointed at all exist in the generated package."""
    defined = _defined_entities(_package(generated))
    wanted = set(dc.ENTITIES.values())
    for car in dc.CARS:
        wanted |= {car["soc_entity"], car["plugged_entity"]}
    assert wanted <= defined


def test_fixture_is_two_local_days_of_day_ahead_prices() -> None:
    """The committed slice: 2 × 96 quarter-hours from local midnight, same shape as the source."""
    rows = dc.read_spot_prices(FIXTURE)
    assert len(rows) == 192
    berlin = dt_util.get_time_zone("Europe/Berlin")
    first = rows[0][0].astimezone(berlin)
    assert (first.hour, first.minute) == (0, 0)
    assert all(b[0] - a[0] == timedelta(minutes=15) for a, b in itertools.pairwise(rows))
    assert FIXTURE.read_text().splitlines()[0] == "timestamp_utc,price_eur_per_mwh"
    assert min(p for _, p in rows) < 0  # a real spring Sunday: negative prices at noon


def test_hourly_prices_apply_the_tariff() -> None:
    """48 hourly all-in prices: (spot / 1000 + 0.165) × 1.19 €/kWh."""
    rows = dc.read_spot_prices(FIXTURE)
    prices = dc.hourly_all_in_prices(rows)
    assert len(prices) == 48
    for hour, price in enumerate(prices):
        spots = [p for _, p in rows[4 * hour : 4 * hour + 4]]
        assert price == pytest.approx((sum(spots) / 4 / 1000 + 0.165) * 1.19, abs=1e-5)
    assert dc.all_in_price(-135.45) == pytest.approx(0.03516, abs=1e-5)
    with pytest.raises(ValueError):
        dc.hourly_all_in_prices(rows[1:])


# --------------------------------------------------------------------------- in Home Assistant


async def _setup_demo(hass: HomeAssistant, package: dict[str, Any]) -> None:
    await hass.config.async_set_time_zone("Europe/Berlin")
    for domain in ("input_number", "input_boolean", "input_select", "template"):
        assert await async_setup_component(hass, domain, {domain: package[domain]})
    await hass.async_block_till_done()


@pytest.fixture(autouse=True)
async def remove_template_entities(hass: HomeAssistant) -> AsyncIterator[None]:
    """Remove the template entities after a test: their now() templates keep a minute timer."""
    yield
    for platform in async_get_platforms(hass, "template"):
        await platform.async_reset()
    await hass.async_block_till_done()


@pytest.mark.parametrize(
    "now_utc",
    ["2026-11-29T09:20:00+00:00", "2026-03-29T09:20:00+00:00"],  # an ordinary day, spring DST
)
async def test_demo_price_and_pv_forecasts_in_home_assistant(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, generated: Path, now_utc: str
) -> None:
    """The price sensor carries today + tomorrow with the tariff; PV a clear-day bell."""
    freezer.move_to(now_utc)
    await _setup_demo(hass, _package(generated))
    berlin = dt_util.get_time_zone("Europe/Berlin")
    now = datetime.fromisoformat(now_utc)
    midnight = dt_util.start_of_local_day(now.astimezone(berlin))
    day_after = dt_util.start_of_local_day(midnight + timedelta(hours=50))

    price = hass.states.get("sensor.demo_electricity_price")
    assert price is not None
    rows = price.attributes["forecast"]
    expected = dc.hourly_all_in_prices(dc.read_spot_prices(FIXTURE))
    assert [r["price"] for r in rows] == expected
    starts = [datetime.fromisoformat(r["start"]) for r in rows]
    ends = [datetime.fromisoformat(r["end"]) for r in rows]
    assert starts[0] == midnight
    assert all(e - s == timedelta(hours=1) for s, e in zip(starts, ends, strict=True))
    assert all(e == s for e, s in zip(ends, starts[1:], strict=False))
    assert ends[-1] >= day_after - timedelta(hours=1)  # 48 h: today and tomorrow (DST: 47 h)
    current = next(r["price"] for r, s, e in zip(rows, starts, ends, strict=True) if s <= now < e)
    assert float(price.state) == pytest.approx(current)
    assert price.attributes["unit_of_measurement"] == "EUR/kWh"

    series = parse_price_forecast(dict(price.attributes), "EUR/kWh")  # what SmartLoad reads
    assert len(series) == 48
    assert series.values == tuple(expected)

    pv = hass.states.get("sensor.demo_pv_forecast")
    assert pv is not None
    pv_rows = pv.attributes["forecast"]
    assert len(pv_rows) == 96
    values = [r["value"] for r in pv_rows]
    assert min(values) == 0.0 and values[0] == 0.0  # dark at midnight
    assert 0.5 < max(values) <= dc.PV_KWP
    noon = max(range(len(values)), key=values.__getitem__)
    noon_local = datetime.fromisoformat(pv_rows[noon]["start"]).astimezone(berlin)
    assert 11 <= noon_local.hour <= 14
    assert float(pv.state) > 0  # 10:20 or 11:20 local: the sun is up
    pv_series = parse_pv_forecast(dict(pv.attributes), "kW")
    assert len(pv_series) == 96 and max(pv_series.values) == max(values)

    house = hass.states.get("sensor.demo_house_power")
    assert house is not None and house.attributes["unit_of_measurement"] == "W"
    assert min(dc.HOUSE_PROFILE_W) <= float(house.state) <= max(dc.HOUSE_PROFILE_W)


async def test_demo_sensors_follow_their_helpers(hass: HomeAssistant, generated: Path) -> None:
    """SoC and plugged-in entities read the helpers you move by hand."""
    await _setup_demo(hass, _package(generated))
    assert hass.states.get("sensor.demo_battery_soc").state == "35.0"
    assert hass.states.get("sensor.demo_kia_soc").attributes["device_class"] == "battery"
    assert hass.states.get("binary_sensor.demo_zoe_plugged_in").state == "on"
    await hass.services.async_call(
        "input_number",
        "set_value",
        {"entity_id": "input_number.demo_kia_soc", "value": 71},
        blocking=True,
    )
    await hass.services.async_call(
        "input_boolean",
        "turn_off",
        {"entity_id": "input_boolean.demo_zoe_plugged_in"},
        blocking=True,
    )
    await hass.async_block_till_done()
    assert hass.states.get("sensor.demo_kia_soc").state == "71.0"
    assert hass.states.get("binary_sensor.demo_zoe_plugged_in").state == "off"


async def test_demo_actuators_write_through_to_helpers(
    hass: HomeAssistant, generated: Path
) -> None:
    """The evcc-like select/number/switch pass SmartLoad's writes on to visible helpers."""
    await _setup_demo(hass, _package(generated))
    mode = hass.states.get("select.demo_loadpoint_mode")
    assert mode.state == "pv"
    assert mode.attributes["options"] == ["off", "pv", "minpv", "now"]
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": "select.demo_loadpoint_mode", "option": "now"},
        blocking=True,
    )
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": "number.demo_smart_cost_limit", "value": 0.223},
        blocking=True,
    )
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": "number.demo_battery_grid_charge_limit", "value": 0.195},
        blocking=True,
    )
    await hass.services.async_call(
        "switch",
        "turn_on",
        {"entity_id": "switch.demo_battery_discharge_control"},
        blocking=True,
    )
    await hass.async_block_till_done()
    assert hass.states.get("input_select.demo_loadpoint_mode").state == "now"
    assert hass.states.get("select.demo_loadpoint_mode").state == "now"
    assert float(hass.states.get("input_number.demo_smart_cost_limit").state) == 0.223
    assert float(hass.states.get("number.demo_smart_cost_limit").state) == 0.223
    assert float(hass.states.get("input_number.demo_battery_grid_charge_limit").state) == 0.195
    assert hass.states.get("input_boolean.demo_battery_discharge_locked").state == "on"
    assert hass.states.get("switch.demo_battery_discharge_control").state == "on"
    limit = hass.states.get("number.demo_smart_cost_limit").attributes
    assert (limit["min"], limit["max"], limit["unit_of_measurement"]) == (0.0, 1.0, "EUR/kWh")


def test_fill_form_answers_a_serialized_flow_form() -> None:
    """The REST flow driver fills known fields, keeps defaults, descends into sections."""
    schema = [
        {"name": "name", "required": True, "default": "SmartLoad"},
        {"name": "price_entity", "required": True},
        {"name": "grid_export_limit_kw", "required": False},
        {"name": "extra", "required": False, "default": 3},
        {"type": "expandable", "name": "battery", "schema": [{"name": "battery_min_soc"}]},
    ]
    answer = dc.fill_form(
        schema, {"name": "Demo", "price_entity": "sensor.p", "battery_min_soc": 5}
    )
    assert answer == {
        "name": "Demo",
        "price_entity": "sensor.p",
        "extra": 3,
        "battery": {"battery_min_soc": 5},
    }
    with pytest.raises(KeyError):
        dc.fill_form([{"name": "unknown_required", "required": True}], {})


def _state(entity_id: str, state: str, name: str) -> dict[str, Any]:
    return {"entity_id": entity_id, "state": state, "attributes": {"friendly_name": name}}


def test_plan_shown_waits_for_a_real_plan_with_every_car() -> None:
    """The start-up check: a plan status that is a plan, and sensors for both demo cars."""
    home = {
        "sensor.home_plan_status": _state("sensor.home_plan_status", "optimal", "Home Plan status"),
        "sensor.kia_shortfall": _state("sensor.kia_shortfall", "0.0", "Kia Shortfall"),
        "sensor.zoe_shortfall": _state("sensor.zoe_shortfall", "0.0", "Zoe Shortfall"),
        "button.home_re_plan_now": _state("button.home_re_plan_now", "unknown", "Re-plan now"),
    }
    assert dc.plan_shown(home)
    without_zoe = {k: v for k, v in home.items() if k != "sensor.zoe_shortfall"}
    assert not dc.plan_shown(without_zoe)
    for status in ("stale_inputs", "unknown", "error"):
        stale = home | {
            "sensor.home_plan_status": home["sensor.home_plan_status"] | {"state": status}
        }
        assert not dc.plan_shown(stale)
    broken = home | {
        "sensor.kia_shortfall": home["sensor.kia_shortfall"] | {"state": "unavailable"}
    }
    assert not dc.plan_shown(broken)
    assert not dc.plan_shown({})
