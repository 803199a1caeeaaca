"""Backup and restore: the event stream is the backup; read models are rebuilt from it.

A running deployment's nats-server is stopped and its JetStream store directory copied
(every stream and KV bucket: events, and the password hashes in ``lq_credentials``).
A fresh deployment starts a new nats-server on the copy and an empty PostgreSQL
database, runs ``lq projections rebuild`` and must answer exactly what the original did:
every read-model row equal, and the admin can sign in with the same password.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest

from lq.embedded import NatsServer, Postgres, free_port, start_nats
from projections.rebuild import TABLES
from tests.conftest import with_dbname
from tests.integration.conftest import ADMIN_PASSWORD, Stack, StackFactory
from tests.operate.conftest import LQ, wait_ready_checks


async def read_model(url: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    async with await psycopg.AsyncConnection.connect(url) as conn:
        for table, key in TABLES.items():
            cur = await conn.execute(
                f"SELECT to_jsonb(x) FROM lq.{table} x ORDER BY {', '.join(key)}"
            )
            out[table] = [row[0] for row in await cur.fetchall()]
        cur = await conn.execute("SELECT seq FROM lq.checkpoint")
        out["checkpoint"] = [row[0] for row in await cur.fetchall()]
    return out


async def quiet(stack: Stack) -> None:
    """Wait until the projector has applied everything the controlplane appended."""
    async with asyncio.timeout(20):
        while True:
            checks = await wait_ready_checks(stack.base)
            if checks["projector_lag"] == 0:
                return
            await asyncio.sleep(0.1)


@pytest.mark.timeout(180)
async def test_restore_from_a_copy_of_the_jetstream_store(
    make_stack: StackFactory,
    nats_server: NatsServer,
    pg_server: Postgres,
    pg_url: str,
    tmp_path: Path,
) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    vm_ids = []
    for name, start in [("db-1", True), ("web-1", False)]:
        made = await stack.command(
            "POST",
            "/api/v1/vms",
            json={"name": name, "vcpus": 1, "memory_mib": 256, "start": start},
        )
        await stack.wait_task(made["task_id"])
        vm_ids.append(made["vm_id"])
    stopped = await stack.command("POST", f"/api/v1/vms/{vm_ids[0]}/actions/stop")
    await stack.wait_task(stopped["task_id"])
    await quiet(stack)
    original = await read_model(pg_url)

    # the backup: stop the server, copy its JetStream store, start it again
    nats_server.stop()
    backup = tmp_path / "backup"
    shutil.copytree(nats_server.store_dir / "jetstream", backup / "jetstream")
    nats_server.restart()

    # a fresh deployment restored from the copy
    shutil.copytree(backup / "jetstream", tmp_path / "restored-nats" / "jetstream")
    restored_nats = start_nats(tmp_path / "restored-nats")
    fresh_db = "r_" + uuid.uuid4().hex[:16]
    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{fresh_db}"')
    fresh_url = with_dbname(pg_server.url, fresh_db)
    env = {
        **os.environ,
        "LQ_NATS_URL": restored_nats.url,
        "LQ_DATABASE_URL": fresh_url,
        "LQ_DATA_DIR": str(tmp_path / "restored-data"),
    }
    try:
        rebuilt = await asyncio.to_thread(
            subprocess.run,
            [LQ, "projections", "rebuild"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert "rebuilt read models from" in rebuilt.stdout
        restored = await read_model(fresh_url)
        assert restored["checkpoint"] == original["checkpoint"]
        for table in TABLES:
            assert restored[table] == original[table], table

        # the restored controlplane knows the admin's password (KV lq_credentials came along)
        await sign_in_and_list(env, tmp_path, vm_ids)
    finally:
        restored_nats.stop()
        with psycopg.connect(pg_server.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{fresh_db}" WITH (FORCE)')


def spawn(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            [LQ, "controlplane", "--port", str(port)], env=env, stdout=out, stderr=out
        )


async def sign_in_and_list(env: dict[str, str], tmp_path: Path, vm_ids: list[str]) -> None:
    port = free_port()
    # the signing key is a fresh one: sessions of the old deployment do not carry over
    proc = spawn(env, port, tmp_path / "restored-controlplane.log")
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_ready_checks(base)
        async with aiohttp.ClientSession() as s:
            async with s.post(
                base + "/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
            ) as resp:
                assert resp.status == 200, await resp.text()
                token = (await resp.json())["access_token"]
            async with s.get(
                base + "/api/v1/vms", headers={"Authorization": f"Bearer {token}"}
            ) as resp:
                items = (await resp.json())["items"]
        assert sorted(v["id"] for v in items) == sorted(vm_ids)
    finally:
        proc.terminate()
        proc.wait(20)
