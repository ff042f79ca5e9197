"""Constants of SmartLoad: config keys shared by the flow, the coordinator and tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

DOMAIN: Final = "smartload"

# Main entry: data keys -------------------------------------------------------------------------
CONF_NAME: Final = "name"
CONF_PRICE_ENTITY: Final = "price_entity"
CONF_FEED_IN_MODE: Final = "feed_in_mode"  # "fixed" | "entity"
CONF_FEED_IN_PRICE: Final = "feed_in_price"  # €/kWh when fixed
CONF_FEED_IN_ENTITY: Final = "feed_in_entity"
FEED_IN_FIXED: Final = "fixed"  # values of CONF_FEED_IN_MODE
FEED_IN_ENTITY: Final = "entity"
CONF_GRID_IMPORT_LIMIT_KW: Final = "grid_import_limit_kw"
CONF_GRID_EXPORT_LIMIT_KW: Final = "grid_export_limit_kw"
CONF_CONSUMPTION_ENTITY: Final = "consumption_entity"
CONF_PV_FORECAST_ENTITY: Final = "pv_forecast_entity"
# realised PV power (optional): the PV forecast's recent error, its confidence without p10/p90
CONF_PV_POWER_ENTITY: Final = "pv_power_entity"
CONF_WALLBOX_MAX_KW: Final = "wallbox_max_kw"
# the power (or energy) of loads SmartLoad controls that the consumption entity includes, typically
# the wallbox's: subtracted from the consumption, so that the forecast learns the base load
CONF_CONTROLLED_LOAD_ENTITY: Final = "controlled_load_entity"

# Home battery (optional; present when CONF_BATTERY_SOC_ENTITY is set)
CONF_BATTERY_SOC_ENTITY: Final = "battery_soc_entity"
CONF_BATTERY_CAPACITY_KWH: Final = "battery_capacity_kwh"
CONF_BATTERY_MAX_CHARGE_KW: Final = "battery_max_charge_kw"
CONF_BATTERY_MAX_DISCHARGE_KW: Final = "battery_max_discharge_kw"
CONF_BATTERY_MIN_SOC: Final = "battery_min_soc"  # %
CONF_BATTERY_MAX_SOC: Final = "battery_max_soc"  # %
CONF_BATTERY_EFFICIENCY: Final = "battery_efficiency"  # round trip, (0, 1]

# Actuators (all optional entity ids)
CONF_LOADPOINT_MODE_ENTITY: Final = "loadpoint_mode_entity"  # select
CONF_SMART_COST_LIMIT_ENTITY: Final = "smart_cost_limit_entity"  # number
CONF_BATTERY_GRID_CHARGE_LIMIT_ENTITY: Final = "battery_grid_charge_limit_entity"  # number
CONF_BATTERY_DISCHARGE_CONTROL_ENTITY: Final = "battery_discharge_control_entity"  # switch | select
# the inverter's (or evcc's) battery reserve / minimum SoC: set to the plan's dynamic minimum
CONF_BATTERY_MIN_SOC_ENTITY: Final = "battery_min_soc_entity"  # number, %
# a plain charger without evcc: on/off and the charging current
CONF_CHARGER_SWITCH_ENTITY: Final = "charger_switch_entity"  # switch
CONF_CHARGER_CURRENT_ENTITY: Final = "charger_current_entity"  # number, A
CONF_CHARGER_PHASES: Final = "charger_phases"  # 1 | 3
DEFAULT_CHARGER_PHASES: Final = 3
CHARGER_VOLTAGE_V: Final = 230.0  # per phase

# Options
CONF_HORIZON_HOURS: Final = "horizon_hours"
CONF_CYCLE_MINUTES: Final = "cycle_minutes"
CONF_AUTOMATION: Final = "automation"
# hand-back: minutes without a trusted plan before the actuators are handed back; per actuator
# the value it gets back (f"{CONF_HANDBACK_PREFIX}{actuator key}"; absent: the value found)
CONF_HANDBACK_MINUTES: Final = "handback_minutes"
CONF_HANDBACK_PREFIX: Final = "handback_"
DEFAULT_HANDBACK_MINUTES: Final = 45
HANDBACK_RECORDED: Final = "recorded"  # the safe value "what SmartLoad found"
# the consumption forecast's model: "auto" (the better in the backtest), "profile" (never SARIMA:
# least CPU), "sarima" (SARIMA whenever it can be fitted; a repair issue without statsmodels)
CONF_LOAD_MODEL: Final = "load_model"
LOAD_MODEL_AUTO: Final = "auto"
LOAD_MODEL_PROFILE: Final = "profile"
LOAD_MODEL_SARIMA: Final = "sarima"
LOAD_MODELS: Final = (LOAD_MODEL_AUTO, LOAD_MODEL_PROFILE, LOAD_MODEL_SARIMA)
# plan stability (plan_stability.py): a new plan changes what is applied only when it saves at
# least this much; a car's minimum charging block; a price revision that counts as new
CONF_STABILITY_MIN_GAIN_EUR: Final = "stability_min_gain_eur"
CONF_MIN_CHARGE_BLOCK_MINUTES: Final = "min_charge_block_minutes"
CONF_REPLAN_PRICE_DELTA_CT: Final = "replan_price_delta_ct"
DEFAULT_STABILITY_MIN_GAIN_EUR: Final = 0.05
DEFAULT_MIN_CHARGE_BLOCK_MINUTES: Final = 30.0
DEFAULT_REPLAN_PRICE_DELTA_CT: Final = 3.0

DEFAULT_NAME: Final = "SmartLoad"
DEFAULT_FEED_IN_PRICE: Final = 0.0796
DEFAULT_GRID_IMPORT_LIMIT_KW: Final = 17.0
DEFAULT_WALLBOX_MAX_KW: Final = 11.0
DEFAULT_BATTERY_MIN_SOC: Final = 10.0
DEFAULT_BATTERY_MAX_SOC: Final = 100.0
DEFAULT_BATTERY_EFFICIENCY: Final = 0.90
DEFAULT_HORIZON_HOURS: Final = 48
HORIZON_CHOICES: Final = (24, 36, 48)
DEFAULT_CYCLE_MINUTES: Final = 15
DEFAULT_AUTOMATION: Final = True

# Vehicle subentries ----------------------------------------------------------------------------
SUBENTRY_VEHICLE: Final = "vehicle"
CONF_VEHICLE_CAPACITY_KWH: Final = "capacity_kwh"
CONF_VEHICLE_SOC_ENTITY: Final = "soc_entity"
CONF_VEHICLE_PLUGGED_ENTITY: Final = "plugged_entity"
CONF_VEHICLE_MAX_CHARGE_KW: Final = "max_charge_kw"
CONF_VEHICLE_TARGET_SOC: Final = "target_soc"  # %
CONF_VEHICLE_DEPARTURE: Final = "departure_time"  # "HH:MM:SS"
CONF_VEHICLE_PRIORITY: Final = "priority"  # 1 (highest) .. 5
# Energy the car typically uses per day: what a kWh above the target is worth planning for.
CONF_VEHICLE_DAILY_USE_KWH: Final = "daily_use_kwh"

DEFAULT_VEHICLE_TARGET_SOC: Final = 80.0
DEFAULT_VEHICLE_DEPARTURE: Final = "07:00:00"
DEFAULT_VEHICLE_PRIORITY: Final = 3
DEFAULT_VEHICLE_DAILY_USE_KWH: Final = 8.0  # ≈ 45 km a day
DEFAULT_VEHICLE_EFFICIENCY: Final = 0.9

# Runtime ---------------------------------------------------------------------------------------
SLOT: Final = timedelta(minutes=15)
STATE_CHANGE_DEBOUNCE_S: Final = 10.0

# Cars: SoC you can trust and the charge sequencer (optional vehicle subentry fields) -----------
CONF_VEHICLE_SESSION_ENERGY_ENTITY: Final = "session_energy_entity"  # wallbox session kWh
CONF_VEHICLE_CHARGE_POWER_ENTITY: Final = "charge_power_entity"  # W/kW into this car
CONF_VEHICLE_PRESENCE_ENTITY: Final = "presence_entity"  # at home (device_tracker, person, ...)
CONF_VEHICLE_STALE_AFTER_MIN: Final = "stale_after_min"  # SoC stale after this while charging
DEFAULT_VEHICLE_STALE_AFTER_MIN: Final = 30
DEFAULT_OVERRIDE_MIN: Final = 90  # a manual sequencer override lasts this long
# Fired for a driver (delivered by the driver channel): data config_entry_id, vehicle, kind,
# placeholders. Kinds from the sequencer: "starvation", "vacancy".
EVENT_DRIVER_MESSAGE: Final = "smartload_driver_message"
