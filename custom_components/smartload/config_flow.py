"""Config flow for SmartLoad: the home (main entry), its options and its vehicles (subentries).

The main entry is set up in three forms: the home and its tariff, the home battery (optional) and
the actuators SmartLoad drives through evcc (all optional). The same three forms serve the
reconfigure flow. Each car is a config subentry ("Add vehicle"). Everything is validated in the
form with translated errors; selected entities must exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final, Literal, override

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentry,
    ConfigSubentryFlow,
    OptionsFlowWithReload,
    SubentryFlowResult,
)
from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT
from homeassistant.core import HomeAssistant, callback, split_entity_id
from homeassistant.data_entry_flow import section
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.selector import (
    BooleanSelector,
    EntityFilterSelectorConfig,
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TimeSelector,
)
from homeassistant.util import slugify
import probatio as vol

from .const import (
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
    CONF_HANDBACK_MINUTES,
    CONF_HANDBACK_PREFIX,
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
    DEFAULT_BATTERY_EFFICIENCY,
    DEFAULT_BATTERY_MAX_SOC,
    DEFAULT_BATTERY_MIN_SOC,
    DEFAULT_CHARGER_PHASES,
    DEFAULT_CYCLE_MINUTES,
    DEFAULT_FEED_IN_PRICE,
    DEFAULT_GRID_IMPORT_LIMIT_KW,
    DEFAULT_HANDBACK_MINUTES,
    DEFAULT_HORIZON_HOURS,
    DEFAULT_NAME,
    DEFAULT_VEHICLE_DAILY_USE_KWH,
    DEFAULT_VEHICLE_DEPARTURE,
    DEFAULT_VEHICLE_PRIORITY,
    DEFAULT_VEHICLE_STALE_AFTER_MIN,
    DEFAULT_VEHICLE_TARGET_SOC,
    DEFAULT_WALLBOX_MAX_KW,
    DOMAIN,
    FEED_IN_ENTITY,
    FEED_IN_FIXED,
    HANDBACK_RECORDED,
    HORIZON_CHOICES,
    LOAD_MODEL_AUTO,
    LOAD_MODELS,
    SUBENTRY_VEHICLE,
)
from .notifier import (
    CONF_DRIVER,
    CONF_NOTIFY_ACTION,
    CONF_QUERY_TIME,
    CONF_QUIET_END,
    CONF_QUIET_START,
    CONF_TELEGRAM_CHAT_IDS,
    parse_chat_ids,
)
from .plan_stability import STABILITY_DEFAULTS, stability_fields, stability_options
from .spot_tariff import (
    CONF_SPOT_PRICES,
    CONF_SPOT_SURCHARGE,
    CONF_SPOT_VAT,
    DEFAULT_SPOT_SURCHARGE,
    DEFAULT_SPOT_VAT,
    SPOT_KEYS,
    surcharge_valid,
    vat_valid,
)

MIN_CYCLE_MINUTES: Final = 5
MAX_CYCLE_MINUTES: Final = 60


class FlowError(StrEnum):
    """Error keys shown in the forms (translated under `error` in translations/*.json)."""

    ENTITY_NOT_FOUND = "entity_not_found"
    WRONG_DOMAIN = "wrong_domain"
    UNSUPPORTED_UNIT = "unsupported_unit"
    NAME_EMPTY = "name_empty"
    FEED_IN_PRICE_MISSING = "feed_in_price_missing"
    FEED_IN_ENTITY_MISSING = "feed_in_entity_missing"
    LIMIT_NOT_POSITIVE = "limit_not_positive"
    CAPACITY_NOT_POSITIVE = "capacity_not_positive"
    POWER_NOT_POSITIVE = "power_not_positive"
    MIN_SOC_NOT_BELOW_MAX = "min_soc_not_below_max"
    EFFICIENCY_OUT_OF_RANGE = "efficiency_out_of_range"
    BATTERY_SOC_ENTITY_MISSING = "battery_soc_entity_missing"
    BATTERY_VALUE_MISSING = "battery_value_missing"
    TARGET_SOC_OUT_OF_RANGE = "target_soc_out_of_range"


class OptionsError(StrEnum):
    """Error keys of the options form (translated under `options.error`)."""

    SURCHARGE_NOT_FINITE = "surcharge_not_finite"
    VAT_OUT_OF_RANGE = "vat_out_of_range"


MAIN_ERRORS: Final = frozenset(FlowError) - {FlowError.TARGET_SOC_OUT_OF_RANGE}
VEHICLE_ERRORS: Final = frozenset(
    {
        FlowError.ENTITY_NOT_FOUND,
        FlowError.WRONG_DOMAIN,
        FlowError.UNSUPPORTED_UNIT,
        FlowError.NAME_EMPTY,
        FlowError.CAPACITY_NOT_POSITIVE,
        FlowError.POWER_NOT_POSITIVE,
        FlowError.TARGET_SOC_OUT_OF_RANGE,
    }
)

DEFAULT_OPTIONS: Final[Mapping[str, Any]] = {
    CONF_HORIZON_HOURS: DEFAULT_HORIZON_HOURS,
    CONF_CYCLE_MINUTES: DEFAULT_CYCLE_MINUTES,
    CONF_AUTOMATION: DEFAULT_AUTOMATION,
    CONF_LOAD_MODEL: LOAD_MODEL_AUTO,
}

_BATTERY_SIZING: Final = (
    CONF_BATTERY_CAPACITY_KWH,
    CONF_BATTERY_MAX_CHARGE_KW,
    CONF_BATTERY_MAX_DISCHARGE_KW,
)
_BATTERY_ACTUATORS: Final = (
    CONF_BATTERY_GRID_CHARGE_LIMIT_ENTITY,
    CONF_BATTERY_DISCHARGE_CONTROL_ENTITY,
    CONF_BATTERY_MIN_SOC_ENTITY,
)
# A plain charger (homes without evcc): on/off and its charging current.
_CHARGER_ACTUATORS: Final = (CONF_CHARGER_SWITCH_ENTITY, CONF_CHARGER_CURRENT_ENTITY)
CHARGER_PHASE_CHOICES: Final = (1, 3)
# Every actuator SmartLoad may take over (and hands back), in the forms' order.
ACTUATOR_KEYS: Final = (
    CONF_LOADPOINT_MODE_ENTITY,
    CONF_SMART_COST_LIMIT_ENTITY,
    *_CHARGER_ACTUATORS,
    *_BATTERY_ACTUATORS,
)
MIN_HANDBACK_MINUTES: Final = 15
MAX_HANDBACK_MINUTES: Final = 360


# Selectors ---------------------------------------------------------------------------------------


def _filter(
    *domains: str, device_class: str | list[str] | None = None
) -> EntityFilterSelectorConfig:
    config = EntityFilterSelectorConfig(domain=list(domains))
    if device_class is not None:
        config["device_class"] = device_class
    return config


_SOC_SOURCES: Final = (
    _filter("sensor", device_class="battery"),
    _filter("input_number", "number"),
)

# What each entity field may hold. The picker shows only these; the domains are checked again on
# submit (the selector itself enforces no filter), device classes only guide the picker.
# Actuators also accept input_* helpers so they can be tried on stand-ins before evcc.
ENTITY_FILTERS: Final[Mapping[str, tuple[EntityFilterSelectorConfig, ...]]] = {
    CONF_PRICE_ENTITY: (_filter("sensor"),),
    CONF_FEED_IN_ENTITY: (_filter("sensor", "input_number", "number"),),
    CONF_CONSUMPTION_ENTITY: (_filter("sensor", device_class=["power", "energy"]),),
    CONF_PV_FORECAST_ENTITY: (_filter("sensor", device_class=["energy", "power"]),),
    CONF_PV_POWER_ENTITY: (_filter("sensor", device_class=["power"]),),
    CONF_CONTROLLED_LOAD_ENTITY: (_filter("sensor", device_class=["power", "energy"]),),
    CONF_BATTERY_SOC_ENTITY: _SOC_SOURCES,
    CONF_LOADPOINT_MODE_ENTITY: (_filter("select", "input_select"),),
    CONF_SMART_COST_LIMIT_ENTITY: (_filter("number", "input_number"),),
    CONF_BATTERY_GRID_CHARGE_LIMIT_ENTITY: (_filter("number", "input_number"),),
    CONF_BATTERY_DISCHARGE_CONTROL_ENTITY: (
        _filter("switch", "select", "input_boolean", "input_select"),
    ),
    CONF_BATTERY_MIN_SOC_ENTITY: (_filter("number", "input_number"),),
    CONF_CHARGER_SWITCH_ENTITY: (_filter("switch", "input_boolean"),),
    CONF_CHARGER_CURRENT_ENTITY: (_filter("number", "input_number"),),
    CONF_VEHICLE_SOC_ENTITY: _SOC_SOURCES,
    CONF_VEHICLE_PLUGGED_ENTITY: (_filter("binary_sensor", "sensor", "switch", "input_boolean"),),
    CONF_VEHICLE_SESSION_ENERGY_ENTITY: (_filter("sensor", "input_number", device_class="energy"),),
    CONF_VEHICLE_CHARGE_POWER_ENTITY: (_filter("sensor", "input_number", device_class="power"),),
    CONF_VEHICLE_PRESENCE_ENTITY: (
        _filter("device_tracker", "person", "binary_sensor", "input_boolean"),
    ),
}


# Units the run time understands, for the entities whose unit matters (no unit at all is accepted:
# house power without a unit is read as W or kW by its size, a SoC as %).
ENTITY_UNITS: Final[Mapping[str, frozenset[str]]] = {
    CONF_CONSUMPTION_ENTITY: frozenset({"W", "kW", "MW", "Wh", "kWh", "MWh"}),
    CONF_PV_POWER_ENTITY: frozenset({"W", "kW", "MW"}),
    CONF_CONTROLLED_LOAD_ENTITY: frozenset({"W", "kW", "MW", "Wh", "kWh", "MWh"}),
    CONF_BATTERY_SOC_ENTITY: frozenset({"%"}),
    CONF_VEHICLE_SOC_ENTITY: frozenset({"%"}),
    CONF_BATTERY_MIN_SOC_ENTITY: frozenset({"%"}),
    CONF_CHARGER_CURRENT_ENTITY: frozenset({"A"}),
    CONF_VEHICLE_SESSION_ENERGY_ENTITY: frozenset({"Wh", "kWh", "MWh"}),
    CONF_VEHICLE_CHARGE_POWER_ENTITY: frozenset({"W", "kW", "MW"}),
}


def _entities(key: str) -> EntitySelector:
    """Entity picker for the field `key`."""
    return EntitySelector(EntitySelectorConfig(filter=list(ENTITY_FILTERS[key])))


def _domains(key: str) -> set[str]:
    return {domain for f in ENTITY_FILTERS[key] for domain in f["domain"]}


def _number(
    unit: str | None,
    *,
    minimum: float = 0,
    maximum: float | None = None,
    step: float | Literal["any"] = 0.1,
    mode: NumberSelectorMode = NumberSelectorMode.BOX,
) -> NumberSelector:
    config = NumberSelectorConfig(min=minimum, step=step, mode=mode)
    if maximum is not None:
        config["max"] = maximum
    if unit is not None:
        config["unit_of_measurement"] = unit
    return NumberSelector(config)


def _percent() -> NumberSelector:
    return _number("%", maximum=100, step=1, mode=NumberSelectorMode.SLIDER)


# Schemas -----------------------------------------------------------------------------------------


def home_schema(currency: str) -> vol.Schema:
    """Form 1: the home, its tariff and its grid connection."""
    return vol.Schema(
        {
            vol.Required(CONF_NAME, default=DEFAULT_NAME): TextSelector(),
            vol.Required(CONF_PRICE_ENTITY): _entities(CONF_PRICE_ENTITY),
            vol.Required(CONF_FEED_IN_MODE, default=FEED_IN_FIXED): SelectSelector(
                SelectSelectorConfig(
                    options=[FEED_IN_FIXED, FEED_IN_ENTITY],
                    mode=SelectSelectorMode.LIST,
                    translation_key=CONF_FEED_IN_MODE,
                )
            ),
            vol.Optional(
                CONF_FEED_IN_PRICE, description={"suggested_value": DEFAULT_FEED_IN_PRICE}
            ): _number(f"{currency}/kWh", maximum=1, step="any"),
            vol.Optional(CONF_FEED_IN_ENTITY): _entities(CONF_FEED_IN_ENTITY),
            vol.Required(CONF_CONSUMPTION_ENTITY): _entities(CONF_CONSUMPTION_ENTITY),
            vol.Optional(CONF_CONTROLLED_LOAD_ENTITY): _entities(CONF_CONTROLLED_LOAD_ENTITY),
            vol.Optional(CONF_PV_FORECAST_ENTITY): _entities(CONF_PV_FORECAST_ENTITY),
            vol.Optional(CONF_PV_POWER_ENTITY): _entities(CONF_PV_POWER_ENTITY),
            vol.Required(CONF_GRID_IMPORT_LIMIT_KW, default=DEFAULT_GRID_IMPORT_LIMIT_KW): _number(
                "kW"
            ),
            vol.Optional(CONF_GRID_EXPORT_LIMIT_KW): _number("kW"),
            vol.Required(CONF_WALLBOX_MAX_KW, default=DEFAULT_WALLBOX_MAX_KW): _number("kW"),
        }
    )


def battery_schema() -> vol.Schema:
    """Form 2: the home battery; left empty when there is none."""
    return vol.Schema(
        {
            vol.Optional(CONF_BATTERY_SOC_ENTITY): _entities(CONF_BATTERY_SOC_ENTITY),
            vol.Optional(CONF_BATTERY_CAPACITY_KWH): _number("kWh"),
            vol.Optional(CONF_BATTERY_MAX_CHARGE_KW): _number("kW"),
            vol.Optional(CONF_BATTERY_MAX_DISCHARGE_KW): _number("kW"),
            vol.Required(CONF_BATTERY_MIN_SOC, default=DEFAULT_BATTERY_MIN_SOC): _percent(),
            vol.Required(CONF_BATTERY_MAX_SOC, default=DEFAULT_BATTERY_MAX_SOC): _percent(),
            vol.Required(CONF_BATTERY_EFFICIENCY, default=DEFAULT_BATTERY_EFFICIENCY): _number(
                None, maximum=1, step=0.01
            ),
        }
    )


def actuators_schema(*, with_battery: bool) -> vol.Schema:
    """Form 3: the entities SmartLoad drives (evcc's, or input_* stand-ins); all optional."""
    schema: dict[vol.Marker, Any] = {
        vol.Optional(CONF_LOADPOINT_MODE_ENTITY): _entities(CONF_LOADPOINT_MODE_ENTITY),
        vol.Optional(CONF_SMART_COST_LIMIT_ENTITY): _entities(CONF_SMART_COST_LIMIT_ENTITY),
        vol.Optional(CONF_CHARGER_SWITCH_ENTITY): _entities(CONF_CHARGER_SWITCH_ENTITY),
        vol.Optional(CONF_CHARGER_CURRENT_ENTITY): _entities(CONF_CHARGER_CURRENT_ENTITY),
        vol.Optional(CONF_CHARGER_PHASES, default=str(DEFAULT_CHARGER_PHASES)): SelectSelector(
            SelectSelectorConfig(
                options=[str(p) for p in CHARGER_PHASE_CHOICES],
                mode=SelectSelectorMode.LIST,
                translation_key=CONF_CHARGER_PHASES,
            )
        ),
    }
    if with_battery:
        schema[vol.Optional(CONF_BATTERY_GRID_CHARGE_LIMIT_ENTITY)] = _entities(
            CONF_BATTERY_GRID_CHARGE_LIMIT_ENTITY
        )
        schema[vol.Optional(CONF_BATTERY_DISCHARGE_CONTROL_ENTITY)] = _entities(
            CONF_BATTERY_DISCHARGE_CONTROL_ENTITY
        )
        schema[vol.Optional(CONF_BATTERY_MIN_SOC_ENTITY)] = _entities(CONF_BATTERY_MIN_SOC_ENTITY)
    return vol.Schema(schema)


def handback_fields(hass: HomeAssistant, conf: Mapping[str, Any]) -> dict[vol.Marker, Any]:
    """Options: per configured actuator, the value it gets back (empty: the value found)."""
    fields: dict[vol.Marker, Any] = {}
    for key in ACTUATOR_KEYS:
        if not (entity_id := conf.get(key)):
            continue
        name = f"{CONF_HANDBACK_PREFIX}{key}"
        domain = split_entity_id(entity_id)[0]
        state = hass.states.get(entity_id)
        attrs = state.attributes if state is not None else {}
        if domain in ("select", "input_select"):
            choices = [str(o) for o in attrs.get("options") or ()]
        elif domain in ("switch", "input_boolean"):
            choices = ["on", "off"]
        else:
            config = NumberSelectorConfig(step="any", mode=NumberSelectorMode.BOX)
            if unit := attrs.get(ATTR_UNIT_OF_MEASUREMENT):
                config["unit_of_measurement"] = str(unit)
            fields[vol.Optional(name)] = NumberSelector(config)
            continue
        fields[vol.Optional(name, default=HANDBACK_RECORDED)] = SelectSelector(
            SelectSelectorConfig(
                options=[HANDBACK_RECORDED, *choices],
                mode=SelectSelectorMode.DROPDOWN,
                translation_key="handback_value",
            )
        )
    return fields


def handback_options(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """The hand-back options to store (a value found is the default: not stored)."""
    options: dict[str, Any] = {}
    if user_input.get(CONF_HANDBACK_MINUTES) is not None:
        options[CONF_HANDBACK_MINUTES] = int(user_input[CONF_HANDBACK_MINUTES])
    for key in ACTUATOR_KEYS:
        value = user_input.get(f"{CONF_HANDBACK_PREFIX}{key}")
        if value is None or value in ("", HANDBACK_RECORDED):
            continue
        options[f"{CONF_HANDBACK_PREFIX}{key}"] = value if isinstance(value, str) else float(value)
    return options


def options_schema(extra: Mapping[vol.Marker, Any] | None = None) -> vol.Schema:
    """Options: horizon, cycle length, whether SmartLoad acts, a raw spot price tariff, and
    when and to what the actuators are handed back (``extra``: the per-actuator fields)."""
    return vol.Schema(
        {
            vol.Required(CONF_HORIZON_HOURS, default=str(DEFAULT_HORIZON_HOURS)): vol.All(
                SelectSelector(
                    SelectSelectorConfig(
                        options=[str(hours) for hours in HORIZON_CHOICES],
                        mode=SelectSelectorMode.DROPDOWN,
                        translation_key=CONF_HORIZON_HOURS,
                    )
                ),
                vol.Coerce(int),
            ),
            vol.Required(CONF_CYCLE_MINUTES, default=DEFAULT_CYCLE_MINUTES): vol.All(
                _number(
                    "min",
                    minimum=MIN_CYCLE_MINUTES,
                    maximum=MAX_CYCLE_MINUTES,
                    step=1,
                    mode=NumberSelectorMode.SLIDER,
                ),
                vol.Coerce(int),
            ),
            vol.Required(CONF_AUTOMATION, default=DEFAULT_AUTOMATION): BooleanSelector(),
            vol.Required(CONF_LOAD_MODEL, default=LOAD_MODEL_AUTO): SelectSelector(
                SelectSelectorConfig(
                    options=list(LOAD_MODELS),
                    mode=SelectSelectorMode.DROPDOWN,
                    translation_key=CONF_LOAD_MODEL,
                )
            ),
            # raw spot prices: what the household pays is (spot + surcharge) * (1 + VAT)
            vol.Optional(CONF_SPOT_PRICES): BooleanSelector(),
            vol.Optional(CONF_SPOT_SURCHARGE): NumberSelector(
                NumberSelectorConfig(
                    step="any", mode=NumberSelectorMode.BOX, unit_of_measurement="€/kWh"
                )
            ),
            vol.Optional(CONF_SPOT_VAT): NumberSelector(
                NumberSelectorConfig(
                    step="any", mode=NumberSelectorMode.BOX, unit_of_measurement="%"
                )
            ),
            # hand-back: minutes without a trusted plan before the actuators are handed back
            vol.Optional(CONF_HANDBACK_MINUTES): vol.All(
                _number("min", minimum=MIN_HANDBACK_MINUTES, maximum=MAX_HANDBACK_MINUTES, step=5),
                vol.Coerce(int),
            ),
            # plan stability: minimum gain to change the applied decision, minimum charging block
            **stability_fields(),
            **(extra or {}),
        }
    )


def validate_spot_tariff(user_input: Mapping[str, Any]) -> tuple[dict[str, Any], Errors]:
    """The tariff options (empty when the prices are all-in) and the form's errors."""
    if not user_input.get(CONF_SPOT_PRICES):
        return {}, {}
    surcharge = user_input.get(CONF_SPOT_SURCHARGE, DEFAULT_SPOT_SURCHARGE)
    vat = user_input.get(CONF_SPOT_VAT, DEFAULT_SPOT_VAT)
    errors: Errors = {}
    if not surcharge_valid(surcharge):
        errors[CONF_SPOT_SURCHARGE] = OptionsError.SURCHARGE_NOT_FINITE
    if not vat_valid(vat):
        errors[CONF_SPOT_VAT] = OptionsError.VAT_OUT_OF_RANGE
    if errors:
        return {}, errors
    return {
        CONF_SPOT_PRICES: True,
        CONF_SPOT_SURCHARGE: float(surcharge),
        CONF_SPOT_VAT: float(vat),
    }, {}


def vehicle_schema() -> vol.Schema:
    """A car (config subentry)."""
    return vol.Schema(
        {
            vol.Required(CONF_NAME): TextSelector(),
            vol.Required(CONF_VEHICLE_CAPACITY_KWH): _number("kWh"),
            vol.Required(CONF_VEHICLE_SOC_ENTITY): _entities(CONF_VEHICLE_SOC_ENTITY),
            vol.Required(CONF_VEHICLE_PLUGGED_ENTITY): _entities(CONF_VEHICLE_PLUGGED_ENTITY),
            vol.Required(CONF_VEHICLE_MAX_CHARGE_KW): _number("kW"),
            vol.Required(CONF_VEHICLE_TARGET_SOC, default=DEFAULT_VEHICLE_TARGET_SOC): _percent(),
            vol.Required(CONF_VEHICLE_DEPARTURE, default=DEFAULT_VEHICLE_DEPARTURE): TimeSelector(),
            vol.Required(CONF_VEHICLE_PRIORITY, default=DEFAULT_VEHICLE_PRIORITY): vol.All(
                _number(None, minimum=1, maximum=5, step=1, mode=NumberSelectorMode.SLIDER),
                vol.Coerce(int),
            ),
            vol.Required(
                CONF_VEHICLE_DAILY_USE_KWH, default=DEFAULT_VEHICLE_DAILY_USE_KWH
            ): _number("kWh", maximum=200),
            # a SoC you can trust (optional): what tells the energy delivered, and when to stop
            # believing a SoC that does not move while the car charges; who is at home
            vol.Optional(CONF_VEHICLE_SESSION_ENERGY_ENTITY): _entities(
                CONF_VEHICLE_SESSION_ENERGY_ENTITY
            ),
            vol.Optional(CONF_VEHICLE_CHARGE_POWER_ENTITY): _entities(
                CONF_VEHICLE_CHARGE_POWER_ENTITY
            ),
            vol.Required(
                CONF_VEHICLE_STALE_AFTER_MIN, default=DEFAULT_VEHICLE_STALE_AFTER_MIN
            ): vol.All(_number("min", minimum=5, maximum=720, step=5), vol.Coerce(int)),
            vol.Optional(CONF_VEHICLE_PRESENCE_ENTITY): _entities(CONF_VEHICLE_PRESENCE_ENTITY),
            vol.Optional(CONF_DRIVER): section(driver_schema(), {"collapsed": True}),
        }
    )


def driver_schema() -> vol.Schema:
    """How to reach the car's driver (all optional): the vehicle form's collapsed section."""
    return vol.Schema(
        {
            vol.Optional(CONF_NOTIFY_ACTION): TextSelector(),
            vol.Optional(CONF_TELEGRAM_CHAT_IDS): TextSelector(),
            vol.Optional(CONF_QUIET_START): TimeSelector(),
            vol.Optional(CONF_QUIET_END): TimeSelector(),
            vol.Optional(CONF_QUERY_TIME): TimeSelector(),
        }
    )


class DriverError(StrEnum):
    """Errors of the vehicle form's driver section (translated under the vehicle's `error`)."""

    NOTIFY_ACTION_INVALID = "notify_action_invalid"
    CHAT_IDS_INVALID = "chat_ids_invalid"
    QUIET_HOURS_INCOMPLETE = "quiet_hours_incomplete"


def validate_driver(raw: Any) -> tuple[dict[str, Any], Errors]:
    """The driver section as stored (times as "HH:MM:SS", empty fields left out) and errors."""
    if not isinstance(raw, Mapping):
        return {}, {}
    errors: Errors = {}
    driver: dict[str, Any] = {}
    action = str(raw.get(CONF_NOTIFY_ACTION) or "").strip()
    if action:
        domain, _, service = action.partition(".")
        if domain != "notify" or not service or slugify(service) != service:
            errors["base"] = DriverError.NOTIFY_ACTION_INVALID
        driver[CONF_NOTIFY_ACTION] = action
    chats = str(raw.get(CONF_TELEGRAM_CHAT_IDS) or "").strip()
    if chats:
        try:
            driver[CONF_TELEGRAM_CHAT_IDS] = ", ".join(str(c) for c in parse_chat_ids(chats))
        except ValueError:
            errors["base"] = DriverError.CHAT_IDS_INVALID
    for key in (CONF_QUIET_START, CONF_QUIET_END, CONF_QUERY_TIME):
        if raw.get(key):
            driver[key] = cv.time(raw[key]).replace(microsecond=0).isoformat()
    if (CONF_QUIET_START in driver) != (CONF_QUIET_END in driver):
        errors["base"] = DriverError.QUIET_HOURS_INCOMPLETE
    return driver, errors


# Validation --------------------------------------------------------------------------------------

type Errors = dict[str, str]


# Entities read only with their unit (the PV power is compared with a forecast in kW).
UNIT_REQUIRED: Final = frozenset(
    {CONF_PV_POWER_ENTITY, CONF_CONTROLLED_LOAD_ENTITY, CONF_CHARGER_CURRENT_ENTITY}
)


def _unit_fits(key: str, unit: Any) -> bool:
    if not unit:
        return key not in UNIT_REQUIRED
    return key not in ENTITY_UNITS or str(unit).strip() in ENTITY_UNITS[key]


def _check_entities(hass: HomeAssistant, data: Mapping[str, Any], keys: tuple[str, ...]) -> Errors:
    """Each selected entity must be of an allowed domain and exist in the state machine
    (unavailable is fine: it may be starting up; the coordinator copes with that at run time)."""
    errors: Errors = {}
    for key in keys:
        if not (entity_id := data.get(key)):
            continue
        if split_entity_id(entity_id)[0] not in _domains(key):
            errors[key] = FlowError.WRONG_DOMAIN
        elif (state := hass.states.get(entity_id)) is None:
            errors[key] = FlowError.ENTITY_NOT_FOUND
        elif not _unit_fits(key, state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)):
            errors[key] = FlowError.UNSUPPORTED_UNIT
    return errors


def validate_home(
    hass: HomeAssistant, user_input: Mapping[str, Any]
) -> tuple[dict[str, Any], Errors]:
    """Validate form 1; return the entry data it contributes and the errors."""
    mode = user_input[CONF_FEED_IN_MODE]
    entities = (
        CONF_PRICE_ENTITY,
        CONF_CONSUMPTION_ENTITY,
        CONF_CONTROLLED_LOAD_ENTITY,
        CONF_PV_FORECAST_ENTITY,
        CONF_PV_POWER_ENTITY,
    )
    if mode == FEED_IN_ENTITY:  # an entity left in the form under a fixed tariff is ignored
        entities = (*entities, CONF_FEED_IN_ENTITY)
    errors = _check_entities(hass, user_input, entities)
    name = str(user_input.get(CONF_NAME, "")).strip()
    if not name:
        errors[CONF_NAME] = FlowError.NAME_EMPTY
    if mode == FEED_IN_FIXED and user_input.get(CONF_FEED_IN_PRICE) is None:
        errors[CONF_FEED_IN_PRICE] = FlowError.FEED_IN_PRICE_MISSING
    if mode == FEED_IN_ENTITY and not user_input.get(CONF_FEED_IN_ENTITY):
        errors[CONF_FEED_IN_ENTITY] = FlowError.FEED_IN_ENTITY_MISSING
    for key in (CONF_GRID_IMPORT_LIMIT_KW, CONF_WALLBOX_MAX_KW):
        if user_input[key] <= 0:
            errors[key] = FlowError.LIMIT_NOT_POSITIVE
    if errors:
        return {}, errors

    data: dict[str, Any] = {
        CONF_NAME: name,
        CONF_PRICE_ENTITY: user_input[CONF_PRICE_ENTITY],
        CONF_FEED_IN_MODE: mode,
        CONF_CONSUMPTION_ENTITY: user_input[CONF_CONSUMPTION_ENTITY],
        CONF_GRID_IMPORT_LIMIT_KW: float(user_input[CONF_GRID_IMPORT_LIMIT_KW]),
        CONF_WALLBOX_MAX_KW: float(user_input[CONF_WALLBOX_MAX_KW]),
    }
    if mode == FEED_IN_FIXED:
        data[CONF_FEED_IN_PRICE] = float(user_input[CONF_FEED_IN_PRICE])
    else:
        data[CONF_FEED_IN_ENTITY] = user_input[CONF_FEED_IN_ENTITY]
    if user_input.get(CONF_PV_FORECAST_ENTITY):
        data[CONF_PV_FORECAST_ENTITY] = user_input[CONF_PV_FORECAST_ENTITY]
    if user_input.get(CONF_PV_POWER_ENTITY):
        data[CONF_PV_POWER_ENTITY] = user_input[CONF_PV_POWER_ENTITY]
    if user_input.get(CONF_CONTROLLED_LOAD_ENTITY):
        data[CONF_CONTROLLED_LOAD_ENTITY] = user_input[CONF_CONTROLLED_LOAD_ENTITY]
    # 0 is a valid export limit: a "Nulleinspeisung" system must not feed in at all.
    if user_input.get(CONF_GRID_EXPORT_LIMIT_KW) is not None:
        data[CONF_GRID_EXPORT_LIMIT_KW] = float(user_input[CONF_GRID_EXPORT_LIMIT_KW])
    return data, {}


def validate_battery(
    hass: HomeAssistant, user_input: Mapping[str, Any]
) -> tuple[dict[str, Any], Errors]:
    """Validate form 2; an empty form (no SoC entity, no sizes) means "no home battery"."""
    if not user_input.get(CONF_BATTERY_SOC_ENTITY):
        if any(user_input.get(key) is not None for key in _BATTERY_SIZING):
            return {}, {CONF_BATTERY_SOC_ENTITY: FlowError.BATTERY_SOC_ENTITY_MISSING}
        return {}, {}

    errors = _check_entities(hass, user_input, (CONF_BATTERY_SOC_ENTITY,))
    for key in _BATTERY_SIZING:
        value = user_input.get(key)
        if value is None:
            errors[key] = FlowError.BATTERY_VALUE_MISSING
        elif value <= 0:
            errors[key] = (
                FlowError.CAPACITY_NOT_POSITIVE
                if key == CONF_BATTERY_CAPACITY_KWH
                else FlowError.POWER_NOT_POSITIVE
            )
    if user_input[CONF_BATTERY_MIN_SOC] >= user_input[CONF_BATTERY_MAX_SOC]:
        errors[CONF_BATTERY_MIN_SOC] = FlowError.MIN_SOC_NOT_BELOW_MAX
    if not 0 < user_input[CONF_BATTERY_EFFICIENCY] <= 1:
        errors[CONF_BATTERY_EFFICIENCY] = FlowError.EFFICIENCY_OUT_OF_RANGE
    if errors:
        return {}, errors

    data: dict[str, Any] = {CONF_BATTERY_SOC_ENTITY: user_input[CONF_BATTERY_SOC_ENTITY]}
    for key in (
        *_BATTERY_SIZING,
        CONF_BATTERY_MIN_SOC,
        CONF_BATTERY_MAX_SOC,
        CONF_BATTERY_EFFICIENCY,
    ):
        data[key] = float(user_input[key])
    return data, {}


def validate_actuators(
    hass: HomeAssistant, user_input: Mapping[str, Any], *, with_battery: bool
) -> tuple[dict[str, Any], Errors]:
    """Validate form 3: only the entities that were chosen, each of which must exist."""
    keys: tuple[str, ...] = (
        CONF_LOADPOINT_MODE_ENTITY,
        CONF_SMART_COST_LIMIT_ENTITY,
        *_CHARGER_ACTUATORS,
    )
    if with_battery:
        keys = (*keys, *_BATTERY_ACTUATORS)
    if errors := _check_entities(hass, user_input, keys):
        return {}, errors
    data = {key: user_input[key] for key in keys if user_input.get(key)}
    if user_input.get(CONF_CHARGER_CURRENT_ENTITY):  # the phases turn power into current
        data[CONF_CHARGER_PHASES] = int(user_input.get(CONF_CHARGER_PHASES, DEFAULT_CHARGER_PHASES))
    return data, {}


def validate_vehicle(
    hass: HomeAssistant, user_input: Mapping[str, Any]
) -> tuple[dict[str, Any], Errors]:
    """Validate a car; return its subentry data and the errors."""
    optional = (
        CONF_VEHICLE_SESSION_ENERGY_ENTITY,
        CONF_VEHICLE_CHARGE_POWER_ENTITY,
        CONF_VEHICLE_PRESENCE_ENTITY,
    )
    errors = _check_entities(
        hass, user_input, (CONF_VEHICLE_SOC_ENTITY, CONF_VEHICLE_PLUGGED_ENTITY, *optional)
    )
    name = str(user_input.get(CONF_NAME, "")).strip()
    if not name:
        errors[CONF_NAME] = FlowError.NAME_EMPTY
    if user_input[CONF_VEHICLE_CAPACITY_KWH] <= 0:
        errors[CONF_VEHICLE_CAPACITY_KWH] = FlowError.CAPACITY_NOT_POSITIVE
    if user_input[CONF_VEHICLE_MAX_CHARGE_KW] <= 0:
        errors[CONF_VEHICLE_MAX_CHARGE_KW] = FlowError.POWER_NOT_POSITIVE
    if not 1 <= user_input[CONF_VEHICLE_TARGET_SOC] <= 100:
        errors[CONF_VEHICLE_TARGET_SOC] = FlowError.TARGET_SOC_OUT_OF_RANGE
    driver, driver_errors = validate_driver(user_input.get(CONF_DRIVER))
    errors |= driver_errors
    if errors:
        return {}, errors
    departure = cv.time(user_input[CONF_VEHICLE_DEPARTURE])  # TimeSelector checked it
    return {
        CONF_NAME: name,
        CONF_VEHICLE_CAPACITY_KWH: float(user_input[CONF_VEHICLE_CAPACITY_KWH]),
        CONF_VEHICLE_SOC_ENTITY: user_input[CONF_VEHICLE_SOC_ENTITY],
        CONF_VEHICLE_PLUGGED_ENTITY: user_input[CONF_VEHICLE_PLUGGED_ENTITY],
        CONF_VEHICLE_MAX_CHARGE_KW: float(user_input[CONF_VEHICLE_MAX_CHARGE_KW]),
        CONF_VEHICLE_TARGET_SOC: float(user_input[CONF_VEHICLE_TARGET_SOC]),
        CONF_VEHICLE_DEPARTURE: departure.replace(microsecond=0).isoformat(),
        CONF_VEHICLE_DAILY_USE_KWH: float(
            user_input.get(CONF_VEHICLE_DAILY_USE_KWH, DEFAULT_VEHICLE_DAILY_USE_KWH)
        ),
        CONF_VEHICLE_PRIORITY: int(user_input[CONF_VEHICLE_PRIORITY]),
        CONF_VEHICLE_STALE_AFTER_MIN: int(
            user_input.get(CONF_VEHICLE_STALE_AFTER_MIN, DEFAULT_VEHICLE_STALE_AFTER_MIN)
        ),
        **{key: user_input[key] for key in optional if user_input.get(key)},
    } | ({CONF_DRIVER: driver} if driver else {}), {}


def entry_unique_id(data: Mapping[str, Any]) -> str:
    """One SmartLoad per price source and name."""
    return f"{data[CONF_PRICE_ENTITY]}_{slugify(data[CONF_NAME])}"


# Main entry --------------------------------------------------------------------------------------


class SmartLoadConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up (or reconfigure) one SmartLoad home: home → battery → actuators."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        """Start with nothing collected."""
        self._home: dict[str, Any] = {}
        self._battery: dict[str, Any] = {}

    @staticmethod
    @callback
    @override
    def async_get_options_flow(config_entry: ConfigEntry) -> SmartLoadOptionsFlow:
        """Horizon, cycle and automation."""
        return SmartLoadOptionsFlow()

    @classmethod
    @callback
    @override
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Cars are subentries."""
        return {SUBENTRY_VEHICLE: VehicleSubentryFlow}

    @property
    def _previous(self) -> Mapping[str, Any] | None:
        """The data being reconfigured, or None for a new entry."""
        if self.source == SOURCE_RECONFIGURE:
            return self._get_reconfigure_entry().data
        return None

    @override
    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Form 1 of a new entry: the home and its tariff."""
        return await self._async_step_home("user", user_input)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Form 1 of a reconfiguration: the home and its tariff, prefilled."""
        return await self._async_step_home("reconfigure", user_input)

    async def _async_step_home(
        self, step_id: str, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        errors: Errors = {}
        if user_input is not None:
            home, errors = validate_home(self.hass, user_input)
            if not errors:
                unique_id = entry_unique_id(home)
                existing = self.hass.config_entries.async_entry_for_domain_unique_id(
                    DOMAIN, unique_id
                )
                if existing is not None and existing.entry_id != self.context.get("entry_id"):
                    return self.async_abort(reason="already_configured")
                await self.async_set_unique_id(unique_id)
                self._home = home
                return await self.async_step_battery()
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(
                home_schema(self.hass.config.currency), user_input or self._previous
            ),
            errors=errors,
        )

    async def async_step_battery(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Form 2: the home battery (optional)."""
        errors: Errors = {}
        if user_input is not None:
            self._battery, errors = validate_battery(self.hass, user_input)
            if not errors:
                return await self.async_step_actuators()
        return self.async_show_form(
            step_id="battery",
            data_schema=self.add_suggested_values_to_schema(
                battery_schema(), user_input or self._previous
            ),
            errors=errors,
        )

    async def async_step_actuators(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Form 3: what SmartLoad may drive (optional); then create or update the entry."""
        errors: Errors = {}
        with_battery = bool(self._battery)
        if user_input is not None:
            actuators, errors = validate_actuators(self.hass, user_input, with_battery=with_battery)
            if not errors:
                return self._async_finish({**self._home, **self._battery, **actuators})
        return self.async_show_form(
            step_id="actuators",
            data_schema=self.add_suggested_values_to_schema(
                actuators_schema(with_battery=with_battery), user_input or self._previous
            ),
            errors=errors,
            last_step=True,
        )

    @callback
    def _async_finish(self, data: dict[str, Any]) -> ConfigFlowResult:
        title = data[CONF_NAME]
        if self.source != SOURCE_RECONFIGURE:
            return self.async_create_entry(title=title, data=data, options=dict(DEFAULT_OPTIONS))
        entry = self._get_reconfigure_entry()
        if entry.update_listeners:  # the integration reloads itself on every update
            return self.async_update_and_abort(
                entry, unique_id=self.unique_id, title=title, data=data
            )
        return self.async_update_reload_and_abort(
            entry, unique_id=self.unique_id, title=title, data=data
        )


# Options -----------------------------------------------------------------------------------------


class SmartLoadOptionsFlow(OptionsFlowWithReload):
    """Horizon, cycle length and automation on/off; the entry reloads when they change."""

    @property  # type: ignore[override]
    def automatic_reload(self) -> bool:
        """Reload here unless the integration's own update listener does it."""
        return not self.config_entry.update_listeners

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """The only options form."""
        errors: Errors = {}
        if user_input is not None:
            tariff, errors = validate_spot_tariff(user_input)
            if not errors:
                kept = {
                    k: v
                    for k, v in self.config_entry.options.items()
                    if k not in SPOT_KEYS
                    and not k.startswith(CONF_HANDBACK_PREFIX)
                    and k not in STABILITY_DEFAULTS
                }
                return self.async_create_entry(
                    data={
                        **kept,
                        CONF_HORIZON_HOURS: int(user_input[CONF_HORIZON_HOURS]),
                        CONF_CYCLE_MINUTES: int(user_input[CONF_CYCLE_MINUTES]),
                        CONF_AUTOMATION: bool(user_input[CONF_AUTOMATION]),
                        CONF_LOAD_MODEL: str(user_input[CONF_LOAD_MODEL]),
                        **tariff,
                        **handback_options(user_input),
                        **stability_options(user_input),
                    }
                )
        current = {
            **DEFAULT_OPTIONS,
            CONF_SPOT_PRICES: False,
            CONF_SPOT_SURCHARGE: DEFAULT_SPOT_SURCHARGE,
            CONF_SPOT_VAT: DEFAULT_SPOT_VAT,
            CONF_HANDBACK_MINUTES: DEFAULT_HANDBACK_MINUTES,
            **STABILITY_DEFAULTS,
            **self.config_entry.options,
        }
        current[CONF_HORIZON_HOURS] = str(current[CONF_HORIZON_HOURS])
        extra = handback_fields(self.hass, self.config_entry.data)
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                options_schema(extra), user_input or current
            ),
            errors=errors,
        )


# Vehicles ----------------------------------------------------------------------------------------


class VehicleSubentryFlow(ConfigSubentryFlow):
    """Add or edit one car."""

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Add a vehicle."""
        return await self._async_step_vehicle("user", user_input, None)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Edit a vehicle."""
        return await self._async_step_vehicle(
            "reconfigure", user_input, self._get_reconfigure_subentry()
        )

    async def _async_step_vehicle(
        self,
        step_id: str,
        user_input: dict[str, Any] | None,
        current: ConfigSubentry | None,
    ) -> SubentryFlowResult:
        entry = self._get_entry()
        errors: Errors = {}
        if user_input is not None:
            vehicle, errors = validate_vehicle(self.hass, user_input)
            if not errors:
                if _vehicle_taken(entry, vehicle, current):
                    return self.async_abort(reason="already_configured")
                unique_id = vehicle[CONF_VEHICLE_SOC_ENTITY]
                title = vehicle[CONF_NAME]
                if current is None:
                    return self.async_create_entry(title=title, data=vehicle, unique_id=unique_id)
                if entry.update_listeners:
                    return self.async_update_and_abort(
                        entry, current, unique_id=unique_id, title=title, data=vehicle
                    )
                return self.async_update_reload_and_abort(
                    entry, current, unique_id=unique_id, title=title, data=vehicle
                )
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(
                vehicle_schema(), user_input or (current.data if current else None)
            ),
            errors=errors,
        )


def _vehicle_taken(
    entry: ConfigEntry, vehicle: Mapping[str, Any], current: ConfigSubentry | None
) -> bool:
    """Another car of this home already uses this SoC entity or this name."""
    name = vehicle[CONF_NAME].casefold()
    for other in entry.get_subentries_of_type(SUBENTRY_VEHICLE):
        if current is not None and other.subentry_id == current.subentry_id:
            continue
        soc_entity = vehicle[CONF_VEHICLE_SOC_ENTITY]
        if soc_entity in (other.unique_id, other.data.get(CONF_VEHICLE_SOC_ENTITY)):
            return True
        if str(other.data.get(CONF_NAME, other.title)).casefold() == name:
            return True
    return False
