"""The report's five plots, drawn with matplotlib's object API (no pyplot global state) as SVG.

Each function takes the summary and returns one <svg> element; empty data gives a plot that says
"no data" rather than an error, so a report always has all five.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .summary import IDLE, NEVER_ENDED

STATE_ORDER = (IDLE, "DOWNLOADING", "DOWNLOADED", "VERIFIED", "UPDATING", "UPDATED", "FAILED")
STATE_COLOURS = {
    IDLE: "#c7c7c7",
    "DOWNLOADING": "#6baed6",
    "DOWNLOADED": "#3182bd",
    "VERIFIED": "#9e9ac8",
    "UPDATING": "#fdae6b",
    "UPDATED": "#31a354",
    "FAILED": "#de2d26",
    NEVER_ENDED: "#636363",
}
FIGSIZE = (8.0, 3.4)


def _figure() -> tuple[Figure, Axes]:
    figure = Figure(figsize=FIGSIZE, layout="constrained")
    return figure, figure.add_subplot()


def _svg(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue().decode("utf-8")
    # Inline, the XML prolog is out of place and the RDF metadata only names URLs.
    text = text[text.index("<svg") :]
    start, end = text.find("<metadata>"), text.find("</metadata>")
    if 0 <= start < end:
        text = text[:start] + text[end + len("</metadata>") :].lstrip("\n")
    return text


def _no_data(ax: Axes, title: str) -> None:
    ax.set_title(title)
    ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", fontsize=14)
    ax.set_xticks([])
    ax.set_yticks([])


def _ordered_states(names: set[str]) -> list[str]:
    return [s for s in STATE_ORDER if s in names] + sorted(names - set(STATE_ORDER))


def plot_states(summary: Mapping[str, Any]) -> str:
    """Devices per latest reported state over time, stacked."""
    figure, ax = _figure()
    title = "Devices per state over time"
    series = summary["series"]["states"]
    if not series or not summary["devices"]:
        _no_data(ax, title)
        return _svg(figure)
    times = [t for t, _ in series]
    states = _ordered_states({s for _, counts in series for s in counts})
    ys = [[counts.get(s, 0) for _, counts in series] for s in states]
    colours = [STATE_COLOURS.get(s, "#8c6d31") for s in states]
    ax.stackplot(times, ys, labels=states, colors=colours, step="post")
    ax.set_title(title)
    ax.set_xlabel("time since the run started (s)")
    ax.set_ylabel("devices")
    ax.set_xlim(times[0], times[-1] if times[-1] > times[0] else times[0] + 1)
    ax.set_ylim(0, max(1, int(summary["devices"])))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return _svg(figure)


def plot_pace(summary: Mapping[str, Any]) -> str:
    """Push notifications per pack interval, against the pack-size limit."""
    figure, ax = _figure()
    pace = summary["pace"]
    interval_ms = float(summary["pack_interval_ms"] or 0)
    title = f"Push notifications per {interval_ms:g} ms interval"
    buckets = summary["series"]["notifications"]
    if not buckets or interval_ms <= 0:
        _no_data(ax, title)
        return _svg(figure)
    starts = [t for t, _ in buckets]
    counts = [n for _, n in buckets]
    ax.bar(starts, counts, width=interval_ms / 1000, align="edge", color="#3182bd", label="pushes")
    ax.axhline(
        int(summary["pack_size"]), color="#de2d26", linestyle="--", label="pack size (limit)"
    )
    ax.set_title(
        f"{title}: max in any {pace['window_ms']:g} ms window {pace['max_in_window']}, "
        f"{pace['violations']} violation(s)",
        fontsize=10,
    )
    ax.set_xlabel("time since the run started (s)")
    ax.set_ylabel("notifications")
    ax.legend(loc="upper right", fontsize=8)
    return _svg(figure)


def _distribution(
    ax: Axes, values: list[float], figures: Mapping[str, Any], unit: str, log: bool
) -> None:
    low, high = min(values), max(values)
    if log and low > 0 and high / low > 20:
        ax.hist(values, bins=np.geomspace(low, high, 50).tolist(), color="#6baed6")
        ax.set_xscale("log")
    else:
        ax.hist(values, bins=50, color="#6baed6")
    for key, colour in (("p50", "#31a354"), ("p90", "#fd8d3c"), ("p99", "#de2d26")):
        if figures.get(key) is not None:
            value = float(figures[key])
            ax.axvline(value, color=colour, linestyle="--", label=f"{key} {value:.3g} {unit}")
    ax.set_ylabel("count")
    ax.legend(loc="upper right", fontsize=8)


def plot_time_to_updated(summary: Mapping[str, Any]) -> str:
    """Distribution of the time from assignment to UPDATED, with its CDF."""
    figure, ax = _figure()
    title = "Time from assignment to UPDATED"
    values = [float(v) for v in summary["series"]["time_to_updated_s"]]
    if not values:
        _no_data(ax, title)
        return _svg(figure)
    _distribution(ax, values, summary["latency"]["time_to_updated_s"], "s", log=False)
    cdf = ax.twinx()
    ordered = np.sort(np.asarray(values))
    cdf.plot(ordered, np.arange(1, len(ordered) + 1) / len(ordered), color="#252525", lw=1)
    cdf.set_ylim(0, 1.05)
    cdf.set_ylabel("fraction updated")
    ax.set_title(f"{title} ({len(values)} devices)")
    ax.set_xlabel("seconds")
    return _svg(figure)


def plot_chunk_rtt(summary: Mapping[str, Any]) -> str:
    """Histogram of chunk round trips (log x when they span more than a decade or so)."""
    figure, ax = _figure()
    title = "Chunk round trip"
    values = [float(v) for v in summary["series"]["chunk_rtt_ms"]]
    if not values:
        _no_data(ax, title)
        return _svg(figure)
    _distribution(ax, values, summary["latency"]["chunk_rtt_ms"], "ms", log=True)
    count = summary["latency"]["chunk_rtt_ms"]["count"]
    kept = f", {len(values)} kept" if count > len(values) else ""
    ax.set_title(f"{title} ({count} chunks{kept})")
    ax.set_xlabel("milliseconds")
    return _svg(figure)


def plot_faults(summary: Mapping[str, Any]) -> str:
    """Fault model x final state, as a heatmap of each model's share with the counts written in."""
    faults: Mapping[str, Mapping[str, int]] = summary["faults"]
    rows = sorted(faults)
    figure = Figure(figsize=(8.0, max(2.4, 0.9 + 0.32 * len(rows))), layout="constrained")
    ax = figure.add_subplot()
    title = "Fault model by final state"
    if not rows:
        _no_data(ax, title)
        return _svg(figure)
    columns = _ordered_states({s for states in faults.values() for s in states if states[s]})
    columns = [c for c in columns if c != IDLE] + ([IDLE] if IDLE in columns else [])
    counts = np.array([[faults[r].get(c, 0) for c in columns] for r in rows], dtype=float)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for i in range(len(rows)):
        for j in range(len(columns)):
            n = int(counts[i, j])
            colour = "white" if shares[i, j] > 0.6 else "black"
            ax.text(j, i, str(n) if n else "·", ha="center", va="center", color=colour, fontsize=9)
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(range(len(rows)), rows)
    ax.xaxis.tick_top()
    ax.set_title(title)
    return _svg(figure)


PLOTS: dict[str, tuple[str, Callable[[Mapping[str, Any]], str]]] = {
    "plot-states": ("Devices per state over time", plot_states),
    "plot-pace": ("Notifications per interval against the limit", plot_pace),
    "plot-time-to-updated": ("Time to UPDATED", plot_time_to_updated),
    "plot-chunk-rtt": ("Chunk round trip", plot_chunk_rtt),
    "plot-faults": ("Fault model by outcome", plot_faults),
}
