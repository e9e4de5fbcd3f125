"""The Firmware pages in a real browser: a package's whole life, from its upload with a moving
progress bar to its deletion, refused while a profile has it assigned."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from tests.conftest import TEST_MAX_PACKAGE_SIZE, TenantContext
from tests.support.api import entity_id

from .conftest import Console

PASSWORD = "tenant-password"  # tests.conftest.create_tenant's
SIZE = 3 * 1024 * 1024  # a few MiB, under the test server's 4 MiB limit
# Records every value the upload's <progress> takes, as the page sets it.
WATCH_PROGRESS = """() => {
  window.progressSeen = [];
  const bar = document.querySelector("form progress");
  new MutationObserver(() => window.progressSeen.push([bar.value, bar.max]))
    .observe(bar, { attributes: true, attributeFilter: ["value"] });
}"""


def rows(console: Console) -> list[str]:
    """The main table's rows, each as its cells' texts joined by " | "."""
    return list(
        console.page.locator("main table tbody tr").evaluate_all(
            "rows => rows.map(row => [...row.cells].map(c => c.textContent.trim()).join(' | '))"
        )
    )


def throttle_uploads(page: Any, bytes_per_second: int) -> Any:
    """Chromium's own network throttling (DevTools protocol), so the upload takes seconds."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": bytes_per_second,
        },
    )
    return cdp


def clipboard_after_copy(page: Any) -> str:
    """The clipboard's text once the copy button's announcement says it is written."""
    page.locator("#announcer").filter(has_text="copied").wait_for()
    text = page.evaluate("navigator.clipboard.readText()")
    page.evaluate("document.getElementById('announcer').textContent = ''")
    return str(text)


def add_devices(tenant: TenantContext, count: int, prefix: str) -> list[str]:
    ids = []
    for n in range(count):
        device = tenant.api.post(
            "/api/device",
            {
                "name": f"{prefix}-{n}",
                "deviceProfileId": entity_id("DEVICE_PROFILE", tenant.default_profile_id),
            },
        )
        ids.append(device["id"]["id"])
    return ids


def test_a_package_is_uploaded_found_copied_downloaded_assigned_and_deleted(
    console: Console, phone: Console, tenant: TenantContext, tmp_path: Path
) -> None:
    data = os.urandom(SIZE)
    image = tmp_path / "console-fw.bin"
    image.write_bytes(data)
    other = tenant.api.create_package(tenant.default_profile_id, "unrelated-title", "9.9")
    tenant.api.upload(other["id"]["id"], b"other data")
    devices = add_devices(tenant, 3, "fleet")
    # One device has firmware of its own: the profile's assignment does not reach it.
    tenant.api.post(
        "/api/device",
        {
            **tenant.api.get(f"/api/device/{devices[0]}"),
            "firmwareId": entity_id("OTA_PACKAGE", other["id"]["id"]),
        },
    )
    page = console.page
    console.login(tenant.admin_email, PASSWORD)
    console.open("packages/FIRMWARE")
    page.get_by_role("heading", name="Firmware packages").wait_for()
    page.get_by_role("link", name="unrelated-title").wait_for()

    # Upload, throttled to 1 MiB/s so that the bar has time to move.
    page.get_by_role("button", name="Add package").click()
    page.get_by_label("Title", exact=True).fill("console-fw")
    page.get_by_label("Version", exact=True).fill("1.2.3")
    page.get_by_label("Device profile", exact=True).select_option(tenant.default_profile_id)
    assert page.get_by_label("Checksum algorithm").input_value() == "SHA256"
    page.get_by_label("File", exact=True).set_input_files(str(image))
    page.get_by_label("Description (optional)").fill("Built by the console test")
    page.evaluate(WATCH_PROGRESS)
    cdp = throttle_uploads(page, 1024 * 1024)
    page.get_by_role("button", name="Save package").click()
    page.locator("main").get_by_role("status").filter(
        has_text="Package console-fw 1.2.3 saved"
    ).wait_for(timeout=60_000)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    seen = page.evaluate("window.progressSeen")
    assert all(top == 100 for _, top in seen), seen
    values = [value for value, _ in seen]
    assert any(0 < value < 100 for value in values), values
    assert values[-1] == 100, values
    assert values == sorted(values), values
    page.get_by_role("link", name="console-fw").wait_for()
    assert any("console-fw" in row and "3.0 MiB" in row for row in rows(console))
    console.shot("packages")
    assert console.accessibility_problems() == []

    # The server has it, with the data's SHA-256.
    sha256 = hashlib.sha256(data).hexdigest()
    [created] = [
        p
        for p in tenant.api.get("/api/otaPackages", params={"pageSize": 100, "page": 0})["data"]
        if p["title"] == "console-fw"
    ]
    assert (created["checksumAlgorithm"], created["checksum"]) == ("SHA256", sha256)
    assert created["additionalInfo"]["description"] == "Built by the console test"

    # Search by title: the other package goes.
    page.get_by_label("Search by title").fill("console")
    page.get_by_role("link", name="unrelated-title").wait_for(state="detached")
    assert len(rows(console)) == 1 and "console-fw" in rows(console)[0]

    # Details, copy, download.
    page.get_by_role("link", name="console-fw").click()
    page.get_by_role("heading", name="console-fw 1.2.3").wait_for()
    details = page.locator("dl.details").inner_text()
    for expected in ("console-fw.bin", str(SIZE), "SHA256", sha256, "Built by the console test"):
        assert expected in details, (expected, details)
    page.get_by_role("button", name="Copy checksum").click()
    assert clipboard_after_copy(page) == sha256
    page.get_by_role("button", name="Copy package ID").click()
    assert clipboard_after_copy(page) == created["id"]["id"]
    with page.expect_download() as download:
        page.get_by_role("link", name="Download").click()
    assert download.value.suggested_filename == "console-fw.bin"
    assert Path(download.value.path()).read_bytes() == data
    console.shot("package")
    assert console.accessibility_problems() == []
    package_url = page.url

    # Assign it to the default profile: the page says how many devices it will reach.
    console.open("profiles")
    page.get_by_role("button", name="Change packages of default").click()
    page.get_by_label("Firmware", exact=True).select_option(label="console-fw 1.2.3")
    impact = page.locator("p.impact[data-type=FIRMWARE][data-count]")
    impact.wait_for()
    expected_count = tenant.api.get(f"/api/devices/count/FIRMWARE/{tenant.default_profile_id}")
    assert expected_count == 2  # three devices, one with firmware of its own
    assert impact.get_attribute("data-count") == str(expected_count)
    assert impact.inner_text().startswith(f"{expected_count} devices")
    console.shot("profiles")
    assert console.accessibility_problems() == []
    page.get_by_role("button", name="Save", exact=True).click()
    page.locator("main").get_by_role("status").filter(
        has_text="Packages of default saved"
    ).wait_for()
    profile = tenant.api.get(f"/api/deviceProfile/{tenant.default_profile_id}")
    assert profile["firmwareId"] == entity_id("OTA_PACKAGE", created["id"]["id"])
    assert page.get_by_role("row", name="default").inner_text().count("console-fw 1.2.3") == 1

    # Deleting it is refused with the server's message, and it stays.
    page.goto(package_url)
    page.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Delete package").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "referenced by the device profile cannot be deleted" in alert.inner_text()
    tenant.api.get(f"/api/otaPackage/info/{created['id']['id']}")
    console.open("packages/FIRMWARE")
    page.get_by_role("link", name="console-fw").wait_for()

    # Unassigned, it goes.
    console.open("profiles")
    page.get_by_role("button", name="Change packages of default").click()
    page.get_by_label("Firmware", exact=True).select_option(label="None")
    page.get_by_role("button", name="Save", exact=True).click()
    page.locator("main").get_by_role("status").filter(
        has_text="Packages of default saved"
    ).wait_for()
    assert tenant.api.get(f"/api/deviceProfile/{tenant.default_profile_id}")["firmwareId"] is None
    page.goto(package_url)
    page.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Delete package").click()
    page.get_by_role("heading", name="Firmware packages").wait_for()
    page.get_by_role("link", name="unrelated-title").wait_for()
    assert page.get_by_role("link", name="console-fw").count() == 0
    tenant.api.get(f"/api/otaPackage/info/{created['id']['id']}", expect=404)

    # The list and the details fit a phone.
    phone.login(tenant.admin_email, PASSWORD)
    phone.open("packages/FIRMWARE")
    phone.page.get_by_role("link", name="unrelated-title").wait_for()
    phone.page.get_by_role("button", name="Add package").click()
    assert phone.fits_the_width()
    phone.shot("packages-phone")
    phone.page.get_by_role("link", name="unrelated-title").click()
    phone.page.get_by_role("heading", name="unrelated-title 9.9").wait_for()
    assert phone.fits_the_width()
    phone.shot("package-phone")
    assert phone.accessibility_problems() == []


def test_a_duplicate_title_and_version_is_refused_with_the_servers_message(
    console: Console, tenant: TenantContext, tmp_path: Path
) -> None:
    tenant.api.create_package(tenant.default_profile_id, "twice", "1.0")
    image = tmp_path / "twice.bin"
    image.write_bytes(b"x" * 1000)
    console.login(tenant.admin_email, PASSWORD)
    console.open("packages/FIRMWARE")
    page = console.page
    page.get_by_role("button", name="Add package").click()
    page.get_by_label("Title", exact=True).fill("twice")
    page.get_by_label("Version", exact=True).fill("1.0")
    page.get_by_label("File", exact=True).set_input_files(str(image))
    page.get_by_role("button", name="Save package").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "OtaPackage with such title and version already exists!" in alert.inner_text()


def test_a_url_package_is_added_to_the_software_list(
    console: Console, tenant: TenantContext
) -> None:
    console.login(tenant.admin_email, PASSWORD)
    console.open("packages/SOFTWARE")
    page = console.page
    page.get_by_role("heading", name="Software packages").wait_for()
    page.get_by_role("button", name="Add package").click()
    assert page.get_by_label("Type", exact=True).input_value() == "SOFTWARE"
    page.get_by_label("Title", exact=True).fill("from-cdn")
    page.get_by_label("Version", exact=True).fill("2.0")
    page.get_by_label("Use external URL").check()
    assert not page.get_by_label("File", exact=True).is_visible()
    page.get_by_label("External URL", exact=True).fill("https://cdn.example.com/app-2.0.bin")
    page.get_by_role("button", name="Save package").click()
    page.get_by_role("link", name="from-cdn").wait_for()
    [saved] = tenant.api.get("/api/otaPackages", params={"pageSize": 10, "page": 0})["data"]
    assert (saved["type"], saved["url"], saved["fileName"]) == (
        "SOFTWARE",
        "https://cdn.example.com/app-2.0.bin",
        None,
    )
    # It is no firmware.
    console.open("packages/FIRMWARE")
    page.get_by_text("No packages yet").wait_for()


def test_the_list_sorts_by_a_clicked_header_and_pages_only_its_type(
    console: Console, tenant: TenantContext
) -> None:
    for n in range(22):
        tenant.api.create_package(tenant.default_profile_id, f"pkg-{n:02d}", f"1.{n}")
    tenant.api.create_package(tenant.default_profile_id, "pkg-software", "1.0", "SOFTWARE")
    page = console.page
    console.login(tenant.admin_email, PASSWORD)
    console.open("packages/FIRMWARE")
    pager = page.locator("nav.pager span")
    # 22 firmware packages in pages of 20; the software package is not one of them.
    pager.filter(has_text="Page 1 of 2 · 22 in all").wait_for()
    assert len(rows(console)) == 20
    # Newest first, then by title each way.
    assert rows(console)[0].split(" | ")[1] == "pkg-21"
    page.get_by_role("button", name="Title").click()
    page.locator("th[aria-sort=ascending]").filter(has_text="Title").wait_for()
    page.get_by_role("cell", name="pkg-00", exact=True).wait_for()
    assert [r.split(" | ")[1] for r in rows(console)] == [f"pkg-{n:02d}" for n in range(20)]
    page.get_by_role("button", name="Next").click()
    pager.filter(has_text="Page 2 of 2").wait_for()
    assert [r.split(" | ")[1] for r in rows(console)] == ["pkg-20", "pkg-21"]
    page.get_by_role("button", name="Title").click()
    page.locator("th[aria-sort=descending]").filter(has_text="Title").wait_for()
    pager.filter(has_text="Page 2 of 2").wait_for()
    assert [r.split(" | ")[1] for r in rows(console)] == ["pkg-01", "pkg-00"]
    assert "pkg-software" not in " ".join(rows(console))


def test_a_file_the_server_refuses_leaves_no_package_behind(
    console: Console, tenant: TenantContext, tmp_path: Path
) -> None:
    image = tmp_path / "too-big.bin"
    image.write_bytes(b"\0" * (TEST_MAX_PACKAGE_SIZE + 1))
    page = console.page
    console.login(tenant.admin_email, PASSWORD)
    console.open("packages/FIRMWARE")
    page.get_by_role("button", name="Add package").click()
    page.get_by_label("Title", exact=True).fill("too-big")
    page.get_by_label("Version", exact=True).fill("1.0")
    page.get_by_label("File", exact=True).set_input_files(str(image))
    page.get_by_role("button", name="Save package").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "larger than the limit" in alert.inner_text()
    assert tenant.api.get("/api/otaPackages", params={"pageSize": 10, "page": 0})["data"] == []
