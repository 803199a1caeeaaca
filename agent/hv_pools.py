"""LimiQuantix storage pools and volumes on the host, through libvirt's storage API.

Runs in the hypervisor's worker threads (``Hypervisor.run`` / ``run_long``): each function
takes the libvirt connection first. The libvirt pool is named after the pool id. Every
call is idempotent: defining a defined pool, deleting a missing volume or creating a
volume that is there (same name) succeed, so a repeated request has one effect.

A ``dir`` pool is defined, built (its directory made), started and set to autostart; the
other types are defined and started where the host can reach their storage, and are
reported ``inactive`` with libvirt's reason otherwise (an NFS server, a volume group, a
Ceph cluster or an iSCSI target that is not there).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from typing import Any

import libvirt

from agent import hv_storage, poolxml
from agent.errors import PermanentError
from events import storage as se

log = logging.getLogger(__name__)

_POOL_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

_STATES: dict[int, se.PoolState] = {
    libvirt.VIR_STORAGE_POOL_INACTIVE: "inactive",
    libvirt.VIR_STORAGE_POOL_BUILDING: "inactive",
    libvirt.VIR_STORAGE_POOL_RUNNING: "active",
    libvirt.VIR_STORAGE_POOL_DEGRADED: "error",
    libvirt.VIR_STORAGE_POOL_INACCESSIBLE: "error",
}


def _code(exc: libvirt.libvirtError) -> int:
    return int(exc.get_error_code())


def lookup(conn: Any, pool_id: str) -> Any | None:
    try:
        return conn.storagePoolLookupByName(pool_id)
    except libvirt.libvirtError as exc:
        if _code(exc) == libvirt.VIR_ERR_NO_STORAGE_POOL:
            return None
        raise


def report(pool: Any, pool_id: str, error: str = "") -> se.PoolReport:
    state, capacity, allocation, available = pool.info()
    return se.PoolReport(
        pool_id=pool_id,
        state=_STATES.get(int(state), "error"),
        capacity_bytes=int(capacity),
        allocation_bytes=int(allocation),
        available_bytes=int(available),
        error=error,
    )


def define(conn: Any, spec: se.PoolSpec) -> se.PoolReport:
    """Define the pool; a ``dir`` pool is also built, started and set to autostart. Other
    types are only defined here (``start`` brings them up, on the long-operation thread:
    mounting an NFS export or logging in to an iSCSI target can take long)."""
    pool = lookup(conn, spec.pool_id)
    if pool is None:
        pool = conn.storagePoolDefineXML(poolxml.pool_xml(spec), 0)
        log.info("defined storage pool %s (%s)", spec.pool_id, spec.pool_type)
        if spec.pool_type == "dir":
            pool.build(0)
            if not hv_storage.is_test(conn):
                hv_storage.traversable(spec.params.path)
    if spec.pool_type == "dir":
        return start(conn, spec)
    return report(pool, spec.pool_id)


def start(conn: Any, spec: se.PoolSpec) -> se.PoolReport:
    """Start the defined pool (if it is not running) with autostart; libvirt's reason is
    reported with the state when the host cannot bring it up."""
    pool = lookup(conn, spec.pool_id)
    if pool is None:
        return se.PoolReport(pool_id=spec.pool_id, state="error", error="not defined here")
    error = ""
    if not pool.isActive():
        try:
            if spec.pool_type == "dir" and not hv_storage.is_test(conn):
                os.makedirs(spec.params.path, exist_ok=True)
            pool.create(0)
        except (libvirt.libvirtError, OSError) as exc:
            error = str(exc)
            log.warning("storage pool %s cannot start here: %s", spec.pool_id, exc)
    with contextlib.suppress(libvirt.libvirtError):
        pool.setAutostart(1)
    if pool.isActive():
        with contextlib.suppress(libvirt.libvirtError):
            pool.refresh(0)
    return report(pool, spec.pool_id, error)


def undefine(conn: Any, pool_id: str) -> None:
    """Stop and forget the pool; its data (directory, volume group, images) stays."""
    pool = lookup(conn, pool_id)
    if pool is None:
        return
    with contextlib.suppress(libvirt.libvirtError):
        if pool.isActive():
            pool.destroy()
    pool.undefine()
    log.info("undefined storage pool %s", pool_id)


def refresh(conn: Any, pool_id: str) -> se.PoolReport:
    pool = lookup(conn, pool_id)
    if pool is None:
        return se.PoolReport(pool_id=pool_id, state="error", error="not defined on this host")
    if pool.isActive():
        pool.refresh(0)
    return report(pool, pool_id)


def lq_pool_names(conn: Any) -> list[str]:
    """This host's libvirt pools that are LimiQuantix pools (named by a pool id)."""
    return [str(p.name()) for p in conn.listAllStoragePools(0) if _POOL_ID.match(p.name())]


def states(conn: Any, pool_ids: list[str]) -> list[se.PoolReport]:
    """The state of each pool id that this host has defined (others are skipped)."""
    out = []
    for pool_id in pool_ids:
        pool = lookup(conn, pool_id)
        if pool is not None:
            out.append(report(pool, pool_id))
    return out


def _active(conn: Any, spec: se.PoolSpec) -> Any:
    pool = lookup(conn, spec.pool_id)
    if pool is None:
        define(conn, spec)
        pool = lookup(conn, spec.pool_id)
    if pool is not None and not pool.isActive():
        start(conn, spec)
    if pool is None or not pool.isActive():
        raise PermanentError(f"storage pool {spec.pool_id} is not active on this host")
    return pool


def _facts(vol: Any) -> tuple[str, int, int]:
    _, capacity, allocation = vol.info()
    return str(vol.path()), int(capacity), int(allocation)


def create_volume(conn: Any, spec: se.PoolSpec, vol: se.VolumeSpec) -> tuple[str, int, int]:
    """Path, capacity and allocation of the (new or existing) volume."""
    pool = _active(conn, spec)
    found = hv_storage.find_volume(pool, vol.name)
    if found is None:
        found = pool.createXML(poolxml.volume_xml(vol, spec.pool_type), 0)
        log.info("created volume %s in pool %s", vol.name, spec.pool_id)
    return _facts(found)


def clone_volume(
    conn: Any, spec: se.PoolSpec, vol: se.VolumeSpec, source: se.VolumeSpec
) -> tuple[str, int, int]:
    """A full copy of ``source`` named ``vol.name`` (blocking: run on the long thread)."""
    pool = _active(conn, spec)
    found = hv_storage.find_volume(pool, vol.name)
    if found is None:
        src = hv_storage.find_volume(pool, source.name)
        if src is None:
            raise PermanentError(f"no volume {source.name} in pool {spec.pool_id}")
        found = pool.createXMLFrom(poolxml.volume_xml(vol, spec.pool_type), src, 0)
        log.info("cloned volume %s from %s", vol.name, source.name)
    return _facts(found)


def resize_volume(conn: Any, spec: se.PoolSpec, vol: se.VolumeSpec) -> tuple[str, int, int]:
    pool = _active(conn, spec)
    found = hv_storage.find_volume(pool, vol.name)
    if found is None:
        raise PermanentError(f"no volume {vol.name} in pool {spec.pool_id}")
    if int(found.info()[1]) < vol.size_bytes:
        hv_storage.resize(conn, found.path(), vol.size_bytes)
        found = hv_storage.find_volume(pool, vol.name)
        if found is None:
            raise PermanentError(f"volume {vol.name} vanished while resizing")
    return _facts(found)


def delete_volume(conn: Any, spec: se.PoolSpec, vol: se.VolumeSpec) -> None:
    pool = lookup(conn, spec.pool_id)
    if pool is None or not pool.isActive():
        return
    with contextlib.suppress(libvirt.libvirtError):
        pool.refresh(0)
    found = hv_storage.find_volume(pool, vol.name)
    if found is not None:
        found.delete(0)
        log.info("deleted volume %s from pool %s", vol.name, spec.pool_id)


def upload_volume(
    conn: Any, spec: se.PoolSpec, vol: se.VolumeSpec, file_path: str
) -> tuple[str, int, int]:
    """A volume holding the bytes of ``file_path`` (an image downloaded by the agent),
    streamed in through libvirt; its virtual size is read back after a pool refresh."""
    pool = _active(conn, spec)
    size = os.path.getsize(file_path)
    found = hv_storage.find_volume(pool, vol.name)
    if found is not None:
        found.delete(0)
    raw = se.VolumeSpec(volume_id=vol.volume_id, name=vol.name, format="raw", size_bytes=size)
    found = pool.createXML(poolxml.volume_xml(raw, spec.pool_type), 0)
    stream = conn.newStream(0)
    try:
        found.upload(stream, 0, size, 0)
        with open(file_path, "rb") as fh:
            while chunk := fh.read(1024 * 1024):
                stream.send(chunk)
        stream.finish()
    except libvirt.libvirtError as exc:
        with contextlib.suppress(libvirt.libvirtError):
            stream.abort()
        if _code(exc) != libvirt.VIR_ERR_NO_SUPPORT:
            raise
        log.debug("simulated host keeps no volume contents: %s", vol.name)
    with contextlib.suppress(libvirt.libvirtError):
        pool.refresh(0)
    found = hv_storage.find_volume(pool, vol.name) or found
    return _facts(found)
