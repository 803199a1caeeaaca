"""Two ``lq projector`` processes on one read-model schema: one active, one standing by.

The projector keeps one active instance per schema with a PostgreSQL session advisory
lock (``projections.schema.try_projector_lock``): the second process waits on it. When
the active one is SIGKILLed its session ends, PostgreSQL frees the lock, and the standby
takes over from the checkpoint — no event lost, none applied twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from events.bus import Bus
from events.settings import Settings
from tests.operate.conftest import Deployment
from tests.projections.factory import Writer
from tests.projections.test_runner import checkpoint, scalar, wait_checkpoint


@pytest.fixture
async def writer(deployment: Deployment) -> AsyncIterator[Writer]:
    bus = await Bus.connect(deployment.env["LQ_NATS_URL"], name="lq-test-writer")
    try:
        await bus.provision(Settings())
        yield Writer(bus.store)
    finally:
        await bus.close()


async def wait_log(path: Path, text: str, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            if text in path.read_text(encoding="utf-8", errors="replace"):
                return
            await asyncio.sleep(0.1)


@pytest.mark.timeout(120)
async def test_standby_projector_takes_over_after_sigkill(
    deployment: Deployment, writer: Writer
) -> None:
    s = deployment.settings
    await writer.enrol("h1")
    first = deployment.spawn("projector")
    await wait_checkpoint(s, 1, timeout=30)
    second = deployment.spawn("projector")
    await wait_log(second.log, "another projector is active")
    for i in range(10):
        seq = await writer.vm_lifecycle("h1", f"a-{i}")
    await wait_checkpoint(s, seq)

    first.kill()
    for i in range(10):
        seq = await writer.vm_lifecycle("h1", f"b-{i}")
    await wait_checkpoint(s, seq, timeout=30)  # only the standby can have applied these
    await wait_log(second.log, "projector lock acquired")
    assert await checkpoint(s) >= seq
    assert await scalar(s, "SELECT count(*) FROM lq.events") == writer.events
    assert await scalar(s, "SELECT count(*) FROM lq.vms") == 20
    assert second.terminate() == 0
