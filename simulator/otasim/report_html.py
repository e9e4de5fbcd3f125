"""`--report DIR`: summary.json and one self-contained report.html (inline SVG, no network)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from .report_plots import PLOTS
from .summary import summary_exit_ok

MISMATCH_ROWS = 200

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; max-width: 70rem; }
h1 { margin-bottom: 0.3rem; }
.verdict { display: inline-block; padding: 0.2rem 0.8rem; border-radius: 0.3rem; color: white; }
.ok { background: #31a354; } .not-ok { background: #de2d26; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #ddd; padding: 0.2rem 0.6rem; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; } figure svg { max-width: 100%; height: auto; }
"""


def write_report(summary: Mapping[str, Any], directory: str | Path) -> tuple[Path, Path]:
    """Write summary.json and report.html into `directory` (made if missing); return both paths."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    json_path = target / "summary.json"
    html_path = target / "report.html"
    json_path.write_text(summary_json(summary), encoding="utf-8")
    html_path.write_text(render_html(summary), encoding="utf-8")
    return json_path, html_path


def summary_json(summary: Mapping[str, Any]) -> str:
    """Indented JSON, but each series on one line: they hold up to tens of thousands of numbers."""
    items = []
    for key, value in summary.items():
        if key == "series" and isinstance(value, Mapping):
            inner = ",\n".join(
                f"    {json.dumps(k)}: {json.dumps(v, separators=(',', ':'), allow_nan=False)}"
                for k, v in value.items()
            )
            text = "{\n" + inner + "\n  }" if inner else "{}"
        else:
            text = json.dumps(value, indent=2, allow_nan=False).replace("\n", "\n  ")
        items.append(f"  {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(items) + "\n}\n"


def render_html(summary: Mapping[str, Any]) -> str:
    """The whole report as one HTML document."""
    ok = summary_exit_ok(summary)
    verdict = (
        '<span class="verdict ok">OK</span>' if ok else '<span class="verdict not-ok">NOT OK</span>'
    )
    shards = ", ".join(str(s) for s in summary.get("shards", [])) or "-"
    figures = "\n".join(
        f'<figure id="{plot_id}">\n<figcaption>{escape(caption)}</figcaption>\n'
        f"{draw(summary)}\n</figure>"
        for plot_id, (caption, draw) in PLOTS.items()
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>otasim report: {"OK" if ok else "NOT OK"}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>otasim report {verdict}</h1>
<p>seed {escape(str(summary.get("seed")))} · shards {escape(shards)}</p>
<section id="key-figures">
{_key_figures(summary)}
{_latency_table(summary)}
</section>
<section id="plots">
{figures}
</section>
<section id="mismatches">
<h2>Mismatches ({len(summary["mismatches"])})</h2>
{_mismatch_table(summary["mismatches"])}
</section>
</body>
</html>
"""


def _number(value: Any, digits: int = 3) -> str:
    """Plain figures for people: 4,037 rather than 4.04e+03, three significant digits below."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 10 ** (digits - 1) else f"{value:.{digits}g}"
    return str(value)


def _key_figures(summary: Mapping[str, Any]) -> str:
    pace = summary["pace"]
    data = summary["bytes"]
    states = " · ".join(f"{escape(s)} {n}" for s, n in summary["final_states"].items())
    rows = [
        ("devices", str(summary["devices"])),
        ("final states", states),
        ("mismatches", str(len(summary["mismatches"]))),
        (
            "pace",
            f"max {pace['max_in_window']} in any {_number(pace['window_ms'], 6)} ms window "
            f"vs pack size {summary['pack_size']} (interval {summary['pack_interval_ms']} ms); "
            f"{pace['violations']} violation(s); {pace['notifications']} push notifications",
        ),
        ("allowed-rate fraction", _number(pace["allowed_rate_fraction"])),
        ("notified twice", str(len(summary["notified_twice"]))),
        ("never notified", str(len(summary["never_notified"]))),
        (
            "bytes fetched / images",
            f"{data['fetched']} / {data['images']} = {float(data['ratio']):.4f}",
        ),
    ]
    body = "\n".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="figures">\n{body}\n</table>'


def _latency_table(summary: Mapping[str, Any]) -> str:
    names = {
        "notify_ms": "notify latency (ms)",
        "time_to_updated_s": "time to UPDATED (s)",
        "chunk_rtt_ms": "chunk round trip (ms)",
    }
    header = "<tr><th></th>" + "".join(
        f"<th>{k}</th>" for k in ("count", "p50", "p90", "p99", "max")
    )
    rows = [header + "</tr>"]
    for key, name in names.items():
        figures = summary["latency"].get(key, {})
        cells = "".join(
            f'<td class="n">{_number(figures.get(k))}</td>'
            for k in ("count", "p50", "p90", "p99", "max")
        )
        rows.append(f"<tr><th>{escape(name)}</th>{cells}</tr>")
    return '<table class="latency">\n' + "\n".join(rows) + "\n</table>"


def _mismatch_table(mismatches: list[Mapping[str, Any]]) -> str:
    if not mismatches:
        return "<p>none</p>"
    columns = ("device", "fault", "predicted", "actual", "reason")
    rows = ["<tr>" + "".join(f"<th>{c}</th>" for c in columns) + "</tr>"]
    for m in mismatches[:MISMATCH_ROWS]:
        rows.append(
            "<tr>" + "".join(f"<td>{escape(str(m.get(c, '')))}</td>" for c in columns) + "</tr>"
        )
    more = len(mismatches) - MISMATCH_ROWS
    note = f"\n<p>{more} more in summary.json</p>" if more > 0 else ""
    return '<table class="mismatches">\n' + "\n".join(rows) + "\n</table>" + note
