"""The network aggregate (subject ``lq.evt.network.<id>``): settings and IPAM, pure.

Why addresses live here: an allocation is a decision on the network's own subject, so
the expected-sequence check of the append serialises every allocation of one network.
Two NICs (or two controlplane replicas) racing for an address decide against the same
version; one append wins, the other reloads and picks the next free address. No address
can ever be given twice, and the last free one goes to exactly one NIC.

Allocations come from the DHCP range (``dhcp_start``..``dhcp_end``, by default the whole
subnet but the gateway); the gateway and static reservations are never handed out, a NIC
whose MAC has a reservation gets the reserved address. The subnet rules (IPv4, gateway
and range inside the subnet, no overlap with another network, VLAN 1..4094) are checked
by ``check_*`` here so that every way a command arrives obeys them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable

import msgspec

from controlplane.domain.errors import AlreadyExists, InvalidRequest, InvalidState, UnknownAggregate
from events import network as ne
from events.base import Event
from events.codec import Envelope

KIND = ne.KIND
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
BRIDGE = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")
MAX_PREFIX = 30  # a /31 or /32 leaves no address for a VM beside the gateway


class Allocation(msgspec.Struct, frozen=True, kw_only=True):
    vm_id: str
    nic_id: str
    mac: str
    ip: str


class Network(msgspec.Struct, frozen=True, kw_only=True):
    network_id: str
    name: str
    network_type: ne.NetworkType
    cidr: str
    gateway: str
    dns: tuple[str, ...] = ()
    dhcp: bool = True
    dhcp_start: str = ""
    dhcp_end: str = ""
    mtu: int = 0
    vlan_id: int = 0
    bridge: str = ""
    reservations: dict[str, ne.Reservation] = {}  # mac → reservation
    allocations: dict[str, Allocation] = {}  # "<vm_id>/<nic_id>" → allocation
    hosts: dict[str, str] = {}  # host id → observed state
    deleted: bool = False

    def settings(self) -> ne.NetworkSettings:
        return ne.NetworkSettings(
            name=self.name,
            dns=list(self.dns),
            dhcp=self.dhcp,
            dhcp_start=self.dhcp_start,
            dhcp_end=self.dhcp_end,
            mtu=self.mtu,
        )

    def used(self) -> set[str]:
        return {a.ip for a in self.allocations.values()}


def nic_key(vm_id: str, nic_id: str) -> str:
    return f"{vm_id}/{nic_id}"


# ---------------------------------------------------------------- commands


class Create(msgspec.Struct, frozen=True, kw_only=True):
    network_id: str
    name: str
    network_type: ne.NetworkType
    cidr: str
    gateway: str = ""
    dns: tuple[str, ...] = ()
    dhcp: bool = True
    dhcp_start: str = ""
    dhcp_end: str = ""
    mtu: int = 0
    vlan_id: int = 0
    bridge: str = ""
    reservations: tuple[ne.Reservation, ...] = ()
    others: tuple[str, ...] = ()
    """The subnets of the other live networks (an overlap is refused)."""


class Update(msgspec.Struct, frozen=True, kw_only=True):
    """Fields left ``None`` keep their value."""

    name: str | None = None
    dns: tuple[str, ...] | None = None
    dhcp: bool | None = None
    dhcp_start: str | None = None
    dhcp_end: str | None = None
    mtu: int | None = None


class AddReservation(msgspec.Struct, frozen=True, kw_only=True):
    mac: str
    ip: str
    name: str = ""


class RemoveReservation(msgspec.Struct, frozen=True, kw_only=True):
    mac: str


class Delete(msgspec.Struct, frozen=True, kw_only=True):
    pass


class Allocate(msgspec.Struct, frozen=True, kw_only=True):
    vm_id: str
    nic_id: str
    mac: str


class Release(msgspec.Struct, frozen=True, kw_only=True):
    vm_id: str
    nic_id: str


class FailAllocation(msgspec.Struct, frozen=True, kw_only=True):
    network_id: str
    vm_id: str
    nic_id: str
    mac: str
    reason: str


class ObserveState(msgspec.Struct, frozen=True, kw_only=True):
    host_id: str
    state: ne.HostNetworkState
    detail: str = ""


Command = (
    Create
    | Update
    | AddReservation
    | RemoveReservation
    | Delete
    | Allocate
    | Release
    | FailAllocation
    | ObserveState
)


class AddressExhausted(InvalidState):
    slug = "address-exhausted"


# ---------------------------------------------------------------- rules


def check_cidr(cidr: str) -> ipaddress.IPv4Network:
    """An IPv4 subnet in canonical form (host bits zero), /8 to /30."""
    try:
        net = ipaddress.ip_network(cidr, strict=True)
    except ValueError as exc:
        raise InvalidRequest(f"cidr {cidr!r} is not a subnet: {exc}", slug="invalid-cidr") from exc
    if not isinstance(net, ipaddress.IPv4Network):
        raise InvalidRequest("only IPv4 subnets are supported", slug="invalid-cidr")
    if not 8 <= net.prefixlen <= MAX_PREFIX:
        raise InvalidRequest(
            f"cidr prefix must be /8 to /{MAX_PREFIX}, not /{net.prefixlen}", slug="invalid-cidr"
        )
    return net


def check_address(net: ipaddress.IPv4Network, what: str, ip: str) -> ipaddress.IPv4Address:
    """A usable host address of ``net`` (not its network or broadcast address)."""
    try:
        addr = ipaddress.IPv4Address(ip)
    except ValueError as exc:
        raise InvalidRequest(
            f"{what} {ip!r} is not an IPv4 address", slug="invalid-address"
        ) from exc
    if addr not in net or addr in (net.network_address, net.broadcast_address):
        raise InvalidRequest(
            f"{what} {ip} is outside the usable addresses of {net}", slug="address-outside-subnet"
        )
    return addr


def check_overlap(net: ipaddress.IPv4Network, others: Iterable[str]) -> None:
    for other in others:
        theirs = ipaddress.ip_network(other)
        if net.overlaps(theirs):
            raise InvalidRequest(
                f"subnet {net} overlaps the subnet {theirs} of another network",
                slug="overlapping-subnet",
            )


def check_mac(mac: str) -> str:
    if not MAC.match(mac):
        raise InvalidRequest(f"mac {mac!r} is not a lower-case MAC address", slug="invalid-mac")
    return mac


def _range(
    net: ipaddress.IPv4Network, gateway: ipaddress.IPv4Address, start: str, end: str
) -> tuple[str, str]:
    """The DHCP range; the default is every usable address but the gateway."""
    hosts = list(net.hosts()) if net.num_addresses <= 65536 else []
    if not start:
        first = hosts[0] if hosts else net.network_address + 1
        start = str(first + 1 if first == gateway else first)
    if not end:
        last = hosts[-1] if hosts else net.broadcast_address - 1
        end = str(last - 1 if last == gateway else last)
    a = check_address(net, "dhcp_start", start)
    b = check_address(net, "dhcp_end", end)
    if a > b:
        raise InvalidRequest(f"dhcp_start {a} is after dhcp_end {b}", slug="invalid-dhcp-range")
    return str(a), str(b)


def _check_dns(dns: Iterable[str]) -> tuple[str, ...]:
    out = []
    for d in dns:
        try:
            out.append(str(ipaddress.ip_address(d)))
        except ValueError as exc:
            raise InvalidRequest(f"dns {d!r} is not an IP address", slug="invalid-address") from exc
    return tuple(out)


def _check_mtu(mtu: int) -> int:
    if mtu and not 576 <= mtu <= 9216:
        raise InvalidRequest(
            f"mtu must be 576..9216 (or 0 = default), not {mtu}", slug="invalid-mtu"
        )
    return mtu


def _check_reservation(net: ipaddress.IPv4Network, gateway: str, r: ne.Reservation) -> None:
    check_mac(r.mac)
    check_address(net, "reservation ip", r.ip)
    if r.ip == gateway:
        raise InvalidRequest(f"reservation ip {r.ip} is the gateway", slug="invalid-address")


def _created(c: Create) -> ne.NetworkCreated:
    net = check_cidr(c.cidr)
    check_overlap(net, c.others)
    gateway = c.gateway or str(net.network_address + 1)
    gw = check_address(net, "gateway", gateway)
    start, end = _range(net, gw, c.dhcp_start, c.dhcp_end)
    if c.network_type == "vlan" and not 1 <= c.vlan_id <= 4094:
        raise InvalidRequest(f"vlan_id must be 1..4094, not {c.vlan_id}", slug="invalid-vlan")
    if c.network_type != "vlan" and c.vlan_id:
        raise InvalidRequest("vlan_id is only for networks of type vlan", slug="invalid-vlan")
    if c.network_type in ("bridge", "vlan"):
        if not BRIDGE.match(c.bridge):
            raise InvalidRequest(
                f"a {c.network_type} network needs the host bridge to join"
                " (bridge, 1..15 characters)",
                slug="invalid-bridge",
            )
    elif c.bridge:
        raise InvalidRequest(
            "bridge is only for networks of type bridge or vlan", slug="invalid-bridge"
        )
    macs: set[str] = set()
    ips: set[str] = set()
    for r in c.reservations:
        _check_reservation(net, gateway, r)
        if r.mac in macs or r.ip in ips:
            raise InvalidRequest(f"reservation {r.mac} → {r.ip} is given twice", slug="duplicate")
        macs.add(r.mac)
        ips.add(r.ip)
    return ne.NetworkCreated(
        network_id=c.network_id,
        name=c.name,
        network_type=c.network_type,
        cidr=str(net),
        gateway=str(gw),
        dns=list(_check_dns(c.dns)),
        dhcp=c.dhcp,
        dhcp_start=start,
        dhcp_end=end,
        reservations=list(c.reservations),
        mtu=_check_mtu(c.mtu),
        vlan_id=c.vlan_id,
        bridge=c.bridge,
    )


def free_address(n: Network, mac: str) -> str | None:
    """The address a NIC with ``mac`` gets: its reservation, else the lowest free one of
    the range that is neither the gateway, nor reserved, nor allocated."""
    used = n.used()
    reserved = n.reservations.get(mac)
    if reserved is not None and reserved.ip not in used:
        return reserved.ip
    taken = used | {r.ip for r in n.reservations.values()} | {n.gateway}
    a = int(ipaddress.IPv4Address(n.dhcp_start))
    b = int(ipaddress.IPv4Address(n.dhcp_end))
    for value in range(a, b + 1):
        ip = str(ipaddress.IPv4Address(value))
        if ip not in taken:
            return ip
    return None


def capacity(n: Network) -> int:
    """How many addresses the range can hand out in all (reservations count separately)."""
    a = int(ipaddress.IPv4Address(n.dhcp_start))
    b = int(ipaddress.IPv4Address(n.dhcp_end))
    g = int(ipaddress.IPv4Address(n.gateway))
    return b - a + 1 - (1 if a <= g <= b else 0)


# ---------------------------------------------------------------- decide / evolve


def decide(state: Network | None, command: Command) -> list[Event]:
    if isinstance(command, Create):
        if state is not None:
            raise AlreadyExists(f"network {command.network_id} already exists")
        return [_created(command)]
    if isinstance(command, FailAllocation):  # recorded even for a network that is not there
        return [
            ne.AddressAllocationFailed(
                network_id=state.network_id if state else command.network_id,
                vm_id=command.vm_id,
                nic_id=command.nic_id,
                mac=command.mac,
                reason=command.reason,
            )
        ]
    if state is None or state.deleted:
        raise UnknownAggregate(KIND, state.network_id if state else "")
    n = state
    nid = n.network_id
    match command:
        case Update():
            return _update(n, command)
        case AddReservation():
            net = check_cidr(n.cidr)
            r = ne.Reservation(mac=command.mac, ip=command.ip, name=command.name)
            _check_reservation(net, n.gateway, r)
            if n.reservations.get(r.mac) == r:
                return []
            if r.mac in n.reservations:
                raise InvalidState(f"mac {r.mac} already has a reservation", slug="duplicate")
            if any(x.ip == r.ip for x in n.reservations.values()):
                raise InvalidState(f"{r.ip} is already reserved", slug="duplicate")
            holder = next((a for a in n.allocations.values() if a.ip == r.ip), None)
            if holder is not None and holder.mac != r.mac:
                raise InvalidState(
                    f"{r.ip} is in use by NIC {holder.nic_id} of vm {holder.vm_id}",
                    slug="address-in-use",
                )
            return [ne.ReservationAdded(network_id=nid, reservation=r)]
        case RemoveReservation():
            if command.mac not in n.reservations:
                return []
            return [ne.ReservationRemoved(network_id=nid, mac=command.mac)]
        case Delete():
            if n.allocations:
                raise InvalidState(
                    f"network {n.name} still has {len(n.allocations)} NICs on it",
                    slug="network-in-use",
                )
            return [ne.NetworkDeleted(network_id=nid)]
        case Allocate():
            if nic_key(command.vm_id, command.nic_id) in n.allocations:
                return []
            ip = free_address(n, command.mac)
            if ip is None:
                raise AddressExhausted(
                    f"network {n.name} has no free address left in"
                    f" {n.dhcp_start}..{n.dhcp_end} ({len(n.allocations)} allocated)",
                )
            return [
                ne.AddressAllocated(
                    network_id=nid,
                    vm_id=command.vm_id,
                    nic_id=command.nic_id,
                    mac=command.mac,
                    ip=ip,
                )
            ]
        case Release():
            a = n.allocations.get(nic_key(command.vm_id, command.nic_id))
            if a is None:
                return []
            return [
                ne.AddressReleased(
                    network_id=nid, vm_id=a.vm_id, nic_id=a.nic_id, mac=a.mac, ip=a.ip
                )
            ]
        case ObserveState():
            if n.hosts.get(command.host_id) == command.state:
                return []
            return [
                ne.NetworkStateObserved(
                    network_id=nid,
                    host_id=command.host_id,
                    state=command.state,
                    detail=command.detail,
                )
            ]
    raise TypeError(f"unknown command {command!r}")


def _update(n: Network, c: Update) -> list[Event]:
    net = check_cidr(n.cidr)
    gw = ipaddress.IPv4Address(n.gateway)
    start = n.dhcp_start if c.dhcp_start is None else c.dhcp_start
    end = n.dhcp_end if c.dhcp_end is None else c.dhcp_end
    start, end = _range(net, gw, start, end)
    new = ne.NetworkSettings(
        name=n.name if c.name is None else c.name,
        dns=list(n.dns if c.dns is None else _check_dns(c.dns)),
        dhcp=n.dhcp if c.dhcp is None else c.dhcp,
        dhcp_start=start,
        dhcp_end=end,
        mtu=n.mtu if c.mtu is None else _check_mtu(c.mtu),
    )
    old = n.settings()
    if new == old:
        return []
    lo, hi = int(ipaddress.IPv4Address(start)), int(ipaddress.IPv4Address(end))
    outside = [
        a for a in n.allocations.values() if not lo <= int(ipaddress.IPv4Address(a.ip)) <= hi
    ]
    reserved = {r.ip for r in n.reservations.values()}
    outside = [a for a in outside if a.ip not in reserved]
    if outside:
        raise InvalidState(
            f"the new DHCP range leaves out {len(outside)} allocated addresses"
            f" (e.g. {outside[0].ip})",
            slug="address-in-use",
        )
    return [ne.NetworkUpdated(network_id=n.network_id, old=old, new=new)]


def evolve(state: Network | None, env: Envelope) -> Network | None:
    e = env.event
    r = msgspec.structs.replace
    if isinstance(e, ne.NetworkCreated):
        return Network(
            network_id=e.network_id,
            name=e.name,
            network_type=e.network_type,
            cidr=e.cidr,
            gateway=e.gateway,
            dns=tuple(e.dns),
            dhcp=e.dhcp,
            dhcp_start=e.dhcp_start,
            dhcp_end=e.dhcp_end,
            mtu=e.mtu,
            vlan_id=e.vlan_id,
            bridge=e.bridge,
            reservations={x.mac: x for x in e.reservations},
        )
    if state is None:
        return None
    match e:
        case ne.NetworkUpdated():
            s = e.new
            return r(
                state,
                name=s.name,
                dns=tuple(s.dns),
                dhcp=s.dhcp,
                dhcp_start=s.dhcp_start,
                dhcp_end=s.dhcp_end,
                mtu=s.mtu,
            )
        case ne.ReservationAdded():
            return r(state, reservations={**state.reservations, e.reservation.mac: e.reservation})
        case ne.ReservationRemoved():
            res = dict(state.reservations)
            res.pop(e.mac, None)
            return r(state, reservations=res)
        case ne.NetworkDeleted():
            return r(state, deleted=True)
        case ne.AddressAllocated():
            a = Allocation(vm_id=e.vm_id, nic_id=e.nic_id, mac=e.mac, ip=e.ip)
            return r(state, allocations={**state.allocations, nic_key(e.vm_id, e.nic_id): a})
        case ne.AddressReleased():
            allocs = dict(state.allocations)
            allocs.pop(nic_key(e.vm_id, e.nic_id), None)
            return r(state, allocations=allocs)
        case ne.NetworkStateObserved():
            return r(state, hosts={**state.hosts, e.host_id: e.state})
    return state


def decider(command: Command) -> Callable[[Network | None], list[Event]]:
    return lambda state: decide(state, command)
