"""A reservation left behind (a crash between reserving and placing, a VM deleted while
it was being placed) is given back by the controlplane: allocation always converges to
the VMs placed on the host. Found by tests/faults (controlplane SIGKILL under load)."""

from __future__ import annotations

import asyncio

from controlplane.domain import host as hd
from controlplane.handlers import Handler
from controlplane.repository import Repository
from events.base import Meta, new_id, utcnow
from events.bus import Bus
from tests.integration.conftest import StackFactory


async def test_orphaned_reservation_is_released(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(4, 4096)])
    host_id = await stack.host_id("sim-1")
    created = await stack.command(
        "POST", "/api/v1/vms", json={"name": "gone", "vcpus": 1, "memory_mib": 128}
    )
    assert (await stack.wait_task(created["task_id"]))["state"] == "succeeded"
    deleted = await stack.command("DELETE", f"/api/v1/vms/{created['vm_id']}")
    assert (await stack.wait_task(deleted["task_id"]))["state"] == "succeeded"
    # what a controlplane killed between its two appends leaves: capacity held for a VM
    # that is deleted, and for one that does not exist at all is kept (may be in flight)
    bus = await Bus.connect(stack.settings.nats_url, name="orphan-test")
    try:
        repo = Repository(bus.store)
        await repo.start()
        handler = Handler(repo, bus.store)
        meta = Meta(actor="test", occurred_at=utcnow())
        for vm_id in (created["vm_id"], new_id()):
            await handler.execute(
                "host", host_id, hd.decider(hd.Reserve(vm_id=vm_id, vcpus=2, memory_mib=512)), meta
            )
        await repo.stop()
    finally:
        await bus.close()
    for _ in range(200):
        host = await stack.get(f"/api/v1/hosts/{host_id}")
        if host["allocated_vcpus"] == 2:
            break
        await asyncio.sleep(0.05)
    assert (host["allocated_vcpus"], host["allocated_memory_mib"]) == (2, 512)
