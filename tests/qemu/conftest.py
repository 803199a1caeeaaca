"""Fixtures of the real-hypervisor tier: libvirtd + QEMU (TCG) and the tiny guest.

Every test under ``tests/qemu`` is marked ``qemu``. The tier runs in the default suite
where it can (root, the binaries of ``daemons.PACKAGES`` installed) and is skipped with the
reason otherwise; ``-m "not qemu"`` leaves it out on purpose.

- ``qemu_uri`` (session, from ``tests/conftest.py`` so that a ``qemu``-marked test
  anywhere gets it): ``qemu:///system`` answering, libvirtd/virtlogd started when they
  were not running (``tests.qemu.daemons``), or the test skipped with the reason.
- ``tiny_guest`` (session): the kernel + initramfs of ``tests.qemu.guest``, cached.
- ``janitor``: a libvirt connection and a record of what a test made; every domain and
  volume recorded is destroyed, undefined and deleted afterwards, whatever happened.
- ``qemu_stack``: a whole LimiQuantix stack (``make_stack``) plus one agent on
  ``qemu:///system`` with ``agent_domain_type = "qemu"``.

Isolation between concurrent sessions: every name a test makes is unique (domains are
``lq-<name>-<vm_id prefix>`` with a random name, volumes ``<vm_id>-*``), and the agent's
storage pool ``lq-default`` (one per libvirtd, shared by every agent of the host) is kept
in a directory no test removes (``tests.qemu.pool``, made sure of once per session).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libvirt
import pytest

from agent.hv_storage import DEFAULT_POOL_NAME
from agent.service import Agent
from events import settings as settings_mod
from tests.integration.conftest import Stack, _plain, make_stack
from tests.qemu import daemons, guest
from tests.qemu.pool import pool_files

__all__ = ["make_stack"]  # the integration stack fixture, reused here

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.qemu)


@pytest.fixture(scope="session")
def tiny_guest(qemu_uri: str) -> guest.Guest:
    return guest.build()


@dataclass
class Janitor:
    """A connection to ``qemu:///system`` that removes what a test made."""

    conn: Any
    domains: list[str] = field(default_factory=list)  # names or UUIDs
    files: list[Path] = field(default_factory=list)
    vm_ids: list[str] = field(default_factory=list)  # the pool's <vm_id>-* volumes too

    def domain(self, name_or_uuid: str) -> Any | None:
        try:
            return self.conn.lookupByUUIDString(str(uuid.UUID(name_or_uuid)))
        except ValueError:
            pass
        except libvirt.libvirtError:
            return None
        try:
            return self.conn.lookupByName(name_or_uuid)
        except libvirt.libvirtError:
            return None

    def clean(self) -> None:
        for ident in [*self.domains, *self.vm_ids]:
            dom = self.domain(ident)
            if dom is None:
                continue
            with contextlib.suppress(libvirt.libvirtError):
                dom.destroy()
            with contextlib.suppress(libvirt.libvirtError):
                dom.undefineFlags(
                    libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                    | libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                    | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
                )
        for vm_id in self.vm_ids:
            self.files += pool_files(self.conn, vm_id)
        for path in self.files:
            path.unlink(missing_ok=True)
        with contextlib.suppress(libvirt.libvirtError):
            pool = self.conn.storagePoolLookupByName(DEFAULT_POOL_NAME)
            pool.refresh(0)


@pytest.fixture
def janitor(qemu_uri: str) -> Iterator[Janitor]:
    libvirt.registerErrorHandler(daemons.quiet, None)
    conn = libvirt.open(qemu_uri)
    jan = Janitor(conn)
    try:
        yield jan
    finally:
        try:
            jan.clean()
        finally:
            conn.close()


QemuStackFactory = Callable[..., Awaitable[Stack]]


@pytest.fixture
async def qemu_stack(
    make_stack: Callable[..., Awaitable[Stack]], janitor: Janitor, qemu_uri: str
) -> AsyncIterator[QemuStackFactory]:
    """``await qemu_stack()``: a stack with one agent on ``qemu:///system`` (TCG). The
    agent's host name is unique, so concurrent sessions' agents never share a state."""

    async def make(**overrides: Any) -> Stack:
        stack = await make_stack(**{"order_timeout_s": 120.0, **overrides})
        name = f"qemu-{uuid.uuid4().hex[:8]}"
        agent_settings = settings_mod.load(
            {**_plain(stack.settings), "agent_name": name, "agent_domain_type": "qemu"},
            env={},
        )
        agent = Agent(agent_settings, hypervisor_uri=qemu_uri)
        stop = asyncio.Event()
        stack.agents[name] = agent
        stack.agent_stops[name] = stop
        stack.tasks.append(asyncio.create_task(agent.run(stop), name=f"agent-{name}"))
        await asyncio.wait_for(agent.ready.wait(), 60)
        await stack.wait_hosts(1)
        return stack

    yield make
