"""Storage pools and volumes end to end on simulated hosts (libvirt's test driver).

The whole stack runs (HTTP, NATS, PostgreSQL, projector, agents): a dir pool is realised
on its host and reports its size, volumes are created, grown, cloned, imported from a URL
and deleted on the host, capacity is accounted with its overcommit limit under races, and
bad input is refused with nothing appended.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

from aiohttp import web

from lq.embedded import free_port
from tests.integration.conftest import Stack, StackFactory
from tests.storage.helpers import (
    GIB,
    create_volume,
    make_pool,
    stream_seq,
    wait_pool,
    wait_volume,
)

GONE = "0190a0b2-7c3d-7e11-8a2b-1c2d3e4f5a6b"


async def _volumes_on_host(stack: Stack, host: str, pool_id: str) -> dict[str, int]:
    """What libvirt on the simulated host holds in the pool: name → capacity."""

    def listing(conn: Any) -> dict[str, int]:
        pool = conn.storagePoolLookupByName(pool_id)
        return {v.name(): int(v.info()[1]) for v in pool.listAllVolumes(0)}

    out: dict[str, int] = await stack.agents[host].hypervisor.run(listing)
    return out


async def test_bad_storage_input_is_refused_with_nothing_appended(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    root = str(tmp_path / "pools")
    stack = await make_stack(hosts=[(4, 4096)], storage_allowed_roots=root)
    host_id = await stack.host_id("sim-1")
    pool_id = await make_pool(stack, root, capacity_gib=5, host_ids=[host_id])
    vol = await create_volume(stack, pool_id, "v1", 2)
    await wait_volume(stack, vol)
    dir_pool = {"name": "x", "type": "dir"}
    cases: list[tuple[str, str, Any, int, str]] = [
        ("POST", "/api/v1/storage-pools", {**dir_pool, "params": {"path": "/etc/lq"}}, 422,
         "path-not-allowed"),
        ("POST", "/api/v1/storage-pools", {**dir_pool, "params": {"path": root}}, 422,
         "path-not-allowed"),
        ("POST", "/api/v1/storage-pools", {**dir_pool, "params": {"path": root + "/../x"}}, 422,
         "invalid-path"),
        ("POST", "/api/v1/storage-pools", {**dir_pool, "params": {"path": "relative"}}, 422,
         "invalid-body"),
        ("POST", "/api/v1/storage-pools", {**dir_pool, "params": {"path": root + "/a",
                                                                   "vg_name": "x"}}, 422,
         "invalid-body"),
        ("POST", "/api/v1/storage-pools", {**dir_pool, "params": {}}, 422, "invalid-body"),
        ("POST", "/api/v1/storage-pools", {"name": "x", "type": "zfs", "params": {}}, 422,
         "invalid-body"),
        ("POST", "/api/v1/storage-pools", {"name": "x", "type": "netfs",
                                           "params": {"path": "/mnt/x"}}, 422, "invalid-body"),
        ("POST", "/api/v1/storage-pools", {"name": "x", "type": "rbd",
                                           "params": {"rbd_pool": "a", "monitors": []}}, 422,
         "invalid-body"),
        ("POST", "/api/v1/storage-pools", {"name": "x", "type": "iscsi",
                                           "params": {"host": "h", "iqn": "bogus"}}, 422,
         "invalid-body"),
        ("POST", "/api/v1/storage-pools", {**dir_pool, "name": "bad name",
                                           "params": {"path": root + "/b"}}, 422,
         "invalid-body"),
        ("POST", "/api/v1/storage-pools", {**dir_pool, "params": {"path": root + "/c"},
                                           "colour": "red"}, 422, "invalid-body"),
        ("POST", "/api/v1/storage-pools", {**dir_pool, "params": {"path": root + "/c"},
                                           "overcommit": 0}, 422, "invalid-body"),
        ("POST", "/api/v1/storage-pools", {**dir_pool, "name": "p1",
                                           "params": {"path": root + "/d"}}, 409, "name-taken"),
        ("POST", "/api/v1/storage-pools", {**dir_pool, "params": {"path": root + "/e"},
                                           "host_ids": ["nowhere"]}, 422, "unknown-host"),
        ("PATCH", f"/api/v1/storage-pools/{pool_id}", {"overcommit": -1}, 422, "invalid-body"),
        ("PATCH", f"/api/v1/storage-pools/{pool_id}", {"capacity_gib": 1}, 409,
         "insufficient-capacity"),
        ("PATCH", f"/api/v1/storage-pools/{GONE}", {"name": "y"}, 404, "not-found"),
        ("DELETE", f"/api/v1/storage-pools/{pool_id}", None, 409, "pool-not-empty"),
        ("POST", f"/api/v1/storage-pools/{pool_id}/actions/attach", {}, 422, "invalid-body"),
        ("POST", f"/api/v1/storage-pools/{pool_id}/actions/attach", {"host_id": "nope"}, 422,
         "unknown-host"),
        ("POST", f"/api/v1/storage-pools/{pool_id}/actions/detach", {"host_id": host_id}, 409,
         "pool-in-use"),
        ("POST", f"/api/v1/storage-pools/{pool_id}/actions/explode", {}, 404, "not-found"),
        ("POST", "/api/v1/volumes", {"pool_id": pool_id, "name": "v", "size_gib": 0}, 422,
         "invalid-body"),
        ("POST", "/api/v1/volumes", {"pool_id": pool_id, "name": "v", "size_gib": 1,
                                     "format": "vmdk"}, 422, "invalid-body"),
        ("POST", "/api/v1/volumes", {"pool_id": pool_id, "name": "../v", "size_gib": 1}, 422,
         "invalid-body"),
        ("POST", "/api/v1/volumes", {"pool_id": pool_id, "name": "v1", "size_gib": 1}, 409,
         "invalid-state"),
        ("POST", "/api/v1/volumes", {"pool_id": pool_id, "name": "big", "size_gib": 4}, 409,
         "insufficient-capacity"),
        ("POST", "/api/v1/volumes", {"pool_id": GONE, "name": "v", "size_gib": 1}, 404,
         "not-found"),
        ("POST", f"/api/v1/volumes/{vol}/actions/resize", {"size_gib": 1}, 422,
         "shrink-not-supported"),
        ("POST", f"/api/v1/volumes/{vol}/actions/resize", {"size_gib": 6}, 409,
         "insufficient-capacity"),
        ("POST", f"/api/v1/volumes/{vol}/actions/resize", {"size": 6}, 422, "invalid-body"),
        ("POST", f"/api/v1/volumes/{vol}/actions/clone", {"name": "c", "pool_id": "x"}, 422,
         "invalid-body"),
        ("POST", f"/api/v1/volumes/{vol}/actions/clone", {"name": "big-clone"}, 201 and 202, ""),
        ("POST", f"/api/v1/volumes/{GONE}/actions/resize", {"size_gib": 9}, 404, "not-found"),
        ("DELETE", f"/api/v1/volumes/{vol}?force=perhaps", None, 400, "invalid-parameter"),
        ("POST", "/api/v1/volumes/import", {"pool_id": pool_id, "name": "i",
                                            "url": "file:///etc/passwd"}, 422, "invalid-body"),
        ("POST", "/api/v1/volumes/import", {"pool_id": pool_id, "name": "i", "url": "http://x",
                                            "format": "iso"}, 422, "invalid-body"),
    ]  # fmt: skip
    cases = [c for c in cases if c[4]]  # the clone above fits: it is not bad input
    before = await stream_seq(stack)
    for method, path, body, status, slug in cases:
        kw: dict[str, Any] = {} if body is None else {"json": body}
        got, problem, ctype = await stack.request(method, path, **kw)
        assert (got, problem.get("type") if isinstance(problem, dict) else problem) == (
            status,
            f"urn:limiquantix:problem:{slug}",
        ), (method, path, body, problem)
        assert ctype.startswith("application/problem+json") and problem["detail"]
    assert await stream_seq(stack) == before


async def test_dir_pool_and_volumes_on_a_simulated_host(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    root = str(tmp_path / "pools")
    stack = await make_stack(hosts=[(4, 4096)], storage_allowed_roots=root)
    host_id = await stack.host_id("sim-1")
    pool_id = await make_pool(stack, root, "local", overcommit=2.0)
    assert (await wait_pool(stack, pool_id, "detached"))["host_count"] == 0
    # a VM pinned to a host cannot have a disk on a pool that host does not have, nor any
    # VM a disk on a pool or a NIC on a network that does not exist: refused, nothing kept
    before = await stream_seq(stack)
    vm = {"name": "refused", "vcpus": 1, "memory_mib": 64}
    for body, code, slug in [
        ({**vm, "host_id": host_id, "disks": [{"size_gib": 1, "pool_id": pool_id}]}, 409,
         "pool-not-on-host"),
        ({**vm, "disks": [{"size_gib": 1, "pool_id": GONE}]}, 422, "unknown-pool"),
        ({**vm, "disks": [{"pool_id": pool_id, "volume": "none.qcow2"}]}, 422, "unknown-volume"),
        ({**vm, "nics": [{"network_id": GONE}]}, 422, "unknown-network"),
    ]:  # fmt: skip
        status, problem, _ = await stack.request("POST", "/api/v1/vms", json=body)
        assert (status, problem["type"]) == (code, f"urn:limiquantix:problem:{slug}"), problem
    assert (
        "not attached to host sim-1"
        in (
            await stack.request(
                "POST",
                "/api/v1/vms",
                json={**vm, "host_id": host_id, "disks": [{"size_gib": 1, "pool_id": pool_id}]},
            )
        )[1]["detail"]
    )
    assert await stream_seq(stack) == before
    await stack.command(
        "POST", f"/api/v1/storage-pools/{pool_id}/actions/attach", json={"host_id": host_id}
    )
    pool = await wait_pool(stack, pool_id)
    (host,) = pool["hosts"]
    assert host["host_id"] == host_id and host["state"] == "active"
    assert host["host_name"] == "sim-1" and host["capacity_bytes"] > 0
    assert pool["capacity_bytes"] == host["capacity_bytes"]
    assert pool["limit_bytes"] == 2 * pool["capacity_bytes"]

    # every volume operation is a task: queued, running on the pool's host, succeeded
    made = await stack.command(
        "POST", "/api/v1/volumes", json={"pool_id": pool_id, "name": "data.qcow2", "size_gib": 1}
    )
    vol = made["volume_id"]
    assert made["pool_id"] == pool_id and made["seq"] > 0
    task = await stack.wait_task(made["task_id"])
    assert task["state"] == "succeeded" and task["host_id"] == host_id, task
    assert (task["operation"], task["target_kind"], task["target_id"]) == (
        "volume.create", "volume", vol
    )  # fmt: skip
    assert task["target_name"] == "data.qcow2" and task["started_at"] is not None
    trace = await stack.get(f"/api/v1/tasks/{made['task_id']}/events")
    assert [e["type"] for e in trace["items"]] == [
        "volume.created", "task.queued", "task.running", "volume.ready", "task.succeeded"
    ]  # fmt: skip
    ready = await wait_volume(stack, vol)
    assert ready is not None
    assert ready["pool_name"] == "local" and ready["size_bytes"] == GIB and ready["path"]
    assert ready["attached_to"] == [] and ready["host_id"] == host_id
    assert (await _volumes_on_host(stack, "sim-1", pool_id)) == {"data.qcow2": GIB}

    grown = await stack.command(
        "POST", f"/api/v1/volumes/{vol}/actions/resize", json={"size_gib": 3}
    )
    task = await stack.wait_task(grown["task_id"])
    assert (task["operation"], task["state"]) == ("volume.resize", "succeeded"), task
    assert (await wait_volume(stack, vol, "ready", 20)) is not None
    for _ in range(100):
        if (await stack.get(f"/api/v1/volumes/{vol}"))["size_bytes"] == 3 * GIB:
            break
        await asyncio.sleep(0.1)
    assert (await _volumes_on_host(stack, "sim-1", pool_id))["data.qcow2"] == 3 * GIB

    cloning = await stack.command(
        "POST", f"/api/v1/volumes/{vol}/actions/clone", json={"name": "copy.qcow2"}
    )
    clone = cloning["volume_id"]
    task = await stack.wait_task(cloning["task_id"])
    assert (task["operation"], task["state"]) == ("volume.clone", "succeeded"), task
    assert (await wait_volume(stack, clone)) is not None
    listed = await stack.get(f"/api/v1/volumes?pool_id={pool_id}")
    assert [v["name"] for v in listed["items"]] == ["copy.qcow2", "data.qcow2"]
    assert (await wait_pool(stack, pool_id))["allocated_bytes"] == 6 * GIB

    # a VM disk that uses the volume: deleting it is refused, forcing detaches first
    made = await stack.command(
        "POST",
        "/api/v1/vms",
        json={"name": "user", "vcpus": 1, "memory_mib": 128,
              "disks": [{"size_gib": 1}, {"size_gib": 3, "pool_id": pool_id,
                                           "volume": "data.qcow2"}]},
    )  # fmt: skip
    task = await stack.wait_task(made["task_id"])
    assert task["state"] == "succeeded", task
    seen = await stack.get(f"/api/v1/volumes/{vol}?min_seq={task['seq']}")
    assert seen["attached_to"] == [{"vm_id": made["vm_id"], "vm_name": "user", "disk_id": "disk1"}]
    status, problem, _ = await stack.request("DELETE", f"/api/v1/volumes/{vol}")
    assert status == 409 and problem["type"].endswith(":volume-in-use"), problem
    forced = await stack.command("DELETE", f"/api/v1/volumes/{vol}?force=true")
    task = await stack.wait_task(forced["task_id"])
    assert (task["operation"], task["state"]) == ("volume.delete", "succeeded"), task
    assert (await wait_volume(stack, vol, "gone")) is None
    vm = await stack.get(f"/api/v1/vms/{made['vm_id']}")
    assert [d["disk_id"] for d in vm["disks"]] == ["disk0"]
    assert set(await _volumes_on_host(stack, "sim-1", pool_id)) == {"copy.qcow2"}

    await stack.command("DELETE", f"/api/v1/volumes/{clone}")
    assert (await wait_volume(stack, clone, "gone")) is None
    pool = await wait_pool(stack, pool_id)
    assert pool["allocated_bytes"] == 0 and pool["volume_count"] == 0
    await stack.command("POST", f"/api/v1/storage-pools/{pool_id}/actions/refresh", json={})
    await stack.command(
        "POST", f"/api/v1/storage-pools/{pool_id}/actions/detach", json={"host_id": host_id}
    )
    await wait_pool(stack, pool_id, "detached")
    # the placed VM's host no longer has the pool: its disks and NICs are checked too
    vm_events = f"/api/v1/vms/{made['vm_id']}/events?limit=500"
    held = len((await stack.get(vm_events))["items"])
    for path, part, code, slug in [
        ("disks", {"size_gib": 1, "pool_id": pool_id}, 409, "pool-not-on-host"),
        ("disks", {"size_gib": 1, "pool_id": GONE}, 422, "unknown-pool"),
        ("nics", {"network_id": GONE}, 422, "unknown-network"),
    ]:
        status, problem, _ = await stack.request(
            "POST", f"/api/v1/vms/{made['vm_id']}/{path}", json=part
        )
        assert (status, problem["type"]) == (code, f"urn:limiquantix:problem:{slug}"), problem
    assert len((await stack.get(vm_events))["items"]) == held
    await stack.command("DELETE", f"/api/v1/storage-pools/{pool_id}")
    for _ in range(100):
        status, _body, _ = await stack.request("GET", f"/api/v1/storage-pools/{pool_id}")
        if status == 404:
            break
        await asyncio.sleep(0.1)
    assert status == 404

    def defined(conn: Any) -> list[str]:
        return [str(p.name()) for p in conn.listAllStoragePools(0)]

    assert pool_id not in await stack.agents["sim-1"].hypervisor.run(defined)


async def test_concurrent_creations_never_overbook_a_pool(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    root = str(tmp_path / "pools")
    stack = await make_stack(hosts=[(4, 4096)], storage_allowed_roots=root)
    host_id = await stack.host_id("sim-1")
    pool_id = await make_pool(stack, root, capacity_gib=10, host_ids=[host_id])
    await create_volume(stack, pool_id, "base", 6)

    async def create(name: str, gib: int) -> str:
        """``created``, or the problem slug of the refusal."""
        status, body, _ = await stack.request(
            "POST", "/api/v1/volumes", json={"pool_id": pool_id, "name": name, "size_gib": gib}
        )
        if status == 202:
            return "created"
        assert status == 409, body
        return str(body["type"]).rsplit(":", 1)[-1]

    # two racing for the last 4 GiB: exactly one wins, the other is refused for capacity
    assert sorted(await asyncio.gather(create("a", 4), create("b", 4))) == [
        "created",
        "insufficient-capacity",
    ]
    # twelve 1 GiB creations into a pool made 6 GiB bigger: never more than six fit (a
    # request that lost the append race more than append_retries times is told to retry)
    await stack.command("PATCH", f"/api/v1/storage-pools/{pool_id}", json={"capacity_gib": 16})
    results = await asyncio.gather(*(create(f"c{i}", 1) for i in range(12)))
    assert set(results) <= {"created", "insufficient-capacity", "concurrent-modification"}
    assert 1 <= results.count("created") <= 6
    retried = [await create(f"c{i}", 1) for i, r in enumerate(results) if r != "created"]
    assert results.count("created") + retried.count("created") == 6
    pool = await wait_pool(stack, pool_id)
    for _ in range(100):
        pool = await stack.get(f"/api/v1/storage-pools/{pool_id}")
        if pool["volume_count"] == 8:  # base, a, six of c*
            break
        await asyncio.sleep(0.1)
    assert pool["allocated_bytes"] == 16 * GIB == pool["limit_bytes"]


async def test_import_from_url_streams_the_image_into_a_volume(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    virtual = 2 * GIB
    image = b"QFI\xfb" + b"\0\0\0\3" + b"\0" * 16 + virtual.to_bytes(8, "big") + b"\0" * 300_000

    async def serve(request: web.Request) -> web.StreamResponse:
        if request.path == "/missing.qcow2":
            raise web.HTTPNotFound()
        return web.Response(body=image if request.path == "/img.qcow2" else b"not an image")

    app = web.Application()
    app.router.add_get("/{name}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        root = str(tmp_path / "pools")
        stack = await make_stack(hosts=[(4, 4096)], storage_allowed_roots=root)
        host_id = await stack.host_id("sim-1")
        pool_id = await make_pool(stack, root, capacity_gib=20, host_ids=[host_id])
        base = f"http://127.0.0.1:{port}"

        tasks: dict[str, str] = {}

        async def importing(name: str, path: str, **extra: Any) -> str:
            made = await stack.command(
                "POST",
                "/api/v1/volumes/import",
                json={"pool_id": pool_id, "name": name, "url": base + path, **extra},
            )
            tasks[made["volume_id"]] = made["task_id"]
            return str(made["volume_id"])

        good = await importing("img.qcow2", "/img.qcow2", size_gib=1)
        done = await wait_volume(stack, good)
        assert done is not None and done["size_bytes"] == virtual and done["source_url"]
        assert done["operation"] == "import" and done["progress"] == 100
        missing = await importing("m.qcow2", "/missing.qcow2")
        failed = await wait_volume(stack, missing, "failed")
        assert failed is not None and "404" in failed["error"]
        task = await stack.wait_task(tasks[missing])  # the host's reason ends the task
        assert (task["operation"], task["state"]) == ("volume.import", "failed"), task
        assert task["error"] == failed["error"] and failed["task_id"] == tasks[missing]
        assert (await stack.wait_task(tasks[good]))["state"] == "succeeded"
        notqcow = await importing("n.qcow2", "/other")
        failed = await wait_volume(stack, notqcow, "failed")
        assert failed is not None and "not a qcow2 image" in failed["error"]
        pool = await stack.get(f"/api/v1/storage-pools/{pool_id}")
        assert pool["allocated_bytes"] == virtual  # failed imports gave their space back
    finally:
        await runner.cleanup()


async def test_a_host_that_goes_away_and_comes_back_realises_its_pools_again(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    root = str(tmp_path / "pools")
    stack = await make_stack(hosts=[(4, 4096)], storage_allowed_roots=root)
    host_id = await stack.host_id("sim-1")
    pool_id = await make_pool(stack, root, host_ids=[host_id])
    await wait_pool(stack, pool_id)
    await stack.stop_host("sim-1")
    pool = await wait_pool(stack, pool_id, "unreachable", timeout=30)
    assert "host disconnected" in pool["hosts"][0]["error"]
    # a new agent run on a fresh simulated host (its libvirt has no such pool any more)
    agent = await stack.add_host("sim-1")
    assert agent.host_id == host_id
    pool = await wait_pool(stack, pool_id, "active", timeout=30)
    assert pool["hosts"][0]["error"] == ""
    assert await _volumes_on_host(stack, "sim-1", pool_id) == {}


async def test_a_shared_pool_attaches_to_several_hosts(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    """An NFS pool on two simulated hosts (the test driver starts it without mounting):
    each host reports it, a volume is made once, on one of them."""
    stack = await make_stack(hosts=[(4, 4096), (4, 4096)])
    hosts = [await stack.host_id("sim-1"), await stack.host_id("sim-2")]
    body = {
        "name": "nfs",
        "type": "netfs",
        "params": {"host": "nfs.example.org", "source_path": "/export", "path": "/mnt/lq"},
        "host_ids": hosts,
    }
    status, made, _ = await stack.request("POST", "/api/v1/storage-pools", json=body)
    assert status == 201, made
    pool = await wait_pool(stack, made["pool_id"])
    assert sorted(h["host_id"] for h in pool["hosts"]) == sorted(hosts)
    assert {h["state"] for h in pool["hosts"]} == {"active"}
    vol = await create_volume(stack, made["pool_id"], "shared.qcow2", 1)
    ready = await wait_volume(stack, vol)
    assert ready is not None and ready["host_id"] in hosts
    status, problem, _ = await stack.request(
        "POST", "/api/v1/storage-pools", json={**body, "name": "d", "type": "dir",
                                               "params": {"path": "/x/y"}},
    )  # fmt: skip
    assert status == 409 and problem["type"].endswith(":pool-not-shared")


async def test_upload_relays_a_file_into_a_volume(make_stack: StackFactory, tmp_path: Path) -> None:
    root = str(tmp_path / "pools")
    stack = await make_stack(hosts=[(4, 4096)], storage_allowed_roots=root)
    host_id = await stack.host_id("sim-1")
    pool_id = await make_pool(stack, root, capacity_gib=20, host_ids=[host_id])
    virtual = 3 * GIB
    image = b"QFI\xfb" + b"\0\0\0\3" + b"\0" * 16 + virtual.to_bytes(8, "big")
    image += bytes(range(256)) * 6000  # ~1.5 MB: several relayed chunks

    async def upload(name: str, data: bytes, fmt: str = "qcow2", **kw: Any) -> tuple[int, Any]:
        status, body, _ = await stack.request(
            "POST",
            f"/api/v1/volumes/upload?pool_id={pool_id}&name={name}&format={fmt}",
            data=io.BytesIO(data),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(data))},
            **kw,
        )
        return status, body

    status, made = await upload("up.qcow2", image)
    assert status == 202, made
    done = await wait_volume(stack, made["volume_id"])
    assert done is not None and done["size_bytes"] == virtual and done["operation"] == "import"
    status, made = await upload("blob.raw", b"x" * 4096, "raw")
    assert status == 202, made
    done = await wait_volume(stack, made["volume_id"])
    assert done is not None and done["size_bytes"] == 4096
    status, made = await upload("bad.qcow2", b"not an image")
    assert status == 202  # every byte reached the host; it refuses the content
    failed = await wait_volume(stack, made["volume_id"], "failed")
    assert failed is not None and "not a qcow2 image" in failed["error"]
    task = await stack.wait_task(made["task_id"])
    assert (task["operation"], task["state"], task["error"]) == (
        "volume.upload", "failed", failed["error"]
    )  # fmt: skip
    assert task["started_at"] is not None  # running once the host took the relay
    before = await stream_seq(stack)
    for path, code, slug in [
        (f"/api/v1/volumes/upload?pool_id={pool_id}&name=x&format=vmdk", 400, "invalid-parameter"),
        (f"/api/v1/volumes/upload?pool_id={pool_id}&name=../x", 400, "invalid-parameter"),
        (f"/api/v1/volumes/upload?pool_id={pool_id}", 400, "invalid-parameter"),
        (f"/api/v1/volumes/upload?pool_id={GONE}&name=x", 404, "not-found"),
        (f"/api/v1/volumes/upload?pool_id={pool_id}&name=up.qcow2", 409, "invalid-state"),
    ]:
        status, problem, _ = await stack.request("POST", path, data=b"abc")
        assert (status, problem["type"]) == (code, f"urn:limiquantix:problem:{slug}"), path
    assert await stream_seq(stack) == before
