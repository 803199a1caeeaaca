"""IPAM under real contention: concurrent allocations on one network through the real
command handler, appending to a real NATS JetStream with the expected-sequence check.

Two repositories/handlers stand for two controlplane replicas; each runs 100 allocations
at once, all against the same network aggregate. Every conflict is a real
``Nats-Expected-Last-Subject-Sequence`` refusal followed by a reload and a new decision.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from controlplane import ipam
from controlplane.domain import network as nd
from controlplane.handlers import Handler
from controlplane.repository import Repository
from events import settings as settings_mod
from events.base import Meta, utcnow
from events.bus import Bus

NET = "net-concurrency"


def _meta() -> Meta:
    return Meta(actor="user:test", occurred_at=utcnow())


def _mac(i: int) -> str:
    return f"52:54:00:10:{i // 256:02x}:{i % 256:02x}"


@pytest.fixture
async def replicas(nats_url: str) -> AsyncIterator[list[Handler]]:
    settings = settings_mod.load({"nats_url": nats_url}, env={})
    buses = [await Bus.connect(nats_url, name=f"replica-{i}") for i in range(2)]
    await buses[0].provision(settings)
    repos = [Repository(b.store) for b in buses]
    for r in repos:
        await r.start()
    try:
        yield [Handler(r, b.store, retries=3) for r, b in zip(repos, buses, strict=True)]
    finally:
        for r in repos:
            await r.stop()
        for b in buses:
            await b.close()


async def test_200_concurrent_allocations_are_distinct_and_the_254th_fails(
    replicas: list[Handler],
) -> None:
    first = replicas[0]
    create = nd.Create(network_id=NET, name="big", network_type="nat", cidr="10.20.0.0/24")
    out = await first.execute(nd.KIND, NET, nd.decider(create), _meta())
    await replicas[1].repo.wait_seq(out.seq, timeout=10)

    async def one(i: int) -> str:
        h = replicas[i % 2]
        command = nd.Allocate(vm_id=f"vm-{i}", nic_id="nic0", mac=_mac(i))
        return await ipam.allocate(h, command, _meta(), NET)

    ips = await asyncio.gather(*(one(i) for i in range(200)))
    assert len(set(ips)) == 200, "an address was given twice"
    assert "10.20.0.1" not in ips  # the gateway

    # the store agrees with both caches: one allocation per NIC, every address once
    await first.repo.reload(nd.KIND, NET)
    state: nd.Network = first.repo.get(nd.KIND, NET)[0]
    assert len(state.allocations) == 200
    assert sorted(a.ip for a in state.allocations.values()) == sorted(ips)

    more = await asyncio.gather(*(one(i) for i in range(200, 253)))
    assert len(set(ips) | set(more)) == 253
    with pytest.raises(nd.AddressExhausted, match="no free address"):
        await one(253)
    # asking again for a NIC that has one answers the same address (redelivery)
    assert await one(7) == ips[7]
