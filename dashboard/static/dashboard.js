// Draws the trend charts from /api/summary with the locally served plotly.js.
// Every number is already in the page as text: without plotly the tables simply open.
"use strict";

const COLORS = { weight: "#4f46e5", hrv: "#0e9384", rhr: "#e31b54", sleep: "#7a5af8", hours: "#344054", none: "#98a2b3",
                 green: "#12b76a", yellow: "#fdb022", red: "#f04438" };

function baseLayout(extra) {
  const layout = {
    margin: { l: 44, r: 16, t: 8, b: 30 }, height: 240,
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#667085" },
    xaxis: { type: "date", showgrid: false, linecolor: "#e4e7ec", ticks: "", fixedrange: true },
    yaxis: { gridcolor: "#eef0f4", zeroline: false, fixedrange: true },
    hovermode: "x unified", showlegend: false, bargap: 0.25,
  };
  return Object.assign(layout, extra || {});
}

function rightAxis(title) {
  return { overlaying: "y", side: "right", showgrid: false, zeroline: false, fixedrange: true, tickformat: ",.0f",
           title: { text: title, font: { size: 11 } } };
}

function recoveryColor(score) {
  if (score === null) return COLORS.none;
  return score >= 67 ? COLORS.green : score >= 34 ? COLORS.yellow : COLORS.red;
}

function plots(trends) {
  const w = trends.weight, r = trends.recovery, s = trends.sleep;
  return {
    "chart-weight": [[{ x: w.t, y: w.kg, type: "scatter", mode: "lines+markers", name: "Weight",
                        line: { color: COLORS.weight, width: 2.5, shape: "spline", smoothing: 0.6 },
                        marker: { size: 5 }, hovertemplate: "%{y:.1f} kg<extra></extra>" }],
                     baseLayout({ yaxis: { gridcolor: "#eef0f4", zeroline: false, fixedrange: true, ticksuffix: " kg" } })],
    "chart-recovery": [[{ x: r.t, y: r.score, type: "bar", name: "Recovery",
                          marker: { color: r.score.map(recoveryColor) }, hovertemplate: "%{y}%<extra></extra>" }],
                       baseLayout({ yaxis: { range: [0, 100], gridcolor: "#eef0f4", fixedrange: true, ticksuffix: "%" } })],
    "chart-heart": [[{ x: r.t, y: r.hrv, type: "scatter", mode: "lines", name: "HRV (ms)",
                       line: { color: COLORS.hrv, width: 2 }, hovertemplate: "%{y:.0f} ms<extra>HRV</extra>" },
                     { x: r.t, y: r.rhr, type: "scatter", mode: "lines", name: "Resting HR (bpm)", yaxis: "y2",
                       line: { color: COLORS.rhr, width: 2 }, hovertemplate: "%{y:.0f} bpm<extra>RHR</extra>" }],
                    baseLayout({ margin: { l: 44, r: 44, t: 8, b: 30 },
                                 yaxis: { gridcolor: "#eef0f4", zeroline: false, fixedrange: true,
                                          title: { text: "ms", font: { size: 11 } } },
                                 yaxis2: rightAxis("bpm") })],
    "chart-sleep": [[{ x: s.t, y: s.performance, type: "bar", name: "Performance (%)",
                       marker: { color: COLORS.sleep, opacity: 0.55 }, hovertemplate: "%{y}%<extra>Performance</extra>" },
                     { x: s.t, y: s.hours, type: "scatter", mode: "lines", name: "Hours asleep", yaxis: "y2",
                       line: { color: COLORS.hours, width: 1.8 }, hovertemplate: "%{y:.1f} h<extra>Asleep</extra>" }],
                    baseLayout({ margin: { l: 44, r: 44, t: 8, b: 30 },
                                 yaxis: { range: [0, 100], gridcolor: "#eef0f4", fixedrange: true, ticksuffix: "%" },
                                 yaxis2: Object.assign(rightAxis("hours"), { rangemode: "tozero" }) })],
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

async function draw() {
  if (!document.getElementById("chart-weight")) return;  // the empty or error page
  if (typeof window.Plotly === "undefined") {
    chartsUnavailable("Charts are off: the chart library could not be loaded.");
    return;
  }
  let summary;
  try {
    const response = await fetch("/api/summary", { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error("HTTP " + response.status);
    summary = await response.json();
  } catch (err) {
    chartsUnavailable("Charts are off: their data could not be loaded (" + err.message + ").");
    return;
  }
  if (summary.empty || !summary.trends) return;
  const config = { displayModeBar: false, responsive: true };
  for (const [id, [traces, layout]] of Object.entries(plots(summary.trends))) {
    const el = document.getElementById(id);
    if (!el) continue;
    if (!traces[0].x.length) {
      el.innerHTML = '<p class="none">No data in this period.</p>';
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
  const w = s.weight || {}, r = s.trends ? s.trends.recovery : { t: [], score: [] };
  return JSON.stringify([s.empty, (s.freshness || []).map((f) => f.newest_record_at), w.kg, w.measured_at,
                         r.t.slice(-1), r.score.slice(-1)]);
}

async function followChanges() {
  const read = async () => shownData(await (await fetch("/api/summary", { cache: "no-store" })).json());
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
