"""Commands the VM aggregate accepts (inputs of ``controlplane.domain.vm.decide``).

Every command that starts an operation carries its ``task_id`` (chosen by the caller, so
a retried decision stays the same) and the ``idempotency_key`` of the HTTP request. Ids
and MACs that must be random are chosen by the route, never by the pure domain.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from events import vm as ve

DEFAULT_SHUTDOWN_TIMEOUT_S = 120


class _Op(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    idempotency_key: str = ""


class Create(_Op, frozen=True, kw_only=True):
    """A new VM from its full spec. ``clone_of`` copies (or links) the source's volumes;
    ``host_id`` pins placement (a clone goes where its source's volumes are)."""

    vm_id: str
    name: str
    vcpus: int
    memory_mib: int
    start: bool = False
    description: str = ""
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
    host_id: str | None = None
    kernel: str = ""
    initrd: str = ""
    cmdline: str = ""
    ha_enabled: bool = False
    ha_priority: int = 0
    resource_pool_id: str | None = None
    placement_labels: dict[str, str] = {}


class Start(_Op, frozen=True, kw_only=True):
    pass


class Stop(_Op, frozen=True, kw_only=True):
    """Hard power-off (``force``), kept for callers of the first API; see ``Shutdown``."""

    force: bool = True


class Shutdown(_Op, frozen=True, kw_only=True):
    """ACPI power button; after ``timeout_s`` the host powers off hard only if
    ``force_on_timeout``, otherwise the task fails with the VM still running."""

    timeout_s: int = DEFAULT_SHUTDOWN_TIMEOUT_S
    force_on_timeout: bool = False


class Reboot(_Op, frozen=True, kw_only=True):
    force: bool = False


class Pause(_Op, frozen=True, kw_only=True):
    pass


class Resume(_Op, frozen=True, kw_only=True):
    pass


class Delete(_Op, frozen=True, kw_only=True):
    """``dependents`` are live VMs linked to this one's volumes (the route finds them)."""

    keep_disks: bool = False
    delete_snapshots: bool = False
    dependents: tuple[str, ...] = ()


class ConvertToTemplate(_Op, frozen=True, kw_only=True):
    pass


class ConvertToVm(_Op, frozen=True, kw_only=True):
    dependents: tuple[str, ...] = ()


class TakeSnapshot(_Op, frozen=True, kw_only=True):
    snapshot_id: str
    name: str
    description: str = ""
    memory: bool = False
    quiesce: bool = False


class RevertSnapshot(_Op, frozen=True, kw_only=True):
    snapshot_id: str


class DeleteSnapshot(_Op, frozen=True, kw_only=True):
    snapshot_id: str


class AttachDisk(_Op, frozen=True, kw_only=True):
    """The disk id is assigned by the aggregate (the next ``diskN``)."""

    size_gib: int
    bus: ve.DiskBus = "virtio"
    device: ve.DiskDevice = "disk"
    pool_id: str = "default"
    volume: str = ""


class DetachDisk(_Op, frozen=True, kw_only=True):
    disk_id: str
    delete_volume: bool = False


class ResizeDisk(_Op, frozen=True, kw_only=True):
    disk_id: str
    size_gib: int


class AttachNic(_Op, frozen=True, kw_only=True):
    """The NIC id is assigned by the aggregate; the MAC by the route (random) or the caller."""

    mac: str
    network_id: str = "default"
    model: ve.NicModel = "virtio"


class DetachNic(_Op, frozen=True, kw_only=True):
    nic_id: str


class UpdateNic(_Op, frozen=True, kw_only=True):
    nic_id: str
    network_id: str


class Resize(_Op, frozen=True, kw_only=True):
    vcpus: int
    memory_mib: int
    live: bool = False


class Migrate(_Op, frozen=True, kw_only=True):
    """Move the VM to ``host_id`` (``None``: placement chooses); running VMs move live,
    stopped ones cold. ``reason`` says who wanted it (a user, an evacuation, DRS)."""

    host_id: str | None = None
    reason: str = ""


class Cancel(msgspec.Struct, frozen=True, kw_only=True):
    """Cancel the VM's task ``task_id`` where that is safe."""

    task_id: str
    reason: str = ""


# ---------------------------------------------------------------- from the controlplane


class Place(msgspec.Struct, frozen=True, kw_only=True):
    """Placement reserved capacity on ``host_id``; the task is now running."""

    task_id: str
    host_id: str
    at: datetime
    decision: ve.PlacementDecision | None = None


class FailPlacement(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    reason: str


class Dispatch(msgspec.Struct, frozen=True, kw_only=True):
    """The order for the pending task is about to be sent to the VM's host."""

    task_id: str
    at: datetime


class Complete(msgspec.Struct, frozen=True, kw_only=True):
    """The host reports the pending task's order done; ``state`` is what it sees now."""

    task_id: str
    host_id: str
    state: ve.VmState
    forced: bool = False
    note: str = ""


class Progress(msgspec.Struct, frozen=True, kw_only=True):
    """The host is still working on the pending task's order (a volume copy, a snapshot)."""

    task_id: str
    percent: int
    message: str = ""


class Fail(msgspec.Struct, frozen=True, kw_only=True):
    """The pending task failed (host error or deadline); ``state`` is the state after.
    ``cancelled``: the host gave up on it because a cancellation was asked for."""

    task_id: str
    reason: str
    state: ve.VmState | None = None
    cancelled: bool = False


class StartMigration(msgspec.Struct, frozen=True, kw_only=True):
    """Capacity is reserved on ``to_host_id``; the migration's first order goes out."""

    task_id: str
    to_host_id: str
    mode: ve.MigrationMode = "handoff"
    decision: ve.PlacementDecision | None = None


class MigrationTargetReady(msgspec.Struct, frozen=True, kw_only=True):
    """(handoff) The destination reports the VM defined (and started, for a live move)."""

    task_id: str
    host_id: str
    state: ve.VmState


class Observe(msgspec.Struct, frozen=True, kw_only=True):
    """The host saw the VM in ``state`` without an operation of ours causing it."""

    host_id: str
    state: ve.VmState
    reason: str = ""


class ObserveAddress(msgspec.Struct, frozen=True, kw_only=True):
    """The host learned the IP address of one NIC ("" = it has none now)."""

    host_id: str
    nic_id: str
    ip: str


Request = (
    Start
    | Stop
    | Shutdown
    | Reboot
    | Pause
    | Resume
    | Delete
    | ConvertToTemplate
    | ConvertToVm
    | TakeSnapshot
    | RevertSnapshot
    | DeleteSnapshot
    | AttachDisk
    | DetachDisk
    | ResizeDisk
    | AttachNic
    | DetachNic
    | UpdateNic
    | Resize
    | Migrate
)
"""Commands from users that open a task."""

Command = (
    Create
    | Request
    | Cancel
    | Place
    | FailPlacement
    | Dispatch
    | Complete
    | Progress
    | Fail
    | Observe
    | ObserveAddress
    | StartMigration
    | MigrationTargetReady
)
