"""Virtual networks and their address management (subject ``lq.evt.network.<id>``).

A network is a subnet with a gateway, DNS servers, a DHCP range and static reservations,
realised by every host's agent as a libvirt network (``isolated``: no forwarding, ``nat``:
routed out through the host with masquerading, ``bridge``: joined to a host bridge,
``vlan``: a host bridge with a VLAN tag). The network aggregate also owns its addresses:
every address given to a VM NIC is an ``address_allocated`` decision on the network's own
subject, so two NICs racing for an address append against the same expected version and
can never get the same one.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from events.base import Event

KIND = "network"
NetworkType = Literal["isolated", "nat", "bridge", "vlan"]
HostNetworkState = Literal["active", "inactive", "error", "unreachable"]


class Reservation(msgspec.Struct, frozen=True, kw_only=True):
    """A static DHCP host entry: the NIC with ``mac`` always gets ``ip``."""

    mac: str
    ip: str
    name: str = ""


class NetworkSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The part of a network that may change after creation."""

    name: str
    dns: list[str] = []
    dhcp: bool = True
    dhcp_start: str = ""
    dhcp_end: str = ""
    mtu: int = 0


class NetworkCreated(Event, frozen=True, kw_only=True, tag="network.created"):
    """``mtu`` 0 = the host's default; ``vlan_id`` 0 = untagged; ``bridge`` is the host
    bridge a ``bridge``/``vlan`` network joins. DHCP hands out ``dhcp_start``..``dhcp_end``
    (both inside ``cidr``); allocations come from the same range."""

    network_id: str
    name: str
    network_type: NetworkType
    cidr: str
    gateway: str
    dns: list[str] = []
    dhcp: bool = True
    dhcp_start: str = ""
    dhcp_end: str = ""
    reservations: list[Reservation] = []
    mtu: int = 0
    vlan_id: int = 0
    bridge: str = ""


class NetworkUpdated(Event, frozen=True, kw_only=True, tag="network.updated"):
    network_id: str
    old: NetworkSettings
    new: NetworkSettings


class ReservationAdded(Event, frozen=True, kw_only=True, tag="network.reservation_added"):
    network_id: str
    reservation: Reservation


class ReservationRemoved(Event, frozen=True, kw_only=True, tag="network.reservation_removed"):
    network_id: str
    mac: str


class NetworkDeleted(Event, frozen=True, kw_only=True, tag="network.deleted"):
    network_id: str


class AddressAllocated(Event, frozen=True, kw_only=True, tag="network.address_allocated"):
    """``ip`` belongs to the NIC ``nic_id`` (MAC ``mac``) of ``vm_id`` until released."""

    network_id: str
    vm_id: str
    nic_id: str
    mac: str
    ip: str


class AddressReleased(Event, frozen=True, kw_only=True, tag="network.address_released"):
    network_id: str
    vm_id: str
    nic_id: str
    mac: str
    ip: str


class AddressAllocationFailed(
    Event, frozen=True, kw_only=True, tag="network.address_allocation_failed"
):
    """A NIC asked for an address and got none (``reason``: the range is exhausted, the
    network does not exist). Recorded so the failure is visible, never silent."""

    network_id: str
    vm_id: str
    nic_id: str
    mac: str
    reason: str


class NetworkStateObserved(Event, frozen=True, kw_only=True, tag="network.state_observed"):
    """What one host's agent found after realising the network (``detail``: why not)."""

    network_id: str
    host_id: str
    state: HostNetworkState
    detail: str = ""


ADDRESS_SPACE_KIND = "address_space"
"""One aggregate (id ``ipv4``) holding every network's subnet claim: overlapping
creations are serialised by its expected version (docs/networking.md)."""


class AddressSpaceClaimed(Event, frozen=True, kw_only=True, tag="address_space.claimed"):
    """``cidr`` is reserved for ``network_id`` (appended before its ``network.created``)."""

    network_id: str
    cidr: str
    name: str = ""


class AddressSpaceReleased(Event, frozen=True, kw_only=True, tag="address_space.released"):
    """The network is deleted (or was never created): its subnet is free again."""

    network_id: str


NETWORK_EVENTS = (
    NetworkCreated
    | NetworkUpdated
    | ReservationAdded
    | ReservationRemoved
    | NetworkDeleted
    | AddressAllocated
    | AddressReleased
    | AddressAllocationFailed
    | NetworkStateObserved
    | AddressSpaceClaimed
    | AddressSpaceReleased
)
