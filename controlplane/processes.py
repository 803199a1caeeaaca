"""Process managers: react to VM events by placing VMs, dispatching orders, releasing capacity.

They consume the event stream through one durable consumer shared by all controlplane
replicas, so every event is handled once per fleet and again after a crash (redelivery).
Each reaction is idempotent: it acts only while the VM's pending task is still the one
that the event belongs to, reservations are keyed by VM, and orders carry a stable id.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from controlplane import placement
from controlplane.domain import host as hd
from controlplane.domain import vm as vd
from controlplane.domain.errors import DomainError, InsufficientCapacity
from controlplane.handlers import Handler, TooMuchContention
from events import orders as od
from events import vm as ve
from events.base import Meta, utcnow
from events.bus import Bus
from events.codec import Envelope, StoredEvent
from events.errors import StoreUnavailable
from events.settings import Settings

log = logging.getLogger(__name__)

SYSTEM = "system:controlplane"


def _meta(env: Envelope) -> Meta:
    """Meta for a reaction to ``env``: same task, caused by that event."""
    return Meta(
        actor=SYSTEM,
        occurred_at=utcnow(),
        correlation_id=env.correlation_id,
        causation_id=env.event_id,
        traceparent=env.traceparent,
    )


def order_id(task_id: str, operation: str) -> str:
    return f"{task_id}.{operation}"


class VmProcess:
    def __init__(self, bus: Bus, handler: Handler, settings: Settings) -> None:
        self.bus = bus
        self.handler = handler
        self.repo = handler.repo
        self.settings = settings

    async def run(self) -> None:
        """Consume the stream forever; batches are acknowledged after they are handled."""
        while True:
            try:
                async for batch in self.bus.store.consume("controlplane-pm", subject="lq.evt.vm.*"):
                    await self._handle_batch(batch.events, batch.last_seq)
                    await batch.ack()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("VM process manager failed; restarting in 1 s")
                await asyncio.sleep(1.0)

    async def _handle_batch(self, events: list[StoredEvent], last_seq: int) -> None:
        """Handle every event of a batch before it is acknowledged, retrying in place.

        The consumer acknowledges with ack-all: abandoning a batch after a transient
        failure (NATS restarting) and acknowledging a later one would acknowledge the
        abandoned events unhandled, and their reactions (an order, a placement) would be
        lost. So a batch is retried until it is handled; reactions are idempotent.
        """
        delay = 0.2
        done = 0
        while True:
            try:
                await self.repo.wait_seq(last_seq, timeout=30)
                for se in events[done:]:
                    try:
                        await self.handle(se)
                    except (StoreUnavailable, TimeoutError, TooMuchContention):
                        raise
                    except Exception:  # not transient: retrying would block every VM
                        log.exception("vm event %s at %d not handled", se.envelope.type, se.seq)
                    done += 1
                return
            except asyncio.CancelledError:
                raise
            except (StoreUnavailable, TimeoutError, TooMuchContention) as exc:
                log.warning("VM process manager retries in %.1f s: %r", delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def handle(self, se: StoredEvent) -> None:
        env = se.envelope
        e = env.event
        try:
            match e:
                case ve.VmCreated():
                    await self.place(env, e.vm_id)
                case ve.VmPlaced():
                    await self.dispatch(env, e.vm_id, "create")
                case ve.VmStartRequested():
                    await self.dispatch(env, e.vm_id, "start")
                case ve.VmStopRequested():
                    await self.dispatch(env, e.vm_id, "stop")
                case ve.VmDeleteRequested():
                    await self.dispatch(env, e.vm_id, "delete")
                case ve.VmDeleted() if e.host_id:
                    await self.handler.execute(
                        "host",
                        e.host_id,
                        hd.decider(hd.Release(vm_id=e.vm_id)),
                        _meta(env),
                    )
        except DomainError as exc:
            log.warning("vm %s: %s ignored: %s", env.aggregate_id, env.event_id, exc)

    # ------------------------------------------------------------ placement

    async def place(self, env: Envelope, vm_id: str) -> None:
        vm = self.repo.vm(vm_id)
        task_id = env.correlation_id
        if vm is None or task_id is None or vm.pending is None or vm.pending.task_id != task_id:
            return
        if vm.host_id is not None:
            return
        meta = _meta(env)
        hosts: list[hd.Host] = list(self.repo.all("host"))
        already = [h for h in hosts if vm_id in h.reservations]
        chosen: hd.Host | None = already[0] if already else None
        reasons: list[str] = []
        if chosen is None:
            for candidate in placement.rank(hosts, vm.vcpus, vm.memory_mib, reasons):
                try:
                    await self.handler.execute(
                        "host",
                        candidate.host_id,
                        hd.decider(
                            hd.Reserve(vm_id=vm_id, vcpus=vm.vcpus, memory_mib=vm.memory_mib)
                        ),
                        meta,
                    )
                except InsufficientCapacity as exc:
                    reasons.append(str(exc))
                    continue
                chosen = candidate
                break
        if chosen is None:
            reason = f"no host has capacity for {vm.vcpus} vCPUs and {vm.memory_mib} MiB" + (
                f" ({'; '.join(reasons)})" if reasons else " (no hosts are enrolled)"
            )
            await self.handler.execute(
                "vm",
                vm_id,
                vd.decider(vd.FailPlacement(task_id=task_id, reason=reason)),
                meta,
            )
            return
        host_id = chosen.host_id
        out = await self.handler.execute(
            "vm",
            vm_id,
            vd.decider(vd.Place(task_id=task_id, host_id=host_id, at=utcnow())),
            meta,
        )
        if not out.changed and (v := self.repo.vm(vm_id)) is not None and v.host_id != host_id:
            # The VM moved on without us (cancelled, failed): give the capacity back.
            await self.handler.execute("host", host_id, hd.decider(hd.Release(vm_id=vm_id)), meta)

    # ------------------------------------------------------------ orders

    async def dispatch(self, env: Envelope, vm_id: str, operation: str) -> None:
        vm = self.repo.vm(vm_id)
        task_id = env.correlation_id
        if vm is None or task_id is None or vm.pending is None or vm.pending.task_id != task_id:
            return
        if vm.host_id is None:
            return
        if operation != "create":
            await self.handler.execute(
                "vm",
                vm_id,
                vd.decider(vd.Dispatch(task_id=task_id, at=utcnow())),
                _meta(env),
            )
        body: od.AnyOrder
        match operation:
            case "create":
                body = od.DefineVm(
                    vm_id=vm_id,
                    name=vm.name,
                    vcpus=vm.vcpus,
                    memory_mib=vm.memory_mib,
                    start=vm.start_after_create,
                )
            case "start":
                body = od.StartVm(vm_id=vm_id)
            case "stop":
                body = od.StopVm(vm_id=vm_id, force=True)
            case _:
                body = od.DeleteVm(vm_id=vm_id)
        now = utcnow()
        await self.bus.send_order(
            od.Order(
                order_id=order_id(task_id, operation),
                host_id=vm.host_id,
                task_id=task_id,
                issued_at=now,
                deadline=now + timedelta(seconds=self.settings.order_timeout_s),
                traceparent=env.traceparent,
                body=body,
            )
        )
        log.info("order %s sent to host %s for vm %s", operation, vm.host_id, vm_id)
