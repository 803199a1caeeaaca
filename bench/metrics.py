"""Benchmark: metrics ingest into PostgreSQL, and chart queries over 30 days of 1-min data.

Starts a private nats-server and a private PostgreSQL in a temporary directory.

1. Ingest: publishes ``--intervals`` rounds of samples of ``--hosts`` hosts with ``--vms``
   VMs each (one message per host per round, as agents do) to LQ_METRICS, then runs the
   real metrics projector (``projections.metrics_runner``) from an empty database and
   measures samples/s and rows/s until its checkpoint reaches the stream's end. The
   fleet's own rate is hosts / interval samples/s (1,000 hosts every 10 s: 100 samples/s,
   2,100 rows/s); the target is at least 5x that.
2. Queries: fills the 1-minute tier with 30 days for ``--entities`` VMs (server-side
   ``generate_series``) and the 1-hour tier from it, then times chart queries
   (``metrics_queries.series``) for random VMs: range 30d at forced 1-minute resolution
   (43,200 rows per VM into 300 buckets), and at the automatic resolution. p95 < 200 ms.

    .venv/bin/python bench/metrics.py --hosts 1000 --vms 20 --intervals 10
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from events.base import new_id
from events.bus import Bus
from events.metrics import HostSample, MetricsSample, PoolSample, VmSample
from events.settings import Settings
from lq.embedded import start_nats, start_postgres
from projections import metrics_queries, metrics_runner, metrics_store

log = logging.getLogger("bench.metrics")


def fleet(hosts: int, vms: int) -> list[tuple[str, list[str]]]:
    return [(str(uuid.uuid4()), [str(uuid.uuid4()) for _ in range(vms)]) for _ in range(hosts)]


def sample(host_id: str, vm_ids: list[str], at: float) -> MetricsSample:
    r = random.random
    return MetricsSample(
        sample_id=new_id(),
        host_id=host_id,
        sampled_at=datetime.fromtimestamp(at, UTC),
        interval_s=10,
        host=HostSample(
            cpus=64, cpu_pct=r() * 100, mem_total_kib=256 << 20,
            mem_used_kib=int(r() * (256 << 20)),
            load1=r() * 64, pools=[PoolSample(name="default", capacity_bytes=1 << 40,
                                              allocation_bytes=1 << 39, available_bytes=1 << 39)],
        ),
        vms=[
            VmSample(vm_id=v, vcpus=4, cpu_pct=r() * 100, mem_actual_kib=4 << 20,
                     mem_rss_kib=int(r() * (4 << 20)), disk_rd_bps=r() * 1e7, disk_wr_bps=r() * 1e7,
                     disk_rd_iops=r() * 1e3, disk_wr_iops=r() * 1e3, net_rx_bps=r() * 1e8,
                     net_tx_bps=r() * 1e8, net_rx_pps=r() * 1e4, net_tx_pps=r() * 1e4)
            for v in vm_ids
        ],
    )  # fmt: skip


async def ingest(settings: Settings, hosts: int, vms: int, intervals: int) -> dict[str, float]:
    bus = await Bus.connect(settings.nats_url, name="bench")
    await bus.provision(settings)
    machines = fleet(hosts, vms)
    now = time.time()
    published = 0
    for i in range(intervals):
        at = now - (intervals - i) * 10
        batch = [sample(h, v, at) for h, v in machines]
        for j in range(0, len(batch), 200):
            await asyncio.gather(*(bus.publish_metrics(s.host_id, s) for s in batch[j : j + 200]))
        published += len(batch)
    last = await bus.metrics_last_seq()
    await bus.close()
    log.info("published %d samples (%d VM rows each)", published, vms)

    stop = asyncio.Event()
    started = time.monotonic()
    task = asyncio.create_task(metrics_runner.run(settings, stop))
    while metrics_runner.PROGRESS.checkpoint < last:
        await asyncio.sleep(0.02)
        if task.done():
            task.result()
    elapsed = time.monotonic() - started
    stop.set()
    await task
    rows = published * (vms + 1)
    need = hosts / 10
    return {"samples": published, "seconds": elapsed, "samples_per_s": published / elapsed,
            "rows_per_s": rows / elapsed, "fleet_samples_per_s": need,
            "headroom": published / elapsed / need}  # fmt: skip


async def queries(settings: Settings, entities: int, runs: int) -> dict[str, float]:
    ms = settings.metrics_schema
    tiers = metrics_runner.all_tiers(settings)
    ids = [str(uuid.uuid4()) for _ in range(entities)]
    now = time.time()
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        await metrics_store.create(conn, ms)
        parts = metrics_store.Partitions(ms, tiers)
        start = (now - 30 * 86400) // 60 * 60
        async with conn.transaction():
            await parts.ensure(conn, "m1", [start + d * 86400 for d in range(32)])
            await parts.ensure(conn, "h1", [start + d * 86400 for d in range(32)])
        t0 = time.monotonic()
        for i in range(0, entities, 10):
            async with conn.transaction():
                await conn.execute(
                    f"INSERT INTO {ms}.m1 (ts, id, kind, cpu_pct, cpu_max, mem_used_kib,"
                    " mem_total_kib, net_rx_bps, net_tx_bps, n)"
                    " SELECT t, e::uuid, 1, random() * 100, 100, (random() * 4194304)::bigint,"
                    " 4194304, random() * 1e8, random() * 1e8, 6"
                    " FROM unnest(%s::text[]) AS e,"
                    " generate_series(to_timestamp(%s), to_timestamp(%s),"
                    " interval '1 minute') AS t",
                    [ids[i : i + 10], start, now - 120],
                )
        async with conn.transaction():
            await conn.execute(
                f"INSERT INTO {ms}.h1 SELECT date_bin('1 hour', ts, '1970-01-01 00:00:00+00'),"
                f" id, min(kind), avg(cpu_pct), NULL, avg(mem_used_kib), avg(mem_total_kib), NULL,"
                f" NULL, NULL, NULL, NULL, avg(net_rx_bps), avg(net_tx_bps), NULL, NULL, NULL,"
                f" NULL, max(cpu_max), sum(n) FROM {ms}.m1 GROUP BY 1, 2"
            )
            await conn.execute(
                f"INSERT INTO {ms}.rollup_state VALUES ('m1', to_timestamp(%s)),"
                " ('h1', to_timestamp(%s)) ON CONFLICT (tier) DO UPDATE"
                " SET done_until = EXCLUDED.done_until",
                [now - 120, (now - 120) // 3600 * 3600],
            )
        await conn.execute(f"ANALYZE {ms}.m1")
        await conn.execute(f"ANALYZE {ms}.h1")
        await conn.commit()
        cur = await conn.execute(f"SELECT count(*) FROM {ms}.m1")
        filled = (await cur.fetchone() or [0])[0]
        await conn.commit()
        log.info("filled %d 1-minute rows in %.1fs", filled, time.monotonic() - t0)
        out: dict[str, float] = {"m1_rows": float(filled)}
        for label, resolution in (("forced_1m", "1m"), ("auto", None)):
            times = []
            for _ in range(runs):
                p = metrics_queries.plan(tiers, 30 * 86400, 300, resolution)
                t = time.perf_counter()
                points = await metrics_queries.series(
                    conn, ms, tiers, p, entity_id=random.choice(ids), metric="cpu"
                )
                times.append((time.perf_counter() - t) * 1000)
                await conn.commit()
            assert len(points) >= 200, len(points)
            times.sort()
            out[f"{label}_p50_ms"] = statistics.median(times)
            out[f"{label}_p95_ms"] = times[int(len(times) * 0.95) - 1]
            out[f"{label}_tier"] = {"m1": 60.0, "h1": 3600.0}[p.tier.name]
        return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--vms", type=int, default=20)
    ap.add_argument("--intervals", type=int, default=10)
    ap.add_argument("--entities", type=int, default=100)
    ap.add_argument("--runs", type=int, default=100)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)
    with tempfile.TemporaryDirectory(prefix="lq-bench-metrics-") as tmp:
        nats = start_nats(Path(tmp) / "nats")
        pg = start_postgres(Path(tmp) / "pg")
        try:
            settings = Settings(nats_url=nats.url, database_url=pg.url, data_dir=tmp)
            ing = await ingest(settings, args.hosts, args.vms, args.intervals)
            print(
                f"ingest: {ing['samples']:.0f} samples x {args.vms + 1} rows"
                f" in {ing['seconds']:.1f}s"
                f" = {ing['samples_per_s']:,.0f} samples/s, {ing['rows_per_s']:,.0f} rows/s;"
                f" fleet needs {ing['fleet_samples_per_s']:.0f} samples/s -> {ing['headroom']:.1f}x"
            )
            q = await queries(settings, args.entities, args.runs)
            print(
                f"chart queries, 30d of 1-min data ({q['m1_rows']:,.0f} rows, {args.entities} VMs):"
                f" forced 1m p50 {q['forced_1m_p50_ms']:.1f} ms,"
                f" p95 {q['forced_1m_p95_ms']:.1f} ms;"
                f" automatic (1h tier + tail) p50 {q['auto_p50_ms']:.1f} ms,"
                f" p95 {q['auto_p95_ms']:.1f} ms"
            )
        finally:
            nats.stop()
            pg.stop()


if __name__ == "__main__":
    asyncio.run(main())
