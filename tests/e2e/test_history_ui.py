"""The dashboard's history views against a real stack: the audit log, an entity's Events
tab with its filters and before/after values, and the "as of" slider of VM and host pages.

One VM is created running, powered off and resized (1 → 2 vCPUs) through the API once for
the module; each test then reads that history through the browser.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class History:
    vm_id: str
    host_id: str
    started_seq: int  # the vm.started event's stream sequence (running, before the stop)
    stopped_seq: int  # the vm.stopped event's (before the resize)
    resized_seq: int  # the vm.resized event's


def _events(stack: Stack, vm_id: str) -> list[dict[str, Any]]:
    page: dict[str, Any] = stack.api("GET", f"/vms/{vm_id}/events?limit=500")
    items: list[dict[str, Any]] = page["items"]
    return items


def _wait_event(stack: Stack, vm_id: str, type_: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in _events(stack, vm_id) if e["type"] == type_]
        if found:
            return found[-1]
        time.sleep(0.2)
    raise AssertionError(f"no {type_} event for VM {vm_id} after {timeout:.0f} s")


@pytest.fixture(scope="module")
def history(stack: Stack) -> Iterator[History]:
    res = stack.create_vm(f"hist-{uuid.uuid4().hex[:6]}", start=True)
    vm_id = res["vm_id"]
    running = stack.wait_vm_state(vm_id, "running", min_seq=res["seq"])
    started = _wait_event(stack, vm_id, "vm.started")
    stop = stack.api("POST", f"/vms/{vm_id}/actions/stop")
    stack.wait_vm_state(vm_id, "stopped", min_seq=stop["seq"])
    stopped = _wait_event(stack, vm_id, "vm.stopped")
    stack.api("POST", f"/vms/{vm_id}/actions/resize", {"vcpus": 2, "memory_mib": 1024})
    resized = _wait_event(stack, vm_id, "vm.resized")
    vm = stack.api("GET", f"/vms/{vm_id}?min_seq={resized['seq']}")
    assert (vm["vcpus"], vm["memory_mib"]) == (2, 1024), vm
    yield History(vm_id, running["host_id"], started["seq"], stopped["seq"], resized["seq"])


def _slider_index(stack: Stack, path: str, seq: int) -> int:
    """The slider position of ``seq``: the entity's distinct sequences, oldest first."""
    page = stack.api("GET", f"{path}/events?limit=500&order=desc")
    seqs = sorted({e["seq"] for e in page["items"]})
    return seqs.index(seq)


def _as_of_value(page: Any, field: str) -> Any:
    row = page.get_by_test_id("as-of-row")
    return row.locator("div", has=page.locator(f'dt:text-is("{field}")')).locator("dd")


def test_audit_page_search_and_diff(page: Any, stack: Stack, history: History) -> None:
    page.goto("/audit")
    events = page.get_by_test_id("events")
    expect(events).to_be_visible()
    page.get_by_label("Search events").fill(history.vm_id)
    for type_ in ("vm.created", "vm.stopped", "vm.resized"):
        expect(events.locator(f'[data-event-type="{type_}"]')).to_have_count(1)
    # Only this VM's events are left, each with its actor and time.
    expect(events.locator("tbody tr[data-event-type]").first).to_be_visible()
    requested = events.locator('[data-event-type="vm.resize_requested"]')
    expect(requested).to_contain_text("user:admin")
    expect(requested).to_contain_text(re.compile(r"\d{1,2}:\d{2}"))
    for row in events.locator("tbody tr[data-event-type]").all():
        expect(row.get_by_role("link").first).to_have_attribute("href", f"/vms/{history.vm_id}")
    # The type filter narrows the search further; the diff of the resize opens in place.
    page.get_by_label("Event type").select_option("vm.")
    resized = events.locator('[data-event-type="vm.resized"]')
    expect(resized).to_contain_text("vcpus: 1 → 2")
    resized.get_by_role("button", name="Show event data").click()
    diff = events.get_by_test_id("changes")
    expect(diff).to_have_count(1)
    vcpus = diff.locator("tr", has=page.locator('td:text-is("vcpus")'))
    expect(vcpus.locator("td")).to_have_text(["vcpus", "1", "2"])
    memory = diff.locator("tr", has=page.locator('td:text-is("memory_mib")'))
    expect(memory.locator("td")).to_have_text(["memory_mib", "512", "1024"])


def test_vm_events_tab_filters_and_diff(page: Any, stack: Stack, history: History) -> None:
    page.goto(f"/vms/{history.vm_id}?tab=events")
    events = page.get_by_test_id("events")
    rows = events.locator("tbody tr[data-event-type]")
    everything = _events(stack, history.vm_id)
    expect(rows).to_have_count(len(everything))
    # By type: the resize alone, with its before/after values.
    page.get_by_label("Event type").select_option("vm.resized")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-event-type", "vm.resized")
    rows.first.get_by_role("button", name="Show event data").click()
    vcpus = events.get_by_test_id("changes").locator("tr", has=page.locator('td:text-is("vcpus")'))
    expect(vcpus.locator("td")).to_have_text(["vcpus", "1", "2"])
    # By actor: only what the admin asked for, none of the host's reports.
    page.get_by_label("Event type").select_option("")
    expect(rows).to_have_count(len(everything))
    page.get_by_label("Actor").fill("user:admin")
    by_admin = [e for e in everything if e["actor"] == "user:admin"]
    assert 0 < len(by_admin) < len(everything), [e["actor"] for e in everything]
    expect(rows).to_have_count(len(by_admin))
    expect(events.locator('[data-event-type="vm.resize_requested"]')).to_have_count(1)
    expect(events.locator('[data-event-type="vm.resized"]')).to_have_count(0)
    # Both filters at once.
    page.get_by_label("Event type").select_option("vm.")
    expect(rows).to_have_count(len([e for e in by_admin if e["type"].startswith("vm.")]))


def test_vm_as_of_slider(page: Any, stack: Stack, history: History) -> None:
    page.goto(f"/vms/{history.vm_id}?tab=events")
    slider = page.get_by_test_id("as-of-slider")
    label = page.get_by_test_id("as-of-label")
    expect(label).to_have_text("now")
    expect(_as_of_value(page, "vcpus")).to_have_text("2")
    expect(_as_of_value(page, "state")).to_have_text("stopped")
    # Just after the power-off, before the resize: stopped with 1 vCPU.
    slider.fill(str(_slider_index(stack, f"/vms/{history.vm_id}", history.stopped_seq)))
    expect(label).to_contain_text(f"seq {history.stopped_seq}")
    expect(label).to_contain_text("vm.stopped")  # the VM's own event, not its task's
    expect(_as_of_value(page, "vcpus")).to_have_text("1")
    expect(_as_of_value(page, "vcpus")).to_have_attribute("title", "now: 2")  # marked changed
    expect(_as_of_value(page, "memory_mib")).to_have_text("512")
    expect(_as_of_value(page, "state")).to_have_text("stopped")
    # Before the power-off was asked for: running.
    slider.fill(str(_slider_index(stack, f"/vms/{history.vm_id}", history.started_seq)))
    expect(label).to_contain_text(f"seq {history.started_seq}")
    expect(_as_of_value(page, "state")).to_have_text("running")
    expect(_as_of_value(page, "vcpus")).to_have_text("1")
    # Back to now: the live row again.
    page.get_by_role("button", name="Back to now").click()
    expect(label).to_have_text("now")
    expect(_as_of_value(page, "vcpus")).to_have_text("2")
    expect(_as_of_value(page, "state")).to_have_text("stopped")


def test_host_as_of_slider(page: Any, stack: Stack, history: History) -> None:
    host = stack.api("GET", f"/hosts/{history.host_id}")
    assert host["allocated_vcpus"] >= 2, host  # the module's VM holds 2 vCPUs there
    page.goto(f"/hosts/{history.host_id}")
    page.get_by_role("tab", name="Events").click()
    label = page.get_by_test_id("as-of-label")
    expect(label).to_have_text("now")
    expect(_as_of_value(page, "allocated_vcpus")).to_have_text(str(host["allocated_vcpus"]))
    # The first stop is the enrolment: the host as it joined, nothing allocated yet.
    page.get_by_test_id("as-of-slider").fill("0")
    expect(label).to_contain_text("host.enrolled")
    expect(_as_of_value(page, "name")).to_have_text(host["name"])
    expect(_as_of_value(page, "allocated_vcpus")).to_have_text("0")
    page.get_by_role("button", name="Back to now").click()
    expect(label).to_have_text("now")
    expect(_as_of_value(page, "allocated_vcpus")).to_have_text(str(host["allocated_vcpus"]))
