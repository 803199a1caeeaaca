"""Live migration with libvirt's peer-to-peer mode (``virDomainMigrateToURI3``).

Runs in the hypervisor's worker thread (``Hypervisor.run_dom``) on the VM's source host:
the source libvirtd connects to the destination's (``to_uri``, e.g.
``qemu+tls://host-b/system``) and moves the running guest; the domain ends persistent on
the destination and undefined here. The VM's volumes must be on storage both hosts see
(shared pools) — LimiQuantix does not copy disks during a live migration.

Only the libvirt test driver's stand-in (``handoff`` in ``agent.act_migrate``) is
exercised by the test suite: peer-to-peer migration needs two real hypervisors.
"""

from __future__ import annotations

import logging
from typing import Any

import libvirt

from agent.errors import PermanentError

log = logging.getLogger(__name__)

FLAGS = (
    libvirt.VIR_MIGRATE_PEER2PEER
    | libvirt.VIR_MIGRATE_PERSIST_DEST
    | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
    | libvirt.VIR_MIGRATE_ABORT_ON_ERROR
)


def migrate_p2p(conn: Any, dom: Any, to_uri: str, live: bool) -> None:
    """Move ``dom`` to the libvirtd at ``to_uri``; raises when libvirt refuses or fails
    (libvirt then leaves the guest running here)."""
    if not to_uri:
        raise PermanentError("no destination URI for a peer-to-peer migration")
    flags = FLAGS | (libvirt.VIR_MIGRATE_LIVE if live and dom.isActive() else 0)
    if not dom.isActive():
        flags |= libvirt.VIR_MIGRATE_OFFLINE
        flags &= ~libvirt.VIR_MIGRATE_UNDEFINE_SOURCE  # undefined below, once copied
    log.info("migrating %s to %s (flags %#x)", dom.UUIDString(), to_uri, flags)
    dom.migrateToURI3(to_uri, {}, flags)
    if not (flags & libvirt.VIR_MIGRATE_UNDEFINE_SOURCE):
        dom.undefine()
