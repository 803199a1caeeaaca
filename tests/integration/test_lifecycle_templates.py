"""End to end on simulated hosts: templates, VMs made from them, full and linked clones,
and placement pinned to the source's host."""

from __future__ import annotations

from tests.integration.conftest import StackFactory
from tests.integration.lifecycle import (
    agent_of,
    events_of,
    make_vm,
    run,
    stream_seq,
    vm_view,
)


async def test_template_instances_and_clones(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192), (16, 16384)])
    source = await make_vm(stack, name="golden")
    host_id = (await vm_view(stack, source))["host_id"]

    # a full clone of a stopped VM lands on the same host, with new MACs
    clone = await stack.command(
        "POST", f"/api/v1/vms/{source}/actions/clone", json={"name": "golden-copy"}
    )
    assert clone["vm_id"] != source
    task = await stack.wait_task(clone["task_id"])
    assert task["state"] == "succeeded", task
    copy = await vm_view(stack, clone["vm_id"], clone["seq"])
    assert copy["host_id"] == host_id
    created = (await events_of(stack, clone["vm_id"], "vm.created"))[0]["data"]
    original = (await events_of(stack, source, "vm.created"))[0]["data"]
    assert created["clone_of"] == {"vm_id": source, "linked": False}
    assert created["disks"][0]["disk_id"] == "disk0"
    assert created["nics"][0]["mac"] != original["nics"][0]["mac"]
    assert await agent_of(stack, host_id).hypervisor.state(clone["vm_id"]) == "stopped"

    before = await stream_seq(stack)
    linked = await stack.request(
        "POST", f"/api/v1/vms/{source}/actions/clone", json={"name": "x", "linked": True}
    )
    assert linked[0] == 422 and linked[1]["type"].endswith(":linked-needs-template")
    assert await stream_seq(stack) == before

    convert = await run(stack, "POST", f"/api/v1/vms/{source}/actions/convert-to-template")
    assert convert["state"] == "succeeded", convert
    assert convert["operation"] == "vm.convert_to_template"
    refused = await stack.request("POST", f"/api/v1/vms/{source}/actions/start")
    assert refused[0] == 409 and refused[1]["type"].endswith(":is-template")
    snap = await stack.request("POST", f"/api/v1/vms/{source}/snapshots", json={"name": "s"})
    assert snap[0] == 409 and snap[1]["type"].endswith(":is-template")

    # a VM made from the template, linked (qcow2 backing), started, with its own size
    made = await stack.command(
        "POST",
        "/api/v1/vms",
        json={
            "name": "from-tpl",
            "vcpus": 2,
            "memory_mib": 512,
            "template_id": source,
            "linked": True,
            "start": True,
        },
    )
    task = await stack.wait_task(made["task_id"])
    assert task["state"] == "succeeded", task
    instance = await vm_view(stack, made["vm_id"], made["seq"])
    assert instance["host_id"] == host_id and instance["state"] == "running"
    data = (await events_of(stack, made["vm_id"], "vm.created"))[0]["data"]
    assert data["clone_of"] == {"vm_id": source, "linked": True}
    assert (data["vcpus"], data["memory_mib"], data["template"]) == (2, 512, False)

    before = await stream_seq(stack)
    for method, path in (
        ("DELETE", f"/api/v1/vms/{source}"),
        ("POST", f"/api/v1/vms/{source}/actions/convert-to-vm"),
    ):
        status, problem, _ = await stack.request(method, path)
        assert status == 409 and problem["type"].endswith(":has-linked-clones"), (path, problem)
    assert await stream_seq(stack) == before

    await run(stack, "POST", f"/api/v1/vms/{made['vm_id']}/actions/stop")
    gone = await run(stack, "DELETE", f"/api/v1/vms/{made['vm_id']}")
    assert gone["state"] == "succeeded", gone
    back = await run(stack, "POST", f"/api/v1/vms/{source}/actions/convert-to-vm")
    assert back["state"] == "succeeded", back


async def test_clone_pinned_to_a_full_host_fails_clearly(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(1, 1024), (16, 16384)])
    host1 = await stack.host_id("sim-1")
    source = await make_vm(stack, name="small", host_id=host1, memory_mib=768, max_memory_mib=0)
    assert (await vm_view(stack, source))["host_id"] == host1
    clone = await stack.command(
        "POST", f"/api/v1/vms/{source}/actions/clone", json={"name": "small-copy"}
    )
    task = await stack.wait_task(clone["task_id"])
    assert task["state"] == "failed", task
    assert host1 in task["error"] and "capacity" in task["error"]
    copy = await vm_view(stack, clone["vm_id"], clone["seq"])
    assert copy["state"] == "error" and copy["host_id"] is None
