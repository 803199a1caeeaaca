"""200 VMs created at once through the API, each with a NIC on one /24: every NIC gets its
own address, and the addresses are the network's first 200 (nothing skipped or doubled);
53 more fill the /24 and the 254th NIC's allocation fails with the reason, recorded.
On the same stack, 200 NICs attached at once (``POST /api/v1/vms/{id}/nics``) to 50 of
those VMs on a second /24 get distinct addresses too; with the range then shrunk to leave
two addresses, 4 attachments racing for them end with exactly 2 allocated and the others
refused (``409 address-exhausted``) or their allocation failure recorded, and a NIC asked
for once the range is full is refused at once.

The allocations are decided by the IPAM process manager as the creations arrive; the
guarantee that concurrent deciders never share an address is proven against real NATS in
``tests/network/test_ipam_concurrency.py``.
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import pytest

from tests.integration.conftest import Stack, StackFactory

COUNT = 200
SPREAD = 50  # VMs that take the NICs of the second network (a VM takes one change at a time)
# four simulated hosts, each with room for all 254 VMs: placement spreads them, so each
# host's domain count (which every save of its node file walks) is about a quarter
HOSTS = [(64, 262144)] * 4


@pytest.mark.timeout(300)  # about 55 s on two idle cores: 454 real operations
async def test_200_concurrent_vm_creations_get_distinct_addresses(
    make_stack: StackFactory,
) -> None:
    # 254 creations and 200 attachments: a loaded machine must not turn a slow order
    # into a deadline failure (deadlines are tested in test_placement.py)
    stack = await make_stack(hosts=HOSTS, order_timeout_s=120.0)
    status, net, _ = await stack.request(
        "POST", "/api/v1/networks", json={"name": "big", "type": "nat", "cidr": "10.90.0.0/24"}
    )
    assert status == 201, net
    nid = net["network_id"]
    gate = asyncio.Semaphore(32)

    async def create(i: int) -> str:
        body = {"name": f"n{i}", "vcpus": 1, "memory_mib": 64, "nics": [{"network_id": nid}]}
        async with gate:
            return str((await stack.command("POST", "/api/v1/vms", json=body))["vm_id"])

    vm_ids = await asyncio.gather(*(create(i) for i in range(COUNT)))
    items: list[dict[str, str]] = []
    for _ in range(600):
        items = (await stack.get(f"/api/v1/networks/{nid}/addresses"))["items"]
        if len(items) >= COUNT:
            break
        await asyncio.sleep(0.1)
    assert len(items) == COUNT, f"{len(items)} addresses after a minute"
    assert {a["vm_id"] for a in items} == set(vm_ids)
    assert all(a["state"] == "allocated" for a in items)
    ips = sorted(ipaddress.IPv4Address(a["ip"]) for a in items)
    assert len(set(ips)) == COUNT
    assert ips == [ipaddress.IPv4Address("10.90.0.2") + i for i in range(COUNT)]

    # the rest of the /24 (253 in all), then the 254th NIC fails clearly
    more = await asyncio.gather(*(create(i) for i in range(COUNT, 254)))
    last = more[-1]

    async def failed() -> list[dict[str, str]]:
        found = (await stack.get(f"/api/v1/networks/{nid}/addresses"))["items"]
        return [a for a in found if a["state"] == "failed"]

    for _ in range(600):
        if fails := await failed():
            break
        await asyncio.sleep(0.1)
    (fail,) = fails
    assert fail["vm_id"] == last and fail["ip"] is None
    assert "no free address" in fail["error"] and "253 allocated" in fail["error"]
    one = await stack.get(f"/api/v1/networks/{nid}")
    assert one["allocated"] == 253
    for _ in range(600):  # every creation ended (a VM takes NICs once it is idle)
        vms = (await stack.get("/api/v1/vms?limit=500"))["items"]
        if all(v["state"] in ("running", "stopped", "error") for v in vms):
            break
        await asyncio.sleep(0.1)
    idle = [v["id"] for v in vms if v["state"] in ("running", "stopped")]
    assert len(idle) >= SPREAD, len(idle)
    await _nics_fill_a_network(stack, idle[:SPREAD])


async def _attach(
    stack: Stack, vm_id: str, nid: str, turns: dict[str, asyncio.Lock]
) -> tuple[int, dict[str, Any]]:
    """One NIC attachment, ended. A VM takes one change at a time (a second one is ``409
    operation-in-progress``), so the requests for one VM take turns; those for different
    VMs run at once."""
    async with turns.setdefault(vm_id, asyncio.Lock()):
        status, body, _ = await stack.request(
            "POST", f"/api/v1/vms/{vm_id}/nics", json={"network_id": nid}
        )
        while status == 202:  # until its task ended (polled gently: 50 VMs at once)
            await asyncio.sleep(0.25)
            got, task, _ = await stack.request("GET", f"/api/v1/tasks/{body['task_id']}")
            if got == 200 and task["state"] in ("succeeded", "failed", "cancelled"):
                body["task"] = task
                break
        return status, body


async def _addresses(stack: Stack, nid: str, count: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for _ in range(300):
        items = (await stack.get(f"/api/v1/networks/{nid}/addresses?limit=500"))["items"]
        if len(items) >= count:
            break
        await asyncio.sleep(0.1)
    return items


async def _nics_fill_a_network(stack: Stack, vm_ids: list[str]) -> None:
    status, net, _ = await stack.request(
        "POST",
        "/api/v1/networks",
        json={"name": "nics", "type": "nat", "cidr": "10.91.0.0/24"},
    )
    assert status == 201, net
    nid = net["network_id"]
    for _ in range(200):  # realised on every host before NICs are put on it
        status, row, _ = await stack.request("GET", f"/api/v1/networks/{nid}")
        states = [h["state"] for h in row["hosts"].values()] if status == 200 else []
        if states == ["active"] * len(HOSTS):
            break
        await asyncio.sleep(0.1)
    turns: dict[str, asyncio.Lock] = {}
    answers = await asyncio.gather(
        *(_attach(stack, vm_ids[i % SPREAD], nid, turns) for i in range(COUNT))
    )
    assert {s for s, _ in answers} == {202}, [b for s, b in answers if s != 202][:3]
    failed = [b["task"] for _, b in answers if b["task"]["state"] != "succeeded"]
    assert not failed, failed[:3]
    items = await _addresses(stack, nid, COUNT)
    assert len(items) == COUNT and all(a["state"] == "allocated" for a in items)
    assert {(a["vm_id"], a["nic_id"]) for a in items} == {
        (b["vm_id"], b["nic_id"]) for _, b in answers
    }
    assert len({a["ip"] for a in items}) == COUNT  # never the same address twice

    # the range shrunk to leave 2 free (253 more NICs would take a minute on these
    # hosts): 4 at once for the last 2 addresses, 2 get one, the others fail clearly
    status, patched, _ = await stack.request(
        "PATCH", f"/api/v1/networks/{nid}", json={"dhcp_end": "10.91.0.203"}
    )
    assert status in (200, 202), patched
    last = await asyncio.gather(*(_attach(stack, vm_ids[i], nid, turns) for i in range(4)))
    refused = [b for s, b in last if s == 409]
    assert all(b["type"].endswith(":address-exhausted") for b in refused), refused
    assert {s for s, _ in last} <= {202, 409}
    items = await _addresses(stack, nid, COUNT + 4 - len(refused))
    held = [a for a in items if a["state"] == "allocated"]
    lost = [a for a in items if a["state"] == "failed"]
    assert len(held) == 202 and len({a["ip"] for a in held}) == 202
    assert len(lost) + len(refused) == 2, (lost, refused)
    assert all("no free address" in a["error"] and a["ip"] is None for a in lost)
    status, problem = await _attach(stack, vm_ids[0], nid, turns)
    assert (status, problem["type"]) == (409, "urn:limiquantix:problem:address-exhausted")
    assert "202 allocated" in problem["detail"]
