"""A whole fleet on the pure domain: hosts, VMs, affinity rules and placement, driven the
way the process managers drive them, with each host's hypervisor simulated as the set of
VMs it runs. The property test and the migration/maintenance tables use it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal, cast

from controlplane import evacuation, placement
from controlplane.domain import affinity as ad
from controlplane.domain import host as hd
from controlplane.domain import host_maintenance as hm
from controlplane.domain import vm as vd
from controlplane.domain.errors import DomainError, InsufficientCapacity
from controlplane.host_index import HostIndex
from controlplane.repository import Repository
from events.base import Event, Meta
from events.codec import wrap
from events.vm import VmState

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class World:
    def __init__(self) -> None:
        self.hosts: dict[str, hd.Host] = {}
        self.vms: dict[str, vd.Vm] = {}
        self.rules: dict[str, ad.Rule] = {}
        self.clusters: dict[str, Any] = {}
        self.runs: dict[str, set[str]] = {}  # host id → VMs its hypervisor runs or holds
        self.dead: set[str] = set()  # hosts whose agent no longer answers
        self.failed: dict[str, str] = {}  # task id → why
        self.n = 0
        # placement walks a host index as the controlplane does (a short shortlist, so
        # the property test exercises the hosts it skips)
        self.index = HostIndex()

    # -- the Repository surface that scheduler/evacuation read
    def all(self, kind: str) -> Iterable[Any]:
        tables: dict[str, dict[str, Any]] = {
            "host": self.hosts,
            "vm": self.vms,
            "affinity": self.rules,
            "cluster": self.clusters,
        }
        return list(tables[kind].values())

    def host(self, host_id: str) -> hd.Host | None:
        return self.hosts.get(host_id)

    def vm(self, vm_id: str) -> vd.Vm | None:
        return self.vms.get(vm_id)

    def get(self, kind: str, ident: str) -> tuple[Any, int]:
        return (self.clusters.get(ident) if kind == "cluster" else None), 0

    @property
    def repo(self) -> Repository:
        return cast(Repository, self)

    # -- applying decisions
    def _task(self) -> str:
        self.n += 1
        return f"t{self.n}"

    def host_do(self, host_id: str, command: hd.Command, task: str | None = None) -> list[Event]:
        events = hd.decide(self.hosts.get(host_id), command)
        meta = Meta(actor="t", occurred_at=T0, correlation_id=task)
        state = self.hosts.get(host_id)
        for env in wrap("host", host_id, events, meta):
            state = hd.evolve(state, env)
        assert state is not None
        self.hosts[host_id] = state
        return events

    def vm_do(self, vm_id: str, command: vd.Command, task: str) -> list[Event]:
        events = vd.decide(self.vms.get(vm_id), command)
        meta = Meta(actor="t", occurred_at=T0, correlation_id=task)
        state = self.vms.get(vm_id)
        for env in wrap("vm", vm_id, events, meta):
            state = vd.evolve(state, env)
        assert state is not None
        self.vms[vm_id] = state
        for e in events:
            if type(e).__name__ == "TaskFailed":
                self.failed[task] = e.error  # type: ignore[attr-defined]
        return events

    def add_host(self, host_id: str, cpus: int, memory_mib: int) -> None:
        self.host_do(
            host_id,
            hd.Enroll(
                host_id=host_id,
                name=host_id,
                uri=f"test:///{host_id}",
                cpus=cpus,
                memory_mib=memory_mib,
                cpu_overcommit=1.0,
                memory_overcommit=1.0,
            ),
        )
        self.runs[host_id] = set()

    def add_rule(self, rule: ad.Rule) -> None:
        self.rules[rule.rule_id] = rule

    # -- what the process managers do
    def _reserve(self, ranked: list[hd.Host], vm: vd.Vm, task: str) -> str | None:
        for h in ranked:
            try:
                self.host_do(
                    h.host_id,
                    hd.Reserve(vm_id=vm.vm_id, vcpus=vm.vcpus, memory_mib=vm.memory_mib),
                    task,
                )
            except InsufficientCapacity:
                continue
            return h.host_id
        return None

    def _where(self) -> dict[str, str | None]:
        from controlplane import scheduler

        return scheduler.where(self.repo)

    def _choose(self, ask: placement.Ask) -> tuple[list[hd.Host], Any]:
        self.index.sync(list(self.hosts.values()), {})
        return placement.choose(
            self.index, ask, rules=self.rules.values(), where=self._where(), shortlist=2
        )

    def create(self, vm_id: str, vcpus: int, memory_mib: int, start: bool = True) -> None:
        task = self._task()
        self.vm_do(
            vm_id,
            vd.Create(
                vm_id=vm_id, task_id=task, name=vm_id, vcpus=vcpus, memory_mib=memory_mib,
                start=start,
            ),
            task,
        )  # fmt: skip
        vm = self.vms[vm_id]
        ask = placement.Ask(vm_id=vm_id, vcpus=vcpus, memory_mib=memory_mib)
        ranked, decision = self._choose(ask)
        host_id = self._reserve(ranked, vm, task)
        if host_id is None:
            self.vm_do(vm_id, vd.FailPlacement(task_id=task, reason="no host"), task)
            return
        self.vm_do(vm_id, vd.Place(task_id=task, host_id=host_id, at=T0, decision=decision), task)
        if host_id in self.dead:
            self.vm_do(vm_id, vd.Fail(task_id=task, reason="deadline", state="error"), task)
            return
        self.runs[host_id].add(vm_id)
        state: VmState = "running" if start else "stopped"
        self.vm_do(vm_id, vd.Complete(task_id=task, host_id=host_id, state=state), task)

    def release(self, host_id: str, vm_id: str) -> None:
        self.host_do(host_id, hd.Release(vm_id=vm_id))

    def migrate(self, vm_id: str, to: str | None = None, task: str | None = None) -> bool:
        """A whole migration as ``controlplane.migration`` runs it; True when it moved."""
        task = task or self._task()
        vm = self.vms.get(vm_id)
        if vm is None:
            return False
        try:
            self.vm_do(vm_id, vd.Migrate(task_id=task, host_id=to), task)
        except DomainError:
            return False
        vm = self.vms[vm_id]
        src = vm.host_id
        assert src is not None
        ask = placement.Ask(
            vm_id=vm_id,
            vcpus=vm.vcpus,
            memory_mib=vm.memory_mib,
            exclude=frozenset([src]),
            only=frozenset([to]) if to else None,
        )
        ranked, decision = self._choose(ask)
        dest = self._reserve(ranked, vm, task)
        if dest is None:
            self.vm_do(vm_id, vd.Fail(task_id=task, reason="no host can take the VM"), task)
            return False
        self.vm_do(vm_id, vd.StartMigration(task_id=task, to_host_id=dest, decision=decision), task)
        live = self.vms[vm_id].migration.live  # type: ignore[union-attr]
        if dest in self.dead:  # the destination never answers: the deadline fails it
            self.vm_do(vm_id, vd.Fail(task_id=task, reason="deadline", state="error"), task)
            self.release(dest, vm_id)
            return False
        self.runs[dest].add(vm_id)
        state: VmState = "running" if live else "stopped"
        self.vm_do(vm_id, vd.MigrationTargetReady(task_id=task, host_id=dest, state=state), task)
        if src in self.dead:  # the source never answers: roll the destination back
            self.vm_do(vm_id, vd.Fail(task_id=task, reason="source deadline"), task)
            self.runs[dest].discard(vm_id)
            self.release(dest, vm_id)
            return False
        self.runs[src].discard(vm_id)
        self.vm_do(vm_id, vd.Complete(task_id=task, host_id=src, state="deleted"), task)
        self.release(src, vm_id)
        return True

    def enter_maintenance(self, host_id: str) -> bool:
        plan = evacuation.plan(self.repo, host_id)
        if not plan.ok:
            return False
        task = self._task()
        try:
            self.host_do(
                host_id,
                hm.EnterMaintenance(
                    task_id=task, migrating=tuple(plan.moves), staying=tuple(plan.staying)
                ),
                task,
            )  # fmt: skip
        except DomainError:
            return False
        for vm_id in plan.moves:
            sub = self._task()
            moved = self.migrate(vm_id, task=sub)
            outcome: Literal["migrated", "failed"] = "migrated" if moved else "failed"
            self.host_do(
                host_id,
                hm.EvacuationProgress(
                    task_id=task, vm_id=vm_id, migration_task_id=sub, outcome=outcome
                ),
                task,
            )
        return True

    def exit_maintenance(self, host_id: str) -> None:
        with contextlib.suppress(DomainError):
            self.host_do(host_id, hm.ExitMaintenance(task_id=self._task()))

    def lose_host(self, host_id: str) -> None:
        """The host's agent dies: it is disconnected and its VMs stop answering."""
        self.dead.add(host_id)
        self.host_do(host_id, hd.MarkDisconnected(reason="gone"))
