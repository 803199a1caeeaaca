"""Orders: what the controlplane tells one host's agent to do (``lq.host.<id>.order``).

Every order carries an ``order_id``; the agent treats a repeated id as already done, and
every order is written so that executing it twice has one effect (define an existing
domain, start a running one, remove a missing one: success). The task id travels along so
reports can close the task.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from events.vm import BootDevice, CloneSource, CloudInit, DiskSpec, Firmware, NicSpec


class DefineVm(msgspec.Struct, frozen=True, kw_only=True, tag="order.define_vm"):
    """Create the VM's volumes (empty, or copied/linked from ``clone_of``'s volumes of the
    same ``disk_id``), build the cloud-init seed, define the domain, start if asked."""

    vm_id: str
    name: str
    vcpus: int
    memory_mib: int
    start: bool = False
    disks: tuple[DiskSpec, ...] = ()
    nics: tuple[NicSpec, ...] = ()
    firmware: Firmware = "bios"
    machine: str = "pc"
    boot_order: tuple[BootDevice, ...] = ("hd",)
    max_vcpus: int = 0
    max_memory_mib: int = 0
    cloud_init: CloudInit | None = None
    clone_of: CloneSource | None = None
    kernel: str = ""
    initrd: str = ""
    cmdline: str = ""


class StartVm(msgspec.Struct, frozen=True, kw_only=True, tag="order.start_vm"):
    vm_id: str


class StopVm(msgspec.Struct, frozen=True, kw_only=True, tag="order.stop_vm"):
    """``force`` = destroy now; else ACPI shutdown, waiting up to ``timeout_s`` for the
    guest, then destroy if ``force_on_timeout`` or fail with the VM still running."""

    vm_id: str
    force: bool = True
    timeout_s: int = 0
    force_on_timeout: bool = False


class RebootVm(msgspec.Struct, frozen=True, kw_only=True, tag="order.reboot_vm"):
    vm_id: str
    force: bool = False


class PauseVm(msgspec.Struct, frozen=True, kw_only=True, tag="order.pause_vm"):
    vm_id: str


class ResumeVm(msgspec.Struct, frozen=True, kw_only=True, tag="order.resume_vm"):
    vm_id: str


class DeleteVm(msgspec.Struct, frozen=True, kw_only=True, tag="order.delete_vm"):
    """Undefine the domain with its snapshots (and NVRAM); remove volumes and the
    cloud-init seed unless ``keep_disks``."""

    vm_id: str
    keep_disks: bool = False


class CreateSnapshot(msgspec.Struct, frozen=True, kw_only=True, tag="order.create_snapshot"):
    """Named ``snapshot_id`` in libvirt, so a repeated order finds it already there."""

    vm_id: str
    snapshot_id: str
    name: str
    description: str = ""
    memory: bool = False
    quiesce: bool = False


class RevertSnapshot(msgspec.Struct, frozen=True, kw_only=True, tag="order.revert_snapshot"):
    vm_id: str
    snapshot_id: str


class DeleteSnapshot(msgspec.Struct, frozen=True, kw_only=True, tag="order.delete_snapshot"):
    vm_id: str
    snapshot_id: str


class AttachDisk(msgspec.Struct, frozen=True, kw_only=True, tag="order.attach_disk"):
    """Create the volume if needed and attach it: live and persistent when running."""

    vm_id: str
    disk: DiskSpec


class DetachDisk(msgspec.Struct, frozen=True, kw_only=True, tag="order.detach_disk"):
    vm_id: str
    disk_id: str
    delete_volume: bool = False


class ResizeDisk(msgspec.Struct, frozen=True, kw_only=True, tag="order.resize_disk"):
    """Grow the volume (``blockResize`` when running, the volume otherwise)."""

    vm_id: str
    disk_id: str
    size_gib: int


class AttachNic(msgspec.Struct, frozen=True, kw_only=True, tag="order.attach_nic"):
    vm_id: str
    nic: NicSpec


class DetachNic(msgspec.Struct, frozen=True, kw_only=True, tag="order.detach_nic"):
    vm_id: str
    nic_id: str


class UpdateNic(msgspec.Struct, frozen=True, kw_only=True, tag="order.update_nic"):
    vm_id: str
    nic_id: str
    network_id: str


class ResizeVm(msgspec.Struct, frozen=True, kw_only=True, tag="order.resize_vm"):
    """Set vCPUs and memory: in the persistent definition, and live too when ``live``."""

    vm_id: str
    vcpus: int
    memory_mib: int
    live: bool = False


class CancelOrder(msgspec.Struct, frozen=True, kw_only=True, tag="order.cancel"):
    """Stop waiting on ``target_order_id`` where that is safe (a graceful shutdown's wait,
    a volume copy); the agent answers the target order with ``OrderFailed`` "cancelled"."""

    vm_id: str
    target_order_id: str


class MigrateVm(msgspec.Struct, frozen=True, kw_only=True, tag="order.migrate_vm"):
    """To the VM's source host. ``handoff``: the destination already runs (or holds) the
    VM — destroy and undefine it here, keeping its volumes. ``p2p``: live-migrate it to
    ``to_uri`` with libvirt peer-to-peer migration (persistent there, undefined here)."""

    vm_id: str
    to_host_id: str
    to_uri: str = ""
    mode: Literal["handoff", "p2p"] = "handoff"
    live: bool = True


AnyOrder = (
    DefineVm
    | StartVm
    | StopVm
    | RebootVm
    | PauseVm
    | ResumeVm
    | DeleteVm
    | CreateSnapshot
    | RevertSnapshot
    | DeleteSnapshot
    | AttachDisk
    | DetachDisk
    | ResizeDisk
    | AttachNic
    | DetachNic
    | UpdateNic
    | ResizeVm
    | CancelOrder
    | MigrateVm
)


class Order(msgspec.Struct, frozen=True, kw_only=True):
    """The message on ``lq.host.<host_id>.order``; ``Nats-Msg-Id`` is ``order_id``."""

    order_id: str
    host_id: str
    task_id: str | None
    issued_at: datetime
    deadline: datetime | None = None
    traceparent: str | None = None
    body: AnyOrder = msgspec.field(name="order")


ORDER_DECODER = msgspec.json.Decoder(Order)
