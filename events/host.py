"""Events of the host aggregate (subject ``lq.evt.host.<host_id>``).

The host owns its capacity reservations, so two concurrent placements race through the
optimistic check on one subject and can never overbook it. Host states: ``connected``,
``maintenance``, ``disconnected``, ``down``; ``host.removed`` ends the aggregate.
"""

from __future__ import annotations

from typing import Literal

from events.base import Event

HostState = Literal["connected", "maintenance", "disconnected", "down"]


class HostEnrolled(Event, frozen=True, kw_only=True, tag="host.enrolled"):
    host_id: str
    name: str
    uri: str
    cpus: int
    memory_mib: int
    cpu_overcommit: float = 4.0
    memory_overcommit: float = 1.0
    labels: dict[str, str] = {}


class HostFactsUpdated(Event, frozen=True, kw_only=True, tag="host.facts_updated"):
    """The agent re-enrolled and reported different hardware or address."""

    host_id: str
    uri: str
    cpus: int
    memory_mib: int


class HostConnected(Event, frozen=True, kw_only=True, tag="host.connected"):
    host_id: str


class HostDisconnected(Event, frozen=True, kw_only=True, tag="host.disconnected"):
    host_id: str
    reason: str = ""


class HostCapacityReserved(Event, frozen=True, kw_only=True, tag="host.capacity_reserved"):
    host_id: str
    vm_id: str
    vcpus: int
    memory_mib: int


class HostCapacityReleased(Event, frozen=True, kw_only=True, tag="host.capacity_released"):
    host_id: str
    vm_id: str


class HostMaintenanceEntered(Event, frozen=True, kw_only=True, tag="host.maintenance_entered"):
    """The host takes no new VMs; its VMs are being moved away (task ``host.enter_maintenance``).

    ``migrating`` are the VMs the evacuation moves (running ones live, stopped ones cold);
    ``staying`` the VMs it leaves (neither running nor stopped, e.g. in ``error``)."""

    host_id: str
    migrating: tuple[str, ...] = ()
    staying: tuple[str, ...] = ()


class HostEvacuationProgressed(Event, frozen=True, kw_only=True, tag="host.evacuation_progressed"):
    """One VM of an evacuation started moving, moved or failed to (its migration task)."""

    host_id: str
    vm_id: str
    migration_task_id: str
    outcome: Literal["started", "migrated", "failed"]
    message: str = ""


class HostEvacuated(Event, frozen=True, kw_only=True, tag="host.evacuated"):
    """Every VM the evacuation had to move has moved (or failed, listed in ``failed``)."""

    host_id: str
    failed: tuple[str, ...] = ()


class HostMaintenanceExited(Event, frozen=True, kw_only=True, tag="host.maintenance_exited"):
    """The host takes VMs again."""

    host_id: str


class HostLabelsUpdated(Event, frozen=True, kw_only=True, tag="host.labels_updated"):
    host_id: str
    labels: dict[str, str] = {}


class HostClusterChanged(Event, frozen=True, kw_only=True, tag="host.cluster_changed"):
    """The host joined ``cluster_id`` (``None``: left its cluster)."""

    host_id: str
    cluster_id: str | None = None


class HostRemoved(Event, frozen=True, kw_only=True, tag="host.removed"):
    """The host left the inventory (``DELETE /api/v1/hosts/{id}``): it had no VMs, was in
    maintenance (or ``down``/``disconnected`` and removed with ``force``), and its NATS
    credentials are revoked. The aggregate is gone; enrolling again starts a new one."""

    host_id: str
    name: str = ""
    forced: bool = False


HOST_EVENTS = (
    HostEnrolled
    | HostFactsUpdated
    | HostConnected
    | HostDisconnected
    | HostCapacityReserved
    | HostCapacityReleased
    | HostMaintenanceEntered
    | HostEvacuationProgressed
    | HostEvacuated
    | HostMaintenanceExited
    | HostLabelsUpdated
    | HostClusterChanged
    | HostRemoved
)
