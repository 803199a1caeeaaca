"""Migration and maintenance decisions as tables, and the fleet model they run in."""

from __future__ import annotations

import pytest

from controlplane import placement
from controlplane.domain import affinity as ad
from controlplane.domain import host_maintenance as hm
from controlplane.domain import vm as vd
from controlplane.domain.errors import InvalidState, OperationInProgress
from tests.controlplane.vm_fixtures import HOST, RUNNING, STOPPED, T0, given, state, types

DEST = "host-2"


def test_a_migration_is_one_task_and_one_host_change() -> None:
    mig = vd.Migrate(task_id="m1")
    start = vd.StartMigration(task_id="m1", to_host_id=DEST)
    ready = vd.MigrationTargetReady(task_id="m1", host_id=DEST, state="running")
    done = vd.Complete(task_id="m1", host_id=HOST, state="deleted")
    assert types(given(*RUNNING, mig)[-2:]) == ["vm.migration_requested", "task.queued"]
    assert state(*RUNNING, mig, start).state == "migrating"
    assert types(given(*RUNNING, mig, start, ready)[-2:]) == [
        "vm.migration_target_ready",
        "task.progressed",
    ]
    events = given(*RUNNING, mig, start, ready, done)
    assert types(events[-2:]) == ["vm.migrated", "task.succeeded"]
    vm = state(*RUNNING, mig, start, ready, done)
    assert (vm.host_id, vm.state, vm.pending, vm.migration) == (DEST, "running", None, None)
    # the host id changes in exactly one event
    assert sum(1 for e in events if getattr(e, "to_host_id", None) == DEST and
               type(e).__name__ == "VmMigrated") == 1  # fmt: skip


def test_a_stopped_vm_moves_cold() -> None:
    mig = vd.Migrate(task_id="m1")
    start = vd.StartMigration(task_id="m1", to_host_id=DEST)
    vm = state(*STOPPED, mig, start)
    assert vm.migration is not None and not vm.migration.live
    ready = vd.MigrationTargetReady(task_id="m1", host_id=DEST, state="stopped")
    done = vd.Complete(task_id="m1", host_id=HOST, state="deleted")
    vm = state(*STOPPED, mig, start, ready, done)
    assert (vm.host_id, vm.state) == (DEST, "stopped")


def test_failure_at_any_step_leaves_the_vm_where_it_was() -> None:
    mig = vd.Migrate(task_id="m1")
    start = vd.StartMigration(task_id="m1", to_host_id=DEST)
    ready = vd.MigrationTargetReady(task_id="m1", host_id=DEST, state="running")
    fail = vd.Fail(task_id="m1", reason="deadline", state="error")
    for steps in ((mig,), (mig, start), (mig, start, ready)):
        events = given(*RUNNING, *steps, fail)
        assert types(events[-2:]) == ["vm.migration_failed", "task.failed"]
        vm = state(*RUNNING, *steps, fail)
        assert (vm.host_id, vm.state, vm.pending, vm.migration) == (HOST, "running", None, None)
    # a destination that comes up in the wrong state fails it too
    wrong = vd.MigrationTargetReady(task_id="m1", host_id=DEST, state="stopped")
    assert types(given(*RUNNING, mig, start, wrong)[-2:]) == ["vm.migration_failed", "task.failed"]


def test_what_cannot_migrate() -> None:
    with pytest.raises(InvalidState, match="already on host"):
        given(*RUNNING, vd.Migrate(task_id="m1", host_id=HOST))
    with pytest.raises(OperationInProgress):
        given(*RUNNING, vd.Migrate(task_id="m1"), vd.Migrate(task_id="m2"))
    paused = (
        *RUNNING,
        vd.Pause(task_id="p"),
        vd.Complete(task_id="p", host_id=HOST, state="paused"),
    )
    with pytest.raises(InvalidState, match="running or stopped"):
        given(*paused, vd.Migrate(task_id="m1"))
    # a queued migration can be cancelled; a started one cannot
    assert types(given(*RUNNING, vd.Migrate(task_id="m1"), vd.Cancel(task_id="m1"))[-1:]) == [
        "task.cancelled"
    ]
    with pytest.raises(InvalidState):
        given(
            *RUNNING,
            vd.Migrate(task_id="m1"),
            vd.StartMigration(task_id="m1", to_host_id=DEST),
            vd.Cancel(task_id="m1"),
        )


def test_answers_from_elsewhere_or_late_change_nothing() -> None:
    mig = vd.Migrate(task_id="m1")
    start = vd.StartMigration(task_id="m1", to_host_id=DEST)
    with pytest.raises(InvalidState):
        given(
            *RUNNING,
            mig,
            start,
            vd.MigrationTargetReady(task_id="m1", host_id="x", state="running"),
        )
    assert given(*RUNNING, mig, start, start)[-1:] == given(*RUNNING, mig, start)[-1:]
    assert vd.decide(state(*RUNNING, mig, start), start) == []


def test_maintenance_tables() -> None:
    from tests.controlplane.world import World

    w = World()
    w.add_host("a", 4, 4096)
    w.add_host("b", 4, 4096)
    w.add_host("c", 4, 4096)
    for i in range(3):
        w.create(f"v{i}", 1, 1024, start=i != 1)
    w.migrate("v0", "a")
    w.migrate("v1", "a")
    w.migrate("v2", "a")
    assert {w.vms[f"v{i}"].host_id for i in range(3)} == {"a"}
    assert w.enter_maintenance("a")
    assert w.hosts["a"].state == "maintenance" and w.hosts["a"].evacuation is None
    assert {w.vms[f"v{i}"].host_id for i in range(3)} <= {"b", "c"}
    assert w.runs["a"] == set()
    # no new VM lands there; leaving re-enables placement
    w.create("v9", 1, 256)
    assert w.vms["v9"].host_id != "a"
    with pytest.raises(InvalidState, match="already in maintenance"):
        w.host_do("a", hm.EnterMaintenance(task_id="x"))
    w.exit_maintenance("a")
    assert w.hosts["a"].state in ("connected",)


def test_maintenance_refused_when_the_vms_cannot_fit() -> None:
    from controlplane import evacuation
    from tests.controlplane.world import World

    w = World()
    w.add_host("a", 8, 8192)
    w.add_host("b", 2, 1024)
    w.create("big", 1, 4096)
    plan = evacuation.plan(w.repo, w.vms["big"].host_id or "")
    assert not plan.ok and "big" in plan.refusal() and "full" in plan.refusal()


def test_placement_filters_weighers_and_decision() -> None:
    from tests.controlplane.world import World

    w = World()
    for name, mem in (("a", 4096), ("b", 8192), ("c", 2048)):
        w.add_host(name, 8, mem)
    w.host_do("c", hm.SetLabels(labels={"ssd": "yes"}))
    hosts = list(w.hosts.values())
    ranked, d = placement.choose(hosts, placement.Ask(vm_id="x", vcpus=1, memory_mib=1024))
    assert [h.host_id for h in ranked] == ["b", "a", "c"]  # spread: most free first
    ranked, d = placement.choose(
        hosts, placement.Ask(vm_id="x", vcpus=1, memory_mib=1024), strategy="pack"
    )
    assert ranked[0].host_id == "c"
    ranked, d = placement.choose(
        hosts, placement.Ask(vm_id="x", vcpus=1, memory_mib=1024, labels={"ssd": "yes"})
    )
    assert [h.host_id for h in ranked] == ["c"]
    assert d.rejected_by == {"labels": 2}
    assert {c.host_id: c.accepted for c in d.candidates} == {"c": True, "a": False, "b": False}
    ranked, d = placement.choose(hosts, placement.Ask(vm_id="x", vcpus=1, memory_mib=5000))
    assert [h.host_id for h in ranked] == ["b"] and d.rejected_by == {"capacity": 2}
    assert "full" in placement.explain(
        placement.choose(hosts, placement.Ask(vm_id="x", vcpus=1, memory_mib=99999))[1]
    )
    # hard rules filter, soft rules weigh
    rules = [
        ad.Rule(rule_id="r", name="apart", rule_type="vm_anti_affinity", vm_ids=("x", "y")),
        ad.Rule(rule_id="s", name="near", rule_type="vm_affinity", vm_ids=("x", "z"),
                enforcement="should"),
    ]  # fmt: skip
    where: dict[str, str | None] = {"y": "b", "z": "c"}
    ranked, d = placement.choose(
        hosts, placement.Ask(vm_id="x", vcpus=1, memory_mib=512), rules=rules, where=where
    )
    assert ranked[0].host_id == "c" and "b" not in [h.host_id for h in ranked]
    assert d.rejected_by == {"affinity": 1}
    w.lose_host("a")
    ranked, _ = placement.choose(
        list(w.hosts.values()), placement.Ask(vm_id="x", vcpus=1, memory_mib=512)
    )
    assert "a" not in [h.host_id for h in ranked]


def test_affinity_rule_aggregate() -> None:
    create = ad.Create(rule_id="r", name="n", rule_type="vm_anti_affinity", vm_ids=("a", "b"))
    [e] = ad.decide(None, create)
    from events.base import Meta
    from events.codec import wrap

    rule = None
    for env in wrap("affinity", "r", [e], Meta(actor="t", occurred_at=T0)):
        rule = ad.evolve(rule, env)
    assert rule is not None and rule.hard
    from controlplane.domain.errors import InvalidRequest

    with pytest.raises(InvalidRequest):
        ad.decide(None, ad.Create(rule_id="r", name="n", rule_type="vm_affinity", vm_ids=("a",)))
    with pytest.raises(InvalidRequest):
        ad.decide(None, ad.Create(rule_id="r", name="n", rule_type="vm_host", vm_ids=("a",)))
    assert ad.decide(rule, ad.Update(enabled=True)) == []
    assert ad.violations([rule], "a", "h1", {"b": "h1"}) == [rule]
    assert ad.violations([rule], "a", "h2", {"b": "h1"}) == []


def test_a_source_answering_after_the_rollback_marks_the_vm_in_error() -> None:
    mig = vd.Migrate(task_id="m1")
    start = vd.StartMigration(task_id="m1", to_host_id=DEST)
    ready = vd.MigrationTargetReady(task_id="m1", host_id=DEST, state="running")
    fail = vd.Fail(task_id="m1", reason="source deadline")
    late = vd.Complete(task_id="m1", host_id=HOST, state="deleted")
    events = given(*RUNNING, mig, start, ready, fail, late)
    assert types(events[-1:]) == ["vm.state_observed"]
    vm = state(*RUNNING, mig, start, ready, fail, late)
    assert (vm.host_id, vm.state) == (HOST, "error") and "no longer has" in vm.error
