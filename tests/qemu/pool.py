"""The agent's storage pool ``lq-default`` on the real-hypervisor tier's libvirtd.

A libvirt pool is one per libvirtd, so every agent and every test session on the host
shares ``lq-default``. An agent defines it over its own state directory when it is missing;
a test's state directory is removed after the test (or lives under a private temporary
directory), which would take other sessions' disks with it. So before any test runs, the
pool is made sure of over ``POOL_DIR``, a directory no test removes.
"""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import libvirt

from agent.hv_storage import DEFAULT_POOL_NAME

POOL_DIR = Path("/var/lib/limiquantix-tests/images")


def pool_dir(conn: Any) -> Path:
    """The directory of the agent pool ``lq-default``."""
    pool = conn.storagePoolLookupByName(DEFAULT_POOL_NAME)
    return Path(ET.fromstring(pool.XMLDesc(0)).findtext("target/path") or "/nonexistent")


def pool_files(conn: Any, vm_id: str) -> list[Path]:
    """Files of ``vm_id`` in the agent pool's directory (its volumes and seed)."""
    try:
        return sorted(pool_dir(conn).glob(f"{vm_id}-*"))
    except libvirt.libvirtError:
        return []


def ensure_pool(conn: Any) -> Path:
    """``lq-default`` defined and started, in ``POOL_DIR`` unless it already exists with a
    directory of its own (an agent of this host made it); its directory is never removed
    by a test, so concurrent sessions sharing the pool cannot lose each other's disks."""
    try:
        pool = conn.storagePoolLookupByName(DEFAULT_POOL_NAME)
    except libvirt.libvirtError:
        pool = None
    if pool is not None and not pool_dir(conn).is_dir():
        with contextlib.suppress(libvirt.libvirtError):
            pool.destroy()
        with contextlib.suppress(libvirt.libvirtError):
            pool.undefine()
        pool = None
    if pool is None:
        POOL_DIR.mkdir(parents=True, exist_ok=True)
        for p in (POOL_DIR, POOL_DIR.parent):
            p.chmod(0o755)
        xml = ET.Element("pool", {"type": "dir"})
        ET.SubElement(xml, "name").text = DEFAULT_POOL_NAME
        ET.SubElement(ET.SubElement(xml, "target"), "path").text = str(POOL_DIR)
        try:
            pool = conn.storagePoolDefineXML(ET.tostring(xml, encoding="unicode"), 0)
        except libvirt.libvirtError:  # another session defined it just now
            pool = conn.storagePoolLookupByName(DEFAULT_POOL_NAME)
    if not pool.isActive():
        with contextlib.suppress(libvirt.libvirtError):  # or another session just did
            pool.create(0)
    with contextlib.suppress(libvirt.libvirtError):
        pool.setAutostart(1)
    return pool_dir(conn)
