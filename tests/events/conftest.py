"""Fixtures of the event-store tests: a provisioned Bus on one server or on a cluster.

The contract tests run against both backends (``store_bus`` is parametrized): a single
nats-server with an R1 event stream and a three-node loopback cluster with an R3 stream,
because the two answer retried and concurrent appends differently. The cluster is shared
by the module's tests (forming it costs seconds); each test uses fresh aggregate ids.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar, cast

import pytest

from events.base import Meta, new_id, utcnow
from events.bus import Bus
from events.codec import Envelope, wrap
from events.settings import Settings
from events.vm import VmCreated, VmStarted, VmStartRequested
from lq.embedded import NatsServer, start_nats_cluster

T = TypeVar("T")


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[NatsServer]]:
    servers = start_nats_cluster(tmp_path_factory.mktemp("cluster"))
    yield servers
    for s in servers:
        s.stop()


@pytest.fixture(params=["single", "cluster"])
async def store_bus(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Bus]:
    """A connected, provisioned Bus: R1 on one server, or R3 on the shared cluster."""
    if request.param == "single":
        url = cast(str, request.getfixturevalue("nats_url"))
        settings = Settings(events_replicas=1)
    else:
        servers = cast(list[NatsServer], request.getfixturevalue("shared_cluster"))
        url = servers[0].url
        settings = Settings(events_replicas=3)
    bus = await Bus.connect(url, name="lq-test")
    try:
        await bus.provision(settings)
        yield bus
    finally:
        await bus.close()


@pytest.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    """A connected, provisioned Bus on a fresh single server."""
    b = await Bus.connect(nats_url, name="lq-test")
    try:
        await b.provision(Settings())
        yield b
    finally:
        await b.close()


META = Meta(actor="user:test", occurred_at=utcnow(), correlation_id="task-1")


def created(vm_id: str, name: str = "web") -> list[Envelope]:
    """One decision with one event (realistic size)."""
    return wrap("vm", vm_id, [VmCreated(vm_id=vm_id, name=name, vcpus=2, memory_mib=2048)], META)


def started(vm_id: str) -> list[Envelope]:
    """One decision with two events in one message."""
    events = [VmStartRequested(vm_id=vm_id), VmStarted(vm_id=vm_id, host_id="h1")]
    return wrap("vm", vm_id, events, META)


def vm_id() -> str:
    return new_id()


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    """Poll ``check`` until true (replicas serving direct get may lag a write briefly)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def take(it: AsyncIterator[T], n: int, within: float = 10.0) -> list[T]:
    """The first ``n`` items of an async iterator, which is then closed."""
    out: list[T] = []
    try:
        async with asyncio.timeout(within):
            async for item in it:
                out.append(item)
                if len(out) >= n:
                    break
    finally:
        await aclose(it)
    return out


async def aclose(it: AsyncIterator[T]) -> None:
    with contextlib.suppress(Exception):
        await cast(AsyncGenerator[T, None], it).aclose()
