"""Shapes of what the query API answers: VM, host, task and event rows, pages, problems.

Why in ``events``: the read side (``projections``) produces these rows and the HTTP
clients (``lq``'s client commands, the OpenAPI document) consume them, and those packages
must not import each other. Like the event schemas, these are a published contract: a
pure module (no infrastructure imports) that any package, and through the OpenAPI
document any outside client, can depend on.

Decoding is lenient by design (msgspec ignores unknown fields), so a server that adds a
column never breaks an older client; fields are only added, with defaults.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class _View(msgspec.Struct, frozen=True, kw_only=True):
    pass


class DiskView(_View, frozen=True, kw_only=True):
    """One disk of a VM (``GET /api/v1/vms/{id}/disks``); ``disk0`` is the boot disk."""

    disk_id: str
    size_gib: int
    bus: str = "virtio"
    device: str = "disk"
    pool_id: str = "default"
    volume: str = ""


class NicView(_View, frozen=True, kw_only=True):
    """One NIC of a VM; ``ip`` is what the host last learned (None: not known)."""

    nic_id: str
    mac: str
    network_id: str = "default"
    model: str = "virtio"
    ip: str | None = None


class SnapshotView(_View, frozen=True, kw_only=True):
    """One snapshot of a VM's tree; ``current`` marks the one the VM runs from."""

    snapshot_id: str
    name: str
    description: str = ""
    parent_id: str | None = None
    memory: bool = False
    vm_state: str = "stopped"
    created_at: datetime
    current: bool = False


class CloneSourceView(_View, frozen=True, kw_only=True):
    vm_id: str
    linked: bool = False


class VmView(_View, frozen=True, kw_only=True):
    """A VM of the read model (``GET /api/v1/vms/{id}``).

    Lists leave ``snapshots`` out (``GET /api/v1/vms/{id}/snapshots`` has them);
    ``snapshot_count`` and ``current_snapshot_id`` are on every row."""

    id: str
    name: str
    state: str
    host_id: str | None = None
    host_name: str | None = None
    vcpus: int
    memory_mib: int
    description: str = ""
    start: bool = False
    error: str | None = None
    task_id: str | None = None
    created_at: datetime
    updated_at: datetime
    seq: int
    firmware: str = "bios"
    machine: str = "pc"
    boot_order: list[str] = msgspec.field(default_factory=lambda: ["hd"])
    max_vcpus: int = 0
    max_memory_mib: int = 0
    template: bool = False
    clone_of: CloneSourceView | None = None
    has_cloud_init: bool = False
    kernel_boot: bool = False
    disks: list[DiskView] = []
    nics: list[NicView] = []
    snapshots: list[SnapshotView] = []
    snapshot_count: int = 0
    current_snapshot_id: str | None = None


class HostView(_View, frozen=True, kw_only=True):
    """A hypervisor host with its capacity and allocation (``GET /api/v1/hosts/{id}``)."""

    id: str
    name: str
    state: str
    uri: str
    cpus: int
    memory_mib: int
    cpu_overcommit: float
    memory_overcommit: float
    allocated_vcpus: int = 0
    allocated_memory_mib: int = 0
    vm_count: int = 0
    labels: dict[str, Any] = {}
    reason: str = ""
    created_at: datetime
    updated_at: datetime
    seq: int


class TaskView(_View, frozen=True, kw_only=True):
    """A task: one user command's progress, queued → running → succeeded | failed."""

    id: str
    operation: str
    target_kind: str
    target_id: str
    target_name: str | None = None
    state: str
    progress: int = 0
    description: str = ""
    message: str = ""
    error: str | None = None
    actor: str
    host_id: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    seq: int


class EventView(_View, frozen=True, kw_only=True):
    """One event of the audit log, with its envelope and its own fields (``data``)."""

    seq: int
    index: int = 0
    event_id: str
    type: str
    schema_version: int = 1
    aggregate_kind: str
    aggregate_id: str
    occurred_at: datetime
    actor: str
    correlation_id: str | None = None
    causation_id: str | None = None
    traceparent: str | None = None
    data: dict[str, Any] = {}
    changes: dict[str, Any] | None = None
    hash: str | None = None


class VmPage(_View, frozen=True, kw_only=True):
    items: list[VmView]
    next_cursor: str | None = None
    total: int | None = None


class DiskPage(_View, frozen=True, kw_only=True):
    items: list[DiskView]
    next_cursor: str | None = None
    total: int | None = None


class NicPage(_View, frozen=True, kw_only=True):
    items: list[NicView]
    next_cursor: str | None = None
    total: int | None = None


class SnapshotPage(_View, frozen=True, kw_only=True):
    """A VM's snapshot tree, oldest first, with the id of the current snapshot."""

    items: list[SnapshotView]
    current_snapshot_id: str | None = None
    next_cursor: str | None = None
    total: int | None = None


class HostPage(_View, frozen=True, kw_only=True):
    items: list[HostView]
    next_cursor: str | None = None
    total: int | None = None


class TaskPage(_View, frozen=True, kw_only=True):
    items: list[TaskView]
    next_cursor: str | None = None
    total: int | None = None


class EventPage(_View, frozen=True, kw_only=True):
    items: list[EventView]
    next_cursor: str | None = None
    total: int | None = None


class Accepted(_View, frozen=True, kw_only=True):
    """A command's ``202``: the task that carries it out and the consistency token ``seq``
    (pass it as ``?min_seq=`` to read your own write). ``vm_id`` for VM commands."""

    task_id: str | None = None
    seq: int
    vm_id: str | None = None


class Problem(_View, frozen=True, kw_only=True):
    """An error (``application/problem+json``, RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str = ""
    instance: str | None = None
