"""Process managers: react to VM events by placing VMs, dispatching orders, keeping capacity.

They consume the event stream through one durable consumer shared by all controlplane
replicas, so every event is handled once per fleet and again after a crash (redelivery).
Each reaction is idempotent: it acts only while the VM's pending task is still the one
that the event belongs to, reservations are keyed by VM, and orders carry a stable id.

Every ``*_requested`` event becomes its order (``order_for``) with the id
``<task_id>.<operation>``. A VM pinned to a host (a clone, where its source's disks are)
is placed there or nowhere; a resize holds room for the larger size on the VM's host
before its order goes out and settles to the VM's size afterwards; ``vm.cancel_requested``
sends ``order.cancel`` for the task's order.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from datetime import timedelta

from controlplane import scheduler
from controlplane.consuming import consume_by_key
from controlplane.domain import host as hd
from controlplane.domain import vm as vd
from controlplane.domain import vm_state as vs
from controlplane.domain.errors import DomainError, InsufficientCapacity
from controlplane.fleet import Fleet
from controlplane.handlers import Handler
from events import orders as od
from events import vm as ve
from events.base import Event, Meta, utcnow
from events.bus import Bus
from events.codec import Envelope, StoredEvent
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
    def __init__(
        self,
        bus: Bus,
        handler: Handler,
        settings: Settings,
        placer: scheduler.Placer | None = None,
    ) -> None:
        self.bus = bus
        self.handler = handler
        self.repo = handler.repo
        self.settings = settings
        self.fleet = Fleet(self.repo, settings)
        self.placer = placer or scheduler.Placer(self.repo, settings)

    async def run(self) -> None:
        """Consume the stream forever, VMs side by side (``reaction_keys``); batches are
        acknowledged after they are handled."""
        await consume_by_key(
            self.bus.store,
            self.repo,
            "controlplane-pm",
            "lq.evt.vm.*",
            handle=self.handle,
            name="VM process manager",
            keys=reaction_keys,
        )

    async def handle(self, se: StoredEvent) -> None:
        env = se.envelope
        e = env.event
        try:
            match e:
                case ve.VmCreated():
                    await self.place(env, e.vm_id)
                case ve.VmPlaced():
                    await self.dispatch(env, e.vm_id, "create", e)
                case ve.ResizeRequested():
                    if await self.reserve_for_resize(env, e):
                        await self.dispatch(env, e.vm_id, "resize", e)
                case ve.Resized() | ve.VmOperationFailed() if _settles_resize(e):
                    await self.settle_reservation(env, e.vm_id)
                case ve.VmCancelRequested():
                    await self.cancel(env, e)
                case _ if isinstance(e, _MIGRATION):
                    return  # controlplane.migration (its own consumer)
                case ve.VmDeleted() if e.host_id:
                    await self.handler.execute(
                        "host",
                        e.host_id,
                        hd.decider(hd.Release(vm_id=e.vm_id)),
                        _meta(env),
                    )
                case _:
                    op = vs.operation_of(e)
                    if op is not None:
                        await self.dispatch(env, str(getattr(e, "vm_id", "")), op, e)
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
        decision = None
        if chosen is None:
            if vm.pinned_host_id is not None:
                pinned = [h for h in hosts if h.host_id == vm.pinned_host_id]
                if not pinned:
                    reasons.append(f"host {vm.pinned_host_id} is not enrolled")
                hosts = pinned
            ask = scheduler.ask_for(self.repo, vm)
            # the fleet's strategy and load weight, changeable at runtime; a pinned VM
            # looks at its host only, any other at the best hosts of the index
            pinned_only = hosts if vm.pinned_host_id is not None else None
            candidates, decision = self.placer.choose(ask, hosts=pinned_only)
            reasons.extend(c.reason for c in decision.candidates if not c.accepted)
            for candidate in candidates:
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
            await self.handler.execute(
                "vm",
                vm_id,
                vd.decider(vd.FailPlacement(task_id=task_id, reason=_no_room(vm, reasons))),
                meta,
            )
            return
        host_id = chosen.host_id
        out = await self.handler.execute(
            "vm",
            vm_id,
            vd.decider(vd.Place(task_id=task_id, host_id=host_id, at=utcnow(), decision=decision)),
            meta,
        )
        if not out.changed and (v := self.repo.vm(vm_id)) is not None and v.host_id != host_id:
            # The VM moved on without us (cancelled, failed): give the capacity back.
            await self.handler.execute("host", host_id, hd.decider(hd.Release(vm_id=vm_id)), meta)

    # ------------------------------------------------------------ CPU/memory reservations

    async def reserve_for_resize(self, env: Envelope, e: ve.ResizeRequested) -> bool:
        """Hold room for the larger of the old and new sizes while the resize runs; a host
        without that room, or a growth into its HA cluster's failover share, fails the task
        before any order is sent."""
        vm = self.repo.vm(e.vm_id)
        task_id = env.correlation_id
        if vm is None or task_id is None or vm.pending is None or vm.pending.task_id != task_id:
            return False
        if vm.host_id is None:
            return False
        resize = hd.Resize(
            vm_id=vm.vm_id,
            vcpus=max(vm.vcpus, e.vcpus),
            memory_mib=max(vm.memory_mib, e.memory_mib),
        )
        host = self.repo.host(vm.host_id)
        rooms = scheduler.failover_rooms(self.repo, vm.vm_id)
        spare = rooms.get(host.cluster_id) if host is not None and host.cluster_id else None
        cpus = resize.vcpus if resize.vcpus > vm.vcpus else 0  # only what grows is checked
        memory = resize.memory_mib if resize.memory_mib > vm.memory_mib else 0
        try:
            if spare and (cpus or memory) and (why := spare.refusal(cpus, memory)):
                raise InsufficientCapacity(why)
            await self.handler.execute("host", vm.host_id, hd.decider(resize), _meta(env))
        except InsufficientCapacity as exc:
            reason = f"no room for the resize: {exc}"
            await self.handler.execute(
                "vm", vm.vm_id, vd.decider(vd.Fail(task_id=task_id, reason=reason)), _meta(env)
            )
            return False
        return True

    async def settle_reservation(self, env: Envelope, vm_id: str) -> None:
        """After a resize (done, failed or cancelled) the reservation is the VM's size."""
        vm = self.repo.vm(vm_id)
        if vm is None or vm.host_id is None or vm.state == "deleted":
            return
        host = self.repo.host(vm.host_id)
        if host is None or vm_id not in host.reservations:
            return
        resize = hd.Resize(vm_id=vm_id, vcpus=vm.vcpus, memory_mib=vm.memory_mib)
        await self.handler.execute("host", vm.host_id, hd.decider(resize), _meta(env))

    # ------------------------------------------------------------ orders

    async def dispatch(self, env: Envelope, vm_id: str, operation: str, request: Event) -> None:
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
            vm = self.repo.vm(vm_id)
            if vm is None or vm.pending is None or vm.pending.task_id != task_id:
                return  # cancelled (or failed) before it could be sent
        assert vm.host_id is not None
        body = order_for(vm, request)
        now = utcnow()
        await self.bus.send_order(
            od.Order(
                order_id=order_id(task_id, operation),
                host_id=vm.host_id,
                task_id=task_id,
                issued_at=now,
                deadline=now + timedelta(seconds=order_deadline_s(self.settings, request)),
                traceparent=env.traceparent,
                body=body,
            )
        )
        log.info("order %s sent to host %s for vm %s", operation, vm.host_id, vm_id)

    async def cancel(self, env: Envelope, e: ve.VmCancelRequested) -> None:
        """Ask the host to stop waiting on the task's order; it answers that order."""
        vm = self.repo.vm(e.vm_id)
        if vm is None or vm.pending is None or vm.pending.task_id != e.task_id:
            return
        if vm.host_id is None:
            return
        now = utcnow()
        target = order_id(e.task_id, vm.pending.operation)
        await self.bus.send_order(
            od.Order(
                order_id=order_id(e.task_id, "cancel"),
                host_id=vm.host_id,
                task_id=e.task_id,
                issued_at=now,
                deadline=now + timedelta(seconds=self.settings.order_timeout_s),
                traceparent=env.traceparent,
                body=od.CancelOrder(vm_id=e.vm_id, target_order_id=target),
            )
        )
        log.info("cancel of order %s sent to host %s", target, vm.host_id)


CAPACITY = ("capacity",)
"""The key of every reaction that reads or changes hosts' reservations."""


_MIGRATION = (
    ve.VmMigrationRequested,
    ve.VmMigrationStarted,
    ve.VmMigrationTargetReady,
    ve.VmMigrated,
    ve.VmMigrationFailed,
)


def reacts_to(e: Event) -> bool:
    """Whether ``VmProcess.handle`` does anything for ``e`` (the VM's observed states and
    task ends, most of the VM events, need nothing from it)."""
    if isinstance(e, _MIGRATION):
        return False  # controlplane.migration (its own consumer)
    return (
        isinstance(e, ve.VmCreated | ve.VmPlaced | ve.VmCancelRequested)
        or _settles_resize(e)
        or (isinstance(e, ve.VmDeleted) and bool(e.host_id))
        or vs.operation_of(e) is not None
    )


def reaction_keys(se: StoredEvent) -> tuple[Hashable, ...] | None:
    """What the reaction to ``se`` depends on, for concurrent handling (``consuming``).

    Every reaction reads and changes its own VM (pending task, dispatch): one VM's events
    stay in stream order. Placement, resize reservations and releases also read or change
    host reservations, which every placement ranks, and placement reads other VMs
    (affinity rules, HA failover room): those stay in stream order across VMs, so a
    placement still sees the capacity that an earlier deletion released and competes for
    a host's last room in the order the VMs were created. Everything else (dispatching an
    order, a cancellation) touches only its VM and runs beside other VMs' reactions.
    ``None`` for an event without a reaction (``reacts_to``): it is not handed over."""
    env = se.envelope
    e = env.event
    if not reacts_to(e):
        return None
    vm = ("vm", env.aggregate_id)
    if (
        isinstance(e, ve.VmCreated | ve.ResizeRequested)
        or _settles_resize(e)
        or (isinstance(e, ve.VmDeleted) and e.host_id)
    ):
        return (vm, CAPACITY)
    return (vm,)


def _settles_resize(e: Event) -> bool:
    return isinstance(e, ve.Resized) or (
        isinstance(e, ve.VmOperationFailed) and e.operation == "resize"
    )


def _no_room(vm: vd.Vm, reasons: list[str]) -> str:
    where = (
        f"host {vm.pinned_host_id} (the VM is pinned there"
        + (", where the disks it is cloned from are)" if vm.clone_of else ")")
        if vm.pinned_host_id
        else "no host"
    )
    verb = "has no capacity" if vm.pinned_host_id else "has capacity"
    return f"{where} {verb} for {vm.vcpus} vCPUs and {vm.memory_mib} MiB" + (
        f" ({'; '.join(reasons)})" if reasons else " (no hosts are enrolled)"
    )


def order_deadline_s(settings: Settings, request: Event) -> float:
    """How long a host has for an order: a graceful shutdown adds the guest's own time."""
    if isinstance(request, ve.VmStopRequested) and not request.force:
        return settings.order_timeout_s + request.timeout_s
    return settings.order_timeout_s


def order_for(vm: vd.Vm, request: Event) -> od.AnyOrder:
    """The order carrying out ``request`` (the VM's full spec for a creation)."""
    v = vm.vm_id
    match request:
        case ve.VmPlaced() | ve.VmCreated():
            return od.DefineVm(
                vm_id=v,
                name=vm.name,
                vcpus=vm.vcpus,
                memory_mib=vm.memory_mib,
                start=vm.start_after_create,
                disks=vm.disks,
                nics=vm.nics,
                firmware=vm.firmware,
                machine=vm.machine,
                boot_order=vm.boot_order,
                max_vcpus=vm.max_vcpus,
                max_memory_mib=vm.max_memory_mib,
                cloud_init=vm.cloud_init,
                clone_of=vm.clone_of,
                kernel=vm.kernel,
                initrd=vm.initrd,
                cmdline=vm.cmdline,
            )
        case ve.VmStartRequested():
            return od.StartVm(vm_id=v)
        case ve.VmStopRequested():
            return od.StopVm(
                vm_id=v,
                force=request.force,
                timeout_s=request.timeout_s,
                force_on_timeout=request.force_on_timeout,
            )
        case ve.VmRebootRequested():
            return od.RebootVm(vm_id=v, force=request.force)
        case ve.VmPauseRequested():
            return od.PauseVm(vm_id=v)
        case ve.VmResumeRequested():
            return od.ResumeVm(vm_id=v)
        case ve.VmDeleteRequested():
            return od.DeleteVm(vm_id=v, keep_disks=request.keep_disks)
        case ve.SnapshotRequested():
            return od.CreateSnapshot(
                vm_id=v,
                snapshot_id=request.snapshot_id,
                name=request.name,
                description=request.description,
                memory=request.memory,
                quiesce=request.quiesce,
            )
        case ve.SnapshotRevertRequested():
            return od.RevertSnapshot(vm_id=v, snapshot_id=request.snapshot_id)
        case ve.SnapshotDeleteRequested():
            return od.DeleteSnapshot(vm_id=v, snapshot_id=request.snapshot_id)
        case ve.DiskAttachRequested():
            return od.AttachDisk(vm_id=v, disk=request.disk)
        case ve.DiskDetachRequested():
            return od.DetachDisk(
                vm_id=v, disk_id=request.disk_id, delete_volume=request.delete_volume
            )
        case ve.DiskResizeRequested():
            return od.ResizeDisk(vm_id=v, disk_id=request.disk_id, size_gib=request.size_gib)
        case ve.NicAttachRequested():
            return od.AttachNic(vm_id=v, nic=request.nic)
        case ve.NicDetachRequested():
            return od.DetachNic(vm_id=v, nic_id=request.nic_id)
        case ve.NicUpdateRequested():
            return od.UpdateNic(vm_id=v, nic_id=request.nic_id, network_id=request.network_id)
        case ve.ResizeRequested():
            return od.ResizeVm(
                vm_id=v, vcpus=request.vcpus, memory_mib=request.memory_mib, live=request.live
            )
    raise TypeError(f"no order for {type(request).__name__}")
