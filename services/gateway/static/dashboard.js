"use strict";
// ZhiJian's built-in dashboard: polls dashboard/data, keeps the last minutes in this page, and
// draws inline SVG. The server keeps no state: rates, ratios, quantiles and cost are computed here
// from the differences between two polls (WINDOW_S apart at most), as Prometheus' rate() and
// histogram_quantile() would.
window.ZhijianDashboard = (() => {
  const POLL_MS = 2000;
  const WINDOW_S = 10;
  const HISTORY_S = 300;
  const COLORS = ["#3266c8", "#e08a1e", "#2e9e5b", "#c23b6f", "#7a52c7", "#159aa8", "#8a6d2f",
                  "#d1493f"];
  const SVG = "http://www.w3.org/2000/svg";
  const ZERO = {requests: 0, inferences: 0, failures: 0, cost_usage: 0, cost_allocation: 0};

  /** The increase of a counter (a counter that fell was reset: its value is the increase). */
  function increase(current, previous) {
    return current >= previous ? current - previous : current;
  }

  /** Prometheus' histogram_quantile over cumulative bucket counts (one per bound, then +Inf). */
  function quantile(q, bounds, counts) {
    const total = counts.length ? counts[counts.length - 1] : 0;
    if (!(total > 0)) return null;
    const rank = q * total;
    let i = 0;
    while (i < counts.length - 1 && counts[i] < rank) i += 1;
    if (i === counts.length - 1) return bounds.length ? bounds[bounds.length - 1] : null;
    const lower = i === 0 ? 0 : bounds[i - 1];
    const below = i === 0 ? 0 : counts[i - 1];
    const inBucket = counts[i] - below;
    if (!(inBucket > 0)) return bounds[i];
    return lower + (bounds[i] - lower) * (rank - below) / inBucket;
  }

  /** Bucket counts of the window (the whole histogram when it was reset or is new). */
  function bucketIncrease(current, previous) {
    const now = current.latency_buckets;
    if (!previous || previous.latency_count > current.latency_count
        || previous.latency_buckets.length !== now.length) return now.slice();
    return now.map((count, i) => Math.max(0, count - previous.latency_buckets[i]));
  }

  function seriesKey(s) { return s.model + "/" + s.version; }

  /** What happened between two documents of dashboard/data, per series and per model. */
  function windowStats(base, current) {
    const dt = current.time - base.time;
    const out = {dt: dt, series: {}, models: {}};
    if (!(dt > 0)) return out;
    const before = {};
    for (const s of base.series) before[seriesKey(s)] = s;
    for (const s of current.series) {
      const p = before[seriesKey(s)] || ZERO;
      const requests = increase(s.requests, p.requests);
      const ok = increase(s.inferences, p.inferences);
      const failed = increase(s.failures, p.failures);
      const usage = increase(s.cost_usage, p.cost_usage);
      const allocation = increase(s.cost_allocation, p.cost_allocation);
      const buckets = bucketIncrease(s, before[seriesKey(s)]);
      out.series[seriesKey(s)] = {
        rps: requests / dt,
        ips: (ok + failed) / dt,
        p50: quantile(0.5, current.latency_bounds, buckets),
        p95: quantile(0.95, current.latency_bounds, buckets),
        failure_ratio: ok + failed > 0 ? failed / (ok + failed) : null,
        usage_per_hour: usage / dt * 3600,
        allocation_per_hour: allocation / dt * 3600,
        usage_per_1k: ok > 0 ? 1000 * usage / ok : null,
        allocation_per_1k: ok > 0 ? 1000 * allocation / ok : null,
      };
    }
    const modelsBefore = {};
    for (const m of base.models) modelsBefore[m.model] = m;
    for (const m of current.models) {
      const p = modelsBefore[m.model] || {requests: 0, errors: 0};
      const requests = increase(m.requests, p.requests);
      const errors = increase(m.errors, p.errors);
      out.models[m.model] = {rps: requests / dt,
                             error_ratio: requests > 0 ? errors / requests : null};
    }
    return out;
  }

  /** A short number: 3 significant digits, exponent notation below 0.001. */
  function format(v) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    if (v === 0) return "0";
    const a = Math.abs(v);
    if (a >= 1000) return v.toFixed(0);
    if (a >= 1e-3) return String(Number(v.toPrecision(3)));
    return v.toExponential(2);
  }

  /** The least of 1, 2, 2.5, 5 times a power of ten at or above x. */
  function niceCeil(x) {
    if (!(x > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(x)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x * (1 - 1e-12)) return m * p;
    return 10 * p;
  }

  // ---- the page ------------------------------------------------------------------------------
  const CHARTS = [
    {id: "latency", title: "Latency, ms (p95 solid, p50 dashed)",
     lines: [["series", "p95", 1000, false], ["series", "p50", 1000, true]]},
    {id: "throughput", title: "Throughput, inferences/s (shadow copies included)",
     lines: [["series", "ips", 1, false]]},
    {id: "errors",
     title: "Errors, % (failed inferences per version; dotted: all answers ≥ 400 per model)",
     lines: [["series", "failure_ratio", 100, false], ["models", "error_ratio", 100, true]]},
    {id: "cost_rate", title: "Cost, $/hour (allocation solid, usage dashed)",
     lines: [["series", "allocation_per_hour", 1, false], ["series", "usage_per_hour", 1, true]]},
    {id: "cost_per_1k", title: "Cost per 1,000 inferences, $ (allocation solid, usage dashed)",
     lines: [["series", "allocation_per_1k", 1, false], ["series", "usage_per_1k", 1, true]]},
  ];
  const state = {snapshots: [], frames: [], colors: {}, labels: {}, polls: 0};

  function color(key) {
    if (!(key in state.colors)) {
      state.colors[key] = COLORS[Object.keys(state.colors).length % COLORS.length];
    }
    return state.colors[key];
  }

  function element(tag, attributes, text) {
    const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4))
                                          : document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function aliasOf(document_, model, version) {
    const entry = document_.models.find((m) => m.model === model);
    if (!entry) return "";
    const aliases = Object.keys(entry.serving);
    return aliases.filter((alias) => String(entry.serving[alias]) === version).join(", ");
  }

  function label(document_, s) {
    if (s.version === "") return s.model + " · no version (errors, metadata)";
    const alias = aliasOf(document_, s.model, s.version);
    return s.model + " v" + s.version + (alias ? " (" + alias + ")" : "");
  }

  function renderSplits(document_, stats) {
    const root = document.getElementById("splits");
    root.replaceChildren();
    for (const m of document_.models) {
      const box = element("div", {"class": "split", "data-model": m.model,
                                  "data-production": m.split.production ?? 0,
                                  "data-canary": m.split.canary ?? 0,
                                  "data-shadow": m.shadow ? m.shadow.percent : 0});
      box.append(element("div", {"class": "name"}, m.model));
      const bar = element("div", {"class": "bar"});
      for (const alias of ["production", "canary"]) {
        if (!m.split[alias]) continue;
        const segment = element("div", {"class": "seg " + alias},
                                alias + " v" + m.serving[alias] + " · " + m.split[alias] + "%");
        segment.style.width = m.split[alias] + "%";
        bar.append(segment);
      }
      box.append(bar);
      const now = stats ? stats.models[m.model] : null;
      const notes = [m.shadow ? "shadow v" + m.shadow.version + " mirrors "
                                + format(m.shadow.percent) + "% of production requests"
                              : "no shadow"];
      if (now) notes.push(format(now.rps) + " req/s", "errors " + format(now.error_ratio === null
                          ? null : 100 * now.error_ratio) + "% of answers");
      box.append(element("div", {"class": "note"}, notes.join(" · ")));
      if (m.error) box.append(element("div", {"class": "problem"}, "registry: " + m.error));
      root.append(box);
    }
  }

  /** The lines of the charts: one per version (answers no version gave are in the table only),
   *  and one per model for its error ratio. */
  function lineKeys(document_) {
    const keys = [];
    for (const s of document_.series) {
      if (s.version === "") continue;
      keys.push({kind: "series", key: seriesKey(s), colorKey: seriesKey(s),
                 label: label(document_, s)});
    }
    for (const m of document_.models) {
      keys.push({kind: "models", key: m.model, colorKey: m.model + "/*",
                 label: m.model + " · all answers (errors only)"});
    }
    return keys;
  }

  function renderLegend(document_) {
    const root = document.getElementById("legend");
    root.replaceChildren();
    for (const line of lineKeys(document_)) {
      const item = element("span", {"data-series": line.key});
      const swatch = element("i");
      swatch.style.background = color(line.colorKey);
      item.append(swatch, document.createTextNode(line.label));
      root.append(item);
    }
  }

  function clock(t) { return new Date(t * 1000).toTimeString().slice(0, 8); }

  function drawChart(spec, document_) {
    const W = 560, H = 170, L = 52, R = 10, T = 8, B = 20;
    let box = document.getElementById("chart-" + spec.id);
    if (!box) {
      box = element("div", {"class": "chart", "id": "chart-" + spec.id});
      box.append(element("h2", {}, spec.title),
                 element("svg:svg", {"viewBox": "0 0 " + W + " " + H, "data-chart": spec.id}));
      document.getElementById("charts").append(box);
    }
    const svg = box.querySelector("svg");
    svg.replaceChildren();
    const frames = state.frames;
    const lines = [];
    for (const [kind, stat, scale, dashed] of spec.lines) {
      for (const line of lineKeys(document_)) {
        if (line.kind !== kind) continue;
        const values = frames.map((f) => {
          const row = f.stats[kind][line.key];
          const v = row ? row[stat] : null;
          return v === null || v === undefined || !isFinite(v) ? null : v * scale;
        });
        if (values.some((v) => v !== null)) lines.push({line, stat, dashed, values});
      }
    }
    const all = lines.flatMap((l) => l.values.filter((v) => v !== null));
    const top = niceCeil(Math.max(0, ...all));
    const t0 = frames.length ? frames[0].t : 0;
    const t1 = frames.length > 1 ? frames[frames.length - 1].t : t0 + 1;
    const x = (t) => L + (W - L - R) * (t - t0) / (t1 - t0);
    const y = (v) => T + (H - T - B) * (1 - v / top);
    for (const v of [0, top / 2, top]) {
      svg.append(element("svg:line", {"x1": L, "x2": W - R, "y1": y(v), "y2": y(v),
                                      "stroke": "#e4e7ec", "stroke-width": 1}));
      svg.append(element("svg:text", {"x": L - 4, "y": y(v) + 3, "text-anchor": "end"}, format(v)));
    }
    if (frames.length) {
      svg.append(element("svg:text", {"x": L, "y": H - 5}, clock(t0)));
      svg.append(element("svg:text", {"x": W - R, "y": H - 5, "text-anchor": "end"}, clock(t1)));
    }
    let points = 0;
    for (const {line, stat, dashed, values} of lines) {
      let segment = [];
      const flush = () => {
        if (segment.length === 1) {
          const [px, py] = segment[0];
          svg.append(element("svg:circle", {"cx": px, "cy": py, "r": 2,
                                            "fill": color(line.colorKey),
                                            "data-series": line.key, "data-stat": stat}));
        } else if (segment.length > 1) {
          svg.append(element("svg:polyline", {
            "points": segment.map(([px, py]) => px.toFixed(1) + "," + py.toFixed(1)).join(" "),
            "fill": "none", "stroke": color(line.colorKey),
            "stroke-width": 1.6,
            "stroke-dasharray": dashed ? (line.kind === "models" ? "1 3" : "5 3") : "none",
            "data-series": line.key, "data-stat": stat}));
        }
        points += segment.length;
        segment = [];
      };
      values.forEach((v, i) => {
        if (v === null) flush(); else segment.push([x(frames[i].t), y(v)]);
      });
      flush();
    }
    svg.setAttribute("data-points", points);
  }

  function renderTable(document_, stats) {
    const body = document.getElementById("table");
    body.replaceChildren();
    for (const s of document_.series) {
      const now = stats ? stats.series[seriesKey(s)] : null;
      const cell = (v, scale) => format(now && v in now && now[v] !== null ? now[v] * scale : null);
      const row = element("tr", {"data-series": seriesKey(s)});
      row.append(element("td", {}, label(document_, s)), element("td", {}, cell("rps", 1)),
                 element("td", {}, cell("ips", 1)),
                 element("td", {}, cell("p50", 1000)), element("td", {}, cell("p95", 1000)),
                 element("td", {}, cell("failure_ratio", 100)),
                 element("td", {}, cell("usage_per_hour", 1)),
                 element("td", {}, cell("allocation_per_hour", 1)),
                 element("td", {}, cell("usage_per_1k", 1)),
                 element("td", {}, cell("allocation_per_1k", 1)));
      body.append(row);
    }
  }

  /** Take one document of dashboard/data into the history; the stats of its window, if any. */
  function record(document_) {
    const last = state.snapshots[state.snapshots.length - 1];
    if (last && document_.time <= last.time) state.snapshots = [];  // another clock: start over
    state.snapshots.push(document_);
    state.snapshots = state.snapshots.filter((d) => d.time >= document_.time - WINDOW_S);
    if (state.snapshots.length < 2) return null;
    const stats = windowStats(state.snapshots[0], document_);
    state.frames.push({t: document_.time, stats: stats});
    state.frames = state.frames.filter((f) => f.t >= document_.time - HISTORY_S);
    return stats;
  }

  function render(document_, stats) {
    renderSplits(document_, stats);
    renderLegend(document_);
    for (const spec of CHARTS) drawChart(spec, document_);
    renderTable(document_, stats);
  }

  async function poll() {
    const status = document.getElementById("status");
    try {
      const answer = await fetch(new URL("dashboard/data", window.location.href),
                                 {cache: "no-store"});
      if (!answer.ok) throw new Error("HTTP " + answer.status);
      const document_ = await answer.json();
      const stats = record(document_);
      render(document_, stats);
      state.polls += 1;
      status.className = "";
      status.dataset.polls = state.polls;
      status.textContent = "updated " + clock(document_.time) + " · every " + POLL_MS / 1000
        + " s · rates over the last " + WINDOW_S + " s · history " + HISTORY_S / 60 + " min";
    } catch (error) {
      status.className = "failed";
      status.textContent = "the last poll failed (" + error.message + "); retrying";
    }
  }

  async function loop() {
    await poll();
    window.setTimeout(loop, POLL_MS);
  }

  return {quantile, increase, windowStats, format, niceCeil, record, state, start: loop,
          POLL_MS, WINDOW_S, HISTORY_S};
})();

if (document.getElementById("charts")) window.ZhijianDashboard.start();
