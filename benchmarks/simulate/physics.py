"""What really happens in one slot when a Decision meets the true load and PV.

The battery is not driven by a power setpoint: it runs in a MODE (as evcc drives a real inverter)
and the inverter absorbs whatever the real net load turns out to be. The wallbox runs in an evcc
loadpoint mode. One meter: the net of everything is imported or exported.
"""

from __future__ import annotations

from dataclasses import dataclass

from custom_components.smartload.planner.model import BatteryMode, Decision, LoadpointMode

from .home import CarParams, HomeParams


@dataclass(frozen=True, slots=True)
class SlotOutcome:
    """Average powers over the slot (kW), the states at its end and the booked cost."""

    grid_import_kw: float
    grid_export_kw: float
    battery_charge_kw: float  # AC power into the battery
    battery_discharge_kw: float  # AC power out of the battery
    battery_soc_kwh: float
    car_kw: float  # AC power into the active car
    car_name: str | None
    car_soc_kwh: float | None  # the active car's energy at the slot's end
    cost_eur: float


def car_power(
    decision: Decision,
    car: CarParams,
    car_soc_kwh: float,
    *,
    surplus_kw: float,
    import_price: float,
    home: HomeParams,
    dt_h: float,
) -> float:
    """AC power the wallbox delivers to the active car in this slot."""
    room_kw = max(0.0, (car.limit_kwh - car_soc_kwh) / (car.charge_efficiency * dt_h))
    top = min(home.wallbox_max_kw, car.max_charge_kw, room_kw)
    if top <= 1e-9:
        return 0.0
    low = min(home.wallbox_min_kw, top)
    mode = decision.loadpoint_mode
    limit = decision.smart_cost_limit_eur_per_kwh
    if mode is LoadpointMode.PV and limit is not None and import_price <= limit + 1e-12:
        # evcc: below the smart cost limit, PV mode charges at full power from the grid.
        mode = LoadpointMode.NOW
        want = top
    else:
        want = decision.vehicle_charge_kw
    match mode:
        case LoadpointMode.OFF:
            return 0.0
        case LoadpointMode.PV:
            return min(top, surplus_kw) if surplus_kw >= low else 0.0
        case LoadpointMode.MINPV:
            return min(top, max(low, surplus_kw))
        case LoadpointMode.NOW:
            return min(top, max(low, want))
    return 0.0


def battery_power(
    mode: BatteryMode,
    *,
    net_kw: float,
    soc_kwh: float,
    target_soc_kwh: float | None,
    grid_charge_allowed: bool,
    home: HomeParams,
    dt_h: float,
) -> tuple[float, float]:
    """(charge, discharge) in kW for a battery mode facing the real net load ``net_kw``.

    ``net_kw`` = load + car − PV (positive: the house needs power).
    """
    if not home.has_battery:
        return 0.0, 0.0
    eta_c = home.battery_charge_efficiency
    eta_d = home.battery_discharge_efficiency
    room_kw = max(0.0, (home.battery_capacity_kwh - soc_kwh) / (eta_c * dt_h))
    avail_kw = max(0.0, (soc_kwh - home.battery_min_kwh) * eta_d / dt_h)
    max_ch = min(home.battery_max_charge_kw, room_kw)
    surplus = max(0.0, -net_kw)
    if mode is BatteryMode.CHARGE:
        grid_kw = 0.0
        if grid_charge_allowed and target_soc_kwh is not None:
            grid_kw = max(0.0, (target_soc_kwh - soc_kwh) / (eta_c * dt_h))
        return min(max_ch, max(surplus, grid_kw)), 0.0
    charge = min(max_ch, surplus)
    if mode is BatteryMode.HOLD or net_kw <= 0:
        return charge, 0.0
    return 0.0, min(home.battery_max_discharge_kw, avail_kw, net_kw)


def execute(
    decision: Decision,
    *,
    home: HomeParams,
    load_kw: float,
    pv_kw: float,
    import_price: float,
    export_price: float,
    battery_soc_kwh: float,
    car: CarParams | None,
    car_soc_kwh: float | None,
    dt_h: float,
) -> SlotOutcome:
    """Advance one slot: car per its loadpoint mode, battery per its mode, the grid the rest.

    ``car`` is the active car if it is plugged in (None otherwise).
    """
    ev_kw = 0.0
    if car is not None and car_soc_kwh is not None:
        ev_kw = car_power(
            decision,
            car,
            car_soc_kwh,
            surplus_kw=max(0.0, pv_kw - load_kw),
            import_price=import_price,
            home=home,
            dt_h=dt_h,
        )
    limit = decision.battery_grid_charge_limit_eur_per_kwh
    charge, discharge = battery_power(
        decision.battery_mode,
        net_kw=load_kw + ev_kw - pv_kw,
        soc_kwh=battery_soc_kwh,
        target_soc_kwh=decision.battery_target_soc_kwh,
        grid_charge_allowed=limit is None or import_price <= limit + 1e-12,
        home=home,
        dt_h=dt_h,
    )
    if decision.battery_discharge_locked:
        discharge = 0.0
    soc = (
        battery_soc_kwh
        + charge * home.battery_charge_efficiency * dt_h
        - discharge / home.battery_discharge_efficiency * dt_h
    )
    net = load_kw + ev_kw + charge - pv_kw - discharge
    grid_import = max(0.0, net)
    grid_export = max(0.0, -net)
    new_car_soc = None
    if car is not None and car_soc_kwh is not None:
        new_car_soc = car_soc_kwh + ev_kw * car.charge_efficiency * dt_h
    return SlotOutcome(
        grid_import_kw=grid_import,
        grid_export_kw=grid_export,
        battery_charge_kw=charge,
        battery_discharge_kw=discharge,
        battery_soc_kwh=soc,
        car_kw=ev_kw,
        car_name=car.name if car is not None else None,
        car_soc_kwh=new_car_soc,
        cost_eur=(grid_import * import_price - grid_export * export_price) * dt_h,
    )
