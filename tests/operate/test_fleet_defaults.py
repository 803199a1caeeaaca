"""A disk or NIC that names no pool or network goes where the fleet settings say.

Both ways in: a new VM's parts and parts attached later (``POST /vms/{id}/disks|nics``),
before and after an operator changes ``default_pool_id`` / ``default_network_id``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.conftest import Stack, StackFactory


async def _made(stack: Stack, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, answer, _ = await stack.request("POST", "/api/v1" + path, json=body)
    assert status in (201, 202), (path, status, answer)
    return dict(answer)


async def test_attach_and_create_use_the_fleet_defaults(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    root = str(tmp_path / "pools")
    stack = await make_stack(hosts=[(8, 8192)], storage_allowed_roots=root)
    host = (await stack.get("/api/v1/hosts"))["items"][0]["id"]
    body = {"name": "fd-pool", "type": "dir", "params": {"path": f"{root}/fd"}}
    pool = (await _made(stack, "/storage-pools", {**body, "host_ids": [host]}))["pool_id"]
    net = (
        await _made(
            stack, "/networks", {"name": "fd-net", "type": "isolated", "cidr": "10.77.0.0/24"}
        )
    )["network_id"]

    before = await _made(stack, "/vms", {"name": "fd-0", "vcpus": 1, "memory_mib": 64})
    assert (await stack.wait_task(before["task_id"]))["state"] == "succeeded"
    nic = await _made(stack, f"/vms/{before['vm_id']}/nics", {})
    assert (await stack.wait_task(nic["task_id"]))["state"] == "succeeded"
    vm = await stack.get(f"/api/v1/vms/{before['vm_id']}?min_seq={nic['seq']}")
    assert [n["network_id"] for n in vm["nics"]] == ["default"]  # no fleet default yet

    status, changed, _ = await stack.request(
        "PATCH", "/api/v1/settings", json={"default_pool_id": pool, "default_network_id": net}
    )
    assert status == 200, changed

    made = await _made(
        stack,
        "/vms",
        {"name": "fd-1", "vcpus": 1, "memory_mib": 64, "disks": [{"size_gib": 1}], "nics": [{}]},
    )
    assert (await stack.wait_task(made["task_id"]))["state"] == "succeeded"
    disk = await _made(stack, f"/vms/{made['vm_id']}/disks", {"size_gib": 1})
    assert (await stack.wait_task(disk["task_id"]))["state"] == "succeeded"
    nic = await _made(stack, f"/vms/{made['vm_id']}/nics", {"model": "e1000"})
    assert (await stack.wait_task(nic["task_id"]))["state"] == "succeeded"
    vm = await stack.get(f"/api/v1/vms/{made['vm_id']}?min_seq={nic['seq']}")
    assert [d["pool_id"] for d in vm["disks"]] == [pool, pool]
    assert [n["network_id"] for n in vm["nics"]] == [net, net]
