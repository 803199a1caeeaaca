"""Backup and restore: ``lq backup`` of a running deployment, ``lq restore`` into a new one.

A running deployment is backed up online (``lq backup``: JetStream snapshots of the event
stream and the credentials bucket, into one file with a checksummed manifest); a VM
created afterwards is not in the backup. A fresh nats-server refuses nothing it should
accept and accepts nothing it should refuse: a damaged file is refused before anything is
created, a good one restores every event with its sequence number, and a second restore
is refused because the streams now exist. A projector on an empty database then rebuilds
the read models, which must equal the original's row for row, and the admin signs in to a
restored controlplane with the original password.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tarfile
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import nats
import psycopg
import pytest

from events import backup, natsauth
from events import settings as settings_mod
from events.settings import Settings
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


async def lq(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [LQ, *args], env=env, capture_output=True, text=True, timeout=60
    )


async def messages(url: str, stream: str, seed: str | None = None) -> list[tuple[int, str, bytes]]:
    """Every message of ``stream``: sequence, subject, payload."""
    nc = await nats.connect(url, nkeys_seed=seed)
    try:
        js = nc.jetstream()
        last = (await js.stream_info(stream)).state.last_seq
        out = []
        for seq in range(1, last + 1):
            msg = await js.get_msg(stream, seq)
            out.append((int(msg.seq or 0), str(msg.subject), bytes(msg.data or b"")))
        return out
    finally:
        await nc.close()


async def stream_names(url: str) -> list[str]:
    nc = await nats.connect(url)
    try:
        return [info.config.name or "" for info in await nc.jetstream().streams_info()]
    finally:
        await nc.close()


def damage(good: Path, bad: Path) -> None:
    """A copy of ``good`` with one byte of the event stream's snapshot flipped."""
    shutil.copy(good, bad)
    with tarfile.open(good) as tar:
        offset = tar.getmember(f"{backup.EVENTS}.tar.s2").offset_data
    with open(bad, "r+b") as f:
        f.seek(offset + 10)
        byte = f.read(1)
        f.seek(offset + 10)
        f.write(bytes([byte[0] ^ 0xFF]))


async def caught_up(url: str, seq: int) -> None:
    """Wait until the read model at ``url`` has applied the stream up to ``seq``."""
    async with asyncio.timeout(60):
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(url) as conn:
                    cur = await conn.execute("SELECT max(seq) FROM lq.checkpoint")
                    row = await cur.fetchone()
                    if row and row[0] is not None and int(row[0]) >= seq:
                        return
            except psycopg.errors.UndefinedTable:
                pass  # the projector has not created its schema yet
            await asyncio.sleep(0.1)


@pytest.mark.timeout(180)
async def test_online_backup_restores_a_fresh_deployment(
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
    kept = await messages(nats_server.url, backup.EVENTS)

    # the backup, taken while the deployment runs; what happens after it is not in it
    file = tmp_path / "lq.backup"
    cli_env = {**os.environ, "LQ_NATS_URL": nats_server.url}
    cli_env.pop("LQ_DATABASE_URL", None)
    taken = await lq(cli_env, "backup", "--out", str(file), "--data-dir", str(tmp_path / "cli"))
    assert taken.returncode == 0, taken.stderr
    manifest = backup.read_manifest(file)
    events = next(p for p in manifest.streams if p.name == backup.EVENTS)
    assert events.last_seq == original["checkpoint"][0]
    assert f"up to seq {events.last_seq}" in taken.stdout
    assert oct(file.stat().st_mode & 0o777) == oct(0o600)
    assert [seq for seq, _, _ in kept] == list(range(1, events.last_seq + 1))
    late = await stack.command(
        "POST", "/api/v1/vms", json={"name": "late-1", "vcpus": 1, "memory_mib": 256}
    )
    await stack.wait_task(late["task_id"])
    with pytest.raises(backup.BackupError, match="exists: choose a new file name"):
        await backup.backup(stack.settings, file)

    # a fresh deployment: a damaged file is refused and nothing is created
    fresh = start_nats(tmp_path / "restored-nats")
    fresh_db = "r_" + uuid.uuid4().hex[:16]
    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{fresh_db}"')
    fresh_url = with_dbname(pg_server.url, fresh_db)
    env = {
        **os.environ,
        "LQ_NATS_URL": fresh.url,
        "LQ_DATABASE_URL": fresh_url,
        "LQ_DATA_DIR": str(tmp_path / "restored-data"),
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        damage(file, tmp_path / "damaged.backup")
        refused = await lq(env, "restore", "--in", str(tmp_path / "damaged.backup"))
        assert refused.returncode == 1
        assert "checksum mismatch" in refused.stderr and "damaged" in refused.stderr
        assert await stream_names(fresh.url) == []

        restored = await lq(env, "restore", "--in", str(file))
        assert restored.returncode == 0, restored.stderr
        assert f"restored {backup.EVENTS} up to seq {events.last_seq}" in restored.stdout
        # every event of the backup, with its sequence number, and nothing after it
        assert await messages(fresh.url, backup.EVENTS) == kept
        target = target_in(tmp_path / "restored-data", fresh.url)
        with pytest.raises(backup.RestoreRefused, match="already holds LQ_EVENTS"):
            await backup.restore(target, file)

        # the same into the embedded nats-server of a new `lq up` data directory
        data = tmp_path / "embedded"
        plain = {k: v for k, v in os.environ.items() if not k.startswith("LQ_")}
        embedded = await lq(plain, "restore", "--in", str(file), "--data-dir", str(data))
        assert embedded.returncode == 0, embedded.stderr
        srv = start_nats(natsauth.nats_dir(target_in(data)), authorization=True)
        try:
            seed = str(data / natsauth.SERVICE_SEED)
            assert await messages(srv.url, backup.EVENTS, seed) == kept
        finally:
            srv.stop()

        # the projector rebuilds the read models on the empty database by itself
        procs.append(spawn(env, ["projector"], tmp_path / "restored-projector.log"))
        await caught_up(fresh_url, events.last_seq)
        rebuilt = await read_model(fresh_url)
        assert rebuilt["checkpoint"] == original["checkpoint"]
        for table in TABLES:
            assert rebuilt[table] == original[table], table

        # the restored controlplane knows the admin's password (lq_credentials came along)
        port = free_port()
        procs.append(
            spawn(env, ["controlplane", "--port", str(port)], tmp_path / "restored-cp.log")
        )
        await sign_in_and_list(f"http://127.0.0.1:{port}", vm_ids)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(20)
        fresh.stop()
        with psycopg.connect(pg_server.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{fresh_db}" WITH (FORCE)')


def target_in(data: Path, nats_url: str = "") -> Settings:
    return settings_mod.load({"nats_url": nats_url, "data_dir": str(data)}, env={})


def spawn(env: dict[str, str], args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen([LQ, *args], env=env, stdout=out, stderr=out)


async def sign_in_and_list(base: str, vm_ids: list[str]) -> None:
    # the signing key is a fresh one: sessions of the old deployment do not carry over
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
