"""The hypervisor wrapper against libvirt's real test driver: operations, state words,
recognising managed domains, lifecycle events, and an event loop that never stalls."""

from __future__ import annotations

import asyncio
import threading
import uuid
from pathlib import Path

import pytest

from agent import simhost
from agent.domxml import VmSpec
from agent.errors import DomainNotFound, PermanentError, TemporaryError
from agent.hypervisor import Hypervisor, Lifecycle, event_word, state_word
from tests.agent.conftest import HOST_CPUS, HOST_MEMORY_MIB, drain_events, new_vm_id, next_event


def spec(vm_id: str, name: str = "web") -> VmSpec:
    return VmSpec(vm_id=vm_id, name=name, vcpus=1, memory_mib=256)


@pytest.mark.parametrize(
    ("state", "reason", "word"),
    [  # libvirt's virDomainState / reason numbers
        (1, 1, ("running", "")),
        (2, 0, ("running", "")),
        (3, 1, ("paused", "")),
        (3, 2, ("migrating", "migration")),
        (4, 1, ("stopping", "shutting down")),
        (5, 2, ("stopped", "destroyed")),
        (5, 99, ("stopped", "")),
        (6, 1, ("stopped", "crashed")),
        (7, 0, ("paused", "pm-suspended")),
        (0, 0, ("error", "no state")),
    ],
)
def test_state_words(state: int, reason: int, word: tuple[str, str]) -> None:
    assert state_word(state, reason) == word


@pytest.mark.parametrize(
    ("event", "detail", "word"),
    [  # libvirt's virDomainEventType / detail numbers
        (0, 0, ("stopped", "defined")),
        (0, 1, None),  # definition updated: says nothing about the state
        (1, 0, ("deleted", "undefined")),
        (2, 0, ("running", "booted")),
        (3, 0, ("paused", "")),
        (3, 2, ("paused", "I/O error")),  # virsh-invisible causes of a pause say so
        (3, 3, ("paused", "watchdog")),
        (4, 0, ("running", "resumed")),
        (4, 2, ("running", "from snapshot")),
        (6, 2, ("stopping", "host shutdown")),
        (5, 2, ("stopped", "crashed")),
        (6, 0, ("stopping", "guest shutdown")),
        (8, 0, ("stopped", "crashed")),
        (42, 0, None),
    ],
)
def test_event_words(event: int, detail: int, word: tuple[str, str] | None) -> None:
    assert event_word(event, detail) == word


async def test_host_facts_come_from_the_node_file(hypervisor: Hypervisor, host_uri: str) -> None:
    facts = await hypervisor.host_facts()
    assert (facts.cpus, facts.memory_mib) == (HOST_CPUS, HOST_MEMORY_MIB)
    assert facts.uri == host_uri
    assert facts.hypervisor == "TEST"
    assert facts.domain_type == "test"
    assert facts.hostname


async def test_define_start_stop_undefine(hypervisor: Hypervisor) -> None:
    vm_id = new_vm_id()
    assert await hypervisor.state(vm_id) is None
    assert await hypervisor.define(spec(vm_id)) == "stopped"
    assert await hypervisor.start(vm_id) == "running"
    assert await hypervisor.start(vm_id) == "running"  # already running: nothing happens
    assert await hypervisor.stop(vm_id, force=True) == "stopped"
    assert await hypervisor.state_reason(vm_id) == ("stopped", "destroyed")
    assert await hypervisor.start(vm_id) == "running"
    assert await hypervisor.stop(vm_id, force=False) == "stopped"  # test driver: instant
    assert await hypervisor.stop(vm_id, force=True) == "stopped"
    await hypervisor.start(vm_id)
    await hypervisor.undefine(vm_id)  # destroys a running domain first
    assert await hypervisor.state(vm_id) is None


async def test_missing_domains_raise_domain_not_found(hypervisor: Hypervisor) -> None:
    for call in (
        hypervisor.start(new_vm_id()),
        hypervisor.stop(new_vm_id(), force=True),
        hypervisor.undefine(new_vm_id()),
        hypervisor.start("not-a-uuid"),
    ):
        with pytest.raises(DomainNotFound):
            await call


async def test_invalid_spec_is_permanent(hypervisor: Hypervisor) -> None:
    with pytest.raises(PermanentError):
        await hypervisor.define(VmSpec(vm_id=new_vm_id(), name="x", vcpus=0, memory_mib=1))


async def test_list_managed_ignores_foreign_domains(hypervisor: Hypervisor) -> None:
    a, b = new_vm_id(), new_vm_id()
    await hypervisor.define(spec(a, "alpha"))
    await hypervisor.define(spec(b, "beta"))
    await hypervisor.start(b)
    seen = {d.vm_id: (d.name, d.state) for d in await hypervisor.list_managed()}
    assert seen == {a: ("alpha", "stopped"), b: ("beta", "running")}
    assert await hypervisor.is_managed(a)
    assert not await hypervisor.is_managed(new_vm_id())


async def test_lifecycle_events_arrive_in_order(hypervisor: Hypervisor) -> None:
    vm_id = new_vm_id()
    await hypervisor.define(spec(vm_id))
    await hypervisor.start(vm_id)
    await hypervisor.stop(vm_id, force=True)
    await hypervisor.undefine(vm_id)
    got = [await next_event(hypervisor) for _ in range(4)]
    assert got == [
        Lifecycle(vm_id, "stopped", "defined"),
        Lifecycle(vm_id, "running", "booted"),
        Lifecycle(vm_id, "stopped", "destroyed"),
        Lifecycle(vm_id, "deleted", "undefined"),
    ]
    assert await drain_events(hypervisor) == []


async def test_two_hosts_are_independent(hypervisor: Hypervisor, tmp_path: Path) -> None:
    other_uri = simhost.write_node_file(tmp_path / "other", "host-b", cpus=16, memory_mib=65536)
    other = await Hypervisor.open(other_uri)
    try:
        await hypervisor.define(spec(new_vm_id()))
        assert await other.list_managed() == []
        assert (await other.host_facts()).cpus == 16
    finally:
        await other.close()


async def test_calls_do_not_block_the_event_loop(hypervisor: Hypervisor) -> None:
    """A burst of libvirt calls runs in the worker thread while the loop keeps ticking."""
    gaps: list[float] = []
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def ticker() -> None:
        last = loop.time()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = loop.time()
            gaps.append(now - last)
            last = now

    async def burst() -> None:
        for i in range(150):
            vm_id = new_vm_id()
            await hypervisor.define(spec(vm_id, f"vm{i}"))
            await hypervisor.start(vm_id)
            await hypervisor.list_managed()
        done.set()

    tick = asyncio.create_task(ticker())
    seen_threads = {t.name for t in threading.enumerate()}
    await burst()
    await tick
    assert any(n.startswith("lq-libvirt") for n in seen_threads | _names())
    assert len(gaps) > 20
    assert max(gaps) < 0.25


def _names() -> set[str]:
    return {t.name for t in threading.enumerate()}


async def test_closed_hypervisor_refuses_calls_and_leaves_no_threads(host_uri: str) -> None:
    hv = await Hypervisor.open(host_uri)
    assert "lq-libvirt-events" in _names()
    await hv.close()
    await hv.close()  # twice is fine
    with pytest.raises(TemporaryError):
        await hv.state(str(uuid.uuid4()))
    assert not any(n.startswith("lq-libvirt") for n in _names())


async def test_unreachable_uri_is_temporary(tmp_path: Path) -> None:
    with pytest.raises(TemporaryError):
        await Hypervisor.open(f"test://{tmp_path}/missing.xml")
    assert not any(n.startswith("lq-libvirt") for n in _names())
