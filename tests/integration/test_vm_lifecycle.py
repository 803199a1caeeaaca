"""End to end: a VM from the API to libvirt and back, with tasks and history."""

from __future__ import annotations

import asyncio

from tests.integration.conftest import StackFactory

VM = {"name": "web-1", "vcpus": 2, "memory_mib": 1024, "start": True}


async def test_create_start_stop_delete(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(16, 32768), (8, 16384), (4, 8192)])
    accepted = await stack.command("POST", "/api/v1/vms", json=VM)
    assert set(accepted) == {"vm_id", "task_id", "seq"}
    vm_id, task_id = accepted["vm_id"], accepted["task_id"]

    task = await stack.wait_task(task_id)
    assert task["state"] == "succeeded", task
    assert task["operation"] == "vm.create" and task["target_id"] == vm_id
    vm = await stack.get(f"/api/v1/vms/{vm_id}?min_seq={accepted['seq']}")
    assert vm["state"] == "running" and vm["host_id"]
    # spread: the biggest host takes the first VM
    hosts = {h["id"]: h for h in (await stack.get("/api/v1/hosts"))["items"]}
    assert hosts[vm["host_id"]]["name"] == "sim-1"
    assert hosts[vm["host_id"]]["allocated_vcpus"] == 2
    assert hosts[vm["host_id"]]["allocated_memory_mib"] == 1024

    # libvirt's truth on that host's own connection
    agent = next(a for a in stack.agents.values() if a.host_id == vm["host_id"])
    assert await agent.hypervisor.state(vm_id) == "running"
    others = [a for a in stack.agents.values() if a.host_id != vm["host_id"]]
    for other in others:
        assert await other.hypervisor.state(vm_id) is None

    stop = await stack.command("POST", f"/api/v1/vms/{vm_id}/actions/stop")
    assert (await stack.wait_task(stop["task_id"]))["state"] == "succeeded"
    vm = await stack.get(f"/api/v1/vms/{vm_id}?min_seq={stop['seq']}")
    assert vm["state"] == "stopped"
    assert await agent.hypervisor.state(vm_id) == "stopped"

    start = await stack.command("POST", f"/api/v1/vms/{vm_id}/actions/start")
    done = await stack.wait_task(start["task_id"])
    assert done["state"] == "succeeded" and done["started_at"] and done["finished_at"]
    assert await agent.hypervisor.state(vm_id) == "running"

    stop = await stack.command("POST", f"/api/v1/vms/{vm_id}/actions/stop")
    await stack.wait_task(stop["task_id"])
    delete = await stack.command("DELETE", f"/api/v1/vms/{vm_id}")
    assert (await stack.wait_task(delete["task_id"]))["state"] == "succeeded"
    vm = await stack.get(f"/api/v1/vms/{vm_id}")
    assert vm["state"] == "deleted"
    assert await agent.hypervisor.state(vm_id) is None
    for _ in range(100):  # capacity is released by the process manager after deletion
        host = await stack.get(f"/api/v1/hosts/{vm['host_id']}")
        if host["allocated_vcpus"] == 0:
            break
        await asyncio.sleep(0.05)
    assert (host["allocated_vcpus"], host["allocated_memory_mib"], host["vm_count"]) == (0, 0, 0)
    listed = (await stack.get("/api/v1/vms"))["items"]
    assert vm_id not in {v["id"] for v in listed}

    # the whole history, with actor, task and causation on every event
    history = (await stack.get(f"/api/v1/vms/{vm_id}/events?limit=500"))["items"]
    types = [e["type"] for e in history]
    for expected in (
        "vm.created",
        "task.queued",
        "vm.placed",
        "task.running",
        "vm.defined",
        "vm.started",
        "task.succeeded",
        "vm.stop_requested",
        "vm.stopped",
        "vm.start_requested",
        "vm.delete_requested",
        "vm.deleted",
    ):
        assert expected in types, (expected, types)
    seqs = [(e["seq"], e["index"]) for e in history]
    assert seqs == sorted(seqs)
    first = history[0]
    assert first["type"] == "vm.created" and first["actor"] == "user:admin"
    assert first["correlation_id"] == task_id
    assert all(e["causation_id"] for e in history)
    placed = next(e for e in history if e["type"] == "vm.placed")
    assert placed["actor"] == "system:controlplane"
    assert placed["causation_id"] == first["event_id"]
    defined = next(e for e in history if e["type"] == "vm.defined")
    assert defined["actor"].startswith("agent:")

    task_events = (await stack.get(f"/api/v1/tasks/{task_id}/events"))["items"]
    assert {e["correlation_id"] for e in task_events} == {task_id}


async def test_invalid_transitions_are_clear_problems(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    accepted = await stack.command("POST", "/api/v1/vms", json=VM)
    await stack.wait_task(accepted["task_id"])
    vm_id = accepted["vm_id"]

    status, body, ctype = await stack.request("POST", f"/api/v1/vms/{vm_id}/actions/start")
    assert status == 409 and ctype.startswith("application/problem+json")
    assert body["type"] == "urn:limiquantix:problem:invalid-state"
    assert "already running" in body["detail"]

    status, body, _ = await stack.request("DELETE", f"/api/v1/vms/{vm_id}")
    assert status == 409 and "stopped before" in body["detail"]

    status, body, _ = await stack.request(
        "POST", "/api/v1/vms/0190a0b2-7c3d-7e11-8a2b-1c2d3e4f5a6b/actions/stop"
    )
    assert status == 404 and body["type"] == "urn:limiquantix:problem:not-found"

    status, body, _ = await stack.request("POST", f"/api/v1/vms/{vm_id}/actions/explode")
    assert status == 404 and body["type"] == "urn:limiquantix:problem:unknown-action"

    stop = await stack.command("POST", f"/api/v1/vms/{vm_id}/actions/stop")
    status, body, _ = await stack.request("POST", f"/api/v1/vms/{vm_id}/actions/start")
    # either still stopping (operation in progress) or already stopped and startable
    assert status in (202, 409), body
    if status == 409:
        assert body["type"] == "urn:limiquantix:problem:operation-in-progress"
    await stack.wait_task(stop["task_id"])


async def test_idempotency_key_returns_the_first_answer(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    headers = {"Idempotency-Key": "create-web-1"}
    answers = await asyncio.gather(
        *[stack.command("POST", "/api/v1/vms", json=VM, headers=headers) for _ in range(5)]
    )
    assert len({(a["vm_id"], a["task_id"]) for a in answers}) == 1
    await stack.wait_task(answers[0]["task_id"])
    again = await stack.command("POST", "/api/v1/vms", json=VM, headers=headers)
    assert (again["vm_id"], again["task_id"]) == (answers[0]["vm_id"], answers[0]["task_id"])
    vms = (await stack.get(f"/api/v1/vms?min_seq={again['seq']}"))["items"]
    assert len(vms) == 1

    stop_key = {"Idempotency-Key": "stop-1"}
    path = f"/api/v1/vms/{again['vm_id']}/actions/stop"
    first = await stack.command("POST", path, headers=stop_key)
    await stack.wait_task(first["task_id"])
    second = await stack.command("POST", path, headers=stop_key)
    assert second["task_id"] == first["task_id"]


async def test_vm_changed_behind_our_back_is_observed(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    accepted = await stack.command("POST", "/api/v1/vms", json=VM)
    await stack.wait_task(accepted["task_id"])
    vm_id = accepted["vm_id"]
    agent = next(iter(stack.agents.values()))
    await agent.hypervisor.stop(vm_id, force=True)  # as if someone ran `virsh destroy`
    for _ in range(200):
        vm = await stack.get(f"/api/v1/vms/{vm_id}")
        if vm["state"] == "stopped":
            break
        await asyncio.sleep(0.05)
    assert vm["state"] == "stopped"
    history = (await stack.get(f"/api/v1/vms/{vm_id}/events"))["items"]
    observed = [e for e in history if e["type"] == "vm.state_observed"]
    assert observed and observed[-1]["actor"].startswith("agent:")


async def test_report_about_a_vm_on_another_host_is_rejected(make_stack: StackFactory) -> None:
    from events import reports as rp
    from events.base import new_id, utcnow
    from events.bus import Bus

    stack = await make_stack(hosts=[(8, 8192), (8, 8192)])
    accepted = await stack.command("POST", "/api/v1/vms", json=VM)
    await stack.wait_task(accepted["task_id"])
    vm_id = accepted["vm_id"]
    vm = await stack.get(f"/api/v1/vms/{vm_id}")
    intruder = next(a for a in stack.agents.values() if a.host_id != vm["host_id"])
    assert intruder.host_id is not None
    bus = await Bus.connect(stack.settings.nats_url, name="intruder")
    try:
        await bus.send_report(
            rp.Report(
                report_id=new_id(),
                host_id=intruder.host_id,
                sent_at=utcnow(),
                body=rp.DomainChanged(vm_id=vm_id, state="stopped", reason="lies"),
            )
        )
        # a genuine change afterwards proves the intruder's report was processed first
        await next(a for a in stack.agents.values() if a.host_id == vm["host_id"]).hypervisor.stop(
            vm_id, force=True
        )
        for _ in range(200):
            history = (await stack.get(f"/api/v1/vms/{vm_id}/events"))["items"]
            observed = [e for e in history if e["type"] == "vm.state_observed"]
            if observed:
                break
            await asyncio.sleep(0.05)
    finally:
        await bus.close()
    assert len(observed) == 1
    assert observed[0]["data"]["host_id"] == vm["host_id"]
    assert observed[0]["data"]["reason"] != "lies"


async def test_agent_restart_reconciles_a_lost_domain(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    accepted = await stack.command("POST", "/api/v1/vms", json=VM)
    await stack.wait_task(accepted["task_id"])
    vm_id = accepted["vm_id"]
    await stack.stop_host("sim-1")
    await asyncio.wait_for(stack.tasks[-1], 10)
    (stack.hosts_dir / "sim-1.xml").unlink()  # the host comes back without the domain
    await stack.add_host("sim-1", 8, 8192)
    for _ in range(200):
        vm = await stack.get(f"/api/v1/vms/{vm_id}")
        if vm["state"] == "error":
            break
        await asyncio.sleep(0.05)
    assert vm["state"] == "error"
    assert "missing" in (vm["error"] or "")
