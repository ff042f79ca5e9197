"""SmartLoad's coordinator: every cycle, live states → plan → the current decision → actuators.

It is the single source of truth: entities only read ``coordinator.data``. Each cycle re-solves
from the real state (rolling horizon); a cached plan is never executed. Inputs that cannot be read
give a log line (once), a repair issue naming the entity and the status ``stale_inputs``, and no
write to any actuator.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
import logging
from typing import Any, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, State, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.debounce import Debouncer
from homeassistant.helpers.event import (
    async_track_point_in_utc_time,
    async_track_state_change_event,
)
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .actuator import ActuatorProblem, async_apply, planned_writes
from .battery_buffer import BufferReport
from .car_state import CarStates
from .cars import CarManager
from .const import (
    CONF_AUTOMATION,
    CONF_CONSUMPTION_ENTITY,
    CONF_CONTROLLED_LOAD_ENTITY,
    CONF_CYCLE_MINUTES,
    CONF_HANDBACK_MINUTES,
    CONF_LOAD_MODEL,
    CONF_PV_FORECAST_ENTITY,
    CONF_PV_POWER_ENTITY,
    DEFAULT_AUTOMATION,
    DEFAULT_CYCLE_MINUTES,
    DEFAULT_HANDBACK_MINUTES,
    DOMAIN,
    LOAD_MODEL_AUTO,
    STATE_CHANGE_DEBOUNCE_S,
)
from .error_table import ErrorTracker, power_kw
from .handback import HandBack
from .history import SARIMA_UNAVAILABLE, ConsumptionHistory
from .inputs import (
    PLUGGED_ON,
    InputProblem,
    InputReader,
    StaleInputsError,
    VehicleConfig,
    entry_settings,
    vehicle_configs,
)
from .notifier import DriverChannel
from .plan_stability import PlanStability
from .planner.explain import render
from .planner.forecast import LoadForecast
from .planner.lp import plan as solve
from .planner.model import Decision, Plan, PlanInput, PlanStatus
from .planner.sources import floor_to_slot
from .planner.windows import Window, WindowTracker
from .pv_error import StoredPvErrorTracker
from .savings import RealisedTracker
from .timeline import PlanTimeline

_LOGGER = logging.getLogger(__name__)

ACTUATOR_FAILED = "actuator_failed"  # issue translation key
PLANNER_FALLBACK = "planner_fallback"  # issue translation key
TICK_DELAY = timedelta(seconds=5)  # after a slot boundary, so that price sensors have moved on


class Status(StrEnum):
    """The plan status sensor's states."""

    OPTIMAL = "optimal"
    SHORTFALL = "shortfall"
    FALLBACK = "fallback"
    STALE_INPUTS = "stale_inputs"
    ERROR = "error"


@dataclass(frozen=True, kw_only=True, slots=True)
class CycleResult:
    """What one cycle produced (``coordinator.data``)."""

    status: Status
    reason: str  # why the status is what it is ("" when optimal)
    updated: datetime
    inputs: PlanInput | None = None
    plan: Plan | None = None
    decision: Decision | None = None
    next_action: str | None = None  # the decision's why, in Home Assistant's language
    acted: bool = False  # True: the automation was on and the decision was applied
    writes: tuple[str, ...] = ()  # the service calls made in this cycle
    input_problems: tuple[InputProblem, ...] = ()
    actuator_problems: tuple[ActuatorProblem, ...] = ()
    load_forecast: LoadForecast | None = None  # the learned one (None: today's flat value)
    battery_buffer: BufferReport | None = None  # the dynamic minimum SoC the plan used
    last_successful_plan: datetime | None = None  # the heartbeat: the last cycle with a plan


@dataclass(kw_only=True, slots=True)
class SmartLoadData:
    """Runtime data of a config entry."""

    coordinator: SmartLoadCoordinator
    vehicles: tuple[VehicleConfig, ...] = field(default_factory=tuple)
    setup_shape: dict[str, Any] = field(default_factory=dict)  # what a reload is needed for
    automation: bool = True  # as last seen by the update listener


type SmartLoadConfigEntry = ConfigEntry[SmartLoadData]


class SmartLoadCoordinator(DataUpdateCoordinator[CycleResult]):
    """Plans every cycle and on relevant state changes; acts when the automation is on."""

    config_entry: SmartLoadConfigEntry

    def __init__(self, hass: HomeAssistant, config_entry: SmartLoadConfigEntry) -> None:
        """Set up the cycle, the input reader and the state-change debouncer."""
        super().__init__(
            hass,
            _LOGGER,
            config_entry=config_entry,
            name=f"{DOMAIN} {config_entry.title}",
            update_interval=None,  # cycles are aligned to the clock instead (async_start)
            always_update=True,
        )
        self.cycle = timedelta(
            minutes=int(config_entry.options.get(CONF_CYCLE_MINUTES, DEFAULT_CYCLE_MINUTES))
        )
        self.reader = InputReader(hass, config_entry)
        conf = entry_settings(config_entry)
        self.history = ConsumptionHistory(
            hass,
            conf.get(CONF_CONSUMPTION_ENTITY) or None,
            conf.get(CONF_CONTROLLED_LOAD_ENTITY) or None,
            model=config_entry.options.get(CONF_LOAD_MODEL, LOAD_MODEL_AUTO),
            issue_id=f"{config_entry.entry_id}_{SARIMA_UNAVAILABLE}",
            name=config_entry.title,
        )
        self.vehicles = vehicle_configs(config_entry)
        # the cars' SoC tracks and the charge sequencer (loaded in _async_setup)
        self.cars = CarManager(hass, self)
        # the seasonal plan-error table (loaded in _async_setup, kept in a Store)
        self.errors = ErrorTracker(hass, config_entry.entry_id)
        # the PV forecast's recent error against the PV power (kept in a Store)
        self.pv_error = StoredPvErrorTracker(hass, config_entry.entry_id)
        # what SmartLoad found on its actuators, and handing them back (loaded in _async_setup)
        self.handback = HandBack(
            hass,
            config_entry.entry_id,
            timeout=timedelta(
                minutes=float(
                    config_entry.options.get(CONF_HANDBACK_MINUTES, DEFAULT_HANDBACK_MINUTES)
                )
            ),
            safe_values=config_entry.options,
        )
        # the plan's charging/holding windows across cycles (calendar, next-window sensors)
        self.windows = WindowTracker()
        # the past 24 h beside the plan and the plan's export, cached (the panel, get_plan)
        self.timeline = PlanTimeline(self)
        # today's realised slots against the threshold baseline (Savings today)
        self.realised = RealisedTracker(hass, config_entry.entry_id)
        # the drivers' departures, targets and boosts (a Store, loaded in _async_setup) and the
        # channel to the drivers (questions, alerts, messages)
        self.car_states = CarStates(hass, config_entry.entry_id, self.vehicles)
        self.reader.car_states = self.car_states
        self.drivers = DriverChannel(self)
        # the applied decision across cycles: kept unless a new plan is materially better
        self.stability = PlanStability(config_entry.options)
        self.state_debouncer = Debouncer(
            hass,
            _LOGGER,
            cooldown=STATE_CHANGE_DEBOUNCE_S,
            immediate=False,
            function=self.async_refresh,
        )
        self.last_error: str | None = None
        self.recent_writes: deque[str] = deque(maxlen=20)
        self._logged: set[str] = set()
        self._issues: set[str] = set()
        self._unsub_tracking: Callable[[], None] | None = None
        self._unsub_tick: Callable[[], None] | None = None

    @property
    def _time_zone(self) -> tzinfo:
        return dt_util.get_default_time_zone()

    @property
    def automation(self) -> bool:
        """On: act on the decision; off: plan and advise only."""
        return bool(self.config_entry.options.get(CONF_AUTOMATION, DEFAULT_AUTOMATION))

    def vehicle_by_subentry(self, subentry_id: str) -> VehicleConfig | None:
        """A configured car."""
        return next((v for v in self.vehicles if v.subentry_id == subentry_id), None)

    def plan_windows(self) -> tuple[Window, ...]:
        """The windows of the latest plan, with those that began in earlier cycles."""
        result = self.data
        if result is None:
            return self.windows.windows
        planned = result.status in (Status.OPTIMAL, Status.SHORTFALL, Status.FALLBACK)
        plan = result.plan if planned else None
        cut = plan.start if plan is not None else floor_to_slot(result.updated)
        return self.windows.update(result, result.inputs, plan, cut)

    # -- re-plan on relevant state changes -----------------------------------------------------
    @callback
    def async_start(self) -> None:
        """Re-plan on the clock and (debounced) on relevant state changes."""
        self._schedule_tick(dt_util.utcnow())
        self._track_inputs()
        self.timeline.async_start()
        self.cars.async_start()
        self.drivers.async_start()

    def next_tick(self, now: datetime) -> datetime:
        """The next cycle: the next multiple of the cycle length in the hour, a little after it.

        With 15 minutes, that is just after each price slot begins (when price sensors have
        moved on), so the decision for a slot is made at its start, not up to a cycle late.
        """
        hour = now.replace(minute=0, second=0, microsecond=0)
        ticks = (now - hour) // self.cycle + 1
        return hour + ticks * self.cycle + TICK_DELAY

    @callback
    def _schedule_tick(self, now: datetime) -> None:
        self._unsub_tick = async_track_point_in_utc_time(
            self.hass, self._on_tick, self.next_tick(now)
        )

    @callback
    def _on_tick(self, now: datetime) -> None:
        self._schedule_tick(now)
        self.config_entry.async_create_background_task(
            self.hass, self.async_refresh(), name=f"{self.name} cycle"
        )

    @callback
    def _track_inputs(self) -> None:
        """Re-plan (debounced) on a plug change, a new forecast or an input that recovers."""
        plugged = set(self.reader.plugged_entities())
        forecasts = set(self.reader.forecast_entities())
        values = set(self.reader.value_entities())

        @callback
        def _changed(event: Event[EventStateChangedData]) -> None:
            entity_id = event.data["entity_id"]
            old, new = event.data["old_state"], event.data["new_state"]
            if entity_id in forecasts:
                relevant = True
            elif entity_id in plugged:
                relevant = _plugged(old) != _plugged(new)
            else:
                relevant = _readable(old) != _readable(new)
            if relevant:
                self.state_debouncer.async_schedule_call()

        self._unsub_tracking = async_track_state_change_event(
            self.hass, sorted(plugged | forecasts | values), _changed
        )

    @override
    async def async_shutdown(self) -> None:
        """Stop the clock and the listeners, cancel a pending re-plan, withdraw the repairs."""
        if self._unsub_tick is not None:
            self._unsub_tick()
            self._unsub_tick = None
        if self._unsub_tracking is not None:
            self._unsub_tracking()
            self._unsub_tracking = None
        self.state_debouncer.async_shutdown()
        self.drivers.async_stop()
        for issue_id in self._issues:  # an entry that is gone has nothing to repair
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
        self._issues.clear()
        self.history.async_clear_issue()
        await self.errors.async_flush()
        await self.realised.async_flush()
        await self.pv_error.async_flush()
        await self.cars.async_shutdown()
        await super().async_shutdown()

    @override
    async def _async_setup(self) -> None:
        """Load the stored plan-error table and PV error window before the first cycle."""
        await self.errors.async_load()
        await self.pv_error.async_load(dt_util.utcnow())
        await self.handback.async_load()
        await self.cars.async_load()
        await self.car_states.async_load()
        await self.realised.async_load()

    # -- one cycle -----------------------------------------------------------------------------
    @override
    async def _async_update_data(self) -> CycleResult:
        """One cycle, then the heartbeat and the hand-back triggers (handback.py)."""
        result = await self._async_cycle()
        await self.handback.async_after_cycle(
            result.updated, automation=self.automation, planned=result.decision is not None
        )
        return dataclasses.replace(result, last_successful_plan=self.handback.last_success)

    async def _async_cycle(self) -> CycleResult:
        """Read, solve, decide, act. Never raises: the status sensor tells what happened."""
        now = dt_util.utcnow()
        # the consumption history: read and fitted in executors, in the background, when due
        self.history.async_schedule(now, self.config_entry, self.async_refresh)
        self.reader.load_model = self.history.forecaster
        # a price forecast served by an action (Tibber, Nord Pool): called when due, cached
        await self.reader.price_action.async_update(now)
        conf = entry_settings(self.config_entry)
        pv_power = conf.get(CONF_PV_POWER_ENTITY) or None
        self.reader.pv_recent_error = self.pv_error.relative_error() if pv_power else None
        self.reader.soc_estimates = self.cars.planning_socs(now)  # stale SoCs: their estimate
        self.reader.soc_fallbacks = self.cars.fallback_socs(now)  # unreadable SoCs: the same
        try:
            inputs = self.reader.read(now)
        except StaleInputsError as err:
            self.stability.reset()
            self._report_inputs(err.problems + self.reader.warnings)
            self._report_actuators([], acting=False)
            return CycleResult(
                status=Status.STALE_INPUTS,
                reason=str(err),
                updated=now,
                input_problems=err.problems,
                load_forecast=self.reader.load_forecast,
            )
        except Exception as err:  # a setting the reader cannot use: no plan, no traceback loop
            self._report_actuators([], acting=False)
            return self._failed(now, None, f"cannot read the inputs: {err!r}", err)
        self._report_inputs(self.reader.warnings)
        # the previous cycle's forecast for the slot that just ended against what was realised
        realised_pv = power_kw(self.hass, pv_power or conf.get(CONF_PV_FORECAST_ENTITY))
        self.errors.observe(inputs, self.reader.load_reading_kw, realised_pv)
        self.realised.observe(
            inputs, self.reader.load_reading_kw, power_kw(self.hass, pv_power), self._time_zone
        )
        await self.realised.async_compute(self.hass)
        if pv_power and conf.get(CONF_PV_FORECAST_ENTITY) and len(inputs.pv_kw):
            # this cycle's forecast for the current slot; the ended slot against the PV power
            self.pv_error.observe(inputs.start, float(inputs.pv_kw[0]), realised_pv)

        try:
            inputs = self.stability.prepare(inputs)
            plan, decision = await self.hass.async_add_executor_job(
                self.stability.plan, inputs, solve
            )
            next_action = (
                render(decision.why, self.hass.config.language, self._time_zone)
                if decision is not None
                else None
            )
        except Exception as err:  # the planner must never break the cycle
            return self._failed(now, inputs, f"planner failed: {err!r}", err)
        self._report_fallback(plan)
        if decision is None:
            self._report_actuators([], acting=False)
            return self._failed(now, inputs, plan.message or "no plan", None, plan)
        self.last_error = None

        writes: tuple[str, ...] = ()
        problems: list[ActuatorProblem] = []
        # a cycle still solving while the entry stopped (a debounced re-plan) writes nothing
        if acting := self.automation and not self._shutdown_requested:
            buffer = self.reader.buffer.report
            wanted, problems = planned_writes(
                self.hass,
                entry_settings(self.config_entry),
                decision,
                min_soc_pct=buffer.pct() if buffer is not None else None,
            )
            wanted = await self.handback.async_take(wanted)  # records what it finds first
            done, failed = await async_apply(self.hass, wanted)
            problems += failed
            writes = tuple(w.describe() for w in done)
            for line in writes:
                _LOGGER.info("Applied %s", line)
                self.recent_writes.append(f"{now.isoformat()} {line}")
        self._report_actuators(problems, acting=acting)
        return CycleResult(
            status=Status(plan.status.value),
            reason=plan.message,
            updated=now,
            inputs=inputs,
            plan=plan,
            decision=decision,
            next_action=next_action,
            acted=acting,
            writes=writes,
            actuator_problems=tuple(problems),
            load_forecast=self.reader.load_forecast,
            battery_buffer=self.reader.buffer.report,
        )

    def _failed(
        self,
        now: datetime,
        inputs: PlanInput | None,
        reason: str,
        err: Exception | None,
        plan: Plan | None = None,
    ) -> CycleResult:
        """No plan to act on: log once, act on nothing."""
        self.stability.reset()
        if reason != self.last_error:
            _LOGGER.error("SmartLoad could not plan (nothing is written): %s", reason, exc_info=err)
        else:
            _LOGGER.debug("Still no plan: %s", reason)
        self.last_error = reason
        return CycleResult(
            status=Status.ERROR,
            reason=reason,
            updated=now,
            inputs=inputs,
            plan=plan,
            load_forecast=self.reader.load_forecast if inputs is not None else None,
        )

    # -- logging and repair issues, each once --------------------------------------------------
    def _issue_prefix(self, group: str) -> str:
        return f"{self.config_entry.entry_id}_{group}_"

    def _sync_issues(self, prefix: str, wanted: dict[str, tuple[str, dict[str, str]]]) -> None:
        """Create the wanted issues with this prefix and delete the rest."""
        for issue_id, (key, placeholders) in wanted.items():
            if issue_id not in self._issues:
                ir.async_create_issue(
                    self.hass,
                    DOMAIN,
                    issue_id,
                    is_fixable=False,
                    severity=ir.IssueSeverity.WARNING,
                    translation_key=key,
                    translation_placeholders=placeholders,
                )
                self._issues.add(issue_id)
        for issue_id in [i for i in self._issues if i.startswith(prefix) and i not in wanted]:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
            self._issues.discard(issue_id)

    def _report_inputs(self, problems: tuple[InputProblem, ...]) -> None:
        lines = {f"input: {p.describe()}" for p in problems}
        warnings = {f"input: {p.describe()}" for p in problems if not p.blocking}
        for line in sorted(lines - self._logged):
            if line in warnings:
                _LOGGER.warning("SmartLoad falls back on another input: %s", line[7:])
            else:
                _LOGGER.warning(
                    "SmartLoad cannot read an input, so it acts on nothing: %s", line[7:]
                )
        recovered = {line for line in self._logged if line.startswith("input: ")} - lines
        if recovered and not any(p.blocking for p in problems):
            _LOGGER.info("SmartLoad's inputs are readable again")
        self._logged = (self._logged - recovered) | lines
        prefix = self._issue_prefix("input")
        wanted = {
            f"{prefix}{p.kind}_{p.entity_id}": (
                p.kind,
                {
                    "entity_id": p.entity_id,
                    "state": p.state,
                    "name": self.config_entry.title,
                    **dict(p.placeholders),
                },
            )
            for p in problems
        }
        self._sync_issues(prefix, wanted)

    def _report_fallback(self, plan: Plan) -> None:
        """The optimiser failed and the rule-based plan stands in: log once, raise a repair."""
        prefix = self._issue_prefix("plan")
        wanted: dict[str, tuple[str, dict[str, str]]] = {}
        if plan.status is PlanStatus.FALLBACK:
            if PLANNER_FALLBACK not in self._logged:
                _LOGGER.warning(
                    "SmartLoad's optimiser failed (%s); it acts on the rule-based fallback plan",
                    plan.message,
                )
                self._logged.add(PLANNER_FALLBACK)
            wanted[f"{prefix}{PLANNER_FALLBACK}"] = (
                PLANNER_FALLBACK,
                {"name": self.config_entry.title, "reason": plan.message},
            )
        elif PLANNER_FALLBACK in self._logged:
            _LOGGER.info("SmartLoad's optimiser plans again")
            self._logged.discard(PLANNER_FALLBACK)
        self._sync_issues(prefix, wanted)

    def _report_actuators(self, problems: list[ActuatorProblem], *, acting: bool) -> None:
        lines = {f"actuator: {p.entity_id}: {p.error}" for p in problems}
        for line in sorted(lines - self._logged):
            _LOGGER.warning("SmartLoad could not set an actuator: %s", line[10:])
        if acting:
            self._logged = {x for x in self._logged if not x.startswith("actuator: ")} | lines
        prefix = self._issue_prefix("actuator")
        wanted = {
            f"{prefix}{p.entity_id}": (
                ACTUATOR_FAILED,
                {"entity_id": p.entity_id, "error": p.error, "name": self.config_entry.title},
            )
            for p in problems
        }
        self._sync_issues(prefix, wanted)


def _plugged(state: State | None) -> bool | None:
    if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
        return None
    return state.state.strip().lower() in PLUGGED_ON


def _readable(state: State | None) -> bool:
    if state is None:
        return False
    try:
        float(state.state)
    except ValueError:
        return False
    return True


def summarize_plan(plan: Plan) -> dict[str, Any]:
    """A compact, JSON-friendly view of a plan (diagnostics)."""
    return {
        "status": plan.status.value,
        "start": plan.start.isoformat(),
        "n_slots": plan.n_slots,
        "cost_eur": round(plan.cost_eur, 4),
        "objective_eur": round(plan.objective_eur, 4),
        "solve_ms": round(plan.solve_ms, 2),
        "battery_price_limit_eur_per_kwh": plan.battery_price_limit_eur_per_kwh,
        "battery_mode_first": [m.value for m in plan.battery_mode[:8]],
        "grid_import_kwh": round(float(plan.grid_import_kw.sum()) * plan.slot_minutes / 60, 3),
        "grid_export_kwh": round(float(plan.grid_export_kw.sum()) * plan.slot_minutes / 60, 3),
        "vehicles": [
            {
                "name": v.name,
                "shortfall_kwh": round(v.shortfall_kwh, 3),
                "soc_at_departure_kwh": v.soc_at_departure_kwh,
                "price_limit_eur_per_kwh": v.price_limit_eur_per_kwh,
                "charge_kwh": round(float(v.charge_kw.sum()) * plan.slot_minutes / 60, 3),
            }
            for v in plan.vehicles
        ],
        "message": plan.message,
    }
