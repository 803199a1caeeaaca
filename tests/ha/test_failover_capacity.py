"""HA failover capacity: ordinary placement leaves a cluster's failover share free, HA
restarts use it.

A cluster of two hosts (4096 MiB each) with HA on keeps 50% free: 4096 MiB may be placed.
Two HA VMs of 2048 MiB fill that; a third VM bound to the cluster is refused at once
(``409 failover-capacity``, nothing appended), and one free to go anywhere fails its task
with the reason. When the hosts of the first two die, both restart on the survivor — in
the share that was kept free for them. A migration into such a cluster from a host outside
it, and a resize growing a VM inside it, are refused the same way.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.ha.conftest import wait_lease_protects
from tests.integration.conftest import Stack, StackFactory

FAST = {
    "heartbeat_timeout_s": 2.0,
    "ha_down_grace_s": 1.0,
    "ha_fence_after_s": 2.0,
    "ha_fence_margin_s": 0.5,
}


async def create(stack: Stack, **body: Any) -> tuple[int, Any]:
    spec = {"name": "vm", "vcpus": 1, "memory_mib": 2048, "start": True, **body}
    status, answer, _ = await stack.request("POST", "/api/v1/vms", json=spec)
    return status, answer


@pytest.mark.timeout(120)
async def test_placement_keeps_the_failover_share_and_ha_restarts_use_it(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(**FAST)
    await stack.add_host("fo-1", 4, 4096)
    await stack.add_host("fo-2", 4, 4096)
    await stack.wait_hosts(2)
    h1, h2 = await stack.host_id("fo-1"), await stack.host_id("fo-2")
    status, made, _ = await stack.request(
        "POST",
        "/api/v1/clusters",
        json={"name": "ha", "ha": {"enabled": True, "failover_capacity_percent": 50}},
    )
    assert status == 201, made
    cid = made["cluster_id"]
    for h in (h1, h2):
        status, body, _ = await stack.request(
            "POST", f"/api/v1/clusters/{cid}/actions/add-host", json={"host_id": h}
        )
        assert status == 200, body

    vms = []
    for name in ("a", "b"):
        status, answer = await create(stack, name=name, host_id=h1, ha_enabled=True)
        assert status == 202, answer
        assert (await stack.wait_task(answer["task_id"]))["state"] == "succeeded"
        vms.append(answer["vm_id"])

    # bound to the cluster (pinned to one of its hosts): refused, nothing appended
    before = (await stack.get("/ready"))["checks"]["stream_seq"]
    status, problem = await create(stack, name="pinned", host_id=h2, memory_mib=512)
    assert status == 409 and problem["type"].endswith("failover-capacity"), problem
    assert "keeps 50%" in problem["detail"] and "0 MiB may still be placed" in problem["detail"]
    assert (await stack.get("/ready"))["checks"]["stream_seq"] == before

    # free to go anywhere, but every host is in the cluster: the task fails with the reason
    status, answer = await create(stack, name="anywhere", memory_mib=512)
    assert status == 202, answer
    task = await stack.wait_task(answer["task_id"])
    assert task["state"] == "failed" and "HA failover" in str(task), task

    # the host of both HA VMs dies: both restart on fo-2, in the share kept free for them
    await wait_lease_protects(stack.settings.nats_url, h1, set(vms))  # acknowledged
    await stack.stop_host("fo-1")
    async with asyncio.timeout(60):
        while True:
            views = [await stack.get(f"/api/v1/vms/{v}") for v in vms]
            if all(v["host_id"] == h2 and v["state"] == "running" for v in views):
                break
            await asyncio.sleep(0.2)
    hosts = {h["id"]: h for h in (await stack.get("/api/v1/hosts"))["items"]}
    assert hosts[h2]["allocated_memory_mib"] == 4096 <= hosts[h2]["memory_mib"]


@pytest.mark.timeout(120)
async def test_a_migration_into_the_cluster_and_a_growth_inside_it_keep_the_share(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    await stack.add_host("in-1", 4, 4096)
    await stack.add_host("out-1", 4, 4096)
    await stack.wait_hosts(2)
    inside, outside = await stack.host_id("in-1"), await stack.host_id("out-1")
    status, made, _ = await stack.request(
        "POST",
        "/api/v1/clusters",
        json={"name": "ha", "ha": {"enabled": True, "failover_capacity_percent": 50}},
    )
    assert status == 201, made
    status, body, _ = await stack.request(
        "POST",
        f"/api/v1/clusters/{made['cluster_id']}/actions/add-host",
        json={"host_id": inside},
    )
    assert status == 200, body
    # 2048 of in-1's 4096 MiB may be placed: 1024 inside, 1536 waiting outside
    status, small = await create(stack, name="small", host_id=inside, memory_mib=1024)
    assert status == 202 and (await stack.wait_task(small["task_id"]))["state"] == "succeeded"
    status, big = await create(stack, name="big", host_id=outside, memory_mib=1536)
    assert status == 202 and (await stack.wait_task(big["task_id"]))["state"] == "succeeded"

    moved = await stack.command(
        "POST", f"/api/v1/vms/{big['vm_id']}/actions/migrate", json={"host_id": inside}
    )
    task = await stack.wait_task(moved["task_id"])
    assert task["state"] == "failed" and "HA failover" in str(task), task
    assert (await stack.get(f"/api/v1/vms/{big['vm_id']}"))["host_id"] == outside

    grown = await stack.command(
        "POST",
        f"/api/v1/vms/{small['vm_id']}/actions/resize",
        json={"vcpus": 1, "memory_mib": 3072},
    )
    task = await stack.wait_task(grown["task_id"])
    assert task["state"] == "failed" and "HA failover" in str(task), task
    ok = await stack.command(
        "POST",
        f"/api/v1/vms/{small['vm_id']}/actions/resize",
        json={"vcpus": 1, "memory_mib": 2048},
    )
    assert (await stack.wait_task(ok["task_id"]))["state"] == "succeeded"
