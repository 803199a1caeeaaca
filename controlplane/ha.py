"""High availability: declare silent hosts down and restart their HA VMs elsewhere.

A leader-only job (``controlplane.leader``), run every ``ha_interval_s``. It follows the
heartbeat and lease buckets while it runs (``events.kvwatch``: each put arrives once, a
sweep reads memory; the heartbeats' follower is the liveness check's own):

1. **Protection.** Each host's HA-enabled VMs are written to ``lq_ha_protection``; the
   host's agent reads them with every lease renewal and echoes the set in its lease
   (``agent.fencing``): the VMs it will destroy if it loses its lease. A host in a
   cluster whose HA is off (``ha.enabled``) protects nothing, so it neither fences nor
   has anything restarted; a VM without its own priority takes its cluster's
   ``ha.restart_priority``.
2. **Down.** A host the liveness sweep marked ``disconnected`` whose lease is older than
   ``heartbeat_timeout_s + ha_down_grace_s`` becomes ``down`` (``host.marked_down``); a
   down host whose heartbeat returns is ``connected`` again.
3. **Fencing reports.** A lease that reports a fencing newer than the host's last one is
   recorded (``host.fenced``); fenced VMs still assigned to that host are restarted. A
   ``disconnected`` host's report waits until the host is connected again.
4. **Restarts.** Once a down host's lease is older than its fence time plus
   ``ha_fence_margin_s`` — the agent has certainly destroyed its protected VMs, or is dead
   — the VMs its last lease protected are restarted, highest ``ha_priority`` first: any
   task they had on the dead host is failed, capacity is reserved on another host of the
   same cluster chosen by placement (its filters and hard affinity rules; admission
   control: a VM that fits nowhere gets ``vm.ha_restart_failed`` and is tried again every
   sweep, so higher priorities take the room first),
   ``vm.ha_restarted`` moves the VM there, the old reservation is released and
   ``order.define_vm`` (with start) goes to the new host. The disks were on the dead
   host: a restart keeps the VM's data only with shared storage (docs/ha.md).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import msgspec

from controlplane import placement, scheduler
from controlplane.domain import cluster as cd
from controlplane.domain import host as hd
from controlplane.domain import vm as vd
from controlplane.domain import vm_ha
from controlplane.domain.errors import DomainError, InsufficientCapacity
from controlplane.handlers import Handler
from controlplane.processes import order_for, order_id
from events import cluster as ce
from events import orders as od
from events import vm as ve
from events.base import Meta, new_id, utcnow
from events.bus import Bus
from events.errors import StoreUnavailable
from events.ha import HOST_LEASE_DECODER, HaProtection, HostLease
from events.kvwatch import KvFollower
from events.provision import HOST_LEASE_TTL_S, heartbeat_ttl_s
from events.reports import HEARTBEAT_DECODER, Heartbeat
from events.settings import Settings
from events.subjects import HEARTBEAT_BUCKET, HOST_LEASE_BUCKET

log = logging.getLogger(__name__)

ACTOR = "system:ha"


class HaWatch:
    """The HA sweep; ``run`` is the leader-only job."""

    def __init__(
        self,
        bus: Bus,
        handler: Handler,
        settings: Settings,
        placer: scheduler.Placer | None = None,
        beats: KvFollower[Heartbeat] | None = None,
    ) -> None:
        self.bus = bus
        self.beats = beats or KvFollower(
            bus, HEARTBEAT_BUCKET, HEARTBEAT_DECODER, heartbeat_ttl_s(settings)
        )
        self.leases = KvFollower(bus, HOST_LEASE_BUCKET, HOST_LEASE_DECODER, HOST_LEASE_TTL_S)
        self.handler = handler
        self.repo = handler.repo
        self.settings = settings
        self.placer = placer or scheduler.Placer(self.repo, settings)
        self._written: dict[str, tuple[str, ...]] | None = None  # protection as last written
        self._protected_at = -1  # the repository's seq the written protection is of
        self._failed: set[tuple[str, str]] = set()  # (vm, from host) told "no room"

    async def run(self) -> None:
        # a new leader gives agents one heartbeat timeout, as the liveness sweep does
        async with self.beats.following(), self.leases.following():
            await asyncio.sleep(self.settings.heartbeat_timeout_s)
            while True:
                try:
                    await self.sweep()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("HA sweep failed")
                await asyncio.sleep(self.settings.ha_interval_s)

    async def sweep(self, now: datetime | None = None) -> None:
        now = now or utcnow()
        await self.sync_protection()
        leases = await self.leases.values()
        beats = await self.beats.values()
        for host in list(self.repo.all("host")):
            lease = leases.get(host.host_id)
            await self._track_state(host, lease, beats.get(host.host_id), now)
            fresh = self.repo.host(host.host_id)  # _track_state may have changed its state
            if fresh is not None and lease is not None and lease.fenced_at is not None:
                await self._record_fencing(fresh, lease)
        for host in list(self.repo.all("host")):
            lease = leases.get(host.host_id)
            if host.state == "down" and lease is not None and _fenced_by_time(lease, now, self):
                await self.restart_from(host, _protected(lease), "its host is down")

    # -- 1. protection --------------------------------------------------------------------

    def cluster_ha(self, host: hd.Host | None) -> ce.HaSettings | None:
        """The HA settings of the host's cluster (None: the host is in no cluster)."""
        if host is None or host.cluster_id is None:
            return None
        cluster = self.repo.get("cluster", host.cluster_id)[0]
        if not isinstance(cluster, cd.Cluster) or cluster.deleted:
            return None
        return cluster.ha

    def protection(self) -> dict[str, tuple[str, ...]]:
        """Every host's HA-enabled VMs, as the repository holds them. A host in a cluster
        whose HA is off protects nothing: it never fences, nothing of it is restarted."""
        hosts = {h.host_id: h for h in self.repo.all("host")}
        out: dict[str, list[str]] = {h: [] for h in hosts}
        for vm in self.repo.all("vm"):
            if not vm.ha_enabled or vm.host_id is None or vm.state == "deleted":
                continue
            settings = self.cluster_ha(hosts.get(vm.host_id))
            if settings is not None and not settings.enabled:
                continue
            out.setdefault(vm.host_id, []).append(vm.vm_id)
        return {h: tuple(sorted(ids)) for h, ids in out.items()}

    def priority(self, vm: vd.Vm) -> int:
        """The VM's restart priority, or its cluster's default when it has none."""
        if vm.ha_priority:
            return vm.ha_priority
        settings = self.cluster_ha(self.repo.host(vm.host_id) if vm.host_id else None)
        return settings.restart_priority if settings is not None else 0

    async def sync_protection(self) -> None:
        """Write each host's protection that changed. It follows from the repository
        alone, so nothing is recomputed (every host and VM) while no event arrived."""
        seq = self.repo.seq
        if self._written is None:
            self._written = {h: p.vm_ids for h, p in (await self.bus.ha_protections()).items()}
        elif seq == self._protected_at:
            return
        for host_id, vm_ids in self.protection().items():
            if self._written.get(host_id) != vm_ids:
                await self.bus.put_ha_protection(HaProtection(host_id=host_id, vm_ids=vm_ids))
                self._written[host_id] = vm_ids
        self._protected_at = seq  # all written: nothing to do until the next event

    # -- 2. down and back -----------------------------------------------------------------

    async def _track_state(
        self, host: hd.Host, lease: HostLease | None, beat: Heartbeat | None, now: datetime
    ) -> None:
        meta = Meta(actor=ACTOR, occurred_at=now)
        alive = beat is not None and (now - beat.at).total_seconds() <= (
            self.settings.heartbeat_timeout_s
        )
        if host.state == "down" and alive:
            await self.handler.execute("host", host.host_id, hd.decider(hd.MarkConnected()), meta)
            log.info("host %s is back", host.name)
            return
        if host.state != "disconnected":
            return
        silent_for = (now - lease.renewed_at).total_seconds() if lease is not None else None
        limit = self.settings.heartbeat_timeout_s + self.settings.ha_down_grace_s
        if silent_for is not None and silent_for <= limit:
            return
        if silent_for is None and beat is not None and (now - beat.at).total_seconds() <= limit:
            return
        reason = (
            f"no lease renewal for {silent_for:.0f} s"
            if silent_for is not None
            else "no heartbeat and no HA lease"
        )
        await self.handler.execute(
            "host", host.host_id, hd.decider(hd.MarkDown(reason=reason)), meta
        )
        log.warning("host %s is down: %s", host.name, reason)

    # -- 3. fencing reports ---------------------------------------------------------------

    async def _record_fencing(self, host: hd.Host, lease: HostLease) -> None:
        assert lease.fenced_at is not None
        if host.fenced_at is not None and lease.fenced_at <= host.fenced_at:
            return
        if host.state == "disconnected":
            # Back on NATS but not yet heartbeating (a write lost in the partition delays
            # its heartbeat past its lease): once it is connected, this fencing is recorded
            # and its VMs restarted. Recorded now, nothing would ever restart them.
            return
        meta = Meta(actor=f"agent:{host.name}", occurred_at=utcnow())
        command = hd.RecordFencing(fenced_at=lease.fenced_at, vm_ids=lease.fenced)
        await self.handler.execute("host", host.host_id, hd.decider(command), meta)
        log.warning("host %s fenced itself at %s: %s", host.name, lease.fenced_at, lease.fenced)
        if host.state == "connected":  # it came back before anyone restarted them
            await self.restart_from(host, set(lease.fenced), "its host fenced it", same_ok=True)

    # -- 4. restarts ----------------------------------------------------------------------

    def candidates(self, host_id: str, protected: set[str], fenced: bool = False) -> list[vd.Vm]:
        """HA VMs of ``host_id`` to restart, highest priority first (``fenced``: the host
        destroyed them itself, so a VM it reported stopped meanwhile is one too)."""
        vms = [
            vm
            for vm in self.repo.all("vm")
            if vm.host_id == host_id
            and vm.ha_enabled
            and vm.vm_id in protected
            and (
                vm.state in vm_ha.RESTARTABLE
                or vm.pending is not None
                or (fenced and vm.state == "stopped")
            )
        ]
        return sorted(vms, key=lambda v: (-self.priority(v), v.name, v.vm_id))

    async def restart_from(
        self, host: hd.Host, protected: set[str], why: str, *, same_ok: bool = False
    ) -> None:
        for vm in self.candidates(host.host_id, protected, fenced=same_ok):
            try:
                await self.restart(vm, host, why, same_ok=same_ok)
            except DomainError as exc:
                log.warning("HA restart of vm %s skipped: %s", vm.vm_id, exc)

    async def restart(self, vm: vd.Vm, source: hd.Host, why: str, *, same_ok: bool) -> str | None:
        """Restart one VM elsewhere; the new host id, or None when none could take it."""
        meta = Meta(actor=ACTOR, occurred_at=utcnow())
        if vm.pending is not None:  # its host will never answer: end that task now
            fail = vd.Fail(task_id=vm.pending.task_id, reason=f"host {source.name} is lost ({why})")
            await self.handler.execute("vm", vm.vm_id, vd.decider(fail), meta)
            fresh = self.repo.vm(vm.vm_id)
            if fresh is None or fresh.pending is not None:
                return None
            vm = fresh
        target = await self._reserve(vm, source, same_ok)
        if isinstance(target, str) and target.startswith("!"):
            key = (vm.vm_id, source.host_id)
            if key not in self._failed:
                self._failed.add(key)
                command = vm_ha.HaRestartFailed(from_host_id=source.host_id, reason=target[1:])
                await self.handler.execute("vm", vm.vm_id, vm_ha.decider(command), meta)
            log.warning("HA cannot restart vm %s: %s", vm.name, target[1:])
            return None
        to_host = target
        task_id = new_id()
        restart = vm_ha.HaRestart(
            task_id=task_id,
            from_host_id=source.host_id,
            to_host_id=to_host,
            reason=why,
            fenced=same_ok,
        )
        try:
            await self.handler.execute(
                "vm",
                vm.vm_id,
                vm_ha.decider(restart),
                msgspec.structs.replace(meta, correlation_id=task_id),
            )
        except DomainError:
            if to_host != source.host_id:
                await self._release(to_host, vm.vm_id, meta)
            raise
        self._failed.discard((vm.vm_id, source.host_id))
        if to_host != source.host_id:
            await self._release(source.host_id, vm.vm_id, meta)
        moved = self.repo.vm(vm.vm_id) or vm
        await self._send_define(moved, to_host, task_id)
        log.warning("HA restarts vm %s on host %s (%s)", vm.name, to_host, why)
        return to_host

    async def _reserve(self, vm: vd.Vm, source: hd.Host, same_ok: bool) -> str:
        """Reserve room for ``vm`` on the best host (placement's filters and hard rules,
        inside the source's cluster); its id, or ``"!" + why not``."""
        if same_ok and vm.vm_id in source.reservations and source.state == "connected":
            return source.host_id  # fenced in place: its reservation is still there
        ask = scheduler.ask_for(
            self.repo,
            vm,
            exclude=() if same_ok else (source.host_id,),
            stay_in_cluster_of=source.host_id,
        )
        # an HA restart may use the failover share ordinary placement keeps free
        ranked, decision = self.placer.choose(ask, strategy="spread", keep_failover=False)
        meta = Meta(actor=ACTOR, occurred_at=utcnow())
        reasons: list[str] = []
        for host in ranked:
            try:
                reserve = hd.Reserve(vm_id=vm.vm_id, vcpus=vm.vcpus, memory_mib=vm.memory_mib)
                await self.handler.execute("host", host.host_id, hd.decider(reserve), meta)
            except InsufficientCapacity as exc:
                reasons.append(str(exc))
                continue
            return host.host_id
        why = "; ".join(reasons) if reasons else placement.explain(decision)
        return f"!no host can take {vm.vcpus} vCPUs and {vm.memory_mib} MiB: {why}"

    async def _release(self, host_id: str, vm_id: str, meta: Meta) -> None:
        try:
            await self.handler.execute("host", host_id, hd.decider(hd.Release(vm_id=vm_id)), meta)
        except DomainError as exc:
            log.warning("release of vm %s on host %s: %s", vm_id, host_id, exc)

    async def _send_define(self, vm: vd.Vm, host_id: str, task_id: str) -> None:
        define = order_for(vm, ve.VmPlaced(vm_id=vm.vm_id, host_id=host_id))
        assert isinstance(define, od.DefineVm)
        # start it, and make fresh disks or reuse shared volumes: never copy from a source
        define = msgspec.structs.replace(define, start=True, clone_of=None)
        now = utcnow()
        try:
            await self.bus.send_order(
                od.Order(
                    order_id=order_id(task_id, "ha_restart"),
                    host_id=host_id,
                    task_id=task_id,
                    issued_at=now,
                    deadline=now + timedelta(seconds=self.settings.order_timeout_s),
                    body=define,
                )
            )
        except StoreUnavailable as exc:  # the deadline sweep fails the task visibly
            log.error("HA restart order for vm %s not sent: %s", vm.vm_id, exc)


def _protected(lease: HostLease) -> set[str]:
    return set(lease.protected)


def _fenced_by_time(lease: HostLease, now: datetime, watch: HaWatch) -> bool:
    """The agent has destroyed its protected VMs by now, or is dead: its lease is older
    than the fence time it announced plus the margin."""
    age = (now - lease.renewed_at).total_seconds()
    return age > lease.fence_after_s + watch.settings.ha_fence_margin_s
