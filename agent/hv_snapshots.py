"""Snapshots of a domain: take, revert, delete, each idempotent by name.

Runs in the hypervisor's worker thread (``Hypervisor.run``). A snapshot's libvirt name is
its LimiQuantix ``snapshot_id``, so a repeated order finds the one it took. What libvirt
takes depends on the VM's state and the hypervisor (docs/agent.md):

- running VM: a full system checkpoint (disks + RAM + device state, qcow2-internal on
  QEMU). libvirt 9's QEMU driver can take a running VM's disks without its memory only as
  external overlays it cannot revert, so ``memory=False`` on a running VM also gets the
  checkpoint, and the answer says so.
- stopped VM: a disk snapshot (qcow2-internal), ``memory`` has nothing to save.
- ``quiesce`` asks the guest agent to freeze filesystems first; when the hypervisor or
  guest cannot, the snapshot is taken anyway and the note says it is crash-consistent.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from typing import Any

import libvirt

from agent import simhost
from agent.errors import PermanentError

log = logging.getLogger(__name__)
QUIESCE_NOTE = "quiesce not supported: crash-consistent"


def find(dom: Any, snapshot_id: str) -> Any | None:
    try:
        return dom.snapshotLookupByName(snapshot_id, 0)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT:
            return None
        raise


def _xml(snapshot_id: str, description: str) -> str:
    el = ET.Element("domainsnapshot")
    ET.SubElement(el, "name").text = snapshot_id
    if description:
        ET.SubElement(el, "description").text = description
    return ET.tostring(el, encoding="unicode")


def create(dom: Any, snapshot_id: str, description: str, memory: bool, quiesce: bool) -> str:
    """Take the snapshot unless it exists; returns the note for the answer."""
    if find(dom, snapshot_id) is not None:
        return "snapshot already taken"
    notes: list[str] = []
    running = bool(dom.isActive())
    if running and not memory:
        notes.append("running VM: memory state included (disk-only would not be revertible)")
    if not running and memory:
        notes.append("VM was stopped: disks only")
    xml = _xml(snapshot_id, description)
    flags = libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC
    if quiesce:
        try:
            dom.snapshotCreateXML(xml, flags | libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE)
            return "; ".join(notes)
        except libvirt.libvirtError as exc:
            log.info("quiesced snapshot refused, taking a crash-consistent one: %s", exc)
            notes.append(QUIESCE_NOTE)
    try:
        dom.snapshotCreateXML(xml, flags)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() not in (libvirt.VIR_ERR_INVALID_ARG, libvirt.VIR_ERR_NO_SUPPORT):
            raise
        dom.snapshotCreateXML(xml, 0)  # drivers without the ATOMIC flag
    log.info("took snapshot %s of %s", snapshot_id, dom.name())
    return "; ".join(notes)


def revert(dom: Any, snapshot_id: str) -> None:
    snap = find(dom, snapshot_id)
    if snap is None:
        raise PermanentError(f"no snapshot {snapshot_id} of this VM")
    dom.revertToSnapshot(snap, 0)
    log.info("reverted %s to snapshot %s", dom.name(), snapshot_id)


def delete(dom: Any, snapshot_id: str) -> bool:
    """Delete the snapshot (its children move to its parent); ``False`` when missing."""
    snap = find(dom, snapshot_id)
    if snap is None:
        return False
    snap.delete(0)
    log.info("deleted snapshot %s of %s", snapshot_id, dom.name())
    return True


def saved_tree(dom: Any) -> tuple[simhost.SavedSnapshot, ...]:
    """The snapshots of ``dom`` as a simulated host's node file keeps them."""
    try:
        current = dom.snapshotCurrent(0).getName() if dom.hasCurrentSnapshot(0) else ""
        return tuple(
            simhost.SavedSnapshot(xml, ET.fromstring(xml).findtext("name") == current)
            for xml in saved(dom)
        )
    except libvirt.libvirtError as exc:
        log.warning("cannot read the snapshots of %s: %s", dom.name(), exc)
        return ()


def saved(dom: Any) -> list[str]:
    """Every snapshot's XML, parents first (what a simulated host keeps in its node file)."""
    out: list[str] = []
    pending = list(dom.listAllSnapshots(0))
    done: set[str] = set()
    while pending:
        progressed = False
        for snap in list(pending):
            try:
                parent = snap.getParent(0).getName()
            except libvirt.libvirtError:
                parent = None
            if parent is None or parent in done:
                out.append(snap.getXMLDesc(libvirt.VIR_DOMAIN_SNAPSHOT_XML_SECURE))
                done.add(snap.getName())
                pending.remove(snap)
                progressed = True
        if not progressed:
            out.extend(s.getXMLDesc(0) for s in pending)
            break
    return out
