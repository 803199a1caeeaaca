"""Pool XML of every type: its shape, and libvirt's own parser accepting it.

The test driver parses and keeps any pool definition (that is the validation it offers);
real libvirtd also checks that it has a storage backend for the type. Pools are defined
only, never started, except ``dir`` pools, which the storage tests start for real.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import libvirt
import pytest

from agent import poolxml
from events import storage as se

PARAMS: dict[str, dict[str, object]] = {
    "dir": {"path": "/srv/lq-pools/a"},
    "netfs": {"host": "nfs.example.org", "source_path": "/export/vms", "path": "/mnt/lq-nfs"},
    "logical": {"vg_name": "lqvg", "devices": ["/dev/sdz1", "/dev/sdz2"]},
    "rbd": {
        "monitors": ["mon1.example.org", "10.0.0.2:3300", "[fd00::3]:6789"],
        "rbd_pool": "vms",
        "auth_user": "libvirt",
        "secret_uuid": "5b1e5c8a-3c3e-4f4e-9d55-9a0c2a9d7b11",
    },
    "iscsi": {
        "host": "san.example.org",
        "iqn": "iqn.2004-04.org.example:storage.lun1",
        "initiator_iqn": "iqn.2026-01.org.limiquantix:host1",
    },
}


def spec(kind: str, pool_id: str | None = None) -> se.PoolSpec:
    return se.PoolSpec(
        pool_id=pool_id or str(uuid.uuid4()),
        pool_type=kind,  # type: ignore[arg-type]
        params=se.parse_params(kind, PARAMS[kind]),
    )


def el(kind: str) -> ET.Element:
    return ET.fromstring(poolxml.pool_xml(spec(kind, "p-1")))


def test_dir_pool_xml() -> None:
    pool = el("dir")
    assert pool.get("type") == "dir" and pool.findtext("name") == "p-1"
    assert pool.findtext("target/path") == "/srv/lq-pools/a" and pool.find("source") is None


def test_netfs_pool_xml() -> None:
    pool = el("netfs")
    assert pool.get("type") == "netfs"
    assert pool.find("source/host").get("name") == "nfs.example.org"  # type: ignore[union-attr]
    assert pool.find("source/dir").get("path") == "/export/vms"  # type: ignore[union-attr]
    assert pool.find("source/format").get("type") == "nfs"  # type: ignore[union-attr]
    assert pool.findtext("target/path") == "/mnt/lq-nfs"


def test_logical_pool_xml() -> None:
    pool = el("logical")
    assert pool.findtext("source/name") == "lqvg"
    assert [d.get("path") for d in pool.findall("source/device")] == ["/dev/sdz1", "/dev/sdz2"]
    assert pool.find("source/format").get("type") == "lvm2"  # type: ignore[union-attr]
    assert pool.findtext("target/path") == "/dev/lqvg"


def test_rbd_pool_xml() -> None:
    pool = el("rbd")
    assert pool.findtext("source/name") == "vms" and pool.find("target") is None
    hosts = [(h.get("name"), h.get("port")) for h in pool.findall("source/host")]
    assert hosts == [("mon1.example.org", "6789"), ("10.0.0.2", "3300"), ("fd00::3", "6789")]
    auth = pool.find("source/auth")
    assert auth is not None and auth.get("type") == "ceph" and auth.get("username") == "libvirt"
    assert auth.find("secret").get("uuid") == PARAMS["rbd"]["secret_uuid"]  # type: ignore[union-attr]


def test_iscsi_pool_xml() -> None:
    pool = el("iscsi")
    assert pool.find("source/host").get("port") == "3260"  # type: ignore[union-attr]
    assert pool.find("source/device").get("path") == PARAMS["iscsi"]["iqn"]  # type: ignore[union-attr]
    assert pool.find("source/initiator/iqn").get("name") == PARAMS["iscsi"]["initiator_iqn"]  # type: ignore[union-attr]
    assert pool.findtext("target/path") == "/dev/disk/by-path"


def _vol(pool_type: str = "dir", **kw: object) -> ET.Element:
    spec = se.VolumeSpec(volume_id="v", name="a.raw", **kw)  # type: ignore[arg-type]
    return ET.fromstring(poolxml.volume_xml(spec, pool_type))


def test_volume_xml_thin_and_thick() -> None:
    thin = _vol(format="raw", size_bytes=10)
    thick = _vol(format="raw", size_bytes=10, thin=False)
    assert thin.findtext("allocation") == "0" and thick.findtext("allocation") == "10"
    assert thin.find("target/format").get("type") == "raw"  # type: ignore[union-attr]
    assert _vol("logical", size_bytes=10).find("target") is None


def test_qcow2_header_size() -> None:
    header = b"QFI\xfb" + b"\0" * 20 + (5 * 1024**3).to_bytes(8, "big")
    assert poolxml.qcow2_virtual_size(header) == 5 * 1024**3
    assert poolxml.qcow2_virtual_size(b"\0" * 64) is None


def _quiet(_ctx: object, _err: object) -> None:
    pass


@pytest.fixture
def test_conn() -> Iterator[libvirt.virConnect]:
    libvirt.registerErrorHandler(_quiet, None)
    conn = libvirt.open("test:///default")
    yield conn
    conn.close()


@pytest.mark.parametrize("kind", sorted(PARAMS))
def test_libvirt_test_driver_defines_every_type(test_conn: libvirt.virConnect, kind: str) -> None:
    s = spec(kind)
    pool = test_conn.storagePoolDefineXML(poolxml.pool_xml(s), 0)
    try:
        back = ET.fromstring(pool.XMLDesc(0))
        assert back.get("type") == kind and back.findtext("name") == s.pool_id
    finally:
        pool.undefine()


@pytest.mark.qemu
@pytest.mark.parametrize("kind", sorted(PARAMS))
def test_real_libvirtd_defines_every_type_without_starting(qemu_uri: str, kind: str) -> None:
    libvirt.registerErrorHandler(_quiet, None)
    conn = libvirt.open(qemu_uri)
    s = spec(kind, "lqtest-xml-" + uuid.uuid4().hex[:8])
    try:
        try:
            pool = conn.storagePoolDefineXML(poolxml.pool_xml(s), 0)
        except libvirt.libvirtError as exc:
            if "missing backend" in str(exc) or "no storage pool" in str(exc).lower():
                pytest.skip(f"libvirtd here has no {kind} storage backend: {exc}")
            raise
        try:
            back = ET.fromstring(pool.XMLDesc(0))
            assert back.get("type") == kind and not pool.isActive()
        finally:
            pool.undefine()
    finally:
        conn.close()
