"""Storage on the host: the agent's own storage pool and the volumes of VM disks.

Runs in the hypervisor's worker threads (``Hypervisor.run`` / ``run_long``): every
function takes the libvirt connection first. Pool ``default`` is the libvirt dir pool
``lq-default`` rooted at ``<agent state dir>/images``, defined, built and started on first
use (on libvirt's test driver the same calls keep it in memory). Volume names are
``<vm_id>-<disk_id>.qcow2`` and ``<vm_id>-cidata.iso``, so everything a VM owns is found
by its id, and a repeated order finds the volume it made the first time and reuses it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import xml.etree.ElementTree as ET
from typing import Any, NamedTuple

import libvirt

from agent import devxml, simhost
from agent.errors import PermanentError

log = logging.getLogger(__name__)
GIB = 1024**3
DEFAULT_POOL = "default"
DEFAULT_POOL_NAME = "lq-default"


class Where(NamedTuple):
    """A volume to be: its pool id, the default pool's directory, its name."""

    pool_id: str
    images_dir: str
    name: str


def pool_name(pool_id: str) -> str:
    """The libvirt pool behind a LimiQuantix pool id."""
    return DEFAULT_POOL_NAME if pool_id in ("", DEFAULT_POOL) else pool_id


def volume_name(vm_id: str, disk_id: str) -> str:
    return f"{vm_id}-{disk_id}.qcow2"


def seed_name(vm_id: str) -> str:
    return f"{vm_id}-cidata.iso"


def is_test(conn: Any) -> bool:
    return str(conn.getType()).lower() == "test"


def _code(exc: libvirt.libvirtError) -> int:
    return int(exc.get_error_code())


def _pool_xml(name: str, path: str) -> str:
    pool = ET.Element("pool", {"type": "dir"})
    ET.SubElement(pool, "name").text = name
    target = ET.SubElement(pool, "target")
    ET.SubElement(target, "path").text = path
    return ET.tostring(pool, encoding="unicode")


def pool_path(pool: Any) -> str:
    return ET.fromstring(pool.XMLDesc(0)).findtext("target/path") or ""


def ensure_pool(conn: Any, pool_id: str, images_dir: str) -> Any:
    """The started pool behind ``pool_id``; ``default`` is created on demand.

    A ``lq-default`` whose directory vanished (its agent's state was wiped) is defined
    again over this agent's directory rather than left broken.
    """
    name = pool_name(pool_id)
    try:
        pool = conn.storagePoolLookupByName(name)
    except libvirt.libvirtError as exc:
        if _code(exc) != libvirt.VIR_ERR_NO_STORAGE_POOL:
            raise
        if name != DEFAULT_POOL_NAME:
            raise PermanentError(f"no storage pool {pool_id!r} on this host") from exc
        pool = None
    real = not is_test(conn)
    if (
        pool is not None
        and name == DEFAULT_POOL_NAME
        and real
        and not os.path.isdir(pool_path(pool))
    ):
        log.warning("pool %s lost its directory %s, redefining it", name, pool_path(pool))
        with contextlib.suppress(libvirt.libvirtError):
            pool.destroy()
        pool.undefine()
        pool = None
    if pool is None:
        try:
            pool = conn.storagePoolDefineXML(_pool_xml(name, images_dir), 0)
        except libvirt.libvirtError:  # another agent of this libvirtd defined it just now
            pool = conn.storagePoolLookupByName(name)
        else:
            pool.build(0)
            log.info("defined storage pool %s at %s", name, images_dir)
            if real:
                traversable(images_dir)
    if not pool.isActive():
        try:
            pool.create(0)
        except libvirt.libvirtError:
            if not pool.isActive():  # else another agent started it just now
                raise
    with contextlib.suppress(libvirt.libvirtError):
        pool.setAutostart(1)
    if real:
        pool.refresh(0)  # files removed behind libvirt's back must not look present
    return pool


def traversable(path: str) -> None:
    """Let the QEMU user (``libvirt-qemu``) reach the pool directory: add search (x, not
    read) permission for others on each ancestor owned by the agent's user that lacks it
    (an agent state dir under a private home or temp dir would otherwise hide every disk
    image from the QEMU process)."""
    current = os.path.abspath(path)
    uid = os.getuid()
    while current != os.path.dirname(current):
        try:
            st = os.stat(current)
            if st.st_uid == uid and not st.st_mode & 0o001:
                os.chmod(current, (st.st_mode & 0o7777) | 0o001)
        except OSError as exc:
            log.debug("cannot open %s for the QEMU user: %s", current, exc)
        current = os.path.dirname(current)


def find_volume(pool: Any, name: str) -> Any | None:
    try:
        return pool.storageVolLookupByName(name)
    except libvirt.libvirtError as exc:
        if _code(exc) == libvirt.VIR_ERR_NO_STORAGE_VOL:
            return None
        raise


def volume_by_path(conn: Any, path: str) -> Any | None:
    try:
        return conn.storageVolLookupByPath(path)
    except libvirt.libvirtError as exc:
        if _code(exc) == libvirt.VIR_ERR_NO_STORAGE_VOL:
            return None
        raise


def _format_of(vol: Any) -> str:
    found = ET.fromstring(vol.XMLDesc(0)).find("target/format")
    return found.get("type", "raw") if found is not None else "raw"


def _volume_xml(name: str, size: int, fmt: str, backing: tuple[str, str] | None = None) -> str:
    vol = ET.Element("volume")
    ET.SubElement(vol, "name").text = name
    ET.SubElement(vol, "capacity", {"unit": "bytes"}).text = str(size)
    if fmt == "qcow2":
        ET.SubElement(vol, "allocation", {"unit": "bytes"}).text = "0"
    target = ET.SubElement(vol, "target")
    ET.SubElement(target, "format", {"type": fmt})
    if backing is not None:
        store = ET.SubElement(vol, "backingStore")
        ET.SubElement(store, "path").text = backing[0]
        ET.SubElement(store, "format", {"type": backing[1]})
    return ET.tostring(vol, encoding="unicode")


def existing(conn: Any, pool_id: str, images_dir: str, name: str) -> tuple[str, str]:
    """Path and format of a volume that must already exist (``DiskSpec.volume``);
    an absolute path names a file in any pool."""
    if name.startswith("/"):
        vol = volume_by_path(conn, name)
    else:
        vol = find_volume(ensure_pool(conn, pool_id, images_dir), name)
    if vol is None:
        raise PermanentError(f"no volume {name!r} in pool {pool_id!r}")
    return vol.path(), _format_of(vol)


def create(conn: Any, pool_id: str, images_dir: str, name: str, size_gib: int) -> tuple[str, bool]:
    """An empty qcow2 volume (reused when it exists); its path and whether it is new."""
    pool = ensure_pool(conn, pool_id, images_dir)
    found = find_volume(pool, name)
    if found is not None:
        return found.path(), False
    vol = pool.createXML(_volume_xml(name, max(size_gib, 1) * GIB, "qcow2"), 0)
    log.info("created volume %s (%d GiB)", name, size_gib)
    return vol.path(), True


def source_of(
    conn: Any, source_vm_id: str, disk_id: str, pool_id: str, images_dir: str
) -> Any | None:
    """The volume behind ``disk_id`` of the clone source: from its definition when the
    source domain exists, else by the naming rule in the pool; ``None`` when it has none."""
    try:
        dom = conn.lookupByUUIDString(source_vm_id)
        xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        el = devxml.find_disk(xml, disk_id)
        if el is not None and devxml.disk_source(el):
            return volume_by_path(conn, devxml.disk_source(el))
    except libvirt.libvirtError as exc:
        if _code(exc) != libvirt.VIR_ERR_NO_DOMAIN:
            raise
    return find_volume(ensure_pool(conn, pool_id, images_dir), volume_name(source_vm_id, disk_id))


def clone_plan(conn: Any, where: Where, source: Any, size_gib: int) -> tuple[str, int, bool]:
    """Before a copy: the target path, the bytes to copy (source allocation) and
    whether the target already exists (a repeated order: nothing to copy)."""
    pool_id, images_dir, name = where
    pool = ensure_pool(conn, pool_id, images_dir)
    found = find_volume(pool, name)
    path = os.path.join(pool_path(pool), name)
    if found is not None:
        return found.path(), 0, True
    _, _capacity, allocation = source.info()
    return path, int(allocation), False


def full_clone(conn: Any, where: Where, source: Any, size_gib: int) -> str:
    """A full copy of ``source`` (``createXMLFrom``; blocking, run on the long thread)."""
    pool_id, images_dir, name = where
    pool = ensure_pool(conn, pool_id, images_dir)
    found = find_volume(pool, name)
    if found is not None:
        return str(found.path())
    _, capacity, _ = source.info()
    size = max(int(capacity), size_gib * GIB)
    vol = pool.createXMLFrom(_volume_xml(name, size, "qcow2"), source, 0)
    log.info("copied volume %s from %s", name, source.name())
    return str(vol.path())


def linked_clone(conn: Any, where: Where, source: Any, size_gib: int) -> tuple[str, bool]:
    """A qcow2 overlay whose backing file is ``source`` (reads fall through to it)."""
    pool_id, images_dir, name = where
    pool = ensure_pool(conn, pool_id, images_dir)
    found = find_volume(pool, name)
    if found is not None:
        return found.path(), False
    _, capacity, _ = source.info()
    size = max(int(capacity), size_gib * GIB)
    xml = _volume_xml(name, size, "qcow2", backing=(source.path(), _format_of(source)))
    vol = pool.createXML(xml, 0)
    log.info("created linked volume %s over %s", name, source.path())
    return vol.path(), True


def write(conn: Any, pool_id: str, images_dir: str, name: str, data: bytes) -> str:
    """A raw volume holding ``data`` (the cloud-init seed), replaced when it differs."""
    pool = ensure_pool(conn, pool_id, images_dir)
    found = find_volume(pool, name)
    if found is not None:
        found.delete(0)
    vol = pool.createXML(_volume_xml(name, len(data), "raw"), 0)
    stream = conn.newStream(0)
    try:
        vol.upload(stream, 0, len(data), 0)
        stream.send(data)
        stream.finish()
    except libvirt.libvirtError as exc:
        with contextlib.suppress(libvirt.libvirtError):
            stream.abort()
        if _code(exc) != libvirt.VIR_ERR_NO_SUPPORT:
            raise
        log.debug("hypervisor keeps no volume contents (simulated host): %s", name)
    return str(vol.path())


def delete_path(conn: Any, path: str) -> bool:
    """Remove the volume at ``path``; ``False`` when there was none (already gone)."""
    vol = volume_by_path(conn, path)
    if vol is None:
        return False
    vol.delete(0)
    log.info("deleted volume %s", path)
    return True


def delete_owned(conn: Any, pool_id: str, images_dir: str, vm_id: str) -> list[str]:
    """Remove every volume of the pool named after ``vm_id`` (its disks and seed)."""
    pool = ensure_pool(conn, pool_id, images_dir)
    gone = []
    for vol in pool.listAllVolumes(0):
        if vol.name().startswith(vm_id + "-"):
            vol.delete(0)
            gone.append(vol.name())
    return gone


def owned(path: str, vm_id: str) -> bool:
    """Whether a disk file is one the agent made for ``vm_id`` (never a shared image)."""
    return os.path.basename(path).startswith(vm_id + "-")


def capacity(conn: Any, path: str) -> int | None:
    vol = volume_by_path(conn, path)
    return None if vol is None else int(vol.info()[1])


def resize(conn: Any, path: str, size: int) -> None:
    """Grow the (unused) volume at ``path`` to ``size`` bytes. libvirt's test driver
    cannot resize: a simulated volume holds no data, so it is made again at the size."""
    vol = volume_by_path(conn, path)
    if vol is None:
        raise PermanentError(f"no volume at {path}")
    try:
        vol.resize(size, 0)
    except libvirt.libvirtError as exc:
        if _code(exc) != libvirt.VIR_ERR_NO_SUPPORT or not is_test(conn):
            raise
        pool, name, fmt = vol.storagePoolLookupByVolume(), vol.name(), _format_of(vol)
        vol.delete(0)
        pool.createXML(_volume_xml(name, size, fmt), 0)


def saved_pools(conn: Any) -> list[simhost.SavedPool]:
    """Pool ``lq-default`` and its volume descriptions, as a node file keeps them."""
    try:
        pool = conn.storagePoolLookupByName(DEFAULT_POOL_NAME)
    except libvirt.libvirtError as exc:
        if _code(exc) == libvirt.VIR_ERR_NO_STORAGE_POOL:
            return []
        raise
    volumes = tuple(str(v.XMLDesc(0)) for v in pool.listAllVolumes(0))
    return [simhost.SavedPool(str(pool.XMLDesc(0)), volumes)]
