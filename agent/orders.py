"""Orders → hypervisor → report bodies, with the idempotency the contract promises.

JetStream delivers an order at least once, and the controlplane may issue the same order
again after a timeout, so every order is written to have one effect however often it runs:
defining an existing domain, starting a running one or stopping a stopped one succeed;
deleting a missing domain succeeds. On top of that, the agent remembers the answer to
every order id it executed (a bounded LRU kept in a small JSON file in the agent's state
directory), so a redelivered order is answered again with the same report id (JetStream
deduplicates it) and is not executed twice, even across an agent restart.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec

from agent.domxml import VmSpec
from agent.errors import PermanentError, TemporaryError
from agent.hypervisor import Hypervisor
from events.base import new_id, utcnow
from events.orders import AnyOrder, DefineVm, DeleteVm, Order, StartVm, StopVm
from events.reports import OrderDone, OrderFailed
from events.vm import VmState

log = logging.getLogger(__name__)

OrderResult = OrderDone | OrderFailed
JOURNAL_CAPACITY = 1024


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to one order: the report body and the report id it is sent under."""

    order_id: str
    report_id: str
    body: OrderResult
    replayed: bool = False  # true when answered from the journal, not executed now


_journal_codec = msgspec.json.Decoder(list[Outcome])


class OrderJournal:
    """Answers to the most recent order ids, oldest evicted first; persisted to ``path``."""

    def __init__(self, path: Path | None, capacity: int = JOURNAL_CAPACITY) -> None:
        self.path = path
        self.capacity = capacity
        self._items: OrderedDict[str, Outcome] = OrderedDict()
        self._lock = asyncio.Lock()
        if path is not None and path.is_file():
            try:
                for item in _journal_codec.decode(path.read_bytes()):
                    self._items[item.order_id] = item
            except (OSError, msgspec.DecodeError) as exc:
                log.warning("ignoring unreadable order journal %s: %s", path, exc)
            self._trim()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, order_id: str) -> Outcome | None:
        found = self._items.get(order_id)
        if found is not None:
            self._items.move_to_end(order_id)
        return found

    async def record(self, outcome: Outcome) -> None:
        async with self._lock:
            self._items[outcome.order_id] = outcome
            self._items.move_to_end(outcome.order_id)
            self._trim()
            if self.path is not None:
                data = msgspec.json.encode(list(self._items.values()))
                await asyncio.to_thread(_write_atomically, self.path, data)

    def _trim(self) -> None:
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".orders-", suffix=".json")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def operation(body: AnyOrder) -> str:
    """The operation word of an order, as reports and tasks name it."""
    if isinstance(body, DefineVm):
        return "create"
    if isinstance(body, StartVm):
        return "start"
    if isinstance(body, StopVm):
        return "stop"
    return "delete"


class OrderExecutor:
    """Carries out orders on one hypervisor. ``execute`` raises ``TemporaryError`` when the
    order should be retried later; everything else ends in an ``Outcome``."""

    def __init__(
        self,
        hypervisor: Hypervisor,
        journal: OrderJournal,
        *,
        shutdown_timeout_s: float = 60.0,
        poll_interval_s: float = 0.25,
        persist: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.hypervisor = hypervisor
        self.journal = journal
        # Saves what the hypervisor holds (a simulated host's node file) *before* the
        # answer is journalled: a crash in between must not leave a journal that answers
        # "done" for a domain the restarted host does not have (tests/agent/test_orders).
        self.persist = persist
        self.shutdown_timeout_s = shutdown_timeout_s
        self.poll_interval_s = poll_interval_s

    async def execute(self, order: Order) -> Outcome:
        known = self.journal.get(order.order_id)
        if known is not None:
            log.info(
                "order %s for vm_id=%s already executed, answering again",
                order.order_id,
                order.body.vm_id,
            )
            return msgspec.structs.replace(known, replayed=True)
        body = await self._run(order)
        if self.persist is not None:
            await self.persist()
        outcome = Outcome(order_id=order.order_id, report_id=new_id(), body=body)
        await self.journal.record(outcome)
        return outcome

    async def give_up(self, order: Order, error: str, permanent: bool = False) -> Outcome:
        """The final answer for an order that kept failing temporarily (or that the agent
        could not carry out at all), remembered like any other answer."""
        vm_id = order.body.vm_id
        body = OrderFailed(
            order_id=order.order_id,
            vm_id=vm_id,
            operation=operation(order.body),
            error=error,
            state=await self._state_or_none(vm_id),
            permanent=permanent,
        )
        outcome = Outcome(order_id=order.order_id, report_id=new_id(), body=body)
        await self.journal.record(outcome)
        return outcome

    async def _run(self, order: Order) -> OrderResult:
        body = order.body
        op = operation(body)
        if order.deadline is not None and utcnow() > order.deadline:
            return self._failed(order, f"deadline {order.deadline.isoformat()} passed", None)
        log.info("executing %s order %s for vm_id=%s", op, order.order_id, body.vm_id)
        try:
            if isinstance(body, DefineVm):
                state = await self._define(body)
            elif isinstance(body, StartVm):
                state = await self._start(body)
            elif isinstance(body, StopVm):
                state = await self._stop(body)
            else:
                state = await self._delete(body)
        except TemporaryError:
            raise
        except PermanentError as exc:
            log.warning("%s order %s for vm_id=%s failed: %s", op, order.order_id, body.vm_id, exc)
            return self._failed(order, str(exc), await self._state_or_none(body.vm_id))
        except _GuestDidNotStop as exc:
            return self._failed(order, str(exc), exc.state, permanent=False)
        return OrderDone(order_id=order.order_id, vm_id=body.vm_id, operation=op, state=state)

    async def _define(self, body: DefineVm) -> VmState:
        hv = self.hypervisor
        state = await hv.state(body.vm_id)
        if state is None:
            spec = VmSpec(
                vm_id=body.vm_id, name=body.name, vcpus=body.vcpus, memory_mib=body.memory_mib
            )
            state = await hv.define(spec)
        if body.start and state != "running":
            state = await hv.start(body.vm_id)
        return state

    async def _start(self, body: StartVm) -> VmState:
        return await self.hypervisor.start(body.vm_id)  # a running domain stays as it is

    async def _stop(self, body: StopVm) -> VmState:
        state = await self.hypervisor.stop(body.vm_id, force=body.force)
        if body.force or state == "stopped":
            return state
        deadline = asyncio.get_running_loop().time() + self.shutdown_timeout_s
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(self.poll_interval_s)
            now = await self.hypervisor.state(body.vm_id)
            if now is None or now == "stopped":
                return "stopped" if now is None else now
            state = now
        raise _GuestDidNotStop(
            f"guest did not shut down within {self.shutdown_timeout_s:g} s", state
        )

    async def _delete(self, body: DeleteVm) -> VmState:
        if await self.hypervisor.state(body.vm_id) is not None:
            await self.hypervisor.undefine(body.vm_id)
        return "deleted"

    async def _state_or_none(self, vm_id: str) -> VmState | None:
        try:
            return await self.hypervisor.state(vm_id)
        except TemporaryError:
            return None

    @staticmethod
    def _failed(
        order: Order, error: str, state: VmState | None, permanent: bool = True
    ) -> OrderFailed:
        return OrderFailed(
            order_id=order.order_id,
            vm_id=order.body.vm_id,
            operation=operation(order.body),
            error=error,
            state=state,
            permanent=permanent,
        )


class _GuestDidNotStop(Exception):
    def __init__(self, message: str, state: VmState) -> None:
        super().__init__(message)
        self.state = state
