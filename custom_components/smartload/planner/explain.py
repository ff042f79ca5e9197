"""Plain-language reasons ("why") for every slot of a plan, derived from the solution and its duals.

``explain(inputs, plan)`` returns one :class:`Why` per slot; ``render(why, lang, tz)`` turns it
into an English or German sentence. The Home Assistant shell may either call ``render`` or translate
the keys itself (``WHY_KEYS`` lists them all, ``TEMPLATES`` holds the reference texts).

Parameters are raw numbers in display units plus ISO times, so any front end can format them:

- ``*_ct``: a price in ct/kWh, ``*_kw``: a power in kW, ``*_kwh``: an energy in kWh, ``*_pct``: a
  state of charge in percent, ``*_eur``: an amount in € (all floats, rounded to 0.01);
- ``*_time`` and ``departure``: ISO 8601 UTC timestamps (``2026-01-15T06:00:00+00:00``) of a
  slot's start;
- ``vehicle``: the car's name;
- ``estimated``: present (1.0) when the slot's price is an estimate rather than a published price;
  ``render`` then appends a note (``ESTIMATE_NOTE``).

``render`` formats prices and powers with one decimal (German: decimal comma), energies with one
decimal below 10 kWh and none above, amounts in € with two, percentages without decimals, and
times as HH:MM in the time zone it is given (a ``tzinfo``; default UTC — the HA shell passes the
instance's time zone).

The dominant reason of a slot is the first that applies in this fixed order (``explain`` documents
each test):

1. a car plugged in before a departure it will miss (``car_shortfall``);
2. in a fallback plan: the rule that acted (``fallback_*``), else ``fallback``;
3. a car charging from the grid (``car_charge_grid``/``car_charge_deadline``/``car_charge_value``);
4. the battery charging from the grid (``battery_charge_grid``/``_later``/``_negative``);
5. the battery discharging (``battery_discharge``; ``battery_export`` while energy is fed in);
6. a car charging from PV surplus (``car_charge_pv``);
7. the battery storing PV surplus (``battery_charge_pv``);
8. feeding in surplus (``export_surplus``);
9. a car that needs energy waiting for cheaper slots or PV (``car_wait``/``car_wait_pv``),
   else a car with room priced out by its value (``car_wait_value``);
10. the battery holding its energy although the house imports (``battery_hold``/``_hold_end``),
    or being empty (``battery_empty``);
11. nothing to do: ``price_estimated`` if the price is an estimate, else ``idle``.

A slot in which a car the driver boosts (``boost_until_slot``) charges is ``car_boost`` whatever
the rule above picked: the override is the reason.

Among several cars the one with the highest charging power is named (for ``car_wait``: the one
with the highest priority, then the most energy needed; for ``car_shortfall``: the largest
shortfall).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

import numpy as np

from .model import FloatArray, Plan, PlanInput, PlanStatus, Why

_EPS_KW = 1e-3  # powers below this count as zero
_ACT_KW = 0.05  # a flow smaller than this is too small to be the reason of a slot
_EPS_KWH = 0.05  # energies below this count as zero

TEMPLATES: dict[str, dict[str, str]] = {
    "en": {
        "battery_charge_grid": (
            "Charging the battery: {price_ct} ct/kWh is below the {value_ct} ct/kWh that a stored "
            "kWh is worth later; it is used around {use_time} ({use_price_ct} ct/kWh then)"
        ),
        "battery_charge_grid_later": (
            "Charging the battery: {price_ct} ct/kWh is below the {value_ct} ct/kWh that a stored "
            "kWh is worth later"
        ),
        "battery_charge_negative": (
            "Charging the battery: the grid price is negative ({price_ct} ct/kWh)"
        ),
        "battery_charge_pv": (
            "Storing {charge_kw} kW of PV surplus in the battery: a stored kWh is worth "
            "{value_ct} ct/kWh, feeding in pays {export_price_ct} ct/kWh"
        ),
        "battery_discharge": (
            "Running the house from the battery ({discharge_kw} kW): a stored kWh saves "
            "{saving_ct} ct/kWh now (import at {price_ct} ct/kWh), at least the {value_ct} ct/kWh "
            "it is worth later"
        ),
        "battery_export": (
            "Selling stored energy ({discharge_kw} kW): feeding in pays {export_price_ct} ct/kWh, "
            "more than the {value_ct} ct/kWh a stored kWh is worth later"
        ),
        "battery_hold": (
            "Holding the battery: the peak at {peak_time} at {peak_price_ct} ct/kWh is worth more "
            "than {price_ct} ct/kWh now"
        ),
        "battery_hold_end": (
            "Holding the battery: a stored kWh is worth {value_ct} ct/kWh later, more than the "
            "{saving_ct} ct/kWh it would save now (at {price_ct} ct/kWh, after losses)"
        ),
        "battery_empty": (
            "The battery is at its minimum ({soc_pct} %): the house draws from the grid at "
            "{price_ct} ct/kWh"
        ),
        "car_charge_grid": (
            "{vehicle} at {power_kw} kW: needs {needed_kwh} kWh more before {departure} and these "
            "are the cheapest remaining slots ({price_ct} ct/kWh)"
        ),
        "car_charge_deadline": (
            "{vehicle} at {power_kw} kW: needs {needed_kwh} kWh more before {departure}; the "
            "cheaper slots alone cannot deliver it ({price_ct} ct/kWh now)"
        ),
        "car_boost": (
            "{vehicle} at {power_kw} kW: boost requested, charging now whatever the price "
            "({price_ct} ct/kWh)"
        ),
        "car_charge_value": (
            "{vehicle} at {power_kw} kW: {price_ct} ct/kWh is below the {value_ct} ct/kWh that a "
            "kWh in the car is worth later"
        ),
        "car_charge_pv": (
            "{vehicle} at {power_kw} kW from PV surplus: feeding it in would pay only "
            "{export_price_ct} ct/kWh"
        ),
        "car_wait": (
            "{vehicle} waits: {price_ct} ct/kWh now; it charges from {next_time} at "
            "{next_price_ct} ct/kWh to get the {needed_kwh} kWh it needs before {departure}"
        ),
        "car_wait_pv": (
            "{vehicle} waits: {price_ct} ct/kWh now; PV surplus from {next_time} will cover the "
            "{needed_kwh} kWh it needs before {departure}"
        ),
        "car_wait_value": (
            "{vehicle} waits: {price_ct} ct/kWh is above the {value_ct} ct/kWh that a kWh charged "
            "now is worth in the car"
        ),
        "car_shortfall": (
            "{vehicle} will reach only {soc_pct} % by {departure} (target {target_pct} %, "
            "{shortfall_kwh} kWh short)"
        ),
        "export_surplus": (
            "Feeding in {export_kw} kW of surplus at {export_price_ct} ct/kWh: the battery and "
            "the cars cannot use it better"
        ),
        "idle": "Nothing to shift: the house runs as usual ({price_ct} ct/kWh)",
        "kept": (
            "Kept: changing course would have saved only {gain_eur} € so far (a change needs at "
            "least {min_gain_eur} €)"
        ),
        "price_estimated": (
            "Nothing planned: {price_ct} ct/kWh is only an estimate until the next prices are "
            "published"
        ),
        "fallback": (
            "Fallback plan (the optimiser was unavailable): simple price rules, nothing to do in "
            "this slot ({price_ct} ct/kWh)"
        ),
        "fallback_battery_charge": (
            "Fallback plan: charging the battery at {price_ct} ct/kWh, one of the cheapest prices "
            "(limit {limit_ct} ct/kWh)"
        ),
        "fallback_car_charge": (
            "Fallback plan: {vehicle} at {power_kw} kW in one of the cheapest slots before "
            "{departure} ({needed_kwh} kWh still needed, {price_ct} ct/kWh)"
        ),
        "fallback_car_charge_cheap": (
            "Fallback plan: {vehicle} at {power_kw} kW while energy is cheap ({price_ct} ct/kWh)"
        ),
    },
    "de": {
        "battery_charge_grid": (
            "Batterie lädt aus dem Netz: {price_ct} ct/kWh liegen unter den {value_ct} ct/kWh, "
            "die eine gespeicherte kWh später wert ist; genutzt wird sie gegen {use_time} Uhr "
            "(dann {use_price_ct} ct/kWh)"
        ),
        "battery_charge_grid_later": (
            "Batterie lädt aus dem Netz: {price_ct} ct/kWh liegen unter den {value_ct} ct/kWh, "
            "die eine gespeicherte kWh später wert ist"
        ),
        "battery_charge_negative": (
            "Batterie lädt aus dem Netz: der Strompreis ist negativ ({price_ct} ct/kWh)"
        ),
        "battery_charge_pv": (
            "PV-Überschuss von {charge_kw} kW geht in die Batterie: eine gespeicherte kWh ist "
            "{value_ct} ct/kWh wert, Einspeisen bringt {export_price_ct} ct/kWh"
        ),
        "battery_discharge": (
            "Die Batterie versorgt das Haus ({discharge_kw} kW): eine gespeicherte kWh spart "
            "jetzt {saving_ct} ct/kWh (Netzstrom zu {price_ct} ct/kWh), mindestens die "
            "{value_ct} ct/kWh, die sie später wert ist"
        ),
        "battery_export": (
            "Die Batterie speist ein ({discharge_kw} kW): Einspeisen bringt {export_price_ct} "
            "ct/kWh, mehr als die {value_ct} ct/kWh, die eine gespeicherte kWh später wert ist"
        ),
        "battery_hold": (
            "Batterie hält ihre Ladung zurück: die Spitze um {peak_time} Uhr mit {peak_price_ct} "
            "ct/kWh ist mehr wert als {price_ct} ct/kWh jetzt"
        ),
        "battery_hold_end": (
            "Batterie hält ihre Ladung zurück: eine gespeicherte kWh ist später {value_ct} ct/kWh "
            "wert, mehr als die {saving_ct} ct/kWh, die sie jetzt sparen würde (bei {price_ct} "
            "ct/kWh, nach Verlusten)"
        ),
        "battery_empty": (
            "Die Batterie ist auf ihrem Minimum ({soc_pct} %): das Haus bezieht Netzstrom für "
            "{price_ct} ct/kWh"
        ),
        "car_charge_grid": (
            "{vehicle} lädt mit {power_kw} kW: braucht bis {departure} Uhr noch {needed_kwh} kWh, "
            "und dies sind die günstigsten verbleibenden Zeitfenster ({price_ct} ct/kWh)"
        ),
        "car_charge_deadline": (
            "{vehicle} lädt mit {power_kw} kW: braucht bis {departure} Uhr noch {needed_kwh} kWh, "
            "die günstigeren Zeitfenster allein reichen dafür nicht ({price_ct} ct/kWh jetzt)"
        ),
        "car_boost": (
            "{vehicle} lädt mit {power_kw} kW: Boost angefordert, es wird jetzt geladen, egal zu "
            "welchem Preis ({price_ct} ct/kWh)"
        ),
        "car_charge_value": (
            "{vehicle} lädt mit {power_kw} kW: {price_ct} ct/kWh liegen unter den {value_ct} "
            "ct/kWh, die eine kWh im Auto später wert ist"
        ),
        "car_charge_pv": (
            "{vehicle} lädt mit {power_kw} kW aus PV-Überschuss: Einspeisen brächte nur "
            "{export_price_ct} ct/kWh"
        ),
        "car_wait": (
            "{vehicle} wartet: jetzt {price_ct} ct/kWh; ab {next_time} Uhr wird für "
            "{next_price_ct} ct/kWh geladen, um die bis {departure} Uhr fehlenden {needed_kwh} kWh "
            "zu liefern"
        ),
        "car_wait_pv": (
            "{vehicle} wartet: jetzt {price_ct} ct/kWh; ab {next_time} Uhr liefert PV-Überschuss "
            "die bis {departure} Uhr fehlenden {needed_kwh} kWh"
        ),
        "car_wait_value": (
            "{vehicle} wartet: {price_ct} ct/kWh liegen über den {value_ct} ct/kWh, die eine jetzt "
            "geladene kWh im Auto wert ist"
        ),
        "car_shortfall": (
            "{vehicle} erreicht bis {departure} Uhr nur {soc_pct} % (Ziel {target_pct} %, es "
            "fehlen {shortfall_kwh} kWh)"
        ),
        "export_surplus": (
            "{export_kw} kW Überschuss werden für {export_price_ct} ct/kWh eingespeist: Batterie "
            "und Autos können ihn nicht besser nutzen"
        ),
        "idle": "Nichts zu verschieben: das Haus läuft wie gewohnt ({price_ct} ct/kWh)",
        "kept": (
            "Beibehalten: ein Kurswechsel hätte bisher nur {gain_eur} € gespart (für einen "
            "Wechsel mindestens {min_gain_eur} €)"
        ),
        "price_estimated": (
            "Nichts geplant: {price_ct} ct/kWh sind nur geschätzt, bis die nächsten Preise "
            "veröffentlicht sind"
        ),
        "fallback": (
            "Ersatzplan (Optimierer nicht verfügbar): einfache Preisregeln, in diesem Zeitfenster "
            "nichts zu tun ({price_ct} ct/kWh)"
        ),
        "fallback_battery_charge": (
            "Ersatzplan: Batterie lädt für {price_ct} ct/kWh, einen der günstigsten Preise "
            "(Grenze {limit_ct} ct/kWh)"
        ),
        "fallback_car_charge": (
            "Ersatzplan: {vehicle} lädt mit {power_kw} kW in einem der günstigsten Zeitfenster "
            "vor {departure} Uhr (noch {needed_kwh} kWh nötig, {price_ct} ct/kWh)"
        ),
        "fallback_car_charge_cheap": (
            "Ersatzplan: {vehicle} lädt mit {power_kw} kW, solange Strom günstig ist "
            "({price_ct} ct/kWh)"
        ),
    },
}

ESTIMATE_NOTE: dict[str, str] = {
    "en": " (the price is an estimate)",
    "de": " (der Preis ist geschätzt)",
}

WHY_KEYS: tuple[str, ...] = tuple(TEMPLATES["en"])


# --------------------------------------------------------------------------------------- render


def _fmt_number(value: float, decimals: int, lang: str) -> str:
    text = f"{value:.{decimals}f}"
    if text.startswith("-") and float(text) == 0.0:
        text = text[1:]
    return text.replace(".", ",") if lang == "de" else text


def _fmt_param(name: str, value: str | float, lang: str, tz: tzinfo) -> str:
    if isinstance(value, str):
        if name.endswith("_time") or name == "departure":
            try:
                return datetime.fromisoformat(value).astimezone(tz).strftime("%H:%M")
            except ValueError:
                return value
        return value
    if name.endswith("_kwh"):
        return _fmt_number(value, 0 if abs(value) >= 10 else 1, lang)
    if name.endswith("_eur"):
        return _fmt_number(value, 2, lang)
    if name.endswith("_pct"):
        return _fmt_number(value, 0, lang)
    return _fmt_number(value, 1, lang)


def render(why: Why, lang: str = "en", tz: tzinfo | None = None) -> str:
    """The sentence for one reason, in English ("en") or German ("de"; other languages: English).

    Times are shown as HH:MM in ``tz`` (default UTC). Never raises: an unknown key renders as the
    key itself, a missing parameter as "?".
    """
    lang = lang if lang in TEMPLATES else "en"
    template = TEMPLATES[lang].get(why.key)
    if template is None:
        return why.key
    zone = tz or UTC
    values = _Defaulting({k: _fmt_param(k, v, lang, zone) for k, v in why.params.items()})
    text = template.format_map(values)
    if why.params.get("estimated") and why.key != "price_estimated":
        text += ESTIMATE_NOTE[lang]
    return text


class _Defaulting(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


# -------------------------------------------------------------------------------------- explain


def _ct(eur: float) -> float:
    return round(eur * 100.0, 2)


class _IsoTimes:
    """ISO 8601 UTC start of a slot, made on demand (most slots never need one)."""

    def __init__(self, inputs: PlanInput) -> None:
        self._inputs = inputs
        self._cache: dict[int, str] = {}

    def __call__(self, slot: int) -> str:
        text = self._cache.get(slot)
        if text is None:
            text = self._inputs.slot_start(slot).astimezone(UTC).isoformat()
            self._cache[slot] = text
        return text


def _segment_peaks(price: FloatArray, discharge: np.ndarray, grid_charge: np.ndarray) -> np.ndarray:
    """For each slot, the slot of the highest price at which the battery discharges later.

    "Later" means after the slot (after its block, for a grid-charging slot) and before the battery
    is next charged from the grid: the energy held or bought now is what that peak uses. -1: none.
    """
    n = len(price)
    out = np.full(n, -1, dtype=np.int64)
    best = -1  # highest-price discharge slot in the current segment (after t)
    block_best = -1  # the same, seen from inside a grid-charging block
    p = price.tolist()
    dis = discharge.tolist()
    chg = grid_charge.tolist()
    for t in range(n - 1, -1, -1):
        if chg[t]:
            if t == n - 1 or not chg[t + 1]:
                block_best = best
                best = -1
            out[t] = block_best
        else:
            out[t] = best
            if dis[t] and (best < 0 or p[t] >= p[best]):
                best = t
    return out


def _value_proxy(price: FloatArray, discharge: np.ndarray, eta_d: float) -> FloatArray:
    """Stand-in for missing duals: what a stored kWh saves at the next discharge (else 0)."""
    n = len(price)
    idx = np.flatnonzero(discharge)
    if idx.size == 0:
        return np.zeros(n)
    pos = np.searchsorted(idx, np.arange(n) + 1)
    nxt = idx[np.minimum(pos, idx.size - 1)]
    return np.where(pos < idx.size, price[nxt] * eta_d, 0.0)


def explain(inputs: PlanInput, plan: Plan) -> tuple[Why, ...]:
    """One reason per slot of ``plan`` (see the module docstring for the rule that picks it)."""
    n = plan.n_slots
    p_in = np.asarray(inputs.import_price_eur_per_kwh, dtype=float)[:n]
    p_out = np.asarray(inputs.export_price_eur_per_kwh, dtype=float)[:n]
    load = np.asarray(inputs.load_kw, dtype=float)[:n]
    pv = np.asarray(inputs.pv_kw, dtype=float)[:n]
    imp = np.asarray(plan.grid_import_kw, dtype=float)
    exp = np.asarray(plan.grid_export_kw, dtype=float)
    b_ch = np.asarray(plan.battery_charge_kw, dtype=float)
    b_dis = np.asarray(plan.battery_discharge_kw, dtype=float)
    estimated = np.zeros(n, dtype=bool)
    if plan.price_estimated is not None and len(plan.price_estimated) == n:
        estimated = np.asarray(plan.price_estimated, dtype=bool)
    iso = _IsoTimes(inputs)

    surplus = np.maximum(pv - load, 0.0)  # PV the house itself does not use

    # ---- the battery
    battery = inputs.battery
    charging = b_ch > _ACT_KW
    discharging = b_dis > _ACT_KW
    held = b_dis <= _EPS_KW
    if battery is not None:
        soc_end = np.asarray(plan.battery_soc_kwh, dtype=float)
        soc_start = np.concatenate(([battery.soc_kwh], soc_end[:-1]))
        value = np.asarray(plan.battery_value_eur_per_kwh, dtype=float)
        if value.shape != (n,) or not np.any(np.abs(value) > 1e-9):
            value = _value_proxy(p_in, discharging, battery.discharge_efficiency)
        can_discharge = soc_start > battery.min_soc_kwh + _EPS_KWH
        # what a stored kWh would save if discharged now (after losses and wear)
        saving = p_in * battery.discharge_efficiency - battery.wear_cost_eur_per_kwh
        soc_pct = soc_start / max(battery.capacity_kwh, 1e-9) * 100.0
    else:
        value = np.zeros(n)
        can_discharge = np.zeros(n, dtype=bool)
        saving = p_in
        soc_pct = np.zeros(n)
    # ---- the cars: per car (rows) and slot (columns)
    by_name = {v.name: v for v in inputs.vehicles}
    cars = [(vp, by_name.get(vp.name)) for vp in plan.vehicles]
    cars = [(vp, vi) for vp, vi in cars if vi is not None]
    n_cars = len(cars)
    car_kw = np.zeros((n_cars, n))
    need = np.zeros((n_cars, n))  # kWh to the target at each slot's start
    plugged = np.zeros((n_cars, n), dtype=bool)
    has_dep = np.zeros(n_cars, dtype=bool)
    dep_idx = np.full(n_cars, n, dtype=np.int64)
    car_value = np.zeros((n_cars, n))
    slots = np.arange(n)
    for c, (vp, vi) in enumerate(cars):
        car_kw[c] = np.asarray(vp.charge_kw, dtype=float)
        soc_start_c = np.concatenate(([vi.soc_kwh], np.asarray(vp.soc_kwh, dtype=float)[:-1]))
        need[c] = np.maximum(vi.target_soc_kwh - soc_start_c, 0.0)
        dep = vi.departure_slot
        if dep is not None and 0 < dep <= n:
            has_dep[c] = True
            dep_idx[c] = dep
        plugged[c] = (slots >= vi.plugged_from_slot) & (slots < dep_idx[c])
        cv = np.asarray(vp.value_eur_per_kwh, dtype=float)
        if cv.shape == (n,):
            car_value[c] = cv
    car_on = car_kw > _ACT_KW
    total_car = car_kw.sum(axis=0) if n_cars else np.zeros(n)
    car_pv = car_on & (surplus >= 0.5 * car_kw)  # mostly fed by surplus the house does not use
    car_grid = car_on & ~car_pv
    # the battery takes grid energy: more than the surplus left after load and cars (as planner.lp)
    grid_charge = charging & (b_ch > pv - load - total_car + _EPS_KW) & (imp > _EPS_KW)
    peaks = _segment_peaks(p_in, discharging, grid_charge)

    # unused cheaper wallbox capacity before the departure (for "cheapest remaining slots"):
    # the lowest price from each slot on among plugged grid slots where the car could take more
    cheaper_unused = np.zeros((n_cars, n), dtype=bool)
    if n_cars:
        spare = np.maximum(inputs.wallbox_max_kw - total_car, 0.0)
        for c, (_vp, vi) in enumerate(cars):
            room = plugged[c] & (np.minimum(vi.max_charge_kw - car_kw[c], spare) > 0.1)
            room &= surplus < _EPS_KW  # a PV slot is not "cheaper at this price"
            lowest_ahead = np.minimum.accumulate(np.where(room, p_in, np.inf)[::-1])[::-1]
            cheaper_unused[c] = lowest_ahead < p_in - 1e-6

    # next slot each car charges in (for car_wait)
    next_charge = np.full((n_cars, n), -1, dtype=np.int64)
    for c in range(n_cars):
        idx = np.flatnonzero(car_on[c])
        if idx.size:
            pos = np.searchsorted(idx, slots + 1)
            ok = pos < idx.size
            nxt = idx[np.minimum(pos, idx.size - 1)]
            next_charge[c] = np.where(ok & (nxt < dep_idx[c]), nxt, -1)
    waiting = plugged & ~car_on & (need > _EPS_KWH) & has_dep[:, None] & (next_charge >= 0)
    # a car with room that does not charge because the price is above what a kWh in it is worth
    room_left = np.array(
        [vi.capacity_kwh - float(vp.soc_kwh[-1]) > _EPS_KWH if n else False for vp, vi in cars],
        dtype=bool,
    ).reshape(-1, 1)
    # (a kWh from the grid puts eta kWh into the car: compare the price with eta * value)
    eta = np.array([vi.charge_efficiency for _, vi in cars], dtype=float).reshape(-1, 1)
    grid_kwh_value = car_value * eta
    priced_out = plugged & ~car_on & room_left & (car_value > 0) & (p_in > grid_kwh_value)
    priced_out &= ~waiting

    short = np.array([vp.shortfall_kwh > _EPS_KWH and has_dep[c] for c, (vp, _) in enumerate(cars)])
    shortfall = plugged & short[:, None] if n_cars else np.zeros((0, n), dtype=bool)

    # which car each slot names (vectorised; -1: none)
    def pick(mask: np.ndarray, score: FloatArray) -> list[int]:
        if not n_cars:
            return [-1] * n
        best = np.argmax(np.where(mask, score, -np.inf), axis=0)
        return np.where(mask.any(axis=0), best, -1).tolist()

    sf_kwh = np.array([vp.shortfall_kwh for vp, _ in cars]).reshape(-1, 1)
    prio = np.array([vi.priority for _, vi in cars], dtype=float).reshape(-1, 1)
    sf_car = pick(shortfall, np.broadcast_to(sf_kwh, (n_cars, n)))
    grid_car = pick(car_grid, car_kw)
    pv_car = pick(car_pv, car_kw)
    wait_car = pick(waiting, -prio * 1e6 + need)
    priced_car = pick(priced_out, -prio * 1e6 + car_value)
    grid_val_ct = np.round(grid_kwh_value * 100.0, 2).tolist()
    on_car = pick(car_on, car_kw)

    # the dominant reason per slot: the first that applies (module docstring)
    has_batt = battery is not None
    importing = imp > _EPS_KW
    exporting = exp > _EPS_KW
    branch = np.select(
        [
            np.asarray(sf_car) >= 0,
            np.full(n, plan.status == PlanStatus.FALLBACK),
            np.asarray(grid_car) >= 0,
            grid_charge,
            discharging,
            np.asarray(pv_car) >= 0,
            charging,
            exporting,
            (np.asarray(wait_car) >= 0) | (np.asarray(priced_car) >= 0),
            has_batt & importing & held & can_discharge,
            has_batt & importing,
            estimated,
        ],
        np.arange(12),
        default=12,
    ).tolist()

    # display values, rounded once (vectorised) rather than per slot
    pin_ct, pout_ct, val_ct, saving_ct = (
        np.round(a * 100.0, 2).tolist() for a in (p_in, p_out, value, saving)
    )
    bch_r, bdis_r, exp_r, socp_r = (np.round(a, 2).tolist() for a in (b_ch, b_dis, exp, soc_pct))
    car_kw_r, need_r = np.round(car_kw, 2).tolist(), np.round(need, 2).tolist()
    car_val_ct = np.round(car_value * 100.0, 2).tolist()
    pin = p_in.tolist()
    peak = peaks.tolist()
    nxt = next_charge.tolist()
    cpv = car_pv.tolist()
    unused = cheaper_unused.tolist()
    dep_iso = [iso(int(d)) if has_dep[c] else "" for c, d in enumerate(dep_idx)]
    est = estimated.tolist()
    fb_limit = _ct(float(np.percentile(p_in, _fallback_percentile()))) if n else 0.0

    whys: list[Why] = []
    for t in range(n):
        params: dict[str, str | float]
        key: str
        price = pin_ct[t]
        b = branch[t]
        if b == 0:
            c = sf_car[t]
            vp, vi = cars[c]
            cap = max(vi.capacity_kwh, 1e-9)
            key = "car_shortfall"
            params = {
                "vehicle": vi.name,
                "soc_pct": round((vp.soc_at_departure_kwh or 0.0) / cap * 100.0, 2),
                "target_pct": round(vi.target_soc_kwh / cap * 100.0, 2),
                "departure": dep_iso[c],
                "shortfall_kwh": round(vp.shortfall_kwh, 2),
            }
        elif b == 1:  # fallback plan: the rule that acted
            c = on_car[t]
            if c >= 0 and cpv[c][t]:
                key = "car_charge_pv"
                params = {
                    "vehicle": cars[c][1].name,
                    "power_kw": car_kw_r[c][t],
                    "export_price_ct": pout_ct[t],
                }
            elif c >= 0 and has_dep[c] and need_r[c][t] > _EPS_KWH:
                key = "fallback_car_charge"
                params = {
                    "vehicle": cars[c][1].name,
                    "power_kw": car_kw_r[c][t],
                    "needed_kwh": need_r[c][t],
                    "departure": dep_iso[c],
                    "price_ct": price,
                }
            elif c >= 0:
                key = "fallback_car_charge_cheap"
                params = {"vehicle": cars[c][1].name, "power_kw": car_kw_r[c][t], "price_ct": price}
            elif grid_charge[t]:
                key = "fallback_battery_charge"
                params = {"price_ct": price, "limit_ct": fb_limit}
            else:
                key, params = "fallback", {"price_ct": price}
        elif b == 2:
            c = grid_car[t]
            vi = cars[c][1]
            params = {"vehicle": vi.name, "power_kw": car_kw_r[c][t], "price_ct": price}
            if has_dep[c] and need_r[c][t] > _EPS_KWH:
                key = "car_charge_deadline" if unused[c][t] else "car_charge_grid"
                params |= {"needed_kwh": need_r[c][t], "departure": dep_iso[c]}
            else:
                key = "car_charge_value"
                params["value_ct"] = car_val_ct[c][t]
        elif b == 3:
            if pin[t] < 0:
                key, params = "battery_charge_negative", {"price_ct": price}
            elif peak[t] >= 0:
                key = "battery_charge_grid"
                params = {
                    "price_ct": price,
                    "value_ct": val_ct[t],
                    "use_time": iso(peak[t]),
                    "use_price_ct": pin_ct[peak[t]],
                }
            else:
                key = "battery_charge_grid_later"
                params = {"price_ct": price, "value_ct": val_ct[t]}
        elif b == 4:
            if exporting[t]:
                key = "battery_export"
                params = {
                    "discharge_kw": bdis_r[t],
                    "export_price_ct": pout_ct[t],
                    "value_ct": val_ct[t],
                }
            else:
                key = "battery_discharge"
                params = {
                    "discharge_kw": bdis_r[t],
                    "price_ct": price,
                    "saving_ct": saving_ct[t],
                    "value_ct": val_ct[t],
                }
        elif b == 5:
            c = pv_car[t]
            key = "car_charge_pv"
            params = {
                "vehicle": cars[c][1].name,
                "power_kw": car_kw_r[c][t],
                "export_price_ct": pout_ct[t],
            }
        elif b == 6:
            key = "battery_charge_pv"
            params = {"charge_kw": bch_r[t], "value_ct": val_ct[t], "export_price_ct": pout_ct[t]}
        elif b == 7:
            key = "export_surplus"
            params = {"export_kw": exp_r[t], "export_price_ct": pout_ct[t]}
        elif b == 8 and wait_car[t] < 0:
            c = priced_car[t]
            key = "car_wait_value"
            params = {"vehicle": cars[c][1].name, "price_ct": price, "value_ct": grid_val_ct[c][t]}
        elif b == 8:
            c = wait_car[t]
            s = nxt[c][t]
            key = "car_wait_pv" if cpv[c][s] else "car_wait"
            params = {
                "vehicle": cars[c][1].name,
                "price_ct": price,
                "needed_kwh": need_r[c][t],
                "departure": dep_iso[c],
                "next_time": iso(s),
                "next_price_ct": pout_ct[s] if cpv[c][s] else pin_ct[s],
            }
        elif b == 9:
            if peak[t] >= 0 and pin[peak[t]] > pin[t]:
                key = "battery_hold"
                params = {
                    "price_ct": price,
                    "peak_price_ct": pin_ct[peak[t]],
                    "peak_time": iso(peak[t]),
                    "value_ct": val_ct[t],
                }
            else:
                key = "battery_hold_end"
                params = {"price_ct": price, "saving_ct": saving_ct[t], "value_ct": val_ct[t]}
        elif b == 10:
            key, params = "battery_empty", {"price_ct": price, "soc_pct": socp_r[t]}
        elif b == 11:
            key, params = "price_estimated", {"price_ct": price}
        else:
            key, params = "idle", {"price_ct": price}
        if est[t] and key != "price_estimated":
            params["estimated"] = 1.0
        whys.append(Why(key=key, params=params))
    return _with_boosts(inputs, plan, whys)


def _with_boosts(inputs: PlanInput, plan: Plan, whys: list[Why]) -> tuple[Why, ...]:
    """A slot in which a boosting car charges says so first: the driver's override rules it."""
    for vi in inputs.vehicles:
        vp = plan.vehicle(vi.name)
        if vi.boost_until_slot <= 0 or vp is None:
            continue
        for t in np.flatnonzero(np.asarray(vp.charge_kw)[: vi.boost_until_slot] > _ACT_KW):
            params: dict[str, str | float] = {
                "vehicle": vi.name,
                "power_kw": round(float(vp.charge_kw[t]), 2),
                "price_ct": round(_ct(float(inputs.import_price_eur_per_kwh[t])), 2),
            }
            whys[int(t)] = Why(key="car_boost", params=params)
    return tuple(whys)


def _fallback_percentile() -> float:
    from .fallback import BATTERY_PERCENTILE  # the fallback rule's own threshold

    return BATTERY_PERCENTILE
