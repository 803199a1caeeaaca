"""Address management and network realisation: a process manager on its own consumer.

It follows every event through the durable consumer ``controlplane-net`` (shared by the
replicas, as ``controlplane-pm`` is for VMs) and keeps two things true:

- **Addresses.** Each NIC of a live VM on a LimiQuantix network holds exactly one address
  of that network: allocated when the VM is created or a NIC attach/move is asked for,
  released when the NIC is detached or moved away or the VM is deleted. Allocation is a
  decision on the network aggregate (``controlplane.domain.network``), so concurrent
  allocations never share an address. A NIC naming a network that does not exist, or a
  network without a free address, is recorded as ``network.address_allocation_failed``
  (and logged); the VM aggregate itself is not changed here (its host fails the VM's
  task). NICs on the network ``default`` (the host's own libvirt network) are not managed.
- **Hosts.** After each batch, every host gets the new desired state of what changed
  (``controlplane.netspec``: networks with their DHCP host entries, nwfilters, NIC filter
  bindings) by request/reply (``events.netsync``); the answers become
  ``network.state_observed``. A host that connects, or an agent that starts (``NetHello``
  on its own ``lq.host.<id>.net.hello``; one naming another host than its subject is
  rejected and logged), gets everything.

Each reaction is idempotent (allocation is keyed by VM and NIC, pushes are desired state),
so a redelivered batch does no harm.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from controlplane import netspec
from controlplane.consuming import consume_forever
from controlplane.domain import network as nd
from controlplane.domain import security_group as sd
from controlplane.domain.errors import DomainError
from controlplane.handlers import Handler, TooMuchContention
from events import host as he
from events import netsync as ns
from events import network as ne
from events import security_group as sge
from events import subjects
from events import task as te
from events import vm as ve
from events.aio import cancel_and_wait
from events.base import Meta, utcnow
from events.bus import Bus, Subscription
from events.codec import Envelope, StoredEvent, encode
from events.errors import StoreUnavailable

log = logging.getLogger(__name__)

SYSTEM = "system:ipam"
DURABLE = "controlplane-net"
UNMANAGED = frozenset({"", "default"})
ALLOCATE_TRIES = 50
_ALLOCATING = (ve.VmCreated, ve.NicAttachRequested, ve.NicUpdateRequested)
_RECONCILING = (
    *_ALLOCATING,
    ve.NicAttached,
    ve.NicUpdated,
    ve.NicDetached,
    ve.VmDeleted,
    ve.VmOperationFailed,
    ve.VmPlacementFailed,
    te.TaskFailed,
    te.TaskCancelled,
)
"""VM events after which the addresses a VM's NICs hold may have to change."""


def _meta(env: Envelope | None = None) -> Meta:
    if env is None:
        return Meta(actor=SYSTEM, occurred_at=utcnow())
    return Meta(
        actor=SYSTEM,
        occurred_at=utcnow(),
        correlation_id=env.correlation_id,
        causation_id=env.event_id,
        traceparent=env.traceparent,
    )


async def allocate(handler: Handler, command: nd.Allocate, meta: Meta, network_id: str) -> str:
    """Allocate (or find) the NIC's address, retrying through any contention; raises
    ``AddressExhausted`` when none is left and ``UnknownAggregate`` for no such network."""
    delay = 0.005
    for _ in range(ALLOCATE_TRIES):
        try:
            out = await handler.execute(nd.KIND, network_id, nd.decider(command), meta)
        except TooMuchContention:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
            continue
        state: nd.Network = out.state
        return state.allocations[nd.nic_key(command.vm_id, command.nic_id)].ip
    raise TooMuchContention(f"network {network_id} stayed contended")


Held = dict[tuple[str, str], nd.Allocation]  # (nic_id, network_id) → allocation


class Dirty:
    """What a batch changed and must be pushed to hosts once at its end, and the
    addresses each VM holds (indexed once per batch, kept current by its own decisions)."""

    def __init__(self) -> None:
        self.networks: set[str] = set()
        self.groups: set[str] = set()
        self.vms: set[str] = set()
        self.hosts: set[str] = set()  # full sync
        self.held: dict[str, Held] | None = None

    def __bool__(self) -> bool:
        return bool(self.networks or self.groups or self.vms or self.hosts)


class NetProcess:
    def __init__(self, bus: Bus, handler: Handler, request_timeout: float = 5.0) -> None:
        self.bus = bus
        self.handler = handler
        self.repo = handler.repo
        self.timeout = request_timeout
        self._hello: Subscription | None = None
        self._wakeups: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        self._hello = await self.bus.serve_subjects(
            subjects.NET_HELLOS_ALL, self._on_hello, queue="controlplane"
        )
        try:
            await consume_forever(
                self.bus.store, DURABLE, "lq.evt.>", self._handle_batch, "network process manager"
            )
        finally:
            await cancel_and_wait(list(self._wakeups))
            await self._hello.unsubscribe()

    async def _on_hello(self, subject: str, data: bytes) -> bytes:
        hello = ns.NET_HELLO_DECODER.decode(data)
        sender = subjects.subject_host(subject)
        if hello.host_id != sender:
            log.warning(
                "rejected network hello of host %s sent on host %s's subject %s",
                hello.host_id,
                sender,
                subject,
            )
            return b"{}"
        task = asyncio.create_task(self.sync_host(hello.host_id), name="net-hello")
        self._wakeups.add(task)
        task.add_done_callback(self._wakeups.discard)
        return b"{}"

    async def _handle_batch(self, events: list[StoredEvent], last_seq: int) -> None:
        delay = 0.2
        while True:
            dirty = Dirty()
            try:
                await self.repo.wait_seq(last_seq, timeout=30)
                for se in events:
                    try:
                        await self.handle(se, dirty)
                    except (StoreUnavailable, TimeoutError, TooMuchContention):
                        raise
                    except Exception:
                        log.exception("event %s at %d not handled", se.envelope.type, se.seq)
                await self.push(dirty)
                return
            except asyncio.CancelledError:
                raise
            except (StoreUnavailable, TimeoutError, TooMuchContention) as exc:
                log.warning("network process manager retries in %.1f s: %r", delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    # ------------------------------------------------------------ reactions

    async def handle(self, se: StoredEvent, dirty: Dirty) -> None:
        env = se.envelope
        e = env.event
        kind = env.aggregate_kind
        if kind == "vm":
            vm_id = env.aggregate_id
            if isinstance(e, _RECONCILING):
                held = self._held(dirty)
                await self.reconcile_vm(env, vm_id, held, failing=isinstance(e, _ALLOCATING))
            if isinstance(e, ve.NicDetached | ve.VmDeleted):
                await self.forget_nics(env, vm_id)
            if any(k.startswith(vm_id + "/") for g in self.repo.all(sd.KIND) for k in g.nics):
                dirty.vms.add(vm_id)  # its filters go with it (defined, moved, restarted)
        elif kind == nd.KIND:
            if not isinstance(e, ne.NetworkStateObserved | ne.AddressAllocationFailed):
                dirty.networks.add(env.aggregate_id)
            if isinstance(e, ne.AddressAllocated | ne.AddressReleased):
                key = nd.nic_key(e.vm_id, e.nic_id)
                for g in self.repo.all(sd.KIND):
                    if key in g.nics:
                        dirty.groups |= netspec.dependants(g.group_id, self.repo.all(sd.KIND))
        elif kind == sd.KIND:
            dirty.groups.add(env.aggregate_id)
            dirty.groups |= netspec.dependants(env.aggregate_id, self.repo.all(sd.KIND))
            if isinstance(e, sge.SecurityGroupApplied | sge.SecurityGroupRemoved):
                dirty.vms.add(e.vm_id)
        elif isinstance(e, he.HostEnrolled | he.HostConnected):
            dirty.hosts.add(env.aggregate_id)

    def _desired(self, vm_id: str) -> dict[tuple[str, str], str]:
        """(nic_id, network_id) → mac of every address the VM's NICs should hold."""
        vm = self.repo.vm(vm_id)
        if vm is None or vm.state == "deleted":
            return {}
        want = {(n.nic_id, n.network_id): n.mac for n in vm.nics}
        request = vm.pending.request if vm.pending is not None else None
        if isinstance(request, ve.NicAttachRequested):
            want[(request.nic.nic_id, request.nic.network_id)] = request.nic.mac
        elif isinstance(request, ve.NicUpdateRequested):
            nic = next((n for n in vm.nics if n.nic_id == request.nic_id), None)
            if nic is not None:
                want[(nic.nic_id, request.network_id)] = nic.mac
        return {k: mac for k, mac in want.items() if k[1] not in UNMANAGED}

    def _held(self, dirty: Dirty) -> dict[str, Held]:
        if dirty.held is None:
            dirty.held = {}
            for n in self.repo.all(nd.KIND):
                for a in n.allocations.values():
                    dirty.held.setdefault(a.vm_id, {})[(a.nic_id, n.network_id)] = a
        return dirty.held

    async def reconcile_vm(
        self, env: Envelope, vm_id: str, held: dict[str, Held], *, failing: bool
    ) -> None:
        want = self._desired(vm_id)
        have = held.setdefault(vm_id, {})
        for (nic_id, network_id), a in list(have.items()):
            if (nic_id, network_id) not in want:
                await self.handler.execute(
                    nd.KIND,
                    network_id,
                    nd.decider(nd.Release(vm_id=vm_id, nic_id=nic_id)),
                    _meta(env),
                )
                have.pop((nic_id, network_id), None)
                log.info("released %s of vm %s nic %s", a.ip, vm_id, nic_id)
        for (nic_id, network_id), mac in want.items():
            if (nic_id, network_id) in have:
                continue
            got = await self._allocate(env, vm_id, (nic_id, network_id, mac), failing=failing)
            if got is not None:
                have[(nic_id, network_id)] = got

    async def _allocate(
        self, env: Envelope, vm_id: str, nic: tuple[str, str, str], *, failing: bool
    ) -> nd.Allocation | None:
        nic_id, network_id, mac = nic
        net: nd.Network | None = self.repo.get(nd.KIND, network_id)[0]
        reason = ""
        if net is None or net.deleted:
            reason = f"network {network_id} does not exist"
        else:
            try:
                ip = await allocate(
                    self.handler, nd.Allocate(vm_id=vm_id, nic_id=nic_id, mac=mac), _meta(env),
                    network_id,
                )  # fmt: skip
                log.info("vm %s nic %s has %s on network %s", vm_id, nic_id, ip, net.name)
                return nd.Allocation(vm_id=vm_id, nic_id=nic_id, mac=mac, ip=ip)
            except DomainError as exc:
                reason = str(exc)
        if not failing:  # recorded once, for the request that asked for the address
            log.debug("vm %s nic %s still has no address: %s", vm_id, nic_id, reason)
            return None
        log.warning("vm %s nic %s: no address: %s", vm_id, nic_id, reason)
        fail = nd.FailAllocation(
            network_id=network_id, vm_id=vm_id, nic_id=nic_id, mac=mac, reason=reason
        )
        await self.handler.execute(nd.KIND, network_id, nd.decider(fail), _meta(env))
        return None

    async def forget_nics(self, env: Envelope, vm_id: str) -> None:
        """A NIC that is gone (detached, its VM deleted) leaves the groups it was in."""
        vm = self.repo.vm(vm_id)
        live = {n.nic_id for n in vm.nics} if vm is not None and vm.state != "deleted" else set()
        for g in list(self.repo.all(sd.KIND)):
            for ref in list(g.nics.values()):
                if ref.vm_id == vm_id and ref.nic_id not in live and not g.deleted:
                    command = sd.Remove(vm_id=vm_id, nic_id=ref.nic_id)
                    await self.handler.execute(sd.KIND, g.group_id, sd.decider(command), _meta(env))
                    log.info("vm %s nic %s left security group %s", vm_id, ref.nic_id, g.name)

    # ------------------------------------------------------------ pushing to hosts

    def _hosts(self) -> list[str]:
        return [h.host_id for h in self.repo.all("host") if h.state == "connected"]

    async def push(self, dirty: Dirty) -> None:
        if not dirty:
            return
        networks: list[nd.Network] = list(self.repo.all(nd.KIND))
        groups = {g.group_id: g for g in self.repo.all(sd.KIND)}
        addresses = netspec.addresses_of(networks)
        changed = NetSyncBuilder(networks, groups, addresses)
        base = changed.build(dirty.networks, dirty.groups)
        for host_id in self._hosts():
            if host_id in dirty.hosts:
                continue
            vms = [
                v
                for v in (self.repo.vm(i) for i in dirty.vms)
                if v is not None and v.host_id == host_id and v.state != "deleted"
            ]
            bindings = [b for v in vms for b in netspec.bindings_for(v, groups.values())]
            if not (bindings or base.networks or base.remove_networks or base.filters) and not (
                base.remove_filters
            ):
                continue
            await self.send(
                host_id,
                ns.NetSync(
                    networks=base.networks,
                    remove_networks=base.remove_networks,
                    filters=base.filters,
                    remove_filters=base.remove_filters,
                    bindings=bindings,
                ),
            )
        for host_id in dirty.hosts:
            await self.sync_host(host_id)

    async def sync_host(self, host_id: str) -> None:
        """Everything the host should have (a connecting host, a starting agent)."""
        networks: list[nd.Network] = list(self.repo.all(nd.KIND))
        groups = {g.group_id: g for g in self.repo.all(sd.KIND)}
        addresses = netspec.addresses_of(networks)
        live_nets = {n.network_id for n in networks if not n.deleted}
        live_groups = {g for g, s in groups.items() if not s.deleted}
        full = NetSyncBuilder(networks, groups, addresses).build(live_nets, live_groups)
        vms = [v for v in self.repo.vms_on(host_id) if v.state != "deleted"]
        bindings = [b for v in vms for b in netspec.bindings_for(v, groups.values())]
        await self.send(
            host_id,
            ns.NetSync(networks=full.networks, filters=full.filters, bindings=bindings, full=True),
        )

    async def send(self, host_id: str, sync: ns.NetSync) -> None:
        try:
            raw = await self.bus.request(subjects.net_subject(host_id), encode(sync), self.timeout)
            reply = ns.NET_SYNC_REPLY_DECODER.decode(raw)
        except (StoreUnavailable, ValueError) as exc:
            log.warning("host %s did not take the network state: %s", host_id, exc)
            for spec in sync.networks:
                await self.observe(host_id, spec.network_id, "unreachable", str(exc))
            return
        for err in reply.errors:
            log.warning("host %s: %s", host_id, err)
        for result in reply.networks:
            await self.observe(host_id, result.network_id, result.state, result.detail)

    async def observe(self, host_id: str, network_id: str, state: str, detail: str) -> None:
        net: nd.Network | None = self.repo.get(nd.KIND, network_id)[0]
        if net is None or net.deleted:
            return
        command = nd.ObserveState(host_id=host_id, state=state, detail=detail[:500])  # type: ignore[arg-type]
        try:
            await self.handler.execute(nd.KIND, network_id, nd.decider(command), _meta())
        except DomainError as exc:
            log.debug("state of network %s on %s not recorded: %s", network_id, host_id, exc)


class NetSyncBuilder:
    """The networks and filters part of a ``NetSync`` for a set of changed ids."""

    def __init__(
        self,
        networks: list[nd.Network],
        groups: dict[str, sd.SecurityGroup],
        addresses: dict[str, list[str]],
    ) -> None:
        self.networks = {n.network_id: n for n in networks}
        self.groups = groups
        self.addresses = addresses

    def build(self, network_ids: Iterable[str], group_ids: Iterable[str]) -> ns.NetSync:
        nets, gone_nets, filters, gone_filters = [], [], [], []
        for nid in sorted(network_ids):
            n = self.networks.get(nid)
            if n is None:
                continue  # an allocation failure recorded on a network that does not exist
            if n.deleted:
                gone_nets.append(nid)
            else:
                nets.append(netspec.network_spec(n))
        for gid in sorted(group_ids):
            g = self.groups.get(gid)
            if g is None:
                continue
            if g.deleted:
                gone_filters.append(ns.filter_name(gid))
            else:
                filters.append(netspec.filter_spec(g, self.groups, self.addresses))
        return ns.NetSync(
            networks=nets, remove_networks=gone_nets, filters=filters, remove_filters=gone_filters
        )
