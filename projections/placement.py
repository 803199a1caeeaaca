"""Read-model folds of migration, maintenance, host labels and cluster membership.

``vm.migrated`` is the VM's one host change (host id and name, state on arrival);
``vm.migration_started`` shows the VM ``migrating``; ``vm.migration_failed`` leaves it on
its host in the state the event gives, with the reason as its error. Hosts enter and leave
``maintenance``, get labels and a ``cluster_id``. Placement decisions stay in the events
table (``GET /api/v1/vms/{id}/placement`` reads them from there).
"""

from __future__ import annotations

from collections.abc import Callable

from events import host as he
from events import vm as ve
from events.codec import StoredEvent
from projections import hosts, vms
from projections.tables import Batch

Fold = Callable[[Batch, StoredEvent], None]


def migrated(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, ve.VmMigrated)
    row = vms._row(b, se)
    if row is not None:
        host = b.hosts.get(e.to_host_id)
        row.update(
            host_id=e.to_host_id,
            host_name=host["name"] if host else None,
            state=e.state,
            error=None,
        )
        vms._touch(b, row, se)


def migration_failed(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, ve.VmMigrationFailed)
    row = vms._row(b, se)
    if row is not None:
        row.update(state=e.state, error=e.reason)
        vms._touch(b, row, se)


def _host_setter(**fixed: object) -> Fold:
    def fold(b: Batch, se: StoredEvent) -> None:
        row = hosts._row(b, se)
        if row is not None:
            row.update(fixed)
            b.touch("host", row["id"], row, se)

    return fold


def labels_updated(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, he.HostLabelsUpdated)
    row = hosts._row(b, se)
    if row is not None:
        row["labels"] = dict(e.labels)
        b.touch("host", e.host_id, row, se)


def cluster_changed(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, he.HostClusterChanged)
    row = hosts._row(b, se)
    if row is not None:
        row["cluster_id"] = e.cluster_id
        b.touch("host", e.host_id, row, se)


FOLDS: dict[str, Fold] = {
    "vm.migration_requested": vms._setter(error=None),
    "vm.migration_started": vms._setter(state="migrating"),
    "vm.migrated": migrated,
    "vm.migration_failed": migration_failed,
    "host.maintenance_entered": _host_setter(state="maintenance", reason=""),
    "host.maintenance_exited": _host_setter(state="connected", reason=""),
    "host.labels_updated": labels_updated,
    "host.cluster_changed": cluster_changed,
}
