"""Where metrics live in PostgreSQL: three time-partitioned tiers, created and expired cheaply.

Metrics are not derived from the event log, so they must not sit in the read-model
schema, which a rebuild drops and recreates: they get their own schema
(``settings.metrics_schema``, ``<db_schema>_metrics``) that no rebuild touches.

Three tiers, one wide table each (hosts and VMs side by side, ``kind`` 0 = host, 1 = VM):

* ``raw`` — every sample, partitioned by hour, kept ``metrics_raw_retention_h``;
* ``m1``  — one row per entity and minute (averages, CPU maximum, sample count),
  partitioned by day, kept ``metrics_1m_retention_d``;
* ``h1``  — one row per entity and hour, partitioned by 30 days, kept
  ``metrics_1h_retention_d``.

Retention is ``DROP TABLE`` of whole partitions whose upper bound has expired: no
``DELETE``, no vacuum debt, constant cost however many rows go. A partition's name carries
its start as Unix seconds (``raw_1764331200``), so expiry needs no catalog parsing of
bounds. Partitions are created on demand for the timestamps a batch carries.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from projections import schema as rm_schema

log = logging.getLogger(__name__)

Conn = psycopg.AsyncConnection[Any]

VALUE_COLUMNS = (
    "cpu_pct", "load1", "mem_used_kib", "mem_total_kib", "mem_rss_kib",
    "disk_rd_bps", "disk_wr_bps", "disk_rd_iops", "disk_wr_iops",
    "net_rx_bps", "net_tx_bps", "net_rx_pps", "net_tx_pps",
    "stor_used", "stor_cap",
)  # fmt: skip
"""Every value a sample row carries; memory and storage are integers, the rest rates."""
_INTEGER = {"mem_used_kib", "mem_total_kib", "mem_rss_kib", "stor_used", "stor_cap"}
RAW_COLUMNS = ("ts", "id", "kind", "host_id", *VALUE_COLUMNS)
ROLLUP_COLUMNS = ("ts", "id", "kind", *VALUE_COLUMNS, "cpu_max", "n")


@dataclass(frozen=True)
class Tier:
    name: str
    resolution_s: int  # 0 for raw samples
    partition_s: int
    retention_s: float


def tiers(raw_h: float, m1_d: float, h1_d: float) -> tuple[Tier, Tier, Tier]:
    return (
        Tier("raw", 0, 3600, raw_h * 3600),
        Tier("m1", 60, 86400, m1_d * 86400),
        Tier("h1", 3600, 30 * 86400, h1_d * 86400),
    )


def _value_ddl() -> str:
    return ", ".join(f"{c} {'bigint' if c in _INTEGER else 'real'}" for c in VALUE_COLUMNS)


def ddl(ms: str) -> str:
    rm_schema.validate(ms)
    values = _value_ddl()
    rollup = (
        f"(ts timestamptz NOT NULL, id uuid NOT NULL, kind smallint NOT NULL, {values},"
        " cpu_max real, n integer NOT NULL, PRIMARY KEY (id, ts)) PARTITION BY RANGE (ts)"
    )
    return f"""
CREATE SCHEMA IF NOT EXISTS {ms};
CREATE TABLE IF NOT EXISTS {ms}.checkpoint (name text PRIMARY KEY, seq bigint NOT NULL);
CREATE TABLE IF NOT EXISTS {ms}.rollup_state (tier text PRIMARY KEY, done_until timestamptz);
CREATE TABLE IF NOT EXISTS {ms}.raw (ts timestamptz NOT NULL, id uuid NOT NULL,
    kind smallint NOT NULL, host_id uuid, {values}) PARTITION BY RANGE (ts);
CREATE INDEX IF NOT EXISTS raw_id_ts ON {ms}.raw (id, ts);
CREATE INDEX IF NOT EXISTS raw_ts ON {ms}.raw (ts);
CREATE TABLE IF NOT EXISTS {ms}.m1 {rollup};
CREATE TABLE IF NOT EXISTS {ms}.h1 {rollup};
CREATE TABLE IF NOT EXISTS {ms}.latest (id uuid PRIMARY KEY, kind smallint NOT NULL,
    host_id uuid, ts timestamptz NOT NULL, {values});
CREATE INDEX IF NOT EXISTS latest_kind ON {ms}.latest (kind, host_id);
CREATE TABLE IF NOT EXISTS {ms}.pools (host_id uuid NOT NULL, name text NOT NULL,
    ts timestamptz NOT NULL, capacity_bytes bigint, allocation_bytes bigint,
    available_bytes bigint, PRIMARY KEY (host_id, name));
INSERT INTO {ms}.checkpoint (name, seq) VALUES ('metrics', 0) ON CONFLICT DO NOTHING;
"""


async def create(conn: Conn, ms: str) -> None:
    """Create the metrics schema and tables (idempotent, safe to race)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ["lq.ddl." + ms])
        await conn.execute(ddl(ms).encode())


def partition_start(ts: float, tier: Tier) -> int:
    return int(ts // tier.partition_s * tier.partition_s)


class Partitions:
    """Creates the partitions a batch needs (remembering which exist) and drops expired ones."""

    def __init__(self, ms: str, all_tiers: tuple[Tier, ...]) -> None:
        self.ms = rm_schema.validate(ms)
        self.tiers = {t.name: t for t in all_tiers}
        self._known: dict[str, set[int]] = {}

    async def _load(self, conn: Conn, tier: str) -> set[int]:
        known = self._known.get(tier)
        if known is None:
            cur = await conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = %s::regclass",
                [f"{self.ms}.{tier}"],
            )
            known = {int(r[0].rsplit("_", 1)[1]) for r in await cur.fetchall()}
            self._known[tier] = known
        return known

    def forget(self) -> None:
        """After a rolled-back transaction the cache may list partitions that do not exist."""
        self._known.clear()

    async def ensure(self, conn: Conn, tier: str, timestamps: list[float]) -> None:
        """Create the partitions of ``tier`` holding ``timestamps`` (Unix seconds)."""
        t = self.tiers[tier]
        known = await self._load(conn, tier)
        for start in sorted({partition_start(ts, t) for ts in timestamps} - known):
            lo = datetime.fromtimestamp(start, UTC).isoformat()
            hi = datetime.fromtimestamp(start + t.partition_s, UTC).isoformat()
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self.ms}.{tier}_{start} PARTITION OF"
                f" {self.ms}.{tier} FOR VALUES FROM ('{lo}') TO ('{hi}')"
            )
            known.add(start)

    async def expire(self, conn: Conn, now: float) -> list[str]:
        """Drop every partition whose whole range is older than its tier's retention."""
        dropped: list[str] = []
        for name, t in self.tiers.items():
            known = await self._load(conn, name)
            for start in sorted(known):
                if start + t.partition_s <= now - t.retention_s:
                    await conn.execute(f"DROP TABLE IF EXISTS {self.ms}.{name}_{start}")
                    known.discard(start)
                    dropped.append(f"{name}_{start}")
        if dropped:
            log.info("metrics retention dropped partitions %s", ", ".join(dropped))
        return dropped
