"""DRS: the leader-only job that proposes (and in ``full`` mode applies) load-balancing moves.

Every ``drs_interval_s`` (or the cluster's own ``drs.interval_s``), for each cluster — or
for all hosts outside any cluster, as one group — the pass:

1. expires open recommendations past their ``expires_at`` or whose VM moved, stopped or
   disappeared meanwhile;
2. builds the plan (``drs_plan.plan``) from the allocations of the group's connected
   hosts as they will be once the open recommendations are carried out (so passes do
   not pile up moves for the same imbalance), leaving out VMs that are busy, not
   running, templates, in an open recommendation or moved by DRS within the cooldown,
   and respecting hard affinity rules (``domain.affinity.violations``) and the per-host
   migration budget;
3. records each move as ``drs.recommendation_created`` (at most ``batch_size``);
4. in ``full`` mode applies every open recommendation of priority ``threshold`` or above
   (``manual`` and ``partial`` only recommend: ``partial`` is about initial placement,
   which placement already does).

Applying — by the API or automatically — opens a migration task through the migration
entry point (``controlplane.migration.request_migration``) and records
``drs.recommendation_applied`` with its task id; a VM that cannot move now makes it
``failed`` with the reason. Load is the measured load (``controlplane.load``) when every
host of the group has a fresh metrics sample, the allocation (reservations) otherwise;
each recommendation says which (``load_basis``). A move must also keep the VM's pools and
networks reachable (``placement.unreachable``), as placement does (docs/drs.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from datetime import datetime, timedelta

from controlplane import drs_plan, migration, placement, scheduler
from controlplane.domain import affinity as ad
from controlplane.domain import cluster as cd
from controlplane.domain import drs as dd
from controlplane.domain.errors import DomainError, InvalidState, UnknownAggregate
from controlplane.domain.host import Host
from controlplane.domain.vm_state import Vm
from controlplane.handlers import Handler
from controlplane.host_index import Figure, allocated
from controlplane.load import LoadView
from events import drs as de
from events.base import Meta, new_id, utcnow
from events.settings import Settings

log = logging.getLogger(__name__)

ACTOR = "system:drs"
NO_CLUSTER = ""


class Policy:
    """The DRS settings of one group: the cluster's, or the global settings."""

    def __init__(self, settings: Settings, cluster: cd.Cluster | None) -> None:
        self.mode: str
        if cluster is not None:
            d = cluster.drs
            self.mode, self.threshold, self.interval_s = d.mode, d.threshold, d.interval_s
            self.batch_size, self.cooldown_s = d.batch_size, d.cooldown_s
        else:
            self.mode = settings.drs_mode
            self.threshold = settings.drs_threshold
            self.interval_s = settings.drs_interval_s
            self.batch_size = settings.drs_batch_size
            self.cooldown_s = settings.drs_cooldown_s
        self.tolerance = settings.drs_tolerance
        self.max_per_host = settings.drs_max_migrations_per_host
        self.ttl_s = settings.drs_recommendation_ttl_s


class Drs:
    def __init__(self, handler: Handler, settings: Settings, load: LoadView | None = None) -> None:
        self.handler = handler
        self.repo = handler.repo
        self.settings = settings
        self.load = load
        self.basis: dict[str, str] = {}  # group → the load its last plan used
        self._last_pass: dict[str, float] = {}  # group → monotonic time of its last pass
        self.last_pass_s = 0.0  # duration of the last pass (seconds), for tests and logs

    # -- the job -------------------------------------------------------------------------

    async def run(self, tick: float = 1.0) -> None:
        """Leader-only: pass over every group when its interval has elapsed."""
        if self.settings.drs_interval_s <= 0:
            await asyncio.Event().wait()  # DRS switched off
        while True:
            try:
                await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("DRS pass failed")
            await asyncio.sleep(tick)

    async def run_due(self, force: bool = False) -> list[dd.Recommendation]:
        made: list[dd.Recommendation] = []
        await self.expire(utcnow())
        for rec in self.open_recommendations(None):
            if rec.state == "approved":  # approved by someone: carry it out now
                try:
                    await self.apply(rec.recommendation_id, ACTOR)
                except DomainError as exc:
                    log.warning("approved recommendation %s failed: %s", rec.recommendation_id, exc)
        for group, policy in self.groups().items():
            last = self._last_pass.get(group)
            if not force and last is not None and time.monotonic() - last < policy.interval_s:
                continue
            self._last_pass[group] = time.monotonic()
            made += await self.pass_once(group, policy)
        return made

    def groups(self) -> dict[str, Policy]:
        clusters = {
            c.cluster_id: c
            for c in self.repo.all("cluster")
            if isinstance(c, cd.Cluster) and not c.deleted
        }
        out = {cid: Policy(self.settings, c) for cid, c in clusters.items()}
        if any((h.cluster_id or NO_CLUSTER) not in clusters for h in self.repo.all("host")):
            out[NO_CLUSTER] = Policy(self.settings, None)
        return out

    async def pass_once(self, group: str, policy: Policy) -> list[dd.Recommendation]:
        """One DRS pass over one group: record the plan's moves, apply what ``full`` may."""
        started = time.perf_counter()
        now = utcnow()
        moves = self.plan(group, policy, now)
        self.last_pass_s = time.perf_counter() - started
        made: list[dd.Recommendation] = []
        for move in moves:
            rid = new_id()
            event = de.DrsRecommendationCreated(
                recommendation_id=rid,
                cluster_id=group,
                vm_id=move.vm_id,
                from_host_id=move.from_host_id,
                to_host_id=move.to_host_id,
                priority=move.priority,
                improvement=move.improvement,
                imbalance_before=move.imbalance_before,
                imbalance_after=move.imbalance_after,
                reason=f"{move.reason} ({_BASIS[self.basis.get(group, 'allocation')]})",
                expires_at=now + timedelta(seconds=policy.ttl_s),
                load_basis=self.basis.get(group, "allocation"),
            )
            meta = Meta(actor=ACTOR, occurred_at=now)
            await self.handler.execute("drs", rid, dd.decider(dd.Create(event=event)), meta)
            rec = self.repo.get("drs", rid)[0]
            if rec is not None:
                made.append(rec)
        if moves:
            log.info(
                "DRS %s: %d recommendations (imbalance %.3f → %.3f) in %.1f ms",
                group or "(no cluster)", len(moves), moves[0].imbalance_before,
                moves[-1].imbalance_after, self.last_pass_s * 1000,
            )  # fmt: skip
        if policy.mode == "full":
            for rec in self.open_recommendations(group):
                if rec.priority >= policy.threshold:
                    await self.apply(rec.recommendation_id, ACTOR, automatic=True)
        return made

    # -- planning ------------------------------------------------------------------------

    def plan(self, group: str, policy: Policy, now: datetime) -> list[drs_plan.Move]:
        hosts = [
            h
            for h in self.repo.all("host")
            if h.state == "connected" and (h.cluster_id or NO_CLUSTER) == group
        ]
        host_ids = {h.host_id for h in hosts}
        open_vms = {r.vm_id for r in self.open_recommendations(None)}
        cooling = self.cooling_down(now, policy.cooldown_s)
        busy: dict[str, int] = {}
        movable: list[drs_plan.VmLoad] = []
        needs: dict[str, placement.Ask] = {}  # VMs with pools/networks other than default
        for vm in self.repo.all("vm"):
            if vm.host_id not in host_ids or vm.state == "deleted":
                continue
            if vm.pending is not None:
                busy[vm.host_id] = busy.get(vm.host_id, 0) + 1
                continue
            if vm.state != "running" or vm.template or vm.vm_id in open_vms:
                continue
            if vm.vm_id in cooling:
                continue
            movable.append(
                drs_plan.VmLoad(vm.vm_id, vm.host_id, vm.vcpus, vm.memory_mib, _labels(vm))
            )
            if vm.disks or vm.nics:
                pools, networks = scheduler.reach(self.repo, vm)
                if pools or networks:
                    needs[vm.vm_id] = placement.Ask(
                        vm_id=vm.vm_id, vcpus=0, memory_mib=0, pools=pools, networks=networks
                    )
        hard = [r for r in scheduler.rules(self.repo) if r.hard]
        figures = self.load.fresh() if self.load is not None else {}
        measured = bool(hosts) and all(h.host_id in figures for h in hosts)
        self.basis[group] = "metrics" if measured else "allocation"
        loads = {h.host_id: _host_load(h, figures if measured else {}) for h in hosts}
        where = scheduler.where(self.repo) if hard else None
        # Plan on top of the open recommendations, as if they were carried out already:
        # a pass adds moves only while the cluster would still be uneven after them.
        for rec in self.open_recommendations(group):
            vm = self.repo.vm(rec.vm_id)
            src, dst = loads.get(rec.from_host_id), loads.get(rec.to_host_id)
            if vm is None or vm.host_id != rec.from_host_id or src is None or dst is None:
                continue
            src.vcpus -= vm.vcpus
            src.memory_mib -= vm.memory_mib
            dst.vcpus += vm.vcpus
            dst.memory_mib += vm.memory_mib
            if where is not None:
                where[vm.vm_id] = rec.to_host_id
        return drs_plan.plan(
            list(loads.values()),
            movable,
            tolerance=policy.tolerance,
            batch_size=policy.batch_size,
            max_per_host=policy.max_per_host,
            busy=busy,
            allowed=_check(hard, needs, {h.host_id: h for h in hosts}),
            where=where,
        )

    def open_recommendations(self, group: str | None) -> list[dd.Recommendation]:
        return [
            r for r in self.repo.all("drs") if r.open and (group is None or r.cluster_id == group)
        ]

    def cooling_down(self, now: datetime, cooldown_s: float) -> set[str]:
        """VMs a DRS recommendation moved (applied) less than ``cooldown_s`` ago."""
        since = now - timedelta(seconds=cooldown_s)
        return {
            r.vm_id
            for r in self.repo.all("drs")
            if r.state == "applied" and r.ended_at is not None and r.ended_at >= since
        }

    # -- acting on recommendations --------------------------------------------------------

    async def expire(self, now: datetime) -> None:
        for rec in self.open_recommendations(None):
            vm = self.repo.vm(rec.vm_id)
            why = ""
            if rec.expires_at <= now:
                why = "not acted on in time"
            elif vm is None or vm.state == "deleted":
                why = "the VM is gone"
            elif vm.host_id != rec.from_host_id:
                why = "the VM moved meanwhile"
            elif vm.state != "running" and vm.pending is None:
                why = f"the VM is {vm.state}"
            if why:
                meta = Meta(actor=ACTOR, occurred_at=now)
                await self.handler.execute(
                    "drs", rec.recommendation_id, dd.decider(dd.Expire(reason=why)), meta
                )

    async def decide(self, rec_id: str, command: dd.Command, actor: str) -> int:
        meta = Meta(actor=actor, occurred_at=utcnow())
        out = await self.handler.execute("drs", rec_id, dd.decider(command), meta)
        return out.seq

    async def apply(self, rec_id: str, actor: str, *, automatic: bool = False) -> tuple[str, int]:
        """Open the recommendation's migration task; ``(task_id, seq)``. A VM that cannot
        move now fails the recommendation (with the reason) and raises that error."""
        rec: dd.Recommendation | None = self.repo.get("drs", rec_id)[0]
        if rec is None:
            raise UnknownAggregate(dd.KIND, rec_id)
        if not rec.open:
            raise InvalidState(
                f"recommendation {rec_id} is {rec.state}", slug="recommendation-ended"
            )
        task_id = new_id()
        try:
            await migration.request_migration(
                self.handler,
                rec.vm_id,
                host_id=rec.to_host_id,
                task_id=task_id,
                actor=actor,
                reason=f"DRS recommendation {rec_id}",
            )
        except DomainError as exc:
            await self.decide(rec_id, dd.MarkFailed(reason=str(exc)), actor)
            raise
        seq = await self.decide(rec_id, dd.MarkApplied(task_id=task_id, automatic=automatic), actor)
        log.info("DRS recommendation %s applied as task %s", rec_id, task_id)
        return task_id, seq


def _labels(vm: Vm) -> Mapping[str, str]:
    return vm.placement_labels


_BASIS = {"metrics": "measured load", "allocation": "load by allocation"}


def _host_load(h: Host, figures: Mapping[str, Figure]) -> drs_plan.HostLoad:
    figure = figures.get(h.host_id)
    return drs_plan.HostLoad(
        h.host_id,
        h.vcpu_capacity,
        h.memory_capacity_mib,
        h.allocated_vcpus,
        h.allocated_memory_mib,
        h.labels,
        offset=figure.busy - allocated(h) if figure is not None else 0.0,
    )


def _check(
    hard: list[ad.Rule], needs: Mapping[str, placement.Ask], hosts: Mapping[str, Host]
) -> drs_plan.Allowed | None:
    """Whether a VM may go to a host: its hard rules, and its pools and networks there."""
    if not hard and not needs:
        return None

    def allowed(vm_id: str, host_id: str, where: Mapping[str, str | None]) -> bool:
        ask = needs.get(vm_id)
        if ask is not None and placement.unreachable(ask, hosts[host_id]) is not None:
            return False
        mine = ad.rules_for(hard, vm_id)
        return not mine or not ad.violations(mine, vm_id, host_id, where)

    return allowed
