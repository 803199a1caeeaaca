"""libvirt networks and nwfilters on this host, and the filter of each NIC.

Runs in the hypervisor's worker thread (``Hypervisor.run``); functions take the libvirt
connection first. Everything is desired state: defining a network that exists with the
same settings only brings its DHCP host entries in line (``virNetworkUpdate``, live and
persistent, so running VMs keep their network), a network whose other settings changed is
redefined (its running instance takes them at its next restart, which is not forced on
the VMs using it), a filter is (re)defined whole — libvirt re-applies a redefined filter
to every running NIC that references it — and a NIC's ``<filterref>`` is changed only
when it differs. libvirt's test driver has networks but no nwfilter driver: filters and
bindings answer "not supported" there.
"""

from __future__ import annotations

import copy
import logging
import xml.etree.ElementTree as ET
from typing import Any

import libvirt

from agent import hv_devices, netxml
from events import netsync as ns

log = logging.getLogger(__name__)

UPDATE_FLAGS = libvirt.VIR_NETWORK_UPDATE_AFFECT_CONFIG
RESTART_NOTE = "settings changed: they apply when the network is restarted on this host"


def _lookup_network(conn: Any, name: str) -> Any | None:
    try:
        return conn.networkLookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_NETWORK:
            return None
        raise


def ensure_network(conn: Any, spec: ns.NetworkSpec) -> tuple[str, str]:
    """Define, start and autostart the network as ``spec`` says; ``(state, detail)``."""
    xml = netxml.network_xml(spec)
    net = _lookup_network(conn, spec.network_id)
    detail = ""
    if net is None:
        net = conn.networkDefineXML(xml)
        log.info("network %s (%s) defined", spec.name, spec.network_id)
    else:
        current = _definition(net)
        if netxml.without_hosts(current) == netxml.without_hosts(xml):
            _sync_hosts(net, current, spec)
        else:
            conn.networkDefineXML(_same_uuid(xml, net.UUIDString()))
            net = conn.networkLookupByName(spec.network_id)
            if net.isActive():
                detail = RESTART_NOTE
            log.info("network %s (%s) redefined", spec.name, spec.network_id)
    if not net.autostart():
        net.setAutostart(1)
    if not net.isActive():
        net.create()
    return "active", detail


def _same_uuid(xml: str, uuid: str) -> str:
    """``xml`` with the defined network's UUID: libvirt refuses a redefinition under the
    same name that would give it another ("already exists with uuid …")."""
    root = ET.fromstring(xml)
    for old in root.findall("uuid"):
        root.remove(old)
    element = ET.Element("uuid")
    element.text = uuid
    root.insert(1, element)
    return ET.tostring(root, encoding="unicode")


def _definition(net: Any) -> str:
    """The persistent definition (the test driver knows only the one XML)."""
    try:
        return str(net.XMLDesc(libvirt.VIR_NETWORK_XML_INACTIVE))
    except libvirt.libvirtError as exc:
        if exc.get_error_code() not in (libvirt.VIR_ERR_INVALID_ARG, libvirt.VIR_ERR_NO_SUPPORT):
            raise
        return str(net.XMLDesc(0))


def _sync_hosts(net: Any, current: str, spec: ns.NetworkSpec) -> None:
    """Add, change and remove DHCP host entries in place (live too when running)."""
    if spec.network_type not in ("isolated", "nat") or not spec.dhcp:
        return
    have = netxml.dhcp_hosts(current)
    want = {h.mac.lower(): (h.ip, netxml.host_xml(h.mac, h.ip, h.name)) for h in spec.hosts}
    flags = UPDATE_FLAGS | (libvirt.VIR_NETWORK_UPDATE_AFFECT_LIVE if net.isActive() else 0)
    section = libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST
    for mac, (ip, name) in have.items():
        wanted = want.get(mac)
        if wanted is None or wanted[1] != netxml.host_xml(mac, ip, name):
            host = netxml.host_xml(mac, ip, name)
            net.update(libvirt.VIR_NETWORK_UPDATE_COMMAND_DELETE, section, -1, host, flags)
    for mac, (_ip, host) in want.items():
        old = have.get(mac)
        if old is None or netxml.host_xml(mac, old[0], old[1]) != host:
            net.update(libvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, section, -1, host, flags)


def remove_network(conn: Any, network_id: str) -> None:
    net = _lookup_network(conn, network_id)
    if net is None:
        return
    if net.isActive():
        net.destroy()
    net.undefine()
    log.info("network %s removed", network_id)


def network_state(conn: Any, network_id: str) -> str:
    net = _lookup_network(conn, network_id)
    if net is None:
        return "inactive"
    return "active" if net.isActive() else "inactive"


def define_filter(conn: Any, spec: ns.FilterSpec) -> None:
    conn.nwfilterDefineXML(netxml.filter_xml(spec))


def remove_filter(conn: Any, name: str) -> None:
    try:
        conn.nwfilterLookupByName(name).undefine()
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_NO_NWFILTER:
            raise


def managed_filters(conn: Any) -> list[str]:
    """Names of the nwfilters that realise security groups (``lq-sg-*``)."""
    return [f.name() for f in conn.listAllNWFilters() if f.name().startswith(ns.FILTER_PREFIX)]


def filter_xml_of(conn: Any, name: str) -> str:
    return str(conn.nwfilterLookupByName(name).XMLDesc(0))


def bind(conn: Any, binding: ns.NicBinding) -> str:
    """Give the NIC with ``binding.mac`` the group's filter (or none); a note."""
    try:
        dom = conn.lookupByUUIDString(binding.vm_id)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return "not defined on this host (yet)"
        raise
    iface = _interface(hv_devices.definition(dom), binding.mac)
    if iface is None:
        return f"no NIC with MAC {binding.mac}"
    want = ns.filter_name(binding.group_id) if binding.group_id else ""
    ref = iface.find("filterref")
    if (ref.get("filter", "") if ref is not None else "") == want:
        return ""
    new = copy.deepcopy(iface)
    for old in new.findall("filterref"):
        new.remove(old)
    if want:
        ET.SubElement(new, "filterref", {"filter": want})
    note = hv_devices.change(conn, dom, "update", new, iface)
    log.info("vm %s NIC %s filter set to %r", binding.vm_id, binding.mac, want)
    return note


def _interface(domain_xml: str, mac: str) -> ET.Element | None:
    for el in ET.fromstring(domain_xml).findall("devices/interface"):
        found = el.find("mac")
        if found is not None and found.get("address", "").lower() == mac.lower():
            return el
    return None
