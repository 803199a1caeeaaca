"""What the controlplane asks a host's agent to realise: networks, nwfilters, NIC filters.

Core NATS request/reply on ``lq.host.<host_id>.net`` (``NetSync`` → ``NetSyncReply``), not
the order stream: every request carries the **whole desired state** of what it names (a
network with all its DHCP host entries, a filter with all its rules), so applying it twice
or out of date is harmless and a lost request is repaired by the next one. The
controlplane sends one after every change and a full one when a host connects or an agent
starts (the agent asks with ``NetHello`` on ``lq.host.<host_id>.net.hello``, whose body's
``host_id`` must be the subject's); the reply says what the host now has, which becomes
``network.state_observed``. The subjects are named in ``events.subjects``.
"""

from __future__ import annotations

import msgspec

from events.network import HostNetworkState, NetworkType, Reservation
from events.security_group import Direction, Protocol

FILTER_PREFIX = "lq-sg-"


def filter_name(group_id: str) -> str:
    """The libvirt nwfilter realising a security group."""
    return FILTER_PREFIX + group_id


class NetworkSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A network as the host realises it; the libvirt network's name is ``network_id``.
    ``hosts`` = every static reservation and allocated address (mac → ip)."""

    network_id: str
    name: str
    network_type: NetworkType
    cidr: str
    gateway: str
    dns: list[str] = []
    dhcp: bool = True
    dhcp_start: str = ""
    dhcp_end: str = ""
    hosts: list[Reservation] = []
    mtu: int = 0
    vlan_id: int = 0
    bridge: str = ""


class FilterRule(msgspec.Struct, frozen=True, kw_only=True):
    """One allow rule with its peers resolved to CIDRs (``[]`` with ``anywhere`` false:
    a remote group without members, which matches nothing)."""

    direction: Direction
    protocol: Protocol = "all"
    port_min: int = 0
    port_max: int = 0
    cidrs: list[str] = []
    anywhere: bool = True


class FilterSpec(msgspec.Struct, frozen=True, kw_only=True):
    group_id: str
    rules: list[FilterRule] = []


class NicBinding(msgspec.Struct, frozen=True, kw_only=True):
    """The filter of one NIC (by MAC) of a domain: ``group_id`` "" = none."""

    vm_id: str
    mac: str
    group_id: str = ""


class NetSync(msgspec.Struct, frozen=True, kw_only=True):
    """``full``: this is everything the host should have; the agent also removes the
    networks it realised before and the ``lq-sg-*`` filters that are not in it."""

    networks: list[NetworkSpec] = []
    remove_networks: list[str] = []
    filters: list[FilterSpec] = []
    remove_filters: list[str] = []
    bindings: list[NicBinding] = []
    full: bool = False


class NetworkResult(msgspec.Struct, frozen=True, kw_only=True):
    network_id: str
    state: HostNetworkState
    detail: str = ""


class NetSyncReply(msgspec.Struct, frozen=True, kw_only=True):
    networks: list[NetworkResult] = []
    errors: list[str] = []


class NetHello(msgspec.Struct, frozen=True, kw_only=True):
    """An agent started: send it everything it should have."""

    host_id: str


NET_SYNC_DECODER = msgspec.json.Decoder(NetSync)
NET_SYNC_REPLY_DECODER = msgspec.json.Decoder(NetSyncReply)
NET_HELLO_DECODER = msgspec.json.Decoder(NetHello)
