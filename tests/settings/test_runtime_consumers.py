"""Fleet settings changed through the API take effect on the running controlplane.

Each test changes one setting with ``PATCH /api/v1/settings`` and then observes the new
behaviour without a restart: placement strategy (spread → pack on two hosts), the
overcommit a newly enrolled host gets, the timeout of a shutdown that names none, and the
pool and network of a new VM's disk and NIC that name none.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.integration.conftest import Stack, StackFactory
from tests.integration.lifecycle import events_of, make_vm, run, vm_view
from tests.storage.helpers import make_pool, wait_pool


async def patch(stack: Stack, **changes: Any) -> None:
    status, out, _ = await stack.request("PATCH", "/api/v1/settings", json=changes)
    assert status == 200 and sorted(out["changed_keys"]) == sorted(changes), out


async def host_of(stack: Stack, **body: Any) -> str:
    vm_id = await make_vm(stack, **{"vcpus": 1, "memory_mib": 512, **body})
    return str((await vm_view(stack, vm_id))["host_id"])


async def test_placement_strategy_follows_a_change(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192), (8, 8192)])
    h1, h2 = await stack.host_id("sim-1"), await stack.host_id("sim-2")
    await host_of(stack, name="seed", host_id=h1)  # sim-1 is the fuller host now
    assert await host_of(stack, name="spread") == h2  # spread: least loaded first
    await host_of(stack, name="seed-2", host_id=h1, memory_mib=1024)
    await patch(stack, placement_strategy="pack")
    assert await host_of(stack, name="packed") == h1  # pack: fullest host that fits first
    vm_id = await make_vm(stack, name="packed-2", vcpus=1, memory_mib=256)
    placed = await events_of(stack, vm_id, "vm.placed")
    assert placed[0]["data"]["decision"]["strategy"] == "pack", placed


async def test_a_newly_enrolled_host_gets_the_changed_overcommit(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(hosts=[(4, 4096)])
    await patch(stack, default_cpu_overcommit=2.0, default_memory_overcommit=1.5)
    await stack.add_host("late", 4, 4096)
    await stack.wait_hosts(2)
    early, late = await stack.host_id("sim-1"), await stack.host_id("late")
    hosts = {h["id"]: h for h in (await stack.get("/api/v1/hosts"))["items"]}
    assert (hosts[early]["cpu_overcommit"], hosts[early]["memory_overcommit"]) == (4.0, 1.0)
    assert (hosts[late]["cpu_overcommit"], hosts[late]["memory_overcommit"]) == (2.0, 1.5)


async def test_a_shutdown_without_timeout_gets_the_changed_default(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(hosts=[(4, 4096)])
    vm_id = await make_vm(stack, name="guest", start=True)
    await patch(stack, default_shutdown_timeout_s=45)
    await run(stack, "POST", f"/api/v1/vms/{vm_id}/actions/shutdown", json={})
    [asked] = await events_of(stack, vm_id, "vm.stop_requested")
    assert asked["data"]["timeout_s"] == 45 and asked["data"]["force"] is False, asked
    await run(stack, "POST", f"/api/v1/vms/{vm_id}/actions/start")
    await run(stack, "POST", f"/api/v1/vms/{vm_id}/actions/shutdown", json={"timeout_s": 7})
    asked = (await events_of(stack, vm_id, "vm.stop_requested"))[-1]
    assert asked["data"]["timeout_s"] == 7, "a timeout the request names wins"


async def _active_network(stack: Stack, network_id: str) -> None:
    for _ in range(200):
        status, net, _ = await stack.request("GET", f"/api/v1/networks/{network_id}")
        if status == 200 and [h["state"] for h in net["hosts"].values()] == ["active"]:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"network {network_id} never active on the host")


async def test_a_new_vm_gets_the_changed_default_pool_and_network(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    root = str(tmp_path / "pools")
    stack = await make_stack(hosts=[(4, 4096)], storage_allowed_roots=root)
    host_id = await stack.host_id("sim-1")
    pool_id = await make_pool(stack, root, "fast", capacity_gib=5, host_ids=[host_id])
    await wait_pool(stack, pool_id)
    status, net, _ = await stack.request(
        "POST", "/api/v1/networks",
        json={"name": "lan", "type": "nat", "cidr": "10.61.0.0/24"},
    )  # fmt: skip
    assert status == 201, net
    network_id = net["network_id"]
    await _active_network(stack, network_id)
    before = await make_vm(stack, name="before", disks=[{"size_gib": 1}], nics=[{}])
    view = await vm_view(stack, before)
    assert [d["pool_id"] for d in view["disks"]] == ["default"]
    assert [n["network_id"] for n in view["nics"]] == ["default"]

    await patch(stack, default_pool_id=pool_id, default_network_id=network_id)
    spec = {"disks": [{"size_gib": 1}, {"size_gib": 1, "pool_id": "default"}]}
    after = await make_vm(stack, name="after", nics=[{}, {"network_id": "default"}], **spec)
    view = await vm_view(stack, after)
    assert [d["pool_id"] for d in view["disks"]] == [pool_id, "default"]
    assert [n["network_id"] for n in view["nics"]] == [network_id, "default"]
