"""The DRS page in a real browser against ``lq up`` (DRS manual, a pass every 1 or 2 s).

Eight large VMs pinned to the largest host make the cluster uneven; the page lists the
recommendations with each move drawn from → to; rejecting one closes it, applying
another starts its migration and the VM ends on the other host.
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


def open_recommendations(stack: Stack, vm_ids: set[str], timeout: float = 40.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = stack.api("GET", "/drs/recommendations?state=pending")["items"]
        mine = [r for r in items if r["vm_id"] in vm_ids]
        if len(mine) >= 2:
            return mine
        time.sleep(0.5)
    everything = stack.api("GET", "/drs/recommendations")["items"]
    hosts = stack.api("GET", "/hosts")["items"]
    raise AssertionError(
        f"DRS made fewer than two recommendations for the pinned VMs: {everything} {hosts}"
    )


def test_recommendations_drawn_rejected_and_applied(page: Any, stack: Stack, shots: Path) -> None:
    hosts = stack.api("GET", "/hosts?state=connected")["items"]
    big = max(hosts, key=lambda h: h["memory_mib"])
    # hosts in a cluster follow its DRS settings (another test may have made one): manual,
    # a pass every second; hosts outside clusters use the stack's (every 2 s, manual)
    for cid in {h["cluster_id"] for h in hosts if h.get("cluster_id")}:
        stack.api("PATCH", f"/clusters/{cid}", {"drs": {"mode": "manual", "interval_s": 1}})
    tag = uuid.uuid4().hex[:4]
    vm_ids: set[str] = set()
    for i in range(8):
        made = stack.api(
            "POST",
            "/vms",
            {
                "name": f"drs-{tag}-{i}",
                "vcpus": 2,
                "memory_mib": 6144,
                "start": True,
                "host_id": big["id"],
            },
        )
        stack.wait_vm_state(made["vm_id"], "running", min_seq=made["seq"])
        vm_ids.add(made["vm_id"])
    recs = open_recommendations(stack, vm_ids)
    first, second = recs[0], recs[1]

    page.goto("/")
    page.get_by_role("link", name="DRS", exact=True).click()
    expect(page.get_by_role("heading", name="DRS recommendations")).to_be_visible()
    row = page.get_by_test_id(f"rec-{first['id']}")
    expect(row).to_contain_text(first["vm_name"])
    move = row.get_by_label(f"from {first['from_host_name']} to {first['to_host_name']}")
    expect(move).to_be_visible()
    page.screenshot(path=str(shots / "drs-recommendations.png"), full_page=True)

    other = page.get_by_test_id(f"rec-{second['id']}")
    other.get_by_role("button", name="Reject").click()
    expect(other).to_have_count(0)  # gone from the open list (live update)

    row.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("Migration started")).to_be_visible()
    page.get_by_role("radio", name="Applied").click()
    applied = page.get_by_test_id(f"rec-{first['id']}")
    expect(applied.get_by_test_id("rec-state")).to_have_text("applied")
    expect(applied.get_by_role("link", name="migration task")).to_be_visible()
    page.get_by_role("radio", name="Closed").click()
    expect(page.get_by_test_id(f"rec-{second['id']}").get_by_test_id("rec-state")).to_have_text(
        "rejected"
    )

    deadline = time.monotonic() + 30
    while stack.api("GET", f"/vms/{first['vm_id']}")["host_id"] != first["to_host_id"]:
        assert time.monotonic() < deadline, "the applied recommendation's VM did not move"
        time.sleep(0.3)
    page.get_by_role("radio", name="Applied").click()
    page.screenshot(path=str(shots / "drs-applied.png"), full_page=True)
