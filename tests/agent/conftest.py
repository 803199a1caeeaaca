"""Fixtures for the agent tests: a private simulated host per test on libvirt's test driver.

Each test gets its own node file, so its hypervisor connection sees a fresh host with its
own capacity and no domains left over from other tests.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent import simhost
from agent.hypervisor import Hypervisor, Lifecycle

HOST_CPUS = 4
HOST_MEMORY_MIB = 8192


@pytest.fixture
def host_uri(tmp_path: Path) -> str:
    return simhost.write_node_file(tmp_path / "nodes", "host-a", HOST_CPUS, HOST_MEMORY_MIB)


@pytest.fixture
async def hypervisor(host_uri: str) -> AsyncIterator[Hypervisor]:
    hv = await Hypervisor.open(host_uri)
    yield hv
    await hv.close()


def new_vm_id() -> str:
    return str(uuid.uuid4())


async def next_event(hv: Hypervisor, timeout: float = 5.0) -> Lifecycle:
    return await asyncio.wait_for(hv.events.get(), timeout)


async def drain_events(hv: Hypervisor, quiet: float = 0.2) -> list[Lifecycle]:
    """Every event that arrives until none came for ``quiet`` seconds."""
    out: list[Lifecycle] = []
    while True:
        try:
            out.append(await asyncio.wait_for(hv.events.get(), quiet))
        except TimeoutError:
            return out
