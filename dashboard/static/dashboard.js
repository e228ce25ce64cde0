// Draws the trend charts from /api/summary with the locally served plotly.js.
// Every number is already in the page as text: without plotly the tables simply open.
"use strict";

const COLORS = { weight: "#4f46e5", hrv: "#0e9384", rhr: "#e31b54", sleep: "#7a5af8", hours: "#344054", none: "#98a2b3",
                 green: "#12b76a", yellow: "#fdb022", red: "#f04438", systolic: "#c01048", diastolic: "#f670c7",
                 steps: "#2e90fa", whoop: "#344054", withings: "#16b364" };
const DAY = { xperiod: 86400000, xperiodalignment: "middle" };  // a daily value fills its own calendar day
const GRID = "#eef0f4";

function baseLayout(range, extra) {
  // Every chart shares one range ending with today (local): no axis runs on into the future.
  const layout = {
    margin: { l: 8, r: 8, t: 8, b: 8 }, height: 240,
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#667085" },
    xaxis: { type: "date", range: range, showgrid: false, linecolor: "#e4e7ec", ticks: "", fixedrange: true,
             tickformat: "%d %b", hoverformat: "%a %d %b %Y", automargin: true, nticks: 5 },
    yaxis: { gridcolor: GRID, zeroline: false, fixedrange: true, automargin: true },
    hovermode: "x unified", showlegend: false, bargap: 0.2,
  };
  return Object.assign(layout, extra || {});
}

function leftAxis(extra) {
  return Object.assign({ gridcolor: GRID, zeroline: false, fixedrange: true, automargin: true }, extra || {});
}

function rightAxis(title) {
  return { overlaying: "y", side: "right", showgrid: false, zeroline: false, fixedrange: true, tickformat: ",.0f",
           automargin: true, title: { text: title, font: { size: 11 } } };
}

function recoveryColor(score) {
  if (score === null) return COLORS.none;
  return score >= 67 ? COLORS.green : score >= 34 ? COLORS.yellow : COLORS.red;
}

function rangeFor(axis, xs, start) {
  // A window with no data in it (a database not synced for a while) widens to the oldest point.
  start = start || axis.start;
  const first = xs.length ? xs[0].slice(0, 10) : start;
  const last = xs.length ? xs[xs.length - 1].slice(0, 10) : start;
  return [last < start && first < start ? first : start, axis.end];
}

function barRange(axis, xs) {
  return rangeFor(axis, xs, axis.bar_start);
}

function valueRange(axis, name) {
  // The server's range: every value, and never narrower than the measure's ordinary month (a
  // 55-60 bpm axis would draw a 2 bpm wobble as a cliff). No values: plotly's own.
  const range = axis.y && axis.y[name];
  return range ? { range: range, autorange: false } : {};
}

function pendingTrace(r) {
  // Days WHOOP has not scored (yet): a pale full-height bar, so a gap never reads as "no data".
  const days = r.pending || [];
  return { x: days, y: days.map(() => 100), type: "bar", name: "Pending", ...DAY,
           marker: { color: "rgba(152, 162, 179, 0.18)", line: { color: COLORS.none, width: 1 } },
           hovertemplate: "not scored yet<extra>Pending</extra>" };
}

function jumpTrace(w) {
  // A weigh-in far from the one before it, flagged where it sits (DASHBOARD_WEIGHT_JUMP_KG).
  const jumps = w.jumps || [];
  return { x: jumps.map((j) => j.local), y: jumps.map((j) => j.kg), type: "scatter", mode: "markers", name: "Jump",
           text: jumps.map((j) => j.display + " since the weigh-in before"),
           marker: { color: COLORS.red, size: 11, symbol: "diamond-open", line: { width: 2 } },
           hovertemplate: "%{y:.1f} kg: %{text}<extra>Jump</extra>" };
}

function heartTraces(r) {
  return [{ x: r.day, y: r.hrv, type: "scatter", mode: "markers", name: "HRV (ms)", ...DAY,
            marker: { color: COLORS.hrv, size: 5, opacity: 0.35 }, hovertemplate: "%{y:.0f} ms<extra>HRV</extra>" },
          { x: r.day, y: r.hrv_7d, type: "scatter", mode: "lines", name: "7-day mean", ...DAY,
            line: { color: COLORS.hrv, width: 2.5 }, hovertemplate: "%{y:.0f} ms<extra>7-day mean</extra>" },
          { x: r.day, y: r.rhr_7d, type: "scatter", mode: "lines", name: "Resting HR, 7-day mean", yaxis: "y2", ...DAY,
            line: { color: COLORS.rhr, width: 1.5 }, hovertemplate: "%{y:.0f} bpm<extra>RHR 7-day mean</extra>" }];
}

function plots(summary) {
  const t = summary.trends, w = t.weight, r = t.recovery, s = t.sleep, axis = summary.axis;
  const bp = summary.blood_pressure, st = summary.steps, both = summary.sleep_compare;
  const twoAxes = { margin: { l: 8, r: 8, t: 8, b: 8 } };
  return {
    "chart-weight": [[{ x: w.local, y: w.kg, type: "scatter", mode: "lines+markers", name: "Weight",
                        line: { color: COLORS.weight, width: 2.5, shape: "spline", smoothing: 0.6 },
                        marker: { size: 5 }, hovertemplate: "%{y:.1f} kg<extra></extra>" }, jumpTrace(w)],
                     baseLayout(rangeFor(axis, w.local),
                                { yaxis: leftAxis(Object.assign({ ticksuffix: " kg" }, valueRange(axis, "weight"))) })],
    "chart-recovery": [[pendingTrace(r),
                        { x: r.day, y: r.score, type: "bar", name: "Recovery", ...DAY,
                          marker: { color: r.score.map(recoveryColor) }, hovertemplate: "%{y}%<extra></extra>" }],
                       baseLayout(barRange(axis, r.day.concat(r.pending || []).sort()), {
                         barmode: "overlay", yaxis: leftAxis({ range: [0, 100], ticksuffix: "%" }) })],
    "chart-heart": [heartTraces(r),
                    baseLayout(rangeFor(axis, r.day), Object.assign({}, twoAxes, {
                      yaxis: leftAxis(Object.assign({ title: { text: "ms", font: { size: 11 } } }, valueRange(axis, "hrv"))),
                      yaxis2: Object.assign(rightAxis("bpm"), valueRange(axis, "rhr")) }))],
    "chart-sleep": [[{ x: s.day, y: s.performance, type: "bar", name: "Performance (%)", ...DAY,
                       marker: { color: COLORS.sleep, opacity: 0.55 }, hovertemplate: "%{y}%<extra>Performance</extra>" },
                     { x: s.day, y: s.hours, type: "scatter", mode: "lines", name: "Hours asleep", yaxis: "y2", ...DAY,
                       line: { color: COLORS.hours, width: 1.8 }, hovertemplate: "%{y:.1f} h<extra>Asleep</extra>" }],
                    baseLayout(barRange(axis, s.day), Object.assign({}, twoAxes, {
                      yaxis: leftAxis({ range: [0, 100], ticksuffix: "%" }),
                      yaxis2: Object.assign(rightAxis("hours"), { rangemode: "tozero" }) }))],
    "chart-bp": [[{ x: bp.local, y: bp.systolic, type: "scatter", mode: "lines+markers", name: "Systolic",
                    line: { color: COLORS.systolic, width: 2 }, marker: { size: 5 },
                    hovertemplate: "%{y:.0f} mmHg<extra>Systolic</extra>" },
                  { x: bp.local, y: bp.diastolic, type: "scatter", mode: "lines+markers", name: "Diastolic",
                    line: { color: COLORS.diastolic, width: 2 }, marker: { size: 5 },
                    hovertemplate: "%{y:.0f} mmHg<extra>Diastolic</extra>" }],
                 baseLayout(rangeFor(axis, bp.local), {
                   yaxis: leftAxis(Object.assign({ title: { text: "mmHg", font: { size: 11 } } }, valueRange(axis, "bp"))) })],
    "chart-steps": [[{ x: st.day, y: st.steps, type: "bar", name: "Steps", ...DAY, marker: { color: COLORS.steps },
                       hovertemplate: "%{y:,.0f} steps<extra></extra>" }],
                    baseLayout(barRange(axis, st.day), { yaxis: leftAxis({ rangemode: "tozero", tickformat: "~s" }) })],
    "chart-sleep-both": [[{ x: both.day, y: both.whoop_hours, type: "scatter", mode: "lines+markers", name: "WHOOP", ...DAY,
                            line: { color: COLORS.whoop, width: 1.8 }, marker: { size: 4 },
                            hovertemplate: "%{y:.1f} h<extra>WHOOP</extra>" },
                          { x: both.day, y: both.withings_hours, type: "scatter", mode: "lines+markers", name: "Withings",
                            ...DAY, line: { color: COLORS.withings, width: 1.8 }, marker: { size: 4 },
                            hovertemplate: "%{y:.1f} h<extra>Withings</extra>" }],
                         baseLayout(barRange(axis, both.day), { yaxis: leftAxis({ rangemode: "tozero", ticksuffix: " h" }) })],
  };
}

function chartsUnavailable(reason) {
  document.body.classList.add("no-charts");
  document.querySelectorAll("details.data").forEach((d) => { d.open = true; });
  if (document.getElementById("charts-off")) return;
  const note = document.createElement("p");
  note.className = "notice";
  note.id = "charts-off";
  note.textContent = reason + " Every number is still in the tables.";
  const grid = document.querySelector(".grid");
  if (grid) grid.parentNode.insertBefore(note, grid);
}

// The page's account (`?account=alice`) is the data's: the address's query goes to the API as is.
const SUMMARY_URL = "/api/summary" + window.location.search;

async function draw() {
  if (!document.getElementById("chart-weight")) return;  // the empty or error page
  if (typeof window.Plotly === "undefined") {
    chartsUnavailable("Charts are off: the chart library could not be loaded.");
    return;
  }
  let summary;
  try {
    const response = await fetch(SUMMARY_URL, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error("HTTP " + response.status);
    summary = await response.json();
  } catch (err) {
    chartsUnavailable("Charts are off: their data could not be loaded (" + err.message + ").");
    return;
  }
  if (summary.empty || !summary.trends) return;
  const charts = plots(summary);
  const config = { displayModeBar: false, responsive: true };
  for (const [id, [traces, layout]] of Object.entries(charts)) {
    const el = document.getElementById(id);
    if (!el) continue;
    if (!traces.some((trace) => trace.y.some((v) => v !== null))) {
      el.innerHTML = '<p class="none">No data yet.</p>';
      el.style.height = "auto";
      continue;
    }
    window.Plotly.newPlot(el, traces, layout, config);
  }
  document.body.dataset.charts = "drawn";
}

// New data (from `python etl.py watch` or a cron run) appears without a manual reload: the page
// re-reads its summary every minute and reloads itself once what it shows has changed.
const REFRESH_MS = window.DASHBOARD_REFRESH_MS || 60000;

function shownData(s) {
  const w = s.weight || {}, r = (s.trends && s.trends.recovery) || {};
  return JSON.stringify([s.empty, (s.freshness || []).map((f) => (f.resources || []).map((r) => r.newest_record_at)), w.kg, w.measured_at,
                         (r.day || []).slice(-1), (r.score || []).slice(-1)]);
}

async function followChanges() {
  const read = async () => shownData(await (await fetch(SUMMARY_URL, { cache: "no-store" })).json());
  let shown;
  try { shown = await read(); } catch (err) { shown = null; }
  setInterval(async () => {
    try {
      const now = await read();
      if (shown === null) shown = now;
      else if (now !== shown) window.location.reload();
    } catch (err) {
      // The server is restarting or the database is busy: the next tick asks again.
    }
  }, REFRESH_MS);
}

document.addEventListener("DOMContentLoaded", draw);
document.addEventListener("DOMContentLoaded", followChanges);
