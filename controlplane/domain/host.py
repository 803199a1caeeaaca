"""The host aggregate: enrolment, connection state and capacity reservations.

Reservations live here so that the optimistic check on the host's own subject is what
prevents overbooking: two placements that race for the last slot append against the same
expected version and only one can win.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import msgspec

from controlplane.domain import host_maintenance as hm
from controlplane.domain.errors import InsufficientCapacity, UnknownAggregate
from controlplane.domain.host_maintenance import Evacuation
from events import ha
from events import host as he
from events.base import Event
from events.codec import Envelope

KIND = "host"


class Reservation(msgspec.Struct, frozen=True, gc=False):
    vcpus: int
    memory_mib: int


class Host(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A host as the controlplane decides on it; untracked by the cyclic garbage collector,
    as ``Reservation`` and ``controlplane.domain.vm_state.Vm`` (no cycles possible)."""

    host_id: str
    name: str
    uri: str
    cpus: int
    memory_mib: int
    cpu_overcommit: float
    memory_overcommit: float
    state: he.HostState = "connected"
    reservations: dict[str, Reservation] = {}
    fenced_at: datetime | None = None  # the agent's last self-fencing (HA, docs/ha.md)
    labels: dict[str, str] = {}
    cluster_id: str | None = None
    evacuation: Evacuation | None = None  # maintenance: the VMs still to move away

    @property
    def vcpu_capacity(self) -> int:
        return int(self.cpus * self.cpu_overcommit)

    @property
    def memory_capacity_mib(self) -> int:
        return int(self.memory_mib * self.memory_overcommit)

    @property
    def allocated_vcpus(self) -> int:
        return sum(r.vcpus for r in self.reservations.values())

    @property
    def allocated_memory_mib(self) -> int:
        return sum(r.memory_mib for r in self.reservations.values())

    def fits(self, vcpus: int, memory_mib: int) -> bool:
        return (
            self.allocated_vcpus + vcpus <= self.vcpu_capacity
            and self.allocated_memory_mib + memory_mib <= self.memory_capacity_mib
        )


class Enroll(msgspec.Struct, frozen=True, kw_only=True):
    host_id: str
    name: str
    uri: str
    cpus: int
    memory_mib: int
    cpu_overcommit: float
    memory_overcommit: float


class Reserve(msgspec.Struct, frozen=True, kw_only=True):
    vm_id: str
    vcpus: int
    memory_mib: int


class Release(msgspec.Struct, frozen=True, kw_only=True):
    vm_id: str


class Resize(msgspec.Struct, frozen=True, kw_only=True):
    """Set a VM's reservation to new sizes (a VM resize); growing needs the room for the
    difference, shrinking always succeeds. Recorded as a new ``host.capacity_reserved``
    for the same VM, which replaces the old reservation."""

    vm_id: str
    vcpus: int
    memory_mib: int


class MarkConnected(msgspec.Struct, frozen=True, kw_only=True):
    pass


class MarkDisconnected(msgspec.Struct, frozen=True, kw_only=True):
    reason: str


class MarkDown(msgspec.Struct, frozen=True, kw_only=True):
    """Disconnected for longer than the HA grace (``controlplane.ha``)."""

    reason: str


class RecordFencing(msgspec.Struct, frozen=True, kw_only=True):
    """The agent reports (through its lease) that it fenced itself at ``fenced_at``."""

    fenced_at: datetime
    vm_ids: tuple[str, ...] = ()


Command = (
    Enroll
    | Reserve
    | Release
    | Resize
    | MarkConnected
    | MarkDisconnected
    | MarkDown
    | RecordFencing
    | hm.EnterMaintenance
    | hm.ExitMaintenance
    | hm.EvacuationProgress
    | hm.SetLabels
    | hm.SetCluster
    | hm.Remove
)


def decide(host: Host | None, command: Command) -> list[Event]:
    if isinstance(command, Enroll):
        if host is None:
            return [
                he.HostEnrolled(
                    host_id=command.host_id,
                    name=command.name,
                    uri=command.uri,
                    cpus=command.cpus,
                    memory_mib=command.memory_mib,
                    cpu_overcommit=command.cpu_overcommit,
                    memory_overcommit=command.memory_overcommit,
                )
            ]
        events: list[Event] = []
        if (host.uri, host.cpus, host.memory_mib) != (
            command.uri,
            command.cpus,
            command.memory_mib,
        ):
            events.append(
                he.HostFactsUpdated(
                    host_id=host.host_id,
                    uri=command.uri,
                    cpus=command.cpus,
                    memory_mib=command.memory_mib,
                )
            )
        if host.state in ("disconnected", "down"):
            events.append(he.HostConnected(host_id=host.host_id))
        return events
    if host is None:
        if isinstance(command, Release):
            return []  # a removed host holds nothing any more
        raise UnknownAggregate(KIND, "")
    match command:
        case Reserve():
            if command.vm_id in host.reservations:
                return []
            if host.state != "connected":
                raise InsufficientCapacity(f"host {host.name} is {host.state}")
            if not host.fits(command.vcpus, command.memory_mib):
                raise InsufficientCapacity(
                    f"host {host.name} has {host.vcpu_capacity - host.allocated_vcpus} vCPUs and "
                    f"{host.memory_capacity_mib - host.allocated_memory_mib} MiB free"
                )
            return [
                he.HostCapacityReserved(
                    host_id=host.host_id,
                    vm_id=command.vm_id,
                    vcpus=command.vcpus,
                    memory_mib=command.memory_mib,
                )
            ]
        case Resize():
            return _resize(host, command)
        case Release():
            if command.vm_id not in host.reservations:
                return []
            return [he.HostCapacityReleased(host_id=host.host_id, vm_id=command.vm_id)]
        case MarkConnected():
            return [] if host.state == "connected" else [he.HostConnected(host_id=host.host_id)]
        case MarkDisconnected():
            if host.state != "connected":
                return []
            return [he.HostDisconnected(host_id=host.host_id, reason=command.reason)]
        case (
            hm.EnterMaintenance()
            | hm.ExitMaintenance()
            | hm.EvacuationProgress()
            | hm.SetLabels()
            | hm.SetCluster()
            | hm.Remove()
        ):
            return hm.decide(host, command)
        case MarkDown():
            if host.state != "disconnected":
                return []
            return [ha.HostMarkedDown(host_id=host.host_id, reason=command.reason)]
        case RecordFencing():
            if host.fenced_at is not None and command.fenced_at <= host.fenced_at:
                return []
            return [
                ha.HostFenced(
                    host_id=host.host_id, fenced_at=command.fenced_at, vm_ids=command.vm_ids
                )
            ]
    raise TypeError(f"unknown command {command!r}")


def _resize(host: Host, command: Resize) -> list[Event]:
    old = host.reservations.get(command.vm_id)
    if old is None:
        return decide(
            host, Reserve(vm_id=command.vm_id, vcpus=command.vcpus, memory_mib=command.memory_mib)
        )
    if (old.vcpus, old.memory_mib) == (command.vcpus, command.memory_mib):
        return []
    more_cpu = max(0, command.vcpus - old.vcpus)
    more_mem = max(0, command.memory_mib - old.memory_mib)
    if more_cpu or more_mem:
        if host.state != "connected":
            raise InsufficientCapacity(f"host {host.name} is {host.state}")
        if not host.fits(more_cpu, more_mem):
            raise InsufficientCapacity(
                f"host {host.name} has {host.vcpu_capacity - host.allocated_vcpus} vCPUs and "
                f"{host.memory_capacity_mib - host.allocated_memory_mib} MiB free; "
                f"{more_cpu} vCPUs and {more_mem} MiB more are needed"
            )
    return [
        he.HostCapacityReserved(
            host_id=host.host_id,
            vm_id=command.vm_id,
            vcpus=command.vcpus,
            memory_mib=command.memory_mib,
        )
    ]


def evolve(host: Host | None, env: Envelope) -> Host | None:
    e = env.event
    r = msgspec.structs.replace
    if isinstance(e, he.HostEnrolled):
        return Host(
            host_id=e.host_id,
            name=e.name,
            uri=e.uri,
            cpus=e.cpus,
            memory_mib=e.memory_mib,
            cpu_overcommit=e.cpu_overcommit,
            memory_overcommit=e.memory_overcommit,
            labels=dict(e.labels),
        )
    if host is None:
        return None
    match e:
        case he.HostFactsUpdated():
            return r(host, uri=e.uri, cpus=e.cpus, memory_mib=e.memory_mib)
        case he.HostConnected():
            return r(host, state="connected")
        case he.HostDisconnected():
            return r(host, state="disconnected")
        case (
            he.HostMaintenanceEntered()
            | he.HostEvacuationProgressed()
            | he.HostEvacuated()
            | he.HostMaintenanceExited()
            | he.HostLabelsUpdated()
            | he.HostClusterChanged()
        ):
            return hm.evolve(host, env)
        case he.HostRemoved():
            return None
        case ha.HostMarkedDown():
            return r(host, state="down")
        case ha.HostFenced():
            return r(host, fenced_at=e.fenced_at)
        case he.HostCapacityReserved():
            res = dict(host.reservations)
            res[e.vm_id] = Reservation(e.vcpus, e.memory_mib)
            return r(host, reservations=res)
        case he.HostCapacityReleased():
            res = dict(host.reservations)
            res.pop(e.vm_id, None)
            return r(host, reservations=res)
    return host


def decider(command: Command) -> Callable[[Host | None], list[Event]]:
    """``decide`` bound to one command, as the command handler wants it."""
    return lambda host: decide(host, command)
