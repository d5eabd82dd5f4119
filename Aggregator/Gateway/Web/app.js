// FlowMesh web view: the service map, a latency heatmap per edge, the runtime of the edge's
// server process (runtime.js) and live sessions, all read from the gateway's own API. No
// framework: the page must load anywhere the gateway runs, offline included.
"use strict";

const token = new URLSearchParams(location.hash.slice(1)).get("token") || sessionStorage.getItem("flowmesh-token");
if (token) sessionStorage.setItem("flowmesh-token", token);
const state = { edge: null, window: "15m", metric: "connect", sessions: [], anomalies: Promise.resolve([]) };
const $ = (id) => document.getElementById(id);
const svgNs = "http://www.w3.org/2000/svg";

async function api(path) {
  const response = await fetch(path, { headers: token ? { Authorization: "Bearer " + token } : {} });
  if (!response.ok) {
    // The status stays on the error: a 404 can be an answer ("no such process yet"), not a failure.
    const error = new Error(path + ": " + response.status);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

function el(tag, attrs, text) {
  const node = tag === "svg" || ["line", "polyline", "rect", "text", "circle", "g", "title"].includes(tag)
    ? document.createElementNS(svgNs, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

const ms = (v) => v === null || v === undefined ? "–" : v < 1 ? v.toFixed(3) + " ms" : v < 1000 ? v.toFixed(1) + " ms" : (v / 1000).toFixed(2) + " s";
const time = (unixMs) => new Date(unixMs).toLocaleTimeString();

async function loadCluster() {
  try {
    const c = await api("/api/cluster");
    const nodes = c.members.filter((m) => m.role === "node");
    const aggregators = c.members.filter((m) => m.role === "aggregator");
    const unhealthy = c.members.filter((m) => !m.healthy).length;
    $("cluster").textContent = `cluster ${c.name}: ${nodes.length} nodes, ${aggregators.length} aggregators` +
      (unhealthy ? `, ${unhealthy} unhealthy` : "") + `, ${c.totalDrops} events dropped`;
  } catch (e) { $("cluster").textContent = String(e); }
}

// The window's anomalies (the newest 1,000), read once per refresh for the map, the table and the heatmap.
function windowMs() {
  const m = /^(\d+)([smh])$/.exec(state.window);
  return m ? Number(m[1]) * { s: 1e3, m: 6e4, h: 3.6e6 }[m[2]] : 15 * 6e4;
}

async function loadAnomalies() {
  const page = await api(`/api/anomalies?limit=1000&since=${Date.now() - windowMs()}`);
  return page.items;
}

async function loadClusters() {
  const c = await api("/api/anomalies/clusters");
  const list = $("clusters");
  list.replaceChildren(...c.clusters.map((x) => el("li", { class: "cluster" }, x.summary)));
  $("clusters-about").textContent = c.computedUnixMs
    ? `${c.clusters.length} clusters of ${c.sessions} anomalous sessions in the last ${c.windowSeconds} s, ${c.noise} alone · ${time(c.computedUnixMs)}`
    : "no clustering pass yet";
}

async function loadEdges() {
  const [edges, anomalies] = await Promise.all([api("/api/edges?limit=1000&window=" + state.window), state.anomalies]);
  const anomaliesOf = {};
  for (const a of anomalies) anomaliesOf[a.edge] = (anomaliesOf[a.edge] || 0) + 1;
  for (const e of edges) e.anomalies = anomaliesOf[e.edge] || 0;
  const body = $("edges").tBodies[0];
  body.replaceChildren();
  for (const e of edges) {
    const row = el("tr", { class: "edge" + (e.edge === state.edge ? " selected" : ""), "data-edge": e.edge });
    row.append(el("td", {}, e.edge), el("td", {}, e.sessions), el("td", { class: e.errors ? "bad" : "" }, e.errors),
      el("td", { class: e.listenDrops ? "bad" : "", title: "connection attempts the server's listener dropped: SYN or accept queue full" }, e.listenDrops),
      el("td", {}, ms(e.p99Ms)), el("td", {}, e.tags.sent ? Math.round(100 * e.tags.survivalRatio) + "%" : "–"),
      el("td", { class: e.anomalies ? "bad" : "" }, e.anomalies));
    row.onclick = () => selectEdge(e.edge === state.edge ? null : e.edge);
    body.append(row);
  }
  drawMap(edges);
}

function drawMap(edges) {
  const map = $("map");
  map.replaceChildren();
  const clients = [...new Set(edges.map((e) => e.client))].sort();
  const servers = [...new Set(edges.map((e) => e.server))].sort();
  const width = map.clientWidth || 600, height = Math.max(120, 34 * Math.max(clients.length, servers.length) + 20);
  map.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const y = (list, name) => 20 + (list.indexOf(name) + 0.5) * ((height - 20) / Math.max(1, list.length));
  const left = 150, right = width - 170;
  // Each label goes at the first point along its line (middle first) where it covers no
  // label placed before it: lines that cross or meet at a server would stack them.
  const placed = [];
  const labelAt = (e, text) => {
    const w = 6.5 * text.length, h = 12, y1 = y(clients, e.client), y2 = y(servers, e.server);
    for (const t of [0.5, 0.38, 0.62, 0.28, 0.72, 0.44, 0.56, 0.2, 0.8]) {
      const box = { x: left + t * (right - left) - w / 2, y: y1 + t * (y2 - y1) - 4 - h, w, h };
      if (!placed.some((b) => box.x < b.x + b.w && b.x < box.x + box.w && box.y < b.y + b.h && b.y < box.y + box.h)) {
        placed.push(box);
        return box;
      }
    }
    return null; // no room: the table below has the numbers
  };
  for (const e of edges) {
    const line = el("line", { x1: left, y1: y(clients, e.client), x2: right, y2: y(servers, e.server),
      "stroke-width": 1 + Math.min(6, Math.log10(1 + e.sessions) * 2),
      class: (e.edge === state.edge ? "selected" : "") + (e.anomalies ? " anomalous" : "") });
    line.append(el("title", {}, `${e.edge}: ${e.sessions} sessions, ${e.errors} errors, ${e.anomalies} anomalies, P99 ${ms(e.p99Ms)}`));
    line.onclick = () => selectEdge(e.edge);
    map.append(line);
    const label = `${ms(e.p99Ms)} · ${e.sessions}`, box = labelAt(e, label);
    if (box) map.append(el("text", { x: box.x + box.w / 2, y: box.y + box.h, "text-anchor": "middle" }, label));
  }
  for (const c of clients) map.append(el("circle", { cx: left, cy: y(clients, c), r: 5, fill: "#16324f" }), el("text", { x: left - 10, y: y(clients, c) + 4, "text-anchor": "end" }, c));
  for (const s of servers) map.append(el("circle", { cx: right, cy: y(servers, s), r: 5, fill: "#16324f" }), el("text", { x: right + 10, y: y(servers, s) + 4 }, s));
}

async function loadHeatmap() {
  const scope = state.edge ? "&edge=" + encodeURIComponent(state.edge) : "";
  const [h, l] = await Promise.all([
    api(`/api/heatmap?window=${state.window}&metric=${state.metric}${scope}`),
    api(`/api/latency?window=${state.window}&metric=${state.metric}${scope}`),
  ]);
  $("heatmap-title").textContent = state.edge || "whole cluster";
  $("latency").textContent = l.count
    ? `${l.count} values · P50 ${ms(l.p50Ms)} · P90 ${ms(l.p90Ms)} · P99 ${ms(l.p99Ms)} · P99.9 ${ms(l.p999Ms)}`
    : "no values in this window";
  const svg = $("heatmap");
  svg.replaceChildren();
  const width = svg.clientWidth || 600, height = 260, left = 70, bottom = 20;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const cols = h.times.length, rows = h.binUpperMs.length;
  const cw = (width - left) / Math.max(1, cols), ch = (height - bottom) / Math.max(1, rows);
  const max = Math.max(1, ...h.counts.flat());
  h.counts.forEach((column, c) => column.forEach((count, b) => {
    if (!count) return;
    const shade = Math.round(255 - 200 * Math.sqrt(count / max));
    const cell = el("rect", { class: "cell", x: left + c * cw, y: height - bottom - (b + 1) * ch, width: cw + 0.5, height: ch + 0.5,
      fill: `rgb(${shade},${Math.round(shade * 0.8 + 40)},255)` });
    cell.append(el("title", {}, `${time(h.times[c])}: ${count} ≤ ${ms(h.binUpperMs[b])}`));
    svg.append(cell);
  }));
  for (let b = 0; b < rows; b += Math.max(1, Math.ceil(rows / 8)))
    svg.append(el("text", { x: left - 4, y: height - bottom - b * ch - 2, "text-anchor": "end" }, ms(h.binUpperMs[b])));
  // Each anomaly of this metric (and edge) marked in its column, at the bin of its value.
  const anomalies = (await state.anomalies).filter((a) => a.kind === "session" && a.metric === state.metric && (!state.edge || a.edge === state.edge));
  const columnMs = (h.columnSeconds || 10) * 1000;
  for (const a of anomalies) {
    const c = h.times.findIndex((t) => a.unixMs >= t && a.unixMs < t + columnMs);
    if (c < 0) continue;
    const b = Math.max(0, h.binUpperMs.findIndex((upper) => a.value <= upper));
    const mark = el("circle", { class: "anomaly", cx: left + (c + 0.5) * cw, cy: height - bottom - (b + 0.5) * ch, r: 3 });
    mark.append(el("title", {}, a.reason));
    svg.append(mark);
  }
  if (cols) {
    svg.append(el("text", { x: left, y: height - 4 }, time(h.times[0])));
    svg.append(el("text", { x: width, y: height - 4, "text-anchor": "end" }, time(h.times[cols - 1])));
  }
}

function sessionRow(s) {
  const row = el("tr", { class: "session", "data-id": s.id });
  row.append(el("td", {}, time(s.endUnixMs)), el("td", {}, s.edge), el("td", {}, s.join + (s.ambiguous ? "?" : "")),
    el("td", {}, ms(s.connectMs)), el("td", {}, ms(s.durationMs)), el("td", {}, `${s.bytesClientToServer} / ${s.bytesServerToClient}`),
    el("td", { class: s.reset !== "none" ? "bad" : "" }, s.reset), el("td", { class: "runtime" }, serverRuntimeText(s)));
  row.onclick = () => showDetail("/api/sessions/" + encodeURIComponent(s.id));
  return row;
}

function renderSessions() {
  const shown = state.sessions.filter((s) => !state.edge || s.edge === state.edge).slice(0, 50);
  $("sessions").tBodies[0].replaceChildren(...shown.map(sessionRow));
}

function addSession(s) {
  state.sessions = [s, ...state.sessions.filter((x) => x.id !== s.id)].slice(0, 500);
  renderSessions();
}

async function loadSessions() {
  const page = await api("/api/sessions?limit=50");
  state.sessions = page.items;
  renderSessions();
}

// An EventSource cannot send the token as a header, and a URL is logged along its way: with
// a token, each stream opens with a single-use ticket, asked of the same gateway just before.
async function streamUrl() {
  const url = "/api/stream?kind=session";
  if (!token) return url;
  const response = await fetch("/api/stream/ticket", { method: "POST", headers: { Authorization: "Bearer " + token } });
  if (!response.ok) throw new Error("/api/stream/ticket: " + response.status);
  return url + "&ticket=" + encodeURIComponent((await response.json()).ticket);
}

// The browser's own reconnect would present the used ticket again, so a stream that fails
// is closed and opened anew (with a new ticket) after the 2 s the gateway asks for.
function reconnect(source) {
  if (source) source.close();
  $("stream-state").textContent = "reconnecting…";
  setTimeout(stream, 2000);
}

async function stream() {
  let source;
  try {
    source = new EventSource(await streamUrl());
  } catch (e) {
    console.error(e);
    reconnect(null);
    return;
  }
  source.onopen = () => { $("stream-state").textContent = "live"; };
  source.onerror = () => reconnect(source);
  source.addEventListener("session", (e) => addSession(JSON.parse(e.data)));
}

async function showDetail(path) {
  $("detail-panel").hidden = false;
  $("detail-link").href = path;
  try { $("detail").textContent = JSON.stringify(await api(path), null, 2); } catch (e) { $("detail").textContent = String(e); }
}

function selectEdge(edge) {
  state.edge = edge;
  refresh();
  renderSessions();
}

async function refresh() {
  state.anomalies = loadAnomalies().catch((e) => { console.error(e); return []; });
  await Promise.all([loadCluster(), loadEdges(), loadHeatmap(), loadRuntime(), loadClusters()].map((p) => p.catch((e) => console.error(e))));
  document.body.dataset.loaded = "true";
}

$("window").onchange = (e) => { state.window = e.target.value; refresh(); };
$("metric").onchange = (e) => { state.metric = e.target.value; loadHeatmap(); };
$("detail-close").onclick = () => { $("detail-panel").hidden = true; };
loadSessions().catch((e) => console.error(e));
stream();
refresh();
setInterval(refresh, 5000);
