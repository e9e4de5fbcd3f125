"""The report: summary.json and a self-contained report.html whose five plots render offline in
headless Chromium."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from otasim.report_html import write_report
from otasim.summary import summarize

from tests.simulator.synthetic import fleet_trace, run_event

PLOT_IDS = ("plot-states", "plot-pace", "plot-time-to-updated", "plot-chunk-rtt", "plot-faults")
CHROMIUM = Path("/usr/bin/chromium")
SVG_NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}

# For each plot: its <svg>'s size, and how many of its shapes have a non-empty, visible box.
_MEASURE = """(id) => {
  const svg = document.querySelector(`#${id} svg`);
  if (!svg) return null;
  const box = svg.getBoundingClientRect();
  let visible = 0;
  for (const shape of svg.querySelectorAll("path, rect, line, polyline, polygon, use, text")) {
    const r = shape.getBoundingClientRect();
    const style = getComputedStyle(shape);
    if ((r.width > 0 || r.height > 0) && style.visibility !== "hidden" && style.display !== "none")
      visible += 1;
  }
  return {width: box.width, height: box.height, visible: visible};
}"""


def test_the_report_holds_the_summary_and_every_section(tmp_path: Path) -> None:
    summary = summarize(fleet_trace(60))
    json_path, html_path = write_report(summary, tmp_path / "report")
    assert (json_path.name, html_path.name) == ("summary.json", "report.html")
    assert json.loads(json_path.read_text()) == summary
    html = html_path.read_text()
    for plot_id in PLOT_IDS:
        assert html.count(f'id="{plot_id}"') == 1
    assert "NOT OK" in html  # the synthetic fleet has mismatches
    assert html.count("<tr><td>sim-") == len(summary["mismatches"]) > 0
    # Nothing points outside: the only URLs are the SVG and XLink namespace names.
    assert set(re.findall(r"https?://[^\"' <>]+", html)) == SVG_NAMESPACES
    for needle in ("<script", "<link", "<img", "<iframe", "@import"):
        assert needle not in html, needle
    # References stay inside the document: clip paths and glyphs by fragment, the heatmap's
    # raster as a data URI.
    assert re.findall(r"url\((?!#)", html) == []
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs and all(h.startswith(("#", "data:image/png;base64,")) for h in hrefs)


def test_a_run_without_data_still_gets_every_plot_saying_so(tmp_path: Path) -> None:
    summary = summarize([run_event(0)])
    _, html_path = write_report(summary, tmp_path)
    html = html_path.read_text()
    for plot_id in PLOT_IDS:
        section = html.split(f'id="{plot_id}"', 1)[1].split("</figure>", 1)[0]
        assert "<svg" in section and "no data" in section, plot_id


def test_the_mismatch_table_shows_the_first_200_rows(tmp_path: Path) -> None:
    summary = summarize(fleet_trace(300, mismatch_every=1))
    assert len(summary["mismatches"]) == 300
    html = write_report(summary, tmp_path)[1].read_text()
    assert html.count("<tr><td>sim-") == 200
    assert "100 more in summary.json" in html


def test_the_report_renders_every_plot_offline_in_headless_chromium(tmp_path: Path) -> None:
    summary = summarize(fleet_trace(300))
    _, html_path = write_report(summary, tmp_path / "report")
    assert_plots_render(html_path, tmp_path)


def assert_plots_render(html_path: Path, tmp_path: Path) -> None:
    """Opens the report in headless Chromium, offline, and checks each plot drew something."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from PIL import Image

    requests: list[str] = []
    outside: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def offline(route: sync_api.Route) -> None:
                if route.request.url.startswith("file://"):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            page.route("**/*", offline)
            page.on("request", lambda request: requests.append(request.url))
            page.goto(html_path.as_uri(), wait_until="load")
            measures = {plot_id: page.evaluate(_MEASURE, plot_id) for plot_id in PLOT_IDS}
            shots = {plot_id: page.locator(f"#{plot_id} svg").screenshot() for plot_id in PLOT_IDS}
            page_shot = tmp_path / "report.png"
            page.screenshot(path=str(page_shot), full_page=True)
        finally:
            browser.close()

    assert outside == []
    assert requests == [html_path.as_uri()]
    for plot_id, measure in measures.items():
        assert measure is not None, f"{plot_id} has no <svg>"
        assert measure["width"] > 300 and measure["height"] > 100, (plot_id, measure)
        assert measure["visible"] > 10, (plot_id, measure)
        image = Image.open(io.BytesIO(shots[plot_id])).convert("RGB")
        colours = image.getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 8, f"{plot_id} looks blank"
    assert page_shot.stat().st_size > 50_000
    image = Image.open(page_shot).convert("RGB")
    assert image.height > 1500
    lo, hi = zip(*image.getextrema(), strict=True)
    assert max(hi) - min(lo) > 200  # not a single colour
