"""The VM aggregate's state and how each event changes it (``evolve``).

The state holds the whole hardware spec (what ``order.define_vm`` needs to build the
domain again), the snapshot tree and the operation in flight. ``Pending.request`` keeps
the event that asked for the operation, so completing it can produce the right outcome
(``vm.snapshot_created`` with its parent, ``vm.disk_attached`` with the spec, ...) and the
process manager can build the order from it.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from events import ha
from events import task as te
from events import vm as ve
from events.base import Event
from events.codec import Envelope


class Pending(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The operation in flight: which task, the request, and when it reached a host.

    ``state_before`` is the VM's state when the operation was asked for: where a failed or
    cancelled operation leaves it unless the host says otherwise. ``progressed_at`` is the
    host's last sign of work on it (its deadline counts from there).
    """

    task_id: str
    operation: str  # a ve.VmOperation word, or convert_to_template / convert_to_vm
    queued_at: datetime | None = None
    dispatched_at: datetime | None = None
    host_id: str | None = None
    request: Event | None = None
    state_before: ve.VmState | None = None
    cancel_requested: bool = False
    progressed_at: datetime | None = None
    percent: int = 0


class Snapshot(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    snapshot_id: str
    name: str
    parent_id: str | None = None
    memory: bool = False
    vm_state: ve.VmState = "stopped"
    created_at: datetime | None = None
    description: str = ""


class Migration(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A move under way: where to, how, and whether the destination already holds the VM."""

    from_host_id: str
    to_host_id: str
    mode: ve.MigrationMode = "handoff"
    live: bool = True
    target_ready: bool = False
    started_at: datetime | None = None


class Vm(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A VM as the controlplane decides on it.

    Untracked by the cyclic garbage collector (``gc=False``, as ``Pending``, ``Snapshot`` and
    ``Migration``): states are immutable and never refer back to anything holding them, so
    they cannot form a cycle, and the aggregate cache holds one per VM — tracked, every
    full collection walked all of them (docs/benchmarks.md, the big inventory)."""

    vm_id: str
    name: str
    vcpus: int
    memory_mib: int
    description: str = ""
    start_after_create: bool = False
    state: ve.VmState = "pending"
    host_id: str | None = None
    pending: Pending | None = None
    error: str = ""
    idempotency_keys: tuple[str, ...] = ()
    disks: tuple[ve.DiskSpec, ...] = ()
    nics: tuple[ve.NicSpec, ...] = ()
    firmware: ve.Firmware = "bios"
    machine: str = "pc"
    boot_order: tuple[ve.BootDevice, ...] = ("hd",)
    max_vcpus: int = 0
    max_memory_mib: int = 0
    cloud_init: ve.CloudInit | None = None
    clone_of: ve.CloneSource | None = None
    template: bool = False
    pinned_host_id: str | None = None
    kernel: str = ""
    initrd: str = ""
    cmdline: str = ""
    snapshots: tuple[Snapshot, ...] = ()
    current_snapshot_id: str | None = None
    nic_ips: dict[str, str] = {}
    next_disk: int = 0
    next_nic: int = 0
    ha_enabled: bool = False  # HA (docs/ha.md; decided in vm_ha)
    ha_priority: int = 0
    migration: Migration | None = None
    resource_pool_id: str | None = None
    placement_labels: dict[str, str] = {}

    def disk(self, disk_id: str) -> ve.DiskSpec | None:
        return next((d for d in self.disks if d.disk_id == disk_id), None)

    def nic(self, nic_id: str) -> ve.NicSpec | None:
        return next((n for n in self.nics if n.nic_id == nic_id), None)

    def snapshot(self, snapshot_id: str) -> Snapshot | None:
        return next((s for s in self.snapshots if s.snapshot_id == snapshot_id), None)


def _index(ident: str, prefix: str) -> int:
    """``disk3`` → 3 (-1 when the id does not follow the convention)."""
    tail = ident.removeprefix(prefix)
    return int(tail) if tail != ident and tail.isdigit() else -1


def next_index(idents: list[str], prefix: str, floor: int) -> int:
    return max([floor - 1, *(_index(i, prefix) for i in idents)]) + 1


# Request events and the operation word each one opens (a stop is "shutdown" unless forced).
def operation_of(e: Event) -> str | None:
    match e:
        case ve.VmStartRequested():
            return "start"
        case ve.VmStopRequested():
            return "stop" if e.force else "shutdown"
        case ve.VmRebootRequested():
            return "reboot"
        case ve.VmPauseRequested():
            return "pause"
        case ve.VmResumeRequested():
            return "resume"
        case ve.VmDeleteRequested():
            return "delete"
        case ve.SnapshotRequested():
            return "snapshot"
        case ve.SnapshotRevertRequested():
            return "revert"
        case ve.SnapshotDeleteRequested():
            return "delete_snapshot"
        case ve.DiskAttachRequested():
            return "attach_disk"
        case ve.DiskDetachRequested():
            return "detach_disk"
        case ve.DiskResizeRequested():
            return "resize_disk"
        case ve.VmMigrationRequested():
            return "migrate"
        case ve.NicAttachRequested():
            return "attach_nic"
        case ve.NicDetachRequested():
            return "detach_nic"
        case ve.NicUpdateRequested():
            return "update_nic"
        case ve.ResizeRequested():
            return "resize"
    return None


def _created(e: ve.VmCreated) -> Vm:
    return Vm(
        vm_id=e.vm_id,
        name=e.name,
        vcpus=e.vcpus,
        memory_mib=e.memory_mib,
        description=e.description,
        start_after_create=e.start,
        disks=e.disks,
        nics=e.nics,
        firmware=e.firmware,
        machine=e.machine,
        boot_order=e.boot_order,
        max_vcpus=e.max_vcpus,
        max_memory_mib=e.max_memory_mib,
        cloud_init=e.cloud_init,
        clone_of=e.clone_of,
        template=e.template,
        pinned_host_id=e.host_id,
        kernel=e.kernel,
        initrd=e.initrd,
        cmdline=e.cmdline,
        resource_pool_id=e.resource_pool_id,
        placement_labels=dict(e.placement_labels),
        next_disk=next_index([d.disk_id for d in e.disks], "disk", 0),
        next_nic=next_index([n.nic_id for n in e.nics], "nic", 0),
        ha_enabled=e.ha_enabled,
        ha_priority=e.ha_priority,
    )


def _snapshot_deleted(vm: Vm, snapshot_id: str) -> Vm:
    gone = vm.snapshot(snapshot_id)
    if gone is None:
        return vm
    parent = gone.parent_id
    kept = tuple(
        msgspec.structs.replace(s, parent_id=parent) if s.parent_id == snapshot_id else s
        for s in vm.snapshots
        if s.snapshot_id != snapshot_id
    )
    current = parent if vm.current_snapshot_id == snapshot_id else vm.current_snapshot_id
    return msgspec.structs.replace(vm, snapshots=kept, current_snapshot_id=current)


def evolve(vm: Vm | None, env: Envelope) -> Vm | None:
    """Fold one event into the state. Unknown events leave the state unchanged."""
    e = env.event
    r = msgspec.structs.replace
    if isinstance(e, ve.VmCreated):
        return _created(e)
    if vm is None:
        return None
    op = operation_of(e)
    if op is not None:
        # The request comes just before its task.queued, in the same decision.
        vm = r(
            vm,
            pending=Pending(
                task_id=env.correlation_id or "",
                operation=op,
                request=e,
                state_before=vm.state,
            ),
        )
    match e:
        case te.TaskQueued():
            keys = (
                (*vm.idempotency_keys, e.idempotency_key)
                if e.idempotency_key
                else vm.idempotency_keys
            )
            staged = vm.pending if vm.pending is not None and vm.pending.queued_at is None else None
            pending = Pending(
                task_id=e.task_id,
                operation=e.operation.split(".")[-1],
                queued_at=env.occurred_at,
                request=staged.request if staged else None,
                state_before=staged.state_before if staged else vm.state,
            )
            return r(vm, pending=pending, idempotency_keys=keys)
        case te.TaskRunning():
            if vm.pending is None or vm.pending.task_id != e.task_id:
                return vm
            return r(vm, pending=r(vm.pending, dispatched_at=env.occurred_at, host_id=e.host_id))
        case te.TaskProgressed():
            if vm.pending is None or vm.pending.task_id != e.task_id:
                return vm
            return r(vm, pending=r(vm.pending, progressed_at=env.occurred_at, percent=e.percent))
        case te.TaskSucceeded() | te.TaskFailed() | te.TaskCancelled():
            if vm.pending is not None and vm.pending.task_id == e.task_id:
                return r(vm, pending=None)
            return vm
        case ve.VmCancelRequested():
            if vm.pending is None or vm.pending.task_id != e.task_id:
                return vm
            return r(vm, pending=r(vm.pending, cancel_requested=True))
        case ve.VmPlaced():
            return r(vm, host_id=e.host_id)
        case ve.VmPlacementFailed():
            return r(vm, state="error", error=e.reason)
        case ve.VmDefined():
            return r(vm, state="stopped", host_id=e.host_id, error="")
        case ve.VmStartRequested():
            return r(vm, state="starting")
        case ve.VmStarted() | ve.VmRebooted() | ve.VmResumed():
            return r(vm, state="running", error="")
        case ve.VmStopRequested():
            return r(vm, state="stopping")
        case ve.VmStopped():
            return r(vm, state="stopped", error="", nic_ips={})
        case ve.VmPaused():
            return r(vm, state="paused", error="")
        case ve.VmDeleted():
            return r(vm, state="deleted")
        case ve.VmOperationFailed():
            return r(vm, state=e.state, error=e.reason)
        case ve.VmStateObserved():
            return r(vm, state=e.state, error=e.reason if e.state == "error" else vm.error)
        case ve.VmMigrationStarted():
            migration = Migration(
                from_host_id=e.from_host_id,
                to_host_id=e.to_host_id,
                mode=e.mode,
                live=e.live,
                started_at=env.occurred_at,
            )
            return r(vm, migration=migration, state="migrating")
        case ve.VmMigrationTargetReady():
            if vm.migration is None:
                return vm
            return r(vm, migration=r(vm.migration, target_ready=True))
        case ve.VmMigrated():
            return r(vm, host_id=e.to_host_id, state=e.state, migration=None, error="")
        case ve.VmMigrationFailed():
            return r(vm, state=e.state, error=e.reason, migration=None)
        case ve.VmConvertedToTemplate():
            return r(vm, template=True)
        case ve.VmConvertedToVm():
            return r(vm, template=False)
        case ve.SnapshotCreated():
            snap = Snapshot(
                snapshot_id=e.snapshot_id,
                name=e.name,
                parent_id=e.parent_id,
                memory=e.memory,
                vm_state=e.vm_state,
                created_at=env.occurred_at,
                description=e.description,
            )
            return r(vm, snapshots=(*vm.snapshots, snap), current_snapshot_id=e.snapshot_id)
        case ve.SnapshotReverted():
            return r(vm, current_snapshot_id=e.snapshot_id, state=e.state, error="")
        case ve.SnapshotDeleted():
            return _snapshot_deleted(vm, e.snapshot_id)
        case ve.DiskAttached():
            return r(
                vm,
                disks=(*vm.disks, e.disk),
                next_disk=max(vm.next_disk, next_index([e.disk.disk_id], "disk", 0)),
            )
        case ve.DiskDetached():
            return r(vm, disks=tuple(d for d in vm.disks if d.disk_id != e.disk_id))
        case ve.DiskResized():
            return r(
                vm,
                disks=tuple(
                    r(d, size_gib=e.size_gib) if d.disk_id == e.disk_id else d for d in vm.disks
                ),
            )
        case ve.NicAttached():
            return r(
                vm,
                nics=(*vm.nics, e.nic),
                next_nic=max(vm.next_nic, next_index([e.nic.nic_id], "nic", 0)),
            )
        case ve.NicDetached():
            ips = {k: v for k, v in vm.nic_ips.items() if k != e.nic_id}
            return r(vm, nics=tuple(n for n in vm.nics if n.nic_id != e.nic_id), nic_ips=ips)
        case ve.NicUpdated():
            return r(
                vm,
                nics=tuple(
                    r(n, network_id=e.network_id) if n.nic_id == e.nic_id else n for n in vm.nics
                ),
            )
        case ve.NicAddressObserved():
            ips = dict(vm.nic_ips)
            if e.ip:
                ips[e.nic_id] = e.ip
            else:
                ips.pop(e.nic_id, None)
            return r(vm, nic_ips=ips)
        case ha.VmHaConfigured():
            return r(vm, ha_enabled=e.enabled, ha_priority=e.priority)
        case ha.VmHaRestarted():
            return r(vm, host_id=e.to_host_id, state="starting", error="", nic_ips={})
        case ve.Resized():
            return r(
                vm,
                vcpus=e.vcpus,
                memory_mib=e.memory_mib,
                max_vcpus=max(vm.max_vcpus, e.vcpus) if vm.max_vcpus else 0,
                max_memory_mib=max(vm.max_memory_mib, e.memory_mib) if vm.max_memory_mib else 0,
            )
    return vm
