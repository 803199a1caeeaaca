"""Cancelling a task end to end: a graceful shutdown sent to a host that is away is asked
to stop (``vm.cancel_requested`` and an ``order.cancel`` behind it); when the host is back
the task ends ``cancelled`` or, if the host finished first, ``succeeded``, and the VM's
state agrees either way."""

from __future__ import annotations

import asyncio

from tests.integration.conftest import StackFactory
from tests.integration.lifecycle import event_types, make_vm, vm_view


async def test_cancel_a_shutdown_waiting_on_its_host(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    vm_id = await make_vm(stack, start=True)
    await stack.stop_host("sim-1")
    await asyncio.sleep(1.0)  # the agent's consumer is gone: orders wait in the queue

    shutdown = await stack.command(
        "POST", f"/api/v1/vms/{vm_id}/actions/shutdown", json={"timeout_s": 60}
    )
    task_id = shutdown["task_id"]
    task = await stack.get(f"/api/v1/tasks/{task_id}?min_seq={shutdown['seq']}")
    for _ in range(100):
        if task["state"] == "running":
            break
        await asyncio.sleep(0.05)
        task = await stack.get(f"/api/v1/tasks/{task_id}")
    assert task["state"] == "running", task

    cancel = await stack.command(
        "POST", f"/api/v1/tasks/{task_id}/actions/cancel", json={"reason": "not now"}
    )
    assert (cancel["vm_id"], cancel["task_id"]) == (vm_id, task_id)
    again = await stack.command("POST", f"/api/v1/tasks/{task_id}/actions/cancel")
    assert again["task_id"] == task_id  # asked once; asking again changes nothing
    await vm_view(stack, vm_id, cancel["seq"])
    assert "vm.cancel_requested" in await event_types(stack, vm_id)

    await stack.add_host("sim-1")
    ended = await stack.wait_task(task_id, timeout=60)
    vm = await vm_view(stack, vm_id)
    if ended["state"] == "cancelled":
        assert vm["state"] == "running", vm
    else:
        assert ended["state"] == "succeeded" and vm["state"] == "stopped", (ended, vm)
