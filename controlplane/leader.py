"""Leader-only jobs: run some work on exactly one controlplane replica at a time.

Commands need no leader (every replica decides and appends; the expected-sequence check
settles races) and the durable consumers (process manager, reports) are shared by all
replicas. But a periodic sweep — marking silent hosts disconnected, failing operations
past their deadline — should run once, not once per replica: two sweepers would race
for the same decisions and double the load. Those jobs run under the lease
``controlplane-jobs`` in the KV bucket ``lq_leader`` (``Bus.acquire_lease``).

The lease is written with create / update-by-revision, so only one replica can hold it,
and it ages out of the bucket after ``leader_ttl_s`` unless renewed (every third of the
TTL). A leader that cannot renew stops its jobs before the TTL could hand the lease to
someone else (fencing by time: it gives up at 80 % of the TTL after its last good
renewal began); on a clean stop it releases the lease so that a follower, polling every
fifth of the TTL, takes over at once. After a crash another replica takes over when the
TTL has passed — or the crashed one itself, at once, when it comes back first (its holder
identity is stable: host name and API port).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable, Coroutine
from typing import Any

from prometheus_client import Gauge

from events.aio import cancel_and_wait
from events.bus import Bus, Lease
from events.errors import StoreUnavailable

log = logging.getLogger(__name__)

JOBS_LEASE = "controlplane-jobs"
LEADER = Gauge("lq_controlplane_leader", "1 while this replica runs the leader-only jobs")

Job = Callable[[], Coroutine[Any, Any, None]]


def holder_id(port: int) -> str:
    """This replica's identity as a lease holder: its host name and API port.

    Stable across restarts on purpose: a replica that crashed and came back takes its own
    lease again at once (``Bus.acquire_lease`` renews a lease its holder asks for) instead
    of waiting out the TTL. Two live replicas cannot share it: they would need the same
    port on the same host."""
    return f"{socket.gethostname()}:{port}"


class LeaderJobs:
    """Hold lease ``name`` when possible and run ``jobs`` only while holding it."""

    def __init__(self, bus: Bus, name: str, jobs: list[Job], ttl: float, holder: str) -> None:
        self.bus = bus
        self.name = name
        self.jobs = jobs
        self.ttl = ttl
        self.holder = holder
        self.is_leader = False
        self._lease: Lease | None = None
        self._running: list[asyncio.Task[None]] = []

    async def run(self) -> None:
        """Forever: follow until the lease is free, lead until it is lost. Cancel to stop
        (the lease is then released)."""
        try:
            while True:
                lease = await self._try_acquire()
                _raise_if_cancelled()
                if lease is None:
                    await asyncio.sleep(self.ttl / 5)
                    continue
                await self._lead(lease)
        finally:
            await self._stop_jobs()
            if self._lease is not None:
                with contextlib.suppress(StoreUnavailable):
                    await self.bus.release_lease(self._lease)
                log.info("lease %s released by %s", self.name, self.holder)
                self._lease = None

    async def _try_acquire(self) -> Lease | None:
        try:
            return await self.bus.acquire_lease(self.name, self.holder)
        except StoreUnavailable as exc:
            log.debug("lease %s: %s", self.name, exc)
            return None

    async def _lead(self, lease: Lease) -> None:
        self._lease = lease
        renew_started = time.monotonic()
        log.info("lease %s acquired by %s: starting leader-only jobs", self.name, self.holder)
        self._start_jobs()
        try:
            while True:
                await asyncio.sleep(self.ttl / 3)
                attempt = time.monotonic()
                try:
                    renewed = await self.bus.renew_lease(lease)
                except StoreUnavailable as exc:
                    _raise_if_cancelled()
                    if time.monotonic() - renew_started > self.ttl * 0.8:
                        log.warning(
                            "lease %s not renewed in time (%s): stepping down", lease.name, exc
                        )
                        return
                    continue
                _raise_if_cancelled()
                if renewed is None:
                    log.warning("lease %s lost by %s: stepping down", lease.name, self.holder)
                    self._lease = None
                    return
                lease = self._lease = renewed
                renew_started = attempt
        finally:
            await self._stop_jobs()

    def _start_jobs(self) -> None:
        self.is_leader = True
        LEADER.set(1)
        self._running = [
            asyncio.create_task(job(), name=f"leader-{self.name}-{i}")
            for i, job in enumerate(self.jobs)
        ]

    async def _stop_jobs(self) -> None:
        running, self._running = self._running, []
        await cancel_and_wait(running)
        if self.is_leader:
            self.is_leader = False
            LEADER.set(0)


def _raise_if_cancelled() -> None:
    """Re-raise a cancellation that a NATS call swallowed.

    nats-py turns a ``CancelledError`` that arrives inside some of its calls into its own
    errors or drops it (a flush, a stalled publish); the task's ``cancelling()`` count
    still says that it was cancelled, so check it after every NATS call, or a stopping
    controlplane would wait for this task forever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
