"""The projector against a real nats-server and PostgreSQL: apply, resume, one active."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from events.bus import Bus
from events.settings import Settings
from projections import rebuild, runner, schema
from tests.projections.factory import Writer


class Projector:
    """``runner.run`` as a background task with its own stop event."""

    def __init__(self, settings: Settings) -> None:
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(runner.run(settings, self.stop))

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 10.0)


async def checkpoint(settings: Settings) -> int:
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        if await schema.version(conn, settings.db_schema) is None:
            return 0
        await schema.use_schema(conn, settings.db_schema)
        return await schema.checkpoint(conn)


async def wait_checkpoint(settings: Settings, seq: int, timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            if await checkpoint(settings) >= seq:
                return
            await asyncio.sleep(0.05)


async def scalar(settings: Settings, sql: str) -> Any:
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        cur = await conn.execute(sql)
        row = await cur.fetchone()
        return row[0] if row else None


@pytest.fixture
def settings(nats_url: str, pg_url: str) -> Settings:
    return Settings(nats_url=nats_url, database_url=pg_url, projector_linger_ms=2)


@pytest.fixture
async def writer(settings: Settings) -> AsyncIterator[Writer]:
    bus = await Bus.connect(settings.nats_url, name="test-writer")
    try:
        await bus.provision(settings)
        yield Writer(bus.store)
    finally:
        await bus.close()


@contextlib.asynccontextmanager
async def projecting(settings: Settings) -> AsyncIterator[Projector]:
    p = Projector(settings)
    try:
        yield p
    finally:
        await p.close()


async def test_projector_applies_appended_events(settings: Settings, writer: Writer) -> None:
    async with projecting(settings):
        await writer.enrol("h1")
        for i in range(20):
            last = await writer.vm_lifecycle("h1", f"vm-{i:02d}", stop=i % 2 == 0)
        await wait_checkpoint(settings, last)
    assert await scalar(settings, "SELECT count(*) FROM lq.vms") == 20
    assert await scalar(settings, "SELECT count(*) FROM lq.vms WHERE state = 'stopped'") == 10
    assert await scalar(settings, "SELECT count(*) FROM lq.tasks WHERE state = 'succeeded'") == 30
    assert await scalar(settings, "SELECT vm_count FROM lq.hosts WHERE id = 'h1'") == 20
    assert await scalar(settings, "SELECT count(*) FROM lq.events") == writer.events


async def test_restart_resumes_from_checkpoint(settings: Settings, writer: Writer) -> None:
    await writer.enrol("h1")
    async with projecting(settings):
        for i in range(5):
            first = await writer.vm_lifecycle("h1", f"a-{i}")
        await wait_checkpoint(settings, first)
    # written while no projector runs
    for i in range(5):
        last = await writer.vm_lifecycle("h1", f"b-{i}")
    assert await checkpoint(settings) == first
    async with projecting(settings):
        await wait_checkpoint(settings, last)
    assert await scalar(settings, "SELECT count(*) FROM lq.events") == writer.events
    assert await scalar(settings, "SELECT count(*) FROM lq.vms") == 10


async def test_second_projector_waits_then_takes_over(settings: Settings, writer: Writer) -> None:
    await writer.enrol("h1")
    a = Projector(settings)
    await wait_checkpoint(settings, 1)
    b = Projector(settings)
    try:
        seq = await writer.vm_lifecycle("h1", "one")
        await wait_checkpoint(settings, seq)
        await a.close()
        seq = await writer.vm_lifecycle("h1", "two")
        await wait_checkpoint(settings, seq)  # only b can have applied this
    finally:
        await b.close()
        await a.close()
    assert await scalar(settings, "SELECT count(*) FROM lq.events") == writer.events


async def fresh_copy(settings: Settings, name: str) -> None:
    """Replay the whole stream into schema ``name`` (what ``lq verify`` does)."""
    bus = await Bus.connect(settings.nats_url, name="test-verify")
    try:
        async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
            await schema.create(conn, name)
            await schema.use_schema(conn, name)
            await rebuild.replay_into(bus.store, conn, 1, None, 50)
    finally:
        await bus.close()


async def test_live_read_model_equals_fresh_rebuild(settings: Settings, writer: Writer) -> None:
    async with projecting(settings):
        await writer.enrol("h1")
        await writer.enrol("h2")
        for i in range(30):
            last = await writer.vm_lifecycle(f"h{1 + i % 2}", f"vm-{i:02d}", stop=i % 3 == 0)
        await wait_checkpoint(settings, last)
    await fresh_copy(settings, "verify")
    assert await rebuild.compare(settings, "lq", "verify") == []
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        await conn.execute("UPDATE verify.vms SET name = 'tampered' WHERE name = 'vm-07'")
        await conn.commit()
    diff = await rebuild.compare(settings, "lq", "verify")
    assert len(diff) == 1 and "name lq='vm-07' verify='tampered'" in diff[0]


async def test_full_lifecycle_live_equals_fresh_rebuild(settings: Settings, writer: Writer) -> None:
    """Every VM event kind through the real projector, then a rebuild from the stream."""
    async with projecting(settings):
        await writer.enrol("h1")
        for i in range(6):  # VMs stopped at different points of their lives, and one whole
            last = await writer.full_vm_lifecycle("h1", f"full-{i}", upto=None if i == 0 else 9 * i)
        await wait_checkpoint(settings, last)
    await fresh_copy(settings, "verify")
    assert await rebuild.compare(settings, "lq", "verify") == []
    assert await scalar(settings, "SELECT count(*) FROM lq.vms WHERE snapshot_count > 0") >= 3
    assert (
        await scalar(settings, 'SELECT count(*) FROM lq.vms WHERE nics @> \'[{"ip": "10.0.0.5"}]\'')
        >= 1
    )
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        await conn.execute("UPDATE verify.vms SET disks = '[]' WHERE name = 'full-3'")
        await conn.commit()
    diff = await rebuild.compare(settings, "lq", "verify")
    assert len(diff) == 1 and diff[0].startswith("vms ") and "disks" in diff[0]


async def test_rebuild_while_projecting_loses_and_doubles_nothing(
    settings: Settings, writer: Writer
) -> None:
    await writer.enrol("h1")
    async with projecting(settings):
        for i in range(10):
            seq = await writer.vm_lifecycle("h1", f"before-{i}")
        await wait_checkpoint(settings, seq)  # the projector is up and has its schema

        async def keep_writing() -> int:
            seq = 0
            for i in range(20):
                seq = await writer.vm_lifecycle("h1", f"during-{i}")
            return seq

        writing = asyncio.create_task(keep_writing())
        applied = await rebuild.rebuild(settings)
        last = await writing
        assert applied > 0
        for i in range(3):
            last = await writer.vm_lifecycle("h1", f"after-{i}")
        await wait_checkpoint(settings, last)
    assert await scalar(settings, "SELECT count(*) FROM lq.events") == writer.events
    assert await scalar(settings, "SELECT vm_count FROM lq.hosts WHERE id = 'h1'") == 33
    await fresh_copy(settings, "verify")
    assert await rebuild.compare(settings, "lq", "verify") == []


async def test_outdated_read_model_is_rebuilt_on_start(settings: Settings, writer: Writer) -> None:
    await writer.enrol("h1")
    seq = await writer.vm_lifecycle("h1", "x")
    async with projecting(settings):
        await wait_checkpoint(settings, seq)
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        await conn.execute("UPDATE lq.meta SET value = '0' WHERE key = 'version'")
        await conn.execute("UPDATE lq.vms SET name = 'stale'")
        await conn.commit()
    async with projecting(settings):
        await wait_checkpoint(settings, seq)
        async with asyncio.timeout(10):
            while True:
                if await scalar(settings, "SELECT value FROM lq.meta") == str(schema.VERSION):
                    break
                await asyncio.sleep(0.05)
    assert await scalar(settings, "SELECT name FROM lq.vms") == "x"
