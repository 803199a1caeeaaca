"""The ``vms`` read model: one row per VM, folded from the VM aggregate's events.

Fold rules (``state`` words are the public API's): ``vm.created`` makes the row
(``pending``); placement sets the host (and its name from the hosts read model) or moves
the VM to ``error``; the lifecycle events move ``state`` as the API documents;
``vm.operation_failed`` and ``vm.state_observed`` carry the state the VM is known to be in.
``error`` holds the last failure and is cleared when a new operation is requested. Every
row keeps the last applied stream sequence, the time of that event and, as ``task_id``,
the correlation id (the task) of the last event that had one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from events import vm
from events.codec import StoredEvent
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
    }
    old = b.vms.get(e.vm_id)
    if old is not None:  # a re-delivered creation keeps what later events did to the row
        log.warning("vm.created at seq %d for existing vm %s", se.seq, e.vm_id)
        row = old | {k: row[k] for k in ("name", "vcpus", "memory_mib", "description")}
    b.vms[e.vm_id] = row
    _touch(b, row, se)


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
    "vm.stopped": _setter(state="stopped"),
    "vm.delete_requested": _setter(error=None),
    "vm.deleted": _setter(state="deleted"),
    "vm.operation_failed": operation_failed,
    "vm.state_observed": state_observed,
}
