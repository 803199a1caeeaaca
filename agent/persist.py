"""A simulated host's disk: its managed domains saved into its test-driver node file.

libvirt's test driver keeps domains only in memory, so without this every simulated host
of ``lq up`` would come back empty after a restart and the controlplane would (rightly)
mark all its VMs as missing. A real host keeps its persistent domain definitions across
restarts; a simulated one does the same by saving them into the node file it is opened
from (``agent.simhost.save_domains``), which the test driver loads again on the next open.

Besides domain definitions and run states, a save keeps each domain's snapshot tree (the
test driver reads ``<test:domainsnapshot>`` back, the current one marked) and the agent's
storage pool with its volume descriptions. What a restart loses: simulated volumes hold
no data (the test driver never wrote any), a snapshot holds no memory image, and a
domain that was running comes back running from a fresh "boot".

The agent saves after every executed order, after every lifecycle event of a managed
domain, and on a clean shutdown. A save reads the definitions in the hypervisor's worker
thread and writes the file in another thread, so the event loop never waits on disk. Saves
asked for while one is already waiting to start share that one: it reads the domains after
every change its callers made, so a burst of orders on a busy host costs two saves, not one
per order (each save reads every domain and rewrites the whole file). Only
``test:///<absolute path>`` URIs have a node file; every other hypervisor keeps its own
domains and gets no keeper.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

from agent import simhost
from agent.errors import AgentError
from agent.hypervisor import Hypervisor

log = logging.getLogger(__name__)


class NodeFileKeeper:
    """Saves the managed domains of one simulated host into its node file."""

    def __init__(self, hypervisor: Hypervisor, path: Path) -> None:
        self.hypervisor = hypervisor
        self.path = path
        self._snapshots = asyncio.Lock()  # snapshots are numbered in the order taken
        self._taken = 0
        self._file_lock = threading.Lock()
        self._written = 0
        self._waiting: asyncio.Future[None] | None = None  # a save not yet reading

    @classmethod
    def for_hypervisor(cls, hypervisor: Hypervisor) -> NodeFileKeeper | None:
        """A keeper when ``hypervisor`` is a simulated host with a node file, else ``None``."""
        path = simhost.node_file_of(hypervisor.uri)
        return None if path is None else cls(hypervisor, path)

    async def save(self) -> None:
        """Write the host's current managed domains and states into the node file.

        Best effort: a failure is logged, never raised, because not being able to save
        must not stop the agent from serving orders (the next save tries again).
        """
        waiting = self._waiting
        if waiting is not None:  # it has not read yet: it will see this caller's change
            await asyncio.shield(waiting)
            return
        done = self._waiting = asyncio.get_running_loop().create_future()
        try:
            await self._save()
        finally:
            if self._waiting is done:  # cancelled before it started reading
                self._waiting = None
            if not done.done():
                done.set_result(None)

    async def _save(self) -> None:
        try:
            async with self._snapshots:
                self._waiting = None  # a change from here on needs a save of its own
                domains = await self.hypervisor.managed_definitions()
                pools = await self.hypervisor.managed_pools()
                self._taken += 1
                number = self._taken
            await asyncio.to_thread(self._write, number, domains, pools)
        except (AgentError, OSError, ValueError) as exc:
            log.warning("cannot save the domains of %s: %s", self.path, exc)

    def _write(
        self, number: int, domains: list[simhost.SavedDomain], pools: list[simhost.SavedPool]
    ) -> None:
        """Write snapshot ``number`` unless a newer one is already on disk.

        A cancelled save leaves its writer thread running; numbering the snapshots keeps
        that late writer from overwriting a newer state (the one saved on shutdown).
        """
        with self._file_lock:
            if number <= self._written:
                return
            simhost.save_domains(self.path, domains, pools or None)
            self._written = number
        log.debug("saved %d domains into %s", len(domains), self.path)
