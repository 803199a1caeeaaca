"""Load generator: a swarm of simulated hosts speaking the real agent protocol over NATS.

A benchmark tool (like OpenStack's fake virt driver or CloudStack's simulator), not a
test double: the correctness suite never uses it. Each simulated host does what a real
agent (``agent.service``) does on the wire, with the same message types and subjects:

- enrols by request/reply on ``lq.enroll`` (``EnrollRequest`` → ``EnrollReply``);
- reports an ``Inventory`` of its domains (empty at first);
- consumes its orders from its own durable pull consumer ``agent-<host_id>``
  (``Bus.orders``), executes them on an in-memory hypervisor, answers ``OrderDone`` /
  ``OrderFailed`` on ``lq.host.<id>.report`` and acks after the report, as the agent does;
  answers are remembered by order id (``agent.orders.OrderJournal``, in memory), so a
  redelivered order is answered again with the same report id;
- writes its heartbeat to the ``lq_heartbeat`` bucket every ``--heartbeat-s`` (or as
  often as its enrolment reply says, ``EnrollReply.heartbeat_interval_s``), and renews
  its HA lease in ``lq_host_lease`` with it (``agent.fencing``; the agent's read of its
  ``lq_ha_protection`` key before each renewal is not simulated: no VM is HA-protected);
- publishes a ``MetricsSample`` (host + running VMs) every ``--metrics-s``.

The swarm runs on the machine it measures, so what it costs per host is kept small: one
timer for all hosts' heartbeats and one for their samples, each tick writing the hosts
due in it as one batch per connection (``Bus.put_heartbeats`` /
``Bus.publish_metrics_many``: plain publishes into the bucket's and the metrics stream,
no answer awaited), not a task and an acknowledged request per host and beat; a tick
never waits on the server, so a busy server cannot stretch the hosts' intervals. Each
host's order consumer is created within its enrolment (at most 64 at once) and the order
loops start ~1,000 a second: thousands of consumer creations at once time out on a busy
server and come back every second as a storm. The server stores
the same messages; what is not exercised is the agent's wait for each stored answer.

What it does not reuse: ``agent.service.Agent`` itself. The real agent drives libvirt
through ``Hypervisor.run(<libvirt function>)`` closures (storage, devices, consoles,
networks, fencing), so an in-memory stand-in would have to fake libvirt's object model;
and each ``Agent`` opens its own NATS connection plus nine loops. Here all hosts of a
process share ``--connections`` NATS connections (default one), which is what lets one
process carry thousands of hosts. The trade-off: the server sees a few fat clients
instead of one connection per host, so per-connection costs (TLS, nkey authentication,
per-host NATS users, slow-consumer isolation) are not exercised; the stack must run with
``LQ_NATS_AUTH=off`` because one connection cannot hold several host identities. What
stays per host is what dominates at scale: one durable consumer and one pull loop per
host, one heartbeat key, one report subject, one metrics subject.

The hypervisor answers instantly (``--op-ms`` adds a fixed delay per order): the swarm
measures the control plane, not a hypervisor.

    .venv/bin/python bench/swarm.py --nats nats://127.0.0.1:4222 --hosts 200
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import msgspec

from agent.orders import OrderJournal, Outcome, operation
from events import orders as o
from events import subjects
from events.base import new_id, utcnow
from events.bus import Bus, Delivery
from events.codec import encode
from events.errors import LqError
from events.ha import HostLease
from events.metrics import HostSample, MetricsSample, VmSample
from events.orders import Order
from events.reports import (
    ENROLL_REPLY_DECODER,
    AnyReport,
    EnrollRequest,
    Heartbeat,
    Inventory,
    OrderDone,
    OrderFailed,
    Report,
)
from events.streaming import LONG_PULL
from events.vm import VmState

log = logging.getLogger("bench.swarm")
TICK_S = 0.1  # the heartbeat and metrics timers' step
ORDER_LOOPS_PER_STEP = 50  # order loops started per 50 ms once all hosts are enrolled


@dataclass
class Domain:
    name: str
    vcpus: int
    memory_mib: int
    state: VmState = "stopped"


class FakeHypervisor:
    """In-memory domains; every order is idempotent the way the real actions are."""

    def __init__(self) -> None:
        self.domains: dict[str, Domain] = {}

    def apply(self, body: o.AnyOrder) -> tuple[VmState, str]:
        """The state an order leaves its VM in and a note; ``KeyError``: no such VM."""
        vm_id = body.vm_id
        dom = self.domains.get(vm_id)
        if isinstance(body, o.DefineVm):
            note = "already defined" if dom else ""
            if dom is None:
                dom = Domain(body.name, body.vcpus, body.memory_mib)
                self.domains[vm_id] = dom
            if body.start:
                dom.state = "running"
            return dom.state, note
        if isinstance(body, o.DeleteVm):
            self.domains.pop(vm_id, None)
            return "deleted", ""
        if isinstance(body, o.MigrateVm):  # handoff: the destination holds it already
            self.domains.pop(vm_id, None)
            return "deleted", f"handed off to {body.to_host_id}"
        if isinstance(body, o.CancelOrder):
            return (dom.state if dom else "deleted"), "the order had already finished"
        if dom is None:
            raise KeyError(vm_id)
        if isinstance(body, o.StartVm | o.ResumeVm | o.RebootVm):
            dom.state = "running"
        elif isinstance(body, o.StopVm):
            dom.state = "stopped"
        elif isinstance(body, o.PauseVm):
            dom.state = "paused"
        elif isinstance(body, o.ResizeVm):
            dom.vcpus, dom.memory_mib = body.vcpus, body.memory_mib
        return dom.state, ""  # snapshots, disks, NICs: accepted, nothing to simulate


@dataclass
class Stats:
    enrolled: int = 0
    orders: int = 0
    failed: int = 0
    heartbeats: int = 0
    heartbeat_errors: int = 0
    samples: int = 0
    order_s: list[float] = field(default_factory=list)  # order received → acked


@dataclass
class SimHost:
    name: str
    cpus: int
    memory_mib: int
    bus: Bus
    host_id: str = ""
    hv: FakeHypervisor = field(default_factory=FakeHypervisor)
    journal: OrderJournal = field(default_factory=lambda: OrderJournal(None))


class Swarm:
    """``hosts`` simulated hosts over ``connections`` shared NATS connections."""

    def __init__(
        self,
        url: str,
        hosts: int,
        *,
        prefix: str = "swarm",
        connections: int = 1,
        heartbeat_s: float = 2.0,
        metrics_s: float = 10.0,
        op_ms: float = 0.0,
        cpus: int = 64,
        memory_mib: int = 256 * 1024,
        fetch_wait: float = LONG_PULL,
        follow_interval: bool = True,
        leases: bool = True,
    ) -> None:
        self.leases = leases  # renew an HA lease with every heartbeat, as an agent does
        self.fetch_wait = fetch_wait  # how long each host's pull request lingers
        self.follow_interval = follow_interval  # beat as often as the enrolment reply says
        self.url, self.count, self.prefix = url, hosts, prefix
        self.connections = max(1, connections)
        self.heartbeat_s, self.metrics_s, self.op_s = heartbeat_s, metrics_s, op_ms / 1000
        self.cpus, self.memory_mib = cpus, memory_mib
        self.buses: list[Bus] = []
        self.hosts: list[SimHost] = []
        self.stats = Stats()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, enrol_concurrency: int = 64) -> None:
        for i in range(self.connections):
            self.buses.append(await Bus.connect(self.url, name=f"lq-swarm-{self.prefix}-{i}"))
        buses = self.buses
        self.hosts = [
            SimHost(f"{self.prefix}-{i:05d}", self.cpus, self.memory_mib, buses[i % len(buses)])
            for i in range(self.count)
        ]
        gate = asyncio.Semaphore(enrol_concurrency)

        async def one(h: SimHost) -> None:
            async with gate:
                await self._enrol(h)
                await self._report(h, Inventory(domains=[]))
                await self._consumer(h)  # here, bounded by the gate: not 5,000 at once
                self.stats.enrolled += 1

        t0 = time.perf_counter()
        # beating from the start: the first hosts must not time out while the last enrol
        self._tasks.append(asyncio.create_task(self._heartbeats(), name="heartbeats"))
        await asyncio.gather(*(one(h) for h in self.hosts))
        log.info("%d hosts enrolled in %.1f s", self.count, time.perf_counter() - t0)
        for i, h in enumerate(self.hosts):  # each binds to its consumer: ~1,000 a second
            self._tasks.append(asyncio.create_task(self._orders(h), name=f"orders {h.name}"))
            if i % ORDER_LOOPS_PER_STEP == ORDER_LOOPS_PER_STEP - 1:
                await asyncio.sleep(0.05)
        if self.metrics_s > 0:
            self._tasks.append(asyncio.create_task(self._metrics(), name="metrics"))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for bus in self.buses:
            await bus.close()

    def vms(self) -> int:
        return sum(len(h.hv.domains) for h in self.hosts)

    # -- protocol --

    async def _enrol(self, h: SimHost) -> None:
        request = EnrollRequest(
            name=h.name, uri=f"test:///swarm/{h.name}", cpus=h.cpus, memory_mib=h.memory_mib
        )
        delay = 0.2
        while True:
            try:
                reply = ENROLL_REPLY_DECODER.decode(
                    await h.bus.request(subjects.ENROLL, encode(request), timeout=10.0)
                )
                if reply.ok and reply.host_id:
                    h.host_id = reply.host_id
                    if reply.heartbeat_interval_s and self.follow_interval:
                        self.heartbeat_s = reply.heartbeat_interval_s  # as an agent does
                    await self._beat(h)  # connected from the first moment
                    return
                log.warning("%s enrolment refused: %s", h.name, reply.error)
            except (LqError, ValueError) as exc:
                log.info("%s waiting to enrol: %s", h.name, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _consumer(self, h: SimHost) -> None:
        """The host's order consumer, created once its enrolment is through."""
        while True:
            try:
                await h.bus.ensure_orders_consumer(h.host_id)
                return
            except LqError as exc:
                log.warning("%s order consumer not created yet: %s", h.name, exc)
                await asyncio.sleep(1.0)

    async def _report(self, h: SimHost, body: AnyReport, **kw: str | None) -> None:
        report = Report(
            report_id=kw.get("report_id") or new_id(),
            host_id=h.host_id,
            task_id=kw.get("task_id"),
            sent_at=utcnow(),
            body=body,
        )
        while True:
            try:
                await h.bus.send_report(report)
                return
            except LqError as exc:
                log.warning("%s cannot report yet: %s", h.name, exc)
                await asyncio.sleep(0.5)

    async def _orders(self, h: SimHost) -> None:
        running: set[asyncio.Task[None]] = set()
        while True:
            try:
                async for delivery in h.bus.orders(h.host_id, self.fetch_wait):
                    task = asyncio.create_task(self._one(h, delivery, time.perf_counter()))
                    running.add(task)
                    task.add_done_callback(running.discard)
            except LqError as exc:
                log.warning("%s order consumer interrupted: %s", h.name, exc)
                await asyncio.sleep(1.0)

    async def _one(self, h: SimHost, delivery: Delivery[Order], t0: float) -> None:
        order = delivery.value
        outcome = h.journal.get(order.order_id)
        if outcome is None:
            if self.op_s:
                await asyncio.sleep(self.op_s)
            body: OrderDone | OrderFailed
            try:
                state, note = h.hv.apply(order.body)
                body = OrderDone(
                    order_id=order.order_id,
                    vm_id=order.body.vm_id,
                    operation=operation(order.body),
                    state=state,
                    note=note,
                )
            except KeyError:
                self.stats.failed += 1
                body = OrderFailed(
                    order_id=order.order_id,
                    vm_id=order.body.vm_id,
                    operation=operation(order.body),
                    error=f"domain {order.body.vm_id} not found",
                )
            outcome = Outcome(order_id=order.order_id, report_id=new_id(), body=body)
            await h.journal.record(outcome)
        await self._report(h, outcome.body, task_id=order.task_id, report_id=outcome.report_id)
        with contextlib.suppress(LqError):
            await delivery.ack()
        self.stats.orders += 1
        self.stats.order_s.append(time.perf_counter() - t0)

    async def _beat(self, h: SimHost) -> None:
        try:
            await h.bus.put_heartbeat(
                Heartbeat(host_id=h.host_id, at=utcnow(), domains=len(h.hv.domains))
            )
            self.stats.heartbeats += 1
        except LqError as exc:
            self.stats.heartbeat_errors += 1
            log.warning("%s heartbeat not written: %s", h.name, exc)

    async def _spread(
        self, interval: Callable[[], float], send: Callable[[Bus, list[SimHost]], Awaitable[None]]
    ) -> None:
        """Every host once per ``interval()``, spread over it: every ``TICK_S`` the hosts
        due in that tick (every n-th host), one ``send`` per connection."""
        loop = asyncio.get_running_loop()
        await asyncio.sleep(random.random() * TICK_S)
        k, next_tick = 0, loop.time()
        while True:
            slots = max(1, round(interval() / TICK_S))
            due: dict[int, list[SimHost]] = {}
            for h in self.hosts[k % slots :: slots]:
                if h.host_id:  # enrolled
                    due.setdefault(id(h.bus), []).append(h)
            k += 1
            for batch in due.values():
                await send(batch[0].bus, batch)
            next_tick += TICK_S
            await asyncio.sleep(max(0.0, next_tick - loop.time()))

    async def _heartbeats(self) -> None:
        await self._spread(lambda: self.heartbeat_s, self._beats)

    async def _beats(self, bus: Bus, hosts: list[SimHost]) -> None:
        now = utcnow()
        try:
            await bus.put_heartbeats(
                [Heartbeat(host_id=h.host_id, at=now, domains=len(h.hv.domains)) for h in hosts]
            )
            if self.leases:  # the agent renews its HA lease with every heartbeat
                await bus.put_host_leases(
                    [
                        HostLease(host_id=h.host_id, renewed_at=now, fence_after_s=15.0)
                        for h in hosts
                    ]
                )
            self.stats.heartbeats += len(hosts)
        except LqError as exc:
            self.stats.heartbeat_errors += len(hosts)
            log.warning("%d heartbeats not written: %s", len(hosts), exc)

    async def _metrics(self) -> None:
        await self._spread(lambda: self.metrics_s, self._samples)

    async def _samples(self, bus: Bus, hosts: list[SimHost]) -> None:
        try:
            await bus.publish_metrics_many([self._sample(h) for h in hosts])
            self.stats.samples += len(hosts)
        except LqError as exc:
            log.debug("%d metrics samples dropped: %s", len(hosts), exc)

    def _sample(self, h: SimHost) -> MetricsSample:
        running = [(v, d) for v, d in h.hv.domains.items() if d.state == "running"]
        used = sum(d.memory_mib for _, d in running) * 1024
        return MetricsSample(
            sample_id=new_id(),
            host_id=h.host_id,
            sampled_at=utcnow(),
            interval_s=self.metrics_s,
            host=HostSample(
                cpus=h.cpus,
                cpu_pct=min(100.0, 2.0 + 3.0 * len(running)),
                mem_total_kib=h.memory_mib * 1024,
                mem_used_kib=min(used, h.memory_mib * 1024),
            ),
            vms=[
                VmSample(
                    vm_id=vm_id, vcpus=d.vcpus, cpu_pct=5.0, mem_actual_kib=d.memory_mib * 1024
                )
                for vm_id, d in running
            ],
        )


async def _main(args: argparse.Namespace) -> None:
    swarm = Swarm(
        args.nats,
        args.hosts,
        prefix=args.prefix,
        connections=args.connections,
        heartbeat_s=args.heartbeat_s,
        metrics_s=args.metrics_s,
        op_ms=args.op_ms,
        fetch_wait=args.fetch_wait,
        follow_interval=not args.fixed_heartbeat,
        leases=not args.no_leases,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    t0 = time.perf_counter()
    starting = asyncio.create_task(swarm.start())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait([starting, stopping], return_when=asyncio.FIRST_COMPLETED)
    if starting.done():
        starting.result()
        print(f"SWARM READY {args.hosts} hosts in {time.perf_counter() - t0:.1f} s", flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping, args.duration or None)
    else:  # stopped while enrolling (the stack went away): do not wait for it
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
    stopping.cancel()
    with contextlib.suppress(TimeoutError):  # a connection to a server that is gone
        await asyncio.wait_for(swarm.stop(), 10.0)
    s = swarm.stats
    print(
        msgspec.json.encode(
            {
                "hosts": s.enrolled,
                "orders": s.orders,
                "failed": s.failed,
                "heartbeats": s.heartbeats,
                "heartbeat_errors": s.heartbeat_errors,
                "samples": s.samples,
                "vms": swarm.vms(),
            }
        ).decode(),
        flush=True,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--nats", required=True, help="NATS URL of the stack (auth off)")
    p.add_argument("--hosts", type=int, default=100)
    p.add_argument("--prefix", default="swarm", help="host name prefix (unique per process)")
    p.add_argument("--connections", type=int, default=1, help="NATS connections shared")
    p.add_argument("--heartbeat-s", type=float, default=2.0)
    p.add_argument("--no-leases", action="store_true", help="no HA lease renewals")
    p.add_argument(
        "--fixed-heartbeat",
        action="store_true",
        help="beat every --heartbeat-s even if the enrolment reply says otherwise",
    )
    p.add_argument("--metrics-s", type=float, default=10.0, help="0 disables metrics")
    p.add_argument("--op-ms", type=float, default=0.0, help="simulated hypervisor time/order")
    p.add_argument("--fetch-wait", type=float, default=LONG_PULL, help="order pull linger (s)")
    p.add_argument("--duration", type=float, default=0.0, help="seconds (0: until signalled)")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
