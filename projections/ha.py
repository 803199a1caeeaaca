"""Read-model folds of the HA events: host ``down``, a VM's protection and its restarts.

Kept apart from ``projections.vms``/``projections.hosts`` so HA can grow on its own; the
folds work on the same batch rows. A restart leaves the VM's ``host_id`` to the
``vm.defined`` that the new host's answer brings (it carries the host's name along).
"""

from __future__ import annotations

from events import ha
from events.codec import StoredEvent
from projections import hosts, vms
from projections.tables import Batch


def configured(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, ha.VmHaConfigured)
    row = vms._row(b, se)
    if row is not None:
        row.update(ha_enabled=e.enabled, ha_priority=e.priority)
        vms._touch(b, row, se)


def restarted(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, ha.VmHaRestarted)
    row = vms._row(b, se)
    if row is not None:
        row.update(state="starting", error=None)
        vms._touch(b, row, se)


def restart_failed(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, ha.VmHaRestartFailed)
    row = vms._row(b, se)
    if row is not None:
        row.update(error=f"HA restart failed: {e.reason}")
        vms._touch(b, row, se)


def marked_down(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, ha.HostMarkedDown)
    row = hosts._row(b, se)
    if row is not None:
        row.update(state="down", reason=e.reason)
        b.touch("host", e.host_id, row, se)


def fenced(b: Batch, se: StoredEvent) -> None:
    e = se.envelope.event
    assert isinstance(e, ha.HostFenced)
    row = hosts._row(b, se)
    if row is not None:
        row.update(reason=f"fenced itself: destroyed {len(e.vm_ids)} HA VMs")
        b.touch("host", e.host_id, row, se)


FOLDS = {
    "vm.ha_configured": configured,
    "vm.ha_restarted": restarted,
    "vm.ha_restart_failed": restart_failed,
    "host.marked_down": marked_down,
    "host.fenced": fenced,
}
