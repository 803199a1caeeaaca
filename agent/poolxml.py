"""libvirt storage pool and volume XML for LimiQuantix pools (pure: no libvirt here).

One function per pool type renders the ``<pool>`` element libvirt's storage drivers
expect (https://libvirt.org/formatstorage.html); the libvirt pool is named after the
LimiQuantix pool id, which is also what a VM disk's ``pool_id`` names (``agent.hv_storage``
looks pools up by that name). ``volume_xml`` renders a ``<volume>``: qcow2 is always thin,
raw is sparse when ``thin`` and fully allocated otherwise.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from events import storage as se

ISCSI_TARGET = "/dev/disk/by-path"
RBD_PORT = 6789


def _base(pool_type: str, name: str) -> tuple[ET.Element, ET.Element]:
    pool = ET.Element("pool", {"type": pool_type})
    ET.SubElement(pool, "name").text = name
    return pool, ET.SubElement(pool, "source")


def _target(pool: ET.Element, path: str) -> None:
    ET.SubElement(ET.SubElement(pool, "target"), "path").text = path


def _host_port(text: str, default: int) -> tuple[str, int]:
    """``mon1`` / ``mon1:6789`` / ``[::1]:6789`` → host and port."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, int(port)
    return text, default


def dir_xml(name: str, p: se.DirParams) -> ET.Element:
    pool, source = _base("dir", name)
    pool.remove(source)
    _target(pool, p.path)
    return pool


def netfs_xml(name: str, p: se.NetfsParams) -> ET.Element:
    pool, source = _base("netfs", name)
    ET.SubElement(source, "host", {"name": p.host})
    ET.SubElement(source, "dir", {"path": p.source_path})
    ET.SubElement(source, "format", {"type": p.format})
    _target(pool, p.path)
    return pool


def logical_xml(name: str, p: se.LogicalParams) -> ET.Element:
    pool, source = _base("logical", name)
    ET.SubElement(source, "name").text = p.vg_name
    for dev in p.devices:
        ET.SubElement(source, "device", {"path": dev})
    ET.SubElement(source, "format", {"type": "lvm2"})
    _target(pool, f"/dev/{p.vg_name}")
    return pool


def rbd_xml(name: str, p: se.RbdParams) -> ET.Element:
    pool, source = _base("rbd", name)
    ET.SubElement(source, "name").text = p.rbd_pool
    for mon in p.monitors:
        host, port = _host_port(mon, RBD_PORT)
        ET.SubElement(source, "host", {"name": host, "port": str(port)})
    if p.auth_user:
        auth = ET.SubElement(source, "auth", {"type": "ceph", "username": p.auth_user})
        ET.SubElement(auth, "secret", {"uuid": p.secret_uuid})
    return pool


def iscsi_xml(name: str, p: se.IscsiParams) -> ET.Element:
    pool, source = _base("iscsi", name)
    ET.SubElement(source, "host", {"name": p.host, "port": str(p.port)})
    ET.SubElement(source, "device", {"path": p.iqn})
    if p.initiator_iqn:
        ET.SubElement(ET.SubElement(source, "initiator"), "iqn", {"name": p.initiator_iqn})
    _target(pool, ISCSI_TARGET)
    return pool


def pool_xml(spec: se.PoolSpec) -> str:
    """The ``<pool>`` definition of ``spec`` (named ``spec.pool_id``)."""
    params = se.strict_params(spec.pool_type, spec.params)
    name = spec.pool_id
    match params:
        case se.DirParams():
            el = dir_xml(name, params)
        case se.NetfsParams():
            el = netfs_xml(name, params)
        case se.LogicalParams():
            el = logical_xml(name, params)
        case se.RbdParams():
            el = rbd_xml(name, params)
        case se.IscsiParams():
            el = iscsi_xml(name, params)
        case _:
            raise ValueError(f"no XML for pool type {spec.pool_type}")
    return ET.tostring(el, encoding="unicode")


def volume_xml(vol: se.VolumeSpec, pool_type: str = "dir") -> str:
    """A ``<volume>`` of ``vol.size_bytes``; block-backed pools (logical, rbd) hold raw
    volumes only and take no format element."""
    el = ET.Element("volume")
    ET.SubElement(el, "name").text = vol.name
    ET.SubElement(el, "capacity", {"unit": "bytes"}).text = str(vol.size_bytes)
    thin = vol.thin or vol.format == "qcow2"
    allocation = 0 if thin else vol.size_bytes
    ET.SubElement(el, "allocation", {"unit": "bytes"}).text = str(allocation)
    if pool_type in ("dir", "netfs"):
        target = ET.SubElement(el, "target")
        ET.SubElement(target, "format", {"type": vol.format})
    return ET.tostring(el, encoding="unicode")


def qcow2_virtual_size(header: bytes) -> int | None:
    """The virtual size written in a qcow2 header, or ``None`` when it is not qcow2."""
    if len(header) < 32 or header[:4] != b"QFI\xfb":
        return None
    return int.from_bytes(header[24:32], "big")
