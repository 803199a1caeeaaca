"""End to end on simulated hosts: snapshots, disks, NICs and CPU/memory resize."""

from __future__ import annotations

from tests.integration.conftest import StackFactory
from tests.integration.lifecycle import (
    agent_of,
    domain_xml,
    event_types,
    events_of,
    make_vm,
    run,
    stream_seq,
    vm_view,
)


async def test_snapshots_create_revert_delete(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    vm_id = await make_vm(stack)
    host_id = (await vm_view(stack, vm_id))["host_id"]

    first = await run(stack, "POST", f"/api/v1/vms/{vm_id}/snapshots", json={"name": "s1"})
    assert first["state"] == "succeeded", first
    assert first["operation"] == "vm.snapshot"
    s1 = first["accepted"]["snapshot_id"]
    second = await run(
        stack, "POST", f"/api/v1/vms/{vm_id}/snapshots", json={"name": "s2", "description": "b"}
    )
    assert second["state"] == "succeeded", second
    s2 = second["accepted"]["snapshot_id"]
    created = await events_of(stack, vm_id, "vm.snapshot_created")
    assert [(e["data"]["snapshot_id"], e["data"]["parent_id"]) for e in created] == [
        (s1, None),
        (s2, s1),
    ]

    # a retried request with its Idempotency-Key gets the first answer, once
    key = {"Idempotency-Key": "snap-3"}
    third = await stack.command(
        "POST", f"/api/v1/vms/{vm_id}/snapshots", json={"name": "s3"}, headers=key
    )
    again = await stack.command(
        "POST", f"/api/v1/vms/{vm_id}/snapshots", json={"name": "s3"}, headers=key
    )
    assert again == third
    assert (await stack.wait_task(third["task_id"]))["state"] == "succeeded"
    s3 = third["snapshot_id"]
    assert len(await events_of(stack, vm_id, "vm.snapshot_created")) == 3
    assert (await run(stack, "DELETE", f"/api/v1/vms/{vm_id}/snapshots/{s3}"))["state"] == (
        "succeeded"
    )

    dup = await stack.request("POST", f"/api/v1/vms/{vm_id}/snapshots", json={"name": "s1"})
    assert dup[0] == 409 and dup[1]["type"].endswith(":duplicate")

    revert = await run(stack, "POST", f"/api/v1/vms/{vm_id}/snapshots/{s1}/actions/revert")
    assert revert["state"] == "succeeded", revert
    assert "vm.snapshot_reverted" in await event_types(stack, vm_id)

    gone = await run(stack, "DELETE", f"/api/v1/vms/{vm_id}/snapshots/{s2}")
    assert gone["state"] == "succeeded", gone

    before = await stream_seq(stack)
    status, problem, _ = await stack.request("DELETE", f"/api/v1/vms/{vm_id}")
    assert status == 409 and problem["type"] == "urn:limiquantix:problem:has-snapshots"
    status, problem, _ = await stack.request("DELETE", f"/api/v1/vms/{vm_id}/snapshots/{s2}")
    assert status == 404 and problem["kind"] == "snapshot"
    assert await stream_seq(stack) == before

    delete = await run(stack, "DELETE", f"/api/v1/vms/{vm_id}?delete_snapshots=true")
    assert delete["state"] == "succeeded", delete
    assert await agent_of(stack, host_id).hypervisor.state(vm_id) is None


async def test_memory_snapshot_of_a_running_vm(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    vm_id = await make_vm(stack, start=True)
    snap = await run(
        stack, "POST", f"/api/v1/vms/{vm_id}/snapshots", json={"name": "hot", "memory": True}
    )
    assert snap["state"] == "succeeded", snap
    created = await events_of(stack, vm_id, "vm.snapshot_created")
    assert created[-1]["data"]["memory"] is True
    assert created[-1]["data"]["vm_state"] == "running"


async def test_disks_attach_resize_detach(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    vm_id = await make_vm(stack, start=True)
    host_id = (await vm_view(stack, vm_id))["host_id"]
    root = await domain_xml(stack, vm_id, host_id)
    assert len(root.findall("./devices/disk[@device='disk']")) == 1

    attach = await run(stack, "POST", f"/api/v1/vms/{vm_id}/disks", json={"size_gib": 4})
    assert attach["state"] == "succeeded", attach
    assert attach["accepted"]["disk_id"] == "disk1"
    root = await domain_xml(stack, vm_id, host_id)
    assert len(root.findall("./devices/disk[@device='disk']")) == 2

    grow = await run(
        stack, "POST", f"/api/v1/vms/{vm_id}/disks/disk1/actions/resize", json={"size_gib": 8}
    )
    assert grow["state"] == "succeeded", grow
    resized = await events_of(stack, vm_id, "vm.disk_resized")
    assert resized[-1]["data"]["size_gib"] == 8

    before = await stream_seq(stack)
    shrink = await stack.request(
        "POST", f"/api/v1/vms/{vm_id}/disks/disk1/actions/resize", json={"size_gib": 2}
    )
    assert shrink[0] == 422 and shrink[1]["type"].endswith(":shrink-not-allowed")
    boot = await stack.request("DELETE", f"/api/v1/vms/{vm_id}/disks/disk0")
    assert boot[0] == 409 and boot[1]["type"].endswith(":boot-disk")
    assert await stream_seq(stack) == before

    detach = await run(stack, "DELETE", f"/api/v1/vms/{vm_id}/disks/disk1?delete_volume=true")
    assert detach["state"] == "succeeded", detach
    root = await domain_xml(stack, vm_id, host_id)
    assert len(root.findall("./devices/disk[@device='disk']")) == 1


async def test_nics_attach_keep_mac_detach(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    vm_id = await make_vm(stack)
    host_id = (await vm_view(stack, vm_id))["host_id"]
    attach = await run(
        stack, "POST", f"/api/v1/vms/{vm_id}/nics", json={"mac": "52:54:00:AB:CD:EF"}
    )
    assert attach["state"] == "succeeded", attach
    assert attach["accepted"]["nic_id"] == "nic1"
    root = await domain_xml(stack, vm_id, host_id)
    macs = {m.get("address") for m in root.findall("./devices/interface/mac")}
    assert "52:54:00:ab:cd:ef" in macs and len(macs) == 2

    taken = await stack.request(
        "POST", f"/api/v1/vms/{vm_id}/nics", json={"mac": "52:54:00:ab:cd:ef"}
    )
    assert taken[0] == 409 and taken[1]["type"].endswith(":duplicate")

    detach = await run(stack, "DELETE", f"/api/v1/vms/{vm_id}/nics/nic1")
    assert detach["state"] == "succeeded", detach
    root = await domain_xml(stack, vm_id, host_id)
    assert len(root.findall("./devices/interface")) == 1


async def test_resize_cold_live_and_capacity(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(2, 2048)])  # 2 CPUs x 4 overcommit = 8 vCPUs
    vm_id = await make_vm(stack)
    host_id = (await vm_view(stack, vm_id))["host_id"]

    cold = await run(
        stack, "POST", f"/api/v1/vms/{vm_id}/actions/resize", json={"vcpus": 2, "memory_mib": 512}
    )
    assert cold["state"] == "succeeded", cold
    root = await domain_xml(stack, vm_id, host_id)
    assert root.findtext("vcpu", "").strip() in ("2", "4")
    host = await stack.get(f"/api/v1/hosts/{host_id}?min_seq={cold['accepted']['seq']}")
    for _ in range(50):
        if host["allocated_vcpus"] == 2:
            break
        host = await stack.get(f"/api/v1/hosts/{host_id}")
    assert (host["allocated_vcpus"], host["allocated_memory_mib"]) == (2, 512)

    too_big = await run(
        stack,
        "POST",
        f"/api/v1/vms/{vm_id}/actions/resize",
        json={"vcpus": 2, "memory_mib": 4096},
    )
    assert too_big["state"] == "failed" and "room" in too_big["error"], too_big
    assert (await stack.get(f"/api/v1/hosts/{host_id}"))["allocated_memory_mib"] == 512

    start = await run(stack, "POST", f"/api/v1/vms/{vm_id}/actions/start")
    assert start["state"] == "succeeded", start
    before = await stream_seq(stack)
    beyond = await stack.request(
        "POST",
        f"/api/v1/vms/{vm_id}/actions/resize",
        json={"vcpus": 5, "memory_mib": 512, "live": True},
    )
    assert beyond[0] == 422 and beyond[1]["type"].endswith(":beyond-maximum"), beyond
    assert await stream_seq(stack) == before
    live = await run(
        stack,
        "POST",
        f"/api/v1/vms/{vm_id}/actions/resize",
        json={"vcpus": 3, "memory_mib": 768, "live": True},
    )
    assert live["state"] == "succeeded", live
    resized = await events_of(stack, vm_id, "vm.resized")
    assert (resized[-1]["data"]["vcpus"], resized[-1]["data"]["memory_mib"]) == (3, 768)
