"""Cancelling a graceful shutdown that a real guest ignores, through the whole stack.

A graceful shutdown waits on the guest for up to ``timeout_s``; a guest that ignores the
ACPI power button (``guest.IGNORE_POWER_BUTTON``) would hold the task that long. Cancelling
it (``POST /api/v1/tasks/{id}/actions/cancel``) sends ``order.cancel`` to the host, whose
agent stops waiting: the task ends ``cancelled`` — neither failed nor succeeded — within
seconds, and the VM is still running, in the read model, in libvirt and on its console.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import libvirt
import pytest

from tests.integration.conftest import Stack
from tests.qemu import guest
from tests.qemu.conftest import Janitor, QemuStackFactory
from tests.qemu.stackops import create_vm, guest_alive, libvirt_state, vm_view

pytestmark = [pytest.mark.qemu, pytest.mark.timeout(240)]

CANCEL_WITHIN_S = 10.0


async def task_in(stack: Stack, task_id: str, states: set[str], timeout: float) -> dict[str, Any]:
    """The task as the read model has it, once its state is one of ``states``."""
    deadline = time.monotonic() + timeout
    task: Any = None
    while time.monotonic() < deadline:
        status, task, _ = await stack.request("GET", f"/api/v1/tasks/{task_id}")
        if status == 200 and task["state"] in states:
            return dict(task)
        await asyncio.sleep(0.05)
    raise AssertionError(f"task {task_id} not {sorted(states)} within {timeout} s: {task}")


async def vm_settled(stack: Stack, vm_id: str, seq: int) -> dict[str, Any]:
    """The VM once the read model has it out of ``stopping`` (the cancelled shutdown's
    outcome is projected with the task's end, or just after it)."""
    vm = await vm_view(stack, vm_id, seq)
    for _ in range(100):
        if vm["state"] != "stopping":
            break
        await asyncio.sleep(0.05)
        vm = await vm_view(stack, vm_id, seq)
    return vm


async def test_cancel_a_shutdown_the_guest_ignores(
    qemu_stack: QemuStackFactory, janitor: Janitor, tiny_guest: guest.Guest
) -> None:
    stack = await qemu_stack()
    vm_id = await create_vm(
        stack, janitor, tiny_guest, cmdline=f"{tiny_guest.cmdline} {guest.IGNORE_POWER_BUTTON}"
    )
    await guest_alive(stack, vm_id)  # booted: its init ignores the button from now on

    shutdown = await stack.command(
        "POST", f"/api/v1/vms/{vm_id}/actions/shutdown", json={"timeout_s": 300}
    )
    task_id = shutdown["task_id"]
    running = await task_in(stack, task_id, {"running", "succeeded", "failed", "cancelled"}, 60)
    assert running["state"] == "running", running
    await asyncio.sleep(1.0)  # the agent is waiting on the guest, not about to start
    assert (await libvirt_state(janitor, vm_id))[0] == libvirt.VIR_DOMAIN_RUNNING
    assert (await vm_view(stack, vm_id, shutdown["seq"]))["state"] == "stopping"

    asked = time.monotonic()
    status, body, _ = await stack.request(
        "POST", f"/api/v1/tasks/{task_id}/actions/cancel", json={}
    )
    assert status == 202, (status, body)
    assert body["vm_id"] == vm_id and body["task_id"] == task_id, body
    cancel_seq = int(body["seq"])
    ended = await stack.wait_task(task_id, timeout=CANCEL_WITHIN_S)
    took = time.monotonic() - asked
    assert ended["state"] == "cancelled", ended
    assert took < CANCEL_WITHIN_S, took

    # a second cancel of an ended task is refused, nothing appended
    status, body, _ = await stack.request(
        "POST", f"/api/v1/tasks/{task_id}/actions/cancel", json={}
    )
    assert status == 409 and body["type"].endswith(":not-cancellable"), (status, body)

    vm = await vm_settled(stack, vm_id, cancel_seq)
    assert vm["state"] == "running", vm
    assert "cancelled" in (vm.get("error") or ""), vm  # the reason it is not stopped
    assert (await libvirt_state(janitor, vm_id))[0] == libvirt.VIR_DOMAIN_RUNNING
    await guest_alive(stack, vm_id)  # the guest runs on and answers on its console
