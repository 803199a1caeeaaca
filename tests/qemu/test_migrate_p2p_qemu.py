"""The peer-to-peer migration call (``agent.hv_migrate``) against a real libvirtd.

One machine has one libvirtd, so a guest cannot really move here. What this proves: the
call reaches libvirtd with LimiQuantix's flags (``PEER2PEER | LIVE | PERSIST_DEST |
UNDEFINE_SOURCE | ABORT_ON_ERROR``), libvirt's source side connects to the destination
URI and refuses a destination that is the same host, and after that refusal the guest is
still running and still defined on its source — the state the migration process manager
rolls back to (docs/clusters.md "What is proven here and what is not").
"""

from __future__ import annotations

import uuid

import libvirt
import pytest

from agent import hv_migrate
from tests.qemu import guest
from tests.qemu.conftest import Janitor
from tests.qemu.test_guest_boot import domain_xml

pytestmark = pytest.mark.qemu


def test_p2p_migration_reaches_libvirtd_and_a_refusal_leaves_the_guest_running(
    janitor: Janitor, tiny_guest: guest.Guest, qemu_uri: str
) -> None:
    name = f"lqtest-p2p-{uuid.uuid4().hex[:8]}"
    janitor.domains.append(name)
    dom = janitor.conn.defineXML(domain_xml(name, tiny_guest))
    dom.create()
    with pytest.raises(libvirt.libvirtError) as refused:
        hv_migrate.migrate_p2p(janitor.conn, dom, qemu_uri, live=True)
    assert "same host" in str(refused.value), refused.value
    assert dom.isActive() and dom.isPersistent()
    assert janitor.conn.lookupByName(name).UUIDString() == dom.UUIDString()
