"""The drivers' channel on real HA: questions, answers (only the driver's, only once), alerts,
messages from others. Telegram and the mobile app are stand-in services capturing the calls."""

from __future__ import annotations

from datetime import timedelta
from types import MappingProxyType
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import Context, HomeAssistant, ServiceCall
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_mock_service,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)

from custom_components.smartload.const import (
    CONF_AUTOMATION,
    CONF_CYCLE_MINUTES,
    CONF_HORIZON_HOURS,
    DOMAIN,
    SUBENTRY_VEHICLE,
)
from custom_components.smartload.notifier import DepartureRisk

from .conftest import CAR_DATA, CAR_PLUGGED, CAR_SOC, HOME_DATA, NOW, setup_entry

pytestmark = pytest.mark.usefixtures("home")

CHAT = 4242
STRANGER = 6666
AT_RISK = "binary_sensor.model_3_departure_at_risk"


def driver_entry(**driver: Any) -> MockConfigEntry:
    """The shared test home; its car has a driver section."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="SmartLoad",
        data=HOME_DATA,
        options={CONF_HORIZON_HOURS: 48, CONF_CYCLE_MINUTES: 15, CONF_AUTOMATION: False},
        subentries_data=[
            ConfigSubentryData(
                data=MappingProxyType({**CAR_DATA, "driver": driver}),
                subentry_type=SUBENTRY_VEHICLE,
                title="Model 3",
                unique_id=None,
            )
        ],
    )


@pytest.fixture
def telegram(hass: HomeAssistant) -> list[ServiceCall]:
    """telegram_bot.send_message, captured."""
    return async_mock_service(hass, "telegram_bot", "send_message")


@pytest.fixture
def answered(hass: HomeAssistant) -> list[ServiceCall]:
    """telegram_bot.answer_callback_query, captured."""
    return async_mock_service(hass, "telegram_bot", "answer_callback_query")


@pytest.fixture
def phone(hass: HomeAssistant) -> list[ServiceCall]:
    """notify.mobile_app_pixel, captured."""
    return async_mock_service(hass, "notify", "mobile_app_pixel")


async def plug_in(hass: HomeAssistant) -> None:
    hass.states.async_set(CAR_PLUGGED, "off")
    await hass.async_block_till_done()
    hass.states.async_set(CAR_PLUGGED, "on")
    await hass.async_block_till_done()


def telegram_token(call: ServiceCall) -> str:
    return call.data["inline_keyboard"][0][0][1].split()[1]


def planned_departure(entry: Any) -> str:
    inputs = entry.runtime_data.coordinator.data.inputs
    (car,) = inputs.vehicles
    return dt_util.as_local(inputs.slot_start(car.departure_slot)).strftime("%d %H:%M")


async def callback_from(hass: HomeAssistant, chat: int, data: str, cb_id: str = "cb1") -> None:
    hass.bus.async_fire(
        "telegram_callback",
        {"id": cb_id, "chat_id": chat, "user_id": chat, "data": data, "chat_instance": "x"},
    )
    await hass.async_block_till_done()


# -- Telegram ----------------------------------------------------------------------------------


async def test_plug_in_asks_through_telegram(
    hass: HomeAssistant, telegram: list[ServiceCall]
) -> None:
    await setup_entry(hass, driver_entry(telegram_chat_ids=f"{CHAT}"))
    assert telegram == []
    await plug_in(hass)
    (call,) = telegram
    token = telegram_token(call)
    assert len(token) == 8
    assert call.data == {
        "message": "When do you need the Model 3?",
        "title": "SmartLoad",
        "chat_id": [CHAT],
        "inline_keyboard": [
            [
                ["06:30", f"/smartload {token} 0630"],
                ["07:30", f"/smartload {token} 0730"],
                ["08:30", f"/smartload {token} 0830"],
                ["later", f"/smartload {token} later"],
            ]
        ],
    }
    await plug_in(hass)  # the question is still open: not asked twice
    assert len(telegram) == 1


async def test_question_in_german(hass: HomeAssistant, telegram: list[ServiceCall]) -> None:
    hass.config.language = "de"
    await setup_entry(hass, driver_entry(telegram_chat_ids=f"{CHAT}"))
    await plug_in(hass)
    (call,) = telegram
    assert call.data["message"] == "Wann brauchst du den Model 3?"
    assert call.data["inline_keyboard"][0][3][0] == "später"


async def test_telegram_answer_applies_once_and_only_from_the_driver(
    hass: HomeAssistant, telegram: list[ServiceCall], answered: list[ServiceCall]
) -> None:
    entry = await setup_entry(hass, driver_entry(telegram_chat_ids=f"{CHAT}, 1234"))
    assert planned_departure(entry) == "12 07:00"
    await plug_in(hass)
    token = telegram_token(telegram[0])

    # a stranger's callback (right token, wrong chat) changes nothing
    await callback_from(hass, STRANGER, f"/smartload {token} 0830")
    assert planned_departure(entry) == "12 07:00"
    assert answered == []

    # the driver's answer: a one-off departure, re-planned at once, acknowledged
    await callback_from(hass, CHAT, f"/smartload {token} 0830")
    assert planned_departure(entry) == "12 08:30"
    assert hass.states.get("time.model_3_departure").attributes["one_off"] is True
    assert hass.states.get("time.model_3_departure").state == "07:00:00"
    (ack,) = answered
    assert ack.data == {"message": "Model 3: departure 08:30, planned.", "callback_query_id": "cb1"}

    # a second answer to the same question: closed
    await callback_from(hass, CHAT, f"/smartload {token} 0630", "cb2")
    assert planned_departure(entry) == "12 08:30"
    assert len(answered) == 1

    # made-up tokens and other bots' buttons are ignored
    await callback_from(hass, CHAT, "/smartload deadbeef 0630")
    await callback_from(hass, CHAT, "/other thing")
    assert planned_departure(entry) == "12 08:30"


async def test_no_answer_in_30_minutes_keeps_the_default(
    hass: HomeAssistant, telegram: list[ServiceCall], freezer: FrozenDateTimeFactory
) -> None:
    entry = await setup_entry(hass, driver_entry(telegram_chat_ids=f"{CHAT}"))
    await plug_in(hass)
    token = telegram_token(telegram[0])
    channel = entry.runtime_data.coordinator.drivers
    assert token in channel.questions

    freezer.tick(timedelta(minutes=29))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert token in channel.questions
    freezer.tick(timedelta(minutes=2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert token not in channel.questions

    await callback_from(hass, CHAT, f"/smartload {token} 0630")  # too late: closed
    await entry.runtime_data.coordinator.async_refresh()
    assert planned_departure(entry) == "12 07:00"


async def test_daily_question_at_the_configured_time(
    hass: HomeAssistant, telegram: list[ServiceCall], freezer: FrozenDateTimeFactory
) -> None:
    await setup_entry(hass, driver_entry(telegram_chat_ids=f"{CHAT}", query_time="20:00:00"))
    freezer.move_to(NOW + timedelta(hours=19, minutes=59, seconds=59))  # 19:59:59 in Berlin
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert telegram == []
    freezer.tick(timedelta(seconds=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert len(telegram) == 1
    assert telegram[0].data["message"] == "When do you need the Model 3?"


async def test_quiet_hours_hold_the_question_back(
    hass: HomeAssistant, telegram: list[ServiceCall]
) -> None:
    # it is midnight in Berlin
    await setup_entry(
        hass,
        driver_entry(telegram_chat_ids=f"{CHAT}", quiet_start="22:00:00", quiet_end="06:00:00"),
    )
    await plug_in(hass)
    assert telegram == []


async def test_a_failing_channel_is_logged_once_and_breaks_nothing(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    def _fail(call: ServiceCall) -> None:
        raise RuntimeError("bot offline")

    hass.services.async_register("telegram_bot", "send_message", _fail)
    entry = await setup_entry(hass, driver_entry(telegram_chat_ids=f"{CHAT}"))
    await plug_in(hass)
    await plug_in(hass)
    assert caplog.text.count("could not reach Model 3's driver") == 1
    assert entry.runtime_data.coordinator.drivers.questions == {}  # not left open
    assert hass.states.get("sensor.smartload_plan_status").state == "optimal"


# -- mobile app --------------------------------------------------------------------------------


async def test_mobile_app_question_and_answers(
    hass: HomeAssistant, phone: list[ServiceCall]
) -> None:
    driver = await hass.auth.async_create_user("Driver")
    other = await hass.auth.async_create_user("Someone else")
    MockConfigEntry(
        domain="mobile_app",
        data={"device_name": "Pixel", "user_id": driver.id, "device_id": "pixel-1"},
    ).add_to_hass(hass)
    entry = await setup_entry(hass, driver_entry(notify_action="notify.mobile_app_pixel"))
    await plug_in(hass)
    (call,) = phone
    actions = call.data["data"]["actions"]
    token = actions[0]["action"].split("_")[1]
    assert call.data == {
        "message": "When do you need the Model 3?",
        "title": "SmartLoad",
        "data": {
            "tag": f"smartload_{entry.runtime_data.coordinator.vehicles[0].subentry_id}_departure",
            "actions": [
                {"action": f"SMARTLOAD_{token}_0630", "title": "06:30"},
                {"action": f"SMARTLOAD_{token}_0730", "title": "07:30"},
                {"action": f"SMARTLOAD_{token}_0830", "title": "08:30"},
                {"action": f"SMARTLOAD_{token}_LATER", "title": "later"},
            ],
        },
    }

    def tap(user_id: str | None, action: str) -> None:
        hass.bus.async_fire(
            "mobile_app_notification_action", {"action": action}, context=Context(user_id=user_id)
        )

    tap(other.id, f"SMARTLOAD_{token}_0630")  # another user's phone
    tap(None, f"SMARTLOAD_{token}_0630")  # no user at all
    await hass.async_block_till_done()
    assert planned_departure(entry) == "12 07:00"

    tap(driver.id, f"SMARTLOAD_{token}_LATER")
    await hass.async_block_till_done()
    assert planned_departure(entry) == "12 12:00"  # "later": not before noon
    tap(driver.id, f"SMARTLOAD_{token}_0630")  # only once
    await hass.async_block_till_done()
    assert planned_departure(entry) == "12 12:00"


# -- departure at risk -------------------------------------------------------------------------


async def test_departure_at_risk_alerts_once_and_boost_answer(
    hass: HomeAssistant, telegram: list[ServiceCall], freezer: FrozenDateTimeFactory
) -> None:
    # 10 % and leaving at 01:00: 11 kW for an hour gets nowhere near 80 %
    hass.states.async_set(CAR_SOC, "10", {"unit_of_measurement": "%"})
    entry = await setup_entry(hass, driver_entry(telegram_chat_ids=f"{CHAT}"))
    coordinator = entry.runtime_data.coordinator
    await hass.services.async_call(
        DOMAIN, "set_departure", {"vehicle": "Model 3", "time": "01:00"}, blocking=True
    )
    await hass.async_block_till_done()

    state = hass.states.get(AT_RISK)
    assert state.state == "on"
    expected = state.attributes["expected_soc_pct"]
    assert 20 < expected < 30  # 6 + 0.9 x 11 kWh of 60
    assert state.attributes["target_soc_pct"] == 80.0
    assert state.attributes["shortfall_kwh"] > 30

    (alert,) = telegram
    message = alert.data["message"]
    assert message.startswith(f"Model 3 will reach only {expected:.0f} % by 01:00 (target 80 %).")
    # full power from now reaches the target only after 01:00
    full = dt_util.parse_datetime(state.attributes["full_power_reaches_target_at"])
    assert f"Leaving at {dt_util.as_local(full).strftime('%H:%M')} reaches 80 %." in message
    token = telegram_token(alert)
    assert alert.data["inline_keyboard"] == [[["Boost now", f"/smartload {token} boost"]]]

    # the next cycles: the same departure, no new alert
    freezer.tick(timedelta(minutes=15))
    await coordinator.async_refresh()
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert len(telegram) == 1

    # "Boost now" from the driver: the car boosts until the departure
    await callback_from(hass, CHAT, f"/smartload {token} boost")
    car_state = coordinator.car_states.get(coordinator.vehicles[0].subentry_id)
    assert car_state.boost_until is not None
    (car,) = coordinator.data.inputs.vehicles
    assert car.boost_until_slot > 0
    assert coordinator.data.decision.why.key == "car_boost"


async def test_an_alert_is_not_repeated_after_a_restart(
    hass: HomeAssistant, telegram: list[ServiceCall]
) -> None:
    hass.states.async_set(CAR_SOC, "10", {"unit_of_measurement": "%"})
    entry = await setup_entry(hass, driver_entry(telegram_chat_ids=f"{CHAT}"))
    await hass.services.async_call(
        DOMAIN, "set_departure", {"vehicle": "Model 3", "time": "01:00"}, blocking=True
    )
    await hass.async_block_till_done()
    assert len(telegram) == 1
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await entry.runtime_data.coordinator.async_refresh()  # a cycle with the channel listening
    await hass.async_block_till_done()
    assert hass.states.get(AT_RISK).state == "on"
    assert len(telegram) == 1  # the same departure: told already


async def test_no_risk_no_alert(hass: HomeAssistant, telegram: list[ServiceCall]) -> None:
    await setup_entry(hass, driver_entry(telegram_chat_ids=f"{CHAT}"))
    assert hass.states.get(AT_RISK).state == "off"
    assert hass.states.get(AT_RISK).attributes.get("expected_soc_pct") is None
    assert telegram == []


async def test_alert_text_names_what_a_boost_reaches(hass: HomeAssistant) -> None:
    entry = await setup_entry(hass, driver_entry(telegram_chat_ids=f"{CHAT}"))
    channel = entry.runtime_data.coordinator.drivers
    car = entry.runtime_data.coordinator.vehicles[0]
    risk = DepartureRisk(
        departure=NOW + timedelta(hours=5),  # 05:00 in Berlin
        expected_pct=62.0,
        target_pct=80.0,
        shortfall_kwh=10.8,
        boost_pct=80.0,
        full_time=None,
    )
    assert channel.alert_text(car, risk) == (
        "Model 3 will reach only 62 % by 05:00 (target 80 %). Boost now reaches 80 % by 05:00."
    )
    hass.config.language = "de"
    assert channel.alert_text(car, risk) == (
        "Model 3 erreicht bis 05:00 Uhr nur 62 % (Ziel 80 %). "
        "Boost jetzt erreicht 80 % bis 05:00 Uhr."
    )


# -- messages from others ----------------------------------------------------------------------


async def test_driver_messages_are_delivered_rate_limited(
    hass: HomeAssistant, phone: list[ServiceCall], freezer: FrozenDateTimeFactory
) -> None:
    entry = await setup_entry(hass, driver_entry(notify_action="notify.mobile_app_pixel"))
    car_id = entry.runtime_data.coordinator.vehicles[0].subentry_id

    def fire(kind: str, entry_id: str = entry.entry_id, **placeholders: str) -> None:
        hass.bus.async_fire(
            "smartload_driver_message",
            {
                "config_entry_id": entry_id,
                "vehicle": car_id,
                "kind": kind,
                "placeholders": placeholders,
            },
        )

    fire("vacancy", name="Model 3", full_min=16, waiting_name="Zoe", waiting_needed_kwh=12.5)
    await hass.async_block_till_done()
    (call,) = phone
    assert call.data == {
        "message": "Model 3 has been charged for 16 min but is still plugged in while Zoe needs "
        "12.5 kWh: please swap the cars.",
        "title": "SmartLoad",
    }
    fire("vacancy", waiting_name="Zoe")  # within 30 min: not again
    fire("unknown_kind")
    fire("starvation", entry_id="another-home")
    await hass.async_block_till_done()
    assert len(phone) == 1

    fire("starvation", waited_min=61, needed_kwh=20.0, position=2)
    await hass.async_block_till_done()
    assert phone[-1].data["message"] == (
        "Model 3 has been waiting for the wallbox for 61 min and still needs 20 kWh."
    )
    freezer.tick(timedelta(minutes=31))
    fire("vacancy")  # no placeholders: the short text
    await hass.async_block_till_done()
    assert len(phone) == 3
    assert phone[-1].data["message"] == (
        "Model 3 is charged but still plugged in while another car needs charge: "
        "please swap the cars."
    )


async def test_driver_message_in_german(hass: HomeAssistant, phone: list[ServiceCall]) -> None:
    hass.config.language = "de"
    entry = await setup_entry(hass, driver_entry(notify_action="notify.mobile_app_pixel"))
    hass.bus.async_fire(
        "smartload_driver_message",
        {
            "config_entry_id": entry.entry_id,
            "vehicle": entry.runtime_data.coordinator.vehicles[0].subentry_id,
            "kind": "starvation",
            "placeholders": {"waited_min": 75, "needed_kwh": 9.5},
        },
    )
    await hass.async_block_till_done()
    assert phone[-1].data["message"] == (
        "Model 3 wartet seit 75 min auf die Wallbox und braucht noch 9,5 kWh."
    )


async def test_diagnostics_redact_how_to_reach_the_driver(
    hass: HomeAssistant, hass_client: Any
) -> None:
    assert await async_setup_component(hass, "diagnostics", {})
    entry = await setup_entry(
        hass,
        driver_entry(telegram_chat_ids=f"{CHAT}", notify_action="notify.mobile_app_pixel"),
    )
    diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    (car,) = diag["vehicles"]
    assert car["data"]["driver"]["telegram_chat_ids"] == "**REDACTED**"
    assert car["data"]["driver"]["notify_action"] == "**REDACTED**"
    assert str(CHAT) not in str(diag)
