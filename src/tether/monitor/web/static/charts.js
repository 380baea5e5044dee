// tether's monitor page: the response-time chart, drawn by uPlot (static/uplot.min.js)
// from the series the server computes (GET /api/series/NAME?range=..., see
// src/tether/monitor/web/documents/_dashboard.py::build_series).  It renders no markup: uPlot
// builds its canvas and legend with the DOM API, labels as textContent.  Without this script
// the chart's frame stays hidden and the page's tables say the same.
//
// dashboard.js swaps the page's <main> for a fresh copy every few seconds; the fresh copy
// holds an empty, hidden frame, which this script replaces with the live chart.
"use strict";

(() => {
  const box = document.getElementById("chart");
  if (!box || typeof uPlot === "undefined") return;
  const plotBox = box.querySelector(".chart-plot");
  const note = box.querySelector(".chart-note");
  const HEIGHT = 260;
  // How old a range's points may be when a swap asks for them again (ms): one check's
  // worth for the last hour, a bucket's worth for the roll-ups.
  const STALE = { "1h": 0, "24h": 60000, "7d": 300000, "30d": 300000 };
  let range = box.dataset.range;
  let view = "phases";
  let plot = null;
  let doc = null;
  let fetched = 0;
  let asking = 0;

  // Colours live in dashboard.css, as custom properties, for the SVG and the chart alike.
  const css = getComputedStyle(document.documentElement);
  const colour = (name) => css.getPropertyValue(name).trim() || "#888";
  const alpha = (hex, a) => {
    const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
    if (!m) return hex;
    return `rgba(${parseInt(m[1], 16)},${parseInt(m[2], 16)},${parseInt(m[3], 16)},${a})`;
  };
  const ms = (v) => (v == null ? "—" : `${v.toFixed(1)} ms`);

  // -- what is drawn -------------------------------------------------------------------

  // The phases stacked (each filled between its line and the one below): only raw
  // results have them.
  function phaseSeries(d) {
    const names = Object.keys(d.phases);
    const data = [];
    const series = [];
    const bands = [];
    let below = null;
    names.forEach((name, k) => {
      const raw = d.phases[name];
      const sum = raw.map((v, i) => {
        if (below === null) return v;
        if (v == null) return below[i];
        return (below[i] || 0) + v;
      });
      data.push(sum);
      // A multi-step check's phases (login.dns) take their phase's colour.
      const stroke = colour(`--phase-${name.split(".").pop()}`);
      series.push({
        label: name,
        stroke,
        fill: alpha(stroke, 0.35),
        width: 1,
        points: { show: false },
        value: (u, v, si, i) => (i == null ? "—" : ms(raw[i])),
      });
      if (k > 0) bands.push({ series: [k + 1, k] });
      below = sum;
    });
    return { data, series, bands };
  }

  // The latency: each check's, or each bucket's average with its least and most as a band.
  function latencySeries(d) {
    const stroke = colour("--link");
    const data = [d.latency_ms];
    const series = [
      { label: d.step_s ? "average" : "latency", stroke, width: 1.5, value: (u, v) => ms(v) },
    ];
    const bands = [];
    if (d.latency_max_ms) {
      data.push(d.latency_max_ms, d.latency_min_ms);
      const faint = alpha(stroke, 0.15);
      series.push(
        { label: "most", stroke: faint, fill: faint, width: 1, value: (u, v) => ms(v) },
        { label: "least", stroke: faint, width: 1, value: (u, v) => ms(v) },
      );
      bands.push({ series: [2, 3] });
    }
    return { data, series, bands };
  }

  // Each failure kind as points at the latency of the check (or bucket) that failed,
  // coloured by its kind's layer; the legend counts them at the cursor.
  function failureSeries(d, top) {
    const data = [];
    const series = [];
    for (const [kind, counts] of Object.entries(d.failures)) {
      const stroke = colour(`--layer-${d.layers[kind]}`);
      data.push(counts.map((n, i) => (n ? (top[i] == null ? 0 : top[i]) : null)));
      series.push({
        label: kind,
        stroke,
        width: 0,
        paths: () => null,
        points: { show: true, size: 8, stroke, fill: stroke },
        value: (u, v, si, i) => (i == null ? "—" : `${counts[i]} failed`),
      });
    }
    return { data, series };
  }

  // Behind the lines, a band the colour of the kind over every check or bucket that failed.
  function failureBands(d) {
    return (u) => {
      const { ctx } = u;
      const { top, height } = u.bbox;
      ctx.save();
      for (const [kind, counts] of Object.entries(d.failures)) {
        ctx.fillStyle = alpha(colour(`--layer-${d.layers[kind]}`), 0.18);
        counts.forEach((n, i) => {
          if (!n) return;
          const t = d.time[i];
          const x0 = u.valToPos(t, "x", true);
          const x1 = d.step_s ? u.valToPos(t + d.step_s, "x", true) : x0 + 2;
          ctx.fillRect(Math.min(x0, x1 - 2), top, Math.max(2, x1 - x0), height);
        });
      }
      ctx.restore();
    };
  }

  function two(n) {
    return String(n).padStart(2, "0");
  }

  // "19:02" (a range of two days or less), "01-15" at midnight and "01-15 19:02"
  // otherwise; with full, the whole "2027-01-15 19:02".  Always UTC.
  function timeLabel(ts, span, full) {
    const d = new Date(ts * 1000);
    const hm = `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}`;
    const md = `${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}`;
    if (full) return `${d.getUTCFullYear()}-${md} ${hm}`;
    if (span <= 2 * 86400) return hm;
    return hm === "00:00" ? md : `${md} ${hm}`;
  }

  function draw(d) {
    const stacked = view === "phases" && Object.keys(d.phases).length > 0;
    const main = stacked ? phaseSeries(d) : latencySeries(d);
    const top = stacked ? main.data[main.data.length - 1] : d.latency_ms;
    const fails = failureSeries(d, top);
    const from = Date.parse(d.from) / 1000;
    const to = Date.parse(d.to) / 1000;
    const opts = {
      width: Math.max(300, plotBox.clientWidth),
      height: HEIGHT,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      scales: { x: { time: true, range: () => [from, to] }, y: { range: (u, lo, hi) => [0, hi || 1] } },
      axes: [
        {
          stroke: colour("--muted"),
          grid: { stroke: colour("--line"), width: 1 },
          // 24-hour UTC times, as the rest of the page writes them (uPlot's own are
          // 12-hour: "6:50pm"); a date where the range spans days.
          values: (u, splits) => {
            const labels = splits.map((ts) => timeLabel(ts, to - from));
            box.dataset.ticks = labels.join("|");
            return labels;
          },
        },
        {
          stroke: colour("--muted"),
          grid: { stroke: colour("--line"), width: 1 },
          values: (u, vals) => vals.map((v) => `${v} ms`),
          size: 70,
        },
      ],
      series: [
        { label: "time (UTC)", value: (u, ts) => (ts == null ? "--" : `${timeLabel(ts, 0, true)} UTC`) },
        ...main.series,
        ...fails.series,
      ],
      bands: main.bands,
      hooks: { drawClear: [failureBands(d)] },
      legend: { live: true },
    };
    const data = [d.time, ...main.data, ...fails.data];
    if (plot) plot.destroy();
    plot = new uPlot(opts, data, plotBox);
    box.dataset.source = d.source;
    box.dataset.points = String(d.time.length);
    box.dataset.lines = String(data.length - 1);
    box.dataset.shown = d.range;
    box.dataset.view = stacked ? "phases" : "latency";
    const checks = d.checks.reduce((a, b) => a + b, 0);
    const failed = d.failed.reduce((a, b) => a + b, 0);
    note.textContent = `${checks} checks, ${failed} failed, from ${d.source}`;
    for (const b of box.querySelectorAll("button[data-view='phases']")) {
      b.disabled = Object.keys(d.phases).length === 0;
    }
  }

  // -- asking the server ---------------------------------------------------------------

  async function load(wanted) {
    const ask = ++asking;
    try {
      const response = await fetch(`${box.dataset.series}?range=${encodeURIComponent(wanted)}`, {
        headers: { Accept: "application/json" },
        cache: "no-store",
      });
      if (!response.ok) throw new Error(`the monitor answered ${response.status}`);
      const d = await response.json();
      if (ask !== asking) return; // a later range was asked for meanwhile
      doc = d;
      fetched = Date.now();
      draw(d);
    } catch (err) {
      if (ask === asking) note.textContent = `chart not updated: ${err.message}`;
    }
  }

  // The incident timeline is drawn by the server once per range; show the chart's.
  function showTimeline() {
    for (const svg of document.querySelectorAll("svg.timeline-axis")) {
      svg.toggleAttribute("hidden", svg.dataset.range !== range);
    }
  }

  function press(attr, value) {
    for (const b of box.querySelectorAll(`button[${attr}]`)) {
      b.setAttribute("aria-pressed", String(b.getAttribute(attr) === value));
    }
  }

  box.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.dataset.range && button.dataset.range !== range) {
      range = button.dataset.range;
      press("data-range", range);
      showTimeline();
      load(range);
    } else if (button.dataset.view && button.dataset.view !== view) {
      view = button.dataset.view;
      press("data-view", view);
      if (doc) draw(doc);
    }
  });

  // A swap brought a fresh <main>: put the live chart where its empty frame is, and ask
  // for fresh points once the shown ones are old enough.
  new MutationObserver(() => {
    const fresh = document.getElementById("chart");
    if (!fresh || fresh === box) return;
    fresh.replaceWith(box);
    showTimeline();
    if (Date.now() - fetched >= STALE[range]) load(range);
  }).observe(document.body, { childList: true });

  new ResizeObserver(() => {
    if (plot && plotBox.clientWidth && plot.width !== plotBox.clientWidth) {
      plot.setSize({ width: Math.max(300, plotBox.clientWidth), height: HEIGHT });
    }
  }).observe(plotBox);

  box.hidden = false;
  showTimeline();
  load(range);
})();
