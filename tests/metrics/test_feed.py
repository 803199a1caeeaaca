"""The metrics feed loses nothing silently: deliveries the client drops under a slow
reader are read again, and samples no longer in the stream are counted as lost."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

import nats
import pytest

from events import settings as settings_mod
from events import subjects
from events.bus import Bus
from events.metrics import HostSample, MetricsSample

COUNT = 300


async def _bus_with_samples(nats_url: str, tmp_path: Path) -> Bus:
    bus = await Bus.connect(nats_url, name="lq-test")
    await bus.provision(settings_mod.load({"nats_url": nats_url, "data_dir": str(tmp_path)},
                                          env={}))  # fmt: skip
    host = HostSample(cpus=1, mem_total_kib=1024, mem_used_kib=512)
    now = datetime.now(UTC)
    await asyncio.gather(*(
        bus.publish_metrics("h1", MetricsSample(sample_id=f"s{i}", host_id="h1", sampled_at=now,
                                                interval_s=5, host=host))
        for i in range(COUNT)
    ))  # fmt: skip
    return bus


async def _read(bus: Bus, lost: list[int], until: int, pending_limit: int | None) -> list[int]:
    seen: list[int] = []
    feed = bus.follow_metrics(1, max_batch=50, on_lost=lost.append, pending_limit=pending_limit)
    async with asyncio.timeout(20):
        async for batch in feed:
            seen.extend(seq for seq, sample in batch if sample is not None)
            await asyncio.sleep(0.02)  # a slow reader
            if seen and seen[-1] >= until:
                break
    await feed.aclose()  # type: ignore[attr-defined]
    return seen


async def test_a_slow_reader_loses_nothing(
    nats_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bus = await _bus_with_samples(nats_url, tmp_path)
    lost: list[int] = []
    try:
        with caplog.at_level(logging.INFO, logger="events.feeds"):
            seen = await _read(bus, lost, COUNT, pending_limit=30)
    finally:
        await bus.close()
    assert seen == list(range(1, COUNT + 1)) and lost == []
    assert "reading again" in caplog.text, "no delivery was lost on the way in: nothing re-read"


async def test_samples_gone_from_the_stream_are_counted(nats_url: str, tmp_path: Path) -> None:
    bus = await _bus_with_samples(nats_url, tmp_path)
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().purge_stream(subjects.METRICS_STREAM, seq=101)  # 1..100 expire
        lost: list[int] = []
        seen = await _read(bus, lost, COUNT, pending_limit=None)
    finally:
        await nc.close()
        await bus.close()
    assert seen == list(range(101, COUNT + 1)) and lost == [100]
