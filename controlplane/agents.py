"""The controlplane's side of the host agents: enrolment, reports, liveness, deadlines.

A new host presenting a one-time join token spends it before it is enrolled and gets the
token's labels and cluster; without one it is refused when ``join_token_required`` is on
(``controlplane.auth.join_tokens``, docs/security.md). An enrolled host needs no token.

Reports are claims: one about a VM that is not assigned to the reporting host is rejected
and logged. Liveness comes from the heartbeat bucket, followed by one watch
(``events.kvwatch``: each beat arrives once, the check reads memory); a host whose
heartbeat is older than the timeout is marked disconnected, and back when it returns. A
rack going away changes hundreds of hosts in one check: those commands run side by side
(at most ``LIVENESS_CONCURRENCY``), not one after another. The enrolment reply tells the
agent its heartbeat interval (``heartbeat_interval``), so interval and timeout agree.

A VM operation whose host did not answer by its deadline fails its task with the reason —
never a silent hang (a graceful shutdown's deadline adds the guest's ``timeout_s``). The
answer to an ``order.cancel`` is only logged: the cancelled order's own ``order_failed``
ends its task, as ``task.cancelled``. ``report.nic_address`` becomes ``vm.nic_address_observed``;
``report.order_progress`` becomes ``task.progressed`` and restarts the order's deadline
(a long volume copy is not a silent host).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import datetime, timedelta
from functools import partial

from controlplane.auth import join_tokens
from controlplane.consuming import Lanes
from controlplane.domain import host as hd
from controlplane.domain import host_maintenance as hm
from controlplane.domain import join_token as jd
from controlplane.domain import vm as vd
from controlplane.domain.errors import DomainError
from controlplane.fleet import Fleet
from controlplane.handlers import Handler, TooMuchContention
from controlplane.natsauth import HostKeys
from controlplane.processes import order_deadline_s, order_id
from events import reports as rp
from events import tracing
from events.base import Meta, new_id, utcnow
from events.bus import Bus, Delivery
from events.codec import encode
from events.errors import StoreUnavailable
from events.kvwatch import KvFollower
from events.provision import heartbeat_ttl_s
from events.reports import HEARTBEAT_DECODER, Heartbeat
from events.settings import Settings
from events.subjects import ENROLL, HEARTBEAT_BUCKET

log = logging.getLogger(__name__)

NO_TOKEN = (
    "this controlplane admits new hosts only with a one-time join token"
    " (create one with POST /api/v1/join-tokens; start the agent with --join-token)"
)
CANCEL_SUFFIX = order_id("", "cancel")  # ".cancel"
ROLLBACK_SUFFIX = order_id("", "migrate_rollback")
LIVENESS_CONCURRENCY = 32  # host state changes of one liveness check in flight at once
BEATS_PER_TIMEOUT = 5  # an agent beats this many times per heartbeat timeout


class AgentLink:
    def __init__(self, bus: Bus, handler: Handler, settings: Settings) -> None:
        self.bus = bus
        self.handler = handler
        self.repo = handler.repo
        self.settings = settings
        self.fleet = Fleet(self.repo, settings)  # default overcommit, changeable at runtime
        self._orphans_mark = 0  # Repository.changed_since mark of the last orphan pass
        self.host_keys = HostKeys(bus, settings)
        self.beats: KvFollower[Heartbeat] = KvFollower(
            bus, HEARTBEAT_BUCKET, HEARTBEAT_DECODER, heartbeat_ttl_s(settings)
        )
        self._unseen: dict[str, datetime] = {}  # connected host → first check without a beat
        self._seen: set[str] = set()  # hosts a beat of was seen here

    # ------------------------------------------------------------ enrolment

    async def serve_enrolment(self) -> None:
        if self.host_keys.enabled:
            await self.host_keys.sync()  # the server admits every host the bucket knows
        await self.bus.serve(ENROLL, self._enroll, queue="controlplane")

    async def _enroll(self, data: bytes) -> bytes:
        try:
            req = rp.ENROLL_REQUEST_DECODER.decode(data)
        except Exception as exc:
            return encode(rp.EnrollReply(ok=False, error=f"malformed enrolment: {exc}"))
        host_id = req.host_id
        if host_id is None or self.repo.host(host_id) is None:
            same_name = [h for h in self.repo.all("host") if h.name == req.name]
            host_id = same_name[0].host_id if same_name else (host_id or new_id())
        token: jd.JoinToken | None = None
        if self.repo.host(host_id) is None:  # a new host: its join token, if any, is spent
            if req.join_token:
                token, refused = await join_tokens.spend(
                    self.bus, self.handler, req.join_token, host_id, req.name
                )
                if refused is not None:
                    log.warning("enrolment of %s refused: %s", req.name, refused)
                    return encode(rp.EnrollReply(ok=False, error=refused))
            elif self.settings.join_token_required:
                log.warning("enrolment of new host %s refused: no join token", req.name)
                return encode(rp.EnrollReply(ok=False, error=NO_TOKEN))
        if self.host_keys.enabled and (refused := await self.host_keys.admit(host_id, req)):
            return encode(rp.EnrollReply(ok=False, error=refused))
        fleet = self.fleet.effective()
        command = hd.Enroll(
            host_id=host_id,
            name=req.name,
            uri=req.uri,
            cpus=req.cpus,
            memory_mib=req.memory_mib,
            cpu_overcommit=fleet.default_cpu_overcommit,
            memory_overcommit=fleet.default_memory_overcommit,
        )
        meta = Meta(actor=f"agent:{req.name}", occurred_at=utcnow())
        try:
            await self.handler.execute("host", host_id, hd.decider(command), meta)
        except Exception as exc:
            log.exception("enrolment of %s failed", req.name)
            return encode(rp.EnrollReply(ok=False, error=str(exc)))
        if token is not None:
            await self._as_token_says(host_id, token, meta)
        log.info("host %s enrolled as %s", req.name, host_id)
        user_jwt = self.host_keys.user_jwt(host_id, req.nkey) if req.nkey else ""
        return encode(
            rp.EnrollReply(
                ok=True,
                host_id=host_id,
                user_jwt=user_jwt,
                heartbeat_interval_s=heartbeat_interval(self.settings),
            )
        )

    async def _as_token_says(self, host_id: str, token: jd.JoinToken, meta: Meta) -> None:
        """Give a host enrolled with ``token`` the token's labels and cluster."""
        commands: list[hd.Command] = []
        if token.labels:
            commands.append(hm.SetLabels(labels=dict(token.labels)))
        cluster = self.repo.get("cluster", token.cluster_id)[0] if token.cluster_id else None
        if cluster is not None and not cluster.deleted:
            commands.append(hm.SetCluster(cluster_id=token.cluster_id))
        elif token.cluster_id:
            log.warning(
                "join token's cluster %s is gone: host %s joins none", token.cluster_id, host_id
            )
        for command in commands:
            try:
                await self.handler.execute("host", host_id, hd.decider(command), meta)
            except (DomainError, TooMuchContention) as exc:
                log.warning(
                    "host %s: %s from its join token not applied: %s", host_id, command, exc
                )

    # ------------------------------------------------------------ reports

    async def consume_reports(self) -> None:
        """Handle reports concurrently across hosts, in order per host and per VM (a
        migration's VM is reported on by two hosts): ``consuming.Lanes``."""
        while True:
            lanes = Lanes("report consumer")
            cancelled = False
            try:
                async for delivery in self.bus.reports():
                    await lanes.submit(
                        _report_keys(delivery.value), partial(self._settle, delivery)
                    )
            except asyncio.CancelledError:
                cancelled = True
                raise
            except Exception:
                log.exception("report consumer failed; restarting in 1 s")
                await asyncio.sleep(1.0)
            finally:
                await lanes.close(cancel=cancelled)

    async def _settle(self, delivery: Delivery[rp.Report]) -> None:
        report = delivery.value
        with tracing.span(
            f"report {type(report.body).__name__}",
            parent=report.traceparent,
            kind=tracing.CONSUMER,
            host_id=report.host_id,
        ):
            try:
                await self.handle_report(report)
            except (StoreUnavailable, TimeoutError, TooMuchContention) as exc:
                # again in a second, not after the consumer's 30 s ack wait
                log.warning("report %s retried: %r", report.report_id, exc)
                await delivery.nak(delay=1.0)
                return
        await delivery.ack()

    async def handle_report(self, report: rp.Report) -> None:
        body = report.body
        host_id = report.host_id
        meta = Meta(
            actor=self._agent_actor(host_id),
            occurred_at=utcnow(),
            correlation_id=report.task_id,
            causation_id=report.report_id,
            traceparent=report.traceparent,
        )
        if isinstance(body, rp.Inventory):
            await self._reconcile(host_id, body, meta)
            return
        vm = self.repo.vm(body.vm_id)
        if (
            vm is not None
            and vm.host_id != host_id
            and isinstance(body, rp.OrderDone | rp.OrderFailed)
        ):
            target = migration_target_command(vm, host_id, report.task_id, body)
            if target is not None:
                try:
                    await self.handler.execute("vm", body.vm_id, vd.decider(target), meta)
                except DomainError as exc:
                    log.warning("migration report from host %s not applied: %s", host_id, exc)
                return
            if body.order_id.endswith(ROLLBACK_SUFFIX):
                log.info("host %s removed its copy of migrated vm %s", host_id, body.vm_id)
                return
        if vm is None or vm.host_id != host_id:
            log.warning(
                "rejected report %s from host %s about vm %s: not assigned there",
                type(body).__name__,
                host_id,
                body.vm_id,
            )
            return
        command: vd.Command
        match body:
            case rp.OrderDone() | rp.OrderFailed() if body.order_id.endswith(CANCEL_SUFFIX):
                # the answer to an order.cancel: the cancelled order's own answer ends the task
                log.info("host %s answered %s: %s", host_id, body.order_id, body)
                return
            case rp.OrderDone():
                command = vd.Complete(
                    task_id=report.task_id or "",
                    host_id=host_id,
                    state=body.state,
                    forced=body.forced,
                    note=body.note,
                )
            case rp.OrderFailed():
                pending = vm.pending
                cancelled = (
                    pending is not None
                    and pending.task_id == report.task_id
                    and pending.cancel_requested
                )
                command = vd.Fail(
                    task_id=report.task_id or "",
                    reason=body.error,
                    state=body.state,
                    cancelled=cancelled,
                )
            case rp.OrderProgress():
                command = vd.Progress(
                    task_id=report.task_id or "", percent=body.percent, message=body.message
                )
            case rp.DomainChanged():
                command = vd.Observe(host_id=host_id, state=body.state, reason=body.reason)
            case rp.NicAddress():
                command = vd.ObserveAddress(host_id=host_id, nic_id=body.nic_id, ip=body.ip)
        try:
            await self.handler.execute("vm", body.vm_id, vd.decider(command), meta)
        except DomainError as exc:
            log.warning("report from host %s about vm %s not applied: %s", host_id, body.vm_id, exc)

    def _agent_actor(self, host_id: str) -> str:
        host = self.repo.host(host_id)
        return f"agent:{host.name if host else host_id}"

    async def _reconcile(self, host_id: str, inv: rp.Inventory, meta: Meta) -> None:
        seen = {d.vm_id: d for d in inv.domains}
        for vm in self.repo.vms_on(host_id):
            if vm.host_id != host_id or vm.state in ("deleted", "pending") or vm.pending:
                continue
            dom = seen.pop(vm.vm_id, None)
            if dom is None:
                command = vd.Observe(
                    host_id=host_id, state="error", reason="the domain is missing on its host"
                )
            else:
                command = vd.Observe(
                    host_id=host_id,
                    state=dom.state,
                    reason="found in this state when the agent started",
                )
            try:
                await self.handler.execute("vm", vm.vm_id, vd.decider(command), meta)
            except DomainError as exc:
                log.warning("reconcile of vm %s skipped: %s", vm.vm_id, exc)
        for dom in seen.values():
            known = self.repo.vm(dom.vm_id)
            if known is None or known.host_id != host_id:
                log.warning(
                    "host %s runs domain %s (%s) that LimiQuantix does not assign to it",
                    host_id,
                    dom.name,
                    dom.vm_id,
                )

    # ------------------------------------------------------------ liveness & deadlines

    async def watch(self, interval: float = 1.0) -> None:
        # A freshly started controlplane gives agents one timeout to heartbeat before it
        # calls anyone disconnected (they may be restarting with it). The heartbeat bucket
        # is followed while this job runs: a new leader reads it afresh.
        async with self.beats.following():
            await asyncio.sleep(self.settings.heartbeat_timeout_s)
            while True:
                try:
                    await self.check_liveness()
                    await self.check_deadlines()
                    await self.release_orphans()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("liveness check failed")
                await asyncio.sleep(interval)

    async def check_liveness(self) -> None:
        """Mark the hosts whose heartbeat stopped disconnected, and returning ones
        connected: the changes run side by side (a rack going away is hundreds). A
        connected host this replica never saw a beat of gets one timeout from its first
        look (enrolled a moment ago, its first beat on the way)."""
        beats = await self.beats.values()
        now = utcnow()
        limit = timedelta(seconds=self.settings.heartbeat_timeout_s)
        changes = []
        unseen: dict[str, datetime] = {}
        for host in list(self.repo.all("host")):
            hb = beats.get(host.host_id)
            if hb is not None:
                self._seen.add(host.host_id)
            elif host.state == "connected" and host.host_id not in self._seen:
                # enrolled a moment ago, its first beat on the way (10,000 hosts take
                # minutes to enrol): silent only once it went unseen for a whole timeout
                unseen[host.host_id] = first = self._unseen.get(host.host_id, now)
                if now - first <= limit:
                    continue
            alive = hb is not None and now - hb.at <= limit
            if host.state == "connected" and not alive:
                changes.append(self._mark(host, connected=False, now=now))
            elif host.state == "disconnected" and alive:
                changes.append(self._mark(host, connected=True, now=now))
        self._unseen = unseen
        if changes:
            gate = asyncio.Semaphore(LIVENESS_CONCURRENCY)

            async def gated(change: Awaitable[None]) -> None:
                async with gate:
                    await change

            results = await asyncio.gather(*(gated(c) for c in changes), return_exceptions=True)
            failed = [r for r in results if isinstance(r, BaseException)]
            for exc in failed:
                if isinstance(exc, asyncio.CancelledError):
                    raise exc
            if failed:
                raise failed[0]  # the others are tried again at the next check

    async def _mark(self, host: hd.Host, *, connected: bool, now: datetime) -> None:
        meta = Meta(actor="system:liveness", occurred_at=now)
        if connected:
            await self.handler.execute("host", host.host_id, hd.decider(hd.MarkConnected()), meta)
            log.info("host %s connected again", host.name)
            return
        reason = f"no heartbeat for {self.settings.heartbeat_timeout_s:.0f} s"
        command = hd.MarkDisconnected(reason=reason)
        await self.handler.execute("host", host.host_id, hd.decider(command), meta)
        log.warning("host %s disconnected: %s", host.name, reason)

    async def release_orphans(self) -> None:
        """Give back capacity held for a VM that will never use it on that host.

        Placement reserves on the host first and places the VM second; a crash in between,
        a VM deleted while it was being placed or a retry that chose another host can leave
        a reservation behind (tests/faults found one after a controlplane SIGKILL). A
        reservation is kept while its VM is unknown here or still being placed.

        Whether a reservation is an orphan depends only on its host's and its VM's states,
        so a pass looks only at the hosts and VMs that changed since the previous one
        (``Repository.changed_since``), not at every reservation of the fleet each second.
        """
        mark, changed = self.repo.changed_since(self._orphans_mark)
        hosts = {i for k, i in changed if k == "host"} if changed is not None else set()
        vms = {i for k, i in changed if k == "vm"} if changed is not None else set()
        for host in list(self.repo.all("host")):
            if changed is None or host.host_id in hosts:
                held = list(host.reservations)
            elif vms:  # the reservations of changed VMs, walking the smaller side
                reserved = host.reservations
                smaller, larger = (reserved, vms) if len(reserved) < len(vms) else (vms, reserved)
                held = [v for v in smaller if v in larger]
            else:
                continue
            for vm_id in held:
                vm = self.repo.vm(vm_id)
                if vm is None or (vm.pending is not None and vm.host_id is None):
                    continue
                if vm.pending is not None and vm.pending.operation == "migrate":
                    continue  # the destination's reservation (controlplane.migration)
                if vm.state != "deleted" and vm.host_id == host.host_id:
                    continue
                meta = Meta(actor="system:reservations", occurred_at=utcnow())
                await self.handler.execute(
                    "host", host.host_id, hd.decider(hd.Release(vm_id=vm_id)), meta
                )
                log.warning("released the capacity vm %s held on host %s", vm_id, host.name)
        self._orphans_mark = mark  # after a failed pass, the same changes are looked at again

    async def check_deadlines(self) -> None:
        now = utcnow()
        for vm in self.repo.pending("vm"):
            p = vm.pending
            if p is None:
                continue
            if p.operation == "migrate" and p.dispatched_at is None:
                continue  # queued behind the migration budgets (controlplane.migration)
            started = p.progressed_at or p.dispatched_at or p.queued_at
            limit = deadline_s(self.settings, p)
            timeout = timedelta(seconds=limit)
            if started is None or now - started <= (timeout if p.dispatched_at else timeout * 2):
                continue
            where = f"host {vm.host_id}" if vm.host_id else "placement"
            reason = f"{where} did not complete {p.operation} within {limit:.0f} s"
            meta = Meta(actor="system:deadlines", occurred_at=now, correlation_id=p.task_id)
            command = vd.Fail(task_id=p.task_id, reason=reason, state="error")
            try:
                await self.handler.execute("vm", vm.vm_id, vd.decider(command), meta)
                log.warning("vm %s: %s", vm.vm_id, reason)
            except DomainError as exc:
                log.warning("deadline of vm %s not applied: %s", vm.vm_id, exc)


def migration_target_command(
    vm: vd.Vm, host_id: str, task_id: str | None, body: rp.OrderDone | rp.OrderFailed
) -> vd.Command | None:
    """A migration destination's answer to its ``define_vm`` (``<task>.migrate_in``)."""
    m = vm.migration
    p = vm.pending
    if m is None or p is None or host_id != m.to_host_id or task_id != p.task_id:
        return None
    if body.order_id != order_id(p.task_id, "migrate_in"):
        return None
    if isinstance(body, rp.OrderDone):
        return vd.MigrationTargetReady(task_id=p.task_id, host_id=host_id, state=body.state)
    return vd.Fail(task_id=p.task_id, reason=f"the destination failed: {body.error}")


def heartbeat_interval(settings: Settings) -> float:
    """The heartbeat interval agents are told at enrolment: ``BEATS_PER_TIMEOUT`` beats
    per ``heartbeat_timeout_s`` (10 s → 2 s), so a longer timeout for a large fleet
    lengthens the interval with it and the two cannot disagree."""
    return settings.heartbeat_timeout_s / BEATS_PER_TIMEOUT


def deadline_s(settings: Settings, pending: vd.Pending) -> float:
    """The time a host has for the pending operation (the order's own deadline)."""
    if pending.request is None:
        return settings.order_timeout_s
    return order_deadline_s(settings, pending.request)


def _report_keys(report: rp.Report) -> tuple[tuple[str, str], ...]:
    """A report waits for the earlier reports of its host and of its VM."""
    host = ("host", report.host_id)
    vm_id = getattr(report.body, "vm_id", None)
    return (host, ("vm", vm_id)) if isinstance(vm_id, str) else (host,)
