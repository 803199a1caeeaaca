"""Simulated hypervisor hosts on libvirt's test driver, each with its own capacity.

``test:///default`` gives every connection in a process the same fake host (same CPUs,
same memory, same domains). A custom node file (``test:///abs/path/host.xml``) gives a
connection a private host with the CPU count and memory written in it, so the embedded
stack (``lq up``) and the tests can run several distinct simulated hosts side by side.
Pure: writes one small XML file, touches no libvirt.
"""

from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path


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
    """Write a node file at ``path`` (atomically) and return its ``test:///...`` URI."""
    target = Path(path).expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".node-", suffix=".xml")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(node_xml(name or target.stem, cpus, memory_mib))
    os.replace(tmp, target)
    return node_uri(target)


def write_node_file(directory: str | Path, name: str, cpus: int, memory_mib: int) -> str:
    """Write ``<directory>/<name>.xml`` and return its ``test:///...`` URI."""
    path = Path(directory) / f"{_safe(name)}.xml"
    return write_node(path, cpus=cpus, memory_mib=memory_mib, name=name)


def node_uri(path: str | Path) -> str:
    """The test driver URI of a node file (the path must be absolute)."""
    return "test://" + str(Path(path).resolve())


def _safe(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip(".")
    if not cleaned:
        raise ValueError(f"unusable host name {name!r}")
    return cleaned
