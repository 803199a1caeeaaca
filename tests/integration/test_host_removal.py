"""Removing a host from the inventory over HTTP: refused while it has VMs, allowed after
its evacuation; the read model drops it, its history stays, and enrolling again makes it
a new host."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.integration.conftest import Stack, StackFactory
from tests.integration.lifecycle import make_vm, vm_view


async def _gone(stack: Stack, host_id: str, seq: int) -> None:
    status, body, _ = await stack.request("GET", f"/api/v1/hosts/{host_id}?min_seq={seq}")
    assert status == 404, body
    items = (await stack.get(f"/api/v1/hosts?min_seq={seq}"))["items"]
    assert host_id not in [h["id"] for h in items]


async def _history(stack: Stack, host_id: str, seq: int = 0) -> list[str]:
    items = (await stack.get(f"/api/v1/hosts/{host_id}/events?limit=200&min_seq={seq}"))["items"]
    return [e["type"] for e in items]


async def _host_when(stack: Stack, host_id: str, state: str) -> dict[str, Any]:
    for _ in range(400):
        status, body, _ = await stack.request("GET", f"/api/v1/hosts/{host_id}")
        if status == 200 and body["state"] == state:
            return dict(body)
        await asyncio.sleep(0.05)
    raise AssertionError(f"host {host_id} never {state}")


async def test_remove_a_host_after_its_evacuation(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192), (8, 8192)])
    h1, h2 = await stack.host_id("sim-1"), await stack.host_id("sim-2")
    vm_id = await make_vm(stack, name="tenant", start=True, host_id=h1)
    status, body, _ = await stack.request(
        "PATCH", f"/api/v1/hosts/{h1}", json={"labels": {"a": "b"}}
    )
    assert status == 200, body
    before = await _history(stack, h1, body["seq"]), await _history(stack, h2, body["seq"])
    # a host with a VM: 409 naming it, nothing appended
    status, body, _ = await stack.request("DELETE", f"/api/v1/hosts/{h1}")
    assert status == 409 and body["type"].endswith("host-has-vms"), body
    assert body["vm_ids"] == [vm_id] and vm_id in body["detail"]
    # an idle host that is connected: maintenance first (force does not skip it)
    status, body, _ = await stack.request("DELETE", f"/api/v1/hosts/{h2}?force=true")
    assert status == 409 and body["type"].endswith("not-in-maintenance"), body
    status, body, _ = await stack.request("DELETE", f"/api/v1/hosts/{h1}?force=maybe")
    assert status in {400, 422}, body
    await asyncio.sleep(0.3)
    assert (await _history(stack, h1), await _history(stack, h2)) == before
    # evacuate, then remove
    accepted = await stack.command("POST", f"/api/v1/hosts/{h1}/actions/enter-maintenance")
    assert accepted["migrating"] == [vm_id]
    task = await stack.wait_task(accepted["task_id"], timeout=60)
    assert task["state"] == "succeeded", task
    assert (await vm_view(stack, vm_id, task["seq"]))["host_id"] == h2
    status, removed, _ = await stack.request("DELETE", f"/api/v1/hosts/{h1}")
    assert status == 200, removed
    assert (removed["host_id"], removed["name"], removed["forced"]) == (h1, "sim-1", False)
    assert removed["credentials_revoked"] is False  # no NATS authorization in this stack
    await _gone(stack, h1, removed["seq"])
    events = (await stack.get(f"/api/v1/hosts/{h1}/events?limit=100"))["items"]
    assert events[-1]["type"] == "host.removed" and events[-1]["actor"] == "user:admin"
    status, body, _ = await stack.request("DELETE", f"/api/v1/hosts/{h1}")
    assert status == 404, body
    # the VM is untouched on its new host; the remaining host carries on
    assert (await vm_view(stack, vm_id))["state"] == "running"
    # the same machine enrols again: a new host, no labels, no maintenance
    await stack.stop_host("sim-1")
    await asyncio.sleep(1.0)
    again = await stack.add_host("sim-1")
    assert again.host_id is not None
    host = await _host_when(stack, again.host_id, "connected")
    assert host["labels"] == {} and host["vm_count"] == 0
    made = await make_vm(stack, name="newcomer", start=True, host_id=again.host_id)
    assert (await vm_view(stack, made))["host_id"] == again.host_id


async def test_force_removes_a_lost_host(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192), (8, 8192)])
    h2 = await stack.host_id("sim-2")
    await stack.stop_host("sim-2")
    await _host_when(stack, h2, "disconnected")
    status, body, _ = await stack.request("DELETE", f"/api/v1/hosts/{h2}")
    assert status == 409 and body["type"].endswith("not-in-maintenance"), body
    status, removed, _ = await stack.request("DELETE", f"/api/v1/hosts/{h2}?force=true")
    assert status == 200 and removed["forced"] is True, removed
    await _gone(stack, h2, removed["seq"])
