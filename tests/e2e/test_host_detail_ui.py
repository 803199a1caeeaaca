"""The host page's tabs and the wizard's network and pool pickers in a real browser.

Against ``lq up`` (two simulated hosts): the host page of sim-1 shows its VM count and its
VMs, a storage pool attached to sim-1 through the API under Storage (active there), a
virtual network under Network, its CPUs and URI under Hardware, and a label edited there
is saved (the API and a reload agree). The creation wizard lists a network and a pool
created through the API in its pickers, and the VM it creates (pinned, with HA) has its
NIC on that network and its disk in that pool; its Summary then changes HA through set-ha.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

# storage_allowed_roots' default; the simulated hosts keep pools in memory only
POOL_ROOT = "/var/lib/limiquantix/pools"
TIMEOUT_MS = 20_000


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _host(stack: Stack, name: str) -> dict[str, Any]:
    for h in stack.api("GET", "/hosts")["items"]:
        if h["name"] == name:
            return dict(h)
    raise AssertionError(f"no host {name}")


def _wait(stack: Stack, path: str, check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = stack.api("GET", path)
        if check(last):
            return last
        time.sleep(0.2)
    raise AssertionError(f"{path} never satisfied the check: {last}")


def _network(stack: Stack, name: str, cidr: str) -> str:
    stack.api("POST", "/networks", {"name": name, "type": "nat", "cidr": cidr})
    page = _wait(stack, "/networks", lambda p: any(n["name"] == name for n in p["items"]))
    return str(next(n["id"] for n in page["items"] if n["name"] == name))


def test_host_tabs_show_real_data(page: Any, stack: Stack, shots: Path) -> None:
    sim1 = _host(stack, "sim-1")
    hid = sim1["id"]
    vm_name = unique("hostvm")
    vm = stack.api(
        "POST",
        "/vms",
        {"name": vm_name, "vcpus": 1, "memory_mib": 256, "start": True, "host_id": hid},
    )
    stack.wait_vm_state(vm["vm_id"], "running", min_seq=vm["seq"])
    pool_name = unique("hostpool")
    stack.api(
        "POST",
        "/storage-pools",
        {
            "name": pool_name,
            "type": "dir",
            "params": {"path": f"{POOL_ROOT}/{pool_name}"},
            "capacity_gib": 10,
            "host_ids": [hid],
        },
    )
    net_name = unique("hostnet")
    _network(stack, net_name, "10.141.0.0/24")
    vm_count = stack.api("GET", f"/hosts/{hid}")["vm_count"]
    assert vm_count >= 1
    assert stack.api("GET", f"/vms?host_id={hid}&limit=1")["total"] == vm_count

    page.goto(f"/hosts/{hid}")
    expect(page.get_by_role("heading", level=1)).to_have_text("sim-1")
    expect(page.get_by_role("button", name="Enter maintenance")).to_be_visible()
    vms_tab = page.get_by_role("tab", name=re.compile("^VMs"))
    expect(vms_tab).to_have_text(re.compile(rf"^VMs\s*{vm_count}$"))
    vms_tab.click()
    expect(page.locator(f'[role=row][data-vm-name="{vm_name}"]')).to_be_visible()
    expect(page.get_by_test_id("vm-range")).to_contain_text(f"of {vm_count} VMs")
    page.screenshot(path=str(shots / "host-detail-vms.png"))

    page.get_by_role("tab", name="Storage").click()
    expect(page).to_have_url(re.compile(r"\?tab=storage$"))
    pools = page.get_by_role("table", name="Storage pools on sim-1")
    row = pools.locator(f'tr[data-pool="{pool_name}"]')
    expect(row.locator("[data-state]")).to_have_attribute(
        "data-state", "active", timeout=TIMEOUT_MS
    )
    expect(row).to_contain_text("dir · local")
    expect(row.locator("[data-pool-allocated]")).to_contain_text("of 10.0 GiB")
    page.screenshot(path=str(shots / "host-detail-storage.png"))

    page.get_by_role("tab", name="Network").click()
    net_row = page.get_by_role("table", name="Networks on sim-1").locator(
        f'tr[data-network="{net_name}"]'
    )
    expect(net_row.locator("[data-state]")).to_have_attribute(
        "data-state", "active", timeout=TIMEOUT_MS
    )
    expect(net_row).to_contain_text("10.141.0.0/24")
    page.screenshot(path=str(shots / "host-detail-network.png"))

    page.get_by_role("tab", name="Hardware").click()
    expect(page.get_by_test_id("host-cpus")).to_have_text(str(sim1["cpus"]))
    expect(page.get_by_test_id("host-uri")).to_have_text(sim1["uri"])
    page.get_by_role("button", name="Edit labels").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Add label").click()
    rows = dialog.locator("[data-testid^=label-row-]")
    n = rows.count()
    dialog.get_by_role("textbox", name=f"Label {n} key").fill("rack")
    dialog.get_by_role("textbox", name=f"Label {n} value").fill("r12")
    dialog.get_by_role("button", name="Save labels").click()
    expect(dialog).to_have_count(0)
    labels = page.get_by_role("list", name="Labels")
    expect(labels).to_contain_text("rack=r12")
    _wait(stack, f"/hosts/{hid}", lambda h: (h["labels"] or {}).get("rack") == "r12")
    page.screenshot(path=str(shots / "host-detail-hardware.png"))
    page.reload()
    expect(page.get_by_role("list", name="Labels")).to_contain_text("rack=r12")

    page.get_by_role("tab", name="Monitoring").click()
    page.get_by_role("tab", name="Events").click()
    events = page.get_by_test_id("events")
    expect(events.locator('[data-event-type="host.labels_updated"]').first).to_be_visible()


def test_wizard_picks_network_pool_and_ha(page: Any, stack: Stack, shots: Path) -> None:
    sim1 = _host(stack, "sim-1")
    net_name = unique("wiznet")
    nid = _network(stack, net_name, "10.142.0.0/24")
    pool_name = unique("wizpool")
    pid = stack.api(
        "POST",
        "/storage-pools",
        {
            "name": pool_name,
            "type": "dir",
            "params": {"path": f"{POOL_ROOT}/{pool_name}"},
            "host_ids": [sim1["id"]],
        },
    )["pool_id"]
    _wait(stack, "/storage-pools", lambda p: any(x["id"] == pid for x in p["items"]))

    page.goto("/vms/new")
    vm_name = unique("wiz")
    page.get_by_role("textbox", name="Name", exact=True).fill(vm_name)
    page.locator("select[name=host_id]").select_option(sim1["id"])
    page.get_by_role("checkbox", name="High availability").check()
    page.get_by_role("spinbutton", name="Restart priority").fill("7")
    steps = page.get_by_role("list", name="Steps")
    steps.get_by_role("button", name="CPU & memory").click()
    page.get_by_role("spinbutton", name="vCPUs", exact=True).fill("1")
    page.get_by_role("spinbutton", name="Memory (MiB)", exact=True).fill("256")
    steps.get_by_role("button", name="Disks").click()
    page.get_by_role("spinbutton", name="Disk 0 size (GiB)").fill("2")
    disk_pool = page.get_by_role("combobox", name="Disk 0 pool")
    expect(disk_pool.locator(f'option[value="{pid}"]')).to_contain_text(pool_name)
    disk_pool.select_option(pid)
    steps.get_by_role("button", name="Network").click()
    picker = page.get_by_role("combobox", name="NIC 0 network")
    expect(picker.locator(f'option[value="{nid}"]')).to_contain_text(net_name)
    expect(picker.locator("option").first).to_have_attribute("value", "default")
    picker.select_option(nid)
    page.screenshot(path=str(shots / "wizard-network-picker.png"))
    steps.get_by_role("button", name="Review").click()
    summary = page.get_by_test_id("wizard-summary")
    expect(summary).to_contain_text(f"nic0 → {net_name} (virtio)")
    expect(summary).to_contain_text(f"disk0 2 GiB virtio (pool {pool_name})")
    expect(summary).to_contain_text("On, priority 7")
    page.get_by_role("button", name="Create VM").click()
    expect(page.get_by_test_id("vm-name")).to_have_text(vm_name)
    match = re.search(r"/vms/([^/?#]+)", page.url)
    assert match, page.url
    vm_id = match.group(1)
    vm = stack.api("GET", f"/vms/{vm_id}")
    assert [n["network_id"] for n in vm["nics"]] == [nid]
    assert [d["pool_id"] for d in vm["disks"]] == [pid]
    assert (vm["host_id"], vm["ha_enabled"], vm["ha_priority"]) == (sim1["id"], True, 7)
    expect(page.locator("main")).to_contain_text(f"nic0 {nid}")

    # The VM's Summary shows HA and edits it through set-ha.
    ha = page.get_by_test_id("vm-ha")
    expect(ha).to_have_text("On · priority 7")
    page.get_by_role("button", name="Edit high availability").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("spinbutton", name="Restart priority").fill("20")
    dialog.get_by_role("button", name="Save").click()
    expect(ha).to_have_text("On · priority 20")
    _wait(stack, f"/vms/{vm_id}", lambda v: v["ha_priority"] == 20)
    page.get_by_role("button", name="Edit high availability").click()
    dialog.get_by_role("checkbox").uncheck()
    dialog.get_by_role("button", name="Save").click()
    expect(ha).to_have_attribute("data-ha", "off")
    _wait(stack, f"/vms/{vm_id}", lambda v: v["ha_enabled"] is False)
    page.screenshot(path=str(shots / "vm-ha.png"))
