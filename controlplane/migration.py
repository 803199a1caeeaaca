"""Live migration and host evacuation: a process manager on its own durable consumer.

``request_migration`` is the one entry point for every move (the migrate route, host
evacuation, HA and DRS): it opens the VM's ``vm.migrate`` task. ``MigrationProcess``
follows the stream through the durable consumer ``controlplane-migration`` (shared by
the replicas; ``consuming.consume_by_key``: migrations of different VMs side by side, each
VM's and each host's in stream order, ``migration_keys``) and carries each migration out:

1. **Queue.** A requested migration starts when the concurrency budgets allow it:
   ``migrations_per_host`` running migrations touching its source or destination and
   ``migrations_per_cluster`` whose source is in its source's cluster. Others wait, in
   request order, and are started as running ones end (and by a sweep every second).
2. **Reserve on the destination** (the requested host, or the best placement: filters,
   hard affinity rules, the source's cluster) through the host aggregate, then
   ``vm.migration_started`` with the placement decision.
3. **Orders.** On hosts of libvirt's test driver (``handoff``): ``define_vm`` with the
   VM's full spec (started for a live move) to the destination, then, when it reports
   done (``vm.migration_target_ready``), ``migrate_vm`` to the source, which destroys
   and undefines its copy. On real hypervisors (``p2p``): ``migrate_vm`` to the source,
   which runs libvirt's peer-to-peer migration.
4. **Release on the source** after ``vm.migrated`` — the VM's one host change.

Failure at any step (an order failed, a deadline passed, no destination) ends the task
with ``vm.migration_failed``: the VM stays on its source; the destination's reservation
is released and, if it may have got a copy, it is ordered to delete it (keeping
volumes; the order waits in the host's queue if the host is away).

Evacuation (``host.maintenance_entered``) requests one migration per VM the host lists,
with task ids derived from the evacuation's task, and records each one's start and end
on the host (``host.evacuation_progressed``). Every reaction is idempotent: it acts only
while the VM's task is still the migration, reservations are keyed by VM and orders
carry stable ids.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Hashable
from datetime import timedelta

from controlplane import scheduler
from controlplane.consuming import consume_by_key
from controlplane.domain import host as hd
from controlplane.domain import host_maintenance as hm
from controlplane.domain import vm as vd
from controlplane.domain.errors import DomainError, InsufficientCapacity
from controlplane.handlers import Handler, Outcome
from controlplane.processes import SYSTEM, order_id
from events import host as he
from events import orders as od
from events import vm as ve
from events.base import Meta, new_id, utcnow
from events.bus import Bus
from events.codec import Envelope, StoredEvent
from events.settings import Settings

log = logging.getLogger(__name__)

CONSUMER = "controlplane-migration"
ROLLBACK_DEADLINE = timedelta(days=1)  # a destination that is away deletes its copy later
_TASKS = uuid.UUID("5b0c2f4e-8a61-4f0e-9b7d-3c1e2a4d6f80")


async def request_migration(
    handler: Handler,
    vm_id: str,
    *,
    host_id: str | None = None,
    task_id: str,
    actor: str,
    reason: str = "",
    idempotency_key: str = "",
    causation_id: str | None = None,
    traceparent: str | None = None,
) -> Outcome:
    """Open the ``vm.migrate`` task of ``vm_id`` (to ``host_id``, or wherever placement
    chooses). Raises ``DomainError`` when the VM cannot move now."""
    meta = Meta(
        actor=actor,
        occurred_at=utcnow(),
        correlation_id=task_id,
        causation_id=causation_id or new_id(),
        traceparent=traceparent,
    )
    command = vd.Migrate(
        task_id=task_id, host_id=host_id, reason=reason, idempotency_key=idempotency_key
    )
    return await handler.execute("vm", vm_id, vd.decider(command), meta)


def evacuation_task_id(evacuation_task_id: str, vm_id: str) -> str:
    """The migration task of ``vm_id`` in an evacuation (stable under redelivery)."""
    return str(uuid.uuid5(_TASKS, f"{evacuation_task_id}:{vm_id}"))


def migration_keys(se: StoredEvent) -> tuple[Hashable, ...] | None:
    """What the reaction to ``se`` depends on (``consuming.consume_by_key``), ``None`` for
    the events this process manager does not react to (most of the stream).

    A VM's migration steps stay in stream order (its VM); the end of a migration also
    releases a reservation and records evacuation progress on its hosts, and a host's
    evacuation requests its VMs' migrations: those stay in order per host. Starting queued
    migrations (``pump``) reads every migration under its own lock, so a request needs no
    key: its reaction only pumps."""
    e = se.envelope.event
    match e:
        case ve.VmMigrationRequested():
            return ()
        case ve.VmMigrationStarted() | ve.VmMigrationTargetReady():
            return (("vm", e.vm_id),)
        case ve.VmMigrated() | ve.VmMigrationFailed():
            hosts = {h for h in (e.from_host_id, e.to_host_id) if h is not None}
            return (("vm", e.vm_id), *(("host", h) for h in sorted(hosts)))
        case he.HostMaintenanceEntered():
            return (("host", e.host_id),)
    return None


def mode_for(source: hd.Host | None) -> ve.MigrationMode:
    """``handoff`` between hosts on libvirt's test driver, ``p2p`` between real ones."""
    return "handoff" if source is None or source.uri.startswith("test:") else "p2p"


def _meta(env: Envelope | None, task_id: str | None) -> Meta:
    return Meta(
        actor=SYSTEM,
        occurred_at=utcnow(),
        correlation_id=task_id,
        causation_id=env.event_id if env else None,
        traceparent=env.traceparent if env else None,
    )


class MigrationProcess:
    def __init__(
        self,
        bus: Bus,
        handler: Handler,
        settings: Settings,
        placer: scheduler.Placer | None = None,
    ) -> None:
        self.bus = bus
        self.handler = handler
        self.repo = handler.repo
        self.settings = settings
        self.placer = placer or scheduler.Placer(self.repo, settings)  # fleet strategy
        self._pump_lock = asyncio.Lock()

    async def run(self) -> None:
        sweeper = asyncio.create_task(self._sweep(), name="migration-sweep")
        try:
            await consume_by_key(
                self.bus.store,
                self.repo,
                CONSUMER,
                "lq.evt.>",
                handle=self.handle,
                name="migration process",
                keys=migration_keys,
            )
        finally:
            sweeper.cancel()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                await self.pump()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("migration sweep failed")

    async def handle(self, se: StoredEvent) -> None:
        env = se.envelope
        e = env.event
        try:
            match e:
                case ve.VmMigrationRequested():
                    await self.pump()
                case ve.VmMigrationStarted():
                    await self.first_order(env, e)
                case ve.VmMigrationTargetReady():
                    await self.source_order(env, e.vm_id)
                case ve.VmMigrated():
                    await self.release(env, e.from_host_id, e.vm_id)
                    await self.evacuation_step(env, e.from_host_id, e.vm_id, "migrated", "")
                    await self.pump()
                case ve.VmMigrationFailed():
                    await self.rollback(env, e)
                    await self.evacuation_step(env, e.from_host_id, e.vm_id, "failed", e.reason)
                    await self.pump()
                case he.HostMaintenanceEntered():
                    await self.evacuate(env, e)
        except DomainError as exc:
            log.warning("%s %s: %s ignored: %s", env.type, env.aggregate_id, env.event_id, exc)

    # ------------------------------------------------------------ queue and budgets

    def _cluster(self, host_id: str | None) -> str:
        host = self.repo.host(host_id) if host_id else None
        return (host.cluster_id or "") if host is not None else ""

    async def pump(self) -> None:
        """Start queued migrations, oldest first, while the budgets allow."""
        async with self._pump_lock:
            per_host: dict[str, int] = {}
            per_cluster: dict[str, int] = {}
            queued: list[vd.Vm] = []
            for vm in self.repo.pending("vm"):
                p = vm.pending
                if p is None or p.operation != "migrate":
                    continue
                m = vm.migration
                if m is None:
                    queued.append(vm)
                    continue
                for h in (m.from_host_id, m.to_host_id):
                    per_host[h] = per_host.get(h, 0) + 1
                c = self._cluster(m.from_host_id)
                per_cluster[c] = per_cluster.get(c, 0) + 1
            queued.sort(key=lambda v: (v.pending.queued_at if v.pending else None) or utcnow())
            for vm in queued:
                src = vm.host_id or ""
                c = self._cluster(src)
                if per_cluster.get(c, 0) >= self.settings.migrations_per_cluster:
                    continue
                if per_host.get(src, 0) >= self.settings.migrations_per_host:
                    continue
                dest = await self.start(vm, per_host)
                if dest is not None:
                    per_host[src] = per_host.get(src, 0) + 1
                    per_host[dest] = per_host.get(dest, 0) + 1
                    per_cluster[c] = per_cluster.get(c, 0) + 1

    async def start(self, vm: vd.Vm, busy: dict[str, int]) -> str | None:
        """Choose and reserve the destination, then ``vm.migration_started``; the
        destination's id, or None when the migration did not start (failed, or every
        fitting host is at its budget — it stays queued)."""
        p = vm.pending
        if p is None or vm.host_id is None or not isinstance(p.request, ve.VmMigrationRequested):
            return None
        task_id = p.task_id
        meta = _meta(None, task_id)
        wanted = p.request.host_id
        ask = scheduler.ask_for(
            self.repo,
            vm,
            exclude=[vm.host_id],
            only=[wanted] if wanted else None,
            stay_in_cluster_of=None if wanted else vm.host_id,
        )
        ranked, decision = self.placer.choose(ask, moving_from=vm.host_id)
        reasons = [c.reason for c in decision.candidates if not c.accepted]
        if wanted and self.repo.host(wanted) is None:
            reasons = [f"host {wanted} is not enrolled"]
        chosen: hd.Host | None = None
        waiting = False
        for host in ranked:
            if busy.get(host.host_id, 0) >= self.settings.migrations_per_host:
                waiting = True
                continue
            try:
                await self.handler.execute(
                    "host",
                    host.host_id,
                    hd.decider(
                        hd.Reserve(vm_id=vm.vm_id, vcpus=vm.vcpus, memory_mib=vm.memory_mib)
                    ),
                    meta,
                )
            except InsufficientCapacity as exc:
                reasons.append(str(exc))
                continue
            chosen = host
            break
        if chosen is None:
            if waiting:
                return None
            why = "no host can take the VM: " + ("; ".join(reasons[:5]) or "no other hosts")
            await self.handler.execute(
                "vm", vm.vm_id, vd.decider(vd.Fail(task_id=task_id, reason=why)), meta
            )
            return None
        start = vd.StartMigration(
            task_id=task_id,
            to_host_id=chosen.host_id,
            mode=mode_for(self.repo.host(vm.host_id)),
            decision=decision,
        )
        out = await self.handler.execute("vm", vm.vm_id, vd.decider(start), meta)
        if not out.changed:
            await self.release(None, chosen.host_id, vm.vm_id)
            return None
        log.info("vm %s migrating %s → %s", vm.vm_id, vm.host_id, chosen.host_id)
        return chosen.host_id

    # ------------------------------------------------------------ orders

    def _current(self, vm_id: str, task_id: str | None) -> vd.Vm | None:
        vm = self.repo.vm(vm_id)
        if vm is None or task_id is None or vm.migration is None:
            return None
        if vm.pending is None or vm.pending.task_id != task_id:
            return None
        return vm

    async def _send(self, env: Envelope, host_id: str, op: str, body: od.AnyOrder) -> None:
        task_id = env.correlation_id or ""
        now = utcnow()
        deadline = (
            now + ROLLBACK_DEADLINE
            if op == "migrate_rollback"
            else now + timedelta(seconds=self.settings.order_timeout_s)
        )
        await self.bus.send_order(
            od.Order(
                order_id=order_id(task_id, op),
                host_id=host_id,
                task_id=task_id,
                issued_at=now,
                deadline=deadline,
                traceparent=env.traceparent,
                body=body,
            )
        )
        log.info("order %s sent to host %s for vm %s", op, host_id, getattr(body, "vm_id", ""))

    async def first_order(self, env: Envelope, e: ve.VmMigrationStarted) -> None:
        vm = self._current(e.vm_id, env.correlation_id)
        if vm is None or vm.migration is None or vm.migration.target_ready:
            return
        if vm.migration.mode == "p2p":
            await self.source_order(env, e.vm_id)
            return
        define = od.DefineVm(
            vm_id=vm.vm_id,
            name=vm.name,
            vcpus=vm.vcpus,
            memory_mib=vm.memory_mib,
            start=vm.migration.live,
            disks=vm.disks,
            nics=vm.nics,
            firmware=vm.firmware,
            machine=vm.machine,
            boot_order=vm.boot_order,
            max_vcpus=vm.max_vcpus,
            max_memory_mib=vm.max_memory_mib,
            cloud_init=vm.cloud_init,
            kernel=vm.kernel,
            initrd=vm.initrd,
            cmdline=vm.cmdline,
        )
        await self._send(env, e.to_host_id, "migrate_in", define)

    async def source_order(self, env: Envelope, vm_id: str) -> None:
        vm = self._current(vm_id, env.correlation_id)
        if vm is None or vm.migration is None or vm.host_id is None:
            return
        m = vm.migration
        dest = self.repo.host(m.to_host_id)
        body = od.MigrateVm(
            vm_id=vm_id,
            to_host_id=m.to_host_id,
            to_uri=dest.uri if dest is not None else "",
            mode=m.mode,
            live=m.live,
        )
        await self._send(env, vm.host_id, "migrate", body)

    async def release(self, env: Envelope | None, host_id: str, vm_id: str) -> None:
        vm = self.repo.vm(vm_id)
        if vm is not None and vm.host_id == host_id and vm.state != "deleted":
            return  # the VM (still or again) lives there
        if vm is not None and vm.migration is not None and vm.migration.to_host_id == host_id:
            return  # another replica started this migration to the same host: it holds it
        host = self.repo.host(host_id)
        if host is None or vm_id not in host.reservations:
            return
        meta = _meta(env, env.correlation_id if env else None)
        await self.handler.execute("host", host_id, hd.decider(hd.Release(vm_id=vm_id)), meta)

    async def rollback(self, env: Envelope, e: ve.VmMigrationFailed) -> None:
        if e.to_host_id is None:
            return
        vm = self.repo.vm(e.vm_id)
        if vm is not None and vm.host_id == e.to_host_id:
            return
        dest = self.repo.host(e.to_host_id)
        if dest is not None and mode_for(self.repo.host(e.from_host_id)) == "handoff":
            await self._send(
                env, e.to_host_id, "migrate_rollback", od.DeleteVm(vm_id=e.vm_id, keep_disks=True)
            )
        await self.release(env, e.to_host_id, e.vm_id)

    # ------------------------------------------------------------ evacuation

    async def evacuate(self, env: Envelope, e: he.HostMaintenanceEntered) -> None:
        host = self.repo.host(e.host_id)
        evac = host.evacuation if host is not None else None
        if evac is None or evac.task_id != env.correlation_id:
            return
        for vm_id in evac.remaining:
            if vm_id in evac.started:
                continue
            task_id = evacuation_task_id(evac.task_id, vm_id)
            vm = self.repo.vm(vm_id)
            outcome: hm.EvacuationProgress
            if vm is not None and vm.pending is not None and vm.pending.task_id == task_id:
                outcome = hm.EvacuationProgress(
                    task_id=evac.task_id, vm_id=vm_id, migration_task_id=task_id, outcome="started"
                )
            elif vm is None or vm.host_id != e.host_id or vm.state == "deleted":
                outcome = hm.EvacuationProgress(
                    task_id=evac.task_id,
                    vm_id=vm_id,
                    migration_task_id=task_id,
                    outcome="migrated",
                    message="no longer on the host",
                )
            else:
                try:
                    await request_migration(
                        self.handler,
                        vm_id,
                        task_id=task_id,
                        actor=SYSTEM,
                        reason=f"evacuation of host {host.name if host else e.host_id}",
                        causation_id=env.event_id,
                        traceparent=env.traceparent,
                    )
                    outcome = hm.EvacuationProgress(
                        task_id=evac.task_id,
                        vm_id=vm_id,
                        migration_task_id=task_id,
                        outcome="started",
                    )
                except DomainError as exc:
                    outcome = hm.EvacuationProgress(
                        task_id=evac.task_id,
                        vm_id=vm_id,
                        migration_task_id=task_id,
                        outcome="failed",
                        message=str(exc),
                    )
            await self.handler.execute(
                "host", e.host_id, hd.decider(outcome), _meta(env, evac.task_id)
            )

    async def evacuation_step(
        self, env: Envelope, host_id: str, vm_id: str, outcome: str, message: str
    ) -> None:
        host = self.repo.host(host_id)
        evac = host.evacuation if host is not None else None
        if evac is None or vm_id not in evac.remaining:
            return
        step = hm.EvacuationProgress(
            task_id=evac.task_id,
            vm_id=vm_id,
            migration_task_id=env.correlation_id or "",
            outcome="migrated" if outcome == "migrated" else "failed",
            message=message,
        )
        await self.handler.execute("host", host_id, hd.decider(step), _meta(env, evac.task_id))
