"""The webhook dispatcher: event stream → signed HTTP POSTs to subscribers, retried, logged.

It runs inside the ``lq projector`` process beside the read-model and metrics projectors,
independent of both (its own stream reader, connections, checkpoint and lock), because
its delivery log lives in PostgreSQL (``projections.webhook_store``) and only
``projections`` talks to PostgreSQL. A session advisory lock keeps one dispatcher active
per database; more instances wait as standbys, so each event is queued once per
subscription however many projector processes run.

Two kinds of task:

* **intake** follows the stream from the checkpoint kept in PostgreSQL (like the
  projector: no durable consumer whose ack floor could disagree with the database) and
  queues deliveries in the same transaction that moves the checkpoint;
* **one worker per active subscription** sends its due deliveries one after another:
  ``POST <url>`` with the envelope as the body and the ``X-LimiQuantix-*`` headers
  (docs/webhooks.md), each attempt bounded by ``webhook_timeout_s``. A 2xx answer
  delivers; anything else (or no answer) is retried after an exponential, jittered delay
  (``webhook_backoff_s`` doubling up to ``webhook_backoff_max_s``, or the receiver's
  ``Retry-After``) until ``webhook_max_attempts``, then the delivery is ``failed``. A slow
  or dead receiver therefore only ever delays its own subscription.

Redirects are not followed (a 3xx is a failed attempt), and the answer's body is not read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import Any

import aiohttp
import msgspec
import psycopg
from psycopg_pool import AsyncConnectionPool

from events import fleet_settings as fe
from events import natsauth, tls
from events import webhook as we
from events.bus import Bus
from events.errors import StoreUnavailable
from events.settings import Settings
from projections import pg, telemetry
from projections import webhook_store as store

log = logging.getLogger(__name__)

_RETRY_S = 1.0
_IDLE_S = 30.0  # a worker with nothing pending looks again after this, woken or not
_MAINTENANCE_S = 5.0
_PRUNE_S = 600.0
USER_AGENT = "LimiQuantix-Webhooks/1"


def backoff(settings: Settings, attempts: int, rng: random.Random | None = None) -> float:
    """Delay after the ``attempts``-th failed attempt: doubling from ``webhook_backoff_s``,
    capped, with "equal jitter" (between half and all of it) so receivers that failed
    together are not retried together."""
    full = min(settings.webhook_backoff_max_s, settings.webhook_backoff_s * 2.0 ** (attempts - 1))
    return full / 2 + (rng.uniform(0, full / 2) if rng else random.uniform(0, full / 2))


def _retry_after(value: str | None, cap: float) -> float | None:
    if not value:
        return None
    try:
        return min(cap, max(0.0, float(value)))
    except ValueError:
        return None  # an HTTP date: ignore it, our backoff applies


FLEET_KEYS = ("webhook_max_attempts",)
"""Fleet settings (``events.fleet_settings``) the dispatcher honours without a restart."""


class Dispatcher:
    """Workers for the active subscriptions; ``sync`` starts and stops them."""

    def __init__(
        self,
        settings: Settings,
        bus: Bus,
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
        http: aiohttp.ClientSession,
        subs: dict[str, store.Subscription],
    ) -> None:
        self.settings = settings
        self.ws = settings.webhook_schema
        self.bus = bus
        self.pool = pool
        self.http = http
        self.subs = subs
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._wake: dict[str, asyncio.Event] = {}

    def honour(self, events: list[Any]) -> None:
        """Apply fleet settings changed at runtime (``settings.changed``) that the dispatcher
        uses: ``webhook_max_attempts``; the next attempt reads the new value."""
        found = fe.overrides(events, FLEET_KEYS)
        if found:
            self.settings = msgspec.structs.replace(self.settings, **found)
            log.info("fleet settings in effect: %s", found)

    def sync(self, woken: set[str] | None = None) -> None:
        """Run a worker for every active subscription, stop the others, wake ``woken``."""
        for ident, sub in self.subs.items():
            worker = self._workers.get(ident)
            if sub.active and (worker is None or worker.done()):
                self._wake[ident] = asyncio.Event()
                self._workers[ident] = asyncio.create_task(
                    self._work(ident), name=f"webhook-{ident}"
                )
        for ident in [i for i in self._workers if not self.subs[i].active]:
            self._workers.pop(ident).cancel()
            self._wake.pop(ident, None)
        for ident in woken or ():
            if ident in self._wake:
                self._wake[ident].set()

    async def close(self) -> None:
        tasks = list(self._workers.values())
        self._workers.clear()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    async def _work(self, ident: str) -> None:
        wake = self._wake[ident]
        while True:
            try:
                wake.clear()
                async with self.pool.connection() as conn:
                    batch = await store.due(conn, self.ws, ident)
                    wait = None if batch else await store.next_due_in(conn, self.ws, ident)
                for d in batch:
                    sub = self.subs.get(ident)
                    if sub is None or not sub.active:
                        return
                    outcome = await self.attempt(sub, d)
                    async with self.pool.connection() as conn:
                        await store.record(conn, self.ws, d, outcome)
                if batch:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        wake.wait(), _IDLE_S if wait is None else min(_IDLE_S, wait)
                    )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook worker %s failed; retrying", ident)
                await asyncio.sleep(_RETRY_S)

    async def attempt(self, sub: store.Subscription, d: store.Due) -> store.Outcome:
        """One signed POST of a delivery; its outcome with the delay before the next try."""
        s = self.settings
        started = time.monotonic()
        code: int | None = None
        retry_after: float | None = None
        try:
            secret = await self.bus.credential(f"webhook.{sub.id}")
            if secret is None:
                raise RuntimeError("the subscription has no signing secret")
            ts = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "X-LimiQuantix-Event": d.event_type,
                "X-LimiQuantix-Delivery": d.id,
                "X-LimiQuantix-Seq": str(d.seq),
                "X-LimiQuantix-Attempt": str(d.attempts + 1),
                "X-LimiQuantix-Timestamp": ts,
                "X-LimiQuantix-Signature": we.sign(secret.decode(), ts, d.body),
            }
            async with self.http.post(
                sub.url,
                data=d.body,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=s.webhook_timeout_s),
            ) as resp:
                code = resp.status
                retry_after = _retry_after(resp.headers.get("Retry-After"), s.webhook_backoff_max_s)
            error = "" if 200 <= code < 300 else f"HTTP {code}"
        except TimeoutError:
            error = f"no answer within {s.webhook_timeout_s:g}s"
        except (aiohttp.ClientError, OSError, RuntimeError, StoreUnavailable, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        ok = not error
        n = d.attempts + 1
        retry = None
        if not ok and n < s.webhook_max_attempts:
            retry = retry_after if retry_after is not None else backoff(s, n)
        outcome = "delivered" if ok else ("retry" if retry is not None else "failed")
        telemetry.WEBHOOK_ATTEMPTS.labels(outcome).inc()
        if not ok:
            log.info("webhook %s delivery %s attempt %d failed: %s", sub.id, d.id, n, error)
        return store.Outcome(
            ok=ok,
            code=code,
            error=error,
            duration_ms=int((time.monotonic() - started) * 1000),
            retry_in_s=retry,
        )


async def run(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Dispatch until ``stop`` is set, riding out NATS and PostgreSQL outages."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            await _run_once(settings, stop)
        except (psycopg.OperationalError, StoreUnavailable) as exc:
            log.warning("webhook dispatcher interrupted: %s; retrying in %.1fs", exc, _RETRY_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), _RETRY_S)
        except Exception:  # never take the projector process down with it
            log.exception("webhook dispatcher failed; restarting in %.1fs", _RETRY_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), _RETRY_S)


async def _try_lock(conn: psycopg.AsyncConnection[Any], ws: str) -> bool:
    cur = await conn.execute("SELECT pg_try_advisory_lock(hashtext('lq.webhooks.' || %s))", [ws])
    row = await cur.fetchone()
    return bool(row and row[0])


async def _run_once(settings: Settings, stop: asyncio.Event) -> None:
    ws, url = settings.webhook_schema, settings.database_url
    async with await pg.connect(url, autocommit=True) as lock_conn:
        while not await _try_lock(lock_conn, ws):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
            if stop.is_set():
                return
        bus = await Bus.connect(
            settings.nats_url,
            name="webhook-dispatcher",
            tls=tls.nats_client_context(settings),
            auth=natsauth.service_auth(settings),
        )
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            url, open=False, min_size=2, max_size=2, kwargs={"autocommit": True},
            name="webhook-dispatch",
        )  # fmt: skip
        try:
            await bus.provision(settings)
            await pool.open(wait=True, timeout=10.0)
            async with await pg.connect(url) as conn, aiohttp.ClientSession() as http:
                await store.create(conn, ws)
                position, subs = await store.load(conn, ws)
                await conn.commit()
                dispatcher = Dispatcher(settings, bus, pool, http, subs)
                fleet = await bus.store.load(fe.KIND, fe.FLEET_ID)
                dispatcher.honour([se.envelope.event for se in fleet])
                dispatcher.sync()
                try:
                    await _serve(
                        settings=settings,
                        bus=bus,
                        conn=conn,
                        lock_conn=lock_conn,
                        dispatcher=dispatcher,
                        position=position,
                        stop=stop,
                    )
                finally:
                    await dispatcher.close()
        finally:
            await pool.close()
            await bus.close()


async def _serve(
    *,
    settings: Settings,
    bus: Bus,
    conn: psycopg.AsyncConnection[Any],
    lock_conn: psycopg.AsyncConnection[Any],
    dispatcher: Dispatcher,
    position: int,
    stop: asyncio.Event,
) -> None:
    tasks = [
        asyncio.create_task(_intake(settings, bus, conn, dispatcher, position), name="wh-intake"),
        asyncio.create_task(_maintain(settings, lock_conn, dispatcher), name="wh-maintain"),
    ]
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        for t in done - {stopper}:
            t.result()
    finally:
        for t in [*tasks, stopper]:
            t.cancel()
        for t in [*tasks, stopper]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t


async def _intake(
    settings: Settings,
    bus: Bus,
    conn: psycopg.AsyncConnection[Any],
    dispatcher: Dispatcher,
    position: int,
) -> None:
    log.info("webhook intake from stream sequence %d", position + 1)
    batches = bus.store.follow(
        from_seq=position + 1,
        max_batch=settings.projector_batch,
        linger=settings.projector_linger_ms / 1000,
    )
    async for batch in batches:
        dispatcher.honour([se.envelope.event for se in batch])
        woken = await store.intake(conn, dispatcher.ws, dispatcher.subs, batch)
        telemetry.WEBHOOK_CHECKPOINT.set(batch[-1].seq)
        dispatcher.sync(woken)


async def _maintain(
    settings: Settings, lock_conn: psycopg.AsyncConnection[Any], dispatcher: Dispatcher
) -> None:
    """Check that the lock's connection is alive (else another dispatcher may take over:
    stop first), and forget finished deliveries past the retention."""
    last_prune = 0.0
    while True:
        await lock_conn.execute("SELECT 1")
        if time.monotonic() - last_prune >= _PRUNE_S:
            last_prune = time.monotonic()
            async with dispatcher.pool.connection() as c:
                gone = await store.prune(c, dispatcher.ws, settings.webhook_retention_d * 86400)
            if gone:
                log.info("forgot %d finished webhook deliveries", gone)
        await asyncio.sleep(_MAINTENANCE_S)
