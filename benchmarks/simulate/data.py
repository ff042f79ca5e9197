"""Input series for the replay: regular 15-min CSVs (timestamp + one value column) and a trip file.

Any series in the shape of ``/work/shared/data`` works: a header row, the interval start as ISO 8601
UTC in the first column, the value in the second. The series are aligned on their common time span;
gaps or irregular spacing are an error (a replay must not silently shift time).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

type FloatArray = NDArray[np.float64]

SHARED_DATA = Path("/work/shared/data")
DEFAULT_PRICES = SHARED_DATA / "prices_day_ahead_de_lu_2024.csv"
DEFAULT_PV = SHARED_DATA / "pv_germany_national_2024.csv"
DEFAULT_LOAD = SHARED_DATA / "household_load_bdew_h25_4000kwh_2024.csv"
DEFAULT_TRIPS = SHARED_DATA / "ev_trips_two_cars_2024.csv"


class DataError(ValueError):
    """An input file has the wrong shape."""


def parse_time(text: str) -> datetime:
    """An ISO 8601 time as an aware UTC datetime (naive input is taken as UTC)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Series:
    """One regular time series."""

    start: datetime
    slot_minutes: int
    values: FloatArray

    @property
    def end(self) -> datetime:
        """End of the last interval."""
        return self.start + timedelta(minutes=self.slot_minutes * len(self.values))


def read_series(path: Path | str) -> Series:
    """Read a two-column CSV (timestamp, value) with a header row."""
    path = Path(path)
    times: list[datetime] = []
    values: list[float] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or len(header) < 2:
            raise DataError(f"{path}: expected a header 'timestamp,value'")
        for line_no, row in enumerate(reader, start=2):
            if not row or not row[0].strip():
                continue
            try:
                times.append(parse_time(row[0]))
                values.append(float(row[1]))
            except (ValueError, IndexError) as err:
                raise DataError(f"{path}:{line_no}: {err}") from err
    if len(times) < 2:
        raise DataError(f"{path}: fewer than two rows")
    step = times[1] - times[0]
    minutes = step.total_seconds() / 60.0
    if minutes <= 0 or minutes != int(minutes):
        raise DataError(f"{path}: irregular time step {step}")
    stamps = np.array([t.timestamp() for t in times])
    if not np.allclose(np.diff(stamps), step.total_seconds()):
        bad = int(np.argmax(~np.isclose(np.diff(stamps), step.total_seconds())))
        raise DataError(f"{path}: gap or irregular step after {times[bad].isoformat()}")
    array = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise DataError(f"{path}: non-finite values")
    return Series(start=times[0], slot_minutes=int(minutes), values=array)


@dataclass(frozen=True, slots=True)
class Trip:
    """One trip of one car: away from ``depart`` to ``ret``, using ``energy_kwh``."""

    vehicle: str
    depart: datetime
    ret: datetime
    energy_kwh: float


def read_trips(path: Path | str) -> tuple[Trip, ...]:
    """Read the trip file (vehicle, depart_utc, return_utc, distance_km, energy_kwh)."""
    path = Path(path)
    trips: list[Trip] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        need = {"vehicle", "depart_utc", "return_utc", "energy_kwh"}
        if reader.fieldnames is None or not need <= set(reader.fieldnames):
            raise DataError(f"{path}: expected columns {sorted(need)}")
        for line_no, row in enumerate(reader, start=2):
            try:
                trip = Trip(
                    vehicle=row["vehicle"].strip(),
                    depart=parse_time(row["depart_utc"]),
                    ret=parse_time(row["return_utc"]),
                    energy_kwh=float(row["energy_kwh"]),
                )
            except (ValueError, KeyError) as err:
                raise DataError(f"{path}:{line_no}: {err}") from err
            if trip.ret <= trip.depart or trip.energy_kwh < 0:
                raise DataError(f"{path}:{line_no}: return before departure or negative energy")
            trips.append(trip)
    return tuple(sorted(trips, key=lambda t: (t.vehicle, t.depart)))


@dataclass(frozen=True, slots=True)
class ReplayData:
    """The aligned inputs of one replay (one element per slot)."""

    start: datetime
    slot_minutes: int
    spot_eur_per_mwh: FloatArray
    pv_kw_per_kwp: FloatArray
    load_kw: FloatArray
    trips: tuple[Trip, ...]

    @property
    def n_slots(self) -> int:
        """Number of slots."""
        return len(self.spot_eur_per_mwh)

    def slot_of(self, when: datetime) -> int:
        """Index of the slot that contains ``when`` (may be out of range)."""
        seconds = (when - self.start).total_seconds()
        return int(np.floor(seconds / (self.slot_minutes * 60)))

    def slot_at_or_after(self, when: datetime) -> int:
        """First slot starting at or after ``when``."""
        seconds = (when - self.start).total_seconds()
        return int(np.ceil(seconds / (self.slot_minutes * 60) - 1e-9))

    def time_of(self, slot: int) -> datetime:
        """Start of a slot."""
        return self.start + timedelta(minutes=self.slot_minutes * slot)

    def window(self, first: int, n_slots: int) -> ReplayData:
        """A sub-range of the data (trips touching it are kept)."""
        first = max(0, first)
        last = min(self.n_slots, first + n_slots)
        return ReplayData(
            start=self.time_of(first),
            slot_minutes=self.slot_minutes,
            spot_eur_per_mwh=self.spot_eur_per_mwh[first:last],
            pv_kw_per_kwp=self.pv_kw_per_kwp[first:last],
            load_kw=self.load_kw[first:last],
            trips=self.trips,
        )


def align(prices: Series, pv: Series, load: Series, trips: tuple[Trip, ...]) -> ReplayData:
    """Cut the three series to their common span."""
    slot = prices.slot_minutes
    if pv.slot_minutes != slot or load.slot_minutes != slot:
        raise DataError("prices, PV and load must share one time step")
    start = max(prices.start, pv.start, load.start)
    end = min(prices.end, pv.end, load.end)
    if end <= start:
        raise DataError("prices, PV and load do not overlap in time")

    def cut(series: Series) -> FloatArray:
        offset = (start - series.start).total_seconds() / (slot * 60)
        if offset != int(offset):
            raise DataError("series are not aligned on the same slot grid")
        first = int(offset)
        count = int((end - start).total_seconds() // (slot * 60))
        return series.values[first : first + count]

    return ReplayData(
        start=start,
        slot_minutes=slot,
        spot_eur_per_mwh=cut(prices),
        pv_kw_per_kwp=cut(pv),
        load_kw=cut(load),
        trips=trips,
    )


def load_replay(
    prices: Path | str = DEFAULT_PRICES,
    pv: Path | str = DEFAULT_PV,
    load: Path | str = DEFAULT_LOAD,
    trips: Path | str = DEFAULT_TRIPS,
) -> ReplayData:
    """Read and align all four inputs."""
    return align(read_series(prices), read_series(pv), read_series(load), read_trips(trips))
