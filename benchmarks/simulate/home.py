"""The simulated home as a parameter set (the reference home of the benchmarks by default)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

type FloatArray = NDArray[np.float64]


@dataclass(frozen=True, kw_only=True, slots=True)
class CarParams:
    """One car that uses the shared wallbox."""

    name: str
    capacity_kwh: float
    max_charge_kw: float = 11.0
    charge_efficiency: float = 0.9
    target_soc: float = 0.8  # fraction of capacity wanted at each departure
    limit_soc: float = 1.0  # evcc's charge limit: PV surplus may fill the car up to this
    initial_soc: float = 0.5
    priority: int = 3

    @property
    def target_kwh(self) -> float:
        """Energy wanted at each departure."""
        return self.target_soc * self.capacity_kwh

    @property
    def limit_kwh(self) -> float:
        """Most energy the car takes."""
        return self.limit_soc * self.capacity_kwh


def _reference_cars() -> tuple[CarParams, ...]:
    return (
        CarParams(name="Kia", capacity_kwh=77.0, priority=1),
        CarParams(name="Zoe", capacity_kwh=52.0, priority=2),
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class HomeParams:
    """PV, battery, wallbox, cars and tariff of the simulated home."""

    pv_kwp: float = 9.9
    battery_capacity_kwh: float = 10.0  # 0: no battery
    battery_max_charge_kw: float = 5.0
    battery_max_discharge_kw: float = 5.0
    battery_charge_efficiency: float = 0.95
    battery_discharge_efficiency: float = 0.95
    battery_min_soc: float = 0.10
    battery_initial_soc: float = 0.5
    wallbox_max_kw: float = 11.0
    # Lowest power a wallbox delivers (6 A on one phase with 1p/3p switching).
    wallbox_min_kw: float = 1.4
    cars: tuple[CarParams, ...] = field(default_factory=_reference_cars)
    # The load series is rescaled to this many kWh per year (None: as read; the shared BDEW file
    # already is the reference home's 4,000 kWh).
    annual_load_kwh: float | None = None
    # German dynamic tariff: import = (spot €/MWh / 1000 + surcharge) × VAT; fixed feed-in.
    import_surcharge_eur_per_kwh: float = 0.165
    vat_factor: float = 1.19
    feed_in_eur_per_kwh: float = 0.0796
    timezone: str = "Europe/Berlin"
    # Local hour at which the next day's day-ahead prices become known.
    day_ahead_publish_hour: int = 13

    @property
    def battery_min_kwh(self) -> float:
        """Lowest allowed battery energy."""
        return self.battery_min_soc * self.battery_capacity_kwh

    @property
    def has_battery(self) -> bool:
        """Whether the home has a battery."""
        return self.battery_capacity_kwh > 0

    def import_price(self, spot_eur_per_mwh: FloatArray) -> FloatArray:
        """All-in import price in €/kWh."""
        return (spot_eur_per_mwh / 1000.0 + self.import_surcharge_eur_per_kwh) * self.vat_factor

    def export_price(self, n_slots: int) -> FloatArray:
        """Feed-in price in €/kWh."""
        return np.full(n_slots, self.feed_in_eur_per_kwh)

    def car(self, name: str) -> CarParams:
        """A car by name."""
        for car in self.cars:
            if car.name == name:
                return car
        raise KeyError(name)
