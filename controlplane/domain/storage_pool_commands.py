"""Commands the storage-pool aggregate accepts (inputs of
``controlplane.domain.storage_pool.decide``).

Kept in one place, apart from the decisions, so the routes and the storage process
manager can build them without pulling in how they are decided. Every command that starts
a volume operation carries its ``task_id`` (chosen by the caller, so a retried decision
stays the same) and the ``idempotency_key`` of the HTTP request; the host's answers
(``VolumeStarted``, ``VolumeDone``, ``VolumeFailed``, ``VolumeProgress``) name the volume
and the operation they are about.
"""

from __future__ import annotations

import msgspec

from events import storage as se


class Define(msgspec.Struct, frozen=True, kw_only=True):
    pool_id: str
    name: str
    pool_type: se.PoolType
    params: se.PoolParams
    overcommit: float = 1.0
    capacity_bytes: int = 0
    allowed_roots: tuple[str, ...] = ()


class Update(msgspec.Struct, frozen=True, kw_only=True):
    name: str | None = None
    overcommit: float | None = None
    capacity_bytes: int | None = None


class Attach(msgspec.Struct, frozen=True, kw_only=True):
    host_id: str


class Detach(msgspec.Struct, frozen=True, kw_only=True):
    host_id: str


class Observe(msgspec.Struct, frozen=True, kw_only=True):
    host_id: str
    state: se.PoolState
    capacity_bytes: int = 0
    allocation_bytes: int = 0
    available_bytes: int = 0
    error: str = ""


class Refresh(msgspec.Struct, frozen=True, kw_only=True):
    host_id: str | None = None


class Delete(msgspec.Struct, frozen=True, kw_only=True):
    pass


class CreateVolume(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    volume_id: str
    name: str
    format: se.VolumeFormat = "qcow2"
    size_bytes: int
    thin: bool = True
    clone_of: str = ""
    source_url: str = ""
    idempotency_key: str = ""


class ResizeVolume(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    volume_id: str
    size_bytes: int
    idempotency_key: str = ""


class DeleteVolume(msgspec.Struct, frozen=True, kw_only=True):
    """``attached`` = ``vm_id/disk_id`` of every VM disk using it (the route finds them);
    without ``force`` any attachment refuses the deletion."""

    task_id: str
    volume_id: str
    force: bool = False
    attached: tuple[str, ...] = ()
    idempotency_key: str = ""


class CancelTask(msgspec.Struct, frozen=True, kw_only=True):
    """Cancel a volume's task while it is still queued: the operation never reaches the
    host (a creation gives its space back, a resize or deletion leaves the volume as it
    was). Once dispatched to the host it cannot be taken back (``not-cancellable``)."""

    task_id: str
    reason: str = ""


class VolumeDone(msgspec.Struct, frozen=True, kw_only=True):
    """A host finished the volume's pending operation."""

    volume_id: str
    operation: se.VolumeOperation
    host_id: str
    path: str = ""
    size_bytes: int = 0
    allocation_bytes: int = 0


class VolumeStarted(msgspec.Struct, frozen=True, kw_only=True):
    """The host took the volume's pending operation: its task is running."""

    volume_id: str
    operation: se.VolumeOperation
    host_id: str


class VolumeFailed(msgspec.Struct, frozen=True, kw_only=True):
    volume_id: str
    operation: se.VolumeOperation
    error: str


class VolumeProgress(msgspec.Struct, frozen=True, kw_only=True):
    volume_id: str
    percent: int
    message: str = ""


Command = (
    Define
    | Update
    | Attach
    | Detach
    | Observe
    | Refresh
    | Delete
    | CreateVolume
    | ResizeVolume
    | DeleteVolume
    | VolumeStarted
    | VolumeDone
    | VolumeFailed
    | VolumeProgress
    | CancelTask
)
