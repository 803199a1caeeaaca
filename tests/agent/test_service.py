"""The agent end to end on a real nats-server and libvirt's test driver.

The test plays the controlplane: it provisions the streams, answers enrolment, sends
orders and reads reports; "virsh-level truth" is checked through the agent's own
hypervisor connection (a test-driver host exists only inside that connection).
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from agent import simhost
from agent.hypervisor import Hypervisor
from agent.service import Agent
from events import subjects
from events.aio import cancel_and_wait
from events.base import new_id, utcnow
from events.bus import Bus, Subscription
from events.codec import encode
from events.orders import AnyOrder, DefineVm, DeleteVm, Order, StartVm, StopVm
from events.reports import (
    ENROLL_REQUEST_DECODER,
    AnyReport,
    DomainChanged,
    DomainSeen,
    EnrollReply,
    EnrollRequest,
    Inventory,
    OrderDone,
    OrderFailed,
    Report,
)
from events.settings import Settings
from tests.agent.conftest import HOST_CPUS, HOST_MEMORY_MIB, new_vm_id

R = TypeVar("R", bound=AnyReport)
WAIT_S = 10.0
RUNNING, SHUTOFF = 1, 5  # libvirt's virDomainState numbers, as node files keep them


class FakeControlplane:
    """Just enough controlplane: enrolment answers, orders out, reports in."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.host_id = new_id()
        self.enrolments: list[EnrollRequest] = []
        self.reports: list[Report] = []
        self._changed = asyncio.Condition()
        self._enrol_sub: Subscription | None = None
        self._reader = asyncio.create_task(self._read())

    async def answer_enrolment(self) -> None:
        async def handler(raw: bytes) -> bytes:
            req = ENROLL_REQUEST_DECODER.decode(raw)
            self.enrolments.append(req)
            return encode(EnrollReply(ok=True, host_id=req.host_id or self.host_id))

        self._enrol_sub = await self.bus.serve(subjects.ENROLL, handler, queue="controlplane")

    async def _read(self) -> None:
        async for delivery in self.bus.reports():
            async with self._changed:
                self.reports.append(delivery.value)
                self._changed.notify_all()
            await delivery.ack()

    async def order(self, body: AnyOrder, order_id: str | None = None) -> Order:
        order = Order(
            order_id=order_id or new_id(),
            host_id=self.host_id,
            task_id=new_id(),
            issued_at=utcnow(),
            body=body,
        )
        await self.bus.send_order(order)
        return order

    async def wait_for(self, kind: type[R], match: Callable[[R], bool] = lambda _: True) -> R:
        """The first report of ``kind`` that ``match`` accepts (waiting for it)."""

        def found() -> R | None:
            for report in self.reports:
                if isinstance(report.body, kind) and match(report.body):
                    return report.body
            return None

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(found), WAIT_S)
        result = found()
        assert result is not None
        return result

    def bodies(self, kind: type[R]) -> list[R]:
        return [r.body for r in self.reports if isinstance(r.body, kind)]

    async def close(self) -> None:
        await cancel_and_wait([self._reader])
        if self._enrol_sub is not None:
            await self._enrol_sub.unsubscribe()


@pytest.fixture
async def cp(nats_url: str) -> AsyncIterator[FakeControlplane]:
    bus = await Bus.connect(nats_url, name="test-controlplane")
    await bus.provision(Settings(nats_url=nats_url))
    fake = FakeControlplane(bus)
    yield fake
    await fake.close()
    await bus.close()


@pytest.fixture
def settings(nats_url: str, tmp_path: Path) -> Settings:
    return Settings(
        nats_url=nats_url,
        data_dir=str(tmp_path / "lq"),
        agent_name="host-a",
        heartbeat_interval_s=0.2,
    )


class Running:
    """An agent running in this test's event loop."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(agent.run(self.stop))

    async def ready(self) -> Agent:
        waiter = asyncio.create_task(self.agent.ready.wait())
        done, _ = await asyncio.wait(
            {waiter, self.task}, timeout=WAIT_S, return_when="FIRST_COMPLETED"
        )
        waiter.cancel()
        if self.task in done:
            self.task.result()  # raises why the agent ended
        assert self.agent.ready.is_set(), "agent did not come up"
        return self.agent

    async def shutdown(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, WAIT_S)


@pytest.fixture
async def agent(cp: FakeControlplane, settings: Settings, host_uri: str) -> AsyncIterator[Agent]:
    await cp.answer_enrolment()
    running = Running(Agent(settings, hypervisor_uri=host_uri))
    try:
        yield await running.ready()
    finally:
        await running.shutdown()


async def test_enrols_with_its_facts_and_sends_inventory(
    agent: Agent, cp: FakeControlplane, settings: Settings, host_uri: str
) -> None:
    assert agent.host_id == cp.host_id
    [req] = cp.enrolments
    assert (req.host_id, req.name, req.uri) == (None, "host-a", host_uri)
    assert (req.cpus, req.memory_mib) == (HOST_CPUS, HOST_MEMORY_MIB)
    assert await cp.wait_for(Inventory) == Inventory(domains=[])
    host_id_file = settings.data_path / "agents" / "host-a" / "host_id"
    assert host_id_file.read_text().strip() == cp.host_id


async def test_heartbeats(agent: Agent, cp: FakeControlplane) -> None:
    for _ in range(int(WAIT_S / 0.05)):
        if cp.host_id in await cp.bus.heartbeats():
            break
        await asyncio.sleep(0.05)
    first = (await cp.bus.heartbeats())[cp.host_id].at
    await asyncio.sleep(0.5)
    assert (await cp.bus.heartbeats())[cp.host_id].at > first


async def test_orders_change_the_hypervisor_and_are_reported(
    agent: Agent, cp: FakeControlplane
) -> None:
    hv, vm_id = agent.hypervisor, new_vm_id()

    define = await cp.order(DefineVm(vm_id=vm_id, name="web", vcpus=2, memory_mib=512, start=True))
    done = await cp.wait_for(OrderDone, lambda b: b.order_id == define.order_id)
    assert (done.operation, done.state) == ("create", "running")
    assert await hv.state(vm_id) == "running"
    [report] = [r for r in cp.reports if r.body == done]
    assert (report.task_id, report.host_id) == (define.task_id, cp.host_id)

    stop = await cp.order(StopVm(vm_id=vm_id, force=True))
    assert (await cp.wait_for(OrderDone, lambda b: b.order_id == stop.order_id)).state == "stopped"
    assert await hv.state(vm_id) == "stopped"

    start = await cp.order(StartVm(vm_id=vm_id))
    assert (await cp.wait_for(OrderDone, lambda b: b.order_id == start.order_id)).state == "running"

    delete = await cp.order(DeleteVm(vm_id=vm_id))
    assert (
        await cp.wait_for(OrderDone, lambda b: b.order_id == delete.order_id)
    ).state == "deleted"
    assert await hv.state(vm_id) is None

    # every change was also observed through libvirt's lifecycle events
    await cp.wait_for(DomainChanged, lambda b: b.state == "deleted")
    observed = [(b.state, b.reason) for b in cp.bodies(DomainChanged) if b.vm_id == vm_id]
    assert observed == [
        ("stopped", "defined"),
        ("running", "booted"),
        ("stopped", "destroyed"),
        ("running", "booted"),
        ("stopped", "destroyed"),  # a running domain is destroyed before it is undefined
        ("deleted", "undefined"),
    ]


async def test_failed_order_is_reported_and_acknowledged(
    agent: Agent, cp: FakeControlplane
) -> None:
    missing = new_vm_id()
    order = await cp.order(StartVm(vm_id=missing))
    failed = await cp.wait_for(OrderFailed, lambda b: b.order_id == order.order_id)
    assert failed.permanent and failed.vm_id == missing
    # acknowledged: the next order is served, the failed one is not redelivered
    after = await cp.order(DeleteVm(vm_id=missing))
    await cp.wait_for(OrderDone, lambda b: b.order_id == after.order_id)
    await asyncio.sleep(0.3)
    assert len([b for b in cp.bodies(OrderFailed) if b.order_id == order.order_id]) == 1


async def test_change_behind_the_agents_back_is_reported(
    agent: Agent, cp: FakeControlplane
) -> None:
    vm_id = new_vm_id()
    order = await cp.order(DefineVm(vm_id=vm_id, name="db", vcpus=1, memory_mib=256, start=True))
    await cp.wait_for(OrderDone, lambda b: b.order_id == order.order_id)
    await cp.wait_for(DomainChanged, lambda b: b.vm_id == vm_id and b.state == "running")

    await agent.hypervisor.stop(vm_id, force=True)  # as `virsh destroy` would

    changed = await cp.wait_for(
        DomainChanged, lambda b: b.vm_id == vm_id and b.reason == "destroyed"
    )
    assert changed.state == "stopped"


async def test_restart_sends_inventory_of_surviving_domains(
    cp: FakeControlplane, settings: Settings, host_uri: str
) -> None:
    await cp.answer_enrolment()
    hv = await Hypervisor.open(host_uri)  # the host outlives its agents, as libvirtd does
    try:
        first = Running(Agent(settings, hypervisor=hv))
        await first.ready()
        keep, gone = new_vm_id(), new_vm_id()
        for vm_id, name in ((keep, "keep"), (gone, "gone")):
            o = await cp.order(
                DefineVm(vm_id=vm_id, name=name, vcpus=1, memory_mib=128, start=True)
            )
            await cp.wait_for(OrderDone, lambda b, o=o: b.order_id == o.order_id)  # type: ignore[misc]
        await first.shutdown()

        await hv.undefine(gone)  # while no agent runs
        await hv.stop(keep, force=True)

        second = Running(Agent(settings, hypervisor=hv))
        await second.ready()
        await second.shutdown()
    finally:
        await hv.close()

    assert [e.host_id for e in cp.enrolments] == [None, cp.host_id]
    inventories = cp.bodies(Inventory)
    assert len(inventories) == 2
    assert inventories[1].domains == [DomainSeen(vm_id=keep, name="keep", state="stopped")]


async def test_waits_for_a_controlplane_to_enrol(
    cp: FakeControlplane, settings: Settings, host_uri: str
) -> None:
    running = Running(Agent(settings, hypervisor_uri=host_uri))
    try:
        await asyncio.sleep(0.5)
        assert not running.agent.ready.is_set()
        await cp.answer_enrolment()
        await running.ready()
    finally:
        await running.shutdown()


async def test_cancellation_is_a_clean_shutdown(
    cp: FakeControlplane, settings: Settings, host_uri: str
) -> None:
    await cp.answer_enrolment()
    running = Running(Agent(settings, hypervisor_uri=host_uri))
    await running.ready()
    running.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running.task


async def test_simulated_host_keeps_its_domains_across_agent_runs(
    cp: FakeControlplane, settings: Settings, host_uri: str
) -> None:
    await cp.answer_enrolment()
    node_file = simhost.node_file_of(host_uri)
    assert node_file is not None
    web, db = new_vm_id(), new_vm_id()
    first = Running(Agent(settings, hypervisor_uri=host_uri))
    await first.ready()
    try:
        for vm_id, name in ((web, "web"), (db, "db")):
            o = await cp.order(
                DefineVm(vm_id=vm_id, name=name, vcpus=1, memory_mib=128, start=True)
            )
            await cp.wait_for(OrderDone, lambda b, o=o: b.order_id == o.order_id)  # type: ignore[misc]
            assert _saved_states(node_file)[vm_id] == RUNNING  # saved before the report

        await first.agent.hypervisor.stop(db, force=True)  # behind the agent's back
        await cp.wait_for(DomainChanged, lambda b: b.vm_id == db and b.reason == "destroyed")
        for _ in range(int(WAIT_S / 0.05)):  # saved after the lifecycle event
            if _saved_states(node_file)[db] == SHUTOFF:
                break
            await asyncio.sleep(0.05)
        assert _saved_states(node_file) == {web: RUNNING, db: SHUTOFF}
    finally:
        await first.shutdown()

    second = Running(Agent(settings, hypervisor_uri=host_uri))  # a fresh connection
    await second.ready()
    await second.shutdown()

    last = cp.bodies(Inventory)[-1]
    assert sorted(last.domains, key=lambda d: d.name) == [
        DomainSeen(vm_id=db, name="db", state="stopped"),
        DomainSeen(vm_id=web, name="web", state="running"),
    ]


def _saved_states(node_file: Path) -> dict[str, int]:
    """vm_id -> libvirt state number of the domains saved in a node file."""
    return {
        ET.fromstring(d.xml).findtext("uuid", ""): d.state for d in simhost.saved_domains(node_file)
    }
