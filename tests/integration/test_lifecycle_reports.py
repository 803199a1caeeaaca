"""Agent reports the lifecycle added, through the real report stream: a NIC's address
becomes ``vm.nic_address_observed`` only from the VM's own host, and a report about an
order in progress becomes ``task.progressed``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from events import reports as rp
from events.base import new_id, utcnow
from events.bus import Bus
from tests.integration.conftest import Stack, StackFactory
from tests.integration.lifecycle import events_of, make_vm, vm_view


@pytest.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    b = await Bus.connect(nats_url, name="test-reports")
    yield b
    await b.close()


async def _report(bus: Bus, host_id: str, body: rp.AnyReport, task_id: str | None = None) -> None:
    await bus.send_report(
        rp.Report(report_id=new_id(), host_id=host_id, task_id=task_id, sent_at=utcnow(), body=body)
    )


async def _wait_events(stack: Stack, vm_id: str, type_: str, count: int) -> list[dict[str, Any]]:
    for _ in range(200):
        found = await events_of(stack, vm_id, type_)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} {type_} for {vm_id}")


async def test_nic_addresses_from_the_vms_host_only(make_stack: StackFactory, bus: Bus) -> None:
    stack = await make_stack(hosts=[(8, 8192), (4, 4096)])
    vm_id = await make_vm(stack, start=True)
    host_id = (await vm_view(stack, vm_id))["host_id"]
    other = next(a.host_id for a in stack.agents.values() if a.host_id != host_id)
    assert other is not None

    await _report(bus, other, rp.NicAddress(vm_id=vm_id, nic_id="nic0", ip="10.9.9.9"))
    await _report(bus, host_id, rp.NicAddress(vm_id=vm_id, nic_id="nic0", ip="10.0.0.7"))
    await _report(bus, host_id, rp.NicAddress(vm_id=vm_id, nic_id="nic0", ip="10.0.0.7"))
    await _report(bus, host_id, rp.NicAddress(vm_id=vm_id, nic_id="nic9", ip="10.0.0.8"))
    await _wait_events(stack, vm_id, "vm.nic_address_observed", 1)
    await asyncio.sleep(0.5)  # the rejected and repeated reports had their chance
    seen = await events_of(stack, vm_id, "vm.nic_address_observed")
    assert [(e["data"]["nic_id"], e["data"]["ip"]) for e in seen] == [("nic0", "10.0.0.7")]
    assert all(str(e["actor"]).startswith("agent:") for e in seen)


async def test_order_progress_becomes_task_progress(make_stack: StackFactory, bus: Bus) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    vm_id = await make_vm(stack, start=True)
    host_id = (await vm_view(stack, vm_id))["host_id"]
    await stack.stop_host("sim-1")  # orders wait: the task stays running
    await asyncio.sleep(1.0)
    pause = await stack.command("POST", f"/api/v1/vms/{vm_id}/actions/pause")
    task_id = pause["task_id"]
    for _ in range(100):
        status, task, _ = await stack.request("GET", f"/api/v1/tasks/{task_id}")
        if status == 200 and task["state"] == "running":
            break
        await asyncio.sleep(0.05)
    body = rp.OrderProgress(order_id=f"{task_id}.pause", vm_id=vm_id, percent=42, message="half")
    await _report(bus, host_id, body, task_id=task_id)
    for _ in range(100):
        task = await stack.get(f"/api/v1/tasks/{task_id}")
        if task["progress"] == 42:
            break
        await asyncio.sleep(0.05)
    assert task["progress"] == 42, task
    events = (await stack.get(f"/api/v1/tasks/{task_id}/events"))["items"]
    progressed = [e for e in events if e["type"] == "task.progressed"]
    assert [(e["data"]["percent"], e["data"]["message"]) for e in progressed] == [(42, "half")]
