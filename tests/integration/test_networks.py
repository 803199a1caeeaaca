"""Virtual networks, IPAM and security groups end to end on simulated hosts.

Real NATS, PostgreSQL, controlplane, projector and agents on libvirt's test driver: a
network created through the API is realised on every host (a libvirt network named by its
id, with its DHCP range), a VM's NIC on it gets an address whose DHCP host entry reaches
the hosts, and deleting the VM releases it. The test driver has no nwfilter driver, so the
security-group part stops at the read model and the host's answer (the real-libvirtd tier,
tests/network/test_network_libvirtd.py, checks the filters).
"""

from __future__ import annotations

import asyncio
from typing import Any

from agent import netxml
from tests.integration.conftest import Stack, StackFactory


async def _until(probe: Any, what: str, timeout: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    last = None
    while asyncio.get_running_loop().time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: never true (last {last!r})")


async def _net_xml(stack: Stack, host: str, network_id: str) -> str:
    hv = stack.agents[host].hypervisor

    def read(conn: Any) -> str:
        try:
            return str(conn.networkLookupByName(network_id).XMLDesc(0))
        except Exception:
            return ""

    return await hv.run(read)


async def _create_network(stack: Stack, **body: Any) -> dict[str, Any]:
    status, out, _ = await stack.request("POST", "/api/v1/networks", json=body)
    assert status == 201, out
    assert isinstance(out, dict)
    return out


async def test_network_realised_on_every_host_and_nic_addresses_follow_vms(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(hosts=[(8, 8192), (8, 8192)])
    net = await _create_network(
        stack, name="lan", type="nat", cidr="10.50.0.0/24", dhcp_start="10.50.0.10",
        dhcp_end="10.50.0.20", mtu=1400,
    )  # fmt: skip
    nid = net["network_id"]
    assert (net["gateway"], net["type"]) == ("10.50.0.1", "nat")
    for host in ("sim-1", "sim-2"):
        xml = await _until(lambda h=host: _net_xml(stack, h, nid), f"network on {host}")
        assert "<range start='10.50.0.10' end='10.50.0.20'/>" in xml
        assert "<forward mode='nat'/>" in xml
    row = await _until(
        lambda: _active_on_all(stack, nid, 2), "network active on both hosts in the read model"
    )
    assert row["dhcp_start"] == "10.50.0.10"

    created = await stack.command(
        "POST",
        "/api/v1/vms",
        json={"name": "web", "vcpus": 1, "memory_mib": 128, "nics": [{"network_id": nid}]},
    )
    vm_id = created["vm_id"]
    assert (await stack.wait_task(created["task_id"]))["state"] == "succeeded"
    addrs = await _until(lambda: _addresses(stack, nid), "an address for the NIC")
    (a,) = addrs
    assert (a["vm_id"], a["nic_id"], a["ip"], a["state"]) == (
        vm_id,
        "nic0",
        "10.50.0.10",
        "allocated",
    )
    vm = await stack.get(f"/api/v1/vms/{vm_id}")
    assert vm["nics"][0]["mac"] == a["mac"]
    for host in ("sim-1", "sim-2"):  # the DHCP host entry reached every host
        await _until(
            lambda h=host: _has_host(stack, h, nid, a["mac"], "10.50.0.10"), f"entry on {host}"
        )
    one = await stack.get(f"/api/v1/networks/{nid}")
    assert one["connected_vms"] == 1
    assert one["vms"][0]["vm_id"] == vm_id

    # a network in use cannot be deleted
    status, body, ctype = await stack.request("DELETE", f"/api/v1/networks/{nid}")
    assert status == 409 and "problem+json" in ctype, body
    assert body["type"].endswith("network-in-use")

    deleted = await stack.command("DELETE", f"/api/v1/vms/{vm_id}")
    assert (await stack.wait_task(deleted["task_id"]))["state"] == "succeeded"
    await _until(lambda: _no_addresses(stack, nid), "the address released")
    await _until(
        lambda: _no_host(stack, "sim-1", nid, a["mac"]), "the DHCP entry removed from the host"
    )
    out = await stack.command("DELETE", f"/api/v1/networks/{nid}")
    await _until(lambda: _gone(stack, "sim-1", nid), "the libvirt network removed")
    listed = await stack.get(f"/api/v1/networks?min_seq={out['seq']}")
    assert all(n["id"] != nid for n in listed["items"])


async def _active_on_all(stack: Stack, nid: str, count: int) -> Any:
    status, row, _ = await stack.request("GET", f"/api/v1/networks/{nid}")
    if status != 200:
        return None
    states = [h["state"] for h in row["hosts"].values()]
    return row if states.count("active") >= count else None


async def _addresses(stack: Stack, nid: str) -> Any:
    items = (await stack.get(f"/api/v1/networks/{nid}/addresses"))["items"]
    return items or None


async def _no_addresses(stack: Stack, nid: str) -> bool:
    return not (await stack.get(f"/api/v1/networks/{nid}/addresses"))["items"]


async def _has_host(stack: Stack, host: str, nid: str, mac: str, ip: str) -> bool:
    xml = await _net_xml(stack, host, nid)
    return bool(xml) and netxml.dhcp_hosts(xml).get(mac, ("",))[0] == ip


async def _no_host(stack: Stack, host: str, nid: str, mac: str) -> bool:
    xml = await _net_xml(stack, host, nid)
    return bool(xml) and mac not in netxml.dhcp_hosts(xml)


async def _gone(stack: Stack, host: str, nid: str) -> bool:
    return not await _net_xml(stack, host, nid)


async def test_nic_references_are_checked_and_overlapping_creations_are_serialised(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    missing = "0193ffff-0000-7000-8000-000000000000"
    seq = await stack.get("/ready")
    before = seq["checks"]["stream_seq"]
    status, problem, _ = await stack.request(
        "POST",
        "/api/v1/vms",
        json={"name": "lost", "vcpus": 1, "memory_mib": 128, "nics": [{"network_id": missing}]},
    )
    assert (status, problem["type"]) == (422, "urn:limiquantix:problem:unknown-network"), problem
    assert missing in problem["detail"]
    assert (await stack.get("/ready"))["checks"]["stream_seq"] == before

    async def create(name: str, cidr: str) -> tuple[int, str]:
        body = {"name": name, "type": "isolated", "cidr": cidr}
        status, out, _ = await stack.request("POST", "/api/v1/networks", json=body)
        return status, "" if status == 201 else str(out["type"]).rsplit(":", 1)[-1]

    # overlapping creations at the same instant: exactly one of each round is created, the
    # others are refused; the address-space claim is what decides when both passed the
    # check against the networks already there
    slugs: list[str] = []
    for r, cidrs in enumerate(
        [["10.81.0.0/24"] * 4, ["10.82.0.0/16", "10.82.7.0/24"], ["10.83.4.0/22", "10.83.5.0/24"]]
    ):
        got = await asyncio.gather(*(create(f"r{r}n{i}", c) for i, c in enumerate(cidrs)))
        assert [s for s, _ in got].count(201) == 1, got
        for status, slug in got:
            assert (status, slug) in ((201, ""), (409, "subnet-claimed"),
                                      (422, "overlapping-subnet")), got  # fmt: skip
        slugs += [slug for _, slug in got]
    assert "subnet-claimed" in slugs

    async def listed() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (await stack.get("/api/v1/networks"))["items"]
        return items if len(items) >= 3 else []

    nets = await _until(listed, "the three networks listed")
    assert sorted(n["cidr"][:5] for n in nets) == ["10.81", "10.82", "10.83"]
    # a deleted network gives its subnet back at once
    lan = next(n for n in nets if n["cidr"] == "10.81.0.0/24")
    await stack.command("DELETE", f"/api/v1/networks/{lan['id']}")
    assert await create("again", "10.81.0.0/24") == (201, "")


async def test_security_groups_through_the_api(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    net = await _create_network(stack, name="app", type="isolated", cidr="10.60.0.0/24")
    db = await stack.request(
        "POST", "/api/v1/security-groups", json={"name": "db", "description": "databases"}
    )
    assert db[0] == 201, db
    db_id = db[1]["group_id"]
    status, web, _ = await stack.request(
        "POST",
        "/api/v1/security-groups",
        json={
            "name": "web",
            "rules": [
                {"direction": "ingress", "protocol": "tcp", "port_min": 443, "port_max": 443,
                 "cidr": "0.0.0.0/0"},
                {"direction": "ingress", "protocol": "tcp", "port_min": 22, "port_max": 22,
                 "remote_group_id": db_id},
                {"direction": "egress", "protocol": "udp", "port_min": 53, "port_max": 53,
                 "cidr": "10.60.0.1/32"},
            ],
        },
    )  # fmt: skip
    assert status == 201, web
    gid = web["group_id"]
    added = await stack.request(
        "POST",
        f"/api/v1/security-groups/{gid}/rules",
        json={"direction": "ingress", "protocol": "icmp"},
    )
    assert added[0] == 201, added
    created = await stack.command(
        "POST",
        "/api/v1/vms",
        json={
            "name": "srv",
            "vcpus": 1,
            "memory_mib": 128,
            "nics": [{"network_id": net["network_id"]}],
        },
    )
    assert (await stack.wait_task(created["task_id"]))["state"] == "succeeded"
    vm_id = created["vm_id"]
    applied = await stack.command(
        "POST",
        f"/api/v1/security-groups/{gid}/actions/apply",
        json={"vm_id": vm_id, "nic_id": "nic0"},
    )
    group = await stack.get(f"/api/v1/security-groups/{gid}?min_seq={applied['seq']}")
    assert [r["protocol"] for r in group["rules"]] == ["tcp", "tcp", "udp", "icmp"]
    assert [r["port_min"] for r in group["inbound"]] == [443, 22, 0]
    assert [r["direction"] for r in group["outbound"]] == ["egress"]
    assert group["nics"] == [{"vm_id": vm_id, "nic_id": "nic0"}]
    removed = await stack.command(
        "DELETE", f"/api/v1/security-groups/{gid}/rules/{added[1]['rule_id']}"
    )
    group = await stack.get(f"/api/v1/security-groups/{gid}?min_seq={removed['seq']}")
    assert len(group["rules"]) == 3
    # the group in use cannot be deleted, nor the group its rules name
    for ident in (gid, db_id):
        status, body, _ = await stack.request("DELETE", f"/api/v1/security-groups/{ident}")
        assert status == 409, body
    await stack.command(
        "POST",
        f"/api/v1/security-groups/{gid}/actions/remove",
        json={"vm_id": vm_id, "nic_id": "nic0"},
    )
    await stack.command("DELETE", f"/api/v1/security-groups/{gid}")
    # a NIC has one group: applying another moves it; a deleted VM leaves its groups
    nic = {"vm_id": vm_id, "nic_id": "nic0"}
    moved = await stack.command("POST", f"/api/v1/security-groups/{db_id}/actions/apply", json=nic)
    db_now = await stack.get(f"/api/v1/security-groups/{db_id}?min_seq={moved['seq']}")
    assert db_now["nics"] == [nic]
    deleted = await stack.command("DELETE", f"/api/v1/vms/{vm_id}")
    assert (await stack.wait_task(deleted["task_id"]))["state"] == "succeeded"

    async def left() -> bool:
        return not (await stack.get(f"/api/v1/security-groups/{db_id}"))["nics"]

    await _until(left, "the deleted VM's NIC left the group")
    out = await stack.command("DELETE", f"/api/v1/security-groups/{db_id}")
    listed = await stack.get(f"/api/v1/security-groups?min_seq={out['seq']}")
    assert listed["items"] == []


async def test_nic_attach_move_detach_and_reservations_follow_addresses(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    a = (await _create_network(stack, name="a", type="nat", cidr="10.51.0.0/24"))["network_id"]
    b = (await _create_network(stack, name="b", type="isolated", cidr="10.52.0.0/24"))["network_id"]
    mac = "52:54:00:51:00:99"
    res = await stack.command(
        "POST", f"/api/v1/networks/{a}/reservations", json={"mac": mac, "ip": "10.51.0.99"}
    )
    assert res["seq"]
    created = await stack.command(
        "POST", "/api/v1/vms", json={"name": "mover", "vcpus": 1, "memory_mib": 128}
    )
    vm_id = created["vm_id"]
    assert (await stack.wait_task(created["task_id"]))["state"] == "succeeded"

    attach = await stack.command(
        "POST", f"/api/v1/vms/{vm_id}/nics", json={"network_id": a, "mac": mac}
    )
    assert (await stack.wait_task(attach["task_id"]))["state"] == "succeeded"
    nic_id = attach["nic_id"]
    (got,) = await _until(lambda: _addresses(stack, a), "the attached NIC's address")
    assert (got["nic_id"], got["ip"]) == (nic_id, "10.51.0.99")  # its static reservation

    moved = await stack.command(
        "PATCH", f"/api/v1/vms/{vm_id}/nics/{nic_id}", json={"network_id": b}
    )
    assert (await stack.wait_task(moved["task_id"]))["state"] == "succeeded"
    (on_b,) = await _until(lambda: _addresses(stack, b), "an address on the new network")
    assert (on_b["nic_id"], on_b["ip"]) == (nic_id, "10.52.0.2")
    await _until(lambda: _no_addresses(stack, a), "the old network's address released")

    detached = await stack.command("DELETE", f"/api/v1/vms/{vm_id}/nics/{nic_id}")
    assert (await stack.wait_task(detached["task_id"]))["state"] == "succeeded"
    await _until(lambda: _no_addresses(stack, b), "the address released on detach")
    rm = await stack.command("DELETE", f"/api/v1/networks/{a}/reservations/{mac}")
    one = await stack.get(f"/api/v1/networks/{a}?min_seq={rm['seq']}")
    assert one["reservations"] == []
