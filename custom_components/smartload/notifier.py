"""The drivers' channel: questions, alerts and messages to each car's driver, and their answers.

Per car, the vehicle subentry's optional ``driver`` section names how to reach the driver: a
Telegram chat (``telegram_bot.send_message`` with inline buttons, answers from the
``telegram_callback`` event) or a notify action (``notify.mobile_app_…``: actionable
notifications, answers from the ``mobile_app_notification_action`` event); quiet hours; and the
time of the daily departure question.

- **Departure question**: "When do you need the Kia?" with four answers (the default departure
  −30, +30, +90 min, and "later" = noon), asked daily at the configured time and when the car is
  plugged in with no one-off departure ahead. An answer sets a one-off departure and re-plans.
  Without an answer within 30 min the question closes and the default departure stays.
- **Departure at risk**: when the plan reports a shortfall at a car's departure, the driver is told
  once per departure (again only if it gets at least 10 points worse, at most hourly) how far the
  car gets, what a boost now reaches and when full power would reach the target, with a
  "Boost now" answer.
- **Messages from others**: ``smartload_driver_message`` events (``starvation``, ``vacancy``) are
  delivered in the driver's language, at most every 30 min per car and kind.

Answers are accepted only for a question that is still open, only once, and only from the car's
driver: a Telegram callback from one of the configured chat ids (the chat or the user), a mobile
app action from the Home Assistant user the configured mobile app is registered to. Anything else
is ignored (debug log). Quiet hours hold back questions, alerts and messages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
import logging
import secrets
from typing import TYPE_CHECKING, Any

from homeassistant.const import STATE_ON
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.event import (
    async_track_point_in_utc_time,
    async_track_state_change_event,
    async_track_time_change,
)
from homeassistant.util import dt as dt_util, slugify

from .inputs import PLUGGED_ON, VehicleConfig

if TYPE_CHECKING:
    from .coordinator import SmartLoadCoordinator

_LOGGER = logging.getLogger(__name__)

EVENT_DRIVER_MESSAGE = "smartload_driver_message"
EVENT_TELEGRAM_CALLBACK = "telegram_callback"
EVENT_MOBILE_ACTION = "mobile_app_notification_action"

# Vehicle subentry: the driver section and its keys
CONF_DRIVER = "driver"
CONF_NOTIFY_ACTION = "notify_action"  # "notify.mobile_app_pixel"
CONF_TELEGRAM_CHAT_IDS = "telegram_chat_ids"  # "123456, -100987"
CONF_QUIET_START = "quiet_start"  # "22:00:00"
CONF_QUIET_END = "quiet_end"
CONF_QUERY_TIME = "query_time"  # the daily departure question

ANSWER_TIMEOUT = timedelta(minutes=30)
ALERT_REPEAT_AFTER = timedelta(hours=1)
ALERT_WORSE_PCT = 10.0  # a new alert for the same departure only when this much worse
MESSAGE_REPEAT_AFTER = timedelta(minutes=30)
LATER = time(12, 0)  # "later": the car is not needed before noon
CHOICE_OFFSETS_MIN = (-30, 30, 90)  # around the default departure
RISK_MIN_KWH = 0.05  # a shortfall below this is no risk
TELEGRAM_PREFIX = "/smartload"
MOBILE_PREFIX = "SMARTLOAD"

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "SmartLoad",
        "question": "When do you need the {vehicle}?",
        "later": "later",
        "boost": "Boost now",
        "at_risk": "{vehicle} will reach only {expected_pct} % by {departure} "
        "(target {target_pct} %).",
        "fix_boost": " Boost now reaches {boost_pct} % by {departure}.",
        "fix_later": " Leaving at {full_time} reaches {target_pct} %.",
        "starvation": "{vehicle} has been waiting for the wallbox for {waited_min} min and "
        "still needs {needed_kwh} kWh.",
        "starvation_short": "{vehicle} is waiting for the wallbox and still needs charge.",
        "vacancy": "{vehicle} has been charged for {full_min} min but is still plugged in while "
        "{waiting_name} needs {waiting_needed_kwh} kWh: please swap the cars.",
        "vacancy_short": "{vehicle} is charged but still plugged in while another car needs "
        "charge: please swap the cars.",
        "answer_departure": "{vehicle}: departure {departure}, planned.",
        "answer_boost": "{vehicle}: boost started.",
    },
    "de": {
        "title": "SmartLoad",
        "question": "Wann brauchst du den {vehicle}?",
        "later": "später",
        "boost": "Jetzt boosten",
        "at_risk": "{vehicle} erreicht bis {departure} Uhr nur {expected_pct} % "
        "(Ziel {target_pct} %).",
        "fix_boost": " Boost jetzt erreicht {boost_pct} % bis {departure} Uhr.",
        "fix_later": " Abfahrt um {full_time} Uhr erreicht {target_pct} %.",
        "starvation": "{vehicle} wartet seit {waited_min} min auf die Wallbox und braucht noch "
        "{needed_kwh} kWh.",
        "starvation_short": "{vehicle} wartet auf die Wallbox und braucht noch Strom.",
        "vacancy": "{vehicle} ist seit {full_min} min geladen, steckt aber noch, während "
        "{waiting_name} {waiting_needed_kwh} kWh braucht: bitte tauscht die Autos.",
        "vacancy_short": "{vehicle} ist geladen, steckt aber noch, während ein anderes Auto Strom "
        "braucht: bitte tauscht die Autos.",
        "answer_departure": "{vehicle}: Abfahrt {departure} Uhr, eingeplant.",
        "answer_boost": "{vehicle}: Boost gestartet.",
    },
}
MESSAGE_KINDS = ("starvation", "vacancy")


def text(lang: str, key: str, **params: Any) -> str:
    """A driver text in ``lang`` (German or English), its placeholders filled."""
    table = TEXTS["de"] if lang.split("-", maxsplit=1)[0] == "de" else TEXTS["en"]
    return table[key].format(**params)


@dataclass(frozen=True, kw_only=True, slots=True)
class DriverSettings:
    """How to reach one car's driver (the subentry's driver section)."""

    notify_action: str | None = None
    telegram_chat_ids: tuple[int, ...] = ()
    quiet_start: time | None = None
    quiet_end: time | None = None
    query_time: time | None = None

    @property
    def reachable(self) -> bool:
        """A channel is configured."""
        return bool(self.telegram_chat_ids or self.notify_action)

    def quiet(self, local: time) -> bool:
        """Inside the quiet hours (which may span midnight)?"""
        start, end = self.quiet_start, self.quiet_end
        if start is None or end is None or start == end:
            return False
        if start < end:
            return start <= local < end
        return local >= start or local < end


def parse_chat_ids(raw: Any) -> tuple[int, ...]:
    """Telegram chat ids from "123, -456" (or a list); raises ValueError on anything else."""
    items = raw if isinstance(raw, (list, tuple)) else str(raw or "").replace(";", ",").split(",")
    return tuple(int(str(item).strip()) for item in items if str(item).strip())


def _clock(raw: Any) -> time | None:
    try:
        return time.fromisoformat(str(raw)) if raw else None
    except ValueError:
        return None


def driver_settings(data: Mapping[str, Any]) -> DriverSettings:
    """A vehicle subentry's driver settings (nothing configured: unreachable)."""
    section = data.get(CONF_DRIVER)
    if not isinstance(section, Mapping):
        return DriverSettings()
    try:
        chat_ids = parse_chat_ids(section.get(CONF_TELEGRAM_CHAT_IDS))
    except ValueError:
        chat_ids = ()
    action = str(section.get(CONF_NOTIFY_ACTION) or "").strip() or None
    return DriverSettings(
        notify_action=action,
        telegram_chat_ids=chat_ids,
        quiet_start=_clock(section.get(CONF_QUIET_START)),
        quiet_end=_clock(section.get(CONF_QUIET_END)),
        query_time=_clock(section.get(CONF_QUERY_TIME)),
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class DepartureRisk:
    """A car's departure target the plan cannot meet, and what would fix it."""

    departure: datetime  # UTC
    expected_pct: float  # what the plan reaches by then
    target_pct: float
    shortfall_kwh: float
    boost_pct: float  # full power from now until the departure
    full_time: datetime | None  # when full power from now reaches the target (None: never)


def departure_risk(coordinator: SmartLoadCoordinator, car: VehicleConfig) -> DepartureRisk | None:
    """The current plan's risk for ``car`` (None: its target is met, or it is not planned)."""
    result = coordinator.data
    if result is None or result.plan is None or result.inputs is None:
        return None
    inputs, plan = result.inputs, result.plan
    vi = next((v for v in inputs.vehicles if v.name == car.name), None)
    vp = plan.vehicle(car.name)
    if vi is None or vp is None or vi.departure_slot is None:
        return None
    if vp.shortfall_kwh <= RISK_MIN_KWH or vp.soc_at_departure_kwh is None:
        return None
    now = max(result.updated, inputs.start)
    departure = inputs.slot_start(vi.departure_slot)
    power = min(vi.max_charge_kw, inputs.wallbox_max_kw) * vi.charge_efficiency  # kWh per hour
    hours = max(0.0, (departure - now).total_seconds() / 3600)
    boost_kwh = min(vi.capacity_kwh, vi.soc_kwh + power * hours)
    needed = vi.target_soc_kwh - vi.soc_kwh
    full_time = now + timedelta(hours=needed / power) if power > 0 else None
    pct = 100 / vi.capacity_kwh
    return DepartureRisk(
        departure=departure,
        expected_pct=round(vp.soc_at_departure_kwh * pct, 1),
        target_pct=round(vi.target_soc_kwh * pct, 1),
        shortfall_kwh=round(vp.shortfall_kwh, 2),
        boost_pct=round(boost_kwh * pct, 1),
        full_time=full_time,
    )


def risk_attributes(coordinator: SmartLoadCoordinator, car: VehicleConfig) -> dict[str, Any]:
    """The binary sensor's attributes: the numbers behind a risk (empty when none)."""
    risk = departure_risk(coordinator, car)
    if risk is None:
        return {}
    return {
        "departure": risk.departure.isoformat(),
        "expected_soc_pct": risk.expected_pct,
        "target_soc_pct": risk.target_pct,
        "shortfall_kwh": risk.shortfall_kwh,
        "boost_soc_pct": risk.boost_pct,
        "full_power_reaches_target_at": risk.full_time.isoformat() if risk.full_time else None,
    }


@dataclass(kw_only=True, slots=True)
class Question:
    """A question to a driver that accepts one answer until it closes."""

    token: str
    car: str  # subentry id
    kind: str  # "departure" | "alert"
    choices: dict[str, str]  # answer id → button label
    closes: datetime
    cancel: Callable[[], None] | None = field(default=None, repr=False)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Alerted:
    departure: datetime
    expected_pct: float
    when: datetime


def _shown(value: Any, lang: str) -> str:
    """A placeholder as text: a float without a trailing .0, with a decimal comma in German."""
    if isinstance(value, float):
        shown = str(int(value)) if value.is_integer() else f"{value:g}"
        return shown.replace(".", ",") if lang.startswith("de") else shown
    return str(value)


def _pct(value: float) -> str:
    return f"{value:.0f}"


class DriverChannel:
    """Talks to the drivers of one SmartLoad home."""

    def __init__(self, coordinator: SmartLoadCoordinator) -> None:
        """Bind to a coordinator (its cars, its car states, its plans)."""
        self.coordinator = coordinator
        self.hass: HomeAssistant = coordinator.hass
        self.questions: dict[str, Question] = {}  # token → open question
        self.sent: list[dict[str, Any]] = []  # the last messages (diagnostics), newest last
        self._alerted: dict[str, _Alerted] = {}
        self._messaged: dict[tuple[str, str], datetime] = {}
        self._unsubs: list[Callable[[], None]] = []
        self._boost_timer: Callable[[], None] | None = None
        self._failed: set[str] = set()

    # -- set-up ----------------------------------------------------------------------------------
    def driver(self, car: VehicleConfig) -> DriverSettings:
        """A car's driver settings."""
        subentry = self.coordinator.config_entry.subentries.get(car.subentry_id)
        return driver_settings(subentry.data) if subentry is not None else DriverSettings()

    @property
    def _cars(self) -> tuple[VehicleConfig, ...]:
        return self.coordinator.vehicles

    @callback
    def async_start(self) -> None:
        """Listen for answers, messages, plug-ins, the question times and new plans."""
        hass = self.hass
        self._unsubs += [
            hass.bus.async_listen(EVENT_TELEGRAM_CALLBACK, self._on_telegram),
            hass.bus.async_listen(EVENT_MOBILE_ACTION, self._on_mobile),
            hass.bus.async_listen(EVENT_DRIVER_MESSAGE, self._on_driver_message),
            self.coordinator.async_add_listener(self._on_plan),
            self.coordinator.car_states.async_add_listener(self._schedule_boost_end),
        ]
        for car in self._cars:  # the alerts already sent (kept over a restart)
            state = self.coordinator.car_states.get(car.subentry_id)
            if state.alerted_departure is not None and state.alerted_at is not None:
                self._alerted[car.subentry_id] = _Alerted(
                    departure=state.alerted_departure,
                    expected_pct=state.alerted_pct or 0.0,
                    when=state.alerted_at,
                )
        reachable = [car for car in self._cars if self.driver(car).reachable]
        if plugged := {car.plugged_entity: car for car in reachable}:
            self._unsubs.append(
                async_track_state_change_event(hass, list(plugged), self._on_plug_change)
            )
        for car in reachable:
            if (at := self.driver(car).query_time) is not None:
                self._unsubs.append(
                    async_track_time_change(
                        hass,
                        self._daily_question(car),
                        hour=at.hour,
                        minute=at.minute,
                        second=at.second,
                    )
                )
        self._schedule_boost_end()
        if self.coordinator.data is not None:  # the first plan came before this listener
            self._on_plan()

    @callback
    def async_stop(self) -> None:
        """Stop listening; open questions close."""
        for unsub in self._unsubs:
            unsub()
        self._unsubs.clear()
        for question in self.questions.values():
            if question.cancel is not None:
                question.cancel()
        self.questions.clear()
        if self._boost_timer is not None:
            self._boost_timer()
            self._boost_timer = None

    # -- boosts end at their expiry or at their target -----------------------------------------
    @callback
    def _schedule_boost_end(self) -> None:
        """Re-plan when the earliest boost expires (the plan stops forcing full power then)."""
        if self._boost_timer is not None:
            self._boost_timer()
            self._boost_timer = None
        now = dt_util.utcnow()
        ends = [
            until
            for car in self._cars
            if (until := self.coordinator.car_states.get(car.subentry_id).boost_until) is not None
            and until > now
        ]
        if ends:

            @callback
            def _ended(_: datetime) -> None:
                self._boost_timer = None
                self.coordinator.config_entry.async_create_task(
                    self.hass, self._async_boost_ended(), name="smartload boost ended"
                )

            self._boost_timer = async_track_point_in_utc_time(self.hass, _ended, min(ends))

    async def _async_boost_ended(self) -> None:
        await self.coordinator.car_states.async_expire()
        await self.coordinator.async_refresh()

    # -- the departure question ----------------------------------------------------------------
    def _lang(self) -> str:
        return self.hass.config.language or "en"

    def _local(self, when: datetime) -> datetime:
        return dt_util.as_local(when)

    def _choices(self, car: VehicleConfig) -> dict[str, str]:
        regular = self.coordinator.car_states.get(car.subentry_id).departure
        base = datetime.combine(dt_util.now().date(), regular)
        choices: dict[str, str] = {}
        for minutes in CHOICE_OFFSETS_MIN:
            at = (base + timedelta(minutes=minutes)).time()
            choices[at.strftime("%H%M")] = at.strftime("%H:%M")
        choices["later"] = text(self._lang(), "later")
        return choices

    def _open(self, car: VehicleConfig, kind: str) -> Question | None:
        return next(
            (q for q in self.questions.values() if q.car == car.subentry_id and q.kind == kind),
            None,
        )

    async def async_ask_departure(self, car: VehicleConfig) -> bool:
        """Ask the driver when the car is needed (unless asked already, or in quiet hours)."""
        driver = self.driver(car)
        now = dt_util.utcnow()
        if not driver.reachable or self._open(car, "departure") is not None:
            return False
        if driver.quiet(self._local(now).time()):
            _LOGGER.debug("Quiet hours: no departure question for %s", car.name)
            return False
        question = self._question(car, "departure", self._choices(car), now + ANSWER_TIMEOUT)
        message = text(self._lang(), "question", vehicle=car.name)
        if not await self._send(car, message, question):
            self._close(question)
            return False
        return True

    def _question(
        self, car: VehicleConfig, kind: str, choices: dict[str, str], closes: datetime
    ) -> Question:
        question = Question(
            token=secrets.token_hex(4),
            car=car.subentry_id,
            kind=kind,
            choices=choices,
            closes=closes,
        )

        @callback
        def _timeout(_: datetime) -> None:
            if self.questions.pop(question.token, None) is not None:
                _LOGGER.info(
                    "No answer from %s's driver: SmartLoad keeps the planned departure", car.name
                )

        question.cancel = async_track_point_in_utc_time(self.hass, _timeout, closes)
        self.questions[question.token] = question
        return question

    def _close(self, question: Question) -> None:
        self.questions.pop(question.token, None)
        if question.cancel is not None:
            question.cancel()

    def _daily_question(self, car: VehicleConfig) -> Callable[[datetime], None]:
        @callback
        def _ask(_: datetime) -> None:
            if not self._one_off_ahead(car):
                self.coordinator.config_entry.async_create_task(
                    self.hass, self.async_ask_departure(car), name="smartload departure question"
                )

        return _ask

    def _one_off_ahead(self, car: VehicleConfig) -> bool:
        return self.coordinator.car_states.for_plan(car, dt_util.utcnow()).one_off

    @callback
    def _on_plug_change(self, event: Event[EventStateChangedData]) -> None:
        """A car plugged in with no one-off departure ahead: ask its driver."""
        old, new = event.data["old_state"], event.data["new_state"]

        def plugged(state: Any) -> bool:
            return state is not None and state.state.strip().lower() in PLUGGED_ON | {STATE_ON}

        if not plugged(new) or plugged(old):
            return
        for car in self._cars:
            if car.plugged_entity == event.data["entity_id"] and not self._one_off_ahead(car):
                self.coordinator.config_entry.async_create_task(
                    self.hass, self.async_ask_departure(car), name="smartload departure question"
                )

    # -- answers ---------------------------------------------------------------------------------
    @callback
    def _on_telegram(self, event: Event) -> None:
        data = event.data
        parts = str(data.get("data") or "").split()
        if len(parts) != 3 or parts[0] != TELEGRAM_PREFIX:
            return  # not ours
        question = self.questions.get(parts[1])
        if question is None:
            _LOGGER.debug("Ignored a Telegram answer to a closed or unknown question")
            return
        car = self.coordinator.vehicle_by_subentry(question.car)
        senders = {data.get("chat_id"), data.get("user_id")}
        if car is None or not senders & set(self.driver(car).telegram_chat_ids):
            _LOGGER.debug("Ignored a Telegram answer from chat %s", data.get("chat_id"))
            return
        self._accept(question, car, parts[2], callback_id=data.get("id"))

    @callback
    def _on_mobile(self, event: Event) -> None:
        action = str(event.data.get("action") or "")
        parts = action.split("_", 2)
        if len(parts) != 3 or parts[0] != MOBILE_PREFIX:
            return  # not ours
        question = self.questions.get(parts[1].lower())
        if question is None:
            _LOGGER.debug("Ignored a mobile app answer to a closed or unknown question")
            return
        car = self.coordinator.vehicle_by_subentry(question.car)
        if car is None or event.context.user_id not in self._mobile_users(car):
            _LOGGER.debug("Ignored a mobile app answer from user %s", event.context.user_id)
            return
        self._accept(question, car, parts[2].lower(), callback_id=None)

    def _mobile_users(self, car: VehicleConfig) -> set[str]:
        """The users the car's mobile app notify target is registered to."""
        action = self.driver(car).notify_action or ""
        if not action.startswith("notify.mobile_app_"):
            return set()
        device = action.removeprefix("notify.mobile_app_")
        return {
            str(entry.data["user_id"])
            for entry in self.hass.config_entries.async_entries("mobile_app")
            if entry.data.get("user_id") and slugify(str(entry.data.get("device_name"))) == device
        }

    @callback
    def _accept(
        self, question: Question, car: VehicleConfig, choice: str, callback_id: Any
    ) -> None:
        if choice not in question.choices:
            _LOGGER.debug("Ignored an unknown answer %r for %s", choice, car.name)
            return
        self._close(question)  # only once
        self.coordinator.config_entry.async_create_task(
            self.hass,
            self._async_apply(question, car, choice, callback_id),
            name="smartload driver answer",
        )

    async def _async_apply(
        self, question: Question, car: VehicleConfig, choice: str, callback_id: Any
    ) -> None:
        states = self.coordinator.car_states
        now = dt_util.utcnow()
        lang = self._lang()
        if choice == "boost":
            until = max(question.closes, now + timedelta(minutes=15))
            await states.async_update(car.subentry_id, boost_until=until, boost_target_pct=None)
            reply = text(lang, "answer_boost", vehicle=car.name)
        else:
            at = LATER if choice == "later" else time(int(choice[:2]), int(choice[2:]))
            when = states.one_off_at(at, now)
            await states.async_update(car.subentry_id, one_off=when, one_off_target_pct=None)
            reply = text(lang, "answer_departure", vehicle=car.name, departure=at.strftime("%H:%M"))
        _LOGGER.info("%s's driver answered: %s", car.name, choice)
        await self.coordinator.async_refresh()
        if callback_id is not None and self.hass.services.has_service(
            "telegram_bot", "answer_callback_query"
        ):
            await self._call(
                car,
                "telegram_bot",
                "answer_callback_query",
                {"message": reply, "callback_query_id": callback_id},
            )

    # -- alerts ----------------------------------------------------------------------------------
    @callback
    def _on_plan(self) -> None:
        """After each cycle: end boosts that reached their target; alert on new risks."""
        now = dt_util.utcnow()
        for car in self._cars:
            self._end_reached_boost(car)
            risk = departure_risk(self.coordinator, car)
            if risk is None or not self.driver(car).reachable:
                continue
            last = self._alerted.get(car.subentry_id)
            if last is not None and last.departure == risk.departure:
                worse = last.expected_pct - risk.expected_pct >= ALERT_WORSE_PCT
                if not worse or now - last.when < ALERT_REPEAT_AFTER:
                    continue
            if self.driver(car).quiet(self._local(now).time()):
                continue  # asked again after the quiet hours, if still at risk
            self._alerted[car.subentry_id] = _Alerted(
                departure=risk.departure, expected_pct=risk.expected_pct, when=now
            )
            self.coordinator.config_entry.async_create_task(
                self.hass, self._async_alert(car, risk), name="smartload departure alert"
            )

    def _end_reached_boost(self, car: VehicleConfig) -> None:
        state = self.coordinator.car_states.get(car.subentry_id)
        result = self.coordinator.data
        if state.boost_until is None or state.boost_target_pct is None or result is None:
            return
        inputs = result.inputs
        vi = next((v for v in inputs.vehicles if v.name == car.name), None) if inputs else None
        if vi is not None and vi.soc_kwh >= car.capacity_kwh * state.boost_target_pct / 100:
            self.coordinator.config_entry.async_create_task(
                self.hass,
                self.coordinator.car_states.async_update(
                    car.subentry_id, boost_until=None, boost_target_pct=None
                ),
                name="smartload boost reached",
            )

    def alert_text(self, car: VehicleConfig, risk: DepartureRisk) -> str:
        """The alert in the driver's language."""
        lang = self._lang()
        departure = self._local(risk.departure).strftime("%H:%M")
        message = text(
            lang,
            "at_risk",
            vehicle=car.name,
            expected_pct=_pct(risk.expected_pct),
            departure=departure,
            target_pct=_pct(risk.target_pct),
        )
        if risk.boost_pct >= risk.expected_pct + 1:
            message += text(lang, "fix_boost", boost_pct=_pct(risk.boost_pct), departure=departure)
        if risk.full_time is not None and risk.full_time > risk.departure:
            message += text(
                lang,
                "fix_later",
                full_time=self._local(risk.full_time).strftime("%H:%M"),
                target_pct=_pct(risk.target_pct),
            )
        return message

    async def _async_alert(self, car: VehicleConfig, risk: DepartureRisk) -> None:
        if (old := self._open(car, "alert")) is not None:
            self._close(old)
        question = self._question(
            car, "alert", {"boost": text(self._lang(), "boost")}, risk.departure
        )
        if not await self._send(car, self.alert_text(car, risk), question):
            self._close(question)
            return
        sent = self._alerted[car.subentry_id]
        await self.coordinator.car_states.async_update(
            car.subentry_id,
            alerted_departure=sent.departure,
            alerted_pct=sent.expected_pct,
            alerted_at=sent.when,
        )

    # -- messages from others --------------------------------------------------------------------
    @callback
    def _on_driver_message(self, event: Event) -> None:
        data = event.data
        if data.get("config_entry_id") != self.coordinator.config_entry.entry_id:
            return
        car = self.coordinator.vehicle_by_subentry(str(data.get("vehicle")))
        kind = str(data.get("kind"))
        if car is None or kind not in MESSAGE_KINDS or not self.driver(car).reachable:
            _LOGGER.debug("No driver message for %s (%s)", data.get("vehicle"), kind)
            return
        now = dt_util.utcnow()
        last = self._messaged.get((car.subentry_id, kind))
        if last is not None and now - last < MESSAGE_REPEAT_AFTER:
            return
        if self.driver(car).quiet(self._local(now).time()):
            return
        self._messaged[(car.subentry_id, kind)] = now
        placeholders = data.get("placeholders")
        params: dict[str, Any] = {}
        if isinstance(placeholders, Mapping):
            params |= {str(k): _shown(v, self._lang()) for k, v in placeholders.items()}
        params["vehicle"] = car.name
        try:
            message = text(self._lang(), kind, **params)
        except KeyError, ValueError, IndexError:  # the sender left out a placeholder
            message = text(self._lang(), f"{kind}_short", vehicle=car.name)
        self.coordinator.config_entry.async_create_task(
            self.hass, self._send(car, message, None), name="smartload driver message"
        )

    # -- sending -----------------------------------------------------------------------------------
    def payload(
        self, car: VehicleConfig, message: str, question: Question | None
    ) -> tuple[str, str, dict[str, Any]] | None:
        """The action and its data that deliver ``message`` (with the answers) to the driver."""
        driver = self.driver(car)
        title = text(self._lang(), "title")
        if driver.telegram_chat_ids:
            data: dict[str, Any] = {
                "message": message,
                "title": title,
                "chat_id": list(driver.telegram_chat_ids),
            }
            if question is not None:
                data["inline_keyboard"] = [
                    [
                        [label, f"{TELEGRAM_PREFIX} {question.token} {choice}"]
                        for choice, label in question.choices.items()
                    ]
                ]
            return "telegram_bot", "send_message", data
        if driver.notify_action and "." in driver.notify_action:
            domain, service = driver.notify_action.split(".", 1)
            data = {"message": message, "title": title}
            if question is not None:
                data["data"] = {
                    "tag": f"smartload_{car.subentry_id}_{question.kind}",
                    "actions": [
                        {
                            "action": f"{MOBILE_PREFIX}_{question.token}_{choice}".upper(),
                            "title": label,
                        }
                        for choice, label in question.choices.items()
                    ],
                }
            return domain, service, data
        return None

    async def _send(self, car: VehicleConfig, message: str, question: Question | None) -> bool:
        if (target := self.payload(car, message, question)) is None:
            return False
        domain, service, data = target
        ok = await self._call(car, domain, service, data)
        if ok:
            self.sent.append({"vehicle": car.name, "action": f"{domain}.{service}"})
            del self.sent[:-20]
        return ok

    async def _call(self, car: VehicleConfig, domain: str, service: str, data: dict) -> bool:
        """Call an action; a failure is logged once per car and action, never raised."""
        key = f"{car.subentry_id}:{domain}.{service}"
        try:
            await self.hass.services.async_call(domain, service, data, blocking=True)
        except Exception as err:  # a driver's phone must never break a cycle
            if key not in self._failed:
                _LOGGER.warning(
                    "SmartLoad could not reach %s's driver through %s.%s: %s",
                    car.name,
                    domain,
                    service,
                    err,
                )
                self._failed.add(key)
            return False
        if key in self._failed:
            _LOGGER.info("SmartLoad reaches %s's driver again", car.name)
            self._failed.discard(key)
        return True
