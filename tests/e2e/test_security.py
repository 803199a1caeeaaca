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


def test_a_cluster_bound_operator_sees_actions_in_its_cluster_only(
    browser: Any, stack: Stack, shots: Path
) -> None:
    """viewer everywhere + operator on one cluster: the dashboard hides a VM's and its
    host's actions while the operator's cluster is another one, and offers them once the
    operator is bound to the VM's cluster too (the API enforces the same)."""
    tag = uuid.uuid4().hex[:6]
    hosts = stack.api("GET", "/hosts?limit=500")["items"]
    host = next(h for h in hosts if h["state"] == "connected")
    made: list[tuple[str, str | None]] = []  # clusters this test made (and the host it added)
    vm_id = user_id = ""
    try:
        home = host.get("cluster_id")  # another test may have put the host in a cluster
        if not home:
            home = stack.api("POST", "/clusters", {"name": f"home-{tag}"})["cluster_id"]
            stack.api("POST", f"/clusters/{home}/actions/add-host", {"host_id": host["id"]})
            made.append((home, host["id"]))
        elsewhere = stack.api("POST", "/clusters", {"name": f"elsewhere-{tag}"})["cluster_id"]
        made.append((elsewhere, None))
        body = {"name": f"scoped-{tag}", "vcpus": 1, "memory_mib": 64, "host_id": host["id"],
                "start": False}  # fmt: skip
        vm_id = stack.api("POST", "/vms", body)["vm_id"]
        stack.wait_vm_state(vm_id, "stopped")
        name = f"op-{tag}"
        roles = [{"role": "viewer"}, {"role": "operator", "scope": f"cluster:{elsewhere}"}]
        user_id = stack.api("POST", "/users", {"username": name, "password": "op-password-1",
                                               "roles": roles})["user_id"]  # fmt: skip
        ctx = browser.new_context(base_url=stack.url, viewport={"width": 1440, "height": 900})
        op = ctx.new_page()
        op.set_default_timeout(15_000)
        start = op.get_by_role("button", name="Start", exact=True)
        maintenance = op.get_by_role("button", name=re.compile("(Enter|Exit) maintenance"))
        try:
            login(op, name, "op-password-1", f"/vms/{vm_id}")
            expect(op.get_by_role("heading", name=f"scoped-{tag}")).to_be_visible()
            expect(op.get_by_text("stopped").first).to_be_visible()
            expect(start).to_have_count(0)
            op.goto(f"/hosts/{host['id']}")
            expect(op.get_by_role("heading", name=host["name"])).to_be_visible()
            expect(maintenance).to_have_count(0)

            scope = {"role": "operator", "scope": f"cluster:{home}"}
            stack.api("POST", f"/users/{user_id}/role-bindings", scope)
            op.goto(f"/vms/{vm_id}")
            expect(start).to_be_enabled()
            op.screenshot(path=str(shots / "cluster-operator-vm.png"))
            op.goto(f"/hosts/{host['id']}")
            expect(maintenance).to_be_visible()
        finally:
            ctx.close()
    finally:
        if vm_id:
            stack.api("DELETE", f"/vms/{vm_id}")
            stack.wait_vm_state(vm_id, "deleted")  # its host leaves the cluster empty
        if user_id:
            stack.api("DELETE", f"/users/{user_id}")
        for cid, added in made:
            if added:
                stack.api("POST", f"/clusters/{cid}/actions/remove-host", {"host_id": added})
            stack.api("DELETE", f"/clusters/{cid}")
