"""A synthetic VM inventory appended straight to the event stream, for the big-fleet benchmarks.

``bench/dashboard.py`` (the dashboard at 50,000 VMs) and ``bench/bigfleet.py`` (100,000 VMs
and a cold start on 1,000,000 events) need the same thing: a large, realistic inventory in
the read model and the controlplane's cache without driving every VM through agents.

The fleet needs no agents: ``n_hosts`` hosts enrol and are marked disconnected ("no agent")
in their first message, so placement never picks them and liveness leaves them alone. Each
VM is one message holding its whole, valid history (created + queued, placed + running,
defined [+ started] + succeeded; one in 20 later seen crashed, ``error``; one in 4 never
started, ``stopped``) with timestamps spread over the last 30 days, and the capacity it
holds is reserved on its host's subject. ``extra_ops`` adds that many more messages, each a
whole finished stop or start operation of a running VM (request + queued, running, stopped
or started + succeeded: five events), in stop/start pairs so every VM ends as it was: the
longer history a cold start has to replay. Because every operation lives in one message, no
process manager ever sees a VM with a pending task, so nothing acts on the fleet.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from events import host, task, vm
from events.base import Event, Meta, new_id, utcnow
from events.codec import Envelope, wrap
from events.store import AppendRequest, EventStore

EVENTS_PER_OP = 5  # request, queued, running, stopped/started, succeeded


class Loader:
    """Appends synthetic decisions with ``append_many``, tracking subject versions."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.versions: dict[tuple[str, str], int] = {}
        self.events = 0
        self.messages = 0
        self.last = 0

    async def append(self, requests: list[AppendRequest], window: int = 1000) -> None:
        for i in range(0, len(requests), window):
            chunk = requests[i : i + window]
            results = await self.store.append_many(chunk)
            for req, res in zip(chunk, results, strict=True):
                if isinstance(res, Exception):
                    raise res
                self.versions[(req.kind, req.aggregate_id)] = res.seq
                self.events += len(req.envelopes)
                self.messages += 1
                self.last = max(self.last, res.seq)

    def message(self, kind: str, ident: str, envelopes: list[Envelope]) -> AppendRequest:
        """One message of ``envelopes`` on the subject's current version."""
        return AppendRequest(kind, ident, envelopes, self.versions.get((kind, ident), 0))


def _meta(actor: str, at: datetime, task_id: str | None = None) -> Meta:
    return Meta(actor=actor, occurred_at=at, correlation_id=task_id)


def vm_kind(i: int) -> str:
    """Of every 20 VMs: 5 stopped, 14 running, 1 running then seen crashed (error)."""
    return "stopped" if 1 <= i % 20 <= 5 else "crashed" if i % 20 == 0 else "running"


def vm_history(
    i: int, host_id: str, created: datetime, until: datetime
) -> tuple[list[Envelope], Event]:
    """One VM's whole life as one message, and the reservation it holds on its host.

    Names are ``vm-00000``..., sizes 1 to 8 vCPUs and 1 to 8 GiB."""
    vm_id, task_id = new_id(), new_id()
    vcpus, mem = 1 + i % 8, 1024 * (1 + (i // 8) % 8)
    kind = vm_kind(i)
    envs = wrap(
        "vm",
        vm_id,
        [
            vm.VmCreated(
                vm_id=vm_id, name=f"vm-{i:05d}", vcpus=vcpus, memory_mib=mem,
                start=kind != "stopped",
            ),
            task.TaskQueued(task_id=task_id, operation="vm.create", target_kind="vm",
                            target_id=vm_id),
        ],
        _meta(f"user:bench-{i % 7}", created, task_id),
    )  # fmt: skip
    envs += wrap(
        "vm",
        vm_id,
        [vm.VmPlaced(vm_id=vm_id, host_id=host_id), task.TaskRunning(task_id=task_id,
                                                                     host_id=host_id)],
        _meta("system:placement", created + timedelta(milliseconds=40), task_id),
    )  # fmt: skip
    done: list[Event] = [vm.VmDefined(vm_id=vm_id, host_id=host_id)]
    if kind != "stopped":
        done.append(vm.VmStarted(vm_id=vm_id, host_id=host_id))
    done.append(task.TaskSucceeded(task_id=task_id))
    agent = f"agent:{host_id}"
    envs += wrap("vm", vm_id, done, _meta(agent, created + timedelta(seconds=3), task_id))
    if kind == "crashed":
        envs += wrap(
            "vm",
            vm_id,
            [
                vm.VmStateObserved(
                    vm_id=vm_id, host_id=host_id, state="error", reason="guest crashed"
                )
            ],
            _meta(agent, min(created + timedelta(hours=2), until)),
        )
    reservation = host.HostCapacityReserved(
        host_id=host_id, vm_id=vm_id, vcpus=vcpus, memory_mib=mem
    )
    return envs, reservation


def power_op(vm_id: str, host_id: str, stop: bool, at: datetime, user: str) -> list[Envelope]:
    """One finished stop (or start) of a VM as one message: five events."""
    task_id = new_id()
    request: Event = (
        vm.VmStopRequested(vm_id=vm_id, force=True) if stop else vm.VmStartRequested(vm_id=vm_id)
    )
    done: Event = (
        vm.VmStopped(vm_id=vm_id, host_id=host_id)
        if stop
        else vm.VmStarted(vm_id=vm_id, host_id=host_id)
    )
    op = "vm.stop" if stop else "vm.start"
    queued = task.TaskQueued(task_id=task_id, operation=op, target_kind="vm", target_id=vm_id)
    envs = wrap("vm", vm_id, [request, queued], _meta(user, at, task_id))
    envs += wrap(
        "vm",
        vm_id,
        [task.TaskRunning(task_id=task_id, host_id=host_id)],
        _meta("system:dispatch", at + timedelta(milliseconds=20), task_id),
    )
    envs += wrap(
        "vm",
        vm_id,
        [done, task.TaskSucceeded(task_id=task_id)],
        _meta(f"agent:{host_id}", at + timedelta(seconds=1), task_id),
    )
    return envs


def _host_enrolment(h: str, k: int, at: datetime) -> list[Envelope]:
    return wrap(
        "host",
        h,
        [
            host.HostEnrolled(
                host_id=h,
                name=f"fleet-{k:04d}",
                uri=f"qemu+tls://fleet-{k:04d}.example.net/system",
                cpus=512,
                memory_mib=2 << 20,
                labels={"rack": f"r{k % 16:02d}"},
            ),
            host.HostDisconnected(host_id=h, reason="benchmark fleet: no agent"),
        ],
        _meta(f"agent:{h}", at),
    )


async def load_fleet(
    store: EventStore,
    n_vms: int,
    n_hosts: int,
    chunk: int,
    *,
    extra_ops: int = 0,
    progress: Callable[[Loader], None] | None = None,
) -> Loader:
    """Append the fleet (module docstring); ``progress`` is called after every chunk."""
    loader = Loader(store)
    now = utcnow()
    start = now - timedelta(days=30)
    step = (now - timedelta(minutes=5) - start) / max(n_vms, 1)
    host_ids = [new_id() for _ in range(n_hosts)]
    await loader.append(
        [
            loader.message("host", h, _host_enrolment(h, k, start - timedelta(days=1)))
            for k, h in enumerate(host_ids)
        ]
    )
    running = sum(1 for i in range(n_vms) if vm_kind(i) == "running")
    pairs_left = (extra_ops + 1) // 2
    # spread the stop/start pairs evenly over the running VMs, at most a few per VM
    per_vm = -(-pairs_left // running) if running and pairs_left else 0
    for base in range(0, n_vms, chunk):
        vm_reqs: list[AppendRequest] = []
        reservations: dict[str, list[Event]] = {}
        ops: list[tuple[str, str, datetime, int]] = []
        for i in range(base, min(n_vms, base + chunk)):
            h = host_ids[i % n_hosts]
            created = start + step * i
            envs, reservation = vm_history(i, h, created, now - timedelta(minutes=1))
            vm_reqs.append(loader.message("vm", envs[0].aggregate_id, envs))
            reservations.setdefault(h, []).append(reservation)
            if pairs_left and vm_kind(i) == "running":
                n = min(per_vm, pairs_left)
                pairs_left -= n
                ops.append((envs[0].aggregate_id, h, created, n))
        at = start + step * base
        await loader.append(
            [
                loader.message("host", h, wrap("host", h, evs, _meta("system:placement", at)))
                for h, evs in reservations.items()
            ]
        )
        await loader.append(vm_reqs)
        for round_ in range(max((n for *_, n in ops), default=0)):
            for stop in (True, False):  # a VM's stop lands before its start
                await loader.append(
                    [
                        loader.message(
                            "vm",
                            vm_id,
                            power_op(
                                vm_id,
                                h,
                                stop,
                                created + timedelta(minutes=10 + 2 * round_ + (not stop)),
                                f"user:bench-{round_ % 7}",
                            ),
                        )
                        for vm_id, h, created, n in ops
                        if round_ < n
                    ]
                )
        if progress is not None:
            progress(loader)
    return loader


def events_per_vm() -> float:
    """Events the base history of an average VM adds (its message and its reservation)."""
    per20 = sum(6 + (vm_kind(i) != "stopped") + (vm_kind(i) == "crashed") for i in range(20))
    return per20 / 20 + 1
