"""The projector: folds the event stream into the PostgreSQL read model, forever.

Why it reads with ``EventStore.follow`` (reader-paced batched direct gets that never skip
a sequence) and not with a durable ``consume``: the checkpoint lives in PostgreSQL, in the
same transaction as the rows it describes, so PostgreSQL alone says where to resume. A
durable consumer's ack floor would be a second position that can disagree with it after a
crash; ``follow`` keeps no server-side state, is several times faster than durable
fetches, and on start (or after any error) simply starts again at ``checkpoint + 1``.
"Acknowledging after commit" is therefore implicit: nothing is considered done until the
batch transaction, checkpoint included, has committed.

Each batch (whole messages only, up to ``settings.projector_batch`` messages, lingering
``projector_linger_ms`` for more) is applied by ``projections.batch.apply_batch`` in one
transaction that also moves the checkpoint and queues ``NOTIFY lq_changes``. Events at or
below the checkpoint are skipped, so redelivery is harmless. A session advisory lock keeps
one projector active per read-model schema; a second instance waits until the first stops.
If the read model's version is outdated the projector rebuilds it first; if a rebuild
swapped the schema under a running projector, the projector notices the checkpoint moved
and resumes from the new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import psycopg

from events import natsauth, tls, tracing
from events.bus import Bus
from events.codec import StoredEvent
from events.errors import StoreUnavailable
from events.settings import Settings
from events.store import EventStore
from projections import pg, rebuild, schema, telemetry
from projections.batch import CheckpointRewound, apply_batch

log = logging.getLogger(__name__)

_LOCK_POLL_S = 0.5
_RETRY_S = 1.0
_REPORT_S = 10.0


async def run(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Project until ``stop`` is set, reconnecting after NATS or PostgreSQL failures."""
    stop = stop or asyncio.Event()
    schema.validate(settings.db_schema)
    while not stop.is_set():
        try:
            await _run_once(settings, stop)
        except (psycopg.OperationalError, StoreUnavailable) as exc:
            log.warning("projector interrupted: %s; retrying in %.1fs", exc, _RETRY_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), _RETRY_S)


async def _run_once(settings: Settings, stop: asyncio.Event) -> None:
    live = settings.db_schema
    bus = await Bus.connect(
        settings.nats_url,
        name="projector",
        tls=tls.nats_client_context(settings),
        auth=natsauth.service_auth(settings),
    )
    try:
        async with await pg.connect(settings.database_url, autocommit=True) as lock_conn:
            if not await _become_active(lock_conn, live, stop):
                return
            async with await pg.connect(settings.database_url) as conn:
                await bus.provision(settings)
                if await schema.ensure(conn, live) == "outdated":
                    log.info("read model in %s is outdated: rebuilding", live)
                    await rebuild.rebuild_with(bus.store, conn, live, settings.projector_batch)
                await schema.use_schema(conn, live)
                await project(bus.store, conn, settings, stop)
    finally:
        await bus.close()


async def _become_active(conn: schema.Conn, live: str, stop: asyncio.Event) -> bool:
    """Wait for the projector lock; False if asked to stop first."""
    waited = False
    while not stop.is_set():
        if await schema.try_projector_lock(conn, live):
            if waited:
                log.info("projector lock acquired for %s", live)
            return True
        if not waited:
            log.info("another projector is active for %s; waiting", live)
            waited = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), _LOCK_POLL_S)
    return False


async def project(
    store: EventStore, conn: schema.Conn, settings: Settings, stop: asyncio.Event
) -> None:
    """Follow the stream from the checkpoint into the read model on ``conn``'s search path."""
    position = await schema.checkpoint(conn)
    await conn.commit()
    log.info("projecting from stream sequence %d", position + 1)
    while not stop.is_set():
        resumed = await _follow(store, conn, position, settings, stop)
        if resumed is None:
            return
        log.info("read-model checkpoint moved to %d; resuming after it", resumed)
        position = resumed


async def _follow(
    store: EventStore,
    conn: schema.Conn,
    position: int,
    settings: Settings,
    stop: asyncio.Event,
) -> int | None:
    """Apply batches until stopped (None) or the checkpoint is rewound (its new value)."""
    batches = store.follow(
        from_seq=position + 1,
        max_batch=settings.projector_batch,
        linger=settings.projector_linger_ms / 1000,
    )
    stopping = asyncio.ensure_future(stop.wait())
    nxt: asyncio.Future[list[StoredEvent]] = asyncio.ensure_future(_next(batches))
    applied, since, started = 0, time.monotonic(), time.monotonic()
    try:
        while True:
            racing: set[asyncio.Future[Any]] = {nxt, stopping}
            await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
            if not nxt.done():
                return None
            batch = nxt.result()
            # read and decode the next batch while PostgreSQL works on this one
            nxt = asyncio.ensure_future(_next(batches))
            apply_started = time.monotonic()
            try:
                # one span per batch, linked to the trace of every event in it
                with tracing.linked(
                    "projection batch",
                    (se.envelope.traceparent for se in batch),
                    events=len(batch),
                    last_seq=batch[-1].seq,
                ):
                    await apply_batch(conn, batch, expected=position)
            except CheckpointRewound as exc:
                return exc.checkpoint
            position = max(position, batch[-1].seq)
            applied += len(batch)
            telemetry.EVENTS.inc(len(batch))
            telemetry.CHECKPOINT.set(position)
            telemetry.BATCH_SECONDS.observe(time.monotonic() - apply_started)
            now = time.monotonic()
            if now - since >= _REPORT_S:
                log.info(
                    "projected %d events (%.0f/s), checkpoint %d",
                    applied,
                    applied / (now - started),
                    position,
                )
                since = now
    finally:
        for fut in (nxt, stopping):
            if fut.done():
                if not fut.cancelled():
                    fut.exception()  # already surfaced (or irrelevant now): mark it seen
                continue
            fut.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await fut
        await _close(batches)


async def _next(batches: AsyncIterator[list[StoredEvent]]) -> list[StoredEvent]:
    return await anext(batches)


async def _close(it: Any) -> None:
    aclose = getattr(it, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(RuntimeError):
            await aclose()
