"""The console in a real browser: Debian's Chromium driven by Playwright, against a real server.

`console` gives each test a fresh browser context (its own cookies) with helpers to log in,
open a page, take the screenshot kept as a test artifact, and run axe-core's accessibility check.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.process import ServerProcess

CHROMIUM = Path("/usr/bin/chromium")
# Screenshots of every page, kept after the run (README shows copies of them from docs/console/).
ARTIFACTS = Path(os.environ.get("OTAKIT_TEST_ARTIFACTS", "build/test-artifacts")) / "console"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
# axe-core's impacts that fail a test; "minor" and "moderate" findings are printed only.
BLOCKING_IMPACTS = {"serious", "critical"}


@pytest.fixture(scope="session", params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """The pages on SQLite only: what they show comes from the API, whose every route (the
    dashboard's, its live feed's and the console login's included) tests/server runs on both
    databases; a second browser pass on PostgreSQL took minutes of CI for nothing new."""
    return str(request.param)


@pytest.fixture(scope="module")
def browser(server: ServerProcess) -> Iterator[Any]:
    # Playwright's sync API keeps an event loop running in this thread while it is open, and no
    # asyncio.run() can start inside it: so the browser starts after the server (whose
    # PostgreSQL database is made with asyncio.run) and ends with its module, before another
    # module's tests in this worker run asyncio.run() themselves.
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Console:
    """One signed-in (or not yet) browser tab on a server's console."""

    page: Any
    url: str
    problems: list[str] = field(default_factory=list)

    def open(self, hash_path: str = "") -> None:
        self.page.goto(f"{self.url}/#/{hash_path}")

    def login(self, email: str, password: str) -> None:
        self.page.goto(f"{self.url}/")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Log in").click()
        self.page.get_by_role("button", name="Log out").wait_for()

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def accessibility_problems(self) -> list[str]:
        """axe-core's serious and critical findings on the page as it is now."""
        from axe_playwright_python.sync_playwright import Axe

        before = len(self.problems)
        results = Axe().run(self.page)
        # axe-core's own probes set inline styles, which the console's CSP refuses (and says so
        # on the console): those refusals are axe's, not the page's.
        self.problems[before:] = [
            p for p in self.problems[before:] if "Applying inline style violates" not in p
        ]
        return [
            f"{v['id']} ({v['impact']}): {v['help']} at "
            + ", ".join(str(node["target"]) for node in v["nodes"][:3])
            for v in results.response["violations"]
            if v.get("impact") in BLOCKING_IMPACTS
        ]

    def fits_the_width(self) -> bool:
        """No sideways scrolling of the whole page (tables scroll inside their own box)."""
        return bool(
            self.page.evaluate(
                "document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1"
            )
        )


def _console(browser: Any, server: ServerProcess, viewport: dict[str, int]) -> Iterator[Console]:
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page = context.new_page()
    console = Console(page, server.url)
    # A script error or a failed request of the console's own is a bug even if no check sees it.
    page.on("pageerror", lambda error: console.problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            console.problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" and "status of 4" not in message.text
            else None
        ),
    )
    try:
        yield console
    finally:
        context.close()
    assert console.problems == [], console.problems


@pytest.fixture
def console(browser: Any, server: ServerProcess) -> Iterator[Console]:
    yield from _console(browser, server, DESKTOP)


@pytest.fixture
def phone(browser: Any, server: ServerProcess) -> Iterator[Console]:
    yield from _console(browser, server, PHONE)
