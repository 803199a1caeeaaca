"""What every order action shares: its context, its result, cancellation and progress.

An action (``agent.act_power``, ``agent.act_devices``) is ``async def(ctx, body) ->
Result``. It raises ``PermanentError``/``TemporaryError`` for failures, ``Cancelled`` when
``ctx.token`` was cancelled at a point where stopping is safe, and ``GuestDidNotStop``
when a graceful shutdown timed out. The executor (``agent.orders``) turns all of that into
``OrderDone``/``OrderFailed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import NamedTuple

from agent.hypervisor import Hypervisor
from events.orders import Order
from events.settings import DEFAULT_BOOT_ROOTS
from events.vm import VmState

log = logging.getLogger(__name__)

ProgressFn = Callable[[Order, int, str], Awaitable[None]]
"""Sends ``OrderProgress(percent, message)`` for an order (the service reports it)."""


class Result(NamedTuple):
    state: VmState
    forced: bool = False
    note: str = ""


class Cancelled(Exception):
    """The order was cancelled (``CancelOrder``) and stopped where that was safe."""


class GuestDidNotStop(Exception):
    def __init__(self, message: str, state: VmState) -> None:
        super().__init__(message)
        self.state = state


class CancelToken:
    """Set by a ``CancelOrder``; checked by actions between steps and while they wait."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled")

    async def sleep(self, seconds: float) -> None:
        """Sleep, or raise ``Cancelled`` as soon as the order is cancelled."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)
        self.check()

    async def race(self, work: Awaitable[object]) -> None:
        """Wait for ``work`` unless cancelled first (the work itself goes on)."""
        task = asyncio.ensure_future(work)
        waiter = asyncio.ensure_future(self._event.wait())
        try:
            await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if not task.done():
            raise Cancelled("cancelled")
        task.result()


class Context(NamedTuple):
    hv: Hypervisor
    order: Order
    token: CancelToken
    progress: ProgressFn | None
    shutdown_timeout_s: float
    poll_interval_s: float
    boot_roots: tuple[str, ...] = tuple(DEFAULT_BOOT_ROOTS.split(","))

    async def report(self, percent: int, message: str) -> None:
        if self.progress is None:
            return
        try:
            await self.progress(self.order, max(0, min(100, percent)), message)
        except Exception as exc:  # progress is a courtesy: never fail the order for it
            log.warning("cannot report progress of %s: %s", self.order.order_id, exc)
