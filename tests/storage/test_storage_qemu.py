"""Storage on a real libvirtd (``qemu:///system``): a dir pool and its volumes for real.

The pool lives in this test's temporary directory (an allowed root), named by its pool
id, and everything the API says is checked against ``virsh vol-list`` and the files on
disk; the pool is undefined and its directory removed at the end whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import subprocess
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt
import pytest
from aiohttp import web

from agent.service import Agent
from events import settings as settings_mod
from lq.embedded import free_port
from tests.integration.conftest import Stack, StackFactory, _plain
from tests.storage.helpers import GIB, create_volume, make_pool, wait_pool, wait_volume

pytestmark = pytest.mark.qemu


def virsh(uri: str, *args: str) -> str:
    done = subprocess.run(
        ["virsh", "-c", uri, *args], capture_output=True, text=True, timeout=30, check=True
    )
    return done.stdout


def vol_list(uri: str, pool_id: str) -> dict[str, str]:
    """``virsh vol-list <pool>``: volume name → path."""
    out = {}
    for line in virsh(uri, "vol-list", pool_id).splitlines()[2:]:
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = parts[1]
    return out


@pytest.fixture
def pools_root(qemu_uri: str, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "pools"
    root.mkdir()
    yield root
    conn = libvirt.open(qemu_uri)
    try:
        for pool in conn.listAllStoragePools(0):
            with contextlib.suppress(libvirt.libvirtError):
                if target_path(pool).startswith(str(root)):
                    if pool.isActive():
                        for vol in pool.listAllVolumes(0):
                            vol.delete(0)
                        pool.destroy()
                    pool.undefine()
    finally:
        conn.close()


def target_path(pool: libvirt.virStoragePool) -> str:
    return ET.fromstring(pool.XMLDesc(0)).findtext("target/path") or ""


def _qemu_img_create(path: Path, size: str) -> None:
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), size], check=True)


def _qemu_img_info(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["qemu-img", "info", "--output=json", "-U", str(path)],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    info: dict[str, Any] = json.loads(out.stdout)
    return info


async def _import(stack: Stack, pool_id: str, image: Path) -> str:
    """Serve ``image`` over HTTP for the duration of its import; the new volume's id."""
    app = web.Application()

    async def serve(_request: web.Request) -> web.FileResponse:
        return web.FileResponse(image)

    app.router.add_get("/img.qcow2", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        made = await stack.command(
            "POST",
            "/api/v1/volumes/import",
            json={"pool_id": pool_id, "name": "img.qcow2", "size_gib": 1,
                  "url": f"http://127.0.0.1:{port}/img.qcow2"},
        )  # fmt: skip
        vol_id = str(made["volume_id"])
        for _ in range(300):
            got = await stack.get(f"/api/v1/volumes/{vol_id}?min_seq={made['seq']}")
            if got["state"] != "creating":
                break
            await asyncio.sleep(0.1)
        return vol_id
    finally:
        await runner.cleanup()


async def test_dir_pool_volumes_on_real_libvirtd(
    make_stack: StackFactory, qemu_uri: str, pools_root: Path
) -> None:
    stack = await make_stack(storage_allowed_roots=str(pools_root))
    name = f"lqtest-st-{uuid.uuid4().hex[:8]}"
    agent = Agent(
        settings_mod.load({**_plain(stack.settings), "agent_name": name}, env={}),
        hypervisor_uri=qemu_uri,
    )
    stop = asyncio.Event()
    stack.agents[name], stack.agent_stops[name] = agent, stop
    stack.tasks.append(asyncio.create_task(agent.run(stop), name=f"agent-{name}"))
    await asyncio.wait_for(agent.ready.wait(), 60)
    host_id = await stack.host_id(name)

    pool_id = await make_pool(stack, str(pools_root), "real", host_ids=[host_id])
    pool = await wait_pool(stack, pool_id)
    directory = pools_root / "real"
    assert directory.is_dir() and pool["capacity_bytes"] > 0 and pool["available_bytes"] > 0
    info = virsh(qemu_uri, "pool-info", pool_id)
    assert "running" in info and "Autostart:      yes" in info.replace("\t", " ")

    vol = await create_volume(stack, pool_id, "data.qcow2", 1)
    made = await wait_volume(stack, vol)
    assert made is not None and made["path"] == str(directory / "data.qcow2")
    assert vol_list(qemu_uri, pool_id) == {"data.qcow2": str(directory / "data.qcow2")}
    assert (directory / "data.qcow2").is_file()
    raw = await create_volume(stack, pool_id, "thick.raw", 1, format="raw", thin=False)
    assert (await wait_volume(stack, raw)) is not None
    assert (directory / "thick.raw").stat().st_blocks * 512 >= GIB  # fully allocated

    await stack.command("POST", f"/api/v1/volumes/{vol}/actions/resize", json={"size_gib": 2})
    for _ in range(200):
        got = await stack.get(f"/api/v1/volumes/{vol}")
        if got["state"] == "ready" and got["size_bytes"] == 2 * GIB:
            break
        await asyncio.sleep(0.1)
    assert got["size_bytes"] == 2 * GIB
    vol_info = virsh(qemu_uri, "vol-info", "--pool", pool_id, "data.qcow2")
    assert "2.00 GiB" in vol_info, vol_info

    clone = (
        await stack.command(
            "POST", f"/api/v1/volumes/{vol}/actions/clone", json={"name": "copy.qcow2"}
        )
    )["volume_id"]
    assert (await wait_volume(stack, clone)) is not None
    assert "copy.qcow2" in vol_list(qemu_uri, pool_id)
    assert _qemu_img_info(directory / "copy.qcow2")["virtual-size"] == 2 * GIB

    image = pools_root / "served.qcow2"
    _qemu_img_create(image, "3G")
    imported = await _import(stack, pool_id, image)
    got = await wait_volume(stack, imported, timeout=60)
    assert got is not None and got["size_bytes"] == 3 * GIB
    img = _qemu_img_info(directory / "img.qcow2")
    assert img["format"] == "qcow2" and img["virtual-size"] == 3 * GIB

    data = image.read_bytes()
    status, made, _ = await stack.request(
        "POST",
        f"/api/v1/volumes/upload?pool_id={pool_id}&name=up.qcow2",
        data=io.BytesIO(data),
        headers={"Content-Length": str(len(data))},
    )
    assert status == 202, made
    uploaded = made["volume_id"]
    got = await wait_volume(stack, uploaded, timeout=60)
    assert got is not None and got["size_bytes"] == 3 * GIB
    assert _qemu_img_info(directory / "up.qcow2")["virtual-size"] == 3 * GIB
    assert set(vol_list(qemu_uri, pool_id)) == {
        "data.qcow2", "thick.raw", "copy.qcow2", "img.qcow2", "up.qcow2"
    }  # fmt: skip

    for ident in (vol, raw, clone, imported, uploaded):
        await stack.command("DELETE", f"/api/v1/volumes/{ident}")
        assert (await wait_volume(stack, ident, "gone")) is None
    assert vol_list(qemu_uri, pool_id) == {}
    assert not (directory / "data.qcow2").exists() and not (directory / "thick.raw").exists()
    assert not (directory / "copy.qcow2").exists() and not (directory / "img.qcow2").exists()
    assert not (directory / "up.qcow2").exists()

    await stack.command(
        "POST", f"/api/v1/storage-pools/{pool_id}/actions/detach", json={"host_id": host_id}
    )
    await wait_pool(stack, pool_id, "detached")
    for _ in range(100):
        if pool_id not in virsh(qemu_uri, "pool-list", "--all", "--name").split():
            break
        await asyncio.sleep(0.1)
    assert pool_id not in virsh(qemu_uri, "pool-list", "--all", "--name").split()
    assert directory.is_dir()  # undefining a pool keeps its data
