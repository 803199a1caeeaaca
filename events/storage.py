"""Storage pools and their volumes (subject ``lq.evt.storage_pool.<pool id>``).

One aggregate per pool owns the pool's definition, the hosts it is attached to, the
state each host reports and every volume in it. Volumes live **inside** the pool
aggregate because creating one is a capacity decision: the sum of the volumes' sizes may
not pass ``capacity x overcommit``, and only a decision on one aggregate, appended with the
expected-sequence check, keeps that true when two creations race for the last space
(docs/storage.md). So ``volume.*`` events travel on the pool's subject.

Parameters of each pool type are checked by one strict struct per type (``DirParams``
...); the events carry them flattened into ``PoolParams`` so that every event type keeps
one plain shape. The agent turns them into libvirt pool XML (``agent.poolxml``).

The controlplane and the agents talk about storage over core request/reply (not the VM
order stream, whose orders and reports are keyed by VM): ``StorageRequest`` on
``lq.host.<id>.storage`` (the agent answers ``StorageAck`` at once and works), and the
outcome as ``StorageReport`` on ``lq.host.<id>.storage.report`` (the controlplane answers
``StorageAck`` once it recorded it; the agent retries until then). An upload's chunks go
to the host on ``lq.host.<id>.upload.<volume id>`` (an empty chunk ends it; each is
answered ``StorageAck``). The subjects are named in ``events.subjects``.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from events.base import Event

KIND = "storage_pool"
GIB = 1024**3

PoolType = Literal["dir", "netfs", "logical", "rbd", "iscsi"]
POOL_TYPES: tuple[str, ...] = PoolType.__args__  # type: ignore[attr-defined]
SHARED_TYPES = frozenset({"netfs", "rbd", "iscsi"})
"""Pool types whose storage several hosts reach at once (a pool may attach to many)."""
PoolState = Literal["pending", "active", "inactive", "unreachable", "error"]
VolumeFormat = Literal["raw", "qcow2"]
VolumeState = Literal["creating", "ready", "resizing", "deleting", "deleted", "failed"]
VolumeOperation = Literal["create", "clone", "import", "resize", "delete"]


# -- pool parameters: strict per type (inbound), flat in events ------------------------

AbsPath = Annotated[str, msgspec.Meta(min_length=2, max_length=1024, pattern=r"^/[^\x00]*$")]
HostName = Annotated[
    str, msgspec.Meta(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9][A-Za-z0-9.:_-]*$")
]
Word = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Monitor = Annotated[
    str,
    msgspec.Meta(
        max_length=260,
        pattern=r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9._-]*)(:[0-9]{1,5})?$",
        description="host, host:port or [IPv6]:port",
    ),
]


class _Strict(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class DirParams(_Strict, frozen=True, kw_only=True):
    """A directory on the host (must lie under ``storage_allowed_roots``)."""

    path: AbsPath


class NetfsParams(_Strict, frozen=True, kw_only=True):
    """An NFS export mounted at ``path`` on every attached host."""

    host: HostName
    source_path: AbsPath
    path: AbsPath
    format: Literal["nfs", "auto"] = "nfs"


class LogicalParams(_Strict, frozen=True, kw_only=True):
    """An LVM volume group; ``devices`` (physical volumes) only when the host should build
    the group, else an existing group is used."""

    vg_name: Word
    devices: Annotated[list[AbsPath], msgspec.Meta(max_length=16)] = []


class RbdParams(_Strict, frozen=True, kw_only=True):
    """A Ceph RBD pool reached through ``monitors``; cephx needs ``auth_user`` and the
    libvirt secret holding its key (``secret_uuid``)."""

    monitors: Annotated[list[Monitor], msgspec.Meta(min_length=1, max_length=9)]
    rbd_pool: Word
    auth_user: str = ""
    secret_uuid: str = ""


class IscsiParams(_Strict, frozen=True, kw_only=True):
    """One iSCSI target's LUNs (volumes cannot be created on it; its LUNs are listed)."""

    host: HostName
    port: Port = 3260
    iqn: Annotated[str, msgspec.Meta(min_length=4, max_length=223, pattern=r"^(iqn|eui|naa)\.")]
    initiator_iqn: str = ""


PARAM_TYPES: dict[str, type[_Strict]] = {
    "dir": DirParams,
    "netfs": NetfsParams,
    "logical": LogicalParams,
    "rbd": RbdParams,
    "iscsi": IscsiParams,
}


class PoolParams(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Every type's parameters in one flat shape (the fields of other types stay empty)."""

    path: str = ""
    host: str = ""
    port: int = 0
    source_path: str = ""
    format: str = ""
    vg_name: str = ""
    devices: list[str] = []
    monitors: list[str] = []
    rbd_pool: str = ""
    auth_user: str = ""
    secret_uuid: str = ""
    iqn: str = ""
    initiator_iqn: str = ""


def parse_params(pool_type: str, raw: object) -> PoolParams:
    """Check ``raw`` against ``pool_type``'s struct (unknown fields refused) and flatten.

    Raises ``msgspec.ValidationError`` with the offending field."""
    kind = PARAM_TYPES.get(pool_type)
    if kind is None:
        raise msgspec.ValidationError(f"unknown pool type {pool_type!r}")
    strict = msgspec.convert(raw, kind)
    return msgspec.convert(msgspec.to_builtins(strict), PoolParams)


def strict_params(pool_type: str, params: PoolParams) -> _Strict:
    """The per-type struct back from the flat form (what ``agent.poolxml`` renders)."""
    kind = PARAM_TYPES[pool_type]
    data = msgspec.to_builtins(params)
    fields = set(kind.__struct_fields__)
    return msgspec.convert({k: v for k, v in data.items() if k in fields}, kind)


# -- events -------------------------------------------------------------------------------


class PoolDefined(Event, frozen=True, kw_only=True, tag="storage_pool.defined"):
    """A pool: its storage and its limits. ``capacity_bytes`` 0 = what the hosts report;
    volumes may add up to ``capacity x overcommit``."""

    pool_id: str
    name: str
    pool_type: PoolType
    params: PoolParams
    overcommit: float = 1.0
    capacity_bytes: int = 0


class PoolUpdated(Event, frozen=True, kw_only=True, tag="storage_pool.updated"):
    """The pool's name and limits after a change."""

    pool_id: str
    name: str
    overcommit: float
    capacity_bytes: int


class PoolAttachedToHost(Event, frozen=True, kw_only=True, tag="storage_pool.attached_to_host"):
    """The host's agent defines (and for ``dir`` builds and starts) the pool."""

    pool_id: str
    host_id: str


class PoolDetachedFromHost(Event, frozen=True, kw_only=True, tag="storage_pool.detached_from_host"):
    """The host's agent stops and undefines the pool (its data stays)."""

    pool_id: str
    host_id: str


class PoolStateObserved(Event, frozen=True, kw_only=True, tag="storage_pool.state_observed"):
    """What one host reports about the pool (sizes in bytes, as libvirt counts them)."""

    pool_id: str
    host_id: str
    state: PoolState
    capacity_bytes: int = 0
    allocation_bytes: int = 0
    available_bytes: int = 0
    error: str = ""


class PoolRefreshRequested(Event, frozen=True, kw_only=True, tag="storage_pool.refresh_requested"):
    """Ask ``host_ids`` to rescan the pool and report its state again."""

    pool_id: str
    host_ids: list[str]


class PoolDeleted(Event, frozen=True, kw_only=True, tag="storage_pool.deleted"):
    """The pool is gone; ``host_ids`` were still attached and undefine it."""

    pool_id: str
    host_ids: list[str] = []


class VolumeCreated(Event, frozen=True, kw_only=True, tag="volume.created"):
    """A volume is reserved in the pool and being made: empty, a copy of ``clone_of``
    (a volume id of the same pool) or downloaded from ``source_url``."""

    pool_id: str
    volume_id: str
    name: str
    format: VolumeFormat
    size_bytes: int
    thin: bool = True
    clone_of: str = ""
    source_url: str = ""


class VolumeProgressed(Event, frozen=True, kw_only=True, tag="volume.progressed"):
    pool_id: str
    volume_id: str
    percent: int
    message: str = ""


class VolumeReady(Event, frozen=True, kw_only=True, tag="volume.ready"):
    """The host made the volume; ``size_bytes`` is its virtual size as found (an import
    learns it only here)."""

    pool_id: str
    volume_id: str
    host_id: str
    path: str
    size_bytes: int
    allocation_bytes: int = 0


class VolumeFailed(Event, frozen=True, kw_only=True, tag="volume.failed"):
    """``operation`` did not happen; a failed creation gives its space back, a failed
    resize keeps the old size."""

    pool_id: str
    volume_id: str
    operation: VolumeOperation
    error: str


class VolumeResizeRequested(Event, frozen=True, kw_only=True, tag="volume.resize_requested"):
    """Grow to ``size_bytes`` (reserved from now on)."""

    pool_id: str
    volume_id: str
    size_bytes: int


class VolumeResized(Event, frozen=True, kw_only=True, tag="volume.resized"):
    pool_id: str
    volume_id: str
    size_bytes: int
    allocation_bytes: int = 0


class VolumeDeleteRequested(Event, frozen=True, kw_only=True, tag="volume.delete_requested"):
    """``detached`` lists the ``vm_id/disk_id`` the deletion detached first (``force``)."""

    pool_id: str
    volume_id: str
    force: bool = False
    detached: list[str] = []


class VolumeDeleted(Event, frozen=True, kw_only=True, tag="volume.deleted"):
    """The volume is gone from its host; its space is free."""

    pool_id: str
    volume_id: str


STORAGE_EVENTS = (
    PoolDefined
    | PoolUpdated
    | PoolAttachedToHost
    | PoolDetachedFromHost
    | PoolStateObserved
    | PoolRefreshRequested
    | PoolDeleted
    | VolumeCreated
    | VolumeProgressed
    | VolumeReady
    | VolumeFailed
    | VolumeResizeRequested
    | VolumeResized
    | VolumeDeleteRequested
    | VolumeDeleted
)


# -- the controlplane ↔ agent storage channel (core request/reply) -----------------------

HELLO = "hello"
"""``StorageReport.op`` of an agent that is ready for requests: its pools are sent again."""


UPLOAD_SOURCE = "upload:"
"""``VolumeCreated.source_url`` of a volume whose bytes come through the API (an upload)."""
UPLOAD_CHUNK = 512 * 1024
"""Bytes per relayed upload message (under NATS' default 1 MiB payload limit)."""


class PoolSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A pool as an agent needs it; the libvirt pool is named ``pool_id``."""

    pool_id: str
    pool_type: PoolType
    params: PoolParams


class VolumeSpec(msgspec.Struct, frozen=True, kw_only=True):
    volume_id: str
    name: str
    format: VolumeFormat = "qcow2"
    size_bytes: int = 0
    thin: bool = True


class StorageRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One thing for a host to do. ``op``: ``define`` (realise the pool), ``undefine``,
    ``refresh``, ``create``, ``clone`` (from ``source``), ``import`` (from ``url``),
    ``receive`` (an upload relayed in chunks on ``events.subjects.upload_subject``),
    ``resize`` (to ``volume.size_bytes``), ``delete``. ``op_id`` makes a repeat harmless."""

    op_id: str
    op: Literal[
        "define", "undefine", "refresh", "create", "clone", "import", "receive", "resize", "delete"
    ]
    pool: PoolSpec
    volume: VolumeSpec | None = None
    source: VolumeSpec | None = None
    url: str = ""


class PoolReport(msgspec.Struct, frozen=True, kw_only=True):
    pool_id: str
    state: PoolState
    capacity_bytes: int = 0
    allocation_bytes: int = 0
    available_bytes: int = 0
    error: str = ""


class StorageReport(msgspec.Struct, frozen=True, kw_only=True):
    """An agent's outcome of one request (``op_id``), or a periodic state (``op_id`` "").

    ``ok`` false with ``error`` is a failure; ``percent`` set (0..99) is progress only."""

    host_id: str
    op_id: str = ""
    op: str = ""
    ok: bool = True
    error: str = ""
    percent: int | None = None
    volume_id: str = ""
    path: str = ""
    size_bytes: int = 0
    allocation_bytes: int = 0
    pools: list[PoolReport] = []


class StorageAck(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    error: str = ""


REQUEST_DECODER = msgspec.json.Decoder(StorageRequest)
REPORT_DECODER = msgspec.json.Decoder(StorageReport)
ACK_DECODER = msgspec.json.Decoder(StorageAck)
