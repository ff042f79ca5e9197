"""Source adapters: real-shaped fixtures per source, DST days, edge cases, fuzzing (no HA)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings, strategies as st
import numpy as np
import pytest

from custom_components.smartload.planner.sources import (
    PRICE_SOURCES,
    PV_SOURCES,
    ParseError,
    Series,
    Source,
    SpotTariff,
    after,
    apply_tariff,
    detect_source,
    energi_data_service,
    epex_spot,
    evcc,
    evcc_solar,
    forecast_solar,
    generic,
    generic_pv,
    gross_price,
    known_slots,
    nordpool,
    open_meteo,
    parse_price_forecast,
    parse_pv_forecast,
    power_scale,
    read_price_forecast,
    read_pv_forecast,
    solcast,
    tibber,
    to_slots,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources"
BERLIN = ZoneInfo("Europe/Berlin")
UTC_MAY_12 = datetime(2024, 5, 11, 22, 0, tzinfo=UTC)  # 2024-05-12 00:00 in Berlin


def load(name: str) -> dict[str, Any]:
    """A fixture's attributes as the shell hands them over (without the ``_source`` note)."""
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    assert data.pop("_source"), "every fixture names its origin"
    return data


def unit(attrs: dict[str, Any]) -> str | None:
    """The entity's unit, as the shell passes it."""
    value = attrs.get("unit_of_measurement")
    return value if isinstance(value, str) else None


# fixture, registry, source, count, first start (UTC), last end (UTC), (min, max) in base units
CASES = [
    ("tibber", PRICE_SOURCES, tibber, 48, UTC_MAY_12, UTC_MAY_12 + timedelta(days=2), (0.05, 0.39)),
    (
        "nordpool",
        PRICE_SOURCES,
        nordpool,
        48,
        UTC_MAY_12,
        UTC_MAY_12 + timedelta(days=2),
        (-0.14, 0.15),
    ),
    (
        "epex_spot",
        PRICE_SOURCES,
        epex_spot,
        48,
        UTC_MAY_12,
        UTC_MAY_12 + timedelta(days=2),
        (-0.14, 0.15),
    ),
    (
        "energi_data_service",
        PRICE_SOURCES,
        energi_data_service,
        48,
        UTC_MAY_12,
        UTC_MAY_12 + timedelta(days=2),
        (-0.14, 2.49),  # DKK/kWh: the unit decides, not the magnitude
    ),
    (
        "evcc",
        PRICE_SOURCES,
        evcc,
        144,
        datetime(2024, 5, 12, 10, 0, tzinfo=UTC),
        UTC_MAY_12 + timedelta(days=2),
        (0.05, 0.39),
    ),
    (
        "generic",
        PRICE_SOURCES,
        generic,
        24,
        UTC_MAY_12,
        UTC_MAY_12 + timedelta(days=1),
        (0.05, 0.31),
    ),
    ("solcast", PV_SOURCES, solcast, 48, UTC_MAY_12, UTC_MAY_12 + timedelta(days=1), (0.0, 6.5)),
    (
        "open_meteo",
        PV_SOURCES,
        open_meteo,
        96,
        UTC_MAY_12,
        UTC_MAY_12 + timedelta(days=1),
        (0.0, 5.5),
    ),
    (
        "forecast_solar",
        PV_SOURCES,
        forecast_solar,
        36,
        datetime(2024, 5, 12, 3, 29, tzinfo=UTC),  # sunrise 05:29 local
        datetime(2024, 5, 13, 19, 10, tzinfo=UTC),  # sunset 21:06 local + the last step
        (0.0, 5.7),
    ),
    (
        "forecast_solar_wh_hours",
        PV_SOURCES,
        forecast_solar,
        17,
        datetime(2024, 5, 12, 3, 0, tzinfo=UTC),
        datetime(2024, 5, 12, 20, 0, tzinfo=UTC),
        (0.0, 5.5),
    ),
    (
        "evcc_solar",
        PV_SOURCES,
        evcc_solar,
        96,
        UTC_MAY_12,
        UTC_MAY_12 + timedelta(days=1),
        (0.0, 5.5),
    ),
    (
        "generic_pv",
        PV_SOURCES,
        generic_pv,
        24,
        UTC_MAY_12,
        UTC_MAY_12 + timedelta(days=1),
        (0.0, 5.5),
    ),
]


@pytest.mark.parametrize(("name", "registry", "source"), [c[:3] for c in CASES])
def test_fixture_detects_as_its_source_only(
    name: str, registry: tuple[Source, ...], source: Source
) -> None:
    """Among the specific sources exactly one claims each fixture; generic only as the fallback."""
    attrs = load(name)
    specific = [s.NAME for s in registry[:-1] if s.detect(attrs)]
    if source in (generic, generic_pv):
        assert specific == []
    else:
        assert specific == [source.NAME]
    assert detect_source(attrs, registry) is source


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fixture_parses_to_base_units(case: tuple[Any, ...]) -> None:
    """First/last times, count and value range (€/kWh or kW) of each fixture."""
    name, registry, source, count, first, last, bounds = case
    attrs = load(name)
    series = source.parse(attrs, unit(attrs))
    assert len(series) == count
    assert series.start[0] == first
    assert series.end[-1] == last
    assert bounds[0] <= min(series.values) and max(series.values) <= bounds[1]
    assert list(series.start) == sorted(set(series.start))
    assert all(s < e for s, e in zip(series.start, series.end, strict=True))
    # the registry's dispatch gives the same series
    read = read_price_forecast if registry is PRICE_SOURCES else read_pv_forecast
    assert read(attrs, unit(attrs)) == series


def test_same_spot_price_through_every_spot_source() -> None:
    """Nord Pool (€/MWh), EPEX Spot (€/MWh and ct/kWh) give the same €/kWh for the same hour."""
    by_nordpool = nordpool.parse(load("nordpool"))
    by_epex = epex_spot.parse(load("epex_spot"), "EUR/MWh")
    net_epex = load("epex_spot")
    for item in net_epex["data"]:
        del item["price_eur_per_mwh"]  # the net price sensor's shape: ct/kWh only
    assert by_nordpool.start == by_epex.start
    assert by_nordpool.values == pytest.approx(by_epex.values)
    assert epex_spot.parse(net_epex).values == pytest.approx(by_epex.values, abs=1e-5)
    # 2024-05-12 13:00-14:00 local: −135.45 €/MWh was that year's minimum
    assert min(by_nordpool.values) == pytest.approx(-0.13545)


def test_tibber_first_home_and_price_info_shape() -> None:
    """The action response's first home is read; the API's startsAt/total list is Tibber too."""
    attrs = load("tibber")
    home = attrs["prices"]["Zuhause"]
    attrs["prices"]["Ferienhaus"] = [{"start_time": home[0]["start_time"], "price": 9.99}]
    series = tibber.parse(attrs)
    assert series.values[0] == home[0]["price"]
    price_info = {"today": [{"startsAt": r["start_time"], "total": r["price"]} for r in home]}
    assert tibber.detect(price_info)
    assert tibber.parse(price_info).values == series.values


def test_solcast_quantiles_become_low_and_high() -> None:
    """pv_estimate10/90 are the series' low/high; to_slots reads them per slot."""
    attrs = load("solcast")
    series = solcast.parse(attrs)
    assert series.low is not None and series.high is not None
    assert all(
        lo <= v <= hi for lo, v, hi in zip(series.low, series.values, series.high, strict=True)
    )
    noon = UTC_MAY_12 + timedelta(hours=12)  # 12:00 local
    item = next(
        i for i in attrs["detailedForecast"] if i["period_start"].startswith("2024-05-12T12:00")
    )
    low, known = to_slots(series, noon, 2, field="low")
    high, _ = to_slots(series, noon, 2, field="high")
    assert known.all()
    assert low.tolist() == [item["pv_estimate10"]] * 2
    assert high.tolist() == [item["pv_estimate90"]] * 2
    # without quantiles (Forecast.Solar) nothing is known for them
    assert not to_slots(forecast_solar.parse(load("forecast_solar")), noon, 4, field="low")[1].any()


def test_solcast_hourly_when_no_half_hours() -> None:
    """detailedHourly is read when detailedForecast is missing."""
    attrs = load("solcast")
    del attrs["detailedForecast"]
    series = solcast.parse(attrs)
    assert len(series) == 24 and series.end[0] - series.start[0] == timedelta(hours=1)


def test_forecast_solar_energy_becomes_mean_power() -> None:
    """wh_period alone: Wh over each interval → kW; same as watts where the interval is 1 h."""
    attrs = load("forecast_solar")
    by_watts = forecast_solar.parse(attrs)
    by_energy = forecast_solar.parse({"wh_period": attrs["wh_period"]})
    hour = [i for i, (s, e) in enumerate(zip(by_watts.start, by_watts.end, strict=True))]
    whole = [i for i in hour if by_watts.end[i] - by_watts.start[i] == timedelta(hours=1)]
    assert len(whole) > 20
    for i in whole:
        assert by_energy.values[i] == pytest.approx(by_watts.values[i], abs=0.001)


def test_open_meteo_days_merged() -> None:
    """Two days' sensors merged by the shell stay Open-Meteo and cover 48 h."""
    today = load("open_meteo")
    tomorrow = {
        (datetime.fromisoformat(k) + timedelta(days=1)).isoformat(): v
        for k, v in today["watts"].items()
    }
    merged = {"watts": {**today["watts"], **tomorrow}}
    assert detect_source(merged, PV_SOURCES) is open_meteo
    assert len(open_meteo.parse(merged)) == 192


# --- DST days ----------------------------------------------------------------------------------


def test_dst_autumn_day_has_25_hours() -> None:
    """Nord Pool (UTC times) on 2024-10-27: 25 hourly prices, 100 quarter-hour slots."""
    series = nordpool.parse(load("nordpool_dst_2024-10-27"))
    start = datetime(2024, 10, 27, tzinfo=BERLIN)
    assert len(series) == 25
    assert series.start[0] == start.astimezone(UTC)
    assert series.end[-1] - series.start[0] == timedelta(hours=25)
    assert known_slots(series, start) == 100


def test_dst_spring_day_has_23_hours_from_local_offsets() -> None:
    """EPEX Spot (local +01:00/+02:00 times) on 2024-03-31: 23 contiguous hours, 92 slots."""
    attrs = load("epex_spot_dst_2024-03-31")
    offsets = {item["start_time"][-6:] for item in attrs["data"]}
    assert offsets == {"+01:00", "+02:00"}
    series = epex_spot.parse(attrs, "EUR/MWh")
    assert len(series) == 23
    assert all(e - s == timedelta(hours=1) for s, e in zip(series.start, series.end, strict=True))
    assert known_slots(series, datetime(2024, 3, 31, tzinfo=BERLIN)) == 92


def test_dst_autumn_half_hours_solcast() -> None:
    """Solcast on 2024-10-27: 50 half-hours, the repeated local 02:00 hour kept twice."""
    attrs = load("solcast_dst_2024-10-27")
    series = solcast.parse(attrs)
    assert len(series) == 50
    twos = [i["period_start"] for i in attrs["detailedForecast"] if "T02:" in i["period_start"]]
    assert len(twos) == 4  # 02:00 and 02:30, at +02:00 and at +01:00


def test_naive_times_placed_in_the_given_zone_on_a_fall_back_day() -> None:
    """Naive local times need a zone; the repeated 02:00 of a fall-back day is the later hour."""
    local = [f"2024-10-27T{h:02d}:00:00" for h in (0, 1, 2, 2, 3)]
    attrs = {"raw_today": [{"hour": t, "price": 0.1 * i} for i, t in enumerate(local)]}
    assert len(parse_price_forecast(attrs, "DKK/kWh")) == 0  # no zone: refused, not guessed
    series = energi_data_service.parse(attrs, "DKK/kWh", tz=BERLIN)
    assert len(series) == 5
    assert series.start[2] == datetime(2024, 10, 27, 0, 0, tzinfo=UTC)  # 02:00 CEST
    assert series.start[3] == datetime(2024, 10, 27, 1, 0, tzinfo=UTC)  # 02:00 CET
    assert series.values == pytest.approx((0.0, 0.1, 0.2, 0.3, 0.4))


# --- edge cases ----------------------------------------------------------------------------------


def test_gap_stays_a_gap() -> None:
    """A missing hour is not bridged: the known horizon stops at it."""
    attrs = load("tibber")
    del attrs["prices"]["Zuhause"][5]
    series = tibber.parse(attrs)
    assert len(series) == 47
    assert series.end[4] == series.start[4] + timedelta(hours=1) < series.start[5]
    assert known_slots(series, UTC_MAY_12) == 5 * 4


def test_duplicates_keep_the_last() -> None:
    """Two rows for one interval: the later one wins (a corrected or repeated value)."""
    attrs = load("nordpool")
    rows = attrs["DE-LU"]
    attrs["DE-LU"] = [*rows, dict(rows[3], price=500.0)]
    series = nordpool.parse(attrs)
    assert len(series) == 48 and series.values[3] == pytest.approx(0.5)


def test_stale_forecast_is_empty_after_now() -> None:
    """Intervals that ended by ``now`` are dropped; a forecast wholly in the past is empty."""
    attrs = load("epex_spot")
    late = UTC_MAY_12 + timedelta(days=1, hours=12, minutes=30)
    fresh = read_price_forecast(attrs, "EUR/MWh", now=late)
    assert fresh.start[0] == UTC_MAY_12 + timedelta(days=1, hours=12)  # the running hour stays
    assert len(fresh) == 12
    assert len(parse_price_forecast(attrs, "EUR/MWh", now=UTC_MAY_12 + timedelta(days=3))) == 0
    solar = after(solcast.parse(load("solcast")), UTC_MAY_12 + timedelta(hours=20))
    assert solar.low is not None and len(solar.low) == len(solar) == 8


@pytest.mark.parametrize(
    ("unit_", "values", "factor"),
    [
        ("ct/kWh", [28.0], 0.01),
        ("EUR/MWh", [80.0], 0.001),
        ("€/kWh", [0.3], 1.0),
        (None, [130.0, 180.0, 95.0], 0.001),  # by magnitude (median above 100): per MWh
        (None, [28.0, 31.0, 25.0], 0.01),  # by magnitude: cents
        (None, [0.28, 0.31], 1.0),
    ],
)
def test_price_units_detected(unit_: str | None, values: list[float], factor: float) -> None:
    """ct vs € vs €/MWh, from the unit or else the magnitude (generic list)."""
    start = UTC_MAY_12
    attrs = {
        "forecast": [
            {"start": (start + timedelta(hours=i)).isoformat(), "price": v}
            for i, v in enumerate(values)
        ]
    }
    series = parse_price_forecast(attrs, unit_)
    assert series.values == pytest.approx([v * factor for v in values])


@pytest.mark.parametrize(
    ("unit_", "values", "factor"),
    [
        ("W", [0.0, 800.0], 0.001),
        ("kW", [0.0, 3.2], 1.0),
        (None, [0.0, 4200.0], 0.001),
        (None, [0.0, 4.2], 1.0),
    ],
)
def test_pv_units_detected(unit_: str | None, values: list[float], factor: float) -> None:
    """W vs kW, from the unit or else the magnitude (above 100: W)."""
    attrs = {
        "forecast": [
            {"start": (UTC_MAY_12 + timedelta(hours=i)).isoformat(), "power": v}
            for i, v in enumerate(values)
        ]
    }
    assert parse_pv_forecast(attrs, unit_).values == pytest.approx([v * factor for v in values])
    assert power_scale("MW", []) == 1000.0


def test_evcc_legacy_shapes() -> None:
    """evcc before 0.203 (``price``) and before 0.207 (``result`` wrapper) read the same."""
    attrs = load("evcc")
    legacy = {
        "result": {
            "rates": [
                {"start": r["start"], "end": r["end"], "price": r["value"]} for r in attrs["rates"]
            ]
        }
    }
    assert evcc.detect(legacy)
    assert evcc.parse(legacy) == evcc.parse(attrs)


def test_spot_tariff_formula() -> None:
    """all_in = (spot + surcharge) * (1 + vat), on one price and on a series."""
    tariff = SpotTariff(surcharge_eur_per_kwh=0.1786, vat=0.19)
    assert gross_price(0.08, tariff) == pytest.approx((0.08 + 0.1786) * 1.19)
    assert gross_price(-0.13545, tariff) == pytest.approx((-0.13545 + 0.1786) * 1.19)
    spot = nordpool.parse(load("nordpool"))
    gross = apply_tariff(spot, tariff)
    assert gross.start == spot.start
    # the Tibber fixture's totals were made with the same tariff from the same spot prices
    assert gross.values == pytest.approx(tibber.parse(load("tibber")).values, abs=1e-4)
    assert apply_tariff(spot, SpotTariff()).values == spot.values
    with pytest.raises(ValueError, match="vat"):
        SpotTariff(vat=19.0)
    with pytest.raises(ValueError, match="surcharge"):
        SpotTariff(surcharge_eur_per_kwh=float("nan"))


@pytest.mark.parametrize(
    "attrs",
    [
        {},
        {"prices": {"Zuhause": []}},
        {"DE-LU": [{"start": "x", "end": "y", "price": "n/a"}]},
        {"data": [{"start_time": "garbage", "price_eur_per_mwh": 1.0}]},
        {"raw_today": [{"hour": None, "price": 1.0}], "raw_tomorrow": None},
        {"rates": [{"start": 1e300, "end": -1, "value": float("inf")}]},
        {"forecast": [{"start": "9999-12-31T23:59:59+14:00", "price": 1e308}]},
    ],
)
def test_malformed_prices_raise_parse_error_or_give_empty(attrs: dict[str, Any]) -> None:
    """A shape without a usable row: ParseError from read_*, an empty series from parse_*."""
    with pytest.raises(ParseError):
        read_price_forecast(attrs)
    assert parse_price_forecast(attrs) == Series(start=(), end=(), values=())


# --- fuzzing ------------------------------------------------------------------------------------

_times = st.one_of(
    st.datetimes(timezones=st.sampled_from([UTC, BERLIN])).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat()),  # naive
    st.integers(min_value=-(2**62), max_value=2**62),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
    _times,
)
_KEYS = (
    "start", "end", "start_time", "end_time", "startsAt", "total", "price", "value", "hour",
    "period_start", "pv_estimate", "pv_estimate10", "pv_estimate90", "price_eur_per_mwh",
    "price_ct_per_kwh", "price_per_kwh", "power", "watts",
)  # fmt: skip
_ATTRS = (
    "prices", "data", "raw_today", "raw_tomorrow", "rates", "result", "detailedForecast",
    "detailedHourly", "watts", "wh_period", "wh_hours", "forecast", "DE-LU", "SE3", "unit",
    "unit_of_measurement", "price_in_cents",
)  # fmt: skip
_items = st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=5), _scalars, max_size=6)
_json = st.recursive(
    _scalars | _items,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(
            st.sampled_from(_ATTRS) | _times.map(str) | st.text(max_size=5), inner, max_size=5
        )
    ),
    max_leaves=40,
)
_random_attributes = st.dictionaries(
    st.sampled_from(_ATTRS) | st.text(max_size=8), _json, max_size=6
)


def _rows(*keys: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Lists of items that have a source's keys, with arbitrary (often broken) values."""
    return st.lists(
        st.fixed_dictionaries({k: _scalars for k in keys}, optional={"x": _json}), max_size=8
    )


_shaped = st.one_of(
    st.fixed_dictionaries(
        {"prices": st.dictionaries(st.text(max_size=5), _rows("start_time", "price"), max_size=2)}
    ),
    st.fixed_dictionaries({"today": _rows("startsAt", "total")}),
    st.fixed_dictionaries({"DE-LU": _rows("start", "end", "price")}),
    st.fixed_dictionaries({"data": _rows("start_time", "end_time", "price_eur_per_mwh")}),
    st.fixed_dictionaries({"data": _rows("start_time", "price_per_kwh")}),
    st.fixed_dictionaries(
        {"raw_today": _rows("hour", "price"), "raw_tomorrow": _rows("hour", "price") | st.none()}
    ),
    st.fixed_dictionaries({"rates": _rows("start", "end", "value")}),
    st.fixed_dictionaries(
        {"result": st.fixed_dictionaries({"rates": _rows("start", "end", "price")})}
    ),
    st.fixed_dictionaries(
        {"detailedForecast": _rows("period_start", "pv_estimate", "pv_estimate10", "pv_estimate90")}
    ),
    st.fixed_dictionaries({"watts": st.dictionaries(_times.map(str), _scalars, max_size=8)}),
    st.fixed_dictionaries({"wh_hours": st.dictionaries(_times.map(str), _scalars, max_size=8)}),
    st.fixed_dictionaries({"forecast": _rows("start", "power")}),
)
_attributes = st.one_of(
    _random_attributes,
    st.tuples(_shaped, _random_attributes).map(lambda pair: {**pair[1], **pair[0]}),
)
_units = (
    st.none()
    | st.sampled_from(["W", "kW", "ct/kWh", "EUR/MWh", "DKK/kWh", "", "kWh"])
    | st.text(max_size=6)
)


def _check(series: Series) -> None:
    assert isinstance(series, Series)
    n = len(series.values)
    assert len(series.start) == len(series.end) == n
    assert list(series.start) == sorted(set(series.start))
    assert all(s < e for s, e in zip(series.start, series.end, strict=True))
    assert all(np.isfinite(series.values))
    for quantile in (series.low, series.high):
        assert quantile is None or len(quantile) == n


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attrs=_attributes, unit_=_units, berlin=st.booleans())
def test_fuzz_every_adapter(attrs: dict[str, Any], unit_: str | None, berlin: bool) -> None:
    """Arbitrary JSON-like attributes: detect gives a bool, parse a valid Series or ParseError."""
    tz = BERLIN if berlin else None
    for source in (*PRICE_SOURCES, *PV_SOURCES):
        assert isinstance(source.detect(attrs), bool)
        with contextlib.suppress(ParseError):
            _check(source.parse(attrs, unit_, tz=tz))
    for parse in (parse_price_forecast, parse_pv_forecast):
        _check(parse(attrs, unit_, tz=tz, now=UTC_MAY_12))


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_fuzz_fixtures_with_broken_items(data: st.DataObject) -> None:
    """Real fixtures with items replaced by junk still give a valid Series or ParseError."""
    name, registry, source = data.draw(st.sampled_from([c[:3] for c in CASES]))
    attrs = load(name)
    key = data.draw(st.sampled_from(sorted(k for k in attrs if not isinstance(attrs[k], str))))
    value = attrs[key]
    if isinstance(value, list) and value:
        value[data.draw(st.integers(0, len(value) - 1))] = data.draw(_json)
    elif isinstance(value, dict) and value:
        for sub in data.draw(st.lists(st.sampled_from(sorted(value)), max_size=3)):
            value[sub] = data.draw(_json)
    else:
        attrs[key] = data.draw(_json)
    with contextlib.suppress(ParseError):
        _check(source.parse(attrs, unit(attrs)))
    read = read_price_forecast if registry is PRICE_SOURCES else read_pv_forecast
    with contextlib.suppress(ParseError):
        _check(read(attrs, unit(attrs)))
