"""The agent process: enrol, reconcile, then serve orders and watch the hypervisor.

One ``Agent`` per hypervisor host. On start it opens its libvirt connection and NATS,
enrols through ``lq.enroll`` (retrying until a controlplane answers; the host id it gets is
kept in ``<data_dir>/agents/<name>/host_id`` so a restarted agent stays the same host),
sends an ``Inventory`` of every managed domain (the reconcile: what the hypervisor really
has, whatever happened while no agent ran), and then runs three loops side by side:

- orders: ``lq.host.<id>.order`` → ``agent.orders`` → report → ack. The ack comes after
  the report is sent, so a crash in between redelivers the order, which the journal then
  answers again without executing it twice. Temporary failures are nak'ed with a delay
  and given up (reported, ``permanent=False``) after ``MAX_ATTEMPTS`` deliveries.
  Orders run concurrently, one at a time per VM (``agent.orders``), so a ``CancelOrder``
  reaches an order that is waiting (a graceful shutdown, a volume copy).
- lifecycle: every libvirt lifecycle event of a managed domain → ``DomainChanged``, so a
  VM that crashed or was changed with virsh becomes an observed event, not a lie in the UI.
- sweep: ``agent.reconcile`` compares the host with what was reported every
  ``agent_sweep_interval_s`` (drift, vanished domains, NIC addresses).
- heartbeat: ``agent.heartbeat``.
- fencing: ``agent.fencing`` renews the host's HA lease and destroys its HA-protected VMs
  when it cannot (docs/ha.md).
- metrics: ``agent.metrics`` samples host and VM statistics onto ``LQ_METRICS``.
- consoles: ``agent.console`` answers ``lq.host.<id>.console`` and relays serial and VNC
  console sessions of this host's VMs.
- storage: ``agent.storage`` answers ``lq.host.<id>.storage`` (pools and volumes).

A simulated host (a ``test:///<node file>`` URI) has no disk of its own: after each
executed order, each lifecycle event and on a clean shutdown its managed domains are saved
into its node file (``agent.persist``), so the next agent run finds them as they were.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from pathlib import Path

from agent import telemetry
from agent.console import serve_consoles
from agent.errors import AgentError, TemporaryError
from agent.fencing import Fencer
from agent.heartbeat import heartbeat_loop
from agent.hypervisor import Hypervisor
from agent.metrics import metrics_loop
from agent.natsid import AgentIdentity
from agent.netserve import serve_networks
from agent.orders import OrderExecutor, OrderJournal, Outcome
from agent.persist import NodeFileKeeper
from agent.reconcile import Reconciler
from agent.storage import StorageService
from events import logctx, subjects, tls, tracing
from events.aio import cancel_and_wait
from events.base import new_id, utcnow
from events.bus import Bus, Delivery
from events.codec import encode
from events.errors import LqError
from events.natsauth import ClientAuth
from events.orders import Order
from events.reports import (
    ENROLL_REPLY_DECODER,
    AnyReport,
    DomainChanged,
    EnrollRequest,
    Inventory,
    OrderProgress,
    Report,
)
from events.settings import Settings

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # deliveries of one order before a temporary failure is reported
KEEPALIVE_S = 10.0  # how often a long order tells JetStream it is still being worked on
BACKOFF_MAX_S = 5.0
OUTCOME_TRIES = 12  # ~15 s of retries before the order is left to redelivery


class Agent:
    """A host agent; ``await Agent(settings).run(stop)`` until ``stop`` is set.

    Tests may pass a ``hypervisor`` they opened themselves (it is then not closed here,
    which lets a test restart the agent against the same simulated host), and read
    ``agent.hypervisor`` / ``agent.host_id`` once ``agent.ready`` is set.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        hypervisor_uri: str | None = None,
        hypervisor: Hypervisor | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.agent_name or socket.gethostname()
        self.uri = hypervisor.uri if hypervisor else hypervisor_uri or settings.libvirt_uri
        self.state_dir: Path = settings.data_path / "agents" / self.name
        self.host_id: str | None = None
        # the controlplane's word at enrolment wins: it derives it from its heartbeat timeout
        self.heartbeat_interval_s = settings.heartbeat_interval_s
        self.ready = asyncio.Event()  # enrolled and inventory sent
        self._hypervisor = hypervisor
        self._owns_hypervisor = hypervisor is None
        self._keeper: NodeFileKeeper | None = None  # only for a simulated host
        self._reconciler: Reconciler | None = None
        self._identity = AgentIdentity(settings, self.state_dir)

    @property
    def hypervisor(self) -> Hypervisor:
        if self._hypervisor is None:
            raise RuntimeError(f"agent {self.name} has no hypervisor connection yet")
        return self._hypervisor

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        bus: Bus | None = None
        tasks: list[asyncio.Task[None]] = []
        try:
            hv = await self._open_hypervisor(stop)
            self._keeper = NodeFileKeeper.for_hypervisor(hv) if hv else None
            bus = await self._connect_bus(stop, self._identity.initial()) if hv else None
            host_id = await self._enrol(bus, hv, stop) if bus and hv else None
            if bus is not None and host_id and (auth := self._identity.switch_to(host_id)):
                await bus.close()  # enrolled with the join credential: now as this host
                bus = await self._connect_bus(stop, auth)
            if bus is None or hv is None or host_id is None:
                return  # stopped before we were up
            executor = OrderExecutor(
                hv,
                OrderJournal(self.state_dir / "orders.json"),
                persist=self._save_domains,
                boot_roots=self.settings.boot_roots,
                progress=lambda order, percent, message: self._progress(
                    bus, host_id, order, percent, message
                ),
            )
            self._reconciler = Reconciler(
                hv, lambda body: self._report_until_sent(bus, host_id, body)
            )
            fencer = Fencer(
                bus,
                hv,
                host_id,
                self.state_dir,
                interval_s=self.heartbeat_interval_s,
                fence_after_s=self.settings.ha_fence_after_s,
                persist=self._save_domains,
            )
            await fencer.fence_if_expired()  # before the inventory: it may run elsewhere now
            await self._send_inventory(bus, hv, host_id)
            self.ready.set()
            log.info("agent %s up as host_id=%s on %s", self.name, host_id, self.uri)
            tasks = [
                asyncio.create_task(self._orders_loop(bus, executor, host_id), name="orders"),
                asyncio.create_task(self._lifecycle_loop(bus, hv, host_id), name="lifecycle"),
                asyncio.create_task(self._sweep_loop(), name="sweep"),
                asyncio.create_task(
                    heartbeat_loop(bus, hv, host_id, self.heartbeat_interval_s),
                    name="heartbeat",
                ),
                asyncio.create_task(fencer.run(), name="fencing"),
                asyncio.create_task(
                    metrics_loop(bus, hv, host_id, self.settings.metrics_interval_s),
                    name="metrics",
                ),
                asyncio.create_task(
                    serve_consoles(bus, hv, host_id, self.settings.console_max_sessions),
                    name="consoles",
                ),
                asyncio.create_task(
                    serve_networks(bus, hv, host_id, self.state_dir), name="networks"
                ),
                asyncio.create_task(
                    StorageService(
                        bus, hv, host_id, self.state_dir, self.settings.storage_state_interval_s
                    ).run(),
                    name="storage",
                ),
            ]
            if self._identity.jwt:  # NATS JWT mode: renew the host's user JWT in time
                renewal = self._identity.renew(bus, host_id, lambda: self._request(hv, host_id))
                tasks.append(asyncio.create_task(renewal, name="nats-jwt"))
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            for task in done - {stopper}:
                task.result()  # a loop ended on its own: surface why
        finally:
            await cancel_and_wait(tasks)
            await self._save_domains()  # a simulated host's last state, for the next run
            if bus is not None:
                await bus.close()
            if self._owns_hypervisor and self._hypervisor is not None:
                await self._hypervisor.close()
                self._hypervisor = None
            log.info("agent %s stopped (host_id=%s)", self.name, self.host_id)

    # -- start-up --

    async def _open_hypervisor(self, stop: asyncio.Event) -> Hypervisor | None:
        delay = 0.2
        while self._hypervisor is None:
            try:
                self._hypervisor = await Hypervisor.open(
                    self.uri,
                    images_dir=str(self.state_dir / "images"),
                    domain_type=self.settings.agent_domain_type,
                )
            except TemporaryError as exc:
                log.warning("agent %s cannot reach %s yet: %s", self.name, self.uri, exc)
                if await _sleep(stop, delay):
                    return None
                delay = min(delay * 2, BACKOFF_MAX_S)
        return self._hypervisor

    async def _connect_bus(self, stop: asyncio.Event, auth: ClientAuth | None) -> Bus | None:
        delay = 0.2
        while True:
            try:
                return await Bus.connect(
                    self.settings.nats_url,
                    name=f"agent-{self.name}",
                    reconnect_forever=True,
                    tls=tls.nats_client_context(self.settings),
                    auth=auth,
                )
            except LqError as exc:
                log.warning("agent %s cannot reach NATS yet: %s", self.name, exc)
                auth = self._identity.refused(auth, str(exc))
                if await _sleep(stop, delay):
                    return None
                delay = min(delay * 2, BACKOFF_MAX_S)

    async def _enrol(self, bus: Bus, hv: Hypervisor, stop: asyncio.Event) -> str | None:
        id_file = self.state_dir / "host_id"
        known = id_file.read_text().strip() if id_file.is_file() else ""
        facts = await hv.host_facts()
        request = EnrollRequest(
            host_id=known or None,
            name=self.name,
            uri=facts.uri,
            cpus=facts.cpus,
            memory_mib=facts.memory_mib,
            # a new host presents its one-time join token; an enrolled one needs none
            join_token=None if known else (self.settings.agent_join_token or None),
        )
        request = self._identity.prove(request)
        delay = 0.2
        while True:
            try:
                raw = await bus.request(subjects.ENROLL, encode(request), timeout=5.0)
                reply = ENROLL_REPLY_DECODER.decode(raw)
                if reply.ok and reply.host_id:
                    break
                log.error("agent %s enrolment refused: %s", self.name, reply.error or "no id")
            except (LqError, ValueError) as exc:  # msgspec.DecodeError is a ValueError
                log.info("agent %s waiting for a controlplane to enrol: %s", self.name, exc)
            if await _sleep(stop, delay):
                return None
            delay = min(delay * 2, BACKOFF_MAX_S)
        if known and reply.host_id != known:
            log.warning("agent %s was host_id=%s, now host_id=%s", self.name, known, reply.host_id)
        if reply.host_id != known:
            id_file.write_text(reply.host_id + "\n")
        self._identity.received(reply.user_jwt)  # NATS JWT mode: the host's own user
        if reply.heartbeat_interval_s:
            self.heartbeat_interval_s = reply.heartbeat_interval_s
        self.host_id = reply.host_id
        return reply.host_id

    async def _request(self, hv: Hypervisor, host_id: str | None) -> EnrollRequest:
        facts = await hv.host_facts()
        return EnrollRequest(
            host_id=host_id,
            name=self.name,
            uri=facts.uri,
            cpus=facts.cpus,
            memory_mib=facts.memory_mib,
        )

    async def _send_inventory(self, bus: Bus, hv: Hypervisor, host_id: str) -> None:
        while not hv.events.empty():  # the inventory below supersedes earlier events
            hv.events.get_nowait()
        domains = await hv.list_managed()
        if self._reconciler is not None:
            self._reconciler.inventory(domains)
        await self._report_until_sent(bus, host_id, Inventory(domains=domains))
        log.info("host_id=%s sent inventory of %d managed domains", host_id, len(domains))

    # -- the loops --

    async def _orders_loop(self, bus: Bus, executor: OrderExecutor, host_id: str) -> None:
        delay = 0.2
        running: set[asyncio.Task[None]] = set()
        try:
            while True:
                try:
                    async for delivery in bus.orders(host_id):
                        # each order in its own task: the executor keeps one VM's orders
                        # in sequence, and a CancelOrder can reach a waiting order
                        task = asyncio.create_task(
                            self._one_order(bus, executor, host_id, delivery),
                            name=f"order {delivery.value.order_id}",
                        )
                        running.add(task)
                        task.add_done_callback(running.discard)
                        delay = 0.2
                except LqError as exc:
                    log.warning("host_id=%s order consumer interrupted: %s", host_id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
        finally:
            await cancel_and_wait(list(running))

    async def _one_order(
        self, bus: Bus, executor: OrderExecutor, host_id: str, delivery: Delivery[Order]
    ) -> None:
        order, started = delivery.value, time.monotonic()
        operation = type(order.body).__name__
        with (
            logctx.bind(host_id=host_id, vm_id=order.body.vm_id, task_id=order.task_id),
            tracing.span(
                f"agent order {operation}",
                parent=order.traceparent,
                kind=tracing.CONSUMER,
                host_id=host_id,
                vm_id=order.body.vm_id,
            ),
        ):
            try:
                await self._handle(bus, executor, host_id, delivery)
            except LqError as exc:  # NATS gone for longer than the retries: redelivery
                log.warning("host_id=%s order %s not answered: %s", host_id, order.order_id, exc)
            except Exception:  # a bug: logged here, the order is redelivered after ack_wait
                log.exception("host_id=%s order %s crashed", host_id, order.order_id)
        telemetry.ORDER_SECONDS.labels(operation).observe(time.monotonic() - started)

    async def _progress(
        self, bus: Bus, host_id: str, order: Order, percent: int, message: str
    ) -> None:
        body = OrderProgress(
            order_id=order.order_id, vm_id=order.body.vm_id, percent=percent, message=message
        )
        await self._report(bus, host_id, body, task_id=order.task_id)

    async def _sweep_loop(self) -> None:
        interval = self.settings.agent_sweep_interval_s
        if interval <= 0 or self._reconciler is None:
            await asyncio.Event().wait()  # sweeping switched off
            return
        while True:
            await asyncio.sleep(interval)
            try:
                if await self._reconciler.sweep():
                    await self._save_domains()
            except AgentError as exc:
                log.warning("host_id=%s sweep skipped: %s", self.host_id, exc)

    async def _handle(
        self, bus: Bus, executor: OrderExecutor, host_id: str, delivery: Delivery[Order]
    ) -> None:
        order = delivery.value
        vm_id = order.body.vm_id
        if order.host_id != host_id:
            log.error("host_id=%s got order %s for %s", host_id, order.order_id, order.host_id)
            outcome = await executor.give_up(order, "order sent to the wrong host", True)
        else:
            keepalive = asyncio.create_task(_keep_alive(delivery))
            try:
                outcome = await executor.execute(order)
            except TemporaryError as exc:
                if delivery.num_delivered < MAX_ATTEMPTS:
                    retry_in = min(2.0**delivery.num_delivered, 30.0)
                    log.warning(
                        "host_id=%s order %s for vm_id=%s failed (attempt %d), retry in %gs: %s",
                        host_id, order.order_id, vm_id, delivery.num_delivered, retry_in, exc,
                    )  # fmt: skip
                    await delivery.nak(delay=retry_in)
                    return
                outcome = await executor.give_up(order, str(exc))
            except AgentError as exc:  # anything else the executor did not turn into a report
                outcome = await executor.give_up(order, str(exc), True)
            finally:
                keepalive.cancel()
        await self._save_domains()  # before the report: what we announce is on disk
        await self._send_outcome(bus, host_id, order, outcome)
        await delivery.ack()

    async def _send_outcome(self, bus: Bus, host_id: str, order: Order, outcome: Outcome) -> None:
        # Retried here (NATS restarting) rather than left to a redelivery of the order
        # after the consumer's ack wait, which would outlast the order's deadline.
        for attempt in range(OUTCOME_TRIES):
            try:
                await self._report(
                    bus,
                    host_id,
                    outcome.body,
                    task_id=order.task_id,
                    report_id=outcome.report_id,
                    traceparent=tracing.traceparent() or order.traceparent,
                )
                break
            except LqError as exc:
                if attempt == OUTCOME_TRIES - 1:
                    raise
                log.warning(
                    "host_id=%s cannot report order %s yet: %s", host_id, order.order_id, exc
                )
                await asyncio.sleep(min(0.2 * 2**attempt, 2.0))
        log.info(
            "host_id=%s answered order %s for vm_id=%s: %s%s",
            host_id, order.order_id, order.body.vm_id, type(outcome.body).__name__,
            " (again)" if outcome.replayed else "",
        )  # fmt: skip

    async def _lifecycle_loop(self, bus: Bus, hv: Hypervisor, host_id: str) -> None:
        unsaved = False  # a managed domain changed since the last save
        while True:
            event = await hv.events.get()
            try:
                managed = await hv.is_managed(event.vm_id)
            except AgentError:
                managed = True  # cannot tell right now: let the controlplane judge
            if managed:
                unsaved = True
                if self._reconciler is not None:
                    self._reconciler.seen(event.vm_id, event.state)
                body = DomainChanged(vm_id=event.vm_id, state=event.state, reason=event.reason)
                await self._report_until_sent(bus, host_id, body)
                log.info(
                    "host_id=%s vm_id=%s is %s (%s)",
                    host_id, event.vm_id, event.state, event.reason,
                )  # fmt: skip
            if unsaved and hv.events.empty():  # a burst of events needs one save, at its end
                await self._save_domains()
                unsaved = False

    async def _save_domains(self) -> None:
        """Save a simulated host's domains into its node file; nothing for a real host."""
        if self._keeper is not None:
            await self._keeper.save()

    async def _report_until_sent(self, bus: Bus, host_id: str, body: AnyReport) -> None:
        """Reports that answer no order have nobody to redeliver them: retry until sent."""
        delay = 0.2
        while True:
            try:
                await self._report(bus, host_id, body)
                return
            except LqError as exc:
                log.warning("host_id=%s cannot send %s yet: %s", host_id, type(body).__name__, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)

    async def _report(
        self,
        bus: Bus,
        host_id: str,
        body: AnyReport,
        *,
        task_id: str | None = None,
        report_id: str | None = None,
        traceparent: str | None = None,
    ) -> None:
        await bus.send_report(
            Report(
                report_id=report_id or new_id(),
                host_id=host_id,
                task_id=task_id,
                sent_at=utcnow(),
                traceparent=traceparent,
                body=body,
            )
        )


async def run(
    settings: Settings, stop: asyncio.Event | None = None, hypervisor_uri: str | None = None
) -> None:
    """Run one host agent until ``stop`` is set (or the task is cancelled)."""
    await Agent(settings, hypervisor_uri=hypervisor_uri).run(stop)


async def _keep_alive(delivery: Delivery[Order]) -> None:
    """Tell JetStream a long order is still being worked on, so it is not redelivered."""
    while True:
        await asyncio.sleep(KEEPALIVE_S)
        with contextlib.suppress(LqError):
            await delivery.in_progress()


async def _sleep(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep unless ``stop`` is set first; ``True`` when it was."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()
