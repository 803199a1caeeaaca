"""Orders → hypervisor → report bodies, with the idempotency the contract promises.

The executor owns what every order shares (the journal, per-VM ordering, deadlines,
cancellation, progress); what each order does on the host is in ``agent.act_power``
(define, power, delete) and ``agent.act_devices`` (snapshots, disks, NICs, resize).

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
from typing import Any

import msgspec

from agent import act_devices, act_migrate, act_power
from agent.actions import Cancelled, CancelToken, Context, GuestDidNotStop, ProgressFn, Result
from agent.errors import DomainNotFound, PermanentError, TemporaryError
from agent.hypervisor import Hypervisor
from events import orders as o
from events.base import new_id, utcnow
from events.orders import AnyOrder, Order
from events.reports import OrderDone, OrderFailed
from events.settings import DEFAULT_BOOT_ROOTS
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


_OPERATIONS: dict[type[Any], str] = {
    o.DefineVm: "create",
    o.StartVm: "start",
    o.RebootVm: "reboot",
    o.PauseVm: "pause",
    o.ResumeVm: "resume",
    o.DeleteVm: "delete",
    o.CreateSnapshot: "snapshot",
    o.RevertSnapshot: "revert",
    o.DeleteSnapshot: "delete_snapshot",
    o.AttachDisk: "attach_disk",
    o.DetachDisk: "detach_disk",
    o.ResizeDisk: "resize_disk",
    o.AttachNic: "attach_nic",
    o.DetachNic: "detach_nic",
    o.UpdateNic: "update_nic",
    o.ResizeVm: "resize",
    o.CancelOrder: "cancel",
    o.MigrateVm: "migrate",
}

_ACTIONS: dict[type[Any], Callable[[Context, Any], Awaitable[Result]]] = {
    o.DefineVm: act_power.define,
    o.StartVm: act_power.start,
    o.StopVm: act_power.stop,
    o.RebootVm: act_power.reboot,
    o.PauseVm: act_power.pause,
    o.ResumeVm: act_power.resume,
    o.DeleteVm: act_power.delete,
    o.CreateSnapshot: act_devices.create_snapshot,
    o.RevertSnapshot: act_devices.revert_snapshot,
    o.DeleteSnapshot: act_devices.delete_snapshot,
    o.AttachDisk: act_devices.attach_disk,
    o.DetachDisk: act_devices.detach_disk,
    o.ResizeDisk: act_devices.resize_disk,
    o.AttachNic: act_devices.attach_nic,
    o.DetachNic: act_devices.detach_nic,
    o.UpdateNic: act_devices.update_nic,
    o.ResizeVm: act_devices.resize_vm,
    o.MigrateVm: act_migrate.migrate,
}


def operation(body: AnyOrder) -> str:
    """The operation word of an order, as reports and tasks name it (``VmOperation``;
    a graceful ``StopVm`` is ``shutdown``, a CancelOrder ``cancel``)."""
    if isinstance(body, o.StopVm):
        return "stop" if body.force else "shutdown"
    return _OPERATIONS[type(body)]


class OrderExecutor:
    """Carries out orders on one hypervisor. ``execute`` raises ``TemporaryError`` when the
    order should be retried later; everything else ends in an ``Outcome``.

    Orders for one VM run one after another (a per-VM lock); orders for different VMs
    and every ``CancelOrder`` run at once, so a cancel reaches an order that is waiting.
    """

    def __init__(
        self,
        hypervisor: Hypervisor,
        journal: OrderJournal,
        *,
        shutdown_timeout_s: float = 60.0,
        poll_interval_s: float = 0.25,
        persist: Callable[[], Awaitable[None]] | None = None,
        progress: ProgressFn | None = None,
        boot_roots: tuple[str, ...] = tuple(DEFAULT_BOOT_ROOTS.split(",")),
    ) -> None:
        self.hypervisor = hypervisor
        self.boot_roots = boot_roots
        self.journal = journal
        # Saves what the hypervisor holds (a simulated host's node file) *before* the
        # answer is journalled: a crash in between must not leave a journal that answers
        # "done" for a domain the restarted host does not have (tests/agent/test_orders).
        self.persist = persist
        self.progress = progress
        self.shutdown_timeout_s = shutdown_timeout_s
        self.poll_interval_s = poll_interval_s
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}  # orders holding or waiting for a VM's lock
        self._running: dict[str, CancelToken] = {}
        self._cancel_first: OrderedDict[str, None] = OrderedDict()  # cancelled before start

    async def execute(self, order: Order) -> Outcome:
        known = self._known(order)
        if known is not None:
            return known
        if isinstance(order.body, o.CancelOrder):
            return await self._finish(order, await self._cancel(order, order.body))
        key = _vm_key(order.body.vm_id)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                return await self._execute_in_turn(order)
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:  # nobody else in line: forget the VM's lock
                del self._waiting[key]
                del self._locks[key]

    async def _execute_in_turn(self, order: Order) -> Outcome:
        known = self._known(order)  # the same order delivered twice, both waiting
        if known is not None:
            return known
        token = CancelToken()
        self._running[order.order_id] = token
        try:
            if self._cancel_first.pop(order.order_id, 0) is None:
                token.cancel()  # a CancelOrder came first
            body = await self._run(order, token)
        finally:
            self._running.pop(order.order_id, None)
        return await self._finish(order, body)

    def _known(self, order: Order) -> Outcome | None:
        known = self.journal.get(order.order_id)
        if known is None:
            return None
        log.info(
            "order %s for vm_id=%s already executed, answering again",
            order.order_id,
            order.body.vm_id,
        )
        return msgspec.structs.replace(known, replayed=True)

    async def _finish(self, order: Order, body: OrderResult) -> Outcome:
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

    async def _cancel(self, order: Order, body: o.CancelOrder) -> OrderResult:
        target = body.target_order_id
        token = self._running.get(target)
        state = await self._state_or_none(body.vm_id)
        if token is not None:
            token.cancel()
            note = "cancelling the running order"
        elif self.journal.get(target) is not None:
            note = "the order had already finished"
        else:
            self._cancel_first[target] = None  # it may still be on its way: refuse it then
            while len(self._cancel_first) > JOURNAL_CAPACITY:
                self._cancel_first.popitem(last=False)
            note = "the order will be refused when it arrives"
        log.info("cancel of order %s for vm_id=%s: %s", target, body.vm_id, note)
        return OrderDone(
            order_id=order.order_id,
            vm_id=body.vm_id,
            operation="cancel",
            state=state or "deleted",
            note=note,
        )

    async def _run(self, order: Order, token: CancelToken) -> OrderResult:
        body = order.body
        op = operation(body)
        if order.deadline is not None and utcnow() > order.deadline:
            return self._failed(order, f"deadline {order.deadline.isoformat()} passed", None)
        log.info("executing %s order %s for vm_id=%s", op, order.order_id, body.vm_id)
        ctx = Context(
            hv=self.hypervisor,
            order=order,
            token=token,
            progress=self.progress,
            shutdown_timeout_s=self.shutdown_timeout_s,
            poll_interval_s=self.poll_interval_s,
            boot_roots=self.boot_roots,
        )
        try:
            token.check()
            result = await _ACTIONS[type(body)](ctx, body)
        except TemporaryError:
            raise
        except Cancelled:
            log.info("%s order %s for vm_id=%s cancelled", op, order.order_id, body.vm_id)
            return self._failed(order, "cancelled", await self._state_or_none(body.vm_id))
        except DomainNotFound as exc:
            return self._failed(order, str(exc), None)
        except PermanentError as exc:
            log.warning("%s order %s for vm_id=%s failed: %s", op, order.order_id, body.vm_id, exc)
            return self._failed(order, str(exc), await self._state_or_none(body.vm_id))
        except GuestDidNotStop as exc:
            return self._failed(order, str(exc), exc.state, permanent=False)
        return OrderDone(
            order_id=order.order_id,
            vm_id=body.vm_id,
            operation=op,
            state=result.state,
            forced=result.forced,
            note=result.note,
        )

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


def _vm_key(vm_id: str) -> str:
    return vm_id.lower()
