"""Fail-safe hand-back: what SmartLoad found on each actuator, and giving it back.

When SmartLoad first writes to an actuator it records the value it found there, in a versioned
``Store`` (saved at once, so that a crash or a power cut cannot lose it). It hands every actuator
back — to that value, or to the safe value chosen per actuator in the options — when:

- the automation switch is turned off,
- the config entry is unloaded (also on disable and removal) or Home Assistant stops. When the
  entry reloads itself because a setting or a car changed, the record is kept instead: the new
  run plans first and writes only then (as after an unclean stop), so evcc does not flip back and
  forth for a reload,
- no trusted plan (the optimiser's or the rule-based fallback's) exists for a configurable time
  (default 45 minutes: stale inputs, or optimiser and fallback both failing); checked after each
  cycle and by a one-minute watchdog, so that a cycle that hangs cannot keep control either.

After an unclean stop the Store still holds the takeover: the next start plans before it writes
anything, and hands back at once if that first cycle cannot plan. A hand-back is logged once and
kept (``last``) for the Problem binary sensor; an actuator that cannot be handed back (it is
unavailable, say) stays recorded and is tried again by the next trigger.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
import logging
from typing import Any, Final, override

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .actuator import ActuatorProblem, Write, async_apply, restore_write
from .const import CONF_HANDBACK_PREFIX, DOMAIN, HANDBACK_RECORDED
from .storage import async_load_store

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION: Final = 1
STORAGE_MINOR_VERSION: Final = 1
SAVE_DELAY_S: Final = 30


def storage_key(entry_id: str) -> str:
    """The Store's key of one entry's takeovers."""
    return f"{DOMAIN}.handback.{entry_id}"


class HandBackReason(StrEnum):
    """Why the actuators were handed back (the Problem sensor's attribute, the log line)."""

    AUTOMATION_OFF = "automation_off"
    UNLOADED = "unloaded"
    SHUTDOWN = "shutdown"
    NO_PLAN = "no_plan"
    UNCLEAN_RESTART = "unclean_restart"


@dataclass(frozen=True, kw_only=True, slots=True)
class Takeover:
    """An actuator SmartLoad controls, and the value it found there."""

    entity_id: str
    key: str  # the actuator's config key (which safe value applies)
    found: str | None  # its state before SmartLoad's first write
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        """For the Store and diagnostics."""
        return {"key": self.key, "found": self.found, "at": self.at.isoformat()}


@dataclass(frozen=True, kw_only=True, slots=True)
class HandBackEvent:
    """One hand-back: when, why, what each actuator got, what could not be handed back."""

    reason: HandBackReason
    at: datetime
    values: dict[str, str] = field(default_factory=dict)  # entity_id -> the value given back
    problems: tuple[ActuatorProblem, ...] = ()

    def attributes(self) -> dict[str, Any]:
        """The Problem sensor's view."""
        return {
            "handed_back_at": self.at.isoformat(),
            "handed_back_reason": self.reason.value,
            "handed_back": dict(self.values),
            "handed_back_failed": {p.entity_id: p.error for p in self.problems},
        }


class HandBackStore(Store[dict[str, Any]]):
    """The takeovers' Store; later versions migrate here."""

    @override
    async def _async_migrate_func(
        self, old_major_version: int, old_minor_version: int, old_data: dict[str, Any]
    ) -> dict[str, Any]:
        """Version 1 is the only one so far: its minor versions keep the data as it is."""
        return old_data


class HandBack:
    """One entry's takeovers, its last trusted plan and its hand-backs."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry_id: str,
        *,
        timeout: timedelta,
        safe_values: Mapping[str, Any] | None = None,
    ) -> None:
        """Bind to one entry (load with ``async_load``); ``safe_values`` are the options."""
        self.hass = hass
        self.timeout = timeout
        self.safe_values = dict(safe_values or {})
        self.store = HandBackStore(
            hass, STORAGE_VERSION, storage_key(entry_id), minor_version=STORAGE_MINOR_VERSION
        )
        self.taken: dict[str, Takeover] = {}
        self.last_success: datetime | None = None  # the last cycle with a plan to act on
        self.last: HandBackEvent | None = None
        self.recovering = False  # the Store held takeovers at start: SmartLoad did not stop
        self.closed = False  # unloading or stopping: no more takeovers
        # the entry reloads itself (a setting or a car changed): keep control across the reload
        self.keep_on_unload = False
        self.resumed = False  # this run took over the record of a reload

    # -- the Store -------------------------------------------------------------------------------
    async def async_load(self) -> None:
        """Read the takeovers a previous run left (an unreadable file starts empty)."""
        raw = await async_load_store(
            self.hass,
            self.store,
            what="record of the actuators it took over",
            valid=lambda data: isinstance(data, dict),
        )
        raw = raw if isinstance(raw, dict) else {}
        self.taken = {}
        for entity_id, item in (raw.get("taken") or {}).items():
            try:
                self.taken[entity_id] = Takeover(
                    entity_id=str(entity_id),
                    key=str(item.get("key", "")),
                    found=None if item.get("found") is None else str(item["found"]),
                    at=_parse_time(item.get("at")) or dt_util.utcnow(),
                )
            except AttributeError, TypeError, ValueError:
                _LOGGER.debug("Skipping an unreadable takeover of %s", entity_id)
        self.last_success = _parse_time(raw.get("last_success"))
        self.recovering = bool(self.taken)
        self.resumed = bool(raw.get("suspended")) and self.recovering
        if self.resumed:
            _LOGGER.info(
                "SmartLoad reloaded and keeps control of %s once it has planned",
                ", ".join(sorted(self.taken)),
            )
        elif self.recovering:
            _LOGGER.warning(
                "SmartLoad did not stop cleanly and still controls %s; it plans before it writes "
                "anything, and hands them back if it cannot plan",
                ", ".join(sorted(self.taken)),
            )

    def _data(self) -> dict[str, Any]:
        return {
            "taken": {e: t.as_dict() for e, t in self.taken.items()},
            "last_success": self.last_success.isoformat() if self.last_success else None,
        }

    async def _async_save(self) -> None:
        try:
            await self.store.async_save(self._data())
        except Exception:  # a full disk must not break a cycle; the takeover stays in memory
            _LOGGER.exception("SmartLoad could not save its record of the actuators")

    async def async_suspend(self) -> None:
        """The entry reloads: write nothing more, keep the record for the next run (which plans
        before it writes, or hands back at once if it cannot plan)."""
        self.closed = True
        try:
            await self.store.async_save({**self._data(), "suspended": True})
        except Exception:  # the record in memory is lost with this run: hand back instead
            _LOGGER.exception("SmartLoad could not save its record of the actuators")
            await self.async_hand_back(HandBackReason.UNLOADED)

    async def async_remove(self) -> None:
        """The entry is removed: its record goes with it."""
        await self.store.async_remove()

    # -- taking control --------------------------------------------------------------------------
    async def async_take(self, writes: Iterable[Write]) -> list[Write]:
        """Record the value on each actuator written for the first time; the writes allowed.

        Once closed (unloading, stopping) nothing is written any more.
        """
        if self.closed:
            return []
        writes = list(writes)
        now = dt_util.utcnow()
        new = False
        for write in writes:
            if write.entity_id in self.taken:
                continue
            state = self.hass.states.get(write.entity_id)
            self.taken[write.entity_id] = Takeover(
                entity_id=write.entity_id,
                key=write.key,
                found=None if state is None else state.state,
                at=now,
            )
            _LOGGER.info(
                "SmartLoad takes control of %s (found: %s)",
                write.entity_id,
                None if state is None else state.state,
            )
            new = True
        if new:
            await self._async_save()  # before the write: a crash must not lose what was there
        return writes

    def planned(self, now: datetime) -> None:
        """A cycle made a plan to act on (the heartbeat)."""
        self.last_success = now
        self.recovering = False
        self.store.async_delay_save(self._data, SAVE_DELAY_S)

    # -- handing back ------------------------------------------------------------------------
    def target(self, takeover: Takeover) -> str | None:
        """What an actuator gets back: its safe value from the options, else what was found."""
        safe = self.safe_values.get(f"{CONF_HANDBACK_PREFIX}{takeover.key}")
        if safe is None or safe in ("", HANDBACK_RECORDED):
            return takeover.found
        return str(safe)

    def due(self, now: datetime, *, automation: bool, planned: bool) -> HandBackReason | None:
        """The trigger a cycle's outcome fires (None: keep control)."""
        if not self.taken:
            return None
        if not automation:
            return HandBackReason.AUTOMATION_OFF
        if planned:
            return None
        if self.recovering:
            return HandBackReason.UNCLEAN_RESTART
        if self.last_success is None or now - self.last_success >= self.timeout:
            return HandBackReason.NO_PLAN
        return None

    def overdue(self, now: datetime) -> bool:
        """Actuators are controlled and the last trusted plan is older than the timeout."""
        return bool(self.taken) and (
            self.last_success is not None and now - self.last_success >= self.timeout
        )

    async def async_watchdog(self, now: datetime) -> HandBackEvent | None:
        """Between cycles: hand back when no cycle has planned for too long (one that hangs,
        or a clock that stopped), not only when a cycle finds it has no plan."""
        if self.closed or not self.overdue(now):
            return None
        return await self.async_hand_back(HandBackReason.NO_PLAN)

    async def async_after_cycle(
        self, now: datetime, *, automation: bool, planned: bool
    ) -> HandBackEvent | None:
        """Note a plan, or hand back when a trigger fired."""
        if planned:
            self.planned(now)
        if (reason := self.due(now, automation=automation, planned=planned)) is None:
            return None
        return await self.async_hand_back(reason)

    async def async_hand_back(
        self, reason: HandBackReason, *, close: bool = False
    ) -> HandBackEvent:
        """Give every recorded actuator its value back; log once. ``close``: write no more."""
        if close:
            self.closed = True
        now = dt_util.utcnow()
        if not self.taken:
            if close:
                await self._async_save()  # the latest heartbeat, before the entry goes
            return HandBackEvent(reason=reason, at=now)
        problems: list[ActuatorProblem] = []
        values: dict[str, str] = {}
        writes: list[Write] = []
        for takeover in self.taken.values():
            value = self.target(takeover)
            before = len(problems)
            write = restore_write(self.hass, takeover.entity_id, value, problems)
            if len(problems) == before and value is not None:
                values[takeover.entity_id] = value
            if write is not None:
                writes.append(write)
        _done, failed = await async_apply(self.hass, writes)
        problems += failed
        failed_ids = {p.entity_id for p in problems}
        for entity_id in failed_ids:
            values.pop(entity_id, None)
        self.taken = {e: t for e, t in self.taken.items() if e in failed_ids}
        await self._async_save()
        event = HandBackEvent(reason=reason, at=now, values=values, problems=tuple(problems))
        self.last = event
        _LOGGER.warning(
            "SmartLoad handed its actuators back (%s): %s%s",
            reason.value,
            ", ".join(f"{e} = {v}" for e, v in sorted(values.items())) or "none",
            "; could not hand back: " + ", ".join(f"{p.entity_id} ({p.error})" for p in problems)
            if problems
            else "",
        )
        return event

    def summary(self) -> dict[str, Any]:
        """Diagnostics."""
        return {
            "taken": {e: t.as_dict() for e, t in self.taken.items()},
            "last_success": self.last_success.isoformat() if self.last_success else None,
            "timeout_minutes": self.timeout.total_seconds() / 60,
            "recovering": self.recovering,
            "last_hand_back": self.last.attributes() if self.last else None,
        }


def _parse_time(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    return dt_util.parse_datetime(raw)
