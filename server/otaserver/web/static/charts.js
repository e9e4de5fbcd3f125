// The dashboard's two charts, drawn as SVG by hand (no chart library): devices per tab over
// time, and the distribution of update times. Each comes with its text alternative: a summary
// in the image's name and the numbers in a table under a disclosure.

import { formatDuration, h } from "./ui.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 240;
const MARGIN = { top: 22, right: 16, bottom: 36, left: 48 };

export const SERIES = [
  ["waiting", "Waiting"],
  ["updating", "Updating"],
  ["updated", "Updated"],
  ["failed", "Failed"],
];

function s(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) element.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

// Round steps (1, 2, 5 x 10^n) from 0 to at least `max`.
function ticks(max, count = 4) {
  if (max <= 0) return [0, 1];
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  // Devices come whole: never a step below one.
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * power).find((m) => m >= raw));
  const result = [];
  for (let value = 0; value < max + step; value += step) {
    result.push(Math.round(value * 1e6) / 1e6);
    if (value >= max) break;
  }
  return result;
}

function clock(ms, withDate) {
  const date = new Date(ms);
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
  return withDate ? `${date.toLocaleDateString([], { month: "short", day: "numeric" })} ${time}` : time;
}

function frame(label) {
  return s("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: "img",
    "aria-label": label,
    class: "chart",
    preserveAspectRatio: "xMidYMid meet",
  }, s("title", {}, label));
}

function yAxis(svg, scaleY, values) {
  for (const value of values) {
    const y = scaleY(value);
    svg.append(
      s("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y, y2: y, class: "grid" }),
      s("text", { x: MARGIN.left - 6, y: y + 4, "text-anchor": "end", class: "tick" }, value));
  }
}

function dataTable(caption, headers, rows) {
  return h("details", { class: "chart-data" },
    h("summary", {}, "Show the numbers"),
    h("div", { class: "table-wrap" }, h("table", {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col" }, text)))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell, i) =>
        i === 0 ? h("th", { scope: "row" }, cell) : h("td", {}, cell))))))));
}

// `timeline`: {startTs, endTs, intervalMs, points: [{ts, waiting, updating, updated, failed}]}.
export function timelineChart(timeline) {
  const points = timeline.points || [];
  const last = points[points.length - 1] || {};
  const summary = points.length
    ? `Devices per tab from ${clock(timeline.startTs, true)} to ${clock(timeline.endTs, true)}; at the end: `
      + SERIES.map(([key, label]) => `${label} ${last[key] ?? 0}`).join(", ")
    : "No devices to show over this period";
  const svg = frame(summary);
  const max = Math.max(1, ...points.flatMap((p) => SERIES.map(([key]) => p[key] || 0)));
  const yTicks = ticks(max);
  const top = yTicks[yTicks.length - 1];
  const start = timeline.startTs;
  const span = Math.max(1, timeline.endTs - start);
  const scaleX = (ts) => MARGIN.left + ((ts - start) / span) * (WIDTH - MARGIN.left - MARGIN.right);
  const scaleY = (value) => HEIGHT - MARGIN.bottom - (value / top) * (HEIGHT - MARGIN.top - MARGIN.bottom);
  yAxis(svg, scaleY, yTicks);
  const longSpan = span > 24 * 3600 * 1000;
  for (let i = 0; i <= 4; i += 1) {
    const ts = start + (span * i) / 4;
    svg.append(s("text", {
      x: scaleX(ts), y: HEIGHT - MARGIN.bottom + 18, class: "tick",
      "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle",
    }, clock(ts, longSpan)));
  }
  for (const [key] of SERIES) {
    if (!points.length) break;
    const path = points.map((p, i) => `${i ? "L" : "M"}${scaleX(p.ts).toFixed(1)},${scaleY(p[key] || 0).toFixed(1)}`);
    svg.append(s("path", { d: path.join(" "), class: `line series-${key}` }));
  }
  const legend = h("ul", { class: "legend" }, SERIES.map(([key, label]) =>
    h("li", {}, h("span", { class: `swatch series-${key}`, "aria-hidden": "true" }), label)));
  const table = dataTable("Devices per tab at the end of each interval",
    ["Time", ...SERIES.map(([, label]) => label)],
    points.map((p) => [clock(p.ts, longSpan), ...SERIES.map(([key]) => String(p[key] ?? 0))]));
  return h("figure", { class: "chart-box" },
    h("figcaption", {}, "Devices per tab over time"), svg, legend, table);
}

// `durations`: {count, p50, p90, p99, bins: [{fromMs, toMs, count}]}.
export function durationChart(durations) {
  const bins = durations.bins || [];
  const count = durations.count || 0;
  const percentiles = [["p50", durations.p50], ["p90", durations.p90], ["p99", durations.p99]];
  const said = percentiles.map(([name, value]) => `${name} ${formatDuration(value) || "none"}`).join(", ");
  const summary = count
    ? `Time to update of ${count} device${count === 1 ? "" : "s"}: ${said}`
    : "No device has finished an update yet";
  const svg = frame(summary);
  const max = Math.max(1, ...bins.map((b) => b.count));
  const yTicks = ticks(max);
  const top = yTicks[yTicks.length - 1];
  let from = bins.length ? bins[0].fromMs : 0;
  let to = bins.length ? bins[bins.length - 1].toMs : 1;
  // Times close together (or one) would make one bar as wide as the chart: from zero then.
  if (to - from < 0.25 * to) {
    from = 0;
    to = Math.ceil(to * 1.1);
  }
  const span = Math.max(1, to - from);
  const scaleX = (ms) => MARGIN.left + ((ms - from) / span) * (WIDTH - MARGIN.left - MARGIN.right);
  const scaleY = (value) => HEIGHT - MARGIN.bottom - (value / top) * (HEIGHT - MARGIN.top - MARGIN.bottom);
  yAxis(svg, scaleY, yTicks);
  for (const bin of bins) {
    const x = scaleX(bin.fromMs);
    const width = Math.max(6, scaleX(bin.toMs) - x - 1);
    svg.append(s("rect", {
      x, y: scaleY(bin.count), width, height: HEIGHT - MARGIN.bottom - scaleY(bin.count), class: "bar",
    }, s("title", {}, `${formatDuration(bin.fromMs)} to ${formatDuration(bin.toMs)}: ${bin.count}`)));
  }
  if (bins.length) {
    for (const [i, ms] of [from, from + span / 2, to].entries()) {
      svg.append(s("text", {
        x: scaleX(ms), y: HEIGHT - MARGIN.bottom + 18, class: "tick",
        "text-anchor": ["start", "middle", "end"][i],
      }, formatDuration(Math.round(ms))));
    }
    // Each percentile a dashed line, named in the top margin, names kept apart and inside.
    const shown = percentiles.filter(([, value]) => value !== null && value !== undefined)
      .map(([name, value]) => ({ name, x: Math.min(WIDTH - MARGIN.right, Math.max(MARGIN.left, scaleX(value))) }));
    const LABEL = 28;
    let room = 0;
    for (const marker of shown) {
      marker.labelX = Math.max(marker.x - LABEL / 2, room);
      room = marker.labelX + LABEL;
    }
    let limit = WIDTH - LABEL;
    for (const marker of [...shown].reverse()) {
      marker.labelX = Math.min(marker.labelX, limit);
      limit = marker.labelX - LABEL;
    }
    for (const marker of shown) {
      svg.append(
        s("line", { x1: marker.x, x2: marker.x, y1: MARGIN.top, y2: HEIGHT - MARGIN.bottom, class: `marker marker-${marker.name}` }),
        s("text", { x: marker.labelX, y: MARGIN.top - 6, class: "tick" }, marker.name));
    }
  }
  const figures = h("dl", { class: "percentiles" }, percentiles.map(([name, value]) => [
    h("dt", {}, name), h("dd", {}, formatDuration(value) || "–"),
  ]), h("dt", {}, "devices"), h("dd", {}, String(count)));
  const table = dataTable("Devices per update time",
    ["From", "To", "Devices"],
    bins.map((b) => [formatDuration(b.fromMs), formatDuration(b.toMs), String(b.count)]));
  return h("figure", { class: "chart-box" },
    h("figcaption", {}, "Time to update (queued to updated)"), figures, svg, table);
}
