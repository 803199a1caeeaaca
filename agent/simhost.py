"""Simulated hypervisor hosts on libvirt's test driver, each with its own capacity.

``test:///default`` gives every connection in a process the same fake host (same CPUs,
same memory, same domains). A custom node file (``test:///abs/path/host.xml``) gives a
connection a private host with the CPU count and memory written in it, so the embedded
stack (``lq up``) and the tests can run several distinct simulated hosts side by side.

The test driver keeps domains only in memory, but it also loads ``<domain>`` elements
written inside the node file (their power state in a ``<test:runstate>`` element). A real
host keeps its persistent domain definitions across restarts, so the agent of a simulated
host saves its managed domains into its node file (``save_domains``), and rewriting the
node file's capacity keeps them: a restarted ``lq up`` finds every host as it was left.

Pure: reads and writes one small XML file, touches no libvirt.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from agent import domxml

# libvirt's test-driver namespace for per-domain extras in a node file (runstate, transient)
TEST_NS = "http://libvirt.org/schemas/domain/test/1.0"
_RUNSTATE = f"{{{TEST_NS}}}runstate"
_SNAPSHOT = f"{{{TEST_NS}}}domainsnapshot"
_TEST_DEFAULT = "/default"  # test:///default: the driver's built-in host, no node file

ET.register_namespace("test", TEST_NS)
ET.register_namespace(domxml.LQ_PREFIX, domxml.LQ_NS)


class SavedSnapshot(NamedTuple):
    """One snapshot of a domain as a node file keeps it (``<test:domainsnapshot>``)."""

    xml: str  # libvirt's <domainsnapshot> description
    current: bool = False


class SavedDomain(NamedTuple):
    """One domain as a node file keeps it."""

    xml: str  # the persistent (inactive) definition, metadata included
    state: int  # libvirt's virDomainState number: 1 running, 3 paused, 5 shutoff, ...
    snapshots: tuple[SavedSnapshot, ...] = ()  # parents before children


class SavedPool(NamedTuple):
    """One storage pool and its volumes as a node file keeps it."""

    xml: str
    volumes: tuple[str, ...] = ()


def node_xml(name: str, cpus: int, memory_mib: int) -> str:
    """The test driver's node description: one socket with ``cpus`` cores."""
    if cpus < 1 or memory_mib < 1:
        raise ValueError(f"a host needs at least one CPU and 1 MiB (got {cpus}, {memory_mib})")
    node = ET.Element("node")
    node.append(ET.Comment(f" LimiQuantix simulated host {name} "))
    cpu = ET.SubElement(node, "cpu")
    for tag, value in (
        ("mhz", "2400"),
        ("model", "LimiQuantix simulated CPU"),
        ("nodes", "1"),
        ("sockets", "1"),
        ("cores", str(cpus)),
        ("threads", "1"),
    ):
        ET.SubElement(cpu, tag).text = value
    ET.SubElement(node, "memory").text = str(memory_mib * 1024)  # KiB
    return ET.tostring(node, encoding="unicode")


def write_node(path: str | Path, *, cpus: int, memory_mib: int, name: str | None = None) -> str:
    """Write a node file at ``path`` (atomically) and return its ``test:///...`` URI.

    The domains of an existing node file are kept: ``lq up`` writes its hosts' node files
    on every start, and changing a host's capacity must not wipe the VMs on it.
    """
    target = Path(path).expanduser().resolve()
    node = ET.fromstring(node_xml(name or target.stem, cpus, memory_mib), _keep_comments())
    node.extend(_kept_domains(target))
    _write(target, node)
    return node_uri(target)


def save_domains(
    path: str | Path, domains: Iterable[SavedDomain], pools: Iterable[SavedPool] | None = None
) -> None:
    """Replace the ``<domain>`` elements of the node file at ``path`` with ``domains``,
    atomically, keeping everything else (CPUs, memory, comments) as it is.

    Each domain gets ``<test:runstate>`` with its state, so the test driver brings it back
    running, paused or shut off, and persistent, as a real host would after a restart, and
    its snapshots as ``<test:domainsnapshot>`` elements (the test driver reads them back,
    the current one marked ``<active>1</active>``). ``pools`` (when given) replace the
    node file's ``<pool>`` elements, volumes included.
    """
    target = Path(path)
    node = _read_node(target)
    for old in node.findall("domain"):
        node.remove(old)
    if pools is not None:
        for old_pool in node.findall("pool"):
            node.remove(old_pool)
        for pool in pools:
            node.append(_pool_element(pool))
    for saved in domains:
        domain = ET.fromstring(saved.xml)
        if domain.tag != "domain":
            raise ValueError(f"not a domain definition: <{domain.tag}>")
        for old_extra in domain.findall(_RUNSTATE) + domain.findall(_SNAPSHOT):
            domain.remove(old_extra)
        ET.SubElement(domain, _RUNSTATE).text = str(int(saved.state))
        for snap in saved.snapshots:
            domain.append(_snapshot_element(snap))
        node.append(domain)
    _write(target, node)


def _snapshot_element(snap: SavedSnapshot) -> ET.Element:
    parsed = ET.fromstring(snap.xml)
    el = ET.Element(_SNAPSHOT)
    for child in parsed:
        if child.tag != "active":
            el.append(child)
    ET.SubElement(el, "active").text = "1" if snap.current else "0"
    return el


def _pool_element(pool: SavedPool) -> ET.Element:
    el = ET.fromstring(pool.xml)
    for old in el.findall("volume"):
        el.remove(old)
    for vol in pool.volumes:
        el.append(ET.fromstring(vol))
    return el


def saved_pools(path: str | Path) -> list[SavedPool]:
    """The pools (and their volume descriptions) a node file holds."""
    out: list[SavedPool] = []
    for pool in _read_node(Path(path)).findall("pool"):
        volumes = tuple(ET.tostring(v, encoding="unicode") for v in pool.findall("volume"))
        for vol in pool.findall("volume"):
            pool.remove(vol)
        out.append(SavedPool(ET.tostring(pool, encoding="unicode"), volumes))
    return out


def saved_domains(path: str | Path) -> list[SavedDomain]:
    """The domains a node file holds (their XML without the runstate element); a domain
    without a runstate is one the test driver starts running."""
    out: list[SavedDomain] = []
    for domain in _read_node(Path(path)).findall("domain"):
        runstate = domain.find(_RUNSTATE)
        state = int(runstate.text or 1) if runstate is not None else 1
        if runstate is not None:
            domain.remove(runstate)
        snapshots = []
        for snap in domain.findall(_SNAPSHOT):
            domain.remove(snap)
            current = snap.findtext("active") == "1"
            snap.tag = "domainsnapshot"
            for active in snap.findall("active"):
                snap.remove(active)
            snapshots.append(SavedSnapshot(ET.tostring(snap, encoding="unicode"), current))
        domain.tail = None
        out.append(SavedDomain(ET.tostring(domain, encoding="unicode"), state, tuple(snapshots)))
    return out


def node_file_of(uri: str) -> Path | None:
    """The node file a ``test:///abs/path.xml`` URI opens; ``None`` for every other URI
    (``test:///default``, ``qemu:///system``, remote ones): only a node file can keep a
    simulated host's domains."""
    parts = urlsplit(uri)
    path = unquote(parts.path)
    if parts.scheme != "test" or parts.netloc or not path.startswith("/"):
        return None
    if path == _TEST_DEFAULT:
        return None
    return Path(path)


def write_node_file(directory: str | Path, name: str, cpus: int, memory_mib: int) -> str:
    """Write ``<directory>/<name>.xml`` and return its ``test:///...`` URI."""
    path = Path(directory) / f"{_safe(name)}.xml"
    return write_node(path, cpus=cpus, memory_mib=memory_mib, name=name)


def node_uri(path: str | Path) -> str:
    """The test driver URI of a node file (the path must be absolute)."""
    return "test://" + str(Path(path).resolve())


def _kept_domains(target: Path) -> list[ET.Element]:
    """The storage pools and domains of an existing node file. One that cannot be read
    is moved aside to ``<name>.xml.unreadable`` rather than overwritten, so nothing is
    lost silently."""
    if not target.is_file():
        return []
    try:
        node = _read_node(target)
        return node.findall("pool") + node.findall("domain")
    except (ET.ParseError, ValueError):
        os.replace(target, target.with_name(target.name + ".unreadable"))
        return []


def _read_node(path: Path) -> ET.Element:
    """The node file's root, comments included (they name the host for a human reader)."""
    root = ET.parse(path, _keep_comments()).getroot()
    if root.tag != "node":
        raise ValueError(f"{path} is not a test-driver node file (root <{root.tag}>)")
    return root


def _keep_comments() -> ET.XMLParser:
    return ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))


def _write(target: Path, node: ET.Element) -> None:
    """Write atomically (temp file, fsync, rename): a crash leaves the old or the new file,
    never half of one, so a simulated host never loses its domains to a torn write."""
    target.parent.mkdir(parents=True, exist_ok=True)
    ET.indent(node)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".node-", suffix=".xml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(ET.tostring(node, encoding="unicode") + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _safe(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip(".")
    if not cleaned:
        raise ValueError(f"unusable host name {name!r}")
    return cleaned
