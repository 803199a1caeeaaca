"""Virtual networks and security groups in a real browser against ``lq up``.

Create a NAT network from the dialog and see it active on both simulated hosts with its
DHCP range; a VM created with a NIC on it shows up as connected with its address; the
type chips filter the table; an overlapping subnet is refused in the dialog. Then create a
security group, add inbound and outbound rules from its expanded card, see a bad port
range refused and remove a rule.
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


def _network_id(stack: Stack, name: str) -> str:
    for _ in range(100):
        for n in stack.api("GET", "/networks")["items"]:
            if n["name"] == name:
                return str(n["id"])
        time.sleep(0.1)
    raise AssertionError(f"network {name} never listed")


def test_virtual_networks_page(page: Any, stack: Stack, shots: Path) -> None:
    name = f"lan-{uuid.uuid4().hex[:6]}"
    page.goto("/")
    page.get_by_role("navigation").get_by_role("link", name="Virtual networks").click()
    page.get_by_role("button", name="New network").click()
    form = page.get_by_role("form", name="New virtual network")
    form.get_by_label("Network name").fill(name)
    form.get_by_label("Network type").select_option("nat")
    form.get_by_label("Subnet").fill("10.123.0.0/24")
    form.get_by_role("button", name="Create network").click()
    row = page.locator(f'tr[data-network="{name}"]')
    expect(row).to_contain_text("10.123.0.2 \u2013 10.123.0.254")
    expect(row).to_contain_text("2/2 active", timeout=20_000)

    nid = _network_id(stack, name)
    vm = stack.api(
        "POST",
        "/vms",
        {"name": f"web-{uuid.uuid4().hex[:4]}", "vcpus": 1, "memory_mib": 256, "start": True,
         "nics": [{"network_id": nid}]},
    )  # fmt: skip
    stack.wait_vm_state(vm["vm_id"], "running", min_seq=vm["seq"])
    expect(row.locator("[data-connected]")).to_have_text("1", timeout=20_000)
    row.get_by_role("button", name=name, exact=True).click()
    vms = page.get_by_role("list", name=f"VMs on {name}")
    expect(vms).to_contain_text("10.123.0.2")
    page.screenshot(path=str(shots / "networks.png"), full_page=True)

    chips = page.get_by_role("group", name="Filter by type")
    chips.get_by_role("button", name="Bridged").click()
    expect(row).to_have_count(0)
    chips.get_by_role("button", name="NAT").click()
    expect(page.locator(f'tr[data-network="{name}"]')).to_have_count(1)
    chips.get_by_role("button", name="Bridged").click()
    chips.get_by_role("button", name="NAT").click()

    # an overlapping subnet is refused, nothing is created
    page.get_by_role("button", name="New network").click()
    form.get_by_label("Network name").fill(f"{name}-b")
    form.get_by_label("Subnet").fill("10.123.0.0/16")
    form.get_by_role("button", name="Create network").click()
    expect(form).to_contain_text("overlaps")
    page.keyboard.press("Escape")
    assert all(n["name"] != f"{name}-b" for n in stack.api("GET", "/networks")["items"])


def test_security_groups_page(page: Any, stack: Stack, shots: Path) -> None:
    name = f"web-{uuid.uuid4().hex[:6]}"
    page.goto("/")
    page.get_by_role("navigation").get_by_role("link", name="Security groups").click()
    page.get_by_role("button", name="New group").click()
    dialog = page.get_by_role("form", name="New security group")
    dialog.get_by_label("Group name").fill(name)
    dialog.get_by_label("Description").fill("front ends")
    dialog.get_by_role("button", name="Create group").click()
    card = page.locator(f'section[data-group="{name}"]')
    expect(card).to_contain_text("0 inbound · 0 outbound")
    card.get_by_role("button", name=name, exact=False).first.click()

    add = card.get_by_role("form", name=f"Add a rule to {name}")
    add.get_by_label("Protocol").select_option("tcp")
    add.get_by_label("Ports").fill("22")
    add.get_by_label("CIDR").fill("10.0.0.0/8")
    add.get_by_role("button", name="Add rule").click()
    inbound = card.get_by_role("table", name=f"Inbound rules of {name}")
    expect(inbound).to_contain_text("10.0.0.0/8")
    expect(inbound).to_contain_text("22")

    add.get_by_label("Direction").select_option("egress")
    add.get_by_label("Protocol").select_option("udp")
    add.get_by_label("Ports").fill("53")
    add.get_by_label("CIDR").fill("1.1.1.1/32")
    add.get_by_role("button", name="Add rule").click()
    outbound = card.get_by_role("table", name=f"Outbound rules of {name}")
    expect(outbound).to_contain_text("1.1.1.1/32")
    expect(card).to_contain_text("1 inbound · 1 outbound")

    # a port out of range is refused with the API's problem, nothing added
    add.get_by_label("Direction").select_option("ingress")
    add.get_by_label("Protocol").select_option("tcp")
    add.get_by_label("Ports").fill("70000")
    add.get_by_label("CIDR").fill("")
    add.get_by_role("button", name="Add rule").click()
    expect(add).to_contain_text("65535")
    expect(card).to_contain_text("1 inbound · 1 outbound")
    page.screenshot(path=str(shots / "security-groups.png"), full_page=True)

    card.get_by_role("button", name=f"Remove rule 1 of {name}").click()
    expect(card).to_contain_text("0 inbound · 1 outbound")
    expect(card).to_contain_text("Nothing inbound is allowed")
