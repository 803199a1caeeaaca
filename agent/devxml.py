"""Pure XML of the devices a LimiQuantix VM carries: disks, CD-ROMs, NICs, and reading
them back out of a domain definition.

Kept apart from ``agent.domxml`` (the domain as a whole) because the same device XML is
used three ways: inside a new definition, in ``attachDeviceFlags``/``detachDeviceFlags``/
``updateDeviceFlags`` calls, and when a hypervisor without device hot-plug (libvirt's test
driver) has its persistent definition edited instead.

Every device we create carries a user alias (``<alias name="ua-disk0"/>``, ``ua-nic1``,
``ua-cidata``): it is how a disk id or NIC id is found again in a definition, on real
QEMU and on the test driver alike. NICs are also matched by MAC, which never changes.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Literal

import msgspec

ALIAS_PREFIX = "ua-"
SEED_ID = "cidata"
_ID_NUMBER = re.compile(r"(\d+)$")
_BUS_PREFIX = {"virtio": "vd", "sata": "sd", "scsi": "sd", "ide": "hd"}
DeviceKind = Literal["disk", "cdrom"]


class DiskDev(msgspec.Struct, frozen=True, kw_only=True):
    """One disk or CD-ROM as the domain sees it: a file (a pool volume's path)."""

    disk_id: str
    path: str
    bus: str = "virtio"
    device: DeviceKind = "disk"
    format: str = "qcow2"
    target: str = ""  # "" = derived from the bus and the number in ``disk_id``
    readonly: bool = False


class NicDev(msgspec.Struct, frozen=True, kw_only=True):
    """One NIC; ``network`` "" means user-mode networking (no libvirt network)."""

    nic_id: str
    mac: str
    model: str = "virtio"
    network: str = ""


def alias(device_id: str) -> str:
    return ALIAS_PREFIX + device_id


def letters(index: int) -> str:
    """0 → a, 25 → z, 26 → aa: the suffix of a disk target name."""
    out = ""
    index += 1
    while index > 0:
        index, rem = divmod(index - 1, 26)
        out = chr(ord("a") + rem) + out
    return out


def target_for(disk_id: str, bus: str) -> str:
    """The target device name of ``disk_id`` on ``bus``: ``disk1`` on virtio is ``vdb``."""
    found = _ID_NUMBER.search(disk_id)
    index = int(found.group(1)) if found else 0
    return _BUS_PREFIX.get(bus, "sd") + letters(index)


def seed_target(machine: str) -> tuple[str, str]:
    """Bus and target of the cloud-init seed CD-ROM: IDE on ``pc``, SATA on ``q35``."""
    return ("sata", "sdz") if machine.startswith("q35") else ("ide", "hdc")


def disk_element(disk: DiskDev) -> ET.Element:
    el = ET.Element("disk", {"type": "file", "device": disk.device})
    ET.SubElement(el, "driver", {"name": "qemu", "type": disk.format})
    ET.SubElement(el, "source", {"file": disk.path})
    target = disk.target or target_for(disk.disk_id, disk.bus)
    ET.SubElement(el, "target", {"dev": target, "bus": disk.bus})
    if disk.readonly or disk.device == "cdrom":
        ET.SubElement(el, "readonly")
    ET.SubElement(el, "alias", {"name": alias(disk.disk_id)})
    return el


def nic_element(nic: NicDev) -> ET.Element:
    if nic.network:
        el = ET.Element("interface", {"type": "network"})
        ET.SubElement(el, "source", {"network": nic.network})
    else:
        el = ET.Element("interface", {"type": "user"})
    ET.SubElement(el, "mac", {"address": nic.mac})
    ET.SubElement(el, "model", {"type": nic.model})
    ET.SubElement(el, "alias", {"name": alias(nic.nic_id)})
    return el


def disk_xml(disk: DiskDev) -> str:
    return ET.tostring(disk_element(disk), encoding="unicode")


def nic_xml(nic: NicDev) -> str:
    return ET.tostring(nic_element(nic), encoding="unicode")


# --- reading a definition back -------------------------------------------------------------


def _alias_of(el: ET.Element) -> str:
    found = el.find("alias")
    name = found.get("name", "") if found is not None else ""
    return name[len(ALIAS_PREFIX) :] if name.startswith(ALIAS_PREFIX) else ""


def find_disk(domain_xml: str, disk_id: str) -> ET.Element | None:
    """The ``<disk>`` of ``disk_id`` (by alias, else by its derived target name)."""
    root = ET.fromstring(domain_xml)
    disks = root.findall("devices/disk")
    for el in disks:
        if _alias_of(el) == disk_id:
            return el
    for el in disks:
        target = el.find("target")
        if target is not None and target.get("dev") == target_for(
            disk_id, target.get("bus", "virtio")
        ):
            return el
    return None


def find_nic(domain_xml: str, nic_id: str, mac: str = "") -> ET.Element | None:
    """The ``<interface>`` of ``nic_id`` (by alias, else by ``mac``)."""
    root = ET.fromstring(domain_xml)
    nics = root.findall("devices/interface")
    for el in nics:
        if _alias_of(el) == nic_id:
            return el
    if mac:
        for el in nics:
            found = el.find("mac")
            if found is not None and found.get("address", "").lower() == mac.lower():
                return el
    return None


def disk_source(el: ET.Element) -> str:
    found = el.find("source")
    if found is None:
        return ""
    return found.get("file") or found.get("dev") or ""


def disk_target(el: ET.Element) -> str:
    found = el.find("target")
    return "" if found is None else found.get("dev", "")


def nic_of(el: ET.Element) -> NicDev:
    """An ``<interface>`` element as a ``NicDev`` (what it is connected to, its MAC)."""
    mac_el, model_el, source = el.find("mac"), el.find("model"), el.find("source")
    network = (
        source.get("network", "") if source is not None and el.get("type") == "network" else ""
    )
    return NicDev(
        nic_id=_alias_of(el),
        mac=mac_el.get("address", "") if mac_el is not None else "",
        model=model_el.get("type", "virtio") if model_el is not None else "virtio",
        network=network,
    )


def nic_ids_by_mac(domain_xml: str) -> dict[str, str]:
    """MAC (lower case) → NIC id of every aliased NIC in a definition."""
    out: dict[str, str] = {}
    for el in ET.fromstring(domain_xml).findall("devices/interface"):
        nic = nic_of(el)
        if nic.nic_id and nic.mac:
            out[nic.mac.lower()] = nic.nic_id
    return out


def volume_paths(domain_xml: str) -> list[str]:
    """The file of every disk and CD-ROM in a definition."""
    root = ET.fromstring(domain_xml)
    return [p for p in (disk_source(el) for el in root.findall("devices/disk")) if p]


def without_device(domain_xml: str, device: ET.Element) -> str:
    """The definition with the device equal to ``device`` (same alias or XML) removed."""
    root = ET.fromstring(domain_xml)
    devices = root.find("devices")
    if devices is None:
        return domain_xml
    wanted_alias, wanted_tag = _alias_of(device), device.tag
    wanted_mac = device.find("mac")
    for el in list(devices):
        if el.tag != wanted_tag:
            continue
        same = bool(wanted_alias) and _alias_of(el) == wanted_alias
        if not same and wanted_mac is not None:
            mac = el.find("mac")
            same = mac is not None and mac.get("address") == wanted_mac.get("address")
        if not same and wanted_tag == "disk":
            same = disk_target(el) == disk_target(device)
        if same:
            devices.remove(el)
            return ET.tostring(root, encoding="unicode")
    return domain_xml


def with_device(domain_xml: str, device: ET.Element) -> str:
    """The definition with ``device`` added (after the last device of its kind)."""
    root = ET.fromstring(domain_xml)
    devices = root.find("devices")
    if devices is None:
        devices = ET.SubElement(root, "devices")
    children = list(devices)
    last = max((i for i, el in enumerate(children) if el.tag == device.tag), default=-1)
    if last < 0:
        last = max(
            (i for i, el in enumerate(children) if el.tag in ("disk", "interface")), default=-1
        )
    devices.insert(last + 1, device)
    return ET.tostring(root, encoding="unicode")


def replaced_device(domain_xml: str, old: ET.Element, new: ET.Element) -> str:
    return with_device(without_device(domain_xml, old), new)
