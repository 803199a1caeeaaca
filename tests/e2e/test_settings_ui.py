"""Settings in a real browser against ``lq up``: fleet settings read and saved through the
API as events (client-side validation, a server refusal shown and nothing changed, who
changed what), Appearance kept in the browser, Advanced showing the process settings with
their sources, and the change in the audit log."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", autouse=True)
def restore(stack: Stack) -> Iterator[None]:
    """The stack is shared with other modules: put every fleet setting back afterwards."""
    before = {k: s["value"] for k, s in fleet(stack).items()}
    yield
    stack.sign_in()
    stack.api("PATCH", "/settings", before)


def fleet(stack: Stack) -> dict[str, Any]:
    stack.sign_in()
    return {s["key"]: s for s in stack.api("GET", "/settings")["items"]}


def test_fleet_settings_saved_as_events(page: Any, stack: Stack, shots: Path) -> None:
    page.goto("/settings")
    expect(page.get_by_role("tab", name="General")).to_have_attribute("aria-selected", "true")
    placement = page.get_by_label("Placement strategy")
    expect(placement).to_have_value("spread")
    timeout = page.get_by_label("Default graceful shutdown timeout")
    expect(timeout).to_have_value("120")
    save = page.get_by_role("button", name="Save")
    expect(save).to_be_disabled()

    timeout.fill("0")
    expect(page.get_by_role("alert")).to_contain_text("At least 1")
    expect(save).to_be_disabled()
    timeout.fill("45")
    placement.select_option("pack")
    save.click()
    origin = page.get_by_test_id("setting-default_shutdown_timeout_s-origin")
    expect(origin).to_contain_text("Changed by user:admin")
    placed = page.get_by_test_id("setting-placement_strategy-origin")
    expect(placed).to_contain_text("default spread")
    history = page.get_by_role("list", name="Recent setting changes")
    expect(history).to_contain_text("default_shutdown_timeout_s")
    expect(history).to_contain_text("120 → 45")
    page.screenshot(path=str(shots / "settings-general.png"), full_page=True)
    now = fleet(stack)
    assert now["default_shutdown_timeout_s"]["value"] == 45
    assert now["placement_strategy"]["value"] == "pack"

    # a value only the server can refuse: the problem is shown, nothing is changed
    page.get_by_role("tab", name="Storage").click()
    pool = page.get_by_label("Default storage pool")
    pool.fill("no-such-pool")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("problem")).to_contain_text("no storage pool 'no-such-pool'")
    assert fleet(stack)["default_pool_id"]["value"] == ""

    # notifications and the security card read the same aggregate
    page.get_by_role("tab", name="Notifications").click()
    page.get_by_label("SMTP server").fill("mail.example.com")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("setting-smtp_host-origin")).to_contain_text("Changed by user:admin")
    page.get_by_role("tab", name="Security").click()
    expect(page.get_by_label("Failed logins per user")).to_have_value("5")
    expect(page.get_by_role("table", name="Users")).to_be_visible()

    # the changes are events in the audit log
    page.goto("/audit")
    expect(page.get_by_text("settings.changed").first).to_be_visible()


def test_appearance_and_process_settings(page: Any, stack: Stack, shots: Path) -> None:
    page.goto("/settings?tab=appearance")
    page.get_by_role("radio", name="Light").check()
    expect(page.locator("html")).to_have_class(re.compile(r"\blight\b"))
    page.get_by_role("radio", name="Compact").check()
    expect(page.locator("html")).to_have_attribute("data-density", "compact")
    page.reload()
    expect(page.get_by_role("radio", name="Compact")).to_be_checked()  # kept in this browser
    page.get_by_role("radio", name="Comfortable").check()
    page.get_by_role("radio", name="Dark").check()

    page.get_by_role("tab", name="Advanced").click()
    table = page.get_by_role("table", name="Process settings")
    port = table.locator('tr[data-process-setting="http_port"]')
    expect(port).to_contain_text(stack.url.rsplit(":", 1)[1])
    secret = table.locator('tr[data-process-setting="smtp_password"]')
    expect(secret).to_be_visible()
    expect(table.locator('tr[data-process-setting="data_dir"]')).not_to_contain_text("default")
    page.screenshot(path=str(shots / "settings-advanced.png"), full_page=True)
