"""Events of the host aggregate (subject ``lq.evt.host.<host_id>``).

The host owns its capacity reservations, so two concurrent placements race through the
optimistic check on one subject and can never overbook it. Host states: ``connected``,
``maintenance``, ``disconnected``, ``down``.
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


HOST_EVENTS = (
    HostEnrolled
    | HostFactsUpdated
    | HostConnected
    | HostDisconnected
    | HostCapacityReserved
    | HostCapacityReleased
)
