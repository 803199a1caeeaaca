"""200 VMs created at once through the API, each with a NIC on one /24: every NIC gets its
own address, and the addresses are the network's first 200 (nothing skipped or doubled);
53 more fill the /24 and the 254th NIC's allocation fails with the reason, recorded.

The allocations are decided by the IPAM process manager as the creations arrive; the
guarantee that concurrent deciders never share an address is proven against real NATS in
``tests/network/test_ipam_concurrency.py``.
"""

from __future__ import annotations

import asyncio
import ipaddress

from tests.integration.conftest import StackFactory

COUNT = 200


async def test_200_concurrent_vm_creations_get_distinct_addresses(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(hosts=[(64, 262144), (64, 262144)])
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
