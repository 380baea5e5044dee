// tether's dashboard: re-renders the page from its JSON API every few seconds.
//
// The server renders the first view (src/tether/monitor/_dashboard.py) and this file
// renders the same documents again, in the same markup, without reloading the page.
// Every value is data that may hold markup (a monitor's name, a server's error text):
// it only ever reaches the page through textContent or setAttribute, never innerHTML.
"use strict";

(() => {
  const body = document.body;
  const page = body.dataset.page;
  const api = body.dataset.api;
  const every = Number(body.dataset.refreshMs) || 5000;
  const SPARK_WIDTH = 120;
  const SPARK_HEIGHT = 24;
  const SPARK_WINDOW_MS = 3600 * 1000;
  const SVG = "http://www.w3.org/2000/svg";

  // -- building blocks -----------------------------------------------------------------

  // An element with attributes and children; strings become text nodes.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(name, String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === "") continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    return node;
  }

  // Halves rounded up, with the same float operations as fixed() in _dashboard.py, so the
  // server and the script print the same text.
  function fixed(value, digits) {
    const scale = 10 ** digits;
    return (Math.floor(value * scale + 0.5) / scale).toFixed(digits);
  }

  function humanDuration(seconds) {
    let s = Math.max(0, Math.floor(seconds + 0.5));
    if (s < 60) return `${s} s`;
    let minutes = Math.floor(s / 60);
    s %= 60;
    if (minutes < 60) return `${minutes} min ${s} s`;
    let hours = Math.floor(minutes / 60);
    minutes %= 60;
    if (hours < 24) return `${hours} h ${minutes} min`;
    const days = Math.floor(hours / 24);
    hours %= 24;
    return `${days} d ${hours} h`;
  }

  function when(text) {
    if (text === null || text === undefined) return "—";
    return el("time", { datetime: text }, text.replace("T", " ").replace("Z", " UTC"));
  }

  function latency(ms) {
    return ms === null || ms === undefined ? "—" : `${fixed(ms, 1)} ms`;
  }

  function kind(k) {
    return k ? el("code", { class: "kind" }, k) : null;
  }

  function stateBadge(state) {
    return el("span", { class: `state state-${state}` }, state);
  }

  function monitorPath(name) {
    return "/monitors/" + encodeURIComponent(name);
  }

  function link(name) {
    return el("a", { href: monitorPath(name) }, name);
  }

  function joined(nodes, separator) {
    const out = [];
    nodes.forEach((node, i) => {
      if (i) out.push(separator);
      out.push(node);
    });
    return out;
  }

  function replace(id, ...children) {
    const target = document.getElementById(id);
    if (target) target.replaceChildren(...children.flat(Infinity));
  }

  function replaceBody(tableId, rows) {
    const tbody = document.querySelector(`#${tableId} tbody`);
    if (tbody) tbody.replaceChildren(...rows);
  }

  // -- shared pieces -------------------------------------------------------------------

  function incident(i, withTimeline) {
    const monitors = i.monitors.length ? joined(i.monitors.map(link), ", ") : ["—"];
    const status = i.open
      ? [`open for ${humanDuration(i.duration_s)}`]
      : ["resolved ", when(i.resolved), ` after ${humanDuration(i.duration_s)}`];
    const parts = [
      el("h3", {}, `#${i.id} `, kind(i.kind), " ", el("span", { class: "monitors" }, monitors)),
      el("p", { class: "detail" }, i.detail || ""),
      el("p", { class: "hint" }, el("strong", {}, "Fix:"), " ", i.hint || ""),
      el("p", { class: "when" }, "opened ", when(i.opened), ", ", status),
    ];
    if (withTimeline) {
      const items = i.timeline.map((e) =>
        el("li", {}, when(e.at), " ", el("strong", {}, e.event), " ", e.detail || ""),
      );
      parts.push(el("ol", { class: "timeline" }, items));
    }
    const state = i.open ? "open" : "resolved";
    return el("article", { class: `incident incident-${state}`, "data-incident": i.id }, parts);
  }

  function incidents(list, empty, withTimeline) {
    if (!list.length) return [el("p", { class: "none" }, empty)];
    return list.map((i) => incident(i, withTimeline));
  }

  function sparkline(points, now) {
    if (!points.length) return el("span", { class: "muted" }, "no checks");
    const end = Date.parse(now);
    const x = (at) => {
      const age = end - Date.parse(at);
      return Math.round(SPARK_WIDTH * (1 - age / SPARK_WINDOW_MS) * 10) / 10;
    };
    const timed = points.filter((p) => p.latency_ms !== null);
    const top = Math.max(0, ...timed.map((p) => p.latency_ms)) || 1;
    const line = timed.map((p) => {
      const y = SPARK_HEIGHT - 2 - (p.latency_ms / top) * (SPARK_HEIGHT - 4);
      return [x(p.at), Math.round(y * 10) / 10];
    });
    const checks = points.reduce((n, p) => n + p.checks, 0);
    const failed = points.reduce((n, p) => n + p.failed, 0);
    const label = `last hour: ${checks} checks, ${failed} failed`;
    const box = svg("svg", {
      class: "spark",
      viewBox: `0 0 ${SPARK_WIDTH} ${SPARK_HEIGHT}`,
      width: SPARK_WIDTH,
      height: SPARK_HEIGHT,
      role: "img",
      "aria-label": label,
    });
    const title = svg("title", {});
    title.textContent = label;
    const bottom = SPARK_HEIGHT - 0.5;
    box.append(
      title,
      svg("line", { class: "spark-axis", x1: 0, y1: bottom, x2: SPARK_WIDTH, y2: bottom }),
      svg("polyline", {
        class: "spark-line",
        fill: "none",
        points: line.map(([px, py]) => `${px},${py}`).join(" "),
      }),
    );
    if (line.length) {
      // The latest minute as a dot, so even one point shows.
      const [cx, cy] = line[line.length - 1];
      box.append(svg("circle", { class: "spark-dot", cx, cy, r: 1.5 }));
    }
    for (const p of points.filter((p) => p.failed)) {
      const at = Math.round((x(p.at) - 1) * 10) / 10;
      box.append(
        svg("rect", { class: "spark-fail", x: at, y: SPARK_HEIGHT - 4, width: 2, height: 4 }),
      );
    }
    return box;
  }

  // -- pages ---------------------------------------------------------------------------

  const ORDER = ["down", "flapping", "degraded", "up", "paused", "unknown"];

  function summary(counts) {
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const noun = total === 1 ? "monitor" : "monitors";
    const parts = ORDER.filter((s) => counts[s]).map((s) =>
      el("span", { class: `count state-${s}` }, `${counts[s]} ${s}`),
    );
    return parts.length ? [`${total} ${noun}: `, joined(parts, ", ")] : [`${total} ${noun}`];
  }

  function row(r, now) {
    const check = r.last_check;
    const f = r.last_failure;
    const failure = f
      ? [
          kind(f.kind),
          " ",
          el("span", { class: "detail" }, f.detail || ""),
          " ",
          el("span", { class: "ago" }, `${humanDuration(f.ago_s)} ago`),
        ]
      : ["—"];
    return el(
      "tr",
      { "data-monitor": r.name },
      el("td", { class: "name" }, link(r.name), el("div", { class: "url" }, r.url)),
      el("td", {}, stateBadge(r.state)),
      el("td", { class: "for", title: r.since || "" }, r.for_s === null ? "—" : humanDuration(r.for_s)),
      el("td", { class: "latency" }, latency(check ? check.latency_ms : null)),
      el("td", { class: "spark-cell" }, sparkline(r.sparkline, now)),
      el("td", { class: "failure" }, failure),
    );
  }

  function renderDashboard(doc) {
    replace("summary", summary(doc.summary));
    replace("incidents", incidents(doc.open_incidents, "No open incidents.", false));
    replaceBody("monitors", doc.rows.map((r) => row(r, doc.now)));
  }

  function emptyRow(text) {
    return el("tr", {}, el("td", { colspan: 5, class: "none" }, text));
  }

  function facts(doc) {
    const check = doc.last_check;
    const last = check
      ? [when(check.at), `: ${check.ok ? "ok" : "failed"}, ${latency(check.latency_ms)} `, kind(check.kind)]
      : ["never"];
    const conditions = doc.conditions.length
      ? doc.conditions.map((c) => el("li", {}, el("code", {}, c)))
      : [el("li", {}, "none: a failed probe or a 4xx or 5xx status fails the check")];
    const held = doc.for_s === null ? "" : ` for ${humanDuration(doc.for_s)}`;
    return [
      el("p", { id: "state-line" }, stateBadge(doc.state), el("span", { class: "for" }, held)),
      el(
        "dl",
        { class: "facts" },
        el("dt", {}, "URL"),
        el("dd", { class: "url" }, doc.url),
        el("dt", {}, "Checked every"),
        el("dd", {}, `${doc.interval} (timeout ${doc.timeout})`),
        el("dt", {}, "Conditions"),
        el("dd", {}, el("ul", { class: "conditions" }, conditions)),
        el("dt", {}, "Last check"),
        el("dd", { id: "last-check" }, last),
      ),
    ];
  }

  function result(r) {
    const phases = Object.entries(r.phases)
      .map(([name, ms]) => `${name} ${fixed(ms, 1)}`)
      .join(" · ");
    const outcome = r.ok ? "ok" : "failed";
    const why = [kind(r.kind), r.kind && r.detail ? " " : "", r.detail || ""];
    return el(
      "tr",
      {},
      el("td", {}, when(r.at)),
      el("td", {}, el("span", { class: `result result-${outcome}` }, outcome)),
      el("td", { class: "latency" }, latency(r.latency_ms)),
      el("td", { class: "phases" }, phases),
      el("td", {}, why, el("ul", { class: "conditions" }, r.conditions.map((c) => el("li", {}, c)))),
    );
  }

  function hour(h) {
    const uptime = h.uptime_pct === null ? "—" : `${fixed(h.uptime_pct, 2)} %`;
    const kinds = Object.entries(h.failures).map(([k, n]) => `${k} × ${n}`).join(", ");
    return el(
      "tr",
      {},
      el("td", {}, when(h.start)),
      el("td", {}, String(h.checks)),
      el("td", { class: "uptime" }, uptime),
      el("td", {}, latency(h.latency_avg_ms)),
      el("td", {}, kinds || "—"),
    );
  }

  function renderMonitor(doc) {
    replace("facts", facts(doc));
    replace("incidents", incidents(doc.incidents, "No incidents.", true));
    replaceBody("hourly", doc.hourly.length ? doc.hourly.map(hour) : [emptyRow("No roll-ups yet.")]);
    replaceBody(
      "results",
      doc.results.length ? doc.results.map(result) : [emptyRow("No results yet.")],
    );
  }

  function renderIncidents(doc) {
    replace("incidents", incidents(doc.incidents, "No incidents yet.", true));
  }

  const renderers = {
    dashboard: renderDashboard,
    monitor: renderMonitor,
    incidents: renderIncidents,
  };

  // -- refreshing ----------------------------------------------------------------------

  function updated(doc) {
    const box = document.getElementById("updated");
    if (!box) return;
    box.classList.remove("stale");
    box.replaceChildren("as of ", when(doc.now));
  }

  function stale(why) {
    const box = document.getElementById("updated");
    if (!box) return;
    box.classList.add("stale");
    box.replaceChildren(`not updated: ${why}`);
  }

  async function refresh() {
    try {
      if (document.hidden) return; // no point asking while nobody looks
      const response = await fetch(api, { headers: { Accept: "application/json" }, cache: "no-store" });
      if (response.status === 404) {
        stale("this monitor is no longer configured");
        return;
      }
      if (!response.ok) {
        stale(`the monitor answered ${response.status}`);
        return;
      }
      const doc = await response.json();
      renderers[page](doc);
      updated(doc);
    } catch (error) {
      stale("the monitor does not answer");
    } finally {
      setTimeout(refresh, every);
    }
  }

  if (api && renderers[page]) setTimeout(refresh, every);
})();
