"""Volume tasks on a running stack (simulated hosts): a request repeated with its
``Idempotency-Key`` is one volume and one task, a queued task is cancelled, and a volume
operation whose host went away ends in a failed task that says so, while the volume shows
what is really there."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.integration.conftest import Stack, StackFactory
from tests.storage.helpers import GIB, create_volume, make_pool, wait_pool, wait_volume


async def _keyed(stack: Stack, method: str, path: str, key: str, **kw: Any) -> dict[str, Any]:
    return await stack.command(method, path, headers={"Idempotency-Key": key}, **kw)


async def test_keys_cancellation_and_a_host_that_went_away(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    root = str(tmp_path / "pools")
    stack = await make_stack(
        hosts=[(4, 4096)], storage_allowed_roots=root, volume_task_timeout_s=30.0
    )
    host_id = await stack.host_id("sim-1")
    pool_id = await make_pool(stack, root, capacity_gib=20, host_ids=[host_id])
    await wait_pool(stack, pool_id)

    # the same key twice, at once: one volume, one task (the answers are the same)
    body = {"pool_id": pool_id, "name": "k.qcow2", "size_gib": 1}
    first, again = await asyncio.gather(
        *(_keyed(stack, "POST", "/api/v1/volumes", "make-k", json=body) for _ in range(2))
    )
    assert (first["volume_id"], first["task_id"], first["pool_id"]) == (
        again["volume_id"],
        again["task_id"],
        pool_id,
    )
    assert (await stack.wait_task(first["task_id"]))["state"] == "succeeded"
    vol = first["volume_id"]
    grow = [
        await _keyed(stack, "POST", f"/api/v1/volumes/{vol}/actions/resize", "grow-k",
                     json={"size_gib": 2})
        for _ in range(2)
    ]  # fmt: skip
    assert grow[0]["task_id"] == grow[1]["task_id"]
    assert (await stack.wait_task(grow[0]["task_id"]))["state"] == "succeeded"
    listed = await stack.get(f"/api/v1/volumes?pool_id={pool_id}")
    assert [(v["name"], v["size_bytes"]) for v in listed["items"]] == [("k.qcow2", 2 * GIB)]
    gone = [await _keyed(stack, "DELETE", f"/api/v1/volumes/{vol}", "drop-k") for _ in range(2)]
    assert gone[0]["task_id"] == gone[1]["task_id"]
    assert (await stack.wait_task(gone[0]["task_id"]))["state"] == "succeeded"
    again = await _keyed(stack, "DELETE", f"/api/v1/volumes/{vol}", "drop-k")  # after it is gone
    assert again["task_id"] == gone[0]["task_id"]
    status, problem, _ = await stack.request(
        "POST", f"/api/v1/tasks/{gone[0]['task_id']}/actions/cancel", json={}
    )
    assert status == 409 and problem["type"].endswith(":not-cancellable"), problem

    # a VM uses one volume; another is free
    used = await create_volume(stack, pool_id, "used.qcow2", 1)
    spare = await create_volume(stack, pool_id, "spare.qcow2", 1)
    await wait_volume(stack, used)
    await wait_volume(stack, spare)
    disks = [{"pool_id": pool_id, "volume": "used.qcow2"}]
    vm = await stack.command(
        "POST", "/api/v1/vms", json={"name": "user", "vcpus": 1, "memory_mib": 64, "disks": disks}
    )
    assert (await stack.wait_task(vm["task_id"]))["state"] == "succeeded"

    # the host goes away: a forced deletion waits for the VM, queued, and is cancelled
    await stack.stop_host("sim-1")
    forced = await stack.command("DELETE", f"/api/v1/volumes/{used}?force=true")
    cancel = await stack.command(
        "POST", f"/api/v1/tasks/{forced['task_id']}/actions/cancel", json={"reason": "oops"}
    )
    assert (cancel["volume_id"], cancel["pool_id"]) == (used, pool_id)
    task = await stack.wait_task(forced["task_id"])
    assert (task["state"], task["message"]) == ("cancelled", "oops"), task
    assert (await wait_volume(stack, used, "ready"))["error"] == "cancelled: oops"  # type: ignore[index]

    # once the host is disconnected, every volume operation on its pool fails, saying why
    await stack.wait_hosts(1, "disconnected")
    dropped = await stack.command("DELETE", f"/api/v1/volumes/{spare}")
    made = await stack.command(
        "POST", "/api/v1/volumes", json={"pool_id": pool_id, "name": "late.qcow2", "size_gib": 1}
    )
    for ended in (dropped, made):
        task = await stack.wait_task(ended["task_id"], timeout=10)
        assert task["state"] == "failed", task
        assert task["error"].startswith(f"host {host_id} is disconnected"), task
    kept = await wait_volume(stack, spare, "ready")  # the volume is still there
    assert kept is not None and kept["error"].startswith(f"host {host_id} is disconnected")
    failed = await wait_volume(stack, made["volume_id"], "failed")
    assert (
        failed is not None
        and (await wait_pool(stack, pool_id, "unreachable"))["allocated_bytes"] == 2 * GIB
    )  # used + spare; the failed creation gave its space back
