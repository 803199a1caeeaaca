"""The bus: provisioning, work queues (orders, reports), heartbeats, core request/reply."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import nats
import pytest
from nats.aio.msg import Msg

from events.base import new_id, utcnow
from events.bus import Bus
from events.errors import StoreUnavailable
from events.orders import DefineVm, Order, StartVm
from events.provision import MAX_HOSTS
from events.reports import Heartbeat, OrderDone, Report
from events.settings import Settings
from events.subjects import EVENTS_STREAM, HEARTBEAT_BUCKET, ORDERS_STREAM
from lq.embedded import NatsServer
from tests.events.conftest import aclose, take


async def test_provision_is_idempotent_and_updates(bus: Bus, nats_url: str) -> None:
    await bus.provision(Settings())
    await bus.provision(Settings(dedup_window_s=300, heartbeat_timeout_s=5))
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        cfg = (await js.stream_info(EVENTS_STREAM)).config
        assert cfg.duplicate_window == 300
        assert cfg.deny_delete and cfg.deny_purge and cfg.allow_direct
        assert not cfg.max_age
        hb = (await js.stream_info(f"KV_{HEARTBEAT_BUCKET}")).config
        assert hb.max_age == 15
        # room for every host's order consumer (the server's default would be 1,000)
        orders = (await js.stream_info(ORDERS_STREAM)).config
        assert orders.max_consumers == MAX_HOSTS
    finally:
        await nc.close()


async def test_provision_on_a_fresh_cluster(nats_cluster: list[object]) -> None:
    url = getattr(nats_cluster[1], "url")  # noqa: B009
    b = await Bus.connect(url, name="lq-test")
    try:
        await b.provision(Settings(events_replicas=3))
        await b.provision(Settings(events_replicas=3))
        assert b.connected
    finally:
        await b.close()
    assert not b.connected


def _order(host: str, body: DefineVm | StartVm) -> Order:
    return Order(order_id=new_id(), host_id=host, task_id="t1", issued_at=utcnow(), body=body)


async def test_orders_round_trip_with_redelivery_on_nak(bus: Bus) -> None:
    first = _order("h1", DefineVm(vm_id="v1", name="web", vcpus=1, memory_mib=512))
    await bus.send_order(first)
    await bus.send_order(first)  # same order id: deduplicated
    await bus.send_order(_order("h2", StartVm(vm_id="v2")))
    it = bus.orders("h1")
    try:
        d = await anext(it)
        assert d.value == first
        assert d.num_delivered == 1
        await d.nak()
        d = await anext(it)
        assert d.value == first
        assert d.num_delivered == 2
        await d.in_progress()
        await d.ack()
        second = _order("h1", StartVm(vm_id="v1"))
        await bus.send_order(second)
        d = await anext(it)
        assert d.value == second
        await d.ack()
    finally:
        await aclose(it)
    [other] = await take(bus.orders("h2"), 1)
    assert isinstance(other.value.body, StartVm)
    await other.ack()


async def test_an_idle_host_holds_one_long_pull_and_still_gets_orders_at_once(
    bus: Bus, nats_server: NatsServer
) -> None:
    pulls: list[Msg] = []

    async def pulled(msg: Msg) -> None:
        pulls.append(msg)

    watcher = await nats.connect(nats_server.url)
    await watcher.subscribe(f"$JS.API.CONSUMER.MSG.NEXT.{ORDERS_STREAM}.agent-h3", cb=pulled)
    it = bus.orders("h3")  # the default wait: one pull request lingers 30 s
    try:
        pending = asyncio.ensure_future(anext(it))
        await asyncio.sleep(2.5)
        await watcher.flush()
        assert len(pulls) == 1  # renewed every second before
        sent = _order("h3", StartVm(vm_id="v3"))
        t0 = time.monotonic()
        await bus.send_order(sent)
        d = await asyncio.wait_for(pending, 5)
        assert d.value == sent and time.monotonic() - t0 < 1.0
        await d.ack()
        await watcher.close()

        nats_server.stop()  # the server forgets the lingering request: it is renewed
        pending = asyncio.ensure_future(anext(it))
        await asyncio.sleep(0.2)
        nats_server.restart()
        again = _order("h3", StartVm(vm_id="v4"))
        async with asyncio.timeout(20):
            while True:
                try:
                    await bus.send_order(again)
                    break
                except StoreUnavailable:
                    await asyncio.sleep(0.2)
        t0 = time.monotonic()
        d = await asyncio.wait_for(pending, 10)  # not after the lost request's 30 s
        assert d.value == again and time.monotonic() - t0 < 8
        await d.ack()
    finally:
        await aclose(it)
        if not watcher.is_closed:
            await watcher.close()


async def test_reports_shared_consumer_and_term(bus: Bus) -> None:
    done = OrderDone(order_id="o1", vm_id="v1", operation="start", state="running")
    rep = Report(report_id=new_id(), host_id="h1", sent_at=utcnow(), body=done)
    await bus.send_report(rep)
    await bus.send_report(Report(report_id=new_id(), host_id="h2", sent_at=utcnow(), body=done))
    got = await take(bus.reports(), 2)
    assert {d.value.host_id for d in got} == {"h1", "h2"}
    await got[0].term()
    await got[1].ack()


async def test_heartbeats(bus: Bus) -> None:
    assert await bus.heartbeats() == {}
    now = utcnow()
    await bus.put_heartbeat(Heartbeat(host_id="h1", at=now, domains=3))
    await bus.put_heartbeat(Heartbeat(host_id="h2", at=now - timedelta(seconds=1)))
    await bus.put_heartbeat(Heartbeat(host_id="h1", at=now, domains=4))
    beats = await bus.heartbeats()
    assert set(beats) == {"h1", "h2"}
    assert beats["h1"].domains == 4


async def test_request_serve_publish_subscribe(bus: Bus) -> None:
    async def echo(data: bytes) -> bytes:
        if data == b"boom":
            raise RuntimeError("handler failure is logged, not raised into nats")
        return data.upper()

    srv = await bus.serve("lq.test.echo", echo, queue="q")
    got: asyncio.Queue[bytes] = asyncio.Queue()

    async def on_msg(data: bytes) -> None:
        await got.put(data)

    sub = await bus.subscribe("lq.test.news", on_msg)
    try:
        assert await bus.request("lq.test.echo", b"hi") == b"HI"
        with pytest.raises(StoreUnavailable):
            await bus.request("lq.test.echo", b"boom", timeout=0.3)
        with pytest.raises(StoreUnavailable):
            await bus.request("lq.test.nobody", b"x", timeout=0.3)
        await bus.publish("lq.test.news", b"n1")
        assert await asyncio.wait_for(got.get(), 2) == b"n1"
    finally:
        await srv.unsubscribe()
        await sub.unsubscribe()
