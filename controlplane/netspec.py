"""What each host should have, computed from the aggregate cache (pure, no I/O).

The agents realise networks, filters and NIC filter bindings from these specs
(``events.netsync``). Every network is realised on every host (a network spans the
hosts of the installation); every security group is defined as an nwfilter on every host;
a NIC binding goes to the host its VM is on. Remote groups are expanded here to the
addresses their member NICs hold in any network, so a filter on the host is concrete.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from controlplane.domain import network as nd
from controlplane.domain import security_group as sd
from events import netsync as ns
from events import network as ne
from events import vm as ve


def network_spec(n: nd.Network) -> ns.NetworkSpec:
    """The network with a DHCP host entry per reservation and allocated address. An
    allocation's entry is named after its VM, but only the VM's first NIC there (by
    address): libvirt refuses two entries with one name, and a VM has one hostname."""
    hosts = {r.mac: r for r in n.reservations.values()}
    named = {r.name for r in hosts.values() if r.name}
    for a in sorted(n.allocations.values(), key=lambda a: ipaddress.IPv4Address(a.ip)):
        if a.mac in hosts:
            continue
        name = a.vm_id[-12:]
        hosts[a.mac] = ne.Reservation(mac=a.mac, ip=a.ip, name="" if name in named else name)
        named.add(name)
    return ns.NetworkSpec(
        network_id=n.network_id,
        name=n.name,
        network_type=n.network_type,
        cidr=n.cidr,
        gateway=n.gateway,
        dns=list(n.dns),
        dhcp=n.dhcp,
        dhcp_start=n.dhcp_start,
        dhcp_end=n.dhcp_end,
        hosts=sorted(hosts.values(), key=lambda r: r.ip),
        mtu=n.mtu,
        vlan_id=n.vlan_id,
        bridge=n.bridge,
    )


def addresses_of(networks: Iterable[nd.Network]) -> dict[str, list[str]]:
    """``vm_id/nic_id`` → the addresses that NIC holds."""
    out: dict[str, list[str]] = {}
    for n in networks:
        if n.deleted:
            continue
        for key, a in n.allocations.items():
            out.setdefault(key, []).append(a.ip)
    return out


def filter_spec(
    g: sd.SecurityGroup, groups: dict[str, sd.SecurityGroup], addresses: dict[str, list[str]]
) -> ns.FilterSpec:
    rules = []
    for r in g.rules:
        if r.remote_group_id:
            peer = groups.get(r.remote_group_id)
            members = peer.nics if peer is not None else {}
            cidrs = sorted({f"{ip}/32" for key in members for ip in addresses.get(key, [])})
            anywhere = False
        else:
            cidrs = [r.cidr] if r.cidr else []
            anywhere = not r.cidr
        rules.append(
            ns.FilterRule(
                direction=r.direction,
                protocol=r.protocol,
                port_min=r.port_min,
                port_max=r.port_max,
                cidrs=cidrs,
                anywhere=anywhere,
            )
        )
    return ns.FilterSpec(group_id=g.group_id, rules=rules)


def bindings_for(vm: Any, groups: Iterable[sd.SecurityGroup]) -> list[ns.NicBinding]:
    """The filter of every NIC of ``vm`` (a ``controlplane.domain.vm.Vm``)."""
    by_nic = {key: g.group_id for g in groups if not g.deleted for key in g.nics}
    nics: tuple[ve.NicSpec, ...] = vm.nics
    return [
        ns.NicBinding(
            vm_id=vm.vm_id, mac=n.mac, group_id=by_nic.get(sd.nic_key(vm.vm_id, n.nic_id), "")
        )
        for n in nics
    ]


def dependants(group_id: str, groups: Iterable[sd.SecurityGroup]) -> set[str]:
    """Groups whose rules name ``group_id`` as their remote group."""
    return {
        g.group_id
        for g in groups
        if not g.deleted and any(r.remote_group_id == group_id for r in g.rules)
    }
