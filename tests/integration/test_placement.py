"""Placement under concurrency: never overbook a host, fail clearly when full."""

from __future__ import annotations

import asyncio

from tests.integration.conftest import StackFactory


async def test_fifty_creates_for_twenty_slots(make_stack: StackFactory) -> None:
    # Memory is the limit (overcommit 1.0): 6144 + 4096 MiB = 20 VMs of 512 MiB.
    stack = await make_stack(hosts=[(16, 6144), (16, 4096)])
    bodies = [{"name": f"vm-{i}", "vcpus": 1, "memory_mib": 512} for i in range(50)]
    answers = await asyncio.gather(*[stack.command("POST", "/api/v1/vms", json=b) for b in bodies])
    tasks = await asyncio.gather(*[stack.wait_task(a["task_id"], timeout=60) for a in answers])
    succeeded = [t for t in tasks if t["state"] == "succeeded"]
    failed = [t for t in tasks if t["state"] == "failed"]
    assert len(succeeded) == 20 and len(failed) == 30
    assert all("no host has capacity" in t["error"] for t in failed), failed[0]

    hosts = (await stack.get("/api/v1/hosts"))["items"]
    for h in hosts:
        assert h["allocated_memory_mib"] <= h["memory_mib"] * h["memory_overcommit"]
    assert sum(h["vm_count"] for h in hosts) == 20
    vms = (await stack.get("/api/v1/vms?limit=100"))["items"]
    states = sorted(v["state"] for v in vms)
    assert states.count("stopped") == 20 and states.count("error") == 30
    # libvirt agrees: exactly the placed VMs exist, on their hosts
    total = 0
    for agent in stack.agents.values():
        total += len(await agent.hypervisor.list_managed())
    assert total == 20


async def test_a_silent_host_fails_the_task_and_is_disconnected(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(hosts=[(8, 8192)], order_timeout_s=2.0, heartbeat_timeout_s=2.0)
    accepted = await stack.command(
        "POST", "/api/v1/vms", json={"name": "a", "vcpus": 1, "memory_mib": 256}
    )
    await stack.wait_task(accepted["task_id"])
    await stack.stop_host("sim-1")
    await stack.wait_hosts(1, state="disconnected")
    stop = await stack.command("POST", f"/api/v1/vms/{accepted['vm_id']}/actions/start")
    task = await stack.wait_task(stop["task_id"], timeout=30)
    assert task["state"] == "failed" and "did not complete start" in task["error"]
