"""One reply inbox for every request the event store makes.

nats-py's own request path creates a future and a timer per request and parses replies
with ``json``; ``publish_async`` never resolves a rejected publish. The store needs every
reply (rejections included), a deadline on each request, multi-message replies (batched
direct get) and cheap pipelining of thousands of appends, so it keeps one wildcard inbox
subscription and routes each reply by its last subject token to a sink. Used only by
``events.store``; imports nats-py, and no nats type leaves the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Sequence

import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription

from events import _wire as wire

log = logging.getLogger(__name__)

Request = tuple[str, bytes, dict[str, str] | None]  # subject, payload, headers


def status_of(msg: Msg) -> str | None:
    return msg.headers.get(wire.HDR_STATUS) if msg.headers else None


class _Gather:
    """Collects the single replies of a pipelined group of requests."""

    __slots__ = ("done", "remaining", "replies")

    def __init__(self, n: int, loop: asyncio.AbstractEventLoop) -> None:
        self.replies: list[Msg | None] = [None] * n
        self.remaining = n
        self.done: asyncio.Future[None] = loop.create_future()
        if n == 0:
            self.done.set_result(None)

    def put(self, i: int, msg: Msg | None) -> bool:
        if self.replies[i] is None:
            self.replies[i] = msg
            self.remaining -= 1
            if self.remaining <= 0 and not self.done.done():
                self.done.set_result(None)
        return True


class Replies:
    """Routes replies on ``<inbox>.<token>`` to the sink registered under ``token``.

    A sink returns true when its request is complete (then it is dropped)."""

    def __init__(self, nc: NATS) -> None:
        self._nc = nc
        self._prefix = ""
        self._sub: NatsSubscription | None = None
        self._sinks: dict[str, Callable[[Msg], bool]] = {}
        self._counter = 0
        self._lock = asyncio.Lock()

    async def _inbox(self) -> str:
        if self._sub is None:
            async with self._lock:
                if self._sub is None:
                    prefix = self._nc.new_inbox() + "."
                    self._sub = await self._nc.subscribe(prefix + "*", cb=self._on_msg)
                    self._prefix = prefix
        return self._prefix

    async def _on_msg(self, msg: Msg) -> None:
        token = msg.subject[len(self._prefix) :]
        sink = self._sinks.get(token)
        if sink is not None and sink(msg):
            self._sinks.pop(token, None)

    def _tokens(self, n: int) -> int:
        base = self._counter
        self._counter += n
        return base

    async def send_all(self, requests: Sequence[Request], wait: float) -> list[Msg | None]:
        """Publish all requests back to back, then wait (at most ``wait`` seconds) for
        their replies; ``None`` for a request that got none or could not be sent."""
        prefix = await self._inbox()
        group = _Gather(len(requests), asyncio.get_running_loop())
        base = self._tokens(len(requests))
        tokens = [str(base + i) for i in range(len(requests))]
        try:
            for i, (subject, payload, headers) in enumerate(requests):
                token = tokens[i]
                self._sinks[token] = functools.partial(group.put, i)
                try:
                    await self._nc.publish(subject, payload, reply=prefix + token, headers=headers)
                except nats.errors.Error as exc:
                    log.debug("request on %s not sent: %r", subject, exc)
                    self._sinks.pop(token, None)
                    group.put(i, None)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(group.done), wait)
        finally:
            for token in tokens:
                self._sinks.pop(token, None)
        return group.replies

    async def request(
        self, subject: str, payload: bytes, wait: float, headers: dict[str, str] | None = None
    ) -> Msg | None:
        """One reply, or ``None`` on timeout or when the connection cannot send."""
        [reply] = await self.send_all([(subject, payload, headers)], wait)
        return reply

    async def collect(self, subject: str, payload: bytes, wait: float) -> list[Msg] | None:
        """Every reply up to and including the first status message (``None`` on timeout)."""
        prefix = await self._inbox()
        token = str(self._tokens(1))
        got: list[Msg] = []
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def sink(msg: Msg) -> bool:
            got.append(msg)
            if status_of(msg) is None:
                return False
            if not done.done():
                done.set_result(None)
            return True

        self._sinks[token] = sink
        try:
            await self._nc.publish(subject, payload, reply=prefix + token)
            await asyncio.wait_for(done, wait)
        except (TimeoutError, nats.errors.Error):
            return None
        finally:
            self._sinks.pop(token, None)
        return got

    async def close(self) -> None:
        self._sinks.clear()
        if self._sub is not None:
            sub, self._sub = self._sub, None
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()
