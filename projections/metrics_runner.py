"""The metrics projector: ``LQ_METRICS`` → PostgreSQL, plus roll-ups and retention.

It runs inside the ``lq projector`` process, beside the read-model projector but
independent of it (its own NATS feed, its own connections, its own checkpoint and lock):
metrics are not events, a slow metrics write must never delay the read model, and a
read-model rebuild must never touch metrics.

Two tasks: *ingest* follows the stream from the checkpoint stored in PostgreSQL and
writes each batch in one transaction (``metrics_ingest.ingest``); *maintenance* rolls up
closed minutes and hours and drops expired partitions every ``MAINTENANCE_S``. A session
advisory lock keeps one metrics projector active per database; a second one waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import psycopg

from events import natsauth, tls, tracing
from events.bus import Bus
from events.errors import StoreUnavailable
from events.settings import Settings
from projections import metrics_ingest, metrics_store, pg, telemetry

log = logging.getLogger(__name__)

MAINTENANCE_S = 15.0
SETTLE_S = 30.0  # a minute is rolled up once it ended this long ago
LOOKBACK_S = 300.0  # each pass re-rolls this much, catching samples that arrived late
_RETRY_S = 1.0


class Progress:
    """What the metrics projector has done (read by the Prometheus collector and tests)."""

    def __init__(self) -> None:
        self.checkpoint = 0
        self.stream_seq = 0
        self.rows = 0
        self.samples = 0
        self.batches = 0
        self.last_batch_s = 0.0


PROGRESS = Progress()


def all_tiers(settings: Settings) -> tuple[metrics_store.Tier, ...]:
    return metrics_store.tiers(
        settings.metrics_raw_retention_h,
        settings.metrics_1m_retention_d,
        settings.metrics_1h_retention_d,
    )


async def run(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Ingest and maintain metrics until ``stop`` is set, riding out NATS/PostgreSQL outages."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            await _run_once(settings, stop)
        except (psycopg.OperationalError, StoreUnavailable) as exc:
            log.warning("metrics projector interrupted: %s; retrying in %.1fs", exc, _RETRY_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), _RETRY_S)


async def _run_once(settings: Settings, stop: asyncio.Event) -> None:
    ms = settings.metrics_schema
    url = settings.database_url
    async with await pg.connect(url, autocommit=True) as lock_conn:
        while not await _try_lock(lock_conn, ms):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
            if stop.is_set():
                return
        bus = await Bus.connect(
            settings.nats_url,
            name="metrics-projector",
            tls=tls.nats_client_context(settings),
            auth=natsauth.service_auth(settings),
        )
        try:
            await bus.provision(settings)
            async with (
                await pg.connect(url) as conn,
                await pg.connect(url) as maint_conn,
            ):
                await metrics_store.create(conn, ms)
                tasks = [
                    asyncio.create_task(_ingest(bus, conn, settings), name="metrics-ingest"),
                    asyncio.create_task(_maintain(maint_conn, settings), name="metrics-rollup"),
                ]
                stopper = asyncio.create_task(stop.wait())
                try:
                    done, _ = await asyncio.wait(
                        [*tasks, stopper], return_when=asyncio.FIRST_COMPLETED
                    )
                    for t in done - {stopper}:
                        t.result()
                finally:
                    for t in [*tasks, stopper]:
                        t.cancel()
                    for t in [*tasks, stopper]:
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await t
        finally:
            await bus.close()


async def _try_lock(conn: psycopg.AsyncConnection[Any], ms: str) -> bool:
    cur = await conn.execute("SELECT pg_try_advisory_lock(hashtext('lq.metrics.' || %s))", [ms])
    row = await cur.fetchone()
    return bool(row and row[0])


async def _ingest(bus: Bus, conn: psycopg.AsyncConnection[Any], settings: Settings) -> None:
    ms = settings.metrics_schema
    parts = metrics_store.Partitions(ms, all_tiers(settings))
    cur = await conn.execute(f"SELECT seq FROM {ms}.checkpoint WHERE name = 'metrics'")
    row = await cur.fetchone()
    await conn.commit()
    PROGRESS.checkpoint = int(row[0]) if row else 0
    log.info("ingesting metrics from stream sequence %d", PROGRESS.checkpoint + 1)
    feed = bus.follow_metrics(
        PROGRESS.checkpoint + 1, settings.metrics_batch, on_lost=telemetry.METRICS_LOST.inc
    )
    async for batch in feed:
        started = time.monotonic()
        with tracing.linked("metrics batch", (s.traceparent for _, s in batch if s),
                            samples=len(batch)):  # fmt: skip
            rows = await metrics_ingest.ingest(conn, parts, batch, now=time.time())
        PROGRESS.last_batch_s = time.monotonic() - started
        PROGRESS.checkpoint = max(PROGRESS.checkpoint, batch[-1][0])
        PROGRESS.rows += rows
        PROGRESS.samples += len(batch)
        PROGRESS.batches += 1
        telemetry.METRICS_SAMPLES.inc(len(batch))
        telemetry.METRICS_ROWS.inc(rows)
        telemetry.METRICS_CHECKPOINT.set(PROGRESS.checkpoint)
        telemetry.METRICS_BATCH_SECONDS.observe(PROGRESS.last_batch_s)


async def _maintain(conn: psycopg.AsyncConnection[Any], settings: Settings) -> None:
    parts = metrics_store.Partitions(settings.metrics_schema, all_tiers(settings))
    while True:
        now = time.time()
        try:
            await metrics_ingest.rollup(
                conn, parts, now=now, settle_s=SETTLE_S, lookback_s=LOOKBACK_S
            )
            async with conn.transaction():
                await parts.expire(conn, now)
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:  # e.g. a lock timeout: try again next round
            log.warning("metrics maintenance failed: %s", exc)
            parts.forget()
        await asyncio.sleep(MAINTENANCE_S)
