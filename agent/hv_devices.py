"""Devices of a defined domain: disks and NICs in and out, disk growth, CPU/memory
resize, networks and the addresses NICs hold.

Runs in the hypervisor's worker thread (``Hypervisor.run``); functions take the libvirt
connection (and the domain) first. A change goes to the persistent definition always and
to the running VM too when it runs (``VIR_DOMAIN_AFFECT_CONFIG | AFFECT_LIVE``). A
hypervisor without device hot-plug (libvirt's test driver) gets its persistent definition
edited instead, and the answer says the running VM sees the change at its next boot.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from typing import Any, Literal

import libvirt

from agent import devxml, hv_storage
from agent.errors import PermanentError

log = logging.getLogger(__name__)
LIVE = libvirt.VIR_DOMAIN_AFFECT_LIVE
CONFIG = libvirt.VIR_DOMAIN_AFFECT_CONFIG
INACTIVE = libvirt.VIR_DOMAIN_XML_INACTIVE
NEXT_BOOT = "the running VM sees it after its next boot (no hot-plug on this hypervisor)"
Change = Literal["attach", "detach", "update"]


def network_for(conn: Any, network_id: str) -> str:
    """The libvirt network a NIC of ``network_id`` joins; "" = user-mode networking.

    ``default`` is the host's libvirt network ``default`` when it exists and is active,
    else user-mode networking, so a host without a bridge still gives VMs a network.
    Any other id must be an existing libvirt network."""
    try:
        net = conn.networkLookupByName(network_id or "default")
        active = bool(net.isActive())
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_NO_NETWORK:
            raise
        net, active = None, False
    if network_id in ("", "default"):
        return "default" if active else ""
    if net is None:
        raise PermanentError(f"no network {network_id!r} on this host")
    if not active:
        net.create()
    return network_id


def definition(dom: Any) -> str:
    return str(dom.XMLDesc(INACTIVE))


def live_xml(dom: Any) -> str:
    return str(dom.XMLDesc(0))


def change(
    conn: Any, dom: Any, how: Change, element: ET.Element, old: ET.Element | None = None
) -> str:
    """Attach, detach or update ``element`` (persistent, and live when running); returns
    a note for the answer ("" when the change is everywhere)."""
    xml = ET.tostring(element, encoding="unicode")
    active = bool(dom.isActive())
    flags = CONFIG | (LIVE if active else 0)
    call = {
        "attach": dom.attachDeviceFlags,
        "detach": dom.detachDeviceFlags,
        "update": dom.updateDeviceFlags,
    }[how]
    try:
        call(xml, flags)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
            raise
        current = definition(dom)
        if how == "attach":
            edited = devxml.with_device(current, element)
        elif how == "detach":
            edited = devxml.without_device(current, element)
        else:
            edited = devxml.replaced_device(current, old if old is not None else element, element)
        conn.defineXML(edited)
        log.info("%s of %s applied to the definition of %s", how, element.tag, dom.name())
        return f"applied to the definition; {NEXT_BOOT}" if active else ""
    return ""


def grow_disk(conn: Any, dom: Any, target: str, path: str, size: int) -> str:
    """Grow a disk to ``size`` bytes: ``blockResize`` while running, the volume when not."""
    if dom.isActive():
        try:
            dom.blockResize(target, size, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
            return ""
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
                raise
    hv_storage.resize(conn, path, size)
    return ""


def resize(dom: Any, vcpus: int, memory_mib: int, live: bool) -> str:
    """Set vCPUs and memory in the definition (raising its maxima when needed) and, when
    ``live``, in the running VM, up to the maxima it was started with."""
    kib = memory_mib * 1024
    if live and dom.isActive():
        max_vcpus = int(dom.vcpusFlags(LIVE | libvirt.VIR_DOMAIN_VCPU_MAXIMUM))
        max_kib = int(dom.maxMemory())
        if vcpus > max_vcpus:
            raise PermanentError(f"{vcpus} vCPUs is beyond the running VM's maximum {max_vcpus}")
        if kib > max_kib:
            raise PermanentError(
                f"{memory_mib} MiB is beyond the running VM's maximum {max_kib // 1024} MiB"
            )
        dom.setVcpusFlags(vcpus, LIVE)
        dom.setMemoryFlags(kib, LIVE)
    root = ET.fromstring(definition(dom))
    if vcpus > int(root.findtext("vcpu") or 0):
        dom.setVcpusFlags(vcpus, CONFIG | libvirt.VIR_DOMAIN_VCPU_MAXIMUM)
    dom.setVcpusFlags(vcpus, CONFIG)
    memory = root.find("memory")
    max_kib_config = _kib(memory) if memory is not None else 0
    if kib > max_kib_config:
        dom.setMemoryFlags(kib, CONFIG | libvirt.VIR_DOMAIN_MEM_MAXIMUM)
    dom.setMemoryFlags(kib, CONFIG)
    return "" if live or not dom.isActive() else "takes effect at the next boot"


_UNIT = {"b": 1, "bytes": 1, "kib": 1024, "k": 1024, "mib": 1024**2, "m": 1024**2, "gib": 1024**3}


def _kib(el: ET.Element) -> int:
    factor = _UNIT.get(el.get("unit", "KiB").lower(), 1024)
    return int(el.text or 0) * factor // 1024


def addresses(dom: Any) -> dict[str, str]:
    """NIC id → IPv4 (else IPv6) address of a running domain: from the DHCP leases of
    its libvirt network, else the host's ARP table, else the guest agent."""
    if not dom.isActive():
        return {}
    by_mac = devxml.nic_ids_by_mac(live_xml(dom))
    sources = (
        libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE,
        libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP,
        libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT,
    )
    found: dict[str, str] = {}
    for source in sources:
        try:
            ifaces = dom.interfaceAddresses(source, 0) or {}
        except libvirt.libvirtError:
            continue  # no guest agent, no ARP support, ...
        for info in ifaces.values():
            nic_id = by_mac.get(str(info.get("hwaddr") or "").lower())
            addrs = info.get("addrs") or []
            if nic_id is None or not addrs or nic_id in found:
                continue
            ordered = sorted(addrs, key=lambda a: a.get("type", 0))  # IPv4 (0) first
            found[nic_id] = str(ordered[0].get("addr", ""))
        if len(found) == len(by_mac):
            break
    return found
