"""Chart series from the metrics tiers, at a resolution chosen from the range asked for.

A chart wants a few hundred points whatever its range. ``plan`` picks the coarsest tier
whose resolution still gives about ``points`` buckets and whose retention covers the
range (raw for 15 minutes or an hour, 1-minute for a day, 1-hour for 30 days), and a
"nice" bucket width (``step_s``); ``series`` bins that tier with ``date_bin`` in SQL.

Roll-ups trail the present (a minute is rolled up once it has ended and settled, an hour
likewise), so the newest stretch of a chart is read from the finer tiers, from where the
coarser one stops (its ``done_until``) — a 30-day chart still ends at the last sample.
Buckets met in two tiers are merged, weighted by the samples each stands for.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from projections.metrics_store import VALUE_COLUMNS, Conn, Tier

RANGES = {"15m": 900, "1h": 3600, "6h": 21600, "1d": 86400, "7d": 7 * 86400, "30d": 30 * 86400,
          "1y": 365 * 86400}  # fmt: skip
NICE_STEPS = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
TIER_LABEL = {"raw": "raw", "m1": "1m", "h1": "1h"}

# (key, label, unit) per metric and kind; keys are computed from the stored columns
SERIES: dict[tuple[str, str], list[tuple[str, str, str]]] = {
    ("cpu", "host"): [("cpu_pct", "CPU", "%"), ("cpu_max", "CPU max", "%"),
                      ("load1", "Load (1 min)", "")],
    ("cpu", "vm"): [("cpu_pct", "CPU", "%"), ("cpu_max", "CPU max", "%")],
    ("memory", "host"): [("mem_used_mib", "Used", "MiB"), ("mem_total_mib", "Total", "MiB"),
                         ("mem_pct", "Used", "%")],
    ("memory", "vm"): [("mem_used_mib", "Used by guest", "MiB"),
                       ("mem_total_mib", "Balloon", "MiB"), ("mem_rss_mib", "RSS", "MiB"),
                       ("mem_pct", "Used", "%")],
    ("disk", "host"): [("disk_rd_bps", "Read", "B/s"), ("disk_wr_bps", "Write", "B/s"),
                       ("disk_rd_iops", "Read ops", "ops/s"),
                       ("disk_wr_iops", "Write ops", "ops/s"),
                       ("stor_used", "Pool allocation", "B"), ("stor_cap", "Pool capacity", "B")],
    ("disk", "vm"): [("disk_rd_bps", "Read", "B/s"), ("disk_wr_bps", "Write", "B/s"),
                     ("disk_rd_iops", "Read ops", "ops/s"), ("disk_wr_iops", "Write ops", "ops/s")],
    ("net", "host"): [("net_rx_bps", "Received", "B/s"), ("net_tx_bps", "Sent", "B/s"),
                      ("net_rx_pps", "Received packets", "pkt/s"),
                      ("net_tx_pps", "Sent packets", "pkt/s")],
}  # fmt: skip
SERIES[("net", "vm")] = SERIES[("net", "host")]

_COLUMNS = {
    "cpu": ("cpu_pct", "load1"),
    "memory": ("mem_used_kib", "mem_total_kib", "mem_rss_kib"),
    "disk": ("disk_rd_bps", "disk_wr_bps", "disk_rd_iops", "disk_wr_iops", "stor_used", "stor_cap"),
    "net": ("net_rx_bps", "net_tx_bps", "net_rx_pps", "net_tx_pps"),
}


@dataclass(frozen=True)
class Plan:
    tier: Tier
    step_s: int
    start: float
    end: float


def plan(tiers: tuple[Tier, ...], range_s: int, points: int, resolution: str | None = None,
         now: float | None = None) -> Plan:  # fmt: skip
    """Which tier and bucket width serve a chart of ``range_s`` seconds ending now."""
    end = time.time() if now is None else now
    want = range_s / max(points, 1)
    chosen = tiers[0]
    if resolution is not None:
        chosen = next(t for t in tiers if TIER_LABEL[t.name] == resolution)
    else:
        for t in tiers:
            if t.resolution_s <= want and (t.retention_s >= range_s or t is tiers[0]):
                chosen = t
    floor = max(chosen.resolution_s, 1)
    step = next((s for s in NICE_STEPS if s >= want and s >= floor), None)
    if step is None:
        step = max(floor, int(math.ceil(want / floor) * floor))
    return Plan(chosen, step, end - range_s, end)


def _aggregates(tier: Tier, columns: tuple[str, ...]) -> list[str]:
    if tier.resolution_s == 0:
        out = [f"avg({c})::float8" for c in columns]
        return [*out, "max(cpu_pct)::float8", "count(*)::float8"]
    out = [f"(sum({c}::float8 * n) / nullif(sum(n) FILTER (WHERE {c} IS NOT NULL), 0))"
           for c in columns]  # fmt: skip
    return [*out, "max(cpu_max)::float8", "sum(n)::float8"]


async def _done_until(conn: Conn, ms: str) -> dict[str, float]:
    cur = await conn.execute(f"SELECT tier, done_until FROM {ms}.rollup_state")
    return {r[0]: r[1].timestamp() for r in await cur.fetchall() if r[1] is not None}


Bucket = dict[str, float | None]


async def series(
    conn: Conn, ms: str, tiers: tuple[Tier, ...], p: Plan, *, entity_id: str, metric: str
) -> list[dict[str, Any]]:
    """Bucketed points ``{"t": epoch ms, <key>: value, …}`` oldest first."""
    columns = _COLUMNS[metric]
    done = await _done_until(conn, ms)
    chain = [t for t in tiers if t.resolution_s <= p.tier.resolution_s][::-1]  # coarse → raw
    buckets: dict[float, tuple[Bucket, float]] = {}
    lo = p.start
    for i, tier in enumerate(chain):
        last = i == len(chain) - 1
        hi = p.end if last else max(lo, min(p.end, done.get(tier.name, lo)))
        if hi <= lo:
            continue
        aggs = _aggregates(tier, columns)
        cur = await conn.execute(
            f"SELECT extract(epoch FROM date_bin(make_interval(secs => %(step)s), ts,"
            f" '1970-01-01 00:00:00+00'))::float8, {', '.join(aggs)}"
            f" FROM {ms}.{tier.name} WHERE id = %(id)s AND ts >= %(lo)s AND ts < %(hi)s"
            " GROUP BY 1 ORDER BY 1",
            {"step": p.step_s, "id": entity_id, "lo": _ts(lo), "hi": _ts(hi)},
        )
        for row in await cur.fetchall():
            values: Bucket = dict(zip([*columns, "cpu_max"], row[1:-1], strict=True))
            _merge(buckets, row[0], values, float(row[-1] or 0))
        lo = hi
    return [_derive(t, values) for t, (values, _) in sorted(buckets.items())]


def _merge(into: dict[float, tuple[Bucket, float]], t: float, values: Bucket, n: float) -> None:
    if t not in into:
        into[t] = (values, n)
        return
    old, m = into[t]
    merged: Bucket = {}
    for k in values:
        a, b = old.get(k), values.get(k)
        if k == "cpu_max":
            merged[k] = max((v for v in (a, b) if v is not None), default=None)
        elif a is None or b is None:
            merged[k] = a if b is None else b
        else:
            merged[k] = (a * m + b * n) / (m + n) if m + n else b
    into[t] = (merged, m + n)


def _mib(kib: float | None) -> float | None:
    return None if kib is None else round(kib / 1024, 1)


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 2)


def _derive(t: float, v: Bucket) -> dict[str, Any]:
    out: dict[str, Any] = {"t": int(t * 1000)}
    for k, value in v.items():
        if k.endswith("_kib"):
            out[k[:-4] + "_mib"] = _mib(value)
        else:
            out[k] = _r(value)
    used, total = v.get("mem_used_kib"), v.get("mem_total_kib")
    if used is not None and total:
        out["mem_pct"] = round(used / total * 100, 2)
    return out


def _ts(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


LATEST_SORTS = {"cpu_pct", "mem_used_kib", "net_rx_bps", "net_tx_bps", "disk_rd_bps",
                "disk_wr_bps", "ts"}  # fmt: skip


async def latest(
    conn: Conn, ms: str, *, kind: int, host_id: str | None, sort: str, limit: int
) -> list[dict[str, Any]]:
    """The newest sample of every host (``kind`` 0) or VM (1), optionally of one host."""
    desc = sort.startswith("-")
    col = sort.lstrip("-")
    if col not in LATEST_SORTS:
        raise ValueError(f"cannot sort by {sort!r}")
    where = "kind = %(kind)s" + (" AND host_id = %(host)s" if host_id else "")
    cur = await conn.execute(
        f"SELECT id::text, host_id::text, ts, {', '.join(VALUE_COLUMNS)} FROM {ms}.latest"
        f" WHERE {where} ORDER BY {col} {'DESC' if desc else 'ASC'} NULLS LAST, id"
        " LIMIT %(limit)s",
        {"kind": kind, "host": host_id, "limit": limit},
    )
    out = []
    for row in await cur.fetchall():
        item: dict[str, Any] = {"id": row[0], "host_id": row[1], "ts": row[2].isoformat()}
        item.update(_derive(row[2].timestamp(), dict(zip(VALUE_COLUMNS, row[3:], strict=True))))
        item.pop("t")
        out.append(item)
    return out


async def pools(conn: Conn, ms: str, host_id: str) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"SELECT name, ts, capacity_bytes, allocation_bytes, available_bytes FROM {ms}.pools"
        " WHERE host_id = %s ORDER BY name",
        [host_id],
    )
    return [
        {"name": r[0], "ts": r[1].isoformat(), "capacity_bytes": r[2], "allocation_bytes": r[3],
         "available_bytes": r[4]}
        for r in await cur.fetchall()
    ]  # fmt: skip
