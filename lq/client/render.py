"""Printing for the client commands: tables (rich), JSON, and a task's progress bar.

Tables decode the API's answers into ``events.views`` types first, so a field the client
relies on and the server no longer sends fails loudly here rather than printing blanks.
``--output json`` prints the server's JSON unchanged, for scripts.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import click
import msgspec
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from events import views
from lq.client.http import Api, ApiError

T = TypeVar("T")
TERMINAL = ("succeeded", "failed", "cancelled")
STATE_STYLE = {
    "running": "green",
    "connected": "green",
    "succeeded": "green",
    "stopped": "dim",
    "failed": "red",
    "error": "red",
    "disconnected": "red",
    "down": "red",
    "deleted": "dim",
}


def console(err: bool = False) -> Console:
    stream = sys.stderr if err else sys.stdout
    # a pipe or a test runner has no width: do not squeeze ids into ellipses
    return Console(file=stream, width=None if stream.isatty() else 200, highlight=False)


def as_view(raw: Any, kind: type[T]) -> T:
    try:
        return msgspec.convert(raw, kind, strict=False)
    except msgspec.ValidationError as exc:
        raise click.ClickException(f"unexpected answer from the API: {exc}") from exc


def dump(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def _when(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S") if t else ""


def _state(s: str) -> str:
    style = STATE_STYLE.get(s)
    return f"[{style}]{s}[/{style}]" if style else s


def table(columns: Sequence[str], rows: list[list[str]]) -> None:
    t = Table(box=None, header_style="bold", pad_edge=False)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*r)
    console().print(t)


def _ips(nics: list[views.NicView]) -> str:
    return ",".join(n.ip for n in nics if n.ip)


def vms(page: Any) -> None:
    items = as_view(page, views.VmPage).items
    table(
        ["NAME", "STATE", "HOST", "VCPUS", "MEMORY", "IP", "ID"],
        [
            [
                v.name + (" (template)" if v.template else ""),
                _state(v.state),
                v.host_name or "",
                str(v.vcpus),
                f"{v.memory_mib} MiB",
                _ips(v.nics),
                v.id,
            ]
            for v in items
        ],
    )


def vm(raw: dict[str, Any]) -> None:
    """One VM: its fields, then its disks and NICs as small tables (snapshots: a count)."""
    found = as_view(raw, views.VmView)
    item({k: v for k, v in raw.items() if k not in ("disks", "nics", "snapshots")})
    if found.disks:
        console().print()
        disks({"items": raw["disks"]})
    if found.nics:
        console().print()
        nics({"items": raw["nics"]})


def disks(page: Any) -> None:
    items = as_view(page, views.DiskPage).items
    table(
        ["DISK", "SIZE", "BUS", "DEVICE", "POOL", "VOLUME"],
        [[d.disk_id, f"{d.size_gib} GiB", d.bus, d.device, d.pool_id, d.volume] for d in items],
    )


def nics(page: Any) -> None:
    items = as_view(page, views.NicPage).items
    table(
        ["NIC", "MAC", "NETWORK", "MODEL", "IP"],
        [[n.nic_id, n.mac, n.network_id, n.model, n.ip or ""] for n in items],
    )


def snapshot_order(items: list[views.SnapshotView]) -> list[tuple[int, views.SnapshotView]]:
    """Snapshots depth-first from the roots, oldest first at each level, with their depth
    (a snapshot whose parent is unknown counts as a root)."""
    ids = {s.snapshot_id for s in items}
    children: dict[str | None, list[views.SnapshotView]] = {}
    for s in items:
        parent = s.parent_id if s.parent_id in ids and s.parent_id != s.snapshot_id else None
        children.setdefault(parent, []).append(s)
    out: list[tuple[int, views.SnapshotView]] = []
    seen: set[str] = set()

    def walk(parent: str | None, depth: int) -> None:
        for s in children.get(parent, []):
            if s.snapshot_id not in seen:
                seen.add(s.snapshot_id)
                out.append((depth, s))
                walk(s.snapshot_id, depth + 1)

    walk(None, 0)
    out += [(0, s) for s in items if s.snapshot_id not in seen]  # a parent cycle
    return out


def snapshots(page: Any) -> None:
    items = as_view(page, views.SnapshotPage).items
    table(
        ["", "NAME", "VM STATE", "MEMORY", "CREATED", "ID"],
        [
            [
                "*" if s.current else "",
                "  " * depth + s.name,
                s.vm_state,
                "yes" if s.memory else "",
                _when(s.created_at),
                s.snapshot_id,
            ]
            for depth, s in snapshot_order(items)
        ],
    )


def hosts(page: Any) -> None:
    items = as_view(page, views.HostPage).items
    table(
        ["NAME", "STATE", "VMS", "VCPUS", "MEMORY", "ID"],
        [
            [
                h.name,
                _state(h.state),
                str(h.vm_count),
                f"{h.allocated_vcpus}/{int(h.cpus * h.cpu_overcommit)}",
                f"{h.allocated_memory_mib}/{int(h.memory_mib * h.memory_overcommit)} MiB",
                h.id,
            ]
            for h in items
        ],
    )


def tasks(page: Any) -> None:
    items = as_view(page, views.TaskPage).items
    table(
        ["OPERATION", "TARGET", "STATE", "PROGRESS", "CREATED", "ID"],
        [
            [
                t.operation,
                t.target_name or t.target_id,
                _state(t.state),
                f"{t.progress}%",
                _when(t.created_at),
                t.id,
            ]
            for t in items
        ],
    )


def events(items: list[views.EventView]) -> None:
    table(
        ["SEQ", "TIME", "TYPE", "AGGREGATE", "ACTOR"],
        [
            [
                str(e.seq),
                _when(e.occurred_at),
                e.type,
                f"{e.aggregate_kind}/{e.aggregate_id}",
                e.actor,
            ]
            for e in items
        ],
    )


def item(raw: dict[str, Any]) -> None:
    """One entity as ``field  value`` lines."""
    t = Table(box=None, show_header=False, pad_edge=False)
    t.add_column(style="bold")
    t.add_column(overflow="fold")
    for key, value in raw.items():
        if key == "state":
            shown = _state(str(value))
        elif isinstance(value, list | dict):  # boot_order, clone_of, labels: as JSON
            shown = escape(json.dumps(value))
        else:
            shown = "" if value is None else escape(str(value))
        t.add_row(key, shown)
    console().print(t)


def follow_task(
    api: Api, task_id: str, seq: int, *, bar: bool, timeout: float, poll: Callable[[], None]
) -> dict[str, Any]:
    """Poll a task until it ends; with ``bar``, show its progress on stderr."""
    deadline = time.monotonic() + timeout
    task: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console(err=True),
        disable=not bar,
        transient=True,
    ) as progress:
        shown = progress.add_task("queued", total=100)
        while True:
            try:
                task = api.get(f"/api/v1/tasks/{task_id}", min_seq=seq or None)
            except ApiError as exc:  # just accepted: the read model may not have it yet
                if exc.status != 404 or time.monotonic() > deadline:
                    raise
                poll()
                continue
            seq = 0  # read-your-write once; later reads need no wait
            label = f"{task['operation']} {task.get('target_name') or task['target_id']}"
            progress.update(
                shown, completed=task["progress"], description=f"{label}: {task['state']}"
            )
            if task["state"] in TERMINAL:
                progress.update(shown, completed=100)
                return task
            if time.monotonic() > deadline:
                raise click.ClickException(
                    f"task {task_id} still {task['state']} after {timeout:g}s"
                )
            poll()
