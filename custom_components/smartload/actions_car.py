"""The drivers' actions: ``set_departure``, ``boost`` and ``cancel_boost`` (each re-plans at once).

The Boost button and the drivers' "Boost now" answers go through the same functions. A call made
by a user (not by an automation) must come from a user allowed to control the car's entities.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
import probatio as vol

from . import services
from .car_state import DEFAULT_BOOST
from .const import DOMAIN, SLOT
from .coordinator import SmartLoadCoordinator
from .inputs import VehicleConfig

SERVICE_SET_DEPARTURE = "set_departure"
SERVICE_BOOST = "boost"
SERVICE_CANCEL_BOOST = "cancel_boost"
ATTR_TIME = "time"
ATTR_DATE = "date"
ATTR_TARGET_SOC = "target_soc"
ATTR_DURATION = "duration"
MAX_BOOST = timedelta(hours=12)  # a boost to a target ends at the latest after this

# services.ATTR_CONFIG_ENTRY_ID and services.ATTR_VEHICLE (services imports this module)
_CAR = {
    vol.Optional("config_entry_id"): cv.string,
    vol.Required("vehicle"): cv.string,
}
_TARGET = vol.All(vol.Coerce(float), vol.Range(min=10, max=100))
SET_DEPARTURE_SCHEMA = vol.Schema(
    {
        **_CAR,
        vol.Required(ATTR_TIME): cv.time,
        vol.Optional(ATTR_TARGET_SOC): _TARGET,
        vol.Optional(ATTR_DATE): cv.date,
    }
)
BOOST_SCHEMA = vol.Schema(
    {
        **_CAR,
        vol.Optional(ATTR_DURATION): vol.All(
            cv.positive_time_period, vol.Range(min=timedelta(minutes=1), max=MAX_BOOST)
        ),
        vol.Optional(ATTR_TARGET_SOC): _TARGET,
    }
)
CANCEL_BOOST_SCHEMA = vol.Schema(_CAR)


async def async_set_departure(
    coordinator: SmartLoadCoordinator,
    car: VehicleConfig,
    at: time,
    target_pct: float | None = None,
    on: date | None = None,
) -> None:
    """The regular departure (and target), or with ``on`` a one-off that reverts once passed."""
    at = at.replace(second=0, microsecond=0)
    states = coordinator.car_states
    if on is None:
        changes: dict[str, object] = {"departure": at}
        if target_pct is not None:
            changes["target_soc_pct"] = target_pct
        await states.async_update(car.subentry_id, **changes)
    else:
        when = dt_util.as_utc(datetime.combine(on, at, tzinfo=dt_util.get_default_time_zone()))
        if when - dt_util.utcnow() < SLOT:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="departure_in_past",
                translation_placeholders={"departure": f"{on.isoformat()} {at.strftime('%H:%M')}"},
            )
        await states.async_update(car.subentry_id, one_off=when, one_off_target_pct=target_pct)
    await coordinator.async_refresh()


async def async_boost(
    coordinator: SmartLoadCoordinator,
    car: VehicleConfig,
    duration: timedelta | None = None,
    target_pct: float | None = None,
) -> None:
    """Full power now whatever the price: for ``duration``, or up to ``target_pct``, or an hour."""
    if duration is None:
        duration = MAX_BOOST if target_pct is not None else DEFAULT_BOOST
    await coordinator.car_states.async_update(
        car.subentry_id,
        boost_until=dt_util.utcnow() + duration,
        boost_target_pct=target_pct,
    )
    await coordinator.async_refresh()


async def async_cancel_boost(coordinator: SmartLoadCoordinator, car: VehicleConfig) -> None:
    """Back to the plan."""
    await coordinator.car_states.async_update(
        car.subentry_id, boost_until=None, boost_target_pct=None
    )
    await coordinator.async_refresh()


async def _resolve(
    hass: HomeAssistant, call: ServiceCall
) -> tuple[SmartLoadCoordinator, VehicleConfig]:
    """The car, once the calling user (when HA names one) may control its departure entity."""
    entry = services.entry_for_call(hass, call)
    car = services.vehicle_for_call(hass, entry, call)
    await services.async_check_control(hass, call, "time", f"{car.subentry_id}_departure")
    return entry.runtime_data.coordinator, car


@callback
def async_setup_car_actions(hass: HomeAssistant) -> None:
    """Register the drivers' actions."""

    async def set_departure(call: ServiceCall) -> None:
        coordinator, car = await _resolve(hass, call)
        await async_set_departure(
            coordinator,
            car,
            call.data[ATTR_TIME],
            call.data.get(ATTR_TARGET_SOC),
            call.data.get(ATTR_DATE),
        )

    async def boost(call: ServiceCall) -> None:
        coordinator, car = await _resolve(hass, call)
        await async_boost(
            coordinator, car, call.data.get(ATTR_DURATION), call.data.get(ATTR_TARGET_SOC)
        )

    async def cancel_boost(call: ServiceCall) -> None:
        coordinator, car = await _resolve(hass, call)
        await async_cancel_boost(coordinator, car)

    hass.services.async_register(
        DOMAIN, SERVICE_SET_DEPARTURE, set_departure, schema=SET_DEPARTURE_SCHEMA
    )
    hass.services.async_register(DOMAIN, SERVICE_BOOST, boost, schema=BOOST_SCHEMA)
    hass.services.async_register(
        DOMAIN, SERVICE_CANCEL_BOOST, cancel_boost, schema=CANCEL_BOOST_SCHEMA
    )
