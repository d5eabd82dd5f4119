// FlowMesh web view, the runtime figures: for the selected edge, its latency beside the run
// queue, Go scheduling and GC pauses of the process that serves it (GET /api/runtime?edge=),
// on one time axis, so that a slow edge tells whether the network or the server's process
// was slow; and a session's server-side figures for the session list.
// Loaded before app.js: it uses app.js's helpers (api, el, ms, time, $, state) only when called.
"use strict";

// The API's runtime buckets are 10 s long (the Nodes' RuntimeSketchWriter.BucketSeconds).
const runtimeBucketMs = 10_000;
const runtimeChart = { height: 130, left: 70, right: 12, top: 16, bottom: 18 };

// The lines each chart may draw; a series with no value in any bucket is left out.
const edgeLines = [
  { key: "edgeDurationP99Ms", name: "duration P99", cls: "duration" },
  { key: "edgeConnectP99Ms", name: "connect P99", cls: "connect" },
];
const processLines = [
  { key: "runQueueP99Ms", name: "run-queue P99", cls: "runq" },
  { key: "goScheduleP99Ms", name: "Go scheduling P99", cls: "gosched" },
];
const gcBars = { key: "gcPauseMs", name: "GC pause total", cls: "gc" };

// The API writes a figure that was not measured as null.
const known = (v) => v !== null && v !== undefined;

async function loadRuntime() {
  const edge = state.edge;
  if (!edge) return showRuntimeMessage(null, "select an edge to see the process that serves it");
  let series;
  try {
    series = await api(`/api/runtime?edge=${encodeURIComponent(edge)}&window=${state.window}`);
  } catch (e) {
    if (e.status !== 404) throw e;
    series = null;
  }
  // Another edge may have been selected while this answer was on its way: it must not draw over that one.
  if (state.edge !== edge) return;
  if (!series) return showRuntimeMessage(edge, "no server process is known for this edge yet: no session in the window names it");
  if (!series.buckets.length) return showRuntimeMessage(edge, "no runtime figures in this window", series);
  drawRuntime(edge, series);
}

function showRuntimeMessage(edge, message, series) {
  $("runtime-name").textContent = series ? series.process : "";
  $("runtime-about").textContent = series ? describeProcess(series.processes) : "";
  $("runtime-correlation").textContent = message;
  $("runtime-edge").replaceChildren();
  $("runtime-process").replaceChildren();
  $("runtime-charts").hidden = true;
  $("runtime-panel").dataset.edge = edge || "";
}

function drawRuntime(edge, series) {
  const buckets = series.buckets;
  $("runtime-name").textContent = series.process;
  $("runtime-about").textContent = describeProcess(series.processes);
  $("runtime-correlation").textContent = [
    correlationText("duration", series.runQueueVsDurationCorrelation),
    correlationText("connect", series.runQueueVsConnectCorrelation),
  ].join(" · ");
  $("runtime-charts").hidden = false;
  // Both charts take the width of the first and one x scale: a bucket sits at the same x in both.
  const width = $("runtime-edge").clientWidth || 600;
  const from = buckets[0].startUnixMs, to = buckets[buckets.length - 1].startUnixMs + runtimeBucketMs;
  const plotWidth = width - runtimeChart.left - runtimeChart.right;
  const x = (unixMs) => runtimeChart.left + ((unixMs - from) / (to - from)) * plotWidth;
  drawRuntimeChart($("runtime-edge"), width, buckets, x, edgeLines, null);
  drawRuntimeChart($("runtime-process"), width, buckets, x, processLines, gcBars);
  // The shared time axis, under the lower chart.
  const svg = $("runtime-process"), bottom = runtimeChart.height - 4;
  svg.append(el("text", { x: runtimeChart.left, y: bottom }, time(from)),
    el("text", { x: width - runtimeChart.right, y: bottom, "text-anchor": "end" }, time(to)));
  $("runtime-panel").dataset.edge = edge;
}

// A process may run as more than one pid (a restart, or workers by one name): each is listed.
function describeProcess(processes) {
  if (!processes.length) return "not watched now";
  return processes.map((p) => {
    const runtime = p.runtime === "go" ? "Go " + (p.goVersion || "") : p.runtime === "dotnet" ? ".NET" : "runtime not recognised";
    const extra = p.runtime === "go" && known(p.runnableGoroutines) ? `, ${p.runnableGoroutines} runnable goroutines`
      : p.runtime === "dotnet" && known(p.gcPauses) ? `, ${p.gcPauses} GC pauses` : "";
    return `${runtime.trim()} · pid ${p.pid}${extra}`;
  }).join("; ");
}

// The API leaves r out (null) with fewer than three buckets that have both P99s.
function correlationText(edgeFigure, r) {
  return `run-queue P99 vs ${edgeFigure} P99: r = ` + (known(r) ? r.toFixed(2) : "– (fewer than 3 buckets with both)");
}

// One chart: a line per series (a point per bucket that has its value, at the bucket's middle)
// over optional bars. y starts at 0, so that a rise reads as its real size; a transparent
// column per bucket carries all its figures as a tooltip, the exact values a line hides.
function drawRuntimeChart(svg, width, buckets, x, lines, bars) {
  const { height, top, bottom, left, right } = runtimeChart;
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const shown = lines.filter((s) => buckets.some((b) => known(b[s.key])));
  const barShown = bars && buckets.some((b) => b[bars.key] > 0) ? bars : null;
  const all = [...shown, ...(barShown ? [barShown] : [])];
  const max = Math.max(0, ...all.flatMap((s) => buckets.map((b) => b[s.key] || 0))) || 1;
  const y = (v) => height - bottom - (v / max) * (height - top - bottom);
  const middle = (b) => x(b.startUnixMs + runtimeBucketMs / 2);
  const barWidth = Math.max(1, x(runtimeBucketMs) - x(0) - 2);

  svg.append(el("line", { class: "axis", x1: left, y1: y(0), x2: width - right, y2: y(0) }),
    el("text", { x: left - 4, y: y(max) + 4, "text-anchor": "end" }, ms(max)),
    el("text", { x: left - 4, y: y(0), "text-anchor": "end" }, "0"));
  if (barShown) {
    for (const b of buckets.filter((b) => b[barShown.key] > 0))
      svg.append(el("rect", { class: barShown.cls, x: middle(b) - barWidth / 2, y: y(b[barShown.key]), width: barWidth, height: y(0) - y(b[barShown.key]) }));
  }
  for (const s of shown) {
    for (const run of runsOf(buckets, s.key))
      svg.append(el("polyline", { class: s.cls, points: run.map((b) => `${middle(b)},${y(b[s.key])}`).join(" ") }));
    for (const b of buckets.filter((b) => known(b[s.key]))) svg.append(el("circle", { class: s.cls, cx: middle(b), cy: y(b[s.key]), r: 2.5 }));
  }
  for (const b of buckets) {
    const column = el("rect", { class: "bucket", "data-start": b.startUnixMs, x: x(b.startUnixMs), y: top, width: x(runtimeBucketMs) - x(0), height: height - top - bottom });
    column.append(el("title", {}, `${time(b.startUnixMs)}: ` + all.map((s) => `${s.name} ${ms(b[s.key])}`).join(", ")));
    svg.append(column);
  }
  // The legend, in the colours of the series, along the top.
  let legendX = left;
  for (const s of all) {
    svg.append(el("text", { class: "legend " + s.cls, x: legendX, y: 11 }, s.name));
    legendX += 7 * s.name.length + 16;
  }
  if (!all.length) svg.append(el("text", { x: left + 8, y: top + 14 }, "no values in this window"));
}

// The runs of consecutive buckets that have this figure (the API leaves out buckets with no
// figure at all): a line breaks at a gap rather than draw values nobody measured.
function runsOf(buckets, key) {
  const runs = [];
  let last = null;
  for (const b of buckets.filter((b) => known(b[key]))) {
    if (!last || b.startUnixMs - last.startUnixMs !== runtimeBucketMs) runs.push([]);
    runs[runs.length - 1].push(b);
    last = b;
  }
  return runs;
}

// A session's server side, from its own process (null fields were not measured): accept-queue
// wait, run-queue and Go scheduling P99 over the session, its goroutine, the GC pause it overlapped.
function serverRuntimeText(session) {
  const r = session.server && session.server.runtime;
  if (!r) return "–";
  const parts = [];
  if (known(r.acceptWaitMs)) parts.push("accept " + ms(r.acceptWaitMs));
  if (known(r.runQueueP99Ms)) parts.push("run queue " + ms(r.runQueueP99Ms));
  if (known(r.goScheduleP99Ms)) parts.push("Go sched " + ms(r.goScheduleP99Ms));
  if (known(r.goroutine)) parts.push("goroutine " + r.goroutine);
  if (known(r.gcPauseOverlapMs)) parts.push("GC " + ms(r.gcPauseOverlapMs));
  return parts.join(" · ") || "–";
}
