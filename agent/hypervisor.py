"""The agent's one door to libvirt: a connection, a worker thread, and lifecycle events.

This module and its ``agent.hv_*`` helpers (storage, devices, snapshots, console) are the
only LimiQuantix modules that import libvirt. libvirt's Python binding blocks, so every
call on the connection runs in one dedicated worker thread (calls are therefore
serialised, and a check-then-act inside one call cannot race with another of ours) and
the asyncio event loop never stalls. Long storage copies (a full clone) run on a second
thread (``run_long``) so that a copy does not hold up every other order and the sweep.
libvirt delivers domain lifecycle events through its own event loop, which runs in a
daemon thread shared by the process; callbacks are marshalled onto an ``asyncio.Queue``
of ``Lifecycle`` items with ``call_soon_threadsafe``.

libvirt errors never leave this module: they become ``agent.errors`` types, with
``DomainNotFound`` for a missing domain so that callers can apply the idempotency rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlsplit

import libvirt
import msgspec

from agent import domxml, hv_snapshots, hv_storage, simhost, stats
from agent.errors import AgentError, DomainNotFound, PermanentError, TemporaryError
from events import tracing
from events.metrics import PoolSample
from events.reports import DomainSeen
from events.vm import VmState

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_IMAGES_DIR = "/var/lib/limiquantix/images"
_FLAG_ERRORS = (libvirt.VIR_ERR_INVALID_ARG, libvirt.VIR_ERR_NO_SUPPORT)
EVENT_QUEUE_MAX = 10_000


class Lifecycle(NamedTuple):
    """One libvirt lifecycle event, already in LimiQuantix words."""

    vm_id: str
    state: VmState
    reason: str


class HostFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What enrolment tells the controlplane about this hypervisor."""

    hostname: str
    uri: str
    hypervisor: str  # libvirt driver type, e.g. "QEMU" or "TEST"
    domain_type: str  # what domain XML uses, e.g. "kvm" or "test"
    cpus: int
    memory_mib: int


# --- libvirt words -> LimiQuantix words -------------------------------------------------

# indexed by libvirt's shutoff reason, STARTED detail and STOPPED detail numbers
_SHUTOFF_REASONS = ("", "shutdown", "destroyed", "crashed", "migrated", "saved", "failed")
_STARTED_DETAILS = ("booted", "migrated", "restored", "from snapshot", "wakeup")
_SUSPENDED_DETAILS = (
    "",
    "migration",
    "I/O error",
    "watchdog",
    "restored",
    "from snapshot",
    "API error",
    "postcopy",
    "postcopy failed",
)
_RESUMED_DETAILS = ("resumed", "migrated", "from snapshot", "postcopy", "postcopy failed")
_STOPPED_DETAILS = ("shutdown", "destroyed", "crashed", "migrated", "saved", "failed")


def _pick(words: tuple[str, ...], index: int) -> str:
    return words[index] if 0 <= index < len(words) else ""


def state_word(state: int, reason: int) -> tuple[VmState, str]:
    """A libvirt domain state and reason as a VM state word and a reason text."""
    if state in (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_BLOCKED):
        return "running", ""
    if state == libvirt.VIR_DOMAIN_PAUSED:
        if reason == libvirt.VIR_DOMAIN_PAUSED_MIGRATION:
            return "migrating", "migration"
        return "paused", ""
    if state == libvirt.VIR_DOMAIN_PMSUSPENDED:
        return "paused", "pm-suspended"
    if state == libvirt.VIR_DOMAIN_SHUTDOWN:
        return "stopping", "shutting down"
    if state == libvirt.VIR_DOMAIN_SHUTOFF:
        return "stopped", _pick(_SHUTOFF_REASONS, reason)
    if state == libvirt.VIR_DOMAIN_CRASHED:
        return "stopped", "crashed"
    return "error", "no state"


def event_word(event: int, detail: int) -> tuple[VmState, str] | None:
    """A lifecycle event as the state it leaves the domain in; ``None`` for events that
    say nothing about the state (an updated definition, a rename)."""
    if event == libvirt.VIR_DOMAIN_EVENT_DEFINED:
        if detail == libvirt.VIR_DOMAIN_EVENT_DEFINED_ADDED:
            return "stopped", "defined"
        return None
    if event == libvirt.VIR_DOMAIN_EVENT_UNDEFINED:
        return "deleted", "undefined"
    if event == libvirt.VIR_DOMAIN_EVENT_STARTED:
        return "running", _pick(_STARTED_DETAILS, detail)
    if event == libvirt.VIR_DOMAIN_EVENT_SUSPENDED:
        return "paused", _pick(_SUSPENDED_DETAILS, detail)
    if event == libvirt.VIR_DOMAIN_EVENT_RESUMED:
        return "running", _pick(_RESUMED_DETAILS, detail) or "resumed"
    if event == libvirt.VIR_DOMAIN_EVENT_STOPPED:
        return "stopped", _pick(_STOPPED_DETAILS, detail)
    if event == libvirt.VIR_DOMAIN_EVENT_SHUTDOWN:
        return "stopping", "host shutdown" if detail == 2 else "guest shutdown"
    if event == libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED:
        return "paused", "pm-suspended"
    if event == libvirt.VIR_DOMAIN_EVENT_CRASHED:
        return "stopped", "crashed"
    return None


_PERMANENT_NAMES = """
    XML_ERROR XML_DETAIL XML_INVALID_SCHEMA CONFIG_UNSUPPORTED INVALID_ARG NO_SUPPORT
    OPERATION_INVALID OPERATION_DENIED OPERATION_UNSUPPORTED DOM_EXIST INVALID_DOMAIN
    ARGUMENT_UNSUPPORTED NO_DOMAIN_METADATA
"""  # libvirt error codes (VIR_ERR_*) that no retry can fix
_PERMANENT_CODES = {getattr(libvirt, "VIR_ERR_" + name, -1) for name in _PERMANENT_NAMES.split()}


def translate(exc: libvirt.libvirtError, what: str) -> AgentError:
    """A libvirt error as an agent error (``what`` says which call failed)."""
    code = exc.get_error_code()
    text = f"{what}: {exc.get_error_message() or exc}"
    if code == libvirt.VIR_ERR_NO_DOMAIN:
        return DomainNotFound(what.rsplit(" ", 1)[-1])
    if code in _PERMANENT_CODES:
        return PermanentError(text)
    return TemporaryError(text)


# --- libvirt's event loop: one daemon thread per process ---------------------------------


class _EventLoopThread:
    """Runs libvirt's default event loop while at least one ``Hypervisor`` is open.

    libvirt wants its event implementation registered once, before the first connection
    is opened; the thread is started on first use and stopped (woken by a zero timeout)
    when the last connection closes, so tests leave no threads behind.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._registered = False
        self._users = 0
        self._stop = False
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        with self._lock:
            if not self._registered:
                libvirt.registerErrorHandler(_silence, None)  # errors become exceptions
                libvirt.virEventRegisterDefaultImpl()
                self._registered = True
            self._users += 1
            if self._thread is None:
                self._stop = False
                self._thread = threading.Thread(
                    target=self._run, name="lq-libvirt-events", daemon=True
                )
                self._thread.start()

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users > 0 or self._thread is None:
                return
            thread, self._thread = self._thread, None
            self._stop = True
            libvirt.virEventAddTimeout(0, _remove_timeout, None)  # wake the loop up
        thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop:
            try:
                if libvirt.virEventRunDefaultImpl() < 0:
                    log.warning("libvirt event loop iteration failed")
            except Exception:
                log.exception("libvirt event loop iteration raised")


def _silence(_ctx: object, _err: object) -> None:
    """libvirt prints every error to stderr unless a handler is installed."""


def _remove_timeout(timer: int, _opaque: object) -> None:
    libvirt.virEventRemoveTimeout(timer)


_EVENT_LOOP = _EventLoopThread()


# --- the hypervisor ----------------------------------------------------------------------


class Hypervisor:
    """One libvirt connection, used from asyncio. Open with ``await Hypervisor.open(uri)``."""

    def __init__(
        self,
        uri: str,
        loop: asyncio.AbstractEventLoop,
        images_dir: str = "",
        domain_type: str = "auto",
    ) -> None:
        self.uri = uri
        # the directory of the agent's storage pool "default" (libvirt pool lq-default)
        self.images_dir = images_dir or DEFAULT_IMAGES_DIR
        self._forced_type = domain_type
        self.events: asyncio.Queue[Lifecycle] = asyncio.Queue(EVENT_QUEUE_MAX)
        self._loop = loop
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lq-libvirt")
        self._long = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lq-libvirt-long")
        self._conn: Any = None
        self._callback_id: int | None = None
        self._domain_type = ""
        self._managed: set[str] = set()
        self._closed = False

    @classmethod
    async def open(cls, uri: str, *, images_dir: str = "", domain_type: str = "auto") -> Hypervisor:
        """Connect to ``uri`` (``qemu:///system``, ``test:///default``, ``test:///abs/host.xml``).

        ``images_dir`` roots the storage pool ``default``; ``domain_type`` ("auto",
        "kvm", "qemu") forces the ``<domain type>`` of a QEMU host (setting
        ``agent_domain_type``); the test driver always uses ``test``."""
        hv = cls(uri, asyncio.get_running_loop(), images_dir, domain_type)
        _EVENT_LOOP.acquire()
        try:
            await hv._call(hv._connect)
        except BaseException:
            hv._pool.shutdown(wait=True)
            hv._long.shutdown(wait=True)
            _EVENT_LOOP.release()
            raise
        return hv

    @property
    def domain_type(self) -> str:
        return self._domain_type

    async def close(self) -> None:
        """Stop event delivery, close the connection and the worker thread."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._loop.run_in_executor(self._pool, self._disconnect)
        finally:
            self._pool.shutdown(wait=True)
            self._long.shutdown(wait=True)
            _EVENT_LOOP.release()

    # -- generic calls for the agent.hv_* helpers --

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(conn, *args)`` in the worker thread, libvirt errors translated."""
        return await self._call(self._with_conn, fn, *args)

    async def run_dom(self, fn: Callable[..., T], vm_id: str, *args: Any) -> T:
        """``fn(conn, dom, *args)`` for the domain of ``vm_id`` in the worker thread;
        ``DomainNotFound`` when there is none."""
        return await self._call(self._with_dom, vm_id, fn, *args)

    async def run_long(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(conn, *args)`` on the long-operation thread (storage copies)."""
        if self._closed:
            raise TemporaryError(f"hypervisor connection to {self.uri} is closed")
        with tracing.span(f"libvirt {fn.__name__}", uri=self.uri):
            return await self._loop.run_in_executor(
                self._long, _guarded, self, self._with_conn, (fn, *args)
            )

    def _with_conn(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(self._ensure_connected(), *args)

    def _with_dom(self, vm_id: str, fn: Callable[..., T], *args: Any) -> T:
        return fn(self._ensure_connected(), self._domain(vm_id), *args)

    # -- operations (each one call in the worker thread) --

    async def host_facts(self) -> HostFacts:
        return await self._call(self._host_facts)

    async def define(self, spec: domxml.VmSpec) -> VmState:
        """Define (or update the definition of) a managed domain; returns its state."""
        try:
            domxml.validate(spec)
        except ValueError as exc:
            raise PermanentError(f"invalid spec for vm {spec.vm_id}: {exc}") from exc
        return await self._call(self._define, spec)

    async def start(self, vm_id: str) -> VmState:
        """Start the domain (resume it when paused) unless it runs; returns its state."""
        return await self._call(self._start, vm_id)

    async def stop(self, vm_id: str, force: bool) -> VmState:
        """Power off (``force``) or ask the guest to shut down; returns the state right
        after, which for a graceful shutdown of a real guest is usually still running."""
        return await self._call(self._stop, vm_id, force)

    async def definition(self, vm_id: str) -> str:
        """The persistent definition (domain XML) of a domain."""
        return await self._call(self._definition, vm_id)

    async def undefine(self, vm_id: str) -> None:
        """Destroy the domain if it runs, then remove its definition."""
        await self._call(self._undefine, vm_id)

    async def state(self, vm_id: str) -> VmState | None:
        """The domain's state word, ``None`` when the hypervisor has no such domain."""
        found = await self._call(self._state, vm_id)
        return None if found is None else found[0]

    async def state_reason(self, vm_id: str) -> tuple[VmState, str] | None:
        return await self._call(self._state, vm_id)

    async def list_managed(self) -> list[DomainSeen]:
        """Every domain carrying LimiQuantix metadata, whatever its state."""
        return await self._call(self._list_managed)

    async def managed_definitions(self) -> list[simhost.SavedDomain]:
        """The persistent definition (LimiQuantix metadata included) and libvirt state
        number of every persistent managed domain: what a simulated host keeps in its node
        file. (LimiQuantix only defines persistent domains; a transient one would not
        survive a restart of a real host either.)"""
        return await self._call(self._managed_definitions)

    async def managed_pools(self) -> list[simhost.SavedPool]:
        """The agent's own storage pool with its volumes, as a simulated host's node file
        keeps it (``[]`` when it was never created)."""
        return await self.run(hv_storage.saved_pools)

    async def counters(self) -> stats.HostCounters:
        """One reading of the host's and every running managed domain's counters
        (``agent.stats`` turns two readings into a metrics sample)."""
        return await self._call(self._counters)

    async def is_managed(self, vm_id: str) -> bool:
        """Whether ``vm_id`` is (or was, while this connection was open) a managed domain."""
        if _norm(vm_id) in self._managed:
            return True
        return await self._call(self._lookup_managed, vm_id)

    # -- worker-thread side --

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise TemporaryError(f"hypervisor connection to {self.uri} is closed")
        with tracing.span(f"libvirt {fn.__name__.lstrip('_')}", uri=self.uri):
            return await self._loop.run_in_executor(self._pool, _guarded, self, fn, args)

    def _connect(self) -> None:
        try:
            conn = libvirt.open(self.uri)
        except libvirt.libvirtError as exc:
            raise TemporaryError(f"cannot connect to {self.uri}: {exc}") from exc
        self._conn = conn
        self._callback_id = conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_lifecycle, None
        )
        best = domxml.best_domain_type(conn.getCapabilities())
        forced = self._forced_type
        self._domain_type = forced if forced in ("kvm", "qemu") and best != "test" else best
        log.info("connected to %s (domain type %s)", self.uri, self._domain_type)

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if self._callback_id is not None:
                conn.domainEventDeregisterAny(self._callback_id)
            conn.close()
        except libvirt.libvirtError as exc:
            log.debug("closing %s: %s", self.uri, exc)
        self._callback_id = None

    def _ensure_connected(self) -> Any:
        """The live connection, reopened when libvirtd went away since the last call."""
        if self._conn is not None:
            try:
                if self._conn.isAlive() == 1:
                    return self._conn
            except libvirt.libvirtError:
                pass
            log.warning("connection to %s lost, reconnecting", self.uri)
            self._disconnect()
        self._connect()
        return self._conn

    def _domain(self, vm_id: str) -> Any:
        try:
            key = str(uuid.UUID(vm_id))
        except ValueError as exc:
            raise DomainNotFound(vm_id) from exc  # not a UUID: cannot be one of ours
        try:
            return self._ensure_connected().lookupByUUIDString(key)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                raise DomainNotFound(vm_id) from exc
            raise

    def _host_facts(self) -> HostFacts:
        conn = self._ensure_connected()
        info = conn.getInfo()
        return HostFacts(
            hostname=conn.getHostname(),
            uri=self.uri,
            hypervisor=conn.getType(),
            domain_type=self._domain_type,
            cpus=int(info[2]),
            memory_mib=int(info[1]),
        )

    def _define(self, spec: domxml.VmSpec) -> VmState:
        conn = self._ensure_connected()
        dom = conn.defineXML(domxml.domain_xml(spec, self._domain_type))
        self._managed.add(_norm(spec.vm_id))
        log.info("defined domain %s for vm_id=%s", dom.name(), spec.vm_id)
        return _word(dom)[0]

    def _start(self, vm_id: str) -> VmState:
        dom = self._domain(vm_id)
        state, _ = dom.state()
        if state in (libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_PMSUSPENDED):
            dom.resume()
            log.info("resumed vm_id=%s", vm_id)
        elif not dom.isActive():
            dom.create()
            log.info("started vm_id=%s", vm_id)
        return _word(dom)[0]

    def _stop(self, vm_id: str, force: bool) -> VmState:
        dom = self._domain(vm_id)
        if dom.isActive():
            if force:
                dom.destroy()
            else:
                dom.shutdown()
            log.info("%s vm_id=%s", "destroyed" if force else "shutdown requested for", vm_id)
        return _word(dom)[0]

    def _definition(self, vm_id: str) -> str:
        return str(self._domain(vm_id).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))

    def _undefine(self, vm_id: str) -> None:
        dom = self._domain(vm_id)
        if dom.isActive():
            dom.destroy()
        snapshots = libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
        for flags in (snapshots | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM, snapshots, 0):
            try:
                dom.undefineFlags(flags)
                break
            except libvirt.libvirtError as exc:  # drivers without some flags (the test driver)
                if not flags or exc.get_error_code() not in _FLAG_ERRORS:
                    raise
        log.info("undefined vm_id=%s", vm_id)

    def _state(self, vm_id: str) -> tuple[VmState, str] | None:
        try:
            return _word(self._domain(vm_id))
        except DomainNotFound:
            return None
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None  # vanished between lookup and state
            raise

    def _list_managed(self) -> list[DomainSeen]:
        seen: list[DomainSeen] = []
        for dom in self._ensure_connected().listAllDomains(0):
            meta = _metadata(dom)
            if meta is None:
                continue
            try:
                state = _word(dom)[0]
            except libvirt.libvirtError:
                continue  # vanished while we looked
            self._managed.add(_norm(meta.vm_id))
            seen.append(DomainSeen(vm_id=meta.vm_id, name=meta.name, state=state))
        return seen

    def _managed_definitions(self) -> list[simhost.SavedDomain]:
        saved: list[simhost.SavedDomain] = []
        for dom in self._ensure_connected().listAllDomains(
            libvirt.VIR_CONNECT_LIST_DOMAINS_PERSISTENT
        ):
            if _metadata(dom) is None:
                continue
            try:
                xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)  # the definition, not the run
                state, _ = dom.state()
            except libvirt.libvirtError as exc:
                if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                    continue  # vanished while we looked
                raise
            snapshots = hv_snapshots.saved_tree(dom)
            saved.append(simhost.SavedDomain(xml, state, snapshots))
        return saved

    def _counters(self) -> stats.HostCounters:
        conn = self._ensure_connected()
        info = conn.getInfo()
        busy = total = free = None
        with contextlib.suppress(libvirt.libvirtError):  # the test driver: constant counters
            cpu = conn.getCPUStats(libvirt.VIR_NODE_CPU_STATS_ALL_CPUS)
            busy = int(cpu.get("user", 0) + cpu.get("kernel", 0))
            total = int(sum(cpu.values()))
        with contextlib.suppress(libvirt.libvirtError):  # unsupported by the test driver
            mem = conn.getMemoryStats(libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS)
            free = int(mem.get("free", 0) + mem.get("buffers", 0) + mem.get("cached", 0))
        pools = []
        for pool in conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE):
            with contextlib.suppress(libvirt.libvirtError):
                _, capacity, allocation, available = pool.info()
                pools.append(
                    PoolSample(
                        name=pool.name(),
                        capacity_bytes=capacity,
                        allocation_bytes=allocation,
                        available_bytes=available,
                    )
                )
        domains = []
        for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
            vm_id = _norm(dom.UUIDString())
            if vm_id not in self._managed and _metadata(dom) is None:
                continue
            self._managed.add(vm_id)
            with contextlib.suppress(libvirt.libvirtError):  # vanished while we looked
                domains.append(_domain_counters(vm_id, dom))
        # load averages describe the machine the agent runs on: only for a local real host
        where = urlsplit(self.uri)
        local = where.scheme.split("+")[0] != "test" and not where.hostname
        return stats.HostCounters(
            at_ns=time.monotonic_ns(), cpus=int(info[2]), mem_total_kib=int(info[1]) * 1024,
            mem_free_kib=free, cpu_busy_ns=busy, cpu_total_ns=total,
            load=os.getloadavg() if local else None, pools=pools, domains=domains,
        )  # fmt: skip

    def _lookup_managed(self, vm_id: str) -> bool:
        try:
            dom = self._domain(vm_id)
        except DomainNotFound:
            return False
        if _metadata(dom) is None:
            return False
        self._managed.add(_norm(vm_id))
        return True

    # -- libvirt event thread side --

    def _on_lifecycle(self, _conn: Any, dom: Any, event: int, detail: int, _opaque: Any) -> None:
        word = event_word(event, detail)
        if word is None:
            return
        item = Lifecycle(dom.UUIDString(), word[0], word[1])
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens any more
            self._loop.call_soon_threadsafe(self._enqueue, item)

    def _enqueue(self, item: Lifecycle) -> None:
        try:
            self.events.put_nowait(item)
        except asyncio.QueueFull:
            log.warning("lifecycle queue full, dropped event for vm_id=%s", item.vm_id)


def _guarded(hv: Hypervisor, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    """Run ``fn`` in the worker thread with libvirt errors translated."""
    try:
        return fn(*args)
    except libvirt.libvirtError as exc:
        name, target = fn.__name__, args[0] if args and isinstance(args[0], str) else hv.uri
        if name == "_with_conn":  # run(helper, ...): name the helper
            name = args[0].__name__
        elif name == "_with_dom":  # run_dom(helper, vm_id, ...)
            name = args[1].__name__
        raise translate(exc, f"{name.lstrip('_')} {target}") from exc


def _domain_counters(vm_id: str, dom: Any) -> stats.DomainCounters:
    """Counters of one running domain: ``virDomainGetInfo`` for CPU time and memory, the
    balloon statistics when the guest reports them, block and interface statistics of
    every disk and NIC in its definition."""
    _, _, mem_kib, vcpus, cpu_time = dom.info()
    balloon: dict[str, int] = {}
    with contextlib.suppress(libvirt.libvirtError):
        balloon = dom.memoryStats()
    used = None
    if "available" in balloon and "unused" in balloon:
        used = int(balloon["available"] - balloon["unused"])
    disks, nics = stats.device_targets(dom.XMLDesc(0))
    disk = [0, 0, 0, 0]
    for dev in disks:
        with contextlib.suppress(libvirt.libvirtError):  # e.g. an empty CD-ROM drive
            rd_req, rd_bytes, wr_req, wr_bytes, _ = dom.blockStats(dev)
            for i, v in enumerate((rd_req, rd_bytes, wr_req, wr_bytes)):
                disk[i] += int(v)
    net = [0, 0, 0, 0]
    for dev in nics:
        with contextlib.suppress(libvirt.libvirtError):
            rx_b, rx_p, _, _, tx_b, tx_p, _, _ = dom.interfaceStats(dev)
            for i, v in enumerate((rx_b, rx_p, tx_b, tx_p)):
                net[i] += int(v)
    return stats.DomainCounters(
        vm_id=vm_id,
        vcpus=int(vcpus),
        cpu_time_ns=int(cpu_time),
        mem_actual_kib=int(balloon.get("actual", mem_kib)),
        mem_rss_kib=int(balloon["rss"]) if "rss" in balloon else None,
        mem_used_kib=used,
        disk=(disk[0], disk[1], disk[2], disk[3]),
        net=(net[0], net[1], net[2], net[3]),
    )


def _word(dom: Any) -> tuple[VmState, str]:
    state, reason = dom.state()
    return state_word(state, reason)


def _metadata(dom: Any) -> domxml.ManagedMeta | None:
    try:
        raw = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, domxml.LQ_NS, 0)
    except libvirt.libvirtError:
        return None  # no LimiQuantix metadata (or the domain vanished): not ours
    try:
        return domxml.parse_metadata(raw)
    except ValueError:
        log.warning("domain %s has unreadable LimiQuantix metadata", dom.name())
        return None


def _norm(vm_id: str) -> str:
    """vm ids as libvirt prints UUIDs (lower case, dashed)."""
    try:
        return str(uuid.UUID(vm_id))
    except ValueError:
        return vm_id
