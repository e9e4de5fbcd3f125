"""The Firmware dashboard in a real browser: cards, table, filters, history, stuck view, CSV and
charts, kept up to date by the server's live feed while real devices update."""

from __future__ import annotations

import csv
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TenantContext
from tests.support.dedicated import QUEUE, dedicated_server
from tests.support.devices import Provisioned, provision
from tests.support.process import ServerProcess, start_server

from .conftest import DESKTOP, Console, _console
from .devices import IMAGE, PASSWORD, assign, make_fleet, report, running_devices

expect = pytest.importorskip("playwright.sync_api").expect

CSV_HEADER = [
    "device",
    "current title",
    "current version",
    "target title",
    "target version",
    "status",
    "progress",
    "last change",
    "error",
    "retries",
]
SENTINEL = "window.otakitSentinel"


class Dashboard:
    """The dashboard page as a user sees it."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.page = console.page

    def open(self) -> Dashboard:
        self.console.open("dashboard")
        self.wait_live()
        return self

    def wait_live(self) -> None:
        expect(self.page.get_by_role("status").filter(has_text="Live")).to_be_visible(
            timeout=15_000
        )
        # The first page of rows is drawn.
        expect(self.page.locator("table.dash-table caption")).to_be_visible()

    def card(self, tab: str) -> Any:
        return self.page.locator(f"button.card.{tab}")

    def count(self, tab: str) -> Any:
        return self.card(tab).locator(".count")

    def row(self, name: str) -> Any:
        return self.page.locator("table.dash-table tbody tr").filter(
            has=self.page.get_by_role("rowheader", name=name, exact=True)
        )

    def cell(self, name: str, column: str) -> Any:
        return self.row(name).locator(f'[data-label="{column}"]')

    def names(self) -> list[str]:
        return [
            t.strip()
            for t in self.page.locator("table.dash-table tbody th[scope=row]").all_inner_texts()
        ]


def api_rows(tenant: TenantContext, **query: Any) -> list[dict[str, Any]]:
    found = tenant.api.get(
        "/api/ota/dashboard/devices", params={"pageSize": 1000, "page": 0, **query}
    )
    return list(found["data"])


# ---------------------------------------------------------------- live updates with real devices

PACED = {"OTAKIT_QUEUE_PACK_SIZE": "1", "OTAKIT_QUEUE_PACK_INTERVAL_MS": "4000"}


def test_cards_and_rows_follow_real_devices_from_waiting_to_updated_without_a_reload(
    backend: str, browser: Any, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    # A queue that notifies one device every 4 s, so the others wait where the page can see.
    with dedicated_server(backend, tmp_path_factory.mktemp("dash-live"), PACED) as (server, tenant):
        fleet = make_fleet(tenant, 3, "live")
        with contextmanager(_console)(browser, server, DESKTOP) as console:
            console.login(tenant.admin_email, PASSWORD)
            dash = Dashboard(console).open()
            for tab in ("waiting", "updating", "updated", "failed"):
                expect(dash.count(tab)).to_have_text("0")
            console.page.evaluate(f"{SENTINEL} = 'never reloaded'")

            assign(tenant, fleet)
            # Pushed, not read again: the profile's devices queue, one is notified at once.
            expect(dash.count("waiting")).to_have_text("2", timeout=10_000)
            expect(dash.count("updating")).to_have_text("1")
            for name in fleet.names:
                expect(dash.cell(name, "Status")).to_have_text(re.compile("QUEUED|INITIATED"))
                expect(dash.cell(name, "Target")).to_have_text(f"{fleet.package['title']} 2.0")

            with running_devices(server, fleet.tokens, tmp_path) as processes:
                expect(dash.count("updated")).to_have_text("3", timeout=60_000)
                for process in processes:
                    assert process.wait(timeout=60) == 0
            for tab in ("waiting", "updating", "failed"):
                expect(dash.count(tab)).to_have_text("0")
            for name in fleet.names:
                expect(dash.cell(name, "Status")).to_have_text("UPDATED")
                expect(dash.cell(name, "Current")).to_have_text(f"{fleet.package['title']} 2.0")
                expect(dash.row(name).locator("progress")).to_have_attribute("value", "100")
            # The charts follow too: the timeline's last point, the update times read again.
            timeline = console.page.get_by_role("img", name=re.compile("Devices per tab"))
            expect(timeline).to_have_accessible_name(re.compile("Updated 3"), timeout=10_000)
            durations = console.page.get_by_role("img", name=re.compile("Time to update of 3"))
            expect(durations).to_be_visible(timeout=20_000)
            assert console.page.evaluate(SENTINEL) == "never reloaded"
            expect(console.page.get_by_role("status").filter(has_text="Live")).to_contain_text(
                "updated"
            )
            # Every pushed event is recorded for the benchmark, with the server's time.
            events = console.page.evaluate("window.otakitLive.events")
            assert len(events) >= 3 and all(isinstance(e["at"], int) for e in events)
            # (a device's reports within one push interval come as one row)
            assert sum(e["devices"] for e in events) >= 3
            assert all(e["received"] >= e["at"] - 5_000 for e in events)


# ---------------------------------------------------------------- failures, history, stuck


def test_a_failed_device_turns_the_failed_card_red_and_shows_its_error(
    console: Console, server: ServerProcess, tenant: TenantContext
) -> None:
    healthy = provision(tenant, IMAGE)
    broken = provision(tenant, IMAGE)
    console.login(tenant.admin_email, PASSWORD)
    dash = Dashboard(console).open()
    expect(dash.count("updating")).to_have_text("2")
    expect(dash.count("failed")).to_have_text("0")
    expect(dash.card("failed")).not_to_have_class(re.compile(r"\balert\b"))
    console.page.evaluate(f"{SENTINEL} = 1")

    report(server.url, broken.token, {"fw_state": "DOWNLOADING"})
    failure = {"fw_state": "FAILED", "fw_error": "flash write failed at 0x4000"}
    report(server.url, broken.token, failure)
    expect(dash.count("failed")).to_have_text("1")
    expect(dash.count("updating")).to_have_text("1")
    expect(dash.card("failed")).to_have_class(re.compile(r"\balert\b"))
    name = broken.device["name"]
    expect(dash.cell(name, "Status")).to_have_text("FAILED")
    expect(dash.cell(name, "Error")).to_have_text("flash write failed at 0x4000")
    expect(dash.cell(name, "Retries")).to_have_text(re.compile(r"^\d+$"))
    assert console.page.evaluate(SENTINEL) == 1

    # The card filters the table to its tab, and says so.
    dash.card("failed").click()
    expect(dash.card("failed")).to_have_attribute("aria-pressed", "true")
    expect(dash.page.locator("table.dash-table caption")).to_contain_text("1 device in failed")
    assert dash.names() == [name]
    dash.card("failed").click()
    expect(dash.page.locator("table.dash-table caption")).to_contain_text("2 devices")
    assert sorted(dash.names()) == sorted([name, healthy.device["name"]])


def test_a_devices_history_lists_every_status_with_its_package_and_time_spent(
    console: Console, server: ServerProcess, tenant: TenantContext
) -> None:
    device = provision(tenant, IMAGE)
    for state in ("DOWNLOADING", "DOWNLOADED"):
        report(server.url, device.token, {"fw_state": state})
    report(server.url, device.token, {"fw_state": "FAILED", "fw_error": "checksum mismatch"})
    entries = tenant.api.get(f"/api/ota/device/{device.device_id}/history")

    console.login(tenant.admin_email, PASSWORD)
    dash = Dashboard(console).open()
    name = device.device["name"]
    dash.row(name).get_by_role("button", name=f"History of {name}").click()
    dialog = console.page.get_by_role("dialog", name=f"Update history of {name}")
    expect(dialog.locator("tbody tr")).to_have_count(len(entries))
    rows = dialog.locator("tbody tr")
    statuses = [rows.nth(i).locator('[data-label="Status"]').inner_text() for i in range(5)]
    assert statuses == ["QUEUED", "INITIATED", "DOWNLOADING", "DOWNLOADED", "FAILED"]
    for i, entry in enumerate(entries):
        row = rows.nth(i)
        package = row.locator('[data-label="Package"]')
        expect(package).to_have_text(f"{device.title} {device.version}")
        spent = row.locator('[data-label="Time in this state"]')
        if i + 1 < len(entries):
            # The time until the next status, as the server measured it.
            assert entry["durationMs"] == entries[i + 1]["ts"] - entry["ts"]
            expect(spent).to_have_text(re.compile(r"^\d+(\.\d)? (ms|s)$"))
        else:
            assert entry["durationMs"] is None
            expect(spent).to_have_text("until now")
    expect(rows.nth(4).locator('[data-label="Error"]')).to_have_text("checksum mismatch")
    console.shot("dashboard-history")
    assert console.accessibility_problems() == []
    console.page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)


def test_the_stuck_view_shows_devices_unchanged_for_longer_than_the_threshold(
    console: Console, server: ServerProcess, tenant: TenantContext
) -> None:
    stuck = provision(tenant, IMAGE)
    report(server.url, stuck.token, {"fw_state": "DOWNLOADING"})
    done = provision(tenant, IMAGE)
    for state in ("DOWNLOADING", "DOWNLOADED", "VERIFIED", "UPDATING", "UPDATED"):
        report(server.url, done.token, {"fw_state": state})

    console.login(tenant.admin_email, PASSWORD)
    dash = Dashboard(console).open()
    expect(dash.page.locator("table.dash-table caption")).to_contain_text("2 devices")
    dash.page.get_by_label("Unchanged for at least (minutes)").fill("0")
    dash.page.get_by_label("Unchanged for at least (minutes)").dispatch_event("change")
    dash.page.get_by_label("Only stuck devices").check()
    expect(dash.page.locator("table.dash-table caption")).to_contain_text("not changed")
    expect(dash.cell(stuck.device["name"], "Status")).to_have_text("DOWNLOADING")
    assert dash.names() == [stuck.device["name"]]  # an updated device is never stuck

    dash.page.get_by_label("Unchanged for at least (minutes)").fill("60")
    dash.page.get_by_label("Unchanged for at least (minutes)").dispatch_event("change")
    expect(dash.page.get_by_text("No device is stuck for that long.")).to_be_visible()
    assert dash.names() == []


# ---------------------------------------------------------------- export, filters, customers


def test_export_csv_downloads_the_rows_of_the_table_with_its_filters(
    console: Console, server: ServerProcess, tenant: TenantContext
) -> None:
    devices: list[Provisioned] = [provision(tenant, IMAGE) for _ in range(3)]
    report(server.url, devices[0].token, {"fw_state": "DOWNLOADING"})
    report(server.url, devices[1].token, {"fw_state": "FAILED", "fw_error": 'bad "image", retry'})

    console.login(tenant.admin_email, PASSWORD)
    dash = Dashboard(console).open()
    expect(dash.page.locator("table.dash-table caption")).to_contain_text("3 devices")

    def export() -> list[dict[str, str]]:
        with console.page.expect_download() as download:
            console.page.get_by_role("link", name="Export CSV").click()
        assert download.value.suggested_filename == "ota-devices.csv"
        with open(download.value.path(), newline="", encoding="utf-8") as file:
            reader = csv.reader(file)
            header = next(reader)
            assert header == CSV_HEADER
            return [dict(zip(header, row, strict=True)) for row in reader]

    rows = export()
    by_name = {r["device"]: r for r in rows}
    assert sorted(by_name) == sorted(dash.names())
    for api_row in api_rows(tenant):
        row = by_name[api_row["deviceName"]]
        assert row["status"] == api_row["status"]
        assert row["target title"] == api_row["targetTitle"]
        assert row["target version"] == api_row["targetVersion"]
        assert row["progress"] == str(api_row["progress"])
        assert row["error"] == (api_row["error"] or "")
        assert row["retries"] == str(api_row["retries"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", row["last change"])
        expect(dash.cell(api_row["deviceName"], "Status")).to_have_text(row["status"])
    assert by_name[devices[1].device["name"]]["error"] == 'bad "image", retry'

    # With a card chosen, the export holds that tab only.
    dash.card("failed").click()
    expect(dash.page.locator("table.dash-table caption")).to_contain_text("1 device in failed")
    assert [r["device"] for r in export()] == [devices[1].device["name"]]


def test_filters_narrow_the_cards_and_the_table(
    console: Console, server: ServerProcess, tenant: TenantContext
) -> None:
    first, second = make_fleet(tenant, 2, "north"), make_fleet(tenant, 1, "south")
    assign(tenant, first)
    assign(tenant, second)
    console.login(tenant.admin_email, PASSWORD)
    dash = Dashboard(console).open()
    expect(dash.page.locator("table.dash-table caption")).to_contain_text("3 devices")

    dash.page.get_by_label("Device profile").select_option(label=second.profile["name"])
    expect(dash.page.locator("table.dash-table caption")).to_contain_text("1 device")
    assert dash.names() == second.names
    tabs = ("waiting", "updating", "updated", "failed")
    total = sum(int(dash.count(tab).inner_text()) for tab in tabs)
    assert total == 1
    href = dash.page.get_by_role("link", name="Export CSV").get_attribute("href")
    assert f"deviceProfileId={second.profile_id}" in href

    dash.page.get_by_label("Device profile").select_option(label="All profiles")
    dash.page.get_by_label("Package", exact=True).select_option(
        label=f"{first.package['title']} 2.0"
    )
    expect(dash.page.locator("table.dash-table caption")).to_contain_text("2 devices")
    assert sorted(dash.names()) == sorted(first.names)
    # A header sorts the table on the server: by name one way, then the other.
    dash.page.get_by_role("button", name="Device", exact=True).click()
    expect(dash.page.locator("th[aria-sort=ascending]")).to_contain_text("Device")
    assert dash.names() == sorted(first.names)
    dash.page.get_by_role("button", name="Device ▲").click()
    expect(dash.page.locator("th[aria-sort=descending]")).to_contain_text("Device")
    assert dash.names() == sorted(first.names, reverse=True)

    dash.page.get_by_label("Search device name").fill("dev1")
    expect(dash.page.locator("table.dash-table caption")).to_contain_text("1 device")
    assert dash.names() == [first.names[1]]

    # No software anywhere: the device is listed without a software status, nothing counted.
    dash.page.get_by_label("Package type").select_option("SOFTWARE")
    expect(dash.page.get_by_role("heading", name="Software dashboard")).to_be_visible()
    expect(dash.cell(first.names[1], "Status")).to_have_text("")
    expect(dash.cell(first.names[1], "Target")).to_have_text("")
    for tab in tabs:
        expect(dash.count(tab)).to_have_text("0")


def test_a_customer_user_sees_only_their_customers_devices(
    console: Console, server: ServerProcess, tenant: TenantContext
) -> None:
    theirs, other = provision(tenant, IMAGE), provision(tenant, IMAGE)
    customer_api, customer_id = tenant.new_customer_user()
    tenant.api.post(f"/api/customer/{customer_id}/device/{theirs.device_id}")
    email = customer_api.get("/api/auth/user")["email"]

    console.login(email, "user-password")
    dash = Dashboard(console).open()
    expect(dash.count("updating")).to_have_text("1")
    assert dash.names() == [theirs.device["name"]]

    # Pushed changes keep to the customer's devices too.
    report(server.url, other.token, {"fw_state": "FAILED", "fw_error": "not yours"})
    report(server.url, theirs.token, {"fw_state": "DOWNLOADING"})
    expect(dash.cell(theirs.device["name"], "Status")).to_have_text("DOWNLOADING")
    expect(dash.count("failed")).to_have_text("0")
    expect(dash.count("updating")).to_have_text("1")
    assert dash.names() == [theirs.device["name"]]
    assert "not yours" not in console.page.content()


# ---------------------------------------------------------------- look, accessibility, phone


def test_the_dashboard_is_accessible_and_fits_a_phone(
    console: Console, phone: Console, server: ServerProcess, tenant: TenantContext
) -> None:
    devices = [provision(tenant, IMAGE) for _ in range(3)]
    for state in ("DOWNLOADING", "DOWNLOADED", "VERIFIED", "UPDATING"):
        report(server.url, devices[0].token, {"fw_state": state})
    current = {"current_fw_title": devices[0].title, "current_fw_version": devices[0].version}
    report(server.url, devices[0].token, {"fw_state": "UPDATED", **current})
    report(server.url, devices[1].token, {"fw_state": "FAILED", "fw_error": "no space left"})

    console.login(tenant.admin_email, PASSWORD)
    Dashboard(console).open()
    expect(console.page.get_by_role("img", name=re.compile("Devices per tab"))).to_be_visible()
    spread = console.page.get_by_role("img", name=re.compile("Time to update of 1 device"))
    expect(spread).to_be_visible()
    console.shot("dashboard")
    assert console.accessibility_problems() == []

    phone.login(tenant.admin_email, PASSWORD)
    Dashboard(phone).open()
    expect(phone.page.get_by_role("img", name=re.compile("Devices per tab"))).to_be_visible()
    phone.shot("dashboard-phone")
    assert phone.fits_the_width()
    assert phone.accessibility_problems() == []


def test_the_page_says_reconnecting_while_the_server_is_away_and_polls_nothing(
    backend: str, browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with dedicated_server(backend, tmp_path_factory.mktemp("dash-away"), {}) as (server, tenant):
        device = provision(tenant, IMAGE)
        name = device.device["name"]
        with contextmanager(_console)(browser, server, DESKTOP) as console:
            console.login(tenant.admin_email, PASSWORD)
            dash = Dashboard(console).open()
            expect(dash.cell(name, "Status")).to_have_text("INITIATED")
            console.page.evaluate(f"{SENTINEL} = 'never reloaded'")

            # While nothing changes the page asks nothing: what it shows is pushed.
            asked: list[str] = []
            console.page.on("request", lambda request: asked.append(request.url))
            console.page.wait_for_timeout(3_000)
            assert asked == []

            indicator = console.page.get_by_role("status").filter(
                has_text=re.compile("Live|Reconnecting")
            )
            server.stop()
            expect(indicator).to_contain_text("Reconnecting…")
            back = start_server(server.data_dir, server.database_url, env=QUEUE, ports=server.ports)
            try:
                expect(indicator).to_contain_text("Live", timeout=30_000)
                asked.clear()
                report(back.url, device.token, {"fw_state": "DOWNLOADING"})
                expect(dash.cell(name, "Status")).to_have_text("DOWNLOADING")
                expect(dash.cell(name, "Progress").locator("progress")).to_have_attribute(
                    "value", "10"
                )
                assert asked == []  # the row changed in place, from the pushed event alone
                assert console.page.evaluate(SENTINEL) == "never reloaded"
            finally:
                back.stop()
            # The browser's own word on the refused reconnections is not the page's.
            console.problems[:] = [p for p in console.problems if "ERR_CONNECTION" not in p]
