"""The storage read model: a failed resize shows the old size again, and the live tables
equal a replay of the stream into a fresh schema (what ``lq verify`` checks)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import psycopg

from events.bus import Bus
from projections import rebuild, schema
from tests.integration.conftest import StackFactory
from tests.storage.helpers import GIB, create_volume, make_pool, stream_seq, wait_volume

TABLES = ("storage_pools", "storage_pool_hosts", "volumes")


async def test_failed_resize_and_replay_equality(make_stack: StackFactory, tmp_path: Path) -> None:
    root = str(tmp_path / "pools")
    stack = await make_stack(hosts=[(4, 4096)], storage_allowed_roots=root)
    host_id = await stack.host_id("sim-1")
    pool_id = await make_pool(stack, root, capacity_gib=10, host_ids=[host_id])
    keep = await create_volume(stack, pool_id, "keep.qcow2", 2)
    gone = await create_volume(stack, pool_id, "gone.qcow2", 1)
    for v in (keep, gone):
        await wait_volume(stack, v)
    await stack.command("POST", f"/api/v1/volumes/{keep}/actions/resize", json={"size_gib": 3})

    def drop(conn: Any) -> None:  # the file vanishes behind LimiQuantix' back
        conn.storagePoolLookupByName(pool_id).storageVolLookupByName("gone.qcow2").delete(0)

    await stack.agents["sim-1"].hypervisor.run(drop)
    await stack.command("POST", f"/api/v1/volumes/{gone}/actions/resize", json={"size_gib": 4})
    failed: dict[str, Any] = {}
    for _ in range(200):
        failed = await stack.get(f"/api/v1/volumes/{gone}")
        if failed["error"]:
            break
        await asyncio.sleep(0.1)
    assert failed["state"] == "ready" and failed["size_bytes"] == GIB, failed
    assert "no volume gone.qcow2" in failed["error"]
    pool = await stack.get(f"/api/v1/storage-pools/{pool_id}")
    assert pool["allocated_bytes"] == 4 * GIB  # keep grown to 3, gone back at 1
    await stack.command("DELETE", f"/api/v1/volumes/{gone}")
    assert await wait_volume(stack, gone, "gone") is None

    await stack.get(f"/api/v1/volumes?min_seq={await stream_seq(stack)}")
    settings = stack.settings
    bus = await Bus.connect(settings.nats_url, name="test-verify")
    try:
        async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
            await schema.create(conn, "verify")
            await schema.use_schema(conn, "verify")
            await rebuild.replay_into(bus.store, conn, 1, None, 7)
    finally:
        await bus.close()
    diff = await rebuild.compare(settings, settings.db_schema, "verify")
    mine = [d for d in diff if d.split(" ", 1)[0] in TABLES]
    assert mine == []
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        cur = await conn.execute("SELECT count(*) FROM verify.volumes")
        assert (await cur.fetchone()) == (1,)
