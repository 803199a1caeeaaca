"""VM decisions about its parts: snapshots, disks, NICs and CPU/memory.

Each request is checked here against the VM's state and spec (typed refusals, nothing
emitted), and ``outcome`` turns the host's "done" into the event that records the change,
from the request kept in ``Pending.request``: ``vm.disk_attached`` carries the very spec
that was requested, ``vm.snapshot_created`` the snapshot that was current as its parent.
"""

from __future__ import annotations

from controlplane.domain.errors import (
    AlreadyExists,
    InvalidRequest,
    InvalidState,
    UnknownPart,
)
from controlplane.domain.vm_commands import (
    AttachDisk,
    AttachNic,
    Complete,
    DeleteSnapshot,
    DetachDisk,
    DetachNic,
    Resize,
    ResizeDisk,
    RevertSnapshot,
    TakeSnapshot,
    UpdateNic,
)
from controlplane.domain.vm_rules import (
    MAX_DISKS,
    MAX_NICS,
    require_idle,
    require_state,
    require_vm,
    task_queued,
)
from controlplane.domain.vm_state import Pending, Vm
from events import task as te
from events import vm as ve
from events.base import Event

DeviceCommand = (
    TakeSnapshot
    | RevertSnapshot
    | DeleteSnapshot
    | AttachDisk
    | DetachDisk
    | ResizeDisk
    | AttachNic
    | DetachNic
    | UpdateNic
    | Resize
)

_CONFIGURABLE = ("stopped", "running")
_SNAPSHOTTABLE = ("stopped", "running", "paused")


def decide(vm: Vm, command: DeviceCommand) -> list[Event]:
    """The request event and its ``task.queued``, or a typed refusal."""
    require_idle(vm)
    request = _request(vm, command)
    op = {
        TakeSnapshot: "snapshot",
        RevertSnapshot: "revert",
        DeleteSnapshot: "delete_snapshot",
        AttachDisk: "attach_disk",
        DetachDisk: "detach_disk",
        ResizeDisk: "resize_disk",
        AttachNic: "attach_nic",
        DetachNic: "detach_nic",
        UpdateNic: "update_nic",
        Resize: "resize",
    }[type(command)]
    return [request, task_queued(command, op, vm.vm_id, vm.name)]


def _request(vm: Vm, command: DeviceCommand) -> Event:
    match command:
        case TakeSnapshot():
            require_vm(vm, "be snapshotted")
            require_state(vm, _SNAPSHOTTABLE, "be snapshotted")
            if command.memory and vm.state not in ("running", "paused"):
                raise InvalidRequest(
                    f"a snapshot with memory needs a running or paused VM ({vm.name} is "
                    f"{vm.state})",
                    slug="memory-needs-running",
                )
            if vm.snapshot(command.snapshot_id) is not None:
                raise AlreadyExists(f"snapshot {command.snapshot_id} already exists")
            if any(s.name == command.name for s in vm.snapshots):
                raise InvalidState(
                    f"vm {vm.name} already has a snapshot named {command.name!r}",
                    slug="duplicate",
                )
            return ve.SnapshotRequested(
                vm_id=vm.vm_id,
                snapshot_id=command.snapshot_id,
                name=command.name,
                description=command.description,
                memory=command.memory,
                quiesce=command.quiesce,
            )
        case RevertSnapshot():
            require_vm(vm, "be reverted")
            _snapshot(vm, command.snapshot_id)
            require_state(vm, _SNAPSHOTTABLE, "be reverted")
            return ve.SnapshotRevertRequested(vm_id=vm.vm_id, snapshot_id=command.snapshot_id)
        case DeleteSnapshot():
            require_vm(vm, "lose snapshots (linked clones may depend on its volumes)")
            _snapshot(vm, command.snapshot_id)
            require_state(vm, _SNAPSHOTTABLE, "delete a snapshot")
            return ve.SnapshotDeleteRequested(vm_id=vm.vm_id, snapshot_id=command.snapshot_id)
        case AttachDisk():
            return _attach_disk(vm, command)
        case DetachDisk():
            require_vm(vm, "change its disks")
            _disk(vm, command.disk_id)
            require_state(vm, _CONFIGURABLE, "detach a disk")
            if command.disk_id == "disk0" and vm.state != "stopped":
                raise InvalidState(
                    f"disk0 is the boot disk of {vm.name}: stop the VM before detaching it",
                    slug="boot-disk",
                )
            return ve.DiskDetachRequested(
                vm_id=vm.vm_id, disk_id=command.disk_id, delete_volume=command.delete_volume
            )
        case ResizeDisk():
            require_vm(vm, "change its disks")
            disk = _disk(vm, command.disk_id)
            require_state(vm, _CONFIGURABLE, "resize a disk")
            if disk.device == "cdrom":
                raise InvalidRequest(f"{disk.disk_id} is a CD-ROM and has no size to change")
            if command.size_gib < disk.size_gib:
                raise InvalidRequest(
                    f"{disk.disk_id} is {disk.size_gib} GiB; disks only grow "
                    f"({command.size_gib} GiB asked)",
                    slug="shrink-not-allowed",
                )
            if command.size_gib == disk.size_gib:
                raise InvalidRequest(
                    f"{disk.disk_id} is already {disk.size_gib} GiB", slug="no-change"
                )
            return ve.DiskResizeRequested(
                vm_id=vm.vm_id, disk_id=command.disk_id, size_gib=command.size_gib
            )
        case AttachNic():
            require_vm(vm, "change its NICs")
            require_state(vm, _CONFIGURABLE, "attach a NIC")
            if len(vm.nics) >= MAX_NICS:
                raise InvalidRequest(f"a VM has at most {MAX_NICS} NICs", slug="too-many-nics")
            mac = command.mac.lower()
            if any(n.mac == mac for n in vm.nics):
                raise InvalidState(f"vm {vm.name} already has a NIC with MAC {mac}", "duplicate")
            nic = ve.NicSpec(
                nic_id=f"nic{vm.next_nic}",
                mac=mac,
                network_id=command.network_id,
                model=command.model,
            )
            return ve.NicAttachRequested(vm_id=vm.vm_id, nic=nic)
        case DetachNic():
            require_vm(vm, "change its NICs")
            _nic(vm, command.nic_id)
            require_state(vm, _CONFIGURABLE, "detach a NIC")
            return ve.NicDetachRequested(vm_id=vm.vm_id, nic_id=command.nic_id)
        case UpdateNic():
            require_vm(vm, "change its NICs")
            nic = _nic(vm, command.nic_id)
            require_state(vm, _CONFIGURABLE, "change a NIC")
            if nic.network_id == command.network_id:
                raise InvalidRequest(
                    f"{nic.nic_id} is already on network {nic.network_id}", slug="no-change"
                )
            return ve.NicUpdateRequested(
                vm_id=vm.vm_id, nic_id=command.nic_id, network_id=command.network_id
            )
        case Resize():
            return _resize(vm, command)
    raise TypeError(f"unknown command {command!r}")


def _attach_disk(vm: Vm, command: AttachDisk) -> Event:
    require_vm(vm, "change its disks")
    require_state(vm, _CONFIGURABLE, "attach a disk")
    if len(vm.disks) >= MAX_DISKS:
        raise InvalidRequest(f"a VM has at most {MAX_DISKS} disks", slug="too-many-disks")
    if command.volume:
        if any(d.volume == command.volume and d.pool_id == command.pool_id for d in vm.disks):
            raise InvalidState(
                f"volume {command.volume} is already attached to {vm.name}", slug="duplicate"
            )
    elif command.device == "disk" and command.size_gib < 1:
        raise InvalidRequest("a new disk needs size_gib of at least 1")
    disk = ve.DiskSpec(
        disk_id=f"disk{vm.next_disk}",
        size_gib=command.size_gib,
        bus=command.bus,
        device=command.device,
        pool_id=command.pool_id,
        volume=command.volume,
    )
    return ve.DiskAttachRequested(vm_id=vm.vm_id, disk=disk)


def _resize(vm: Vm, command: Resize) -> Event:
    require_vm(vm, "be resized")
    if (command.vcpus, command.memory_mib) == (vm.vcpus, vm.memory_mib):
        raise InvalidRequest(
            f"vm {vm.name} already has {vm.vcpus} vCPUs and {vm.memory_mib} MiB", slug="no-change"
        )
    if command.live:
        require_state(vm, ("running",), "be resized live")
        if command.vcpus < vm.vcpus or command.memory_mib < vm.memory_mib:
            raise InvalidRequest(
                "a live resize only adds vCPUs or memory; stop the VM to remove them",
                slug="live-shrink",
            )
        max_vcpus = vm.max_vcpus or vm.vcpus
        max_memory = vm.max_memory_mib or vm.memory_mib
        if command.vcpus > max_vcpus or command.memory_mib > max_memory:
            raise InvalidRequest(
                f"vm {vm.name} can hot-plug up to {max_vcpus} vCPUs and {max_memory} MiB "
                f"(its maxima); {command.vcpus} vCPUs and {command.memory_mib} MiB asked",
                slug="beyond-maximum",
            )
    else:
        require_state(vm, _CONFIGURABLE, "be resized")
    return ve.ResizeRequested(
        vm_id=vm.vm_id, vcpus=command.vcpus, memory_mib=command.memory_mib, live=command.live
    )


def _disk(vm: Vm, disk_id: str) -> ve.DiskSpec:
    disk = vm.disk(disk_id)
    if disk is None:
        raise UnknownPart("disk", disk_id)
    return disk


def _nic(vm: Vm, nic_id: str) -> ve.NicSpec:
    nic = vm.nic(nic_id)
    if nic is None:
        raise UnknownPart("nic", nic_id)
    return nic


def _snapshot(vm: Vm, snapshot_id: str) -> None:
    if vm.snapshot(snapshot_id) is None:
        raise UnknownPart("snapshot", snapshot_id)


# ---------------------------------------------------------------- outcomes


def outcome(vm: Vm, pending: Pending, command: Complete) -> list[Event] | None:
    """The events recording a finished device operation (None: not a device operation)."""
    req = pending.request
    done = te.TaskSucceeded(task_id=command.task_id, message=command.note)
    changed: Event
    match req:
        case ve.SnapshotRequested():
            changed = ve.SnapshotCreated(
                vm_id=vm.vm_id,
                snapshot_id=req.snapshot_id,
                name=req.name,
                parent_id=vm.current_snapshot_id,
                memory=req.memory,
                vm_state=pending.state_before or vm.state,
                description=req.description,
            )
        case ve.SnapshotRevertRequested():
            changed = ve.SnapshotReverted(
                vm_id=vm.vm_id, snapshot_id=req.snapshot_id, state=command.state
            )
        case ve.SnapshotDeleteRequested():
            changed = ve.SnapshotDeleted(vm_id=vm.vm_id, snapshot_id=req.snapshot_id)
        case ve.DiskAttachRequested():
            changed = ve.DiskAttached(vm_id=vm.vm_id, disk=req.disk)
        case ve.DiskDetachRequested():
            changed = ve.DiskDetached(vm_id=vm.vm_id, disk_id=req.disk_id)
        case ve.DiskResizeRequested():
            changed = ve.DiskResized(vm_id=vm.vm_id, disk_id=req.disk_id, size_gib=req.size_gib)
        case ve.NicAttachRequested():
            changed = ve.NicAttached(vm_id=vm.vm_id, nic=req.nic)
        case ve.NicDetachRequested():
            changed = ve.NicDetached(vm_id=vm.vm_id, nic_id=req.nic_id)
        case ve.NicUpdateRequested():
            changed = ve.NicUpdated(vm_id=vm.vm_id, nic_id=req.nic_id, network_id=req.network_id)
        case ve.ResizeRequested():
            changed = ve.Resized(vm_id=vm.vm_id, vcpus=req.vcpus, memory_mib=req.memory_mib)
        case _:
            return None
    return [changed, done]
