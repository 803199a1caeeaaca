"""Clusters, maintenance and migration in a real browser against ``lq up``.

Create a cluster through the API, see it listed and open it; add both simulated hosts and
a resource pool from its tabs. Migrate a running VM from its detail page with the host
picker, then put its new host into maintenance from the host page and watch the VM move
back; leave maintenance again.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


def _wait(stack: Stack, path: str, check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = stack.api("GET", path)
        if check(last):
            return last
        time.sleep(0.2)
    raise AssertionError(f"{path} never satisfied the check: {last}")


def test_cluster_pages_maintenance_and_migration(page: Any, stack: Stack, shots: Path) -> None:
    name = f"prod-{uuid.uuid4().hex[:6]}"
    made = stack.api("POST", "/clusters", {"name": name})
    cid = made["cluster_id"]
    hosts = stack.api("GET", "/hosts")["items"]
    assert len(hosts) >= 2

    page.goto("/")
    page.get_by_role("navigation").get_by_role("link", name="Clusters").click()
    page.get_by_role("main").get_by_role("link", name=name).click()
    page.get_by_role("tab", name="Hosts").click()
    for h in hosts[:2]:
        page.get_by_label("Host to add").select_option(h["id"])
        page.get_by_role("button", name="Add host").click()
        expect(page.get_by_role("table", name="Cluster hosts")).to_contain_text(h["name"])
    # the sidebar's inventory tree: the cluster, then its hosts
    node = page.get_by_role("tree", name="Inventory").locator(f'[data-cluster="{name}"]')
    for h in hosts[:2]:
        expect(node.get_by_role("group")).to_contain_text(h["name"])
    page.get_by_role("tab", name="Resource Pools").click()
    page.get_by_label("Pool name").fill("gold")
    page.get_by_label("vCPU limit").fill("8")
    page.get_by_role("button", name="Add pool").click()
    expect(page.get_by_role("table", name="Resource pools")).to_contain_text("gold")
    page.get_by_role("tab", name="Settings").click()
    page.get_by_label("DRS mode").select_option("full")
    page.get_by_role("button", name="Save settings").click()
    _wait(stack, f"/clusters/{cid}", lambda c: c["drs"]["mode"] == "full")
    page.screenshot(path=str(shots / "cluster-detail.png"), full_page=True)

    # migrate a running VM from its page, to the other host
    vm = stack.create_vm(f"mig-{uuid.uuid4().hex[:4]}")
    running = stack.wait_vm_state(vm["vm_id"], "running", min_seq=vm["seq"])
    src = running["host_id"]
    other = next(h for h in hosts[:2] if h["id"] != src)
    page.goto(f"/vms/{vm['vm_id']}")
    page.get_by_role("button", name="Migrate").click()
    page.get_by_label("Destination host").select_option(other["id"])
    page.get_by_role("dialog").get_by_role("button", name="Migrate").click()
    _wait(
        stack,
        f"/vms/{vm['vm_id']}",
        lambda v: v["host_id"] == other["id"] and v["state"] == "running",
    )

    # maintenance on its new host moves it back
    page.goto(f"/hosts/{other['id']}")
    page.get_by_role("button", name="Enter maintenance").click()
    page.get_by_role("dialog").get_by_role("button", name="Enter maintenance").click()
    _wait(stack, f"/hosts/{other['id']}", lambda h: h["state"] == "maintenance")
    _wait(stack, f"/vms/{vm['vm_id']}", lambda v: v["host_id"] == src and v["state"] == "running")
    expect(page.get_by_role("button", name="Exit maintenance")).to_be_visible(timeout=20_000)
    page.screenshot(path=str(shots / "host-maintenance.png"), full_page=True)
    page.get_by_role("button", name="Exit maintenance").click()
    _wait(stack, f"/hosts/{other['id']}", lambda h: h["state"] == "connected")
