"""Roll-ups, retention and series on synthetic samples, in a real PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from events.base import new_id
from events.metrics import HostSample, MetricsSample, VmSample
from projections import metrics_ingest, metrics_queries, metrics_store

MS = "lq_metrics"
TIERS = metrics_store.tiers(24, 30, 365)
HOST = "0191f0c4-0000-7000-8000-00000000000a"
VM = "0191f0c4-0000-7000-8000-00000000000b"
NOW = time.time()
BASE = NOW // 3600 * 3600 - 3 * 3600  # three whole hours ago


def sample(at: float, cpu: float, vm_cpu: float | None = None) -> MetricsSample:
    return MetricsSample(
        sample_id=new_id(),
        host_id=HOST,
        sampled_at=datetime.fromtimestamp(at, UTC),
        interval_s=10,
        host=HostSample(cpus=8, cpu_pct=cpu, mem_total_kib=1 << 24, mem_used_kib=1 << 20),
        vms=[
            VmSample(
                vm_id=VM,
                vcpus=2,
                cpu_pct=vm_cpu,
                mem_actual_kib=1 << 20,
                net_rx_bps=100.0,
                net_tx_bps=50.0,
            )
        ],
    )


@pytest.fixture
async def conn(pg_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    c = await psycopg.AsyncConnection.connect(pg_url)
    await metrics_store.create(c, MS)
    yield c
    await c.close()


async def rows(conn: psycopg.AsyncConnection[Any], sql: str, *args: Any) -> list[Any]:
    cur = await conn.execute(sql, args)
    out = await cur.fetchall()
    await conn.commit()
    return out


async def test_minute_and_hour_rollups_are_exact(conn: psycopg.AsyncConnection[Any]) -> None:
    parts = metrics_store.Partitions(MS, TIERS)
    # two hours every 10 s; cpu = seconds into the minute (0, 10 … 50), so each minute's
    # average is 25 and maximum 50; the VM's CPU is missing from every other sample
    batch = [
        (i + 1, sample(BASE + i * 10, float(i * 10 % 60), 40.0 if i % 2 else None))
        for i in range(720)
    ]
    assert await metrics_ingest.ingest(conn, parts, batch, now=NOW) == 1440
    # a redelivered batch is skipped by the checkpoint
    assert await metrics_ingest.ingest(conn, parts, batch[:10], now=NOW) == 0
    # a minute missing samples: only 0 and 10 s of the first minute of the second hour
    await conn.execute(
        f"DELETE FROM {MS}.raw WHERE id = %s AND ts > %s AND ts < %s",
        [HOST, datetime.fromtimestamp(BASE + 3610, UTC), datetime.fromtimestamp(BASE + 3660, UTC)],
    )
    await conn.commit()
    done = await metrics_ingest.rollup(conn, parts, now=NOW, settle_s=30, lookback_s=300)
    assert set(done) == {"m1", "h1"}

    m1 = await rows(
        conn, f"SELECT ts, cpu_pct, cpu_max, n FROM {MS}.m1 WHERE id = %s ORDER BY ts", HOST
    )
    assert len(m1) == 120
    assert all((r[1], r[2], r[3]) == (25.0, 50.0, 6) for r in m1 if r[0].timestamp() != BASE + 3600)
    short = next(r for r in m1 if r[0].timestamp() == BASE + 3600)
    assert (short[1], short[2], short[3]) == (5.0, 10.0, 2)

    h1 = await rows(
        conn, f"SELECT ts, cpu_pct, cpu_max, n FROM {MS}.h1 WHERE id = %s ORDER BY ts", HOST
    )
    assert [r[0].timestamp() for r in h1] == [BASE, BASE + 3600]
    assert (h1[0][1], h1[0][2], h1[0][3]) == (25.0, 50.0, 360)
    # weighted by samples, not by minutes: (59 minutes x 6 x 25 + 2 x 5) / 356
    assert h1[1][3] == 356 and h1[1][1] == pytest.approx((59 * 6 * 25 + 10) / 356, rel=1e-6)

    vm = await rows(conn, f"SELECT cpu_pct, n, net_rx_bps FROM {MS}.h1 WHERE id = %s", VM)
    assert all(r == (40.0, 360, 100.0) for r in vm)  # missing CPU values are not zeros
    host_net = await rows(
        conn, f"SELECT DISTINCT net_rx_bps, net_tx_bps FROM {MS}.m1 WHERE id = %s", HOST
    )
    assert host_net == [(100.0, 50.0)]  # a host's network rate is the sum of its VMs'

    # a late sample lands in its minute on the next pass (the look-back re-rolls it)
    late_at = NOW // 60 * 60 - 120
    await metrics_ingest.ingest(conn, parts, [(721, sample(late_at, 80.0))], now=NOW)
    await metrics_ingest.rollup(conn, parts, now=NOW, settle_s=30, lookback_s=300)
    got = await rows(conn, f"SELECT cpu_pct, n FROM {MS}.m1 WHERE id = %s AND ts = %s", HOST,
                     datetime.fromtimestamp(late_at, UTC))  # fmt: skip
    assert got == [(80.0, 1)]


async def test_series_pick_the_tier_and_join_the_tail(conn: psycopg.AsyncConnection[Any]) -> None:
    parts = metrics_store.Partitions(MS, TIERS)
    batch = [(i + 1, sample(BASE + i * 60, 50.0)) for i in range(180)]  # 3 h, one a minute
    await metrics_ingest.ingest(conn, parts, batch, now=NOW)
    await metrics_ingest.rollup(conn, parts, now=BASE + 2 * 3600 + 60, settle_s=0, lookback_s=0)
    await conn.commit()

    day = metrics_queries.plan(TIERS, 86400, 300, now=NOW)
    assert (day.tier.name, day.step_s) == ("m1", 300)
    points = await metrics_queries.series(conn, MS, TIERS, day, entity_id=HOST, metric="cpu")
    # m1 holds the first two hours; the last hour comes from raw: no gap, no double count
    assert len(points) == 36 and all(p["cpu_pct"] == 50.0 for p in points)
    assert points[-1]["t"] == int((BASE + 3 * 3600 - 300) * 1000)

    month = metrics_queries.plan(TIERS, 30 * 86400, 300, now=NOW)
    assert month.tier.name == "h1" and month.step_s == 10800
    raw = metrics_queries.plan(TIERS, 900, 300, now=NOW)
    assert (raw.tier.name, raw.step_s) == ("raw", 5)
    mem = await metrics_queries.series(conn, MS, TIERS, day, entity_id=HOST, metric="memory")
    assert mem[0]["mem_used_mib"] == 1024 and mem[0]["mem_pct"] == 6.25


async def test_retention_drops_whole_partitions(conn: psycopg.AsyncConnection[Any]) -> None:
    parts = metrics_store.Partitions(MS, TIERS)
    batch = [(i + 1, sample(BASE + i * 600, 10.0)) for i in range(18)]
    await metrics_ingest.ingest(conn, parts, batch, now=NOW)
    await metrics_ingest.rollup(conn, parts, now=NOW, settle_s=30, lookback_s=300)
    await conn.commit()
    assert len(await rows(conn, f"SELECT 1 FROM {MS}.raw")) == 36

    # a day after the last hour ended: every raw partition has expired, the roll-ups stay
    async with conn.transaction():
        dropped = await parts.expire(conn, BASE + 27 * 3600)
    assert sorted(dropped) == [f"raw_{int(BASE + h * 3600)}" for h in range(3)]
    assert await rows(conn, f"SELECT count(*) FROM {MS}.raw") == [(0,)]
    assert (await rows(conn, f"SELECT count(*) FROM {MS}.m1"))[0][0] > 0
    # ingest forgets nothing it needs: a new sample creates its partition again
    fresh = metrics_store.Partitions(MS, TIERS)
    assert await metrics_ingest.ingest(conn, fresh, [(100, sample(NOW - 5, 1.0))], now=NOW) == 2
