"""Alert evaluation is a leader-only job: two controlplanes on one NATS evaluate once, and
the follower takes the evaluation over when the leader stops.

Each replica is wired as ``controlplane.service`` wires it — its own NATS connection,
aggregate cache, handler and alert engine under ``LeaderJobs`` with the lease
``controlplane-jobs`` — against one real nats-server. Metrics samples are published as an
agent publishes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from controlplane.alerting.engine import AlertEngine
from controlplane.handlers import Handler
from controlplane.leader import JOBS_LEASE, LeaderJobs
from controlplane.repository import Repository
from events import alert as ae
from events.aio import cancel_and_wait
from events.base import new_id, utcnow
from events.bus import Bus
from events.metrics import HostSample, MetricsSample
from events.settings import Settings

TTL = 2.0
RULES = json.dumps(
    [{"rule_id": "host-cpu-high", "threshold": 50, "for_s": 0.3, "clear_below": 10,
      "clear_for_s": 0.3}]
)  # fmt: skip
SETTINGS = Settings(leader_ttl_s=TTL, alert_rules_json=RULES, alert_flap_cooldown_s=0)


@dataclass
class Replica:
    name: str
    bus: Bus
    repo: Repository
    engine: AlertEngine
    leader: LeaderJobs
    task: asyncio.Task[None]

    async def stop(self) -> None:
        await cancel_and_wait([self.task])  # a clean stop releases the lease
        await self.repo.stop()
        await self.bus.close()


Start = Callable[[str], Awaitable[Replica]]


@pytest.fixture
async def start(nats_url: str) -> AsyncIterator[Start]:
    replicas: list[Replica] = []

    async def make(name: str) -> Replica:
        bus = await Bus.connect(nats_url, name=name)
        await bus.provision(SETTINGS)
        repo = Repository(bus.store)
        await repo.start()
        engine = AlertEngine(bus, Handler(repo, bus.store, retries=5), repo, SETTINGS)
        leader = LeaderJobs(bus, JOBS_LEASE, [engine.run], TTL, holder=name)
        replica = Replica(name, bus, repo, engine, leader, asyncio.create_task(leader.run()))
        replicas.append(replica)
        return replica

    yield make
    for r in replicas:
        if not r.task.done():
            with contextlib.suppress(Exception):
                await r.stop()


async def publish(bus: Bus, host_id: str, cpu_pct: float) -> None:
    sample = MetricsSample(
        sample_id=new_id(), host_id=host_id, sampled_at=utcnow(), interval_s=0.1,
        host=HostSample(cpus=4, cpu_pct=cpu_pct, mem_total_kib=1 << 20, mem_used_kib=1 << 18),
    )  # fmt: skip
    await bus.publish_metrics(host_id, sample)


async def feed_until(bus: Bus, host_id: str, cpu_pct: float, done: Callable[[], bool]) -> None:
    async with asyncio.timeout(20):
        while not done():
            await publish(bus, host_id, cpu_pct)
            await asyncio.sleep(0.1)


async def wait_for(check: Callable[[], bool], timeout: float) -> None:
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not reached in {timeout}s")


def status(r: Replica, host_id: str) -> str | None:
    state = r.repo.get("alert", ae.alert_id("host-cpu-high", host_id))[0]
    return None if state is None else str(state.status)


@pytest.mark.timeout(120)
async def test_two_controlplanes_evaluate_once_and_the_follower_takes_over(start: Start) -> None:
    a = await start("replica-a")
    await wait_for(lambda: a.leader.is_leader, 10)
    b = await start("replica-b")
    await asyncio.sleep(0.5)  # b polls the lease and stays a follower
    assert (a.leader.is_leader, b.leader.is_leader) == (True, False)

    await feed_until(a.bus, "h1", 95.0, lambda: status(a, "h1") == "firing")
    await wait_for(lambda: status(b, "h1") == "firing", 10)  # b sees the event, did not decide
    assert a.engine.evaluations > 0
    assert b.engine.evaluations == 0, "the follower evaluated rules"
    history = await a.bus.store.load("alert", ae.alert_id("host-cpu-high", "h1"))
    assert [se.envelope.type for se in history] == ["alert.fired"]

    # the leader stops: the follower takes the lease and the evaluation over
    await a.stop()
    await wait_for(lambda: b.leader.is_leader, TTL + 2)
    await feed_until(b.bus, "h1", 1.0, lambda: status(b, "h1") == "resolved")
    await feed_until(b.bus, "h2", 95.0, lambda: status(b, "h2") == "firing")
    assert b.engine.evaluations > 0
    history = await b.bus.store.load("alert", ae.alert_id("host-cpu-high", "h1"))
    resolved = history[-1].envelope.event
    assert isinstance(resolved, ae.AlertResolved) and resolved.automatic
    assert [se.envelope.actor for se in history] == ["system:alerting"] * 2
    # the stopped replica's lease went at once: no second AlertFired for h1 from anyone
    assert [se.envelope.type for se in history] == ["alert.fired", "alert.resolved"]
