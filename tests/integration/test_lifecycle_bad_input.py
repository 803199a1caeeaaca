"""Bad input on every lifecycle route: a problem+json 4xx, and nothing appended."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import StackFactory
from tests.integration.lifecycle import make_vm, stream_seq

GONE = "0190a0b2-7c3d-7e11-8a2b-1c2d3e4f5a6b"


def cases(vm: str) -> list[tuple[str, str, Any, int, str]]:
    base = f"/api/v1/vms/{vm}"
    create = {"name": "b", "vcpus": 1, "memory_mib": 128}
    return [
        # creation
        ("POST", "/api/v1/vms", {**create, "disks": [{"size_gib": 0}]}, 422, "invalid-body"),
        ("POST", "/api/v1/vms", {**create, "disks": [{"size_gib": 70000}]}, 422, "invalid-body"),
        ("POST", "/api/v1/vms", {**create, "disks": [{}]}, 422, "invalid-request"),
        ("POST", "/api/v1/vms", {**create, "disks": [{"size_gib": 1, "colour": 1}]}, 422,
         "invalid-body"),
        ("POST", "/api/v1/vms", {**create, "disks": [{"size_gib": 1, "volume": "../etc"}]}, 422,
         "invalid-body"),
        ("POST", "/api/v1/vms", {**create, "nics": [{"mac": "nope"}]}, 422, "invalid-body"),
        ("POST", "/api/v1/vms", {**create, "nics": [{"mac": "01:00:5e:00:00:01"}]}, 422,
         "invalid-body"),
        ("POST", "/api/v1/vms", {**create, "firmware": "coreboot"}, 422, "invalid-body"),
        ("POST", "/api/v1/vms", {**create, "machine": "virt"}, 422, "invalid-body"),
        ("POST", "/api/v1/vms", {**create, "boot_order": ["hd", "hd"]}, 422, "invalid-body"),
        ("POST", "/api/v1/vms", {**create, "boot_order": ["floppy"]}, 422, "invalid-body"),
        ("POST", "/api/v1/vms", {**create, "max_vcpus": 600}, 422, "invalid-body"),
        ("POST", "/api/v1/vms", {**create, "vcpus": 4, "max_vcpus": 2}, 422, "invalid-request"),
        ("POST", "/api/v1/vms", {**create, "kernel": "vmlinuz"}, 422, "invalid-body"),
        ("POST", "/api/v1/vms", {**create, "initrd": "/boot/initrd"}, 422, "invalid-request"),
        ("POST", "/api/v1/vms", {**create, "linked": True}, 422, "invalid-body"),
        ("POST", "/api/v1/vms", {**create, "template_id": GONE}, 404, "not-found"),
        ("POST", "/api/v1/vms", {**create, "template_id": vm}, 409, "not-a-template"),
        ("POST", "/api/v1/vms", {**create, "host_id": "nowhere"}, 404, "not-found"),
        ("POST", "/api/v1/vms", {**create, "cloud_init": {"vendor_data": "x"}}, 422,
         "invalid-body"),
        # actions
        ("POST", f"{base}/actions/shutdown", {"timeout_s": 0}, 422, "invalid-body"),
        ("POST", f"{base}/actions/shutdown", {"timeout_s": 3601}, 422, "invalid-body"),
        ("POST", f"{base}/actions/shutdown", {"force": True}, 422, "invalid-body"),
        ("POST", f"{base}/actions/reboot", {"force": "yes"}, 422, "invalid-body"),
        ("POST", f"{base}/actions/pause", {"x": 1}, 422, "invalid-body"),
        ("POST", f"{base}/actions/clone", {}, 422, "invalid-body"),
        ("POST", f"{base}/actions/clone", {"name": "bad name"}, 422, "invalid-body"),
        ("POST", f"{base}/actions/clone", {"name": "c", "linked": True}, 422,
         "linked-needs-template"),
        ("POST", f"{base}/actions/resize", {"vcpus": 0, "memory_mib": 128}, 422, "invalid-body"),
        ("POST", f"{base}/actions/resize", {"vcpus": 1, "memory_mib": 8}, 422, "invalid-body"),
        ("POST", f"{base}/actions/resize", {"vcpus": 1, "memory_mib": 256}, 422, "no-change"),
        ("POST", f"{base}/actions/resize", {"vcpus": 2, "memory_mib": 256, "live": True}, 409,
         "invalid-state"),
        ("POST", f"{base}/actions/convert-to-vm", None, 409, "invalid-state"),
        ("POST", f"{base}/actions/explode", None, 404, "unknown-action"),
        ("POST", f"/api/v1/vms/{GONE}/actions/shutdown", {}, 404, "not-found"),
        ("DELETE", f"{base}?keep_disks=maybe", None, 400, "invalid-parameter"),
        # snapshots
        ("POST", f"{base}/snapshots", {}, 422, "invalid-body"),
        ("POST", f"{base}/snapshots", {"name": "s", "memory": True}, 422, "memory-needs-running"),
        ("POST", f"{base}/snapshots/nope/actions/revert", None, 404, "not-found"),
        ("DELETE", f"{base}/snapshots/nope", None, 404, "not-found"),
        # disks
        ("POST", f"{base}/disks", {}, 422, "invalid-body"),
        ("POST", f"{base}/disks", {"size_gib": -1}, 422, "invalid-body"),
        ("POST", f"{base}/disks", {"size_gib": 1, "bus": "floppy"}, 422, "invalid-body"),
        ("DELETE", f"{base}/disks/disk9", None, 404, "not-found"),
        ("DELETE", f"{base}/disks/disk0?delete_volume=perhaps", None, 400, "invalid-parameter"),
        ("POST", f"{base}/disks/disk0/actions/resize", {"size_gib": 1}, 422,
         "shrink-not-allowed"),
        ("POST", f"{base}/disks/disk0/actions/resize", {"size_gib": 2}, 422, "no-change"),
        ("POST", f"{base}/disks/disk0/actions/resize", {"size_gib": 0}, 422, "invalid-body"),
        ("POST", f"{base}/disks/disk7/actions/resize", {"size_gib": 9}, 404, "not-found"),
        # NICs
        ("POST", f"{base}/nics", {"model": "ne2k"}, 422, "invalid-body"),
        ("POST", f"{base}/nics", {"mac": "52:54:00:zz:00:00"}, 422, "invalid-body"),
        ("PATCH", f"{base}/nics/nic0", {}, 422, "invalid-body"),
        ("PATCH", f"{base}/nics/nic0", {"network_id": "default"}, 422, "no-change"),
        ("PATCH", f"{base}/nics/nic4", {"network_id": "lan"}, 404, "not-found"),
        ("DELETE", f"{base}/nics/nic4", None, 404, "not-found"),
        # tasks
        ("POST", f"/api/v1/tasks/{GONE}/actions/cancel", {}, 404, "not-found"),
        ("POST", f"/api/v1/tasks/{GONE}/actions/cancel", {"why": 1}, 422, "invalid-body"),
    ]  # fmt: skip


async def test_bad_lifecycle_input_is_refused_with_nothing_appended(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    vm = await make_vm(stack)  # stopped, disk0 of 2 GiB, nic0
    before = await stream_seq(stack)
    for method, path, body, status, slug in cases(vm):
        kw: dict[str, Any] = {} if body is None else {"json": body}
        got, problem, ctype = await stack.request(method, path, **kw)
        assert (got, problem.get("type") if isinstance(problem, dict) else problem) == (
            status,
            f"urn:limiquantix:problem:{slug}",
        ), (method, path, body, problem)
        assert ctype.startswith("application/problem+json")
        assert problem["detail"]
    assert await stream_seq(stack) == before


async def test_cancel_of_finished_and_running_tasks(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    made = await stack.command("POST", "/api/v1/vms", json={"name": "c", "vcpus": 1,
                                                            "memory_mib": 128})  # fmt: skip
    await stack.wait_task(made["task_id"])
    status, problem, _ = await stack.request(
        "POST", f"/api/v1/tasks/{made['task_id']}/actions/cancel"
    )
    assert status == 409 and problem["type"].endswith(":not-cancellable"), problem
