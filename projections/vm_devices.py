"""A VM's disks, NICs and snapshot tree in its ``vms`` row: the fold rules and the shapes.

Why documents on the VM's row rather than child tables: every reader wants them per VM
(the VM's detail, ``/vms/{id}/disks|nics|snapshots``, the VM as of a past instant), never
across VMs, and a VM has a handful of devices and a bounded snapshot tree. Keeping them on
the row means the batch fold loads and writes one row per VM as before, a rebuild and the
time-travel fold (``projections.history``) reproduce them with no extra tables, and a
page of 50,000 VMs still costs one index range scan (lists leave the snapshot tree out).

Each function takes the VM's row and the stored event and replaces the lists it changes
(never mutates them in place, so a copied row stays as it was). Devices change when the
host reports them done (``*_attached``, ``*_detached``, ``*_resized``, ``*_updated``), not
when they are requested. Shapes, as the API shows them:

* disk: ``{disk_id, size_gib, bus, device, pool_id, volume}`` (``disk0`` boots);
* NIC: ``{nic_id, mac, network_id, model, ip}`` (``ip`` null until the host learns it,
  and again once the VM is stopped);
* snapshot: ``{snapshot_id, name, description, parent_id, memory, vm_state, created_at,
  current}``, oldest first; the row's ``current_snapshot_id`` names the current one.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import msgspec

from events import vm
from events.codec import StoredEvent

Row = dict[str, Any]
_enc = msgspec.json.Encoder()


def disk(d: vm.DiskSpec) -> Row:
    return {
        "disk_id": d.disk_id,
        "size_gib": d.size_gib,
        "bus": d.bus,
        "device": d.device,
        "pool_id": d.pool_id,
        "volume": d.volume,
    }


def nic(n: vm.NicSpec, ip: str | None = None) -> Row:
    return {
        "nic_id": n.nic_id,
        "mac": n.mac,
        "network_id": n.network_id,
        "model": n.model,
        "ip": ip,
    }


def _event(se: StoredEvent, kind: type[Any]) -> Any:
    e = se.envelope.event
    assert isinstance(e, kind)
    return e


def _put(items: list[Row], key: str, item: Row) -> list[Row]:
    """``items`` with ``item`` replacing the one with the same key, or appended."""
    out = [item if x[key] == item[key] else x for x in items]
    return out if any(x[key] == item[key] for x in items) else [*out, item]


def disk_attached(row: Row, se: StoredEvent) -> None:
    e = _event(se, vm.DiskAttached)
    row["disks"] = _put(row["disks"], "disk_id", disk(e.disk))


def disk_detached(row: Row, se: StoredEvent) -> None:
    e = _event(se, vm.DiskDetached)
    row["disks"] = [d for d in row["disks"] if d["disk_id"] != e.disk_id]


def disk_resized(row: Row, se: StoredEvent) -> None:
    e = _event(se, vm.DiskResized)
    row["disks"] = [
        {**d, "size_gib": e.size_gib} if d["disk_id"] == e.disk_id else d for d in row["disks"]
    ]


def nic_attached(row: Row, se: StoredEvent) -> None:
    e = _event(se, vm.NicAttached)
    row["nics"] = _put(row["nics"], "nic_id", nic(e.nic))


def nic_detached(row: Row, se: StoredEvent) -> None:
    e = _event(se, vm.NicDetached)
    row["nics"] = [n for n in row["nics"] if n["nic_id"] != e.nic_id]


def nic_updated(row: Row, se: StoredEvent) -> None:
    """Moved to another network. The address stays until the host reports another (or
    none): the VM aggregate drops a repeated observation, so clearing it here could leave
    a NIC without the address it still has."""
    e = _event(se, vm.NicUpdated)
    row["nics"] = [
        {**n, "network_id": e.network_id} if n["nic_id"] == e.nic_id else n for n in row["nics"]
    ]


def addresses_lost(row: Row) -> None:
    """The VM is off: no NIC has an address (the aggregate forgets them too)."""
    if any(n["ip"] is not None for n in row["nics"]):
        row["nics"] = [{**n, "ip": None} for n in row["nics"]]


def nic_address_observed(row: Row, se: StoredEvent) -> None:
    e = _event(se, vm.NicAddressObserved)
    row["nics"] = [{**n, "ip": e.ip or None} if n["nic_id"] == e.nic_id else n for n in row["nics"]]


def _timestamp(se: StoredEvent) -> str:
    """The event's time as the API writes times (UTC, ``Z``), the same however it was read."""
    return str(_enc.encode(se.envelope.occurred_at.astimezone(UTC)).decode().strip('"'))


def make_current(row: Row, snapshot_id: str | None) -> None:
    row["current_snapshot_id"] = snapshot_id
    row["snapshots"] = [{**s, "current": s["snapshot_id"] == snapshot_id} for s in row["snapshots"]]


def snapshot_created(row: Row, se: StoredEvent) -> None:
    e = _event(se, vm.SnapshotCreated)
    item = {
        "snapshot_id": e.snapshot_id,
        "name": e.name,
        "description": e.description,
        "parent_id": e.parent_id,
        "memory": e.memory,
        "vm_state": e.vm_state,
        "created_at": _timestamp(se),
        "current": False,
    }
    row["snapshots"] = _put(row["snapshots"], "snapshot_id", item)
    row["snapshot_count"] = len(row["snapshots"])
    make_current(row, e.snapshot_id)


def snapshot_deleted(row: Row, se: StoredEvent) -> None:
    """Its children move to its parent; if it was current, its parent becomes current."""
    e = _event(se, vm.SnapshotDeleted)
    gone = next((s for s in row["snapshots"] if s["snapshot_id"] == e.snapshot_id), None)
    if gone is None:
        return
    parent = gone["parent_id"]
    row["snapshots"] = [
        {**s, "parent_id": parent} if s["parent_id"] == e.snapshot_id else s
        for s in row["snapshots"]
        if s["snapshot_id"] != e.snapshot_id
    ]
    row["snapshot_count"] = len(row["snapshots"])
    if row["current_snapshot_id"] == e.snapshot_id:
        make_current(row, parent)
