"""The consumption forecast learned from the recorder's statistics (real Home Assistant + recorder).

The statistics are imported into a real (in-memory) recorder database, read back by SmartLoad
through the recorder's executor, fitted in Home Assistant's executor and fed into the plan.
"""

from __future__ import annotations

from datetime import datetime, timedelta
import sys
import threading
from typing import Any

from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.models import StatisticMeanType
from homeassistant.components.recorder.statistics import async_import_statistics
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import numpy as np
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

# statsmodels (a test requirement) is imported here, outside the frozen clock of the tests: its
# first import compiles pandas and statsmodels from source (PYTHONDONTWRITEBYTECODE) for a while.
import statsmodels.tsa.statespace.sarimax  # noqa: F401

from custom_components.smartload import history as history_module
from custom_components.smartload.const import (
    CONF_CONSUMPTION_ENTITY,
    CONF_CONTROLLED_LOAD_ENTITY,
    CONF_LOAD_MODEL,
    DOMAIN,
)
from custom_components.smartload.planner import forecast as forecast_module

from .conftest import HOUSE, NOW, make_entry, setup_entry

METER = "sensor.house_energy"
BERLIN_OFFSET = 2  # May: UTC+2


def evening_peak_kw(when: datetime) -> float:
    """A household: 0.3 kW, but 2.0 kW from 18:00 to 22:00 local time, a little noise."""
    local_hour = (when.hour + BERLIN_OFFSET) % 24
    wiggle = 0.02 * ((when.day * 7 + when.hour) % 5)
    return (2.0 if 18 <= local_hour < 22 else 0.3) + wiggle


def hours_before_now(days: int) -> list[datetime]:
    """Whole hours from ``days`` days before NOW up to the hour before NOW."""
    return [NOW - timedelta(hours=h) for h in range(days * 24, 0, -1)]


def import_power(hass: HomeAssistant, days: int, unit: str = "W") -> None:
    """Hourly mean statistics of the power sensor (W)."""
    scale = 1000.0 if unit == "W" else 1.0
    async_import_statistics(
        hass,
        {
            "mean_type": StatisticMeanType.ARITHMETIC,
            "has_sum": False,
            "name": None,
            "source": "recorder",
            "statistic_id": HOUSE,
            "unit_class": "power",
            "unit_of_measurement": unit,
        },
        [
            {"start": t, "mean": evening_peak_kw(t) * scale, "min": 0.0, "max": 5000.0}
            for t in hours_before_now(days)
        ],
    )


def import_energy(hass: HomeAssistant, days: int) -> None:
    """Hourly statistics of a total energy meter (kWh sum)."""
    total = 1234.0
    rows = []
    for t in hours_before_now(days):
        total += evening_peak_kw(t)  # kWh in this hour = its mean kW
        rows.append({"start": t, "state": total, "sum": total - 1234.0})
    async_import_statistics(
        hass,
        {
            "mean_type": StatisticMeanType.NONE,
            "has_sum": True,
            "name": None,
            "source": "recorder",
            "statistic_id": METER,
            "unit_class": "energy",
            "unit_of_measurement": "kWh",
        },
        rows,
    )


def local_hours(start: datetime, load: np.ndarray) -> dict[int, float]:
    """Mean forecast per local hour of day."""
    out: dict[int, list[float]] = {}
    for k, kw in enumerate(load):
        hour = ((start + timedelta(minutes=15 * k)).hour + BERLIN_OFFSET) % 24
        out.setdefault(hour, []).append(float(kw))
    return {h: float(np.mean(v)) for h, v in out.items()}


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, enable_custom_integrations: None
) -> None:
    """The recorder's database must be set up before ``hass`` (overrides conftest's fixture)."""


async def setup_learned(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    """Set up, then wait for the background fit and the re-plan it asks for."""
    await setup_entry(hass, entry)
    await hass.async_block_till_done(wait_background_tasks=True)
    return entry


async def refresh_learned(hass: HomeAssistant, coordinator: Any) -> None:
    """A cycle, and the background fit (if due) with its re-plan."""
    await coordinator.async_refresh()
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.fixture
async def recorded(hass: HomeAssistant, home: None) -> None:
    """A real recorder, and the home of conftest (Berlin, midnight, its states)."""


@pytest.mark.usefixtures("recorded")
async def test_plan_follows_the_learned_daily_shape(hass: HomeAssistant) -> None:
    """Three days of power statistics (W): the plan's load has the evening peak, not today's 0.5."""
    import_power(hass, days=3)
    await async_wait_recording_done(hass)
    entry = await setup_learned(hass, make_entry())
    result = entry.runtime_data.coordinator.data
    assert result.status.value == "optimal"
    load = result.inputs.load_kw
    by_hour = local_hours(result.inputs.start, load)
    assert by_hour[19] == pytest.approx(2.0, abs=0.1)
    assert by_hour[3] == pytest.approx(0.3, abs=0.1)
    assert load.max() - load.min() > 1.5  # not flat
    fc = result.load_forecast
    assert fc is not None and fc.model == "profile" and fc.n_days == 3
    assert fc.mae_profile_kw is None and fc.mae_sarima_kw is None  # too short to backtest

    state = hass.states.get("sensor.smartload_load_forecast")
    assert state.attributes["unit_of_measurement"] == "kW"
    assert float(state.state) == pytest.approx(load[0], abs=1e-3)
    assert state.attributes["model"] == "profile"
    assert state.attributes["history_days"] == 3
    assert state.attributes["mae_sarima_kw"] is None


@pytest.mark.usefixtures("recorded")
async def test_without_history_the_plan_keeps_todays_flat_value(hass: HomeAssistant) -> None:
    """A new install: no statistics yet, so the load is the sensor's 500 W throughout."""
    entry = await setup_learned(hass, make_entry())
    coordinator = entry.runtime_data.coordinator
    result = coordinator.data
    assert result.load_forecast is None
    assert np.allclose(result.inputs.load_kw, 0.5)
    state = hass.states.get("sensor.smartload_load_forecast")
    assert float(state.state) == pytest.approx(0.5)
    assert state.attributes["model"] == "flat"
    assert state.attributes["history_days"] == 0
    # It looks again within the hour, and learns as soon as statistics exist.
    import_power(hass, days=2)
    await async_wait_recording_done(hass)
    await refresh_learned(hass, coordinator)
    assert coordinator.data.load_forecast is None  # not due yet: the empty read is cached
    coordinator.history.attempted_at = NOW - timedelta(hours=1)
    await refresh_learned(hass, coordinator)
    assert coordinator.data.load_forecast is not None
    assert coordinator.data.load_forecast.n_days == 2


@pytest.mark.usefixtures("recorded")
async def test_energy_meter_hourly_change_is_the_load(hass: HomeAssistant) -> None:
    """A total energy meter (kWh, sum): each hour's change is that hour's mean kW."""
    hass.states.async_set(
        METER, "1400.0", {"unit_of_measurement": "kWh", "state_class": "total_increasing"}
    )
    import_energy(hass, days=4)
    await async_wait_recording_done(hass)
    entry = await setup_learned(hass, make_entry(**{CONF_CONSUMPTION_ENTITY: METER}))
    coordinator = entry.runtime_data.coordinator
    assert coordinator.history.kind == "energy"
    result = coordinator.data
    assert result.load_forecast is not None and result.load_forecast.n_days == 4
    by_hour = local_hours(result.inputs.start, result.inputs.load_kw)
    assert by_hour[20] == pytest.approx(2.0, abs=0.1)
    assert by_hour[10] == pytest.approx(0.3, abs=0.1)


@pytest.mark.usefixtures("recorded")
async def test_kw_power_statistics(hass: HomeAssistant) -> None:
    """A power sensor in kW is read as it is."""
    hass.states.async_set(HOUSE, "0.5", {"unit_of_measurement": "kW"})
    import_power(hass, days=2, unit="kW")
    await async_wait_recording_done(hass)
    entry = await setup_learned(hass, make_entry())
    result = entry.runtime_data.coordinator.data
    by_hour = local_hours(result.inputs.start, result.inputs.load_kw)
    assert by_hour[18] == pytest.approx(2.0, abs=0.1)


@pytest.mark.usefixtures("recorded")
async def test_sarima_chosen_by_the_backtest_both_maes_exposed(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    """15 days of history and statsmodels installed: SARIMA runs, the better MAE wins."""
    import_power(hass, days=15)
    await async_wait_recording_done(hass)
    assert await async_setup_component(hass, "diagnostics", {})
    entry = await setup_learned(hass, make_entry())
    fc = entry.runtime_data.coordinator.data.load_forecast
    assert fc is not None and fc.n_days == 15
    assert fc.mae_profile_kw is not None and fc.mae_sarima_kw is not None
    assert fc.model == ("sarima" if fc.mae_sarima_kw < fc.mae_profile_kw else "profile")
    state = hass.states.get("sensor.smartload_load_forecast")
    assert state.attributes["model"] == fc.model
    assert state.attributes["mae_profile_kw"] == pytest.approx(fc.mae_profile_kw, abs=1e-4)
    assert state.attributes["mae_sarima_kw"] == pytest.approx(fc.mae_sarima_kw, abs=1e-4)
    assert state.attributes["history_days"] == 15

    diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    learned = diag["load_forecast"]
    assert learned["entity_id"] == HOUSE and learned["kind"] == "power"
    assert learned["model"] == learned["used"] == fc.model
    assert learned["mae_profile_kw"] == pytest.approx(fc.mae_profile_kw, abs=1e-4)
    assert learned["mae_sarima_kw"] == pytest.approx(fc.mae_sarima_kw, abs=1e-4)
    assert learned["history_days"] == 15


@pytest.mark.usefixtures("recorded")
async def test_without_statsmodels_the_profile_silently(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """HA OS on a Pi has no statsmodels wheel: the import fails, the profile is used, no error."""
    monkeypatch.setitem(sys.modules, forecast_module.SARIMAX_MODULE, None)
    import_power(hass, days=15)
    await async_wait_recording_done(hass)
    entry = await setup_learned(hass, make_entry())
    fc = entry.runtime_data.coordinator.data.load_forecast
    assert fc is not None and fc.model == "profile"
    assert fc.mae_profile_kw is not None and fc.mae_sarima_kw is None
    assert hass.states.get("sensor.smartload_load_forecast").attributes["mae_sarima_kw"] is None
    assert not [
        r
        for r in caplog.records
        if r.levelname in ("WARNING", "ERROR") and r.name.startswith("custom_components.smartload")
    ]


@pytest.mark.usefixtures("recorded")
async def test_database_and_fit_run_in_executors_refreshed_daily(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch, freezer: Any
) -> None:
    """The statistics are read in the recorder's executor, the fit in HA's; cached for a day."""
    loop_thread = threading.get_ident()
    seen: list[tuple[str, int, str]] = []
    read, fit = history_module.read_hourly_history, history_module.fit_load_forecaster

    def spy_read(*args: Any) -> Any:
        seen.append(("read", threading.get_ident(), threading.current_thread().name))
        return read(*args)

    def spy_fit(*args: Any, **kwargs: Any) -> Any:
        seen.append(("fit", threading.get_ident(), threading.current_thread().name))
        return fit(*args, **kwargs)

    monkeypatch.setattr(history_module, "read_hourly_history", spy_read)
    monkeypatch.setattr(history_module, "fit_load_forecaster", spy_fit)
    import_power(hass, days=3)
    await async_wait_recording_done(hass)
    entry = await setup_learned(hass, make_entry())
    assert [s[0] for s in seen] == ["read", "fit"]
    assert all(ident != loop_thread for _, ident, _ in seen)
    assert seen[0][2].startswith("DbWorker")  # the recorder's database executor
    assert not seen[1][2].startswith("DbWorker")  # Home Assistant's executor

    coordinator = entry.runtime_data.coordinator
    freezer.move_to(NOW + timedelta(hours=6))
    await refresh_learned(hass, coordinator)
    assert len(seen) == 2  # the cached fit
    freezer.move_to(NOW + timedelta(days=1))
    await refresh_learned(hass, coordinator)
    assert [s[0] for s in seen] == ["read", "fit", "read", "fit"]
    assert coordinator.history.fitted_at == dt_util.utcnow()


@pytest.mark.usefixtures("recorded")
async def test_a_failing_read_plans_flat_and_warns_once(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A database error: one warning, no traceback loop, the plan uses today's value."""

    def broken(*_: Any) -> Any:
        raise OSError("database is locked")

    monkeypatch.setattr(history_module, "read_hourly_history", broken)
    entry = await setup_learned(hass, make_entry())
    coordinator = entry.runtime_data.coordinator
    assert coordinator.data.status.value == "optimal"
    assert np.allclose(coordinator.data.inputs.load_kw, 0.5)
    assert "database is locked" in (coordinator.history.error or "")
    coordinator.history.attempted_at = NOW - timedelta(hours=2)  # retried, fails again
    await refresh_learned(hass, coordinator)
    warnings = [r for r in caplog.records if "cannot learn the consumption" in r.message]
    assert len(warnings) == 1
    assert coordinator.history.summary()["error"] is not None


WALLBOX = "sensor.wallbox_power"


def night_charging_kw(when: datetime) -> float:
    """SmartLoad's own decisions: a car charging at 7 kW from 01:00 to 04:00 local time."""
    return 7.0 if 1 <= (when.hour + BERLIN_OFFSET) % 24 < 4 else 0.0


def import_power_of(hass: HomeAssistant, entity_id: str, days: int, kw: Any) -> None:
    """Hourly mean statistics (W) of a power sensor, ``kw(t)`` in each hour."""
    async_import_statistics(
        hass,
        {
            "mean_type": StatisticMeanType.ARITHMETIC,
            "has_sum": False,
            "name": None,
            "source": "recorder",
            "statistic_id": entity_id,
            "unit_class": "power",
            "unit_of_measurement": "W",
        },
        [
            {"start": t, "mean": 1000 * kw(t), "min": 0.0, "max": 11000.0}
            for t in hours_before_now(days)
        ],
    )


@pytest.mark.usefixtures("recorded")
@pytest.mark.parametrize("subtract", [True, False])
async def test_the_wallbox_in_the_consumption_is_not_learned(
    hass: HomeAssistant, subtract: bool
) -> None:
    """The consumption includes the wallbox: with the wallbox entity configured, the forecast
    learns the house without the nights' charging, and the live reading leaves it out too."""
    import_power_of(hass, HOUSE, 3, lambda t: evening_peak_kw(t) + night_charging_kw(t))
    import_power_of(hass, WALLBOX, 3, night_charging_kw)
    await async_wait_recording_done(hass)
    hass.states.async_set(WALLBOX, "400", {"unit_of_measurement": "W"})
    extra = {CONF_CONTROLLED_LOAD_ENTITY: WALLBOX} if subtract else {}
    entry = await setup_learned(hass, make_entry(**extra))
    coordinator = entry.runtime_data.coordinator
    by_hour = local_hours(coordinator.data.inputs.start, coordinator.data.inputs.load_kw)
    assert by_hour[19] == pytest.approx(2.0, abs=0.1)
    if subtract:
        assert by_hour[2] == pytest.approx(0.3, abs=0.1)
        assert coordinator.reader.load_reading_kw == pytest.approx(0.1)  # 500 W - 400 W
        summary = coordinator.history.summary()
        assert summary["controlled_entity_id"] == WALLBOX
        assert summary["controlled_kwh_subtracted"] == pytest.approx(3 * 3 * 7.0, abs=0.5)
    else:
        assert by_hour[2] == pytest.approx(7.3, abs=0.1)
        assert coordinator.reader.load_reading_kw == pytest.approx(0.5)
        assert coordinator.history.summary()["controlled_kwh_subtracted"] is None


async def setup_with_model(hass: HomeAssistant, model: str) -> MockConfigEntry:
    """The test home with the consumption forecast model chosen in the options."""
    entry = make_entry()
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, options={**entry.options, CONF_LOAD_MODEL: model})
    return await setup_learned(hass, entry)


@pytest.mark.usefixtures("recorded")
async def test_sarima_chosen_without_statsmodels_raises_a_repair(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """SARIMA chosen by the user, statsmodels not importable: the profile forecasts, a repair
    issue says why (once), and it is withdrawn when the entry goes."""
    monkeypatch.setitem(sys.modules, forecast_module.SARIMAX_MODULE, None)
    import_power(hass, days=15)
    await async_wait_recording_done(hass)
    entry = await setup_with_model(hass, "sarima")
    fc = entry.runtime_data.coordinator.data.load_forecast
    assert fc is not None and fc.model == "profile" and fc.mae_sarima_kw is None
    issue_id = f"{entry.entry_id}_sarima_unavailable"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None and issue.translation_key == "sarima_unavailable"
    assert issue.translation_placeholders == {"name": entry.title}
    assert len([r for r in caplog.records if "statsmodels" in r.getMessage()]) == 1
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


@pytest.mark.usefixtures("recorded")
@pytest.mark.parametrize(
    ("model", "use", "prefer"),
    [("auto", True, False), ("profile", False, False), ("sarima", True, True)],
)
async def test_the_chosen_model_reaches_the_fit(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch, model: str, use: bool, prefer: bool
) -> None:
    """Profile: SARIMA is never fitted (least CPU). SARIMA: preferred once it can be fitted,
    whatever the backtest says; no repair issue where statsmodels is there."""
    seen: list[dict[str, Any]] = []
    fit = history_module.fit_load_forecaster

    def spy_fit(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return fit(*args, **kwargs)

    monkeypatch.setattr(history_module, "fit_load_forecaster", spy_fit)
    import_power(hass, days=3)
    await async_wait_recording_done(hass)
    entry = await setup_with_model(hass, model)
    assert [(k["use_sarima"], k["prefer_sarima"]) for k in seen] == [(use, prefer)]
    assert entry.runtime_data.coordinator.history.summary()["model_choice"] == model
    issue_id = f"{entry.entry_id}_sarima_unavailable"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
