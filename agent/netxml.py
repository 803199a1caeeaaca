"""libvirt XML for networks and nwfilters, built from the controlplane's specs (pure).

Networks (``events.netsync.NetworkSpec``; the libvirt network is named by the network id,
which is what a NIC's ``network_id`` joins):

- ``isolated``: its own bridge, no ``<forward>``: VMs reach each other and the host only;
- ``nat``: its own bridge, ``<forward mode='nat'/>``, the gateway as the host's address;
- ``isolated``/``nat`` carry ``<ip>`` with ``<dhcp>``: the range and one ``<host>`` per
  static reservation and allocated address, so a NIC always gets the address IPAM gave it;
- ``bridge``: ``<forward mode='bridge'/>`` onto an existing host bridge. libvirt runs no
  DHCP there (the physical network's does), so ``<ip>`` is left out;
- ``vlan``: a bridge network with ``<vlan><tag id='N'/></vlan>``. libvirt accepts VLAN tags
  on bridge networks only with ``<virtualport type='openvswitch'/>`` (an Open vSwitch
  bridge), which is what is generated (docs/networking.md).

The bridge a network owns is ``lqn`` + 10 hex digits of the id's SHA-1 (15 characters at
most, stable across hosts). Security groups become nwfilters (``events.netsync
.FilterSpec``), see ``filter_xml``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
import xml.etree.ElementTree as ET

from events import netsync as ns

_FILTER_NS = uuid.UUID("9b8f5c1e-3d2a-4f60-8a7b-0c1d2e3f4a5b")
ACCEPT_PRIORITY = 100
RULE_PRIORITY = 200
DEFAULT_PRIORITY = 900
DROP_PRIORITY = 1000


def bridge_name(network_id: str) -> str:
    return "lqn" + hashlib.sha1(network_id.encode()).hexdigest()[:10]


def network_xml(spec: ns.NetworkSpec) -> str:
    root = ET.Element("network")
    ET.SubElement(root, "name").text = spec.network_id
    kind = spec.network_type
    if kind == "nat":
        ET.SubElement(root, "forward", {"mode": "nat"})
    elif kind in ("bridge", "vlan"):
        ET.SubElement(root, "forward", {"mode": "bridge"})
    if kind in ("bridge", "vlan"):
        ET.SubElement(root, "bridge", {"name": spec.bridge})
    else:
        ET.SubElement(
            root, "bridge", {"name": bridge_name(spec.network_id), "stp": "on", "delay": "0"}
        )
    if kind == "vlan":
        ET.SubElement(root, "virtualport", {"type": "openvswitch"})
        vlan = ET.SubElement(root, "vlan")
        ET.SubElement(vlan, "tag", {"id": str(spec.vlan_id)})
    if spec.mtu:
        ET.SubElement(root, "mtu", {"size": str(spec.mtu)})
    if kind in ("isolated", "nat"):
        if spec.dns:
            dns = ET.SubElement(root, "dns")
            for addr in spec.dns:
                ET.SubElement(dns, "forwarder", {"addr": addr})
        prefix = ipaddress.ip_network(spec.cidr).prefixlen
        ip = ET.SubElement(root, "ip", {"address": spec.gateway, "prefix": str(prefix)})
        if spec.dhcp:
            dhcp = ET.SubElement(ip, "dhcp")
            if spec.dhcp_start and spec.dhcp_end:
                ET.SubElement(dhcp, "range", {"start": spec.dhcp_start, "end": spec.dhcp_end})
            for h in spec.hosts:
                dhcp.append(host_element(h.mac, h.ip, h.name))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")


def host_element(mac: str, ip: str, name: str = "") -> ET.Element:
    attrs = {"mac": mac, "ip": ip}
    if name:
        attrs["name"] = _hostname(name)
    return ET.Element("host", attrs)


def host_xml(mac: str, ip: str, name: str = "") -> str:
    """One ``<host>`` for ``virNetworkUpdate`` of the ``ip-dhcp-host`` section."""
    return ET.tostring(host_element(mac, ip, name), encoding="unicode")


def _hostname(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "-" else "-" for c in name).strip("-")
    return cleaned[:63] or "vm"


def dhcp_hosts(xml: str) -> dict[str, tuple[str, str]]:
    """MAC → (ip, name) of the ``<host>`` entries of a network's XML."""
    root = ET.fromstring(xml)
    out = {}
    for h in root.iterfind("./ip/dhcp/host"):
        mac = (h.get("mac") or "").lower()
        if mac:
            out[mac] = (h.get("ip") or "", h.get("name") or "")
    return out


def without_hosts(xml: str) -> str:
    """A network's XML without its DHCP ``<host>`` entries and its uuid/generated parts, to
    compare whether anything but the host entries differs."""
    root = ET.fromstring(xml)
    for tag in ("uuid", "mac"):
        for el in root.findall(tag):
            root.remove(el)
    for dhcp in root.iterfind("./ip/dhcp"):
        for h in dhcp.findall("host"):
            dhcp.remove(h)
    bridge = root.find("bridge")
    if bridge is not None:
        for attr in ("stp", "delay"):
            bridge.attrib.pop(attr, None)
    fwd = root.find("forward")
    if fwd is not None:
        for child in list(fwd):
            fwd.remove(child)  # <nat><port .../></nat> libvirt adds
    for el in root.iter():
        el.text = (el.text or "").strip() or None
        el.tail = None
    return ET.tostring(root, encoding="unicode")


# ---------------------------------------------------------------- nwfilter


def filter_uuid(group_id: str) -> str:
    """Stable per group, so every redefinition updates the same filter."""
    return str(uuid.uuid5(_FILTER_NS, group_id))


def filter_xml(spec: ns.FilterSpec) -> str:
    """The nwfilter of a security group.

    libvirt's ``direction='in'`` is traffic to the VM (ingress), ``out`` traffic from it.
    Order: DHCP replies to the VM are accepted; then the group's rules in their order
    (priority 200 + index), each peer CIDR its own rule; then outbound is accepted when the
    group has no egress rules (else dropped), and everything else inbound is dropped.
    Replies to accepted traffic pass: libvirt's accept rules match connection state
    (ESTABLISHED/RELATED in the reverse direction) by default.
    """
    root = ET.Element("filter", {"name": ns.filter_name(spec.group_id), "chain": "root"})
    ET.SubElement(root, "uuid").text = filter_uuid(spec.group_id)
    dhcp = ET.SubElement(
        root, "rule", {"action": "accept", "direction": "in", "priority": str(ACCEPT_PRIORITY)}
    )
    ET.SubElement(dhcp, "udp", {"srcportstart": "67", "dstportstart": "68"})
    for i, rule in enumerate(spec.rules):
        for attrs in _matches(rule):
            el = ET.SubElement(
                root,
                "rule",
                {
                    "action": "accept",
                    "direction": "in" if rule.direction == "ingress" else "out",
                    "priority": str(RULE_PRIORITY + i),
                },
            )
            ET.SubElement(el, rule.protocol, attrs)
    egress = any(r.direction == "egress" for r in spec.rules)
    out = ET.SubElement(
        root,
        "rule",
        {
            "action": "drop" if egress else "accept",
            "direction": "out",
            "priority": str(DROP_PRIORITY if egress else DEFAULT_PRIORITY),
        },
    )
    ET.SubElement(out, "all")
    drop = ET.SubElement(
        root, "rule", {"action": "drop", "direction": "in", "priority": str(DROP_PRIORITY)}
    )
    ET.SubElement(drop, "all")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")


def _matches(rule: ns.FilterRule) -> list[dict[str, str]]:
    """The attributes of each protocol element of one rule (one per peer CIDR)."""
    ports: dict[str, str] = {}
    if rule.protocol in ("tcp", "udp") and (rule.port_min or rule.port_max):
        ports = {"dstportstart": str(rule.port_min), "dstportend": str(rule.port_max)}
    if rule.anywhere:
        return [ports]
    side = "src" if rule.direction == "ingress" else "dst"
    out = []
    for cidr in rule.cidrs:
        net = ipaddress.ip_network(cidr, strict=False)
        out.append(
            {
                f"{side}ipaddr": str(net.network_address),
                f"{side}ipmask": str(net.prefixlen),
                **ports,
            }
        )
    return out
