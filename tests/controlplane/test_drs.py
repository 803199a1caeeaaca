"""DRS as pure computation: the plan from allocations, and the recommendation aggregate."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from controlplane import drs_plan
from controlplane.domain import drs as dd
from controlplane.domain.errors import InvalidState
from events import drs as de
from events.base import Event, Meta, event_type
from events.codec import wrap

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def host(host_id: str, vcpus: int = 0, mem: int = 0, **labels: str) -> drs_plan.HostLoad:
    return drs_plan.HostLoad(host_id, 32, 32768, vcpus, mem, labels)


def vms_on(host_id: str, count: int, vcpus: int = 2, mem: int = 2048) -> list[drs_plan.VmLoad]:
    return [drs_plan.VmLoad(f"{host_id}-vm{i}", host_id, vcpus, mem) for i in range(count)]


def loaded(host_id: str, count: int) -> tuple[drs_plan.HostLoad, list[drs_plan.VmLoad]]:
    vms = vms_on(host_id, count)
    return host(host_id, sum(v.vcpus for v in vms), sum(v.memory_mib for v in vms)), vms


def test_balanced_hosts_need_nothing() -> None:
    a, va = loaded("a", 4)
    b, vb = loaded("b", 4)
    assert drs_plan.plan([a, b], va + vb) == []


def test_a_hot_host_sheds_load_to_idle_ones() -> None:
    a, va = loaded("a", 12)  # 24 of 32 vCPUs, 24 of 32 GiB: load 0.75
    moves = drs_plan.plan([a, host("b"), host("c")], va, batch_size=10, max_per_host=10)
    assert moves, "an imbalanced cluster gets recommendations"
    assert all(m.from_host_id == "a" and m.to_host_id in ("b", "c") for m in moves)
    assert {m.to_host_id for m in moves} == {"b", "c"}, "spread over both idle hosts"
    before = moves[0].imbalance_before
    assert moves[-1].imbalance_after < before
    for earlier, later in itertools.pairwise(moves):
        assert later.imbalance_before == pytest.approx(earlier.imbalance_after)
    assert all(m.improvement > 0 for m in moves)
    assert moves[0].priority >= moves[-1].priority
    assert moves[0].priority >= 3  # 0.75 vs 0: a strong move


def test_batch_size_tolerance_and_budget() -> None:
    a, va = loaded("a", 12)
    hosts = [a, host("b"), host("c")]
    assert len(drs_plan.plan(hosts, va, batch_size=2, max_per_host=10)) == 2
    assert drs_plan.plan(hosts, va, tolerance=0.9) == []
    # two moves out of "a" at most, whatever the batch size
    assert len(drs_plan.plan(hosts, va, batch_size=10, max_per_host=2)) == 2
    # a host already busy with migrations has less budget
    assert len(drs_plan.plan(hosts, va, batch_size=10, max_per_host=2, busy={"a": 1})) == 1


def test_capacity_labels_and_hard_rules_are_respected() -> None:
    a, va = loaded("a", 12)
    full = host("b", 32, 32768)  # no room at all
    assert drs_plan.plan([a, full], va) == []
    gpu = [drs_plan.VmLoad(v.vm_id, v.host_id, v.vcpus, v.memory_mib, {"gpu": "yes"}) for v in va]
    assert drs_plan.plan([a, host("b")], gpu) == []
    assert drs_plan.plan([a, host("b", gpu="yes")], gpu)

    def never_on_b(vm_id: str, host_id: str, where: object) -> bool:
        return host_id != "b"

    moves = drs_plan.plan([a, host("b"), host("c")], va, allowed=never_on_b, max_per_host=9)
    assert moves and all(m.to_host_id == "c" for m in moves)


def test_the_plan_never_overfills_a_destination() -> None:
    a, va = loaded("a", 16)  # full
    b = host("b", 28, 28672)  # room for two VMs
    moves = drs_plan.plan([a, b], va, batch_size=10, max_per_host=10)
    assert 0 < len(moves) <= 2


def test_priority_scale() -> None:
    assert [drs_plan.priority_of(g) for g in (0.6, 0.4, 0.25, 0.15, 0.01)] == [5, 4, 3, 2, 1]
    assert drs_plan.imbalance([0.5, 0.5]) == 0.0
    assert drs_plan.imbalance([1.0, 0.0]) == pytest.approx(0.5)


# -- the recommendation aggregate -------------------------------------------------------


def created(rid: str = "r1") -> de.DrsRecommendationCreated:
    return de.DrsRecommendationCreated(
        recommendation_id=rid,
        vm_id="v1",
        from_host_id="a",
        to_host_id="b",
        priority=4,
        improvement=0.1,
        imbalance_before=0.3,
        imbalance_after=0.2,
        expires_at=T0 + timedelta(hours=1),
    )


def fold(events: list[Event]) -> dd.Recommendation | None:
    state: dd.Recommendation | None = None
    for env in wrap("drs", "r1", events, Meta(actor="t", occurred_at=T0)):
        state = dd.evolve(state, env)
    return state


def run(*commands: dd.Command) -> list[Event]:
    out: list[Event] = []
    for c in commands:
        out += dd.decide(fold(out), c)
    return out


def test_recommendation_life() -> None:
    events = run(dd.Create(event=created()), dd.Approve(), dd.Approve())
    assert [event_type(e) for e in events] == [
        "drs.recommendation_created",
        "drs.recommendation_approved",
    ]
    applied = run(dd.Create(event=created()), dd.MarkApplied(task_id="t1", automatic=True))
    rec = fold(applied)
    assert rec is not None and rec.state == "applied" and rec.task_id == "t1"
    assert dd.decide(rec, dd.MarkApplied(task_id="t1")) == []
    with pytest.raises(InvalidState) as err:
        dd.decide(rec, dd.Reject())
    assert err.value.slug == "recommendation-ended"
    assert dd.decide(rec, dd.Expire(reason="late")) == []


def test_rejected_expired_and_failed_end_it() -> None:
    for end in (dd.Reject(reason="no"), dd.Expire(reason="late"), dd.MarkFailed(reason="busy")):
        rec = fold(run(dd.Create(event=created()), end))
        assert rec is not None and not rec.open
        with pytest.raises(InvalidState):
            dd.decide(rec, dd.Approve())


def test_hosts_of_different_sizes() -> None:
    """A VM is a larger share of a small host: the plan accounts for both changed loads."""
    big = drs_plan.HostLoad("big", 128, 65536, 12, 36864)
    small = drs_plan.HostLoad("small", 64, 32768, 4, 12288)
    vms = [drs_plan.VmLoad(f"v{i}", "big", 2, 6144) for i in range(6)]
    moves = drs_plan.plan([big, small], vms)
    assert len(moves) == 1 and moves[0].to_host_id == "small"
    after = drs_plan.imbalance([drs_plan.load_of(big, -2, -6144), drs_plan.load_of(small, 2, 6144)])
    assert moves[0].imbalance_after == pytest.approx(after, abs=1e-6)
    assert moves[0].imbalance_before == pytest.approx(
        drs_plan.imbalance([big.load, small.load]), abs=1e-6
    )
