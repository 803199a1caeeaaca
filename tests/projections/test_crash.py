"""SIGKILL the real ``lq projector`` process mid-run: nothing lost, nothing applied twice.

The projector runs as its own process (the CLI the operators use) while writers keep
appending; it is killed with SIGKILL at arbitrary moments and restarted. After every kill
the read model must be exactly the stream up to its checkpoint (the batch transaction is
all-or-nothing), and at the end it must equal a fresh rebuild.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from events.bus import Bus
from events.settings import Settings
from projections import rebuild
from tests.projections.factory import Writer
from tests.projections.test_runner import checkpoint, fresh_copy, scalar, wait_checkpoint

LQ = str(Path(sys.executable).parent / "lq")


def spawn(settings: Settings, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        LQ_NATS_URL=settings.nats_url,
        LQ_DATABASE_URL=settings.database_url,
        LQ_DATA_DIR=str(tmp_path / "lq"),
        LQ_PROJECTOR_BATCH="50",
    )
    log = open(tmp_path / "projector.log", "ab")  # noqa: SIM115 - the child owns it
    try:
        return subprocess.Popen([LQ, "projector"], env=env, stdout=log, stderr=log)
    finally:
        log.close()


@pytest.fixture
def settings(nats_url: str, pg_url: str) -> Settings:
    return Settings(nats_url=nats_url, database_url=pg_url)


@pytest.fixture
async def writer(settings: Settings) -> AsyncIterator[Writer]:
    bus = await Bus.connect(settings.nats_url, name="test-writer")
    try:
        await bus.provision(settings)
        yield Writer(bus.store)
    finally:
        await bus.close()


async def assert_exactly_up_to_checkpoint(settings: Settings, writer: Writer) -> int:
    done = await checkpoint(settings)
    expected = sum(n for seq, n in writer.sizes.items() if seq <= done)
    assert await scalar(settings, "SELECT count(*) FROM lq.events") == expected
    assert await scalar(settings, f"SELECT count(*) FROM lq.events WHERE seq > {done}") == 0
    return done


@pytest.mark.timeout(180)
async def test_sigkill_mid_run_then_restart_equals_rebuild(
    settings: Settings, writer: Writer, tmp_path: Path
) -> None:
    await writer.enrol("h1")
    stop_writing = asyncio.Event()

    async def write(k: int) -> None:
        i = 0
        while not stop_writing.is_set():
            await writer.vm_lifecycle("h1", f"w{k}-{i:05d}", stop=i % 2 == 0, reserve=False)
            i += 1

    writers = [asyncio.create_task(write(k)) for k in range(6)]
    rng = random.Random(7)
    seen: list[int] = []
    proc = spawn(settings, tmp_path)
    try:
        for _ in range(4):
            start = await checkpoint(settings)
            async with asyncio.timeout(30):  # wait until it is busy applying
                while True:
                    if await checkpoint(settings) > start:
                        break
                    await asyncio.sleep(0.02)
            await asyncio.sleep(rng.uniform(0.05, 0.4))
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            seen.append(await assert_exactly_up_to_checkpoint(settings, writer))
            proc = spawn(settings, tmp_path)
        stop_writing.set()
        await asyncio.gather(*writers)
        last = max(writer.sizes)
        await wait_checkpoint(settings, last, timeout=60)
    finally:
        stop_writing.set()
        for w in writers:
            w.cancel()
        await asyncio.gather(*writers, return_exceptions=True)
        proc.terminate()
        proc.wait(10)
    assert seen == sorted(seen) and seen[-1] < last
    assert await assert_exactly_up_to_checkpoint(settings, writer) == last
    assert proc.returncode == 0, (tmp_path / "projector.log").read_text()[-2000:]
    await fresh_copy(settings, "verify")
    assert await rebuild.compare(settings, "lq", "verify") == []
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        cur = await conn.execute("SELECT count(*) FROM lq.vms")
        row = await cur.fetchone()
    assert row is not None and row[0] > 0
