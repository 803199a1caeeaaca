"""Leader leases in the KV bucket ``lq_leader``: one holder, renewal by revision, expiry.

Against a real nats-server (and the R3 cluster), because the lease is only as good as
JetStream's expected-sequence check and the bucket's TTL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from events.bus import Bus
from events.settings import Settings

TTL = 2.0


@pytest.fixture
async def lease_bus(nats_url: str) -> AsyncIterator[Bus]:
    b = await Bus.connect(nats_url, name="lq-test-lease")
    try:
        await b.provision(Settings(leader_ttl_s=TTL))
        yield b
    finally:
        await b.close()


async def test_one_holder_at_a_time(lease_bus: Bus) -> None:
    a = await lease_bus.acquire_lease("jobs", "a")
    assert a is not None and a.holder == "a"
    assert await lease_bus.acquire_lease("jobs", "b") is None
    assert await lease_bus.lease_holder("jobs") == "a"
    # the same holder asking again (a restart with its identity) keeps and renews it
    again = await lease_bus.acquire_lease("jobs", "a")
    assert again is not None and again.revision > a.revision
    # other lease names are independent
    assert await lease_bus.acquire_lease("other", "b") is not None


async def test_renew_by_revision_and_stale_revision_loses(lease_bus: Bus) -> None:
    a = await lease_bus.acquire_lease("jobs", "a")
    assert a is not None
    renewed = await lease_bus.renew_lease(a)
    assert renewed is not None and renewed.revision > a.revision
    assert await lease_bus.renew_lease(a) is None  # a stale revision: no longer ours


async def test_release_hands_over_at_once(lease_bus: Bus) -> None:
    a = await lease_bus.acquire_lease("jobs", "a")
    assert a is not None
    await lease_bus.release_lease(a)
    assert await lease_bus.lease_holder("jobs") is None
    b = await lease_bus.acquire_lease("jobs", "b")
    assert b is not None
    await lease_bus.release_lease(a)  # releasing a lost lease leaves the new holder alone
    assert await lease_bus.lease_holder("jobs") == "b"
    assert await lease_bus.renew_lease(a) is None


async def test_unrenewed_lease_expires_after_the_ttl(lease_bus: Bus) -> None:
    a = await lease_bus.acquire_lease("jobs", "a")
    assert a is not None
    started = time.monotonic()
    while (b := await lease_bus.acquire_lease("jobs", "b")) is None:
        assert time.monotonic() - started < TTL + 3.0, "the lease never expired"
        await asyncio.sleep(0.1)
    assert time.monotonic() - started >= TTL * 0.9
    assert b.holder == "b"
    assert await lease_bus.renew_lease(a) is None


async def test_lease_on_a_cluster(nats_cluster: list[object]) -> None:
    # every node listed: the client starts with one that answers (as production configs do)
    url = ",".join(getattr(n, "url") for n in reversed(nats_cluster))  # noqa: B009
    b = await Bus.connect(url, name="lq-test-lease")
    try:
        await b.provision(Settings(events_replicas=3, leader_ttl_s=TTL))
        a = await b.acquire_lease("jobs", "a")
        assert a is not None
        assert await b.acquire_lease("jobs", "x") is None
        renewed = await b.renew_lease(a)
        assert renewed is not None
        assert await b.renew_lease(a) is None
    finally:
        await b.close()
