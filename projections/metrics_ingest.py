"""Samples into PostgreSQL in bulk, and the 1-minute / 1-hour roll-ups computed from them.

``ingest`` writes one batch of ``LQ_METRICS`` messages in one transaction: raw rows by
``COPY`` (partition routing by PostgreSQL), the latest value per host and VM (``COPY`` into
a temporary table, then one ``INSERT … ON CONFLICT``), the host's pools, and the stream
position — so, as with the read model, a crash leaves either the whole batch with its
checkpoint or neither, and a redelivered message is skipped, never counted twice.

A host row's disk and network rates are the sums of its VMs' rates (libvirt reports I/O
per domain); its storage values are the sums over its pools.

``rollup`` recomputes whole buckets from the finer tier (raw → ``m1`` → ``h1``) with
``INSERT … ON CONFLICT DO UPDATE``: recomputing a bucket is idempotent, so each pass
re-rolls a look-back window and samples that arrived late still land in their minute.
Only buckets that ended ``settle_s`` ago are rolled up; a chart reads the newest stretch
from the finer tier (``projections.metrics_queries``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from events.metrics import MetricsSample
from projections.metrics_store import (
    RAW_COLUMNS,
    ROLLUP_COLUMNS,
    VALUE_COLUMNS,
    Conn,
    Partitions,
    Tier,
)

log = logging.getLogger(__name__)

HOST, VM = 0, 1
FUTURE_SLACK_S = 3600.0  # samples from further ahead (a wrong clock) are dropped
Row = tuple[Any, ...]


def _sum(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def sample_rows(s: MetricsSample) -> tuple[list[Row], list[Row]]:
    """The raw rows (host first, then its VMs) and pool rows of one sample."""
    ts = s.sampled_at
    h = s.host
    vms = s.vms
    vm_rows: list[Row] = []
    for v in vms:
        used = v.mem_used_kib if v.mem_used_kib is not None else v.mem_rss_kib
        vm_rows.append(
            (ts, v.vm_id, VM, s.host_id, v.cpu_pct, None,
             used if used is not None else v.mem_actual_kib, v.mem_actual_kib, v.mem_rss_kib,
             v.disk_rd_bps, v.disk_wr_bps, v.disk_rd_iops, v.disk_wr_iops,
             v.net_rx_bps, v.net_tx_bps, v.net_rx_pps, v.net_tx_pps, None, None)
        )  # fmt: skip
    rates = [_sum([getattr(v, c) for v in vms]) for c in VALUE_COLUMNS[5:13]]
    stor_used = sum(p.allocation_bytes for p in h.pools) if h.pools else None
    stor_cap = sum(p.capacity_bytes for p in h.pools) if h.pools else None
    host_row: Row = (
        ts, s.host_id, HOST, s.host_id, h.cpu_pct, h.load1,
        h.mem_used_kib, h.mem_total_kib, None, *rates, stor_used, stor_cap,
    )  # fmt: skip
    pools = [
        (s.host_id, p.name, ts, p.capacity_bytes, p.allocation_bytes, p.available_bytes)
        for p in h.pools
    ]
    return [host_row, *vm_rows], pools


def _valid(s: MetricsSample) -> bool:
    try:
        uuid.UUID(s.host_id)
        for v in s.vms:
            uuid.UUID(v.vm_id)
    except ValueError:
        return False
    return True


async def ingest(
    conn: Conn,
    parts: Partitions,
    batch: Sequence[tuple[int, MetricsSample | None]],
    *,
    now: float,
) -> int:
    """Write ``batch`` and move the checkpoint, in one transaction; returns rows written."""
    raw_retention = parts.tiers["raw"].retention_s
    ms = parts.ms
    rows: list[Row] = []
    pools: list[Row] = []
    try:
        async with conn.transaction():
            cur = await conn.execute(
                f"SELECT seq FROM {ms}.checkpoint WHERE name = 'metrics' FOR UPDATE"
            )
            found = await cur.fetchone()
            checkpoint = int(found[0]) if found else 0
            skipped = 0
            for seq, sample in batch:
                if seq <= checkpoint or sample is None:
                    continue
                at = sample.sampled_at.timestamp()
                if at < now - raw_retention or at > now + FUTURE_SLACK_S or not _valid(sample):
                    skipped += 1
                    continue
                r, p = sample_rows(sample)
                rows.extend(r)
                pools.extend(p)
            if skipped:
                log.warning("dropped %d metrics samples (outside retention or invalid)", skipped)
            if rows:
                await parts.ensure(conn, "raw", [r[0].timestamp() for r in rows])
                await _copy(conn, f"{ms}.raw", RAW_COLUMNS, rows)
                await _upsert_latest(conn, ms, rows)
            if pools:
                await _upsert_pools(conn, ms, pools)
            last = max(seq for seq, _ in batch)
            if last > checkpoint:
                await conn.execute(
                    f"UPDATE {ms}.checkpoint SET seq = %s WHERE name = 'metrics'", [last]
                )
    except BaseException:
        parts.forget()
        raise
    return len(rows)


async def _copy(conn: Conn, table: str, columns: Sequence[str], rows: list[Row]) -> None:
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    async with conn.cursor() as cur, cur.copy(sql) as copy:
        for row in rows:
            await copy.write_row(row)


async def _upsert_latest(conn: Conn, ms: str, rows: list[Row]) -> None:
    newest: dict[str, Row] = {}
    for r in rows:
        if r[1] not in newest or newest[r[1]][0] <= r[0]:
            newest[r[1]] = r
    cols = ("id", "kind", "host_id", "ts", *VALUE_COLUMNS)
    await conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS latest_in (LIKE {ms}.latest) ON COMMIT DELETE ROWS"
    )
    await _copy(
        conn, "latest_in", cols, [(r[1], r[2], r[3], r[0], *r[4:]) for r in newest.values()]
    )
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols[1:])
    await conn.execute(
        f"INSERT INTO {ms}.latest ({', '.join(cols)}) SELECT {', '.join(cols)} FROM latest_in"
        f" ON CONFLICT (id) DO UPDATE SET {sets} WHERE {ms}.latest.ts <= EXCLUDED.ts"
    )


async def _upsert_pools(conn: Conn, ms: str, pools: list[Row]) -> None:
    newest = {(p[0], p[1]): p for p in sorted(pools, key=lambda p: p[2])}
    async with conn.cursor() as cur:
        await cur.executemany(
            f"INSERT INTO {ms}.pools (host_id, name, ts, capacity_bytes, allocation_bytes,"
            " available_bytes) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (host_id, name)"
            " DO UPDATE SET ts = EXCLUDED.ts, capacity_bytes = EXCLUDED.capacity_bytes,"
            " allocation_bytes = EXCLUDED.allocation_bytes,"
            " available_bytes = EXCLUDED.available_bytes",
            list(newest.values()),
        )


# -- roll-ups ------------------------------------------------------------------------


def _rollup_sql(ms: str, source: Tier, target: Tier) -> str:
    bucket = f"date_bin('{target.resolution_s} seconds', ts, '1970-01-01 00:00:00+00')"
    if source.resolution_s == 0:  # raw samples: plain averages
        values = [f"avg({c})" for c in VALUE_COLUMNS] + ["max(cpu_pct)", "count(*)"]
    else:  # averages of averages, weighted by how many samples each stands for
        values = [f"sum({c}::float8 * n) / nullif(sum(n) FILTER (WHERE {c} IS NOT NULL), 0)"
                  for c in VALUE_COLUMNS] + ["max(cpu_max)", "sum(n)"]  # fmt: skip
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in ROLLUP_COLUMNS[3:])
    return (
        f"INSERT INTO {ms}.{target.name} ({', '.join(ROLLUP_COLUMNS)})"
        f" SELECT {bucket}, id, min(kind), {', '.join(values)} FROM {ms}.{source.name}"
        f" WHERE ts >= %(lo)s AND ts < %(hi)s GROUP BY 1, 2"
        f" ON CONFLICT (id, ts) DO UPDATE SET {sets}"
    )


async def rollup(
    conn: Conn, parts: Partitions, *, now: float, settle_s: float, lookback_s: float
) -> dict[str, tuple[datetime, datetime]]:
    """Roll ``raw`` into ``m1`` and ``m1`` into ``h1`` up to the last bucket that ended
    ``settle_s`` ago; returns the window rolled per tier."""
    ms = parts.ms
    done: dict[str, tuple[datetime, datetime]] = {}
    t = parts.tiers
    for source, target in ((t["raw"], t["m1"]), (t["m1"], t["h1"])):
        res = target.resolution_s
        hi_s = (now - settle_s) // res * res
        try:
            async with conn.transaction():
                cur = await conn.execute(
                    f"SELECT done_until FROM {ms}.rollup_state WHERE tier = %s FOR UPDATE",
                    [target.name],
                )
                row = await cur.fetchone()
                if row is None or row[0] is None:
                    cur = await conn.execute(f"SELECT min(ts) FROM {ms}.{source.name}")
                    first = (await cur.fetchone() or [None])[0]
                    lo_s = first.timestamp() // res * res if first else hi_s
                else:
                    lo_s = row[0].timestamp() - lookback_s // res * res
                lo_s = max(lo_s, now - target.retention_s)
                lo = datetime.fromtimestamp(lo_s, UTC)
                hi = datetime.fromtimestamp(hi_s, UTC)
                if hi > lo:
                    await parts.ensure(conn, target.name, _starts(lo_s, hi_s, target))
                    await conn.execute(_rollup_sql(ms, source, target), {"lo": lo, "hi": hi})
                    done[target.name] = (lo, hi)
                await conn.execute(
                    f"INSERT INTO {ms}.rollup_state (tier, done_until) VALUES (%s, %s)"
                    " ON CONFLICT (tier) DO UPDATE SET done_until ="
                    f" greatest({ms}.rollup_state.done_until, EXCLUDED.done_until)",
                    [target.name, hi],
                )
        except BaseException:
            parts.forget()
            raise
    return done


def _starts(lo_s: float, hi_s: float, tier: Tier) -> list[float]:
    """One timestamp in every partition that the bucket range [lo, hi) touches."""
    out: list[float] = []
    at = lo_s // tier.partition_s * tier.partition_s
    while at < hi_s:
        out.append(at)
        at += tier.partition_s
    return out
