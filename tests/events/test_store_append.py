"""Event-store contract: optimistic appends, on one server (R1) and on a cluster (R3)."""

from __future__ import annotations

import asyncio

import pytest

from events.bus import Bus
from events.errors import ConcurrencyError
from events.store import AppendRequest, AppendResult
from tests.events.conftest import created, eventually, started, vm_id


async def test_append_to_new_aggregate_with_expected_zero(store_bus: Bus) -> None:
    store, vm = store_bus.store, vm_id()
    res = await store.append("vm", vm, created(vm), 0)
    assert res.seq > 0
    assert not res.duplicate

    async def visible() -> bool:
        return await store.last_version("vm", vm) == res.seq

    await eventually(visible)
    assert await store.last_seq() >= res.seq
    assert await store.last_version("vm", vm_id()) == 0


async def test_stale_expected_version_is_a_conflict(store_bus: Bus) -> None:
    store, vm = store_bus.store, vm_id()
    first = await store.append("vm", vm, created(vm), 0)
    with pytest.raises(ConcurrencyError) as err:
        await store.append("vm", vm, created(vm), 0)
    assert err.value.expected == 0
    assert err.value.subject == f"lq.evt.vm.{vm}"
    second = await store.append("vm", vm, started(vm), first.seq)
    with pytest.raises(ConcurrencyError):
        await store.append("vm", vm, started(vm), first.seq)
    assert second.seq > first.seq


async def test_retried_append_is_a_duplicate_not_a_second_message(store_bus: Bus) -> None:
    store, vm = store_bus.store, vm_id()
    envs = created(vm)
    first = await store.append("vm", vm, envs, 0)
    last = await store.last_seq()
    again = await store.append("vm", vm, envs, 0)
    assert again == AppendResult(first.seq, duplicate=True)
    assert await store.last_seq() == last
    history = await store.load("vm", vm, min_seq=first.seq)
    assert [e.seq for e in history] == [first.seq]
    # also after the aggregate moved on: still recognised as ours
    nxt = await store.append("vm", vm, started(vm), first.seq)
    again = await store.append("vm", vm, envs, 0)
    assert again == AppendResult(first.seq, duplicate=True)
    assert await store.last_seq() == nxt.seq


async def test_concurrent_appends_with_the_same_expected_version_one_wins(
    store_bus: Bus,
) -> None:
    store, vm = store_bus.store, vm_id()
    base = await store.append("vm", vm, created(vm), 0)
    outcomes = await asyncio.gather(
        *(store.append("vm", vm, started(vm), base.seq) for _ in range(5)),
        return_exceptions=True,
    )
    wins = [o for o in outcomes if isinstance(o, AppendResult)]
    assert len(wins) == 1, outcomes
    assert all(isinstance(o, ConcurrencyError) for o in outcomes if o not in wins)
    history = await store.load("vm", vm, min_seq=wins[0].seq)
    assert [e.seq for e in history] == [base.seq, wins[0].seq, wins[0].seq]


async def test_append_many_surfaces_a_conflict_in_its_slot(store_bus: Bus) -> None:
    store = store_bus.store
    taken = vm_id()
    await store.append("vm", taken, created(taken), 0)
    fresh = [vm_id() for _ in range(4)]
    reqs = [AppendRequest("vm", v, created(v), 0) for v in fresh[:2]]
    reqs.append(AppendRequest("vm", taken, created(taken), 0))  # stale: conflict
    reqs += [AppendRequest("vm", v, created(v), 0) for v in fresh[2:]]
    results = await store.append_many(reqs)
    assert len(results) == 5
    assert isinstance(results[2], ConcurrencyError)
    ok = [r for i, r in enumerate(results) if i != 2]
    assert all(isinstance(r, AppendResult) and not r.duplicate for r in ok)
    seqs = [r.seq for r in ok if isinstance(r, AppendResult)]
    assert len(set(seqs)) == 4


async def test_append_many_same_aggregate_twice_in_one_batch(store_bus: Bus) -> None:
    store, vm = store_bus.store, vm_id()
    results = await store.append_many(
        [AppendRequest("vm", vm, created(vm), 0), AppendRequest("vm", vm, created(vm), 0)]
    )
    assert sorted(type(r).__name__ for r in results) == ["AppendResult", "ConcurrencyError"]


async def test_append_many_is_repeatable(store_bus: Bus) -> None:
    store = store_bus.store
    vms = [vm_id() for _ in range(50)]
    reqs = [AppendRequest("vm", v, created(v), 0) for v in vms]
    first = await store.append_many(reqs)
    again = await store.append_many(reqs)
    assert [r.seq for r in first if isinstance(r, AppendResult)] == [
        r.seq for r in again if isinstance(r, AppendResult)
    ]
    assert all(isinstance(r, AppendResult) and r.duplicate for r in again)


async def test_append_needs_envelopes(store_bus: Bus) -> None:
    with pytest.raises(ValueError, match="at least one"):
        await store_bus.store.append("vm", vm_id(), [], 0)
