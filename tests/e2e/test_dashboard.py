"""The dashboard against a real LimiQuantix stack: pages load real data and update live."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def wait_live(page: Any) -> None:
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "open")


def test_dashboard_shows_stats(page: Any, stack: Stack, shots: Path) -> None:
    res = stack.create_vm(unique("dash"))
    stack.wait_vm_state(res["vm_id"], "running", min_seq=res["seq"])
    page.goto("/")
    wait_live(page)
    hosts = page.get_by_test_id("metric-hosts")
    expect(hosts).to_contain_text("2")
    expect(hosts).to_contain_text(re.compile("connected", re.I))
    expect(page.get_by_test_id("recent-vms")).to_be_visible()
    expect(page.get_by_role("tree", name="Inventory")).to_contain_text("sim-1")
    page.screenshot(path=str(shots / "dashboard.png"))


def test_vm_created_elsewhere_appears_live(page: Any, stack: Stack, shots: Path) -> None:
    page.goto("/vms")
    wait_live(page)
    name = unique("live")
    stack.create_vm(name, start=True)
    # No reload: the change stream invalidates the list.
    row = page.locator(f'[role=row][data-vm-name="{name}"]')
    expect(row).to_have_attribute("data-state", "running", timeout=10_000)
    page.screenshot(path=str(shots / "vms.png"))


def test_stop_and_start_from_the_list(page: Any, stack: Stack, shots: Path) -> None:
    name = unique("ctl")
    vm_id = stack.create_vm(name, start=True)["vm_id"]
    stack.wait_vm_state(vm_id, "running")
    page.goto(f"/vms?q={name}")
    wait_live(page)
    row = page.locator(f'[role=row][data-vm-name="{name}"]')
    expect(row).to_have_attribute("data-state", "running")
    row.get_by_role("checkbox").check()
    page.get_by_role("button", name=re.compile("^Stop")).click()
    page.get_by_role("dialog").get_by_role("button", name="Power off").click()
    expect(row).to_have_attribute("data-state", "stopped", timeout=10_000)
    page.screenshot(path=str(shots / "vms-stopped.png"))
    page.get_by_role("button", name=re.compile("^Start")).click()
    expect(row).to_have_attribute("data-state", "running", timeout=10_000)


def test_new_vm_wizard_creates_and_opens_the_vm(page: Any, stack: Stack, shots: Path) -> None:
    page.goto("/vms")
    wait_live(page)
    page.get_by_role("button", name="New VM").click()
    expect(page).to_have_url(re.compile(r"/vms/new$"))
    name = unique("ui")
    page.get_by_role("textbox", name="Name", exact=True).fill(name)
    page.get_by_role("button", name="CPU & memory").click()
    page.get_by_role("spinbutton", name="Memory (MiB)", exact=True).fill("1024")
    page.screenshot(path=str(shots / "new-vm-wizard.png"))
    page.get_by_role("button", name="Review").click()
    page.get_by_role("button", name="Create VM").click()
    expect(page.get_by_test_id("vm-name")).to_have_text(name)
    expect(page.locator("main [data-state=running]").first).to_be_visible(timeout=10_000)


def test_new_vm_wizard_shows_server_errors(page: Any, stack: Stack) -> None:
    page.goto("/vms/new")
    page.get_by_role("textbox", name="Name", exact=True).fill(unique("huge"))
    page.get_by_role("button", name="CPU & memory").click()
    page.get_by_role("spinbutton", name="vCPUs", exact=True).fill("512")
    page.get_by_role("button", name="Review").click()
    page.get_by_role("button", name="Create VM").click()
    # Either refused at once (problem+json) or accepted and failed in placement: both in words.
    alert = page.get_by_role("alert").first
    expect(alert).to_be_visible(timeout=10_000)


def test_vm_detail_and_events(page: Any, stack: Stack, shots: Path) -> None:
    name = unique("ev")
    res = stack.create_vm(name, start=True)
    stack.wait_vm_state(res["vm_id"], "running")
    page.goto(f"/vms/{res['vm_id']}")
    expect(page.get_by_test_id("vm-name")).to_have_text(name)
    page.screenshot(path=str(shots / "vm-detail.png"))
    page.get_by_role("tab", name="Events").click()
    events = page.get_by_test_id("events")
    expect(events.locator('[data-event-type="vm.created"]')).to_have_count(1)
    expect(events.locator('[data-event-type="vm.started"]')).to_have_count(1)
    expect(events).to_contain_text("user:")
    page.screenshot(path=str(shots / "vm-events.png"))
    # The task column links to the task that caused the event.
    events.locator('[data-event-type="vm.created"]').get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/tasks/"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Create VM")
    page.screenshot(path=str(shots / "task-detail.png"))


def test_hosts_list_and_detail(page: Any, stack: Stack, shots: Path) -> None:
    page.goto("/hosts")
    for host in ("sim-1", "sim-2"):
        expect(page.locator(f'tr[data-host-name="{host}"]')).to_be_visible()
    page.screenshot(path=str(shots / "hosts.png"))
    page.locator('tr[data-host-name="sim-1"]').click(button="right")
    menu = page.get_by_role("menu")
    expect(menu.get_by_role("menuitem", name="Show VMs")).to_be_visible()
    page.screenshot(path=str(shots / "hosts-context-menu.png"))
    menu.get_by_role("menuitem", name="Open").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("sim-1")
    page.screenshot(path=str(shots / "host-detail.png"))
    page.get_by_role("tab", name=re.compile("VMs")).click()
    page.screenshot(path=str(shots / "host-vms.png"))
    page.get_by_role("tab", name="Events").click()
    expect(page.get_by_test_id("events")).to_be_visible()


def test_global_search_with_keyboard(page: Any, stack: Stack, shots: Path) -> None:
    name = unique("find")
    vm_id = stack.create_vm(name, start=False)["vm_id"]
    stack.wait_vm_state(vm_id, "stopped")
    page.goto("/")
    search = page.get_by_role("combobox", name="Search VMs and hosts")
    expect(search).to_be_visible()  # the shell (and its keyboard shortcuts) has rendered
    page.locator("body").press("/")
    expect(search).to_be_focused()
    search.type(name)
    expect(page.get_by_role("option").first).to_contain_text(name)
    page.screenshot(path=str(shots / "search.png"))
    search.press("Enter")
    expect(page).to_have_url(re.compile(f"/vms/{vm_id}$"))
