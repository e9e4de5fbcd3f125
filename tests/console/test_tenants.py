"""The system administrator's console: the tenants, and a new one added."""

from __future__ import annotations

import re
import uuid

from tests.support.api import Api
from tests.support.process import ADMIN_EMAIL, ADMIN_PASSWORD

from .conftest import Console
from .test_packages import rows


def test_the_system_administrator_lists_and_adds_tenants(console: Console, sysadmin: Api) -> None:
    title = f"console-tenant-{uuid.uuid4().hex[:6]}"
    page = console.page
    console.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link").all_inner_texts() == ["Tenants"]
    page.get_by_role("heading", name="Tenants").wait_for()
    page.get_by_label("Tenant title").fill(title)
    page.get_by_role("button", name="Add tenant").click()
    page.locator("main").get_by_role("status").filter(has_text=f"Tenant {title} added").wait_for()
    # Newest first: the new tenant heads the list.
    page.get_by_role("cell", name=title, exact=True).wait_for()
    assert rows(console)[0].startswith(title)
    found = sysadmin.get("/api/tenants", params={"pageSize": 10, "page": 0, "textSearch": title})
    assert [t["title"] for t in found["data"]] == [title]
    page.get_by_label("Search by title").fill(title)
    page.locator("nav.pager span").filter(
        has_text=re.compile(r"^Page 1 of 1 · 1 in all$")
    ).wait_for()
    assert len(rows(console)) == 1
    console.shot("tenants")
    assert console.accessibility_problems() == []
