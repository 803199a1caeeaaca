"""When a pending volume operation has waited long enough, and why it failed.

A volume task must end, never hang: its host may be disconnected, the host may never
answer, or a deletion may wait for VMs that never let go of the volume. The storage
process manager asks :func:`overdue` about every pending operation (each second and
whenever a host disconnects) and fails the task with the reason it gets; the reason is
what the user reads on the task and on the volume.

The deadline runs from the operation's last step (queued, dispatched, progress report):
``volume_task_timeout_s`` for a task still queued and for a dispatched create, resize or
delete; :data:`LONG_FACTOR` times that for a dispatched clone or import, which copy whole
images (an import's progress reports restart it). Uploads are ended by their own rule (the
API request relays the bytes; ``controlplane.storage.UPLOAD_PATIENCE``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from controlplane.domain.storage_pool import Pool, Volume
from events import storage as se

LONG_FACTOR = 6
"""A dispatched clone or import has this many deadlines (it copies a whole image)."""
AWAY = ("disconnected", "down")
PENDING = ("creating", "resizing", "deleting")


def limit_s(vol: Volume, timeout_s: float) -> float:
    """The time the operation has from its last step."""
    if vol.task_running and vol.operation in ("clone", "import"):
        return timeout_s * LONG_FACTOR
    return timeout_s


def overdue(
    pool: Pool,
    vol: Volume,
    now: datetime,
    *,
    timeout_s: float,
    host_states: Mapping[str, str],
    attached_to: Sequence[str] = (),
) -> str | None:
    """The reason the pending operation of ``vol`` fails now, or ``None`` while it may go on.

    ``host_states`` maps host ids to their state (``connected``, ``disconnected``, …);
    ``attached_to`` names the VMs whose disks still use the volume (a deletion waits for
    them).
    """
    if vol.state not in PENDING or (vol.state == "creating" and vol.source_url == se.UPLOAD_SOURCE):
        return None
    host_id = pool.executor()
    operation = f"volume.{vol.operation}"
    if host_id is not None and host_states.get(host_id) in AWAY:
        return f"host {host_id} is {host_states[host_id]}: {operation} of {vol.name} not done"
    if vol.since is None:
        return None
    limit = limit_s(vol, timeout_s)
    if (now - vol.since).total_seconds() <= limit:
        return None
    if vol.state == "deleting" and attached_to:
        return (
            f"volume {vol.name} still attached to vm {', '.join(attached_to)} after {limit:.0f} s"
        )
    where = f"host {host_id}" if host_id else f"pool {pool.name} (attached to no host)"
    if vol.task_running:
        return f"{where} did not complete {operation} of {vol.name} within {limit:.0f} s"
    return f"{where} did not take {operation} of {vol.name} within {limit:.0f} s"
