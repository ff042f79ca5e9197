// SmartLoad's sidebar panel: the plan's timeline (prices, PV and load, battery, each car) and the
// past 24 h beside what was planned, drawn with the plotly.js bundled in the `plotly` Python
// package (served by Home Assistant itself: no CDN). The data comes from the authenticated
// /api/smartload/plan through hass.callApi; the panel re-reads it when the plan sensor changes.

const TEXT = {
  en: {
    title: "SmartLoad",
    loading: "Loading the plan…",
    noPlot: "plotly.js could not be loaded: the chart cannot be drawn.",
    failed: "The plan could not be loaded",
    noPlan: "No plan right now",
    past: "Past 24 h",
    now: "Now",
    price: "Price (ct/kWh)",
    importPrice: "Import price",
    exportPrice: "Feed-in price",
    estimated: "Estimated price",
    paidPrice: "Price paid (past)",
    batteryLimit: "Battery grid-charge limit",
    carLimit: "price limit",
    power: "Power (kW)",
    pv: "PV forecast",
    pvBand: "PV p10–p90",
    load: "Load forecast",
    gridImport: "Grid import (plan)",
    pvPast: "PV (measured)",
    loadPast: "Load (measured)",
    battery: "Battery (%)",
    soc: "SoC plan",
    socPast: "SoC (measured)",
    socPlannedPast: "SoC (as planned)",
    minSoc: "Minimum (buffer)",
    configuredMin: "Configured minimum",
    charge: "charge",
    hold: "hold",
    normal: "normal",
    carPower: "charge power",
    carSoc: "SoC",
    target: "target",
    departure: "departure",
    cost: "Planned cost",
    updated: "Planned at",
    status: {
      optimal: "optimal",
      shortfall: "target not reachable",
      fallback: "fallback plan",
      stale_inputs: "inputs stale",
      error: "error",
    },
    mode: "Battery mode",
    why: "Why",
  },
  de: {
    title: "SmartLoad",
    loading: "Plan wird geladen…",
    noPlot: "plotly.js konnte nicht geladen werden: das Diagramm kann nicht gezeichnet werden.",
    failed: "Der Plan konnte nicht geladen werden",
    noPlan: "Gerade kein Plan",
    past: "Letzte 24 h",
    now: "Jetzt",
    price: "Preis (ct/kWh)",
    importPrice: "Bezugspreis",
    exportPrice: "Einspeisepreis",
    estimated: "Geschätzter Preis",
    paidPrice: "Gezahlter Preis (vergangen)",
    batteryLimit: "Netzladegrenze Akku",
    carLimit: "Preisgrenze",
    power: "Leistung (kW)",
    pv: "PV-Prognose",
    pvBand: "PV p10–p90",
    load: "Verbrauchsprognose",
    gridImport: "Netzbezug (Plan)",
    pvPast: "PV (gemessen)",
    loadPast: "Verbrauch (gemessen)",
    battery: "Akku (%)",
    soc: "SoC-Plan",
    socPast: "SoC (gemessen)",
    socPlannedPast: "SoC (wie geplant)",
    minSoc: "Minimum (Puffer)",
    configuredMin: "Eingestelltes Minimum",
    charge: "laden",
    hold: "halten",
    normal: "normal",
    carPower: "Ladeleistung",
    carSoc: "SoC",
    target: "Ziel",
    departure: "Abfahrt",
    cost: "Geplante Kosten",
    updated: "Geplant um",
    status: {
      optimal: "optimal",
      shortfall: "Ziel nicht erreichbar",
      fallback: "Ersatzplan",
      stale_inputs: "Eingaben veraltet",
      error: "Fehler",
    },
    mode: "Akkumodus",
    why: "Warum",
  },
};

const VIEWS = [
  { key: "6", future: 6, past: 1 },
  { key: "24", future: 24, past: 3 },
  { key: "48", future: 48, past: 6 },
  { key: "past", future: 1, past: 24 },
];
const POLL_MS = 5 * 60 * 1000; // a light poll besides watching the plan sensor
const COLORS = {
  import: "#1e88e5",
  export: "#43a047",
  limit: "#e53935",
  pv: "#fbc02d",
  load: "#8e24aa",
  grid: "#546e7a",
  soc: "#00897b",
  min: "#e53935",
  car: ["#3949ab", "#f4511e", "#6d4c41", "#00acc1"],
  past: "#9e9e9e",
};

let plotlyLoading = null;

function loadPlotly(url) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!plotlyLoading) {
    plotlyLoading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = url;
      script.async = true;
      script.onload = () => (window.Plotly ? resolve(window.Plotly) : reject(new Error(url)));
      script.onerror = () => {
        plotlyLoading = null;
        reject(new Error(url));
      };
      document.head.appendChild(script);
    });
  }
  return plotlyLoading;
}

function wrap(text, width = 70) {
  const words = String(text || "").split(/\s+/);
  const lines = [];
  let line = "";
  for (const word of words) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines.join("<br>");
}

function escapeHtml(text) {
  return String(text ?? "").replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );
}

class SmartLoadPanel extends HTMLElement {
  constructor() {
    super();
    this._view = "6";
    this._doc = null;
    this._entryId = null;
    this._watched = null;
    this._planState = undefined;
    this._fetching = false;
    this._drawn = null;
  }

  set hass(hass) {
    const first = !this._hass;
    this._hass = hass;
    if (this._menu) {
      this._menu.hass = hass;
    }
    if (first) {
      this._render();
      this._refresh();
      return;
    }
    // a new plan: the plan sensor's state (the time it was made) changed
    if (this._watched) {
      const state = hass.states[this._watched];
      const value = state ? state.state : null;
      if (this._planState !== undefined && value !== this._planState) {
        this._refresh();
      }
      this._planState = value;
    }
  }

  get hass() {
    return this._hass;
  }

  set narrow(narrow) {
    this._narrow = narrow;
    if (this._menu) this._menu.narrow = narrow;
  }

  set panel(panel) {
    this._config = (panel && panel.config) || {};
  }

  connectedCallback() {
    this._timer = window.setInterval(() => this._refresh(), POLL_MS);
    this._onResize = () => {
      if (this._plot && window.Plotly) window.Plotly.Plots.resize(this._plot);
    };
    window.addEventListener("resize", this._onResize);
    if (this._hass && !this.shadowRoot) {
      this._render();
      this._refresh();
    }
  }

  disconnectedCallback() {
    window.clearInterval(this._timer);
    window.removeEventListener("resize", this._onResize);
  }

  get _lang() {
    const lang = ((this._hass && this._hass.language) || "en").split("-")[0];
    return lang in TEXT ? lang : "en";
  }

  get _t() {
    return TEXT[this._lang];
  }

  _render() {
    if (this.shadowRoot) return;
    const root = this.attachShadow({ mode: "open" });
    root.innerHTML = `
      <style>
        :host { display: block; height: 100%; background: var(--primary-background-color);
          color: var(--primary-text-color); font-family: var(--paper-font-body1_-_font-family, Roboto, sans-serif); }
        .toolbar { display: flex; align-items: center; height: var(--header-height, 56px);
          padding: 0 12px; gap: 8px; background: var(--app-header-background-color, var(--primary-color));
          color: var(--app-header-text-color, white); font-size: 20px; box-sizing: border-box; }
        .toolbar .title { flex: 1; }
        .toolbar select { font-size: 14px; }
        .content { padding: 8px 16px 16px; }
        .summary { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: baseline; margin: 8px 0; }
        .chip { border-radius: 12px; padding: 2px 10px; font-size: 13px; color: white; background: var(--success-color, #43a047); }
        .chip.shortfall, .chip.fallback { background: var(--warning-color, #ffa000); }
        .chip.stale_inputs, .chip.error { background: var(--error-color, #db4437); }
        .now { flex-basis: 100%; font-size: 15px; }
        .meta { color: var(--secondary-text-color); font-size: 13px; }
        .views { display: flex; gap: 6px; margin: 8px 0; flex-wrap: wrap; }
        .views button { border: 1px solid var(--divider-color, #ccc); background: var(--card-background-color, white);
          color: var(--primary-text-color); border-radius: 16px; padding: 4px 14px; cursor: pointer; font-size: 14px; }
        .views button.active { background: var(--primary-color); color: var(--text-primary-color, white); border-color: var(--primary-color); }
        .card { background: var(--card-background-color, white); border-radius: var(--ha-card-border-radius, 12px);
          box-shadow: var(--ha-card-box-shadow, none); border: 1px solid var(--divider-color, #e0e0e0); padding: 4px; }
        .message { padding: 24px; color: var(--secondary-text-color); }
        .error { color: var(--error-color, #db4437); }
      </style>
      <div class="toolbar"><ha-menu-button></ha-menu-button><span class="title"></span>
        <select class="entries" hidden></select></div>
      <div class="content">
        <div class="summary"></div>
        <div class="views"></div>
        <div class="card"><div class="message"></div><div class="plot"></div></div>
      </div>`;
    this._menu = root.querySelector("ha-menu-button");
    this._menu.hass = this._hass;
    this._menu.narrow = this._narrow;
    root.querySelector(".title").textContent = this._t.title;
    this._plot = root.querySelector(".plot");
    this._message = root.querySelector(".message");
    this._message.textContent = this._t.loading;
    this._entries = root.querySelector(".entries");
    this._entries.addEventListener("change", () => {
      this._entryId = this._entries.value;
      this._refresh();
    });
    const views = root.querySelector(".views");
    for (const view of VIEWS) {
      const button = document.createElement("button");
      button.dataset.view = view.key;
      button.textContent = view.key === "past" ? this._t.past : `${view.future} h`;
      button.addEventListener("click", () => this._setView(view.key));
      views.appendChild(button);
    }
    this._markView();
  }

  _markView() {
    for (const button of this.shadowRoot.querySelectorAll(".views button")) {
      button.classList.toggle("active", button.dataset.view === this._view);
    }
  }

  _setView(key) {
    this._view = key;
    this._markView();
    if (this._drawn && window.Plotly) {
      window.Plotly.relayout(this._plot, { "xaxis.range": this._range() });
    }
  }

  async _refresh() {
    if (!this._hass || this._fetching) return;
    this._fetching = true;
    try {
      const query = new URLSearchParams({ lang: this._lang });
      if (this._entryId) query.set("entry_id", this._entryId);
      const api = (this._config && this._config.api) || "smartload/plan";
      const doc = await this._hass.callApi("GET", `${api}?${query}`);
      this._doc = doc;
      this._watched = doc.entity_id || null;
      const state = this._watched && this._hass.states[this._watched];
      this._planState = state ? state.state : null;
      this._showEntries(doc);
      this._showSummary(doc);
      await this._draw(doc);
    } catch (err) {
      this._message.hidden = false;
      this._message.classList.add("error");
      this._message.textContent = `${this._t.failed}: ${(err && (err.body?.message || err.message)) || err}`;
    } finally {
      this._fetching = false;
    }
  }

  _showEntries(doc) {
    const entries = doc.entries || [];
    this._entries.hidden = entries.length < 2;
    this._entries.innerHTML = entries
      .map((e) => `<option value="${escapeHtml(e.entry_id)}">${escapeHtml(e.title)}</option>`)
      .join("");
    this._entries.value = doc.entry_id;
  }

  // the home's time zone: the whys are written in it (a browser elsewhere would disagree)
  _zone() {
    return (this._doc && this._doc.time_zone) || this._hass.config.time_zone;
  }

  // an ISO time as wall time in the home's zone ("YYYY-MM-DD HH:MM:SS"): plotly has no zones
  _wall(iso) {
    if (!this._fmt || this._fmtZone !== this._zone()) {
      this._fmtZone = this._zone();
      this._fmt = new Intl.DateTimeFormat("sv-SE", {
        timeZone: this._fmtZone,
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
        hourCycle: "h23",
      });
    }
    return this._fmt.format(new Date(iso)).replace(",", "");
  }

  _clock(iso) {
    return this._wall(iso).slice(11, 16);
  }

  _showSummary(doc) {
    const t = this._t;
    const summary = this.shadowRoot.querySelector(".summary");
    const status = doc.status || "error";
    const parts = [`<span class="chip ${escapeHtml(status)}">${escapeHtml(t.status[status] || status)}</span>`];
    if (doc.updated) parts.push(`<span class="meta">${t.updated} ${this._clock(doc.updated)}</span>`);
    if (doc.cost_eur !== undefined && doc.cost_eur !== null) {
      const cost = doc.cost_eur.toLocaleString(this._lang, { style: "currency", currency: "EUR" });
      parts.push(`<span class="meta">${t.cost}: ${cost}</span>`);
    }
    if (doc.now && doc.now.why) {
      parts.push(`<span class="now">${t.now}: ${escapeHtml(doc.now.why.text)}</span>`);
    } else if (doc.message) {
      parts.push(`<span class="now">${t.noPlan}: ${escapeHtml(doc.message)}</span>`);
    }
    summary.innerHTML = parts.join("");
  }

  _range() {
    const view = VIEWS.find((v) => v.key === this._view) || VIEWS[0];
    const now = Date.now();
    return [
      this._wall(new Date(now - view.past * 3600e3).toISOString()),
      this._wall(new Date(now + view.future * 3600e3).toISOString()),
    ];
  }

  async _draw(doc) {
    let Plotly;
    try {
      Plotly = await loadPlotly((this._config && this._config.plotly_url) || "/smartload_static/plotly.min.js");
    } catch (err) {
      this._message.hidden = false;
      this._message.classList.add("error");
      this._message.textContent = this._t.noPlot;
      return;
    }
    if (!doc.slots.length && !doc.past.length) {
      this._message.hidden = false;
      this._message.classList.remove("error");
      this._message.textContent = `${this._t.noPlan}${doc.message ? `: ${doc.message}` : ""}`;
      Plotly.purge(this._plot);
      this._drawn = null;
      return;
    }
    this._message.hidden = true;
    const { data, layout } = this._figure(doc);
    await Plotly.react(this._plot, data, layout, {
      displayModeBar: false,
      responsive: true,
      locale: this._lang,
    });
    this._adoptPlotlyStyles();
    this._drawn = doc;
  }

  // plotly puts its CSS into document.head; the panel lives in a shadow root: copy it in
  _adoptPlotlyStyles() {
    let css = "";
    for (const node of document.head.querySelectorAll("style[id^='plotly.js']")) {
      try {
        css += Array.from(node.sheet.cssRules, (r) => r.cssText).join("\n");
      } catch (err) {
        css += node.textContent;
      }
    }
    let style = this.shadowRoot.querySelector("style.plotly");
    if (!style) {
      style = document.createElement("style");
      style.className = "plotly";
      this.shadowRoot.appendChild(style);
    }
    if (style.textContent !== css) style.textContent = css;
  }

  _figure(doc) {
    const t = this._t;
    const css = getComputedStyle(this);
    const text = css.getPropertyValue("--primary-text-color").trim() || "#212121";
    const grid = css.getPropertyValue("--divider-color").trim() || "rgba(0,0,0,0.12)";
    const slots = doc.slots;
    const past = doc.past || [];
    const starts = slots.map((s) => this._wall(s.start));
    const ends = slots.map((s) => this._wall(s.end));
    const pastX = past.map((p) => this._wall(p.start));
    const ct = (v) => (v === null || v === undefined ? null : Math.round(v * 1000) / 10);
    const cars = doc.vehicles || [];

    // rows from the top: price, power, battery (if any), one per car
    const rows = [{ key: "price", title: t.price, h: 1.1 }, { key: "power", title: t.power, h: 1 }];
    if (doc.battery) rows.push({ key: "battery", title: t.battery, h: 0.9 });
    cars.forEach((car, i) => rows.push({ key: `car${i}`, title: car.name, h: 0.9, car }));
    const gap = 0.045;
    const total = rows.reduce((a, r) => a + r.h, 0);
    const usable = 1 - gap * (rows.length - 1);
    let top = 1;
    const layout = {
      height: 120 + rows.reduce((a, r) => a + r.h * 190, 0),
      margin: { l: 56, r: 56, t: 16, b: 40 },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: text, size: 12 },
      hovermode: "x unified",
      hoverlabel: { namelength: -1, align: "left" },
      showlegend: true,
      legend: { orientation: "h", y: -0.03, yanchor: "top", x: 0 },
      barmode: "overlay",
      xaxis: {
        type: "date",
        range: this._range(),
        gridcolor: grid,
        anchor: `y${rows.length * 2 - 1 === 1 ? "" : rows.length * 2 - 1}`,
        tickformat: "%H:%M\n%d.%m.",
        hoverformat: "%d.%m. %H:%M",
      },
      shapes: [],
      annotations: [],
    };
    // two y axes per row (left; right overlaying it)
    const axis = (row, right = false) => {
      const n = row * 2 + (right ? 2 : 1);
      return n === 1 ? "y" : `y${n}`;
    };
    rows.forEach((row, i) => {
      const height = (row.h / total) * usable;
      const domain = [Math.max(0, top - height), top];
      top -= height + gap;
      const left = axis(i);
      const right = axis(i, true);
      layout[left === "y" ? "yaxis" : `yaxis${left.slice(1)}`] = {
        domain,
        gridcolor: grid,
        zeroline: false,
        title: { text: row.title, font: { size: 12 } },
        fixedrange: true,
      };
      layout[`yaxis${right.slice(1)}`] = {
        overlaying: left,
        side: "right",
        showgrid: false,
        zeroline: false,
        fixedrange: true,
        range: row.car ? [0, 105] : undefined,
        tickmode: row.car ? "array" : undefined,
        tickvals: row.car ? [0, 25, 50, 75, 100] : undefined,
        visible: Boolean(row.car),
        title: row.car ? { text: "%", font: { size: 12 } } : undefined,
      };
      row.left = left;
      row.right = right;
    });
    const rowOf = (key) => rows.find((r) => r.key === key);
    const data = [];
    const now = this._wall(new Date().toISOString());
    // "now": one line through every row
    layout.shapes.push({
      type: "line",
      xref: "x",
      yref: "paper",
      x0: now,
      x1: now,
      y0: 0,
      y1: 1,
      line: { color: COLORS.limit, width: 1.5, dash: "dot" },
    });

    // -- prices (with the why of each slot in the hover)
    const price = rowOf("price");
    const whys = slots.map((s) => {
      const mode = s.battery && s.battery.mode ? `${t.mode}: ${t[s.battery.mode] || s.battery.mode}<br>` : "";
      return `${mode}<i>${wrap(s.why ? s.why.text : "")}</i>`;
    });
    const published = slots.map((s) => (s.price_estimated ? null : ct(s.import_price)));
    const estimated = slots.map((s, i) =>
      s.price_estimated || (slots[i + 1] && slots[i + 1].price_estimated) ? ct(s.import_price) : null,
    );
    data.push({
      name: t.importPrice,
      x: starts,
      y: published,
      yaxis: price.left,
      type: "scatter",
      mode: "lines",
      line: { shape: "hv", color: COLORS.import, width: 2 },
      customdata: whys,
      hovertemplate: `%{y:.1f} ct<br>%{customdata}<extra>${t.importPrice}</extra>`,
    });
    if (estimated.some((v) => v !== null)) {
      data.push({
        name: t.estimated,
        x: starts,
        y: estimated,
        yaxis: price.left,
        mode: "lines",
        line: { shape: "hv", color: COLORS.import, width: 2, dash: "dot" },
        customdata: whys,
        hovertemplate: `%{y:.1f} ct<br>%{customdata}<extra>${t.estimated}</extra>`,
      });
    }
    data.push({
      name: t.exportPrice,
      x: starts,
      y: slots.map((s) => ct(s.export_price)),
      yaxis: price.left,
      mode: "lines",
      line: { shape: "hv", color: COLORS.export, width: 1.5 },
      hovertemplate: `%{y:.1f} ct<extra>${t.exportPrice}</extra>`,
    });
    if (past.length) {
      data.push({
        name: t.paidPrice,
        x: pastX,
        y: past.map((p) => ct(p.import_price)),
        yaxis: price.left,
        mode: "lines",
        line: { shape: "hv", color: COLORS.past, width: 2 },
        hovertemplate: `%{y:.1f} ct<extra>${t.paidPrice}</extra>`,
      });
    }
    const limits = doc.price_limits || {};
    const lastX = ends.length ? ends[ends.length - 1] : now;
    const limitLine = (value, name, color, dash) => {
      if (value === null || value === undefined) return;
      data.push({
        name,
        x: [now, lastX],
        y: [ct(value), ct(value)],
        yaxis: price.left,
        mode: "lines",
        line: { color, width: 1.5, dash },
        hovertemplate: `%{y:.1f} ct<extra>${escapeHtml(name)}</extra>`,
      });
    };
    limitLine(limits.battery, t.batteryLimit, COLORS.limit, "dash");
    cars.forEach((car, i) =>
      limitLine(car.price_limit, `${car.name}: ${t.carLimit}`, COLORS.car[i % COLORS.car.length], "dashdot"),
    );

    // -- PV and load
    const power = rowOf("power");
    const hasBand = slots.some((s) => s.pv_p10_kw !== null && s.pv_p90_kw !== null);
    if (hasBand) {
      data.push({
        name: t.pvBand,
        x: starts,
        y: slots.map((s) => s.pv_p10_kw),
        yaxis: power.left,
        mode: "lines",
        line: { width: 0, shape: "hv", color: COLORS.pv },
        hoverinfo: "skip",
        showlegend: false,
        legendgroup: "band",
      });
      data.push({
        name: t.pvBand,
        x: starts,
        y: slots.map((s) => s.pv_p90_kw),
        yaxis: power.left,
        mode: "lines",
        fill: "tonexty",
        fillcolor: "rgba(251,192,45,0.25)",
        line: { width: 0, shape: "hv", color: COLORS.pv },
        customdata: slots.map((s) => s.pv_p10_kw),
        hovertemplate: `%{customdata:.2f}–%{y:.2f} kW<extra>${t.pvBand}</extra>`,
        legendgroup: "band",
      });
    }
    data.push({
      name: t.pv,
      x: starts,
      y: slots.map((s) => s.pv_kw),
      yaxis: power.left,
      mode: "lines",
      line: { shape: "hv", color: COLORS.pv, width: 2 },
      hovertemplate: `%{y:.2f} kW<extra>${t.pv}</extra>`,
    });
    data.push({
      name: t.load,
      x: starts,
      y: slots.map((s) => s.load_kw),
      yaxis: power.left,
      mode: "lines",
      line: { shape: "hv", color: COLORS.load, width: 2 },
      customdata: whys,
      hovertemplate: `%{y:.2f} kW<br>%{customdata}<extra>${t.load}</extra>`,
    });
    data.push({
      name: t.gridImport,
      x: starts,
      y: slots.map((s) => s.grid_import_kw),
      yaxis: power.left,
      mode: "lines",
      line: { shape: "hv", color: COLORS.grid, width: 1, dash: "dot" },
      hovertemplate: `%{y:.2f} kW<extra>${t.gridImport}</extra>`,
    });
    if (past.some((p) => p.load_kw !== null)) {
      data.push({
        name: t.loadPast,
        x: pastX,
        y: past.map((p) => p.load_kw),
        yaxis: power.left,
        mode: "lines",
        line: { shape: "hv", color: COLORS.load, width: 1.5, dash: "dot" },
        opacity: 0.7,
        hovertemplate: `%{y:.2f} kW<extra>${t.loadPast}</extra>`,
      });
    }
    if (past.some((p) => p.pv_kw !== null)) {
      data.push({
        name: t.pvPast,
        x: pastX,
        y: past.map((p) => p.pv_kw),
        yaxis: power.left,
        mode: "lines",
        line: { shape: "hv", color: COLORS.pv, width: 1.5, dash: "dot" },
        hovertemplate: `%{y:.2f} kW<extra>${t.pvPast}</extra>`,
      });
    }

    // -- battery: SoC at each slot's end, minimum, modes as background bands
    const battery = rowOf("battery");
    if (battery) {
      const b = doc.battery;
      const socX = [this._wall(doc.start), ...ends];
      data.push({
        name: t.soc,
        x: socX,
        y: [b.soc_pct, ...slots.map((s) => s.battery && s.battery.soc_pct)],
        yaxis: battery.left,
        mode: "lines",
        line: { color: COLORS.soc, width: 2.5 },
        customdata: [whys[0], ...whys],
        hovertemplate: `%{y:.0f} %<br>%{customdata}<extra>${t.soc}</extra>`,
      });
      data.push({
        name: t.minSoc,
        x: [socX[0], socX[socX.length - 1]],
        y: [b.min_soc_pct, b.min_soc_pct],
        yaxis: battery.left,
        mode: "lines",
        line: { color: COLORS.min, width: 1.5, dash: "dash" },
        hovertemplate: `%{y:.0f} %<extra>${t.minSoc}</extra>`,
      });
      if (b.configured_min_soc_pct !== null && b.configured_min_soc_pct !== b.min_soc_pct) {
        data.push({
          name: t.configuredMin,
          x: [socX[0], socX[socX.length - 1]],
          y: [b.configured_min_soc_pct, b.configured_min_soc_pct],
          yaxis: battery.left,
          mode: "lines",
          line: { color: COLORS.min, width: 1, dash: "dot" },
          hovertemplate: `%{y:.0f} %<extra>${t.configuredMin}</extra>`,
        });
      }
      if (past.length) {
        data.push({
          name: t.socPast,
          x: pastX,
          y: past.map((p) => p.battery_soc_pct),
          yaxis: battery.left,
          mode: "lines+markers",
          marker: { size: 3 },
          line: { color: COLORS.past, width: 2 },
          hovertemplate: `%{y:.0f} %<extra>${t.socPast}</extra>`,
        });
        data.push({
          name: t.socPlannedPast,
          x: pastX,
          y: past.map((p) => p.planned_battery_soc_pct),
          yaxis: battery.left,
          mode: "lines",
          line: { color: COLORS.soc, width: 1.5, dash: "dot" },
          hovertemplate: `%{y:.0f} %<extra>${t.socPlannedPast}</extra>`,
        });
      }
      // modes other than normal as shaded bands (consecutive slots merged)
      const shade = { charge: "rgba(67,160,71,0.18)", hold: "rgba(120,144,156,0.14)" };
      const [y0, y1] = layout[`yaxis${battery.left.slice(1)}`]?.domain || layout.yaxis.domain;
      let i = 0;
      while (i < slots.length) {
        const mode = slots[i].battery && slots[i].battery.mode;
        let j = i;
        while (j + 1 < slots.length && slots[j + 1].battery && slots[j + 1].battery.mode === mode) j++;
        if (shade[mode]) {
          layout.shapes.push({
            type: "rect",
            xref: "x",
            yref: "paper",
            x0: starts[i],
            x1: ends[j],
            y0,
            y1,
            fillcolor: shade[mode],
            line: { width: 0 },
            layer: "below",
          });
        }
        i = j + 1;
      }
      for (const mode of ["charge", "hold"]) {
        if (slots.some((s) => s.battery && s.battery.mode === mode)) {
          data.push({
            name: `${t.mode}: ${t[mode]}`,
            x: [null],
            y: [null],
            yaxis: battery.left,
            type: "bar",
            marker: { color: shade[mode] },
            hoverinfo: "skip",
          });
        }
      }
      layout[`yaxis${battery.left.slice(1)}`].range = [0, 105];
      layout[`yaxis${battery.left.slice(1)}`].tickvals = [0, 25, 50, 75, 100];
    }

    // -- each car: planned power (bars) and SoC up to its departure, the target marked
    cars.forEach((car, i) => {
      const row = rowOf(`car${i}`);
      const color = COLORS.car[i % COLORS.car.length];
      const own = slots.map((s) => (s.vehicles || {})[car.name] || {});
      data.push({
        name: `${car.name}: ${t.carPower}`,
        x: starts,
        y: own.map((v) => v.charge_kw ?? 0),
        yaxis: row.left,
        type: "bar",
        offset: 0,
        width: slots.map(() => (doc.slot_minutes || 15) * 60e3),
        marker: { color, opacity: 0.55 },
        customdata: whys,
        hovertemplate: `%{y:.1f} kW<br>%{customdata}<extra>${escapeHtml(car.name)}: ${t.carPower}</extra>`,
      });
      const socX = [];
      const socY = [];
      if (car.soc_pct !== null && own.some((v) => v.plugged)) {
        const firstPlugged = own.findIndex((v) => v.plugged);
        socX.push(starts[firstPlugged]);
        socY.push(firstPlugged === 0 ? car.soc_pct : null);
      }
      own.forEach((v, k) => {
        if (v.soc_pct !== null && v.soc_pct !== undefined) {
          socX.push(ends[k]);
          socY.push(v.soc_pct);
        }
      });
      data.push({
        name: `${car.name}: ${t.carSoc}`,
        x: socX,
        y: socY,
        yaxis: row.right,
        mode: "lines",
        connectgaps: true,
        line: { color, width: 2.5 },
        hovertemplate: `%{y:.0f} %<extra>${escapeHtml(car.name)}: ${t.carSoc}</extra>`,
      });
      if (car.departure && car.target_soc_pct !== null) {
        const dep = this._wall(car.departure);
        data.push({
          name: `${car.name}: ${t.target}`,
          x: [dep],
          y: [car.target_soc_pct],
          yaxis: row.right,
          mode: "markers+text",
          marker: { symbol: "star", size: 14, color },
          text: [`${t.target} ${Math.round(car.target_soc_pct)} %`],
          textposition: "top left",
          hovertemplate: `${t.departure} %{x|%H:%M}: ${t.target} %{y:.0f} %<extra>${escapeHtml(car.name)}</extra>`,
          showlegend: false,
        });
        layout.shapes.push({
          type: "line",
          xref: "x",
          yref: row.right,
          x0: socX.length ? socX[0] : now,
          x1: dep,
          y0: car.target_soc_pct,
          y1: car.target_soc_pct,
          line: { color, width: 1, dash: "dot" },
        });
      }
      const pastOwn = past.map((p) => (p.vehicles || {})[car.name] || {});
      if (pastOwn.some((v) => v.soc_pct !== null && v.soc_pct !== undefined)) {
        data.push({
          name: `${car.name}: ${t.socPast}`,
          x: pastX,
          y: pastOwn.map((v) => v.soc_pct ?? null),
          yaxis: row.right,
          mode: "lines+markers",
          marker: { size: 3 },
          line: { color: COLORS.past, width: 2 },
          hovertemplate: `%{y:.0f} %<extra>${escapeHtml(car.name)}: ${t.socPast}</extra>`,
        });
        data.push({
          name: `${car.name}: ${t.carPower} (${t.past})`,
          x: pastX,
          y: pastOwn.map((v) => v.charge_kw ?? 0),
          yaxis: row.left,
          type: "bar",
          offset: 0,
          width: pastX.map(() => 15 * 60e3),
          marker: { color: COLORS.past, opacity: 0.45 },
          hovertemplate: `%{y:.1f} kW<extra>${escapeHtml(car.name)}</extra>`,
          showlegend: false,
        });
      }
      layout[`yaxis${row.left.slice(1)}`].title = { text: `${car.name} (kW)`, font: { size: 12 } };
    });
    return { data, layout };
  }
}

if (!customElements.get("smartload-panel")) {
  customElements.define("smartload-panel", SmartLoadPanel);
}
