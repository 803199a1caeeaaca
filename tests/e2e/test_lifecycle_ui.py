"""The full VM lifecycle through the dashboard, against a real stack with simulated hosts.

One VM goes through the creation wizard (two disks, a NIC), runs, gets a snapshot (seen in
the tree), a third disk, is paused and resumed, shut down gracefully and deleted, each
step through the VM page's actions and tabs, each change arriving through the live feed.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

STATE_TIMEOUT_MS = 20_000


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def wait_live(page: Any) -> None:
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "open")


def header_state(page: Any) -> Any:
    """The state badge next to the VM's name."""
    return page.get_by_test_id("vm-state")


def action(page: Any, name: str) -> Any:
    return page.get_by_role("button", name=name, exact=True)


def test_vm_lifecycle_through_the_dashboard(page: Any, stack: Stack, shots: Path) -> None:
    page.goto("/vms")
    wait_live(page)
    # "n" opens the wizard from anywhere (not while typing).
    expect(page.get_by_role("button", name="New VM")).to_be_visible()
    page.locator("body").press("n")
    expect(page).to_have_url(re.compile(r"/vms/new$"))

    # Creating without a name is refused inline, on the step that needs it.
    page.get_by_role("button", name="Review").click()
    page.get_by_role("button", name="Create VM").click()
    expect(page.get_by_text("Give the VM a name.")).to_be_visible()

    name = unique("wiz")
    page.get_by_role("textbox", name="Name", exact=True).fill(name)
    page.get_by_role("button", name="Next").click()  # → Source (blank)
    page.get_by_role("button", name="Next").click()  # → CPU & memory
    page.get_by_role("spinbutton", name="vCPUs", exact=True).fill("1")
    page.get_by_role("spinbutton", name="Memory (MiB)", exact=True).fill("512")
    page.get_by_role("button", name="Next").click()  # → Disks
    page.get_by_role("spinbutton", name="Disk 0 size (GiB)").fill("8")
    page.get_by_role("button", name="Add disk").click()
    page.get_by_role("spinbutton", name="Disk 1 size (GiB)").fill("2")
    page.get_by_role("combobox", name="Disk 1 bus").select_option("sata")
    page.get_by_role("button", name="Next").click()  # → Network
    expect(page.get_by_role("combobox", name="NIC 0 network")).to_have_value("default")
    page.get_by_role("button", name="Next").click()  # → Cloud-init
    page.get_by_role("button", name="Next").click()  # → Review
    summary = page.get_by_test_id("wizard-summary")
    expect(summary).to_contain_text("disk0 8 GiB virtio, disk1 2 GiB sata")
    expect(summary).to_contain_text("nic0 → default (virtio)")
    page.screenshot(path=str(shots / "wizard-review.png"))
    page.get_by_role("button", name="Create VM").click()

    # The new VM's page: its create task, then running.
    expect(page.get_by_test_id("vm-name")).to_have_text(name)
    expect(header_state(page)).to_have_attribute("data-state", "running", timeout=STATE_TIMEOUT_MS)
    tasks = page.get_by_role("region", name="Recent tasks")
    expect(tasks.locator("tr", has_text=name).first).to_be_visible()
    vm_id = page.url.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
    vm = stack.api("GET", f"/vms/{vm_id}")
    assert [d["size_gib"] for d in vm["disks"]] == [8, 2]
    assert [n["network_id"] for n in vm["nics"]] == ["default"]
    assert re.fullmatch(r"52:54:00(:[0-9a-f]{2}){3}", vm["nics"][0]["mac"])

    # The Console tab mounts the console component (its chunk loads on demand).
    page.get_by_role("tab", name="Console", exact=True).click()
    expect(page.get_by_test_id("console-status")).to_be_visible()

    # Snapshot: taken from the Snapshots tab, shown in the tree as the current one.
    page.get_by_role("tab", name=re.compile("^Snapshots")).click()
    page.get_by_role("button", name="Take snapshot").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("textbox", name="Name", exact=True).fill("before-disk")
    dialog.get_by_role("textbox", name=re.compile("^Description")).fill("two disks")
    dialog.get_by_role("button", name="Take snapshot").click()
    expect(dialog).to_be_hidden()
    tree = page.get_by_role("tree", name="Snapshots")
    item = tree.locator('[role=treeitem][data-snapshot-name="before-disk"]')
    expect(item).to_be_visible(timeout=STATE_TIMEOUT_MS)
    expect(item.get_by_test_id("current-snapshot")).to_be_visible()
    page.screenshot(path=str(shots / "vm-snapshots.png"))

    # Disks: the wizard's two, then a third attached live.
    page.get_by_role("tab", name=re.compile("^Disks")).click()
    disks = page.get_by_test_id("disks")
    expect(disks.locator("tr[data-disk-id]")).to_have_count(2)
    expect(disks.get_by_role("button", name="Detach disk0")).to_be_disabled()  # boot disk, running
    page.get_by_role("button", name="Attach disk").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("spinbutton", name="Size (GiB)").fill("1")
    dialog.get_by_role("button", name="Attach", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(disks.locator('tr[data-disk-id="disk2"]')).to_contain_text(
        "1 GiB", timeout=STATE_TIMEOUT_MS
    )
    page.screenshot(path=str(shots / "vm-disks.png"))

    page.get_by_role("tab", name=re.compile("^Network")).click()
    nics = page.get_by_test_id("nics")
    expect(nics.locator('tr[data-nic-id="nic0"]')).to_contain_text(vm["nics"][0]["mac"])
    # A NIC attached by another client appears without a reload (the change feed).
    stack.api("POST", f"/vms/{vm_id}/nics", {"network_id": "default", "model": "e1000"})
    expect(nics.locator('tr[data-nic-id="nic1"]')).to_contain_text(
        "e1000", timeout=STATE_TIMEOUT_MS
    )

    # Pause and resume.
    action(page, "Pause").click()
    expect(header_state(page)).to_have_attribute("data-state", "paused", timeout=STATE_TIMEOUT_MS)
    action(page, "Resume").click()
    expect(header_state(page)).to_have_attribute("data-state", "running", timeout=STATE_TIMEOUT_MS)

    # Graceful shutdown (ACPI, no force) reaches stopped.
    action(page, "Shut down").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("spinbutton", name="Timeout (seconds)")).to_have_value("120")
    dialog.get_by_role("button", name="Shut down").click()
    expect(header_state(page)).to_have_attribute("data-state", "stopped", timeout=STATE_TIMEOUT_MS)

    # Delete: the VM has a snapshot, so the dialog has to say so.
    page.get_by_role("button", name="Actions").click()
    page.get_by_role("menuitem", name="Delete…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("checkbox", name=re.compile("Delete its snapshots")).check()
    dialog.get_by_role("button", name="Delete", exact=True).click()
    expect(page.get_by_text("This VM was deleted.")).to_be_visible(timeout=STATE_TIMEOUT_MS)
    page.screenshot(path=str(shots / "vm-deleted.png"))


def test_template_badge_filter_and_clone(page: Any, stack: Stack, shots: Path) -> None:
    name = unique("tpl")
    res = stack.create_vm(name, start=False)
    stack.wait_vm_state(res["vm_id"], "stopped", min_seq=res["seq"])
    page.goto(f"/vms/{res['vm_id']}")
    wait_live(page)
    page.get_by_role("button", name="Actions").click()
    page.get_by_role("menuitem", name="Convert to template").click()
    expect(page.get_by_test_id("template-badge")).to_be_visible(timeout=STATE_TIMEOUT_MS)
    expect(action(page, "Start")).to_have_count(0)  # templates do not start

    page.goto("/vms?template=true")
    row = page.locator(f'[role=row][data-vm-name="{name}"]')
    expect(row).to_have_attribute("data-template", "true")
    expect(page.get_by_role("combobox", name="Kind")).to_have_value("true")
    page.screenshot(path=str(shots / "vms-templates.png"))

    # A VM from the template through the wizard's Source step.
    page.goto("/vms/new")
    clone = unique("from-tpl")
    page.get_by_role("textbox", name="Name", exact=True).fill(clone)
    page.get_by_role("button", name="Source").click()
    page.get_by_role("radio", name=re.compile("From a template")).check()
    page.get_by_role("combobox", name="Template").select_option(value=res["vm_id"])
    page.get_by_role("button", name="Review").click()
    expect(page.get_by_test_id("wizard-summary")).to_contain_text(f"{name} (full clone)")
    page.get_by_role("button", name="Create VM").click()
    expect(page.get_by_test_id("vm-name")).to_have_text(clone)
    expect(header_state(page)).to_have_attribute("data-state", "running", timeout=STATE_TIMEOUT_MS)


def test_devices_snapshots_resize_and_clone(page: Any, stack: Stack, shots: Path) -> None:
    name = unique("dev")
    res = stack.api(
        "POST",
        "/vms",
        {
            "name": name,
            "vcpus": 1,
            "memory_mib": 512,
            "start": True,
            "disks": [{"size_gib": 4}, {"size_gib": 2}],
            "nics": [{"network_id": "default"}],
        },
    )
    vm_id = res["vm_id"]
    stack.wait_vm_state(vm_id, "running", min_seq=res["seq"])
    page.goto(f"/vms/{vm_id}?tab=disks")
    wait_live(page)

    # Grow disk1, then detach it with its volume.
    disks = page.get_by_test_id("disks")
    disks.get_by_role("button", name="Grow disk1").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("spinbutton", name="New size (GiB)").fill("3")
    dialog.get_by_role("button", name="Grow", exact=True).click()
    expect(disks.locator('tr[data-disk-id="disk1"]')).to_contain_text(
        "3 GiB", timeout=STATE_TIMEOUT_MS
    )
    disks.get_by_role("button", name="Detach disk1").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("checkbox", name=re.compile("delete the volume")).check()
    dialog.get_by_role("button", name="Detach", exact=True).click()
    expect(disks.locator('tr[data-disk-id="disk1"]')).to_have_count(0, timeout=STATE_TIMEOUT_MS)

    # Detach the NIC.
    page.get_by_role("tab", name=re.compile("^Network")).click()
    nics = page.get_by_test_id("nics")
    nics.get_by_role("button", name="Detach nic0").click()
    page.get_by_role("dialog").get_by_role("button", name="Detach", exact=True).click()
    expect(page.get_by_text("No network adapters")).to_be_visible(timeout=STATE_TIMEOUT_MS)

    # Two snapshots make a chain; reverting to the first makes it current again.
    page.get_by_role("tab", name=re.compile("^Snapshots")).click()
    tree = page.get_by_role("tree", name="Snapshots")
    for snap in ("s1", "s2"):
        page.get_by_role("button", name="Take snapshot").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_role("textbox", name="Name", exact=True).fill(snap)
        dialog.get_by_role("button", name="Take snapshot").click()
        expect(tree.locator(f'[data-snapshot-name="{snap}"]')).to_have_attribute(
            "aria-current", "true", timeout=STATE_TIMEOUT_MS
        )
    s1 = tree.locator('[data-snapshot-name="s1"]')
    s2 = tree.locator('[data-snapshot-name="s2"]')
    expect(s2).to_have_attribute("aria-level", "2")
    page.screenshot(path=str(shots / "vm-snapshot-tree.png"))
    expect(s2).to_have_attribute("data-parent-id", s1.get_attribute("data-snapshot-id") or "")
    s1.get_by_role("button", name="Revert to s1").click()
    page.get_by_role("dialog").get_by_role("button", name="Revert", exact=True).click()
    expect(s1).to_have_attribute("aria-current", "true", timeout=STATE_TIMEOUT_MS)
    s2.get_by_role("button", name="Delete snapshot s2").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete snapshot").click()
    expect(s2).to_have_count(0, timeout=STATE_TIMEOUT_MS)

    # Graceful reboot keeps it running.
    action(page, "Reboot").click()
    page.get_by_role("dialog").get_by_role("button", name="Reboot", exact=True).click()
    tasks = page.get_by_role("region", name="Recent tasks")
    reboot = tasks.locator("tr", has_text="Reboot VM").first
    expect(reboot.locator('[data-state="succeeded"]')).to_be_visible(timeout=STATE_TIMEOUT_MS)
    expect(header_state(page)).to_have_attribute("data-state", "running")

    # Hard stop, then a cold resize.
    action(page, "Stop").click()
    page.get_by_role("dialog").get_by_role("button", name="Power off").click()
    expect(header_state(page)).to_have_attribute("data-state", "stopped", timeout=STATE_TIMEOUT_MS)
    page.get_by_role("button", name="Actions").click()
    page.get_by_role("menuitem", name="Resize CPU / memory…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("spinbutton", name="vCPUs").fill("2")
    dialog.get_by_role("spinbutton", name="Memory (MiB)").fill("1024")
    dialog.get_by_role("button", name="Resize", exact=True).click()
    page.get_by_role("tab", name="Summary").click()
    expect(page.get_by_text("1 GiB (1,024 MiB)")).to_be_visible(timeout=STATE_TIMEOUT_MS)

    # Clone the stopped VM: the clone's page opens.
    page.get_by_role("button", name="Actions").click()
    page.get_by_role("menuitem", name="Clone…").click()
    dialog = page.get_by_role("dialog")
    clone = unique("copy")
    dialog.get_by_role("textbox", name="Name of the clone").fill(clone)
    dialog.get_by_role("button", name="Clone", exact=True).click()
    expect(page.get_by_test_id("vm-name")).to_have_text(clone)
    expect(header_state(page)).to_have_attribute("data-state", "stopped", timeout=STATE_TIMEOUT_MS)
