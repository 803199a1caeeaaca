"""Signing in, Settings → Security and role-aware pages, in a real browser."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Stack, login

pytestmark = pytest.mark.e2e


def test_login_remembers_the_page(browser: Any, stack: Stack, shots: Path) -> None:
    ctx = browser.new_context(base_url=stack.url, viewport={"width": 1440, "height": 900})
    pg = ctx.new_page()
    pg.set_default_timeout(15_000)
    try:
        pg.goto("/hosts?q=sim")
        expect(pg).to_have_url(re.compile(r"/login\?next=%2Fhosts%3Fq%3Dsim"))
        pg.get_by_label("User name").fill("admin")
        pg.get_by_label("Password").fill("not-the-password")
        pg.get_by_role("button", name="Sign in").click()
        expect(pg.get_by_role("alert")).to_contain_text(re.compile("sign", re.I))
        pg.screenshot(path=str(shots / "login.png"))
        pg.get_by_label("Password").fill(stack.password)
        pg.get_by_role("button", name="Sign in").click()
        expect(pg).to_have_url(re.compile(r"/hosts\?q=sim$"))
        expect(pg.get_by_test_id("signed-in-user")).to_have_text("admin")
    finally:
        ctx.close()


def test_settings_security_and_a_viewer(page: Any, browser: Any, stack: Stack, shots: Path) -> None:
    name = f"viewer-{uuid.uuid4().hex[:6]}"
    page.goto("/settings?tab=security")
    form = page.get_by_role("form", name="New user")
    form.get_by_label("New user name").fill(name)
    form.get_by_label("New user password").fill("viewer-password")
    form.get_by_label("New user role").select_option("viewer")
    form.get_by_role("button", name="Add user").click()
    row = page.locator(f'tr[data-username="{name}"]')
    expect(row).to_contain_text("viewer")

    tokens = page.get_by_role("form", name="New API token")
    tokens.get_by_label("Token name").fill("ci")
    tokens.get_by_label("vm.read").check()
    tokens.get_by_role("button", name="Create token").click()
    expect(page.get_by_test_id("new-token-value")).to_contain_text("lqt_")
    expect(page.locator('tr[data-token-name="ci"]')).to_be_visible()
    page.screenshot(path=str(shots / "settings-security.png"), full_page=True)

    ctx = browser.new_context(base_url=stack.url, viewport={"width": 1440, "height": 900})
    viewer = ctx.new_page()
    viewer.set_default_timeout(15_000)
    try:
        login(viewer, name, "viewer-password", "/vms")
        expect(viewer.get_by_role("heading", name="Virtual Machines")).to_be_visible()
        expect(viewer.get_by_role("button", name="New VM")).to_have_count(0)
        expect(viewer.get_by_role("button", name=re.compile("^Stop"))).to_have_count(0)
        viewer.goto("/settings?tab=security")
        expect(viewer.get_by_role("table", name="Users")).to_have_count(0)
        expect(viewer.get_by_role("form", name="New API token")).to_be_visible()
        expect(viewer.get_by_role("form", name="New join token")).to_have_count(0)
        viewer.get_by_role("button", name="Sign out").click()
        expect(viewer).to_have_url(re.compile("/login"))
    finally:
        ctx.close()


def test_join_tokens_card(page: Any, stack: Stack, shots: Path) -> None:
    label = f"rack-{uuid.uuid4().hex[:6]}"
    page.goto("/settings?tab=security")
    form = page.get_by_role("form", name="New join token")
    form.get_by_label("Join token label").fill(label)
    form.get_by_label("Expires in hours").fill("2")
    form.get_by_role("button", name="Create join token").click()
    expect(page.get_by_test_id("new-join-token-value")).to_contain_text("lqj_")
    row = page.locator(f'tr[data-join-token="{label}"]')
    expect(row).to_have_attribute("data-state", "active")
    page.screenshot(path=str(shots / "settings-join-tokens.png"), full_page=True)
    row.get_by_role("button", name="Revoke").click()
    expect(row).to_have_attribute("data-state", "revoked")
    listed = stack.api("GET", "/join-tokens?state=revoked")["items"]
    assert [t["label"] for t in listed if t["label"] == label] == [label]
    assert all("token" not in t for t in listed)
