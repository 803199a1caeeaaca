"""Command routes for a VM's parts: snapshots, disks and NICs.

The read side of the same paths (``GET``) is the read model's (``projections``). Every
change is a task on the VM (``202``, with the new part's id when one is made); what the
VM's state refuses (shrinking a disk, detaching the boot disk of a running VM, an unknown
snapshot) is a problem and appends nothing, and so is a disk or NIC naming a pool or
network the VM cannot use (``controlplane.api.vm_refs``).
"""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from aiohttp import web

from controlplane.api import vm_refs
from controlplane.api.common import (
    COMMANDS,
    Name,
    decode_body,
    flag,
    idempotency_key,
    no_body,
    run_command,
)
from controlplane.api.vms import (
    DiskBody,
    NicBody,
    SizeGib,
    checked_mac,
    fleet_default,
    fleet_macs,
    new_mac,
)
from controlplane.domain import vm as vd
from controlplane.handlers import Outcome
from events import problems
from events import vm as ve
from events.base import new_id
from events.permissions import VM_CONFIGURE, requires

routes = web.RouteTableDef()

_SNAPSHOT_NAMESPACE = uuid.UUID("0d5e3f0e-2b7c-4f7e-9a53-6c1f4e2b8d71")


XmlText = Annotated[
    str,
    msgspec.Meta(
        max_length=1024,
        pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$",
        description="text without control characters (it goes into libvirt's XML)",
    ),
]


class SnapshotBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    description: XmlText = ""
    memory: bool = False
    quiesce: bool = False


class DiskResizeBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    size_gib: SizeGib


class NicUpdateBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    network_id: Name


def _made(out: Outcome, key: str) -> dict[str, str]:
    """The id of the part the request event made (``disk_id``/``nic_id``)."""
    for env in out.envelopes:
        e = env.event
        if isinstance(e, ve.DiskAttachRequested):
            return {key: e.disk.disk_id}
        if isinstance(e, ve.NicAttachRequested):
            return {key: e.nic.nic_id}
    return {}


# ---------------------------------------------------------------- snapshots


@routes.post("/api/v1/vms/{vm_id}/snapshots")
@requires(VM_CONFIGURE)
async def create_snapshot(request: web.Request) -> web.Response:
    body = await decode_body(request, SnapshotBody)
    key = idempotency_key(request)
    # with a key, a retry names the same snapshot (and is answered with its id)
    snapshot_id = str(uuid.uuid5(_SNAPSHOT_NAMESPACE, key)) if key else new_id()
    return await run_command(
        request,
        request.match_info["vm_id"],
        lambda t, k: vd.TakeSnapshot(
            task_id=t,
            idempotency_key=k,
            snapshot_id=snapshot_id,
            name=body.name,
            description=body.description,
            memory=body.memory,
            quiesce=body.quiesce,
        ),
        lambda out: {"snapshot_id": snapshot_id} if out.envelopes else {},
        known={"snapshot_id": snapshot_id},
    )


@routes.post("/api/v1/vms/{vm_id}/snapshots/{snapshot_id}/actions/revert")
@requires(VM_CONFIGURE)
async def revert_snapshot(request: web.Request) -> web.Response:
    await no_body(request)
    sid = request.match_info["snapshot_id"]
    return await run_command(
        request,
        request.match_info["vm_id"],
        lambda t, k: vd.RevertSnapshot(task_id=t, idempotency_key=k, snapshot_id=sid),
    )


@routes.delete("/api/v1/vms/{vm_id}/snapshots/{snapshot_id}")
@requires(VM_CONFIGURE)
async def delete_snapshot(request: web.Request) -> web.Response:
    sid = request.match_info["snapshot_id"]
    return await run_command(
        request,
        request.match_info["vm_id"],
        lambda t, k: vd.DeleteSnapshot(task_id=t, idempotency_key=k, snapshot_id=sid),
    )


# ---------------------------------------------------------------- disks


@routes.post("/api/v1/vms/{vm_id}/disks")
@requires(VM_CONFIGURE)
async def attach_disk(request: web.Request) -> web.Response:
    """A new volume (``size_gib``) or an existing one (``volume``) of the pool."""
    body = await decode_body(request, DiskBody)
    if body.size_gib is None and not body.volume and body.device == "disk":
        raise problems.invalid_body("a new disk needs size_gib (or an existing volume)")
    vm_id = request.match_info["vm_id"]
    repo = request.app[COMMANDS].repo
    pool_id = body.pool_id or fleet_default(request, "default_pool_id")
    live, host_id = vm_refs.vm_host(repo, vm_id)
    if live:
        vm_refs.check_disk(repo, pool_id, body.volume, host_id)
    return await run_command(
        request,
        request.match_info["vm_id"],
        lambda t, k: vd.AttachDisk(
            task_id=t,
            idempotency_key=k,
            size_gib=body.size_gib or 0,
            bus=body.bus,
            device=body.device,
            pool_id=pool_id,
            volume=body.volume,
        ),
        lambda out: _made(out, "disk_id"),
    )


@routes.delete("/api/v1/vms/{vm_id}/disks/{disk_id}")
@requires(VM_CONFIGURE)
async def detach_disk(request: web.Request) -> web.Response:
    """``?delete_volume=true`` also removes the volume from its pool."""
    disk_id = request.match_info["disk_id"]
    delete_volume = flag(request, "delete_volume")
    return await run_command(
        request,
        request.match_info["vm_id"],
        lambda t, k: vd.DetachDisk(
            task_id=t, idempotency_key=k, disk_id=disk_id, delete_volume=delete_volume
        ),
    )


@routes.post("/api/v1/vms/{vm_id}/disks/{disk_id}/actions/resize")
@requires(VM_CONFIGURE)
async def resize_disk(request: web.Request) -> web.Response:
    body = await decode_body(request, DiskResizeBody)
    disk_id = request.match_info["disk_id"]
    return await run_command(
        request,
        request.match_info["vm_id"],
        lambda t, k: vd.ResizeDisk(
            task_id=t, idempotency_key=k, disk_id=disk_id, size_gib=body.size_gib
        ),
    )


# ---------------------------------------------------------------- NICs


@routes.post("/api/v1/vms/{vm_id}/nics")
@requires(VM_CONFIGURE)
async def attach_nic(request: web.Request) -> web.Response:
    body = await decode_body(request, NicBody)
    repo = request.app[COMMANDS].repo
    network_id = body.network_id or fleet_default(request, "default_network_id")
    live, host_id = vm_refs.vm_host(repo, request.match_info["vm_id"])
    if live:
        vm_refs.check_network(repo, network_id, host_id)
    taken = fleet_macs(repo)
    mac = checked_mac(body.mac, taken) if body.mac else new_mac(taken)
    if live and repo.idempotent(idempotency_key(request)) is None:  # not a repeat
        vm_refs.check_free_address(repo, network_id, mac)
    return await run_command(
        request,
        request.match_info["vm_id"],
        lambda t, k: vd.AttachNic(
            task_id=t, idempotency_key=k, mac=mac, network_id=network_id, model=body.model
        ),
        lambda out: _made(out, "nic_id"),
    )


@routes.patch("/api/v1/vms/{vm_id}/nics/{nic_id}")
@requires(VM_CONFIGURE)
async def update_nic(request: web.Request) -> web.Response:
    """Move the NIC to another network; its MAC stays."""
    body = await decode_body(request, NicUpdateBody)
    nic_id = request.match_info["nic_id"]
    repo = request.app[COMMANDS].repo
    live, host_id = vm_refs.vm_host(repo, request.match_info["vm_id"])
    if live and vm_refs.nic_of(repo, request.match_info["vm_id"], nic_id):
        vm_refs.check_network(repo, body.network_id, host_id)
    return await run_command(
        request,
        request.match_info["vm_id"],
        lambda t, k: vd.UpdateNic(
            task_id=t, idempotency_key=k, nic_id=nic_id, network_id=body.network_id
        ),
    )


@routes.delete("/api/v1/vms/{vm_id}/nics/{nic_id}")
@requires(VM_CONFIGURE)
async def detach_nic(request: web.Request) -> web.Response:
    nic_id = request.match_info["nic_id"]
    return await run_command(
        request,
        request.match_info["vm_id"],
        lambda t, k: vd.DetachNic(task_id=t, idempotency_key=k, nic_id=nic_id),
    )
