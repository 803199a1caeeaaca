"""Live migration and maintenance on simulated hosts (libvirt test driver: handoff mode)."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from tests.integration.conftest import Stack, StackFactory
from tests.integration.lifecycle import agent_of, event_types, make_vm, vm_view


async def _states(stack: Stack, vm_id: str) -> dict[str, str | None]:
    """The VM's domain state on every host whose agent runs (libvirt's truth)."""
    out: dict[str, str | None] = {}
    for name, agent in stack.agents.items():
        if stack.agent_stops[name].is_set():
            continue
        assert agent.host_id is not None
        out[agent.host_id] = await agent.hypervisor.state(vm_id)
    return out


async def _running_on(stack: Stack, vm_id: str) -> list[str]:
    return [h for h, s in (await _states(stack, vm_id)).items() if s == "running"]


async def _defined_on(stack: Stack, vm_id: str) -> list[str]:
    return [h for h, s in (await _states(stack, vm_id)).items() if s is not None]


async def _host(stack: Stack, host_id: str, seq: int = 0) -> dict[str, Any]:
    return dict(await stack.get(f"/api/v1/hosts/{host_id}?min_seq={seq}"))


async def test_migrate_a_running_vm_to_a_chosen_host(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192), (8, 8192)])
    h1, h2 = await stack.host_id("sim-1"), await stack.host_id("sim-2")
    vm_id = await make_vm(stack, name="mig-1", start=True, host_id=h1)
    assert await _running_on(stack, vm_id) == [h1]

    accepted = await stack.command(
        "POST", f"/api/v1/vms/{vm_id}/actions/migrate", json={"host_id": h2}
    )
    task = await stack.wait_task(accepted["task_id"])
    assert task["state"] == "succeeded", task
    assert task["operation"] == "vm.migrate"
    vm = await vm_view(stack, vm_id, task["seq"])
    assert (vm["host_id"], vm["state"]) == (h2, "running")
    assert await _running_on(stack, vm_id) == [h2]
    assert await _defined_on(stack, vm_id) == [h2]
    types = await event_types(stack, vm_id)
    for t in ("vm.migration_requested", "vm.migration_started", "vm.migrated"):
        assert t in types
    # capacity moved with it
    src, dst = await _host(stack, h1, task["seq"]), await _host(stack, h2, task["seq"])
    for _ in range(100):
        src, dst = await _host(stack, h1), await _host(stack, h2)
        if src["vm_count"] == 0:
            break
        await asyncio.sleep(0.05)
    assert (src["vm_count"], dst["vm_count"]) == (0, 1)
    # the placement decision explains the destination
    placement = await stack.get(f"/api/v1/vms/{vm_id}/placement")
    moves = [d for d in placement["decisions"] if d["type"] == "vm.migration_started"]
    assert moves and moves[-1]["host_id"] == h2


async def test_migrate_without_a_host_places_it_and_moves_stopped_vms_cold(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(hosts=[(8, 8192), (8, 8192)])
    h1, h2 = await stack.host_id("sim-1"), await stack.host_id("sim-2")
    vm_id = await make_vm(stack, name="cold-1", start=False, host_id=h1)
    accepted = await stack.command("POST", f"/api/v1/vms/{vm_id}/actions/migrate", json={})
    task = await stack.wait_task(accepted["task_id"])
    assert task["state"] == "succeeded", task
    vm = await vm_view(stack, vm_id, task["seq"])
    assert (vm["host_id"], vm["state"]) == (h2, "stopped")
    assert await _defined_on(stack, vm_id) == [h2]


async def test_migration_refusals(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    h1 = await stack.host_id("sim-1")
    vm_id = await make_vm(stack, name="lonely", start=True)
    status, body, _ = await stack.request(
        "POST", f"/api/v1/vms/{vm_id}/actions/migrate", json={"host_id": h1}
    )
    assert status == 409 and "already on host" in body["detail"]
    status, body, _ = await stack.request(
        "POST", f"/api/v1/vms/{vm_id}/actions/migrate", json={"host_id": "nope"}
    )
    assert status == 422
    status, body, _ = await stack.request(
        "POST", f"/api/v1/vms/{vm_id}/actions/migrate", json={"bogus": 1}
    )
    assert status == 422
    # no other host: the task fails with the reason, the VM stays running where it was
    accepted = await stack.command("POST", f"/api/v1/vms/{vm_id}/actions/migrate", json={})
    task = await stack.wait_task(accepted["task_id"])
    assert task["state"] == "failed" and "no host can take the VM" in task["error"]
    vm = await vm_view(stack, vm_id, task["seq"])
    assert (vm["host_id"], vm["state"]) == (h1, "running")


async def test_a_dead_destination_rolls_back_to_the_source(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192), (8, 8192)], order_timeout_s=3.0)
    h1, h2 = await stack.host_id("sim-1"), await stack.host_id("sim-2")
    vm_id = await make_vm(stack, name="rollback-1", start=True, host_id=h1)
    await stack.stop_host("sim-2")  # the agent stops: its orders are never answered
    await asyncio.sleep(0.5)
    accepted = await stack.command(
        "POST", f"/api/v1/vms/{vm_id}/actions/migrate", json={"host_id": h2}
    )
    task = await stack.wait_task(accepted["task_id"], timeout=30)
    assert task["state"] == "failed", task
    vm = await vm_view(stack, vm_id, task["seq"])
    assert (vm["host_id"], vm["state"]) == (h1, "running")
    assert h1 in await _running_on(stack, vm_id)
    assert "vm.migration_failed" in await event_types(stack, vm_id)
    # the destination's reservation was given back
    for _ in range(100):
        if (await _host(stack, h2))["vm_count"] == 0:
            break
        await asyncio.sleep(0.05)
    assert (await _host(stack, h2))["vm_count"] == 0
    assert agent_of(stack, h1).host_id == h1


async def test_maintenance_evacuates_three_vms_to_two_hosts(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192), (8, 4096), (8, 4096)])
    h1, h2, h3 = [await stack.host_id(f"sim-{i}") for i in (1, 2, 3)]
    vms = [
        await make_vm(
            stack, name=f"evac-{i}", start=i != 2, host_id=h1, memory_mib=1024, max_memory_mib=0
        )
        for i in range(3)
    ]
    accepted = await stack.command("POST", f"/api/v1/hosts/{h1}/actions/enter-maintenance")
    assert sorted(accepted["migrating"]) == sorted(vms)
    task = await stack.wait_task(accepted["task_id"], timeout=60)
    assert task["state"] == "succeeded", task
    assert task["operation"] == "host.enter_maintenance"
    host = await _host(stack, h1, task["seq"])
    assert host["state"] == "maintenance"
    for i, vm_id in enumerate(vms):
        vm = await vm_view(stack, vm_id, task["seq"])
        assert vm["host_id"] in (h2, h3), vm
        assert vm["state"] == ("stopped" if i == 2 else "running")
        assert await _defined_on(stack, vm_id) == [vm["host_id"]]
    # per-VM progress is in the host's history
    events = (await stack.get(f"/api/v1/hosts/{h1}/events?limit=100"))["items"]
    steps = [e for e in events if e["type"] == "host.evacuation_progressed"]
    assert sorted(e["data"]["outcome"] for e in steps) == ["migrated"] * 3 + ["started"] * 3
    # no new VM lands on a host in maintenance
    made = await stack.command(
        "POST", "/api/v1/vms", json={"name": "new-1", "vcpus": 1, "memory_mib": 256, "host_id": h1}
    )
    t = await stack.wait_task(made["task_id"])
    assert t["state"] == "failed" and "maintenance" in t["error"]
    # leaving maintenance re-enables placement
    left = await stack.command("POST", f"/api/v1/hosts/{h1}/actions/exit-maintenance")
    t = await stack.wait_task(left["task_id"])
    assert t["state"] == "succeeded"
    assert (await _host(stack, h1, t["seq"]))["state"] == "connected"
    made = await stack.command(
        "POST", "/api/v1/vms", json={"name": "new-2", "vcpus": 1, "memory_mib": 256, "host_id": h1}
    )
    assert (await stack.wait_task(made["task_id"]))["state"] == "succeeded"


async def test_maintenance_is_refused_when_the_vms_cannot_fit(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192), (8, 1024)])
    h1 = await stack.host_id("sim-1")
    for i in range(2):
        await make_vm(
            stack, name=f"big-{i}", start=True, host_id=h1, memory_mib=2048, max_memory_mib=0
        )
    before = int((await stack.get("/ready"))["checks"]["stream_seq"])
    status, body, _ = await stack.request("POST", f"/api/v1/hosts/{h1}/actions/enter-maintenance")
    assert status == 409, body
    assert body["type"].endswith("cannot-evacuate")
    assert "big-" in body["detail"] and "full" in body["detail"]
    assert int((await stack.get("/ready"))["checks"]["stream_seq"]) == before
    assert (await _host(stack, h1))["state"] == "connected"


async def test_migrations_beyond_the_budget_wait_their_turn(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192), (8, 8192)], migrations_per_host=1)
    h1, h2 = await stack.host_id("sim-1"), await stack.host_id("sim-2")
    vms = [await make_vm(stack, name=f"q-{i}", start=True, host_id=h1) for i in range(3)]
    answers = [
        await stack.command("POST", f"/api/v1/vms/{v}/actions/migrate", json={"host_id": h2})
        for v in vms
    ]
    tasks = [await stack.wait_task(a["task_id"], timeout=60) for a in answers]
    assert [t["state"] for t in tasks] == ["succeeded"] * 3, tasks
    # never two at once: each started after the previous one ended
    spans = []
    for v in vms:
        events = (await stack.get(f"/api/v1/vms/{v}/events?limit=100"))["items"]
        start = next(e["seq"] for e in events if e["type"] == "vm.migration_started")
        end = next(e["seq"] for e in events if e["type"] == "vm.migrated")
        spans.append((start, end))
    spans.sort()
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start > end, spans
