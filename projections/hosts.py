"""The ``hosts`` read model and the capacity reservations behind its allocation columns.

``host.enrolled`` makes (or refreshes) the row in state ``connected``; facts, connection
changes and capacity events update it. Allocations are kept exact by a ``reservations``
row per (host, VM): reserving again replaces the old amounts, releasing something that is
not reserved changes nothing, so replays and duplicates cannot drift the totals.
``host.removed`` deletes the row (the host is no longer inventory; see ``removed``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from events import host
from events.codec import StoredEvent
from projections import vms
from projections.tables import Batch, Row

log = logging.getLogger(__name__)

Fold = Callable[[Batch, StoredEvent], None]


def _row(b: Batch, se: StoredEvent) -> Row | None:
    host_id = str(getattr(se.envelope.event, "host_id", ""))
    row = b.hosts.get(host_id)
    if row is None:
        log.warning("%s at seq %d for unknown host %s: skipped", se.envelope.type, se.seq, host_id)
    return row


def enrolled(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, host.HostEnrolled)
    row = b.hosts.get(e.host_id)
    if row is None:
        row = {
            "id": e.host_id,
            "allocated_vcpus": 0,
            "allocated_memory_mib": 0,
            "vm_count": 0,
            "cluster_id": None,
            "created_at": se.envelope.occurred_at,
        }
        b.hosts[e.host_id] = row
    elif row["name"] != e.name:
        vms.host_renamed(b, e.host_id, e.name)
    row.update(
        name=e.name,
        state="connected",
        uri=e.uri,
        cpus=e.cpus,
        memory_mib=e.memory_mib,
        cpu_overcommit=e.cpu_overcommit,
        memory_overcommit=e.memory_overcommit,
        labels=dict(e.labels),
        reason="",
    )
    b.touch("host", e.host_id, row, se)


def facts_updated(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, host.HostFactsUpdated)
    row = _row(b, se)
    if row is not None:
        row.update(uri=e.uri, cpus=e.cpus, memory_mib=e.memory_mib)
        b.touch("host", e.host_id, row, se)


def connected(b: Batch, se: StoredEvent) -> None:
    row = _row(b, se)
    if row is not None:
        row.update(state="connected", reason="")
        b.touch("host", row["id"], row, se)


def disconnected(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, host.HostDisconnected)
    row = _row(b, se)
    if row is not None:
        row.update(state="disconnected", reason=e.reason)
        b.touch("host", e.host_id, row, se)


def _release(b: Batch, row: Row, pair: tuple[str, str]) -> None:
    old = b.reservations.get(pair)
    if old is not None:
        row["allocated_vcpus"] -= old["vcpus"]
        row["allocated_memory_mib"] -= old["memory_mib"]
        row["vm_count"] -= 1
        b.reservations[pair] = None
        b.dirty_reservations.add(pair)


def capacity_reserved(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, host.HostCapacityReserved)
    row = _row(b, se)
    if row is not None:
        pair = (e.host_id, e.vm_id)
        _release(b, row, pair)
        b.reservations[pair] = {
            "host_id": e.host_id,
            "vm_id": e.vm_id,
            "vcpus": e.vcpus,
            "memory_mib": e.memory_mib,
            "seq": se.seq,
        }
        b.dirty_reservations.add(pair)
        row["allocated_vcpus"] += e.vcpus
        row["allocated_memory_mib"] += e.memory_mib
        row["vm_count"] += 1
        b.touch("host", e.host_id, row, se)


def removed(b: Batch, se: StoredEvent) -> None:
    """A removed host leaves the read model (row and reservations); its events stay in the
    audit log, so its history still answers. Enrolling again makes a new row."""
    e = se.envelope.event
    assert isinstance(e, host.HostRemoved)
    b.drop_host(e.host_id, se)


def capacity_released(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, host.HostCapacityReleased)
    row = _row(b, se)
    if row is not None:
        _release(b, row, (e.host_id, e.vm_id))
        b.touch("host", e.host_id, row, se)


FOLDS: dict[str, Fold] = {
    "host.enrolled": enrolled,
    "host.facts_updated": facts_updated,
    "host.connected": connected,
    "host.disconnected": disconnected,
    "host.capacity_reserved": capacity_reserved,
    "host.capacity_released": capacity_released,
    "host.removed": removed,
}
