"""Pure translation of a LimiQuantix VM spec into libvirt domain XML, and back.

Kept apart from ``agent.hypervisor`` so the XML we hand to libvirt can be unit-tested
without a hypervisor, and so user input (VM names) only ever reaches XML through
ElementTree, never by string concatenation.

A managed domain is recognisable three ways (docs/contracts.md): its UUID is the vm_id, its
name is ``lq-<vm name>-<first 8 of vm_id>``, and it carries the metadata element
``<lq:vm xmlns:lq="urn:limiquantix:vm:1" id="..." name="..."/>``.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import msgspec

from agent.devxml import DiskDev, NicDev, disk_element, nic_element

LQ_NS = "urn:limiquantix:vm:1"
LQ_PREFIX = "lq"
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_NAME_MAX = 48
# control characters (XML 1.0 cannot carry most; CR/LF/TAB would not survive a round
# trip), surrogates and U+FFFE/U+FFFF: never part of a VM name
_NOT_XML = re.compile("[^\x20-\x7e\x80-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

ET.register_namespace(LQ_PREFIX, LQ_NS)


class VmSpec(msgspec.Struct, frozen=True, kw_only=True):
    """What the agent needs to define a domain (from ``events.orders.DefineVm``, with
    volumes already resolved to paths and networks to what the host has).

    ``max_vcpus``/``max_memory_mib`` (0 = as defined) are the hot-plug headroom: the
    domain gets ``<vcpu current=vcpus>max</vcpu>`` and ``<memory>max</memory>`` with
    ``<currentMemory>`` at ``memory_mib`` (the balloon), so both can grow while running.
    """

    vm_id: str
    name: str
    vcpus: int
    memory_mib: int
    max_vcpus: int = 0
    max_memory_mib: int = 0
    machine: str = "pc"
    firmware: str = "bios"
    loader: str = ""  # UEFI code image (read-only pflash)
    nvram_template: str = ""  # UEFI variables template, copied per domain by libvirt
    boot_order: tuple[str, ...] = ("hd",)
    disks: tuple[DiskDev, ...] = ()
    nics: tuple[NicDev, ...] = ()
    kernel: str = ""
    initrd: str = ""
    cmdline: str = ""
    consoles: bool = True  # a serial console (pty) and VNC on 127.0.0.1


class ManagedMeta(msgspec.Struct, frozen=True, kw_only=True):
    """What the metadata element of a managed domain says about it."""

    vm_id: str
    name: str


def domain_name(spec: VmSpec) -> str:
    """``lq-<vm name>-<last 12 hex digits of vm_id>``; characters libvirt drivers reject
    become ``-``. The suffix is the id's random part: the leading digits of a UUIDv7 are
    its timestamp, so two same-named VMs created within a minute would collide on them."""
    safe = _NAME_UNSAFE.sub("-", spec.name).strip("-.")[:_NAME_MAX] or "vm"
    return f"lq-{safe}-{spec.vm_id.replace('-', '')[-12:]}"


def domain_type_for_uri(uri: str, kvm: bool = True) -> str:
    """The ``<domain type=...>`` for a connection URI when no capabilities are at hand:
    ``test`` for libvirt's test driver, ``kvm`` (or ``qemu`` without hardware
    acceleration) for QEMU."""
    scheme = uri.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme == "test":
        return "test"
    if scheme == "qemu":
        return "kvm" if kvm else "qemu"
    return scheme


def best_domain_type(capabilities_xml: str) -> str:
    """The best domain type a host offers, from ``virConnectGetCapabilities`` XML:
    ``kvm`` over ``qemu`` over whatever else is listed first."""
    root = ET.fromstring(capabilities_xml)
    found = [d.get("type", "") for d in root.iterfind("./guest/arch/domain")]
    for preferred in ("kvm", "qemu", "test"):
        if preferred in found:
            return preferred
    if found and found[0]:
        return found[0]
    raise ValueError("capabilities list no guest domain type")


def validate(spec: VmSpec) -> None:
    """Reject specs no hypervisor could take (raises ``ValueError``)."""
    uuid.UUID(spec.vm_id)  # raises ValueError when it is not a UUID
    if bad := _NOT_XML.search(spec.name):
        # ElementTree would write it unescaped: XML no parser (libvirt's) accepts
        # (found by tests/faults/test_hostile_decoding.py)
        raise ValueError(f"name holds a control character: {bad.group()!r}")
    if spec.vcpus < 1:
        raise ValueError(f"vcpus must be at least 1, got {spec.vcpus}")
    if spec.memory_mib < 1:
        raise ValueError(f"memory_mib must be at least 1, got {spec.memory_mib}")
    if spec.max_vcpus and spec.max_vcpus < spec.vcpus:
        raise ValueError(f"max_vcpus {spec.max_vcpus} is below vcpus {spec.vcpus}")
    if spec.max_memory_mib and spec.max_memory_mib < spec.memory_mib:
        raise ValueError(f"max_memory_mib {spec.max_memory_mib} is below {spec.memory_mib}")
    if spec.firmware not in ("bios", "uefi"):
        raise ValueError(f"unknown firmware {spec.firmware!r}")
    if spec.firmware == "uefi" and not spec.loader:
        raise ValueError("uefi firmware needs a loader (OVMF) on the host")
    for text in (spec.kernel, spec.initrd, spec.cmdline, spec.machine):
        if bad := _NOT_XML.search(text):
            raise ValueError(f"boot settings hold a control character: {bad.group()!r}")
    ids = [d.disk_id for d in spec.disks] + [n.nic_id for n in spec.nics]
    if len(set(ids)) != len(ids):
        raise ValueError("device ids are not unique")


def domain_xml(spec: VmSpec, domain_type: str) -> str:
    """The domain XML for ``spec`` on a hypervisor of ``domain_type`` (``test``, ``kvm``,
    ``qemu``). Raises ``ValueError`` for a spec no hypervisor could take."""
    validate(spec)
    dom = ET.Element("domain", {"type": domain_type})
    ET.SubElement(dom, "name").text = domain_name(spec)
    ET.SubElement(dom, "uuid").text = str(uuid.UUID(spec.vm_id))
    ET.SubElement(dom, "title").text = spec.name
    metadata = ET.SubElement(dom, "metadata")
    ET.SubElement(metadata, f"{{{LQ_NS}}}vm", {"id": spec.vm_id, "name": spec.name})
    memory = max(spec.max_memory_mib, spec.memory_mib)
    ET.SubElement(dom, "memory", {"unit": "MiB"}).text = str(memory)
    ET.SubElement(dom, "currentMemory", {"unit": "MiB"}).text = str(spec.memory_mib)
    vcpu = ET.SubElement(dom, "vcpu", {"placement": "static"})
    vcpu.text = str(max(spec.max_vcpus, spec.vcpus))
    if spec.max_vcpus > spec.vcpus:
        vcpu.set("current", str(spec.vcpus))
    real = domain_type in ("kvm", "qemu")
    os_el = ET.SubElement(dom, "os")
    type_attrs = {"arch": "x86_64", "machine": spec.machine} if real else {}
    ET.SubElement(os_el, "type", type_attrs).text = "hvm"
    if spec.firmware == "uefi":
        ET.SubElement(os_el, "loader", {"readonly": "yes", "type": "pflash"}).text = spec.loader
        if spec.nvram_template:
            ET.SubElement(os_el, "nvram", {"template": spec.nvram_template})
    if spec.kernel:
        ET.SubElement(os_el, "kernel").text = spec.kernel
        if spec.initrd:
            ET.SubElement(os_el, "initrd").text = spec.initrd
        if spec.cmdline:
            ET.SubElement(os_el, "cmdline").text = spec.cmdline
    for dev in spec.boot_order or ("hd",):
        ET.SubElement(os_el, "boot", {"dev": dev})
    if real:
        features = ET.SubElement(dom, "features")
        ET.SubElement(features, "acpi")
        ET.SubElement(features, "apic")
    ET.SubElement(dom, "on_poweroff").text = "destroy"
    ET.SubElement(dom, "on_reboot").text = "restart"
    ET.SubElement(dom, "on_crash").text = "destroy"
    devices = ET.SubElement(dom, "devices")
    if any(d.bus == "scsi" for d in spec.disks):
        ET.SubElement(devices, "controller", {"type": "scsi", "model": "virtio-scsi"})
    for disk in spec.disks:
        devices.append(disk_element(disk))
    for nic in spec.nics:
        devices.append(nic_element(nic))
    if spec.consoles:
        serial = ET.SubElement(devices, "serial", {"type": "pty"})
        ET.SubElement(serial, "target", {"port": "0"})
        console = ET.SubElement(devices, "console", {"type": "pty"})
        ET.SubElement(console, "target", {"type": "serial", "port": "0"})
        if real:
            ET.SubElement(
                devices,
                "graphics",
                {"type": "vnc", "port": "-1", "autoport": "yes", "listen": "127.0.0.1"},
            )
    return ET.tostring(dom, encoding="unicode")


def parse_metadata(metadata_xml: str) -> ManagedMeta:
    """Read the LimiQuantix metadata element as libvirt returns it (the element alone,
    prefix and namespace declaration as libvirt chooses). Raises ``ValueError``."""
    try:
        el = ET.fromstring(metadata_xml)
    except ET.ParseError as exc:
        raise ValueError(f"unreadable metadata: {exc}") from exc
    vm_id = el.get("id")
    if not vm_id:
        raise ValueError("metadata element has no id")
    return ManagedMeta(vm_id=vm_id, name=el.get("name", ""))


OVMF_DIR = "/usr/share/OVMF"
_OVMF_PAIRS = (("OVMF_CODE_4M.fd", "OVMF_VARS_4M.fd"), ("OVMF_CODE.fd", "OVMF_VARS.fd"))


def find_ovmf(directory: str = OVMF_DIR) -> tuple[str, str] | None:
    """The UEFI code image and variables template a host offers (Debian's ``ovmf``
    package layout), ``None`` when it has none. Reads one directory, nothing else."""
    base = Path(directory)
    for code, variables in _OVMF_PAIRS:
        if (base / code).is_file() and (base / variables).is_file():
            return str(base / code), str(base / variables)
    return None
