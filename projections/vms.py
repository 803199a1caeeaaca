"""The ``vms`` read model: one row per VM, folded from the VM aggregate's events.

Fold rules (``state`` words are the public API's): ``vm.created`` makes the row
(``pending``) with the VM's spec; placement sets the host (and its name from the hosts
read model) or moves the VM to ``error``; the lifecycle events move ``state`` exactly as
the VM aggregate's ``evolve`` does (a request changes the state only where the domain
says so: start → ``starting``, stop and shutdown → ``stopping``; reboot, pause and resume
wait for the host's answer); ``vm.operation_failed`` and ``vm.state_observed`` carry the
state the VM is known to be in. ``error`` holds the last failure and is cleared when a new
operation is requested. Disks, NICs and snapshots are folded by ``projections.vm_devices``.
Every row keeps the last applied stream sequence, the time of that event and, as
``task_id``, the correlation id (the task) of the last event that had one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from events import vm
from events.codec import StoredEvent
from projections import vm_devices
from projections.tables import Batch, Row

log = logging.getLogger(__name__)

Fold = Callable[[Batch, StoredEvent], None]


def _row(b: Batch, se: StoredEvent) -> Row | None:
    vm_id = str(getattr(se.envelope.event, "vm_id", ""))
    row = b.vms.get(vm_id)
    if row is None:
        log.warning("%s at seq %d for unknown vm %s: skipped", se.envelope.type, se.seq, vm_id)
    return row


def _touch(b: Batch, row: Row, se: StoredEvent) -> None:
    if se.envelope.correlation_id is not None:
        row["task_id"] = se.envelope.correlation_id
    b.touch("vm", row["id"], row, se)


def created(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, vm.VmCreated)
    row: Row = {
        "id": e.vm_id,
        "name": e.name,
        "state": "pending",
        "host_id": None,
        "host_name": None,
        "vcpus": e.vcpus,
        "memory_mib": e.memory_mib,
        "description": e.description,
        "start": e.start,
        "error": None,
        "task_id": None,
        "created_at": se.envelope.occurred_at,
        **_spec(e),
        "ha_enabled": e.ha_enabled,
        "ha_priority": e.ha_priority,
        "resource_pool_id": e.resource_pool_id,
    }
    old = b.vms.get(e.vm_id)
    if old is not None:  # a re-delivered creation keeps what later events did to the row
        log.warning("vm.created at seq %d for existing vm %s", se.seq, e.vm_id)
        row = old | {k: row[k] for k in ("name", "vcpus", "memory_mib", "description")}
    b.vms[e.vm_id] = row
    _touch(b, row, se)


def _spec(e: vm.VmCreated) -> Row:
    """The columns of the VM's hardware spec, devices and (empty) snapshot tree."""
    return {
        "firmware": e.firmware,
        "machine": e.machine,
        "boot_order": list(e.boot_order),
        "max_vcpus": e.max_vcpus,
        "max_memory_mib": e.max_memory_mib,
        "template": e.template,
        "clone_of": (
            None if e.clone_of is None else {"vm_id": e.clone_of.vm_id, "linked": e.clone_of.linked}
        ),
        "has_cloud_init": e.cloud_init is not None,
        "kernel_boot": bool(e.kernel),
        "disks": [vm_devices.disk(d) for d in e.disks],
        "nics": [vm_devices.nic(n) for n in e.nics],
        "snapshots": [],
        "snapshot_count": 0,
        "current_snapshot_id": None,
    }


def _setter(**fixed: Any) -> Fold:
    """A fold that sets constant columns (``state=...``) on the VM's row."""

    def fold(b: Batch, se: StoredEvent) -> None:
        row = _row(b, se)
        if row is not None:
            row.update(fixed)
            _touch(b, row, se)

    return fold


def placed(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, vm.VmPlaced)
    row = _row(b, se)
    if row is not None:
        host = b.hosts.get(e.host_id)
        row.update(host_id=e.host_id, host_name=host["name"] if host else None)
        _touch(b, row, se)


def placement_failed(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, vm.VmPlacementFailed)
    row = _row(b, se)
    if row is not None:
        row.update(state="error", error=e.reason)
        _touch(b, row, se)


def defined(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, vm.VmDefined)
    row = _row(b, se)
    if row is not None:
        if row["host_id"] != e.host_id:
            host = b.hosts.get(e.host_id)
            row.update(host_id=e.host_id, host_name=host["name"] if host else None)
        row["state"] = "stopped"
        _touch(b, row, se)


def operation_failed(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, vm.VmOperationFailed)
    row = _row(b, se)
    if row is not None:
        row.update(state=e.state, error=e.reason)
        _touch(b, row, se)


def state_observed(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, vm.VmStateObserved)
    row = _row(b, se)
    if row is not None:
        row["state"] = e.state
        if e.state == "error":
            row["error"] = e.reason or "the host reports the VM in error"
        _touch(b, row, se)


def stopped(b: Batch, se: StoredEvent) -> None:
    row = _row(b, se)
    if row is not None:
        row["state"] = "stopped"
        vm_devices.addresses_lost(row)
        _touch(b, row, se)


def resized(b: Batch, se: StoredEvent) -> None:
    """New size; a maximum that was set grows with it (as the VM aggregate does)."""
    e = se.envelope.event
    assert isinstance(e, vm.Resized)
    row = _row(b, se)
    if row is not None:
        row.update(vcpus=e.vcpus, memory_mib=e.memory_mib)
        if row["max_vcpus"]:
            row["max_vcpus"] = max(row["max_vcpus"], e.vcpus)
        if row["max_memory_mib"]:
            row["max_memory_mib"] = max(row["max_memory_mib"], e.memory_mib)
        _touch(b, row, se)


def snapshot_reverted(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, vm.SnapshotReverted)
    row = _row(b, se)
    if row is not None:
        row["state"] = e.state
        vm_devices.make_current(row, e.snapshot_id)
        _touch(b, row, se)


def deleted(b: Batch, se: StoredEvent) -> None:
    """Gone: its snapshots went with it (its disks stay listed, as they were)."""
    row = _row(b, se)
    if row is not None:
        row.update(state="deleted", snapshots=[], snapshot_count=0, current_snapshot_id=None)
        _touch(b, row, se)


def _device(fold: Callable[[Row, Any], None]) -> Fold:
    """A fold that changes the VM's devices or snapshots (``projections.vm_devices``)."""

    def apply(b: Batch, se: StoredEvent) -> None:
        row = _row(b, se)
        if row is not None:
            fold(row, se)
            _touch(b, row, se)

    return apply


def host_renamed(b: Batch, host_id: str, name: str) -> None:
    """A host's name changed: VMs on it follow (in this batch now, in the table on store)."""
    b.renamed_hosts[host_id] = name
    for row in b.vms.values():
        if row["host_id"] == host_id and row["host_name"] != name:
            row["host_name"] = name
            b.dirty["vm"].add(row["id"])


FOLDS: dict[str, Fold] = {
    "vm.created": created,
    "vm.placed": placed,
    "vm.placement_failed": placement_failed,
    "vm.defined": defined,
    "vm.start_requested": _setter(state="starting", error=None),
    "vm.started": _setter(state="running"),
    "vm.stop_requested": _setter(state="stopping", error=None),
    "vm.stopped": stopped,
    "vm.reboot_requested": _setter(error=None),
    "vm.rebooted": _setter(state="running"),
    "vm.pause_requested": _setter(error=None),
    "vm.paused": _setter(state="paused"),
    "vm.resume_requested": _setter(error=None),
    "vm.resumed": _setter(state="running"),
    "vm.delete_requested": _setter(error=None),
    "vm.deleted": deleted,
    "vm.operation_failed": operation_failed,
    "vm.state_observed": state_observed,
    "vm.converted_to_template": _setter(template=True, error=None),
    "vm.converted_to_vm": _setter(template=False, error=None),
    "vm.resize_requested": _setter(error=None),
    "vm.resized": resized,
    "vm.cancel_requested": _setter(),
    "vm.snapshot_requested": _setter(error=None),
    "vm.snapshot_created": _device(vm_devices.snapshot_created),
    "vm.snapshot_revert_requested": _setter(error=None),
    "vm.snapshot_reverted": snapshot_reverted,
    "vm.snapshot_delete_requested": _setter(error=None),
    "vm.snapshot_deleted": _device(vm_devices.snapshot_deleted),
    "vm.disk_attach_requested": _setter(error=None),
    "vm.disk_attached": _device(vm_devices.disk_attached),
    "vm.disk_detach_requested": _setter(error=None),
    "vm.disk_detached": _device(vm_devices.disk_detached),
    "vm.disk_resize_requested": _setter(error=None),
    "vm.disk_resized": _device(vm_devices.disk_resized),
    "vm.nic_attach_requested": _setter(error=None),
    "vm.nic_attached": _device(vm_devices.nic_attached),
    "vm.nic_detach_requested": _setter(error=None),
    "vm.nic_detached": _device(vm_devices.nic_detached),
    "vm.nic_update_requested": _setter(error=None),
    "vm.nic_updated": _device(vm_devices.nic_updated),
    "vm.nic_address_observed": _device(vm_devices.nic_address_observed),
}
