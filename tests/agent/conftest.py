"""Fixtures for the agent tests: a private simulated host per test on libvirt's test driver.

Each test gets its own node file, so its hypervisor connection sees a fresh host with its
own capacity and no domains left over from other tests.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent import simhost
from agent.hypervisor import Hypervisor, Lifecycle
from agent.orders import OrderExecutor, OrderJournal, Outcome
from events.base import new_id, utcnow
from events.orders import AnyOrder, Order
from events.reports import OrderDone, OrderFailed

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


def order(body: AnyOrder, **kw: object) -> Order:
    """An order for the test host, with a fresh order id."""
    return Order(
        order_id=new_id(),
        host_id="host-a",
        task_id=new_id(),
        issued_at=utcnow(),
        body=body,
        **kw,  # type: ignore[arg-type]
    )


def done(outcome: Outcome) -> OrderDone:
    assert isinstance(outcome.body, OrderDone), outcome.body
    return outcome.body


def failed(outcome: Outcome) -> OrderFailed:
    assert isinstance(outcome.body, OrderFailed), outcome.body
    return outcome.body


@pytest.fixture
def executor(hypervisor: Hypervisor, tmp_path: Path) -> OrderExecutor:
    return OrderExecutor(hypervisor, OrderJournal(tmp_path / "orders.json"))


async def volumes(hv: Hypervisor) -> list[str]:
    """Names of the volumes in the agent's pool ``lq-default`` ([] when it has none)."""

    def names(conn: Any) -> list[str]:
        try:
            pool = conn.storagePoolLookupByName("lq-default")
        except Exception:
            return []
        return sorted(v.name() for v in pool.listAllVolumes(0))

    return await hv.run(names)
