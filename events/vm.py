"""Events of the VM aggregate (subject ``lq.evt.vm.<vm_id>``).

VM states are words that outside scripts rely on: ``pending``, ``stopped``, ``starting``,
``running``, ``stopping``, ``paused``, ``migrating``, ``error``, ``deleted``.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from events.base import Event

VmState = Literal[
    "pending",
    "stopped",
    "starting",
    "running",
    "stopping",
    "paused",
    "migrating",
    "error",
    "deleted",
]
VM_STATES: tuple[str, ...] = VmState.__args__  # type: ignore[attr-defined]

VmOperation = Literal[
    "create",
    "start",
    "stop",  # hard power-off
    "shutdown",  # ACPI power button, optionally forced after a timeout
    "reboot",
    "pause",
    "resume",
    "delete",
    "snapshot",
    "revert",
    "delete_snapshot",
    "attach_disk",
    "detach_disk",
    "resize_disk",
    "attach_nic",
    "detach_nic",
    "update_nic",
    "resize",
    "migrate",  # live (running) or cold (stopped) move to another host
]
"""The operation words of ``task.queued`` (as ``vm.<word>``) and of ``Pending``."""

Firmware = Literal["bios", "uefi"]
DiskBus = Literal["virtio", "sata", "scsi"]
DiskDevice = Literal["disk", "cdrom"]
NicModel = Literal["virtio", "e1000", "rtl8139"]
BootDevice = Literal["hd", "network", "cdrom"]


class DiskSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One virtual disk. ``disk_id`` is stable for the VM's life (``disk0`` is the boot disk).

    The volume lives in storage pool ``pool_id`` on the VM's host, named
    ``<vm_id>-<disk_id>`` unless ``volume`` names an existing volume to attach instead.
    """

    disk_id: str
    size_gib: int
    bus: DiskBus = "virtio"
    device: DiskDevice = "disk"
    pool_id: str = "default"
    volume: str = ""


class NicSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One virtual NIC; the MAC is chosen by the controlplane once and never changes."""

    nic_id: str
    mac: str
    network_id: str = "default"
    model: NicModel = "virtio"


class CloudInit(msgspec.Struct, frozen=True, kw_only=True):
    """A NoCloud seed attached as a CD-ROM labelled ``cidata`` when the VM is defined."""

    user_data: str = ""
    meta_data: str = ""
    network_config: str = ""


class CloneSource(msgspec.Struct, frozen=True, kw_only=True):
    """The VM (or template) a new VM's disks are copied from; ``linked`` = qcow2 backing."""

    vm_id: str
    linked: bool = False


class VmCreated(Event, frozen=True, kw_only=True, tag="vm.created"):
    """A VM was accepted; it waits for placement (state ``pending``).

    Fields after ``description`` came with the full lifecycle; their defaults are what a
    VM created before them was. ``max_vcpus``/``max_memory_mib`` of 0 mean "as defined"
    (no hot-plug headroom). ``host_id`` pins placement (clones share their source's host).
    ``kernel``/``initrd``/``cmdline`` are a direct kernel boot (paths on the host).
    """

    vm_id: str
    name: str
    vcpus: int
    memory_mib: int
    start: bool = False
    description: str = ""
    disks: tuple[DiskSpec, ...] = ()
    nics: tuple[NicSpec, ...] = ()
    firmware: Firmware = "bios"
    machine: str = "pc"
    boot_order: tuple[BootDevice, ...] = ("hd",)
    max_vcpus: int = 0
    max_memory_mib: int = 0
    cloud_init: CloudInit | None = None
    clone_of: CloneSource | None = None
    template: bool = False
    host_id: str | None = None
    kernel: str = ""
    initrd: str = ""
    cmdline: str = ""
    ha_enabled: bool = False  # HA restarts it elsewhere when its host goes down (docs/ha.md)
    ha_priority: int = 0  # higher restarts first
    resource_pool_id: str | None = None  # the cluster resource pool it counts against
    placement_labels: dict[str, str] = {}  # hosts must carry these labels (docs/clusters.md)


class PlacementCandidate(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One host placement looked at: whether it could take the VM, why not, its score.
    (Defaults are left out when encoded: fields added later do not change old events.)"""

    host_id: str
    accepted: bool
    reason: str = ""
    score: float = 0.0
    # what the load weigher used for an accepted host: its busy share 0..1, and where it
    # came from (cpu/mem % and the sample's age from metrics; none: its allocation)
    load: float | None = None
    cpu_pct: float | None = None
    mem_pct: float | None = None
    load_age_s: float | None = None


class PlacementDecision(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Every host placement considered and its verdict: "why is my VM on host 7?"."""

    candidates: tuple[PlacementCandidate, ...] = ()
    considered: int = 0  # hosts looked at (candidates lists at most 50 of them)
    rejected_by: dict[str, int] = {}  # how many hosts each filter turned down
    strategy: str = ""  # the weigher: spread or pack
    skipped: int = 0  # hosts not looked at: ranked below the shortlist, or ruled out at once
    load_weight: float = 0.0  # weight of the measured-load weigher (0: not weighed)


class VmPlaced(Event, frozen=True, kw_only=True, tag="vm.placed"):
    """Placement chose a host and reserved capacity there; ``decision`` says why."""

    vm_id: str
    host_id: str
    decision: PlacementDecision | None = None


class VmPlacementFailed(Event, frozen=True, kw_only=True, tag="vm.placement_failed"):
    """No host could take the VM; it goes to ``error`` with the reason."""

    vm_id: str
    reason: str


class VmDefined(Event, frozen=True, kw_only=True, tag="vm.defined"):
    """The host's hypervisor now knows the VM (state ``stopped``)."""

    vm_id: str
    host_id: str


class VmStartRequested(Event, frozen=True, kw_only=True, tag="vm.start_requested"):
    vm_id: str


class VmStarted(Event, frozen=True, kw_only=True, tag="vm.started"):
    vm_id: str
    host_id: str


class VmStopRequested(Event, frozen=True, kw_only=True, tag="vm.stop_requested"):
    """Power-off requested. ``force`` is a hard power-off (action ``stop``); otherwise the
    guest gets the ACPI power button (action ``shutdown``) and ``timeout_s`` to comply,
    after which the operation fails, or powers off hard when ``force_on_timeout``."""

    vm_id: str
    force: bool = True
    timeout_s: int = 0
    force_on_timeout: bool = False


class VmStopped(Event, frozen=True, kw_only=True, tag="vm.stopped"):
    """The VM is off; ``forced`` says whether it took a hard power-off to get there."""

    vm_id: str
    host_id: str
    forced: bool = False


class VmRebootRequested(Event, frozen=True, kw_only=True, tag="vm.reboot_requested"):
    """``force`` = reset (hardware reset), otherwise an ACPI reboot request to the guest."""

    vm_id: str
    force: bool = False


class VmRebooted(Event, frozen=True, kw_only=True, tag="vm.rebooted"):
    vm_id: str
    host_id: str


class VmPauseRequested(Event, frozen=True, kw_only=True, tag="vm.pause_requested"):
    vm_id: str


class VmPaused(Event, frozen=True, kw_only=True, tag="vm.paused"):
    vm_id: str
    host_id: str


class VmResumeRequested(Event, frozen=True, kw_only=True, tag="vm.resume_requested"):
    vm_id: str


class VmResumed(Event, frozen=True, kw_only=True, tag="vm.resumed"):
    vm_id: str
    host_id: str


class VmDeleteRequested(Event, frozen=True, kw_only=True, tag="vm.delete_requested"):
    """``keep_disks`` leaves the volumes in their pool; snapshots always go with the VM."""

    vm_id: str
    keep_disks: bool = False


class VmDeleted(Event, frozen=True, kw_only=True, tag="vm.deleted"):
    """The VM is gone from its host (or never reached one); capacity is released after."""

    vm_id: str
    host_id: str | None = None


class VmOperationFailed(Event, frozen=True, kw_only=True, tag="vm.operation_failed"):
    """An operation failed; ``state`` is what the VM is known to be afterwards."""

    vm_id: str
    operation: str
    reason: str
    state: VmState


class VmStateObserved(Event, frozen=True, kw_only=True, tag="vm.state_observed"):
    """The host saw the VM in a state LimiQuantix did not cause (crash, virsh, reconcile)."""

    vm_id: str
    host_id: str
    state: VmState
    reason: str = ""


class VmConvertedToTemplate(Event, frozen=True, kw_only=True, tag="vm.converted_to_template"):
    """The stopped VM is now a template: it cannot start; new VMs are cloned from it."""

    vm_id: str


class VmConvertedToVm(Event, frozen=True, kw_only=True, tag="vm.converted_to_vm"):
    vm_id: str


# ---------------------------------------------------------------- snapshots


class SnapshotRequested(Event, frozen=True, kw_only=True, tag="vm.snapshot_requested"):
    """``memory`` asks for the running VM's RAM and device state too (a checkpoint)."""

    vm_id: str
    snapshot_id: str
    name: str
    description: str = ""
    memory: bool = False
    quiesce: bool = False


class SnapshotCreated(Event, frozen=True, kw_only=True, tag="vm.snapshot_created"):
    """``parent_id`` is the snapshot that was current; the new one becomes current."""

    vm_id: str
    snapshot_id: str
    name: str
    parent_id: str | None = None
    memory: bool = False
    vm_state: VmState = "stopped"
    description: str = ""


class SnapshotRevertRequested(Event, frozen=True, kw_only=True, tag="vm.snapshot_revert_requested"):
    vm_id: str
    snapshot_id: str


class SnapshotReverted(Event, frozen=True, kw_only=True, tag="vm.snapshot_reverted"):
    """The VM is as it was at the snapshot; ``state`` is its power state afterwards."""

    vm_id: str
    snapshot_id: str
    state: VmState


class SnapshotDeleteRequested(Event, frozen=True, kw_only=True, tag="vm.snapshot_delete_requested"):
    vm_id: str
    snapshot_id: str


class SnapshotDeleted(Event, frozen=True, kw_only=True, tag="vm.snapshot_deleted"):
    """Children of a deleted snapshot are re-parented to its parent (libvirt does the same)."""

    vm_id: str
    snapshot_id: str


# ---------------------------------------------------------------- disks


class DiskAttachRequested(Event, frozen=True, kw_only=True, tag="vm.disk_attach_requested"):
    vm_id: str
    disk: DiskSpec


class DiskAttached(Event, frozen=True, kw_only=True, tag="vm.disk_attached"):
    vm_id: str
    disk: DiskSpec


class DiskDetachRequested(Event, frozen=True, kw_only=True, tag="vm.disk_detach_requested"):
    """``delete_volume`` also removes the volume from its pool once detached."""

    vm_id: str
    disk_id: str
    delete_volume: bool = False


class DiskDetached(Event, frozen=True, kw_only=True, tag="vm.disk_detached"):
    vm_id: str
    disk_id: str


class DiskResizeRequested(Event, frozen=True, kw_only=True, tag="vm.disk_resize_requested"):
    """Grow only: a smaller ``size_gib`` is refused before it is ever requested."""

    vm_id: str
    disk_id: str
    size_gib: int


class DiskResized(Event, frozen=True, kw_only=True, tag="vm.disk_resized"):
    vm_id: str
    disk_id: str
    size_gib: int


# ---------------------------------------------------------------- NICs


class NicAttachRequested(Event, frozen=True, kw_only=True, tag="vm.nic_attach_requested"):
    vm_id: str
    nic: NicSpec


class NicAttached(Event, frozen=True, kw_only=True, tag="vm.nic_attached"):
    vm_id: str
    nic: NicSpec


class NicDetachRequested(Event, frozen=True, kw_only=True, tag="vm.nic_detach_requested"):
    vm_id: str
    nic_id: str


class NicDetached(Event, frozen=True, kw_only=True, tag="vm.nic_detached"):
    vm_id: str
    nic_id: str


class NicUpdateRequested(Event, frozen=True, kw_only=True, tag="vm.nic_update_requested"):
    """Move the NIC to another network; its MAC stays."""

    vm_id: str
    nic_id: str
    network_id: str


class NicUpdated(Event, frozen=True, kw_only=True, tag="vm.nic_updated"):
    vm_id: str
    nic_id: str
    network_id: str


class NicAddressObserved(Event, frozen=True, kw_only=True, tag="vm.nic_address_observed"):
    """The host learned the NIC's IP address (DHCP lease or guest agent); "" = none now."""

    vm_id: str
    nic_id: str
    ip: str


# ---------------------------------------------------------------- CPU / memory


class ResizeRequested(Event, frozen=True, kw_only=True, tag="vm.resize_requested"):
    """``live`` = hot-plug into the running VM (up to its maxima); else the next boot."""

    vm_id: str
    vcpus: int
    memory_mib: int
    live: bool = False


class Resized(Event, frozen=True, kw_only=True, tag="vm.resized"):
    vm_id: str
    vcpus: int
    memory_mib: int


class VmCancelRequested(Event, frozen=True, kw_only=True, tag="vm.cancel_requested"):
    """Someone asked to cancel the VM's running task; the host stops waiting where that is
    safe and the task ends ``cancelled`` (or completes, if it was already past the point)."""

    vm_id: str
    task_id: str
    reason: str = ""


MigrationMode = Literal["handoff", "p2p"]
"""``handoff``: define+start on the destination, then destroy+undefine on the source (the
libvirt test driver, no shared hypervisor state); ``p2p``: libvirt peer-to-peer live
migration ordered on the source."""


class VmMigrationRequested(Event, frozen=True, kw_only=True, tag="vm.migration_requested"):
    """A move to ``host_id`` (``None``: placement chooses) was asked for; task ``vm.migrate``."""

    vm_id: str
    from_host_id: str
    host_id: str | None = None
    reason: str = ""


class VmMigrationStarted(Event, frozen=True, kw_only=True, tag="vm.migration_started"):
    """Capacity is reserved on the destination and the first order goes out."""

    vm_id: str
    from_host_id: str
    to_host_id: str
    mode: MigrationMode = "handoff"
    live: bool = True
    decision: PlacementDecision | None = None


class VmMigrationTargetReady(Event, frozen=True, kw_only=True, tag="vm.migration_target_ready"):
    """(handoff) The destination runs (or holds, for a cold move) the VM; the source goes next."""

    vm_id: str
    to_host_id: str
    state: VmState = "running"


class VmMigrated(Event, frozen=True, kw_only=True, tag="vm.migrated"):
    """The VM now lives on ``to_host_id`` only: its one host change."""

    vm_id: str
    from_host_id: str
    to_host_id: str
    state: VmState = "running"


class VmMigrationFailed(Event, frozen=True, kw_only=True, tag="vm.migration_failed"):
    """The move failed and was rolled back: the VM stays on ``from_host_id`` in ``state``."""

    vm_id: str
    from_host_id: str
    to_host_id: str | None = None
    reason: str
    state: VmState = "running"


VM_EVENTS = (
    VmCreated
    | VmPlaced
    | VmPlacementFailed
    | VmDefined
    | VmStartRequested
    | VmStarted
    | VmStopRequested
    | VmStopped
    | VmDeleteRequested
    | VmDeleted
    | VmOperationFailed
    | VmStateObserved
    | VmRebootRequested
    | VmRebooted
    | VmPauseRequested
    | VmPaused
    | VmResumeRequested
    | VmResumed
    | VmConvertedToTemplate
    | VmConvertedToVm
    | SnapshotRequested
    | SnapshotCreated
    | SnapshotRevertRequested
    | SnapshotReverted
    | SnapshotDeleteRequested
    | SnapshotDeleted
    | DiskAttachRequested
    | DiskAttached
    | DiskDetachRequested
    | DiskDetached
    | DiskResizeRequested
    | DiskResized
    | NicAttachRequested
    | NicAttached
    | NicDetachRequested
    | NicDetached
    | NicUpdateRequested
    | NicUpdated
    | NicAddressObserved
    | ResizeRequested
    | Resized
    | VmCancelRequested
    | VmMigrationRequested
    | VmMigrationStarted
    | VmMigrationTargetReady
    | VmMigrated
    | VmMigrationFailed
)
