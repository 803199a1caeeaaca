"""Follow a KV bucket: the latest value of every key, kept current by one watch.

Reading a whole bucket costs one message per key. The controlplane's liveness check and
its HA sweep judge every host once a second against the heartbeat and lease buckets: read
afresh each pass, that is 10,000 messages a second per bucket at 10,000 hosts, whether
anything changed or not. A follower holds one watch instead (an ordered consumer that
delivers the last value of every key once, then each put as it happens) and keeps the
values in memory, so what it costs follows the puts, not the fleet's size times the
checks.

It answers exactly what a fresh read of the bucket would:

- a key the bucket's TTL removed is missing: each value is kept with the server's time of
  its put and dropped once that is older than ``ttl_s`` (the stream expires it silently,
  no message says so); a delete or purge removes the key at once;
- a follower that fell behind (a busy process works through its deliveries later) would
  judge by old values: ``values()`` first asks the bucket's last sequence (one request,
  whatever the number of keys) and waits until the watch has delivered up to it, so what
  it returns is at least as new as the moment it was called;
- after any reconnect (a restarted nats-server forgets the watch's consumer, and puts
  made meanwhile may be missed) a new watch reads every key once more; until that read is
  complete, and while the connection is down, ``values()`` raises ``StoreUnavailable``,
  as a read of the bucket would;
- ``following()`` counts its users: the watch runs while someone follows (the
  controlplane's leader-only jobs), so a replica that loses leadership stops it and one
  that gains it reads the bucket afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Generic, TypeVar

import msgspec
import nats.errors

from events.aio import cancel_and_wait
from events.bus import Bus
from events.errors import StoreUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
_DELETED = ("DEL", "PURGE")


class KvFollower(Generic[T]):
    """The current values of bucket ``bucket``, followed while ``following()`` is open."""

    def __init__(
        self,
        bus: Bus,
        bucket: str,
        decoder: msgspec.json.Decoder[T],
        ttl_s: float | None,
        *,
        poll_s: float = 1.0,
    ) -> None:
        self.bus, self.bucket, self.decoder, self.ttl_s = bus, bucket, decoder, ttl_s
        self.poll_s = poll_s  # how soon a lost connection is noticed without a message
        self._values: dict[str, T] = {}
        self._put_at: dict[str, float] = {}  # key → server time of its put (epoch seconds)
        self._synced_on: int | None = None  # the reconnect count its complete read was on
        self._revision = 0  # the stream sequence of the last message delivered
        self._changed = asyncio.Condition()
        self._users = 0
        self._task: asyncio.Task[None] | None = None
        self.reads = 0  # complete reads of the bucket (the first one and one per resync)

    @contextlib.asynccontextmanager
    async def following(self) -> AsyncIterator[KvFollower[T]]:
        self._users += 1
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"follow {self.bucket}")
        try:
            yield self
        finally:
            self._users -= 1
            if self._users == 0 and self._task is not None:
                task, self._task = self._task, None
                await cancel_and_wait([task])
                self._synced_on = None
                self._values, self._put_at = {}, {}

    @property
    def active(self) -> bool:
        """Someone follows the bucket (inside ``following()``)."""
        return self._users > 0

    def in_sync(self) -> bool:
        """The values are those of the bucket now (as of the last message delivered)."""
        return (
            self._synced_on is not None
            and self.bus.connected
            and self._synced_on == self._reconnects()
        )

    async def values(self, wait_s: float = 5.0) -> dict[str, T]:
        """Every key's current value, as of this call at least; ``StoreUnavailable`` when
        the watch is not in sync or has not caught up within ``wait_s``. Outside
        ``following()`` the bucket is read afresh (``Bus.kv_values``)."""
        if not self.active:
            return await self.bus.kv_values(self.bucket, self.decoder)
        deadline = asyncio.get_running_loop().time() + wait_s
        if not self.in_sync():
            try:
                async with self._changed:
                    await asyncio.wait_for(self._changed.wait_for(self.in_sync), wait_s)
            except TimeoutError:
                raise StoreUnavailable(f"{self.bucket} is not followed in sync") from None
        last, held = await self.bus.bucket_position(self.bucket)
        while held and self._revision < last:  # deliveries not worked through yet
            if asyncio.get_running_loop().time() > deadline or not self.in_sync():
                behind = last - self._revision
                raise StoreUnavailable(f"{self.bucket} followed {behind} messages behind")
            await asyncio.sleep(0.02)
        if self.ttl_s is not None:
            oldest = time.time() - self.ttl_s
            for key in [k for k, at in self._put_at.items() if at < oldest]:
                del self._values[key], self._put_at[key]
        return dict(self._values)

    def _reconnects(self) -> int:
        return int(self.bus.client.stats["reconnects"])

    async def _run(self) -> None:
        while True:
            try:
                if self.bus.connected:
                    await self._watch()
            except (nats.errors.Error, StoreUnavailable, OSError) as exc:
                log.warning("following %s: %r; watching again", self.bucket, exc)
            self._synced_on = None
            await asyncio.sleep(self.poll_s)

    async def _watch(self) -> None:
        """One watch: a complete read, then puts as they happen, until the connection is
        lost or re-established."""
        on = self._reconnects()
        kv = await self.bus.kv_handle(self.bucket)
        watcher = await kv.watchall()
        values: dict[str, T] = {}
        put_at: dict[str, float] = {}
        revision = 0
        try:
            while True:
                try:
                    entry = await watcher.updates(self.poll_s)  # type: ignore[no-untyped-call]
                except nats.errors.TimeoutError:
                    if not self.bus.connected or self._reconnects() != on:
                        return
                    continue
                if self._reconnects() != on:
                    return
                if entry is not None and entry.revision:
                    revision = max(revision, entry.revision)
                    if self._synced_on is not None:
                        self._revision = revision
                if entry is None:  # the complete read is done: from now on, live
                    self._values, self._put_at = values, put_at
                    self._revision = revision
                    self._synced_on = on
                    self.reads += 1
                    async with self._changed:
                        self._changed.notify_all()
                    continue
                if entry.operation in _DELETED or not entry.value:
                    values.pop(entry.key, None)
                    put_at.pop(entry.key, None)
                    continue
                try:
                    values[entry.key] = self.decoder.decode(entry.value)
                except msgspec.DecodeError:
                    log.warning("undecodable value under %s in %s", entry.key, self.bucket)
                    continue
                put_at[entry.key] = _epoch(entry.created)
        finally:
            with contextlib.suppress(nats.errors.Error, OSError):
                await watcher.stop()  # type: ignore[no-untyped-call]


def _epoch(created: object) -> float:
    """The server's time of a put (nats-py gives a datetime; an old one, nanoseconds)."""
    stamp: Callable[[], float] | None = getattr(created, "timestamp", None)
    if stamp is not None:
        return stamp()
    return created / 1e9 if isinstance(created, int) else time.time()
