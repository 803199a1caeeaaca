"""Liveness from a followed heartbeat bucket (``events.kvwatch``), real JetStream: a host
that stops beating is marked disconnected and back when it returns, without reading the
bucket again; a nats-server restart makes the follower read it once more; a key older
than the bucket's TTL counts as missing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from controlplane.agents import AgentLink
from controlplane.domain import host as hd
from controlplane.handlers import Handler
from controlplane.repository import Repository
from events.base import Meta, utcnow
from events.bus import Bus
from events.kvwatch import KvFollower
from events.reports import HEARTBEAT_DECODER, Heartbeat
from events.settings import Settings
from events.subjects import HEARTBEAT_BUCKET
from lq.embedded import NatsServer

META = Meta(actor="test", occurred_at=utcnow())


async def _until(follower: KvFollower[Heartbeat], host_id: str, newer_than: float) -> None:
    """Wait until the follower holds a beat of ``host_id`` put after ``newer_than``."""
    async with asyncio.timeout(10):
        while True:
            beat = (await follower.values()).get(host_id)
            if beat is not None and beat.at.timestamp() > newer_than:
                return
            await asyncio.sleep(0.02)


async def test_a_silent_host_is_disconnected_and_a_returning_one_connected(
    nats_server: NatsServer,
) -> None:
    settings = Settings(heartbeat_timeout_s=1.0)
    bus = await Bus.connect(nats_server.url, name="lq-test", reconnect_forever=True)
    await bus.provision(settings)
    repo = Repository(bus.store)
    await repo.start()
    link = AgentLink(bus, Handler(repo, bus.store), settings)
    for host_id in ("a", "b"):
        enroll = hd.Enroll(
            host_id=host_id,
            name=host_id,
            uri="test:///default",
            cpus=4,
            memory_mib=4096,
            cpu_overcommit=4.0,
            memory_overcommit=1.0,
        )
        await link.handler.execute("host", host_id, hd.decider(enroll), META)

    async def beat(host_id: str) -> float:
        now = utcnow()
        await bus.put_heartbeat(Heartbeat(host_id=host_id, at=now))
        return now.timestamp() - 0.001

    def state(host_id: str) -> str:
        host = repo.host(host_id)
        assert host is not None
        return host.state

    try:
        await beat("b")  # before the follower: its first read finds it
        async with link.beats.following():
            await _until(link.beats, "b", 0)
            await _until(link.beats, "a", await beat("a"))  # a put after it: delivered live
            await link.check_liveness()
            assert (state("a"), state("b")) == ("connected", "connected")

            await asyncio.sleep(0.6)
            await _until(link.beats, "a", a_last := await beat("a"))
            await asyncio.sleep(0.6)  # b silent for 1.2 s, a for 0.6 s
            await link.check_liveness()
            assert (state("a"), state("b")) == ("connected", "disconnected")

            await _until(link.beats, "b", await beat("b"))
            await link.check_liveness()
            assert state("b") == "connected"
            assert link.beats.reads == 1  # every beat came from the one watch

            nats_server.stop()
            await asyncio.sleep(0.2)
            nats_server.restart()
            await _until(link.beats, "b", await beat("b"))  # a new watch, a second read
            assert link.beats.reads == 2
            await asyncio.sleep(max(0.0, a_last + 1.1 - utcnow().timestamp()))
            await _until(link.beats, "b", await beat("b"))
            await link.check_liveness()  # a fell silent across the restart
            assert (state("a"), state("b")) == ("disconnected", "connected")
    finally:
        await repo.stop()
        await bus.close()


async def test_a_value_older_than_the_ttl_counts_as_missing(nats_url: str) -> None:
    bus = await Bus.connect(nats_url, name="lq-test")
    await bus.provision(Settings())
    follower = KvFollower(bus, HEARTBEAT_BUCKET, HEARTBEAT_DECODER, ttl_s=0.5)
    try:
        await bus.put_heartbeat(Heartbeat(host_id="old", at=utcnow() - timedelta(seconds=9)))
        async with follower.following():
            assert set(await follower.values()) == {"old"}
            await asyncio.sleep(0.6)  # its put is now older than the TTL
            await bus.put_heartbeat(Heartbeat(host_id="new", at=utcnow()))
            await _until(follower, "new", 0)
            assert set(await follower.values()) == {"new"}
    finally:
        await bus.close()
