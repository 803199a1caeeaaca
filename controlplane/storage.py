"""The storage process manager: carries pool and volume decisions out on the hosts.

It reacts to ``storage_pool`` events through its own durable consumer
(``controlplane-storage``), to host enrolment/reconnection through another
(``controlplane-storage-hosts``) and to VMs letting go of disks through a third
(``controlplane-storage-vms``: a volume deletion waits for its VMs to detach it), asking
agents over core request/reply (``events.storage.request_subject``) to define, undefine
or refresh pools and to create, clone, import, resize or delete volumes. Agents answer at
once and report the outcome on ``lq.host.<id>.storage.report``, served here (queue group
``controlplane``; a report whose body names another host than its subject is rejected and
logged: the server lets a host publish only on its own subjects), which becomes
``volume.ready``/``volume.resized``/``volume.deleted``/``volume.failed`` or
``storage_pool.state_observed`` on the pool. Each volume operation is a task: the host
taking the request makes it ``running`` (``VolumeStarted``), the outcome ends it in the
same message as the volume's event; every append about a volume carries its task id as
the correlation id, so the task's trace holds the whole operation.

Nothing is lost when a host or a controlplane is away: a disconnected host's pools are
marked ``unreachable`` there, a pool attached to a host is defined again whenever that
host enrols or reconnects, and a volume operation still
pending after ``storage_redrive_s`` is asked again (the agent treats a repeat of the same
``op_id`` as the same work). A volume operation whose host cannot be reached at all fails
at once with that reason, visibly; a deletion is asked again until its deadline. A volume
deletion waits until no VM disk uses the volume (a forced delete detaches them first).

No volume task hangs: each second (and as soon as a host disconnects) every pending
operation is checked against its deadline (``controlplane.domain.storage_deadlines``); one
whose host is disconnected or down, or that outlived ``volume_task_timeout_s``, fails with
that reason ("host … is disconnected", "volume … still attached to vm … after N s").
A task is dispatched (``VolumeStarted``: ``running``) before its request is sent, so a
cancellation decided first keeps the request from ever leaving, and one decided after is
refused (``not-cancellable``).
"""

from __future__ import annotations

import asyncio
import logging
import time

import msgspec

from controlplane.api.storage import attachments
from controlplane.consuming import consume_forever, handle_in_place
from controlplane.domain import storage_deadlines as sdl
from controlplane.domain import storage_pool as sd
from controlplane.domain.errors import DomainError
from controlplane.handlers import Handler, Outcome, TooMuchContention
from events import host as he
from events import storage as se
from events import subjects
from events import vm as ve
from events.base import Meta, utcnow
from events.bus import Bus, Subscription
from events.codec import Envelope, StoredEvent, encode
from events.errors import StoreUnavailable
from events.settings import Settings

log = logging.getLogger(__name__)

SYSTEM = "system:storage"
_TRANSIENT = (StoreUnavailable, TimeoutError, TooMuchContention)
UPLOAD_PATIENCE = 30
"""An upload still not in after this many ``storage_redrive_s`` is failed (it cannot be
asked for again: its bytes came with an API request)."""


def _meta(env: Envelope | None = None, actor: str = SYSTEM, task_id: str = "") -> Meta:
    return Meta(
        actor=actor,
        occurred_at=utcnow(),
        correlation_id=task_id or (env.correlation_id if env else None),
        causation_id=env.event_id if env else None,
        traceparent=env.traceparent if env else None,
    )


def op_id(volume_id: str, operation: str, size_bytes: int = 0) -> str:
    return f"{volume_id}.{operation}.{size_bytes}" if size_bytes else f"{volume_id}.{operation}"


def pool_spec(pool: sd.Pool) -> se.PoolSpec:
    return se.PoolSpec(pool_id=pool.pool_id, pool_type=pool.pool_type, params=pool.params)


def volume_spec(vol: sd.Volume) -> se.VolumeSpec:
    return se.VolumeSpec(
        volume_id=vol.volume_id,
        name=vol.name,
        format=vol.format,
        size_bytes=vol.size_bytes,
        thin=vol.thin,
    )


class StorageProcess:
    def __init__(self, bus: Bus, handler: Handler, settings: Settings) -> None:
        self.bus = bus
        self.handler = handler
        self.repo = handler.repo
        self.settings = settings
        self._sent: dict[str, float] = {}  # op id → when it was last asked for
        self._hellos: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        sub: Subscription = await self.bus.serve_subjects(
            subjects.STORAGE_REPORTS_ALL, self.on_report, queue="controlplane"
        )
        tasks = [
            asyncio.create_task(self._consume("controlplane-storage", "lq.evt.storage_pool.*")),
            asyncio.create_task(self._consume("controlplane-storage-hosts", "lq.evt.host.*")),
            asyncio.create_task(self._consume("controlplane-storage-vms", "lq.evt.vm.*")),
            asyncio.create_task(self._redrive_loop()),
            asyncio.create_task(self._deadline_loop()),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await sub.unsubscribe()

    async def _consume(self, durable: str, subject: str) -> None:
        await consume_forever(
            self.bus.store, durable, subject, self._handle_batch, f"storage process ({durable})"
        )

    async def _handle_batch(self, events: list[StoredEvent], last_seq: int) -> None:
        await handle_in_place(
            self.repo, events, last_seq, lambda se: self.handle(se.envelope), "storage process"
        )

    # ------------------------------------------------------------ reactions

    async def handle(self, env: Envelope) -> None:
        e = env.event
        if isinstance(e, he.HostEnrolled | he.HostConnected):
            await self.realise_host(e.host_id)
            return
        if isinstance(e, he.HostDisconnected):
            await self.host_lost(e.host_id, e.reason)
            await self.fail_overdue({e.host_id: "disconnected"})
            return
        if isinstance(e, ve.DiskDetached | ve.VmDeleted):
            await self.deletions_waiting()
            return
        if env.aggregate_kind != sd.KIND:
            return
        pool = self._pool(env.aggregate_id)
        match e:
            case se.PoolAttachedToHost() if pool is not None and e.host_id in pool.hosts:
                await self.ask_pool(pool, e.host_id, "define")
            case se.PoolDetachedFromHost():
                await self.ask_pool(pool, e.host_id, "undefine", spec=self._spec_any(env))
            case se.PoolRefreshRequested() if pool is not None:
                for host_id in e.host_ids:
                    await self.ask_pool(pool, host_id, "refresh")
            case se.PoolDeleted():
                for host_id in e.host_ids:
                    await self.ask_pool(pool, host_id, "undefine", spec=self._spec_any(env))
            case se.VolumeCreated() | se.VolumeResizeRequested() | se.VolumeDeleteRequested() if (
                pool is not None
            ):
                vol = pool.volumes.get(e.volume_id)
                if vol is not None and vol.state in ("creating", "resizing", "deleting"):
                    await self.ask_volume(pool, vol)

    def _pool(self, pool_id: str) -> sd.Pool | None:
        state: sd.Pool | None = self.repo.get(sd.KIND, pool_id)[0]
        return state

    def _spec_any(self, env: Envelope) -> se.PoolSpec | None:
        """The pool's spec even after it was deleted (to undefine it on its hosts)."""
        pool = self._pool(env.aggregate_id)
        return pool_spec(pool) if pool is not None else None

    async def realise_host(self, host_id: str) -> None:
        """Define every pool attached to ``host_id`` there (after enrolment/reconnection)."""
        for pool in list(self.repo.all(sd.KIND)):
            if not pool.deleted and host_id in pool.hosts:
                await self.ask_pool(pool, host_id, "define")
                for vol in pool.volumes.values():
                    if vol.state in ("creating", "resizing", "deleting"):
                        await self.ask_volume(pool, vol)

    async def host_lost(self, host_id: str, reason: str) -> None:
        """A disconnected host's pools are ``unreachable`` there until it reports again."""
        for pool in list(self.repo.all(sd.KIND)):
            if not pool.deleted and host_id in pool.hosts:
                observe = sd.Observe(
                    host_id=host_id, state="unreachable", error=f"host disconnected: {reason}"
                )
                await self._execute(pool.pool_id, observe)

    async def deletions_waiting(self) -> None:
        """A VM let go of a disk: volume deletions that waited for it may go on."""
        for pool in list(self.repo.all(sd.KIND)):
            for vol in list(pool.volumes.values()):
                if vol.state == "deleting":
                    await self.ask_volume(pool, vol)

    async def ask_pool(
        self,
        pool: sd.Pool | None,
        host_id: str,
        op: str,
        *,
        spec: se.PoolSpec | None = None,
    ) -> None:
        spec = spec or (pool_spec(pool) if pool is not None else None)
        if spec is None:
            return
        request = se.StorageRequest(op_id=f"{spec.pool_id}.{op}", op=op, pool=spec)  # type: ignore[arg-type]
        error = await self._send(host_id, request)
        if error and pool is not None and not pool.deleted and op != "undefine":
            await self._execute(
                pool.pool_id, sd.Observe(host_id=host_id, state="unreachable", error=error)
            )

    async def ask_volume(self, pool: sd.Pool, vol: sd.Volume) -> None:
        host_id = pool.executor()
        if host_id is None:
            return
        if vol.state == "creating" and vol.source_url == se.UPLOAD_SOURCE:
            return  # an upload: the API route relays it (``redrive`` ends a lost one)
        if await self._fail_if_overdue(pool, vol):
            return
        source: se.VolumeSpec | None = None
        op: str = vol.operation
        if vol.state == "deleting" and attachments(self.repo, pool.pool_id, vol.name):
            log.info("volume %s waits for its VMs to detach it", vol.name)
            return
        if vol.operation == "clone":
            src = pool.volumes.get(vol.clone_of)
            if src is None:
                await self._execute(
                    pool.pool_id,
                    sd.VolumeFailed(volume_id=vol.volume_id, operation="clone", error="no source"),
                    _meta(task_id=vol.task_id),
                )
                return
            source = volume_spec(src)
        size = vol.size_bytes if vol.operation == "resize" else 0
        request = se.StorageRequest(
            op_id=op_id(vol.volume_id, op, size),
            op=op,  # type: ignore[arg-type]
            pool=pool_spec(pool),
            volume=volume_spec(vol),
            source=source,
            url=vol.source_url,
        )
        meta = _meta(task_id=vol.task_id)
        if vol.task_id and not vol.task_running:
            # dispatched before it is sent: a cancellation decided first keeps it here
            started = sd.VolumeStarted(
                volume_id=vol.volume_id, operation=vol.operation, host_id=host_id
            )
            out = await self._execute(pool.pool_id, started, meta)
            after: sd.Pool | None = out.state if out is not None else self._pool(pool.pool_id)
            now = after.volumes.get(vol.volume_id) if after is not None else None
            if now is None or now.task_id != vol.task_id or not now.task_running:
                return  # cancelled or ended meanwhile
        self._sent[request.op_id] = time.monotonic()
        error = await self._send(host_id, request)
        if error and vol.operation != "delete":
            failed = sd.VolumeFailed(volume_id=vol.volume_id, operation=vol.operation, error=error)
            await self._execute(pool.pool_id, failed, meta)

    async def _send(self, host_id: str, request: se.StorageRequest) -> str:
        """Ask the host; "" when it took the request, else why it could not."""
        try:
            subject = subjects.storage_subject(host_id)
            raw = await self.bus.request(subject, encode(request), timeout=10.0)
            ack = se.ACK_DECODER.decode(raw)
        except (StoreUnavailable, ValueError) as exc:
            log.warning("host %s did not take storage %s: %s", host_id, request.op, exc)
            return f"host {host_id} is unreachable: {exc}"
        return "" if ack.ok else ack.error or "refused"

    async def _execute(
        self, pool_id: str, command: sd.Command, meta: Meta | None = None
    ) -> Outcome | None:
        try:
            return await self.handler.execute(
                sd.KIND, pool_id, sd.decider(command), meta or _meta()
            )
        except DomainError as exc:
            log.warning("storage pool %s: %s not applied: %s", pool_id, type(command).__name__, exc)
            return None

    # ------------------------------------------------------------ deadlines

    async def _deadline_loop(self) -> None:
        every = min(1.0, max(self.settings.volume_task_timeout_s / 4, 0.1))
        while True:
            await asyncio.sleep(every)
            try:
                await self.fail_overdue()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("volume deadlines check failed")

    async def fail_overdue(self, host_states: dict[str, str] | None = None) -> None:
        """Fail every pending volume operation whose host is away or whose time is up
        (``host_states`` overrides what the repository knows: a disconnection just seen)."""
        for pool in list(self.repo.all(sd.KIND)):
            if pool.deleted:
                continue
            for vol in list(pool.volumes.values()):
                if vol.state in sdl.PENDING:
                    await self._fail_if_overdue(pool, vol, host_states)

    async def _fail_if_overdue(
        self, pool: sd.Pool, vol: sd.Volume, host_states: dict[str, str] | None = None
    ) -> bool:
        states: dict[str, str] = {
            h: host.state for h in pool.hosts if (host := self.repo.host(h)) is not None
        }
        states.update(host_states or {})
        using = attachments(self.repo, pool.pool_id, vol.name) if vol.state == "deleting" else []
        reason = sdl.overdue(
            pool,
            vol,
            utcnow(),
            timeout_s=self.settings.volume_task_timeout_s,
            host_states=states,
            attached_to=sorted({vm_id for vm_id, _ in using}),
        )
        if reason is None:
            return False
        log.warning("volume %s: %s", vol.name, reason)
        failed = sd.VolumeFailed(volume_id=vol.volume_id, operation=vol.operation, error=reason)
        await self._execute(pool.pool_id, failed, _meta(task_id=vol.task_id))
        return True

    async def _redrive_loop(self) -> None:
        every = max(self.settings.storage_redrive_s, 1.0)
        while True:
            await asyncio.sleep(every / 2)
            try:
                await self.redrive(every)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("storage redrive failed")

    async def redrive(self, older_than_s: float) -> None:
        """Ask again for every volume operation pending longer than ``older_than_s``."""
        now = time.monotonic()
        for pool in list(self.repo.all(sd.KIND)):
            for vol in list(pool.volumes.values()):
                if vol.state not in ("creating", "resizing", "deleting"):
                    continue
                size = vol.size_bytes if vol.operation == "resize" else 0
                sent = self._sent.get(op_id(vol.volume_id, vol.operation, size))
                upload = vol.state == "creating" and vol.source_url == se.UPLOAD_SOURCE
                if sent is None:
                    self._sent[op_id(vol.volume_id, vol.operation, size)] = now
                elif upload and now - sent >= UPLOAD_PATIENCE * older_than_s:
                    lost = sd.VolumeFailed(
                        volume_id=vol.volume_id,
                        operation="import",
                        error="the upload did not finish (its API request or host went away)",
                    )
                    await self._execute(pool.pool_id, lost, _meta(task_id=vol.task_id))
                elif not upload and now - sent >= older_than_s:
                    await self.ask_volume(pool, vol)

    # ------------------------------------------------------------ reports

    async def on_report(self, subject: str, data: bytes) -> bytes:
        try:
            report = se.REPORT_DECODER.decode(data)
            sender = subjects.subject_host(subject)
        except ValueError as exc:
            return encode(se.StorageAck(ok=False, error=f"malformed report: {exc}"))
        if report.host_id != sender:
            log.warning(
                "rejected storage report of host %s sent on host %s's subject %s",
                report.host_id,
                sender,
                subject,
            )
            return encode(se.StorageAck(ok=False, error="the report names another host"))
        try:
            await self.apply_report(report)
        except _TRANSIENT as exc:
            return encode(se.StorageAck(ok=False, error=str(exc)))
        return encode(se.StorageAck(ok=True))

    async def apply_report(self, report: se.StorageReport) -> None:
        if report.op == se.HELLO:
            task = asyncio.create_task(self.realise_host(report.host_id))
            self._hellos.add(task)
            task.add_done_callback(self._hellos.discard)
            return
        host = self.repo.host(report.host_id)
        meta = _meta(actor=f"agent:{host.name if host else report.host_id}")
        for p in report.pools:
            pool = self._pool(p.pool_id)
            if pool is None or pool.deleted or report.host_id not in pool.hosts:
                continue
            observe = sd.Observe(
                host_id=report.host_id,
                state=p.state,
                capacity_bytes=p.capacity_bytes,
                allocation_bytes=p.allocation_bytes,
                available_bytes=p.available_bytes,
                error=p.error,
            )
            await self._execute(p.pool_id, observe, meta)
        if not report.volume_id:
            return
        pool = next(
            (p for p in self.repo.all(sd.KIND) if report.volume_id in p.volumes and not p.deleted),
            None,
        )
        if pool is None or report.host_id not in pool.hosts:
            log.warning("storage report about unknown volume %s ignored", report.volume_id)
            return
        task_id = pool.volumes[report.volume_id].task_id
        meta = msgspec.structs.replace(meta, correlation_id=task_id or None)
        operation = report.op
        if operation not in ("create", "clone", "import", "resize", "delete"):
            return
        command: sd.Command
        if report.percent is not None:
            command = sd.VolumeProgress(volume_id=report.volume_id, percent=report.percent)
        elif report.ok:
            command = sd.VolumeDone(
                volume_id=report.volume_id,
                operation=operation,  # type: ignore[arg-type]
                host_id=report.host_id,
                path=report.path,
                size_bytes=report.size_bytes,
                allocation_bytes=report.allocation_bytes,
            )
        else:
            command = sd.VolumeFailed(
                volume_id=report.volume_id,
                operation=operation,  # type: ignore[arg-type]
                error=report.error,
            )
        await self._execute(pool.pool_id, command, meta)
