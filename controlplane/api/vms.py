"""Command routes for VMs: create (from a spec or a template), actions and delete.

Bodies are decoded strictly (unknown fields, wrong types and out-of-range values are
refused before anything is appended); what only the VM's state can refuse is refused by
the domain with a typed error, answered as a problem. Each accepted command answers
``202`` with the VM id, the task id and the stream sequence of its last event (the
consistency token for ``?min_seq=``). ``Idempotency-Key`` makes a retried request return
the first answer. Disk ids (``disk0`` = boot disk) and NIC ids are given in order; MACs
are chosen here (``52:54:00:xx:xx:xx``) unless the body gives one, and never change.

What a body leaves out follows the fleet settings as they are at the request
(``controlplane.fleet``, docs/settings.md): a new VM's disk without ``pool_id`` goes to
``default_pool_id``, a NIC without ``network_id`` to ``default_network_id``, a shutdown
without ``timeout_s`` waits ``default_shutdown_timeout_s``.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated, Literal

import msgspec
from aiohttp import web

from controlplane import admission, names
from controlplane.api import settings as settings_api
from controlplane.api import vm_refs
from controlplane.api.common import (
    COMMANDS,
    Accepted,
    Name,
    accepted,
    decode_body,
    domain_problem,
    flag,
    idempotency_key,
    meta_for,
    no_body,
    run_command,
)
from controlplane.domain import name_claim, vm_create
from controlplane.domain import vm as vd
from controlplane.domain.errors import AlreadyExists
from controlplane.fleet import Fleet
from controlplane.repository import Repository
from events import problems
from events import vm as ve
from events.base import new_id
from events.permissions import VM_CONFIGURE, VM_CREATE, VM_DELETE, VM_POWER, requires

__all__ = ["Accepted", "CreateVmBody", "Name", "routes"]

MAX_MEMORY_MIB = 16 * 1024 * 1024
Vcpus = Annotated[int, msgspec.Meta(ge=1, le=512)]
MemoryMib = Annotated[int, msgspec.Meta(ge=16, le=MAX_MEMORY_MIB)]
SizeGib = Annotated[int, msgspec.Meta(ge=1, le=65536)]
Mac = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$",
        description="a unicast MAC such as 52:54:00:12:34:56",
    ),
]
Volume = Annotated[
    str,
    msgspec.Meta(
        max_length=255,
        pattern=r"^([A-Za-z0-9][A-Za-z0-9._-]*)?$",
        description="an existing volume's name in the pool (no '/')",
    ),
]
HostPath = Annotated[
    str,
    msgspec.Meta(max_length=4096, pattern=r"^(/[^\x00]*)?$", description="absolute path"),
]
Ident = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Description = Annotated[str, msgspec.Meta(max_length=1024)]


class DiskBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A new volume of ``size_gib``, or the existing ``volume`` of the pool; without
    ``pool_id`` the fleet's default pool (``default_pool_id``)."""

    size_gib: SizeGib | None = None
    bus: ve.DiskBus = "virtio"
    device: ve.DiskDevice = "disk"
    pool_id: Name | None = None
    volume: Volume = ""


class NicBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A NIC; without ``network_id`` on the fleet's default network (``default_network_id``)."""

    network_id: Name | None = None
    model: ve.NicModel = "virtio"
    mac: Mac | None = None


class NewDiskBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A disk of a new VM: without ``pool_id`` it goes to the fleet's default pool."""

    size_gib: SizeGib | None = None
    bus: ve.DiskBus = "virtio"
    device: ve.DiskDevice = "disk"
    pool_id: Name | None = None
    volume: Volume = ""


class NewNicBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A NIC of a new VM: without ``network_id`` it joins the fleet's default network."""

    network_id: Name | None = None
    model: ve.NicModel = "virtio"
    mac: Mac | None = None


class CloudInitBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    user_data: Annotated[str, msgspec.Meta(max_length=32768)] = ""
    meta_data: Annotated[str, msgspec.Meta(max_length=8192)] = ""
    network_config: Annotated[str, msgspec.Meta(max_length=8192)] = ""


class CreateVmBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    vcpus: Vcpus
    memory_mib: MemoryMib
    start: bool = False
    description: Description = ""
    disks: Annotated[list[NewDiskBody], msgspec.Meta(max_length=16)] = []
    nics: Annotated[list[NewNicBody], msgspec.Meta(max_length=16)] = []
    firmware: ve.Firmware = "bios"
    machine: Literal["pc", "q35"] = "pc"
    boot_order: Annotated[tuple[ve.BootDevice, ...], msgspec.Meta(min_length=1, max_length=3)] = (
        "hd",
    )
    max_vcpus: Annotated[int, msgspec.Meta(ge=0, le=512)] = 0
    max_memory_mib: Annotated[int, msgspec.Meta(ge=0, le=MAX_MEMORY_MIB)] = 0
    cloud_init: CloudInitBody | None = None
    template_id: Ident | None = None
    linked: bool = False
    host_id: Ident | None = None
    kernel: HostPath = ""
    initrd: HostPath = ""
    cmdline: Annotated[str, msgspec.Meta(max_length=4096)] = ""
    ha_enabled: bool = False  # docs/ha.md
    ha_priority: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 0
    resource_pool_id: Ident | None = None  # docs/clusters.md
    placement_labels: Annotated[dict[str, str], msgspec.Meta(max_length=32)] = {}


class ShutdownBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    timeout_s: Annotated[int, msgspec.Meta(ge=1, le=3600)] | None = None  # fleet default
    force_on_timeout: bool = False


class RebootBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    force: bool = False


class CloneBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    linked: bool = False
    start: bool = False
    description: Description | None = None


class ResizeBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    vcpus: Vcpus
    memory_mib: MemoryMib
    live: bool = False


_IDEM_NAMESPACE = uuid.UUID("6f1c1a52-5d7e-4c39-9a57-1b7f3f1e9a10")
POWER_VERBS = ("start", "stop", "pause", "resume")
VERBS = (
    *POWER_VERBS,
    "shutdown",
    "reboot",
    "clone",
    "convert-to-template",
    "convert-to-vm",
    "resize",
)

routes = web.RouteTableDef()


# ---------------------------------------------------------------- helpers


def fleet_macs(repo: Repository) -> set[str]:
    return {n.mac for v in repo.all("vm") if v.state != "deleted" for n in v.nics}


def new_mac(taken: set[str]) -> str:
    """A random MAC in QEMU's locally administered range, unused in the fleet."""
    while True:
        mac = "52:54:00:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))
        if mac not in taken:
            taken.add(mac)
            return mac


def checked_mac(mac: str, taken: set[str]) -> str:
    """A MAC given by the caller: unicast and not used by any other NIC of the fleet."""
    mac = mac.lower()
    if int(mac[:2], 16) & 1:
        raise problems.invalid_body(f"{mac} is a multicast MAC; a NIC needs a unicast one")
    if mac in taken:
        raise problems.conflict(f"MAC {mac} is already used by a NIC", slug="duplicate")
    taken.add(mac)
    return mac


def linked_clones(repo: Repository, vm_id: str) -> tuple[str, ...]:
    """Live VMs whose disks are qcow2 overlays of ``vm_id``'s volumes."""
    return tuple(
        v.name
        for v in repo.all("vm")
        if v.state != "deleted" and v.clone_of and v.clone_of.vm_id == vm_id and v.clone_of.linked
    )


def _new_vm_id(key: str) -> str:
    # With a key, the VM id is derived from it so that concurrent duplicates collide on
    # one aggregate and only one VM can ever exist for that key.
    return str(uuid.uuid5(_IDEM_NAMESPACE, key)) if key else new_id()


def _cloud_init(body: CloudInitBody | None) -> ve.CloudInit | None:
    if body is None:
        return None
    return ve.CloudInit(
        user_data=body.user_data, meta_data=body.meta_data, network_config=body.network_config
    )


def _fleet(request: web.Request) -> Fleet:
    return Fleet(request.app[COMMANDS].repo, request.app[settings_api.SETTINGS])


def _default_id(fleet: Fleet, key: str) -> str:
    """Fleet setting ``key`` (a pool or network id); empty means ``default``."""
    value = fleet.value(key)
    return value if isinstance(value, str) and value else "default"


def fleet_default(request: web.Request, key: str) -> str:
    """The pool or network id that fleet setting ``key`` names now (``default`` if none)."""
    return _default_id(_fleet(request), key)


def _spec_command(
    body: CreateVmBody, fleet: Fleet, vm_id: str, task_id: str, key: str
) -> vd.Create:
    repo = fleet.repo
    pool_id = (
        _default_id(fleet, "default_pool_id") if any(not d.pool_id for d in body.disks) else ""
    )
    network_id = _default_id(fleet, "default_network_id") if body.nics else ""
    if body.host_id is not None and repo.host(body.host_id) is None:
        raise problems.not_found("host", body.host_id)
    if len(set(body.boot_order)) != len(body.boot_order):
        raise problems.invalid_body("boot_order names a device twice")
    taken = fleet_macs(repo)
    disks = tuple(
        ve.DiskSpec(
            disk_id=f"disk{i}",
            size_gib=d.size_gib or 0,
            bus=d.bus,
            device=d.device,
            pool_id=d.pool_id or pool_id,
            volume=d.volume,
        )
        for i, d in enumerate(body.disks)
    )
    nics = tuple(
        ve.NicSpec(
            nic_id=f"nic{i}",
            mac=checked_mac(n.mac, taken) if n.mac else new_mac(taken),
            network_id=n.network_id or network_id,
            model=n.model,
        )
        for i, n in enumerate(body.nics)
    )
    return vd.Create(
        vm_id=vm_id,
        task_id=task_id,
        idempotency_key=key,
        name=body.name,
        vcpus=body.vcpus,
        memory_mib=body.memory_mib,
        start=body.start,
        description=body.description,
        disks=disks,
        nics=nics,
        firmware=body.firmware,
        machine=body.machine,
        boot_order=body.boot_order,
        max_vcpus=body.max_vcpus,
        max_memory_mib=body.max_memory_mib,
        cloud_init=_cloud_init(body.cloud_init),
        host_id=body.host_id,
        kernel=body.kernel,
        initrd=body.initrd,
        cmdline=body.cmdline,
        ha_enabled=body.ha_enabled,
        ha_priority=body.ha_priority,
        resource_pool_id=body.resource_pool_id,
        placement_labels=dict(body.placement_labels),
    )


def _template_command(
    body: CreateVmBody, repo: Repository, vm_id: str, task_id: str, key: str
) -> vd.Create:
    assert body.template_id is not None
    source = repo.vm(body.template_id)
    if source is None or source.state == "deleted":
        raise problems.not_found("vm", body.template_id)
    if not source.template:
        raise problems.conflict(
            f"{source.name} is not a template (clone it instead)", slug="not-a-template"
        )
    if body.disks or body.nics:
        raise problems.invalid_body("a VM made from a template gets the template's disks and NICs")
    if body.host_id is not None and body.host_id != source.host_id:
        raise problems.conflict(
            f"a VM made from template {source.name} is placed on the template's host",
            slug="pinned-host",
        )
    taken = fleet_macs(repo)
    try:
        return vd.clone_command(
            source,
            vm_id=vm_id,
            task_id=task_id,
            idempotency_key=key,
            name=body.name,
            macs=[new_mac(taken) for _ in source.nics],
            linked=body.linked,
            start=body.start,
            vcpus=body.vcpus,
            memory_mib=body.memory_mib,
            description=body.description,
            cloud_init=_cloud_init(body.cloud_init),
        )
    except Exception as exc:
        raise domain_problem(exc, body.template_id) from exc


async def _create(
    request: web.Request, command: vd.Create, key: str, problem_id: str
) -> web.Response:
    cmds = request.app[COMMANDS]
    vm_id, task_id = command.vm_id, command.task_id
    meta = meta_for(request, task_id)
    try:
        vm_create.check_spec(command)  # before the name is claimed
        # the name is claimed first: unique among live VMs (docs/reliability.md)
        await names.claim(cmds.repo, cmds.handler, name_claim.VM, command.name, vm_id, meta=meta)
        out = await cmds.handler.execute("vm", vm_id, vd.decider(command), meta)
    except AlreadyExists:
        if key and (seen := cmds.repo.idempotent(key)) is not None:
            return accepted(seen.target_id, seen.task_id, seen.seq)
        raise
    except Exception as exc:
        if key and (seen := cmds.repo.idempotent(key)) is not None:
            return accepted(seen.target_id, seen.task_id, seen.seq)
        raise domain_problem(exc, problem_id) from exc
    return accepted(vm_id, task_id, out.seq)


# ---------------------------------------------------------------- routes


@routes.post("/api/v1/vms")
@requires(VM_CREATE)
async def create_vm(request: web.Request) -> web.Response:
    body = await decode_body(request, CreateVmBody)
    if body.linked and body.template_id is None:
        raise problems.invalid_body("linked applies to a VM made from a template (template_id)")
    cmds = request.app[COMMANDS]
    key = idempotency_key(request)
    if key and (seen := cmds.repo.idempotent(key)) is not None:
        return accepted(seen.target_id, seen.task_id, seen.seq)
    vm_id = _new_vm_id(key)
    task_id = new_id()
    if body.template_id is not None:
        command = _template_command(body, cmds.repo, vm_id, task_id, key)
    else:
        command = _spec_command(body, _fleet(request), vm_id, task_id, key)
        vm_refs.check_parts(cmds.repo, command.disks, command.nics, command.host_id)
    admission.check_pool(cmds.repo, command)  # docs/clusters.md: a pool's limits
    admission.check_failover(cmds.repo, command)  # docs/ha.md: the HA failover share
    return await _create(request, command, key, vm_id)


@routes.post("/api/v1/vms/{vm_id}/actions/shutdown")
@requires(VM_POWER)
async def shutdown_vm(request: web.Request) -> web.Response:
    body = await decode_body(request, ShutdownBody)
    timeout_s = body.timeout_s
    if timeout_s is None:  # the fleet's default as it is now
        timeout_s = int(_fleet(request).value("default_shutdown_timeout_s") or 120)
    return await run_command(
        request,
        request.match_info["vm_id"],
        lambda t, k: vd.Shutdown(
            task_id=t,
            idempotency_key=k,
            timeout_s=timeout_s,
            force_on_timeout=body.force_on_timeout,
        ),
    )


@routes.post("/api/v1/vms/{vm_id}/actions/reboot")
@requires(VM_POWER)
async def reboot_vm(request: web.Request) -> web.Response:
    body = await decode_body(request, RebootBody)
    return await run_command(
        request,
        request.match_info["vm_id"],
        lambda t, k: vd.Reboot(task_id=t, idempotency_key=k, force=body.force),
    )


@routes.post("/api/v1/vms/{vm_id}/actions/clone")
@requires(VM_CREATE)
async def clone_vm(request: web.Request) -> web.Response:
    """A copy of a stopped VM or a template on its host; answers the new VM's id."""
    body = await decode_body(request, CloneBody)
    source_id = request.match_info["vm_id"]
    cmds = request.app[COMMANDS]
    key = idempotency_key(request)
    if key and (seen := cmds.repo.idempotent(key)) is not None:
        return accepted(seen.target_id, seen.task_id, seen.seq)
    source = cmds.repo.vm(source_id)
    vm_id = _new_vm_id(key)
    task_id = new_id()
    taken = fleet_macs(cmds.repo)
    try:
        command = vd.clone_command(
            source,
            vm_id=vm_id,
            task_id=task_id,
            idempotency_key=key,
            name=body.name,
            macs=[new_mac(taken) for _ in (source.nics if source else ())],
            linked=body.linked,
            start=body.start,
            description=body.description,
        )
    except Exception as exc:
        raise domain_problem(exc, source_id) from exc
    admission.check_failover(cmds.repo, command)  # the copy is placed on the source's host
    return await _create(request, command, key, source_id)


@routes.post("/api/v1/vms/{vm_id}/actions/resize")
@requires(VM_CONFIGURE)
async def resize_vm(request: web.Request) -> web.Response:
    body = await decode_body(request, ResizeBody)
    return await run_command(
        request,
        request.match_info["vm_id"],
        lambda t, k: vd.Resize(
            task_id=t,
            idempotency_key=k,
            vcpus=body.vcpus,
            memory_mib=body.memory_mib,
            live=body.live,
        ),
    )


@routes.post("/api/v1/vms/{vm_id}/actions/convert-to-template")
@requires(VM_CONFIGURE)
async def convert_to_template(request: web.Request) -> web.Response:
    await no_body(request)
    return await run_command(
        request,
        request.match_info["vm_id"],
        lambda t, k: vd.ConvertToTemplate(task_id=t, idempotency_key=k),
    )


@routes.post("/api/v1/vms/{vm_id}/actions/convert-to-vm")
@requires(VM_CONFIGURE)
async def convert_to_vm(request: web.Request) -> web.Response:
    await no_body(request)
    vm_id = request.match_info["vm_id"]
    dependents = linked_clones(request.app[COMMANDS].repo, vm_id)
    return await run_command(
        request,
        vm_id,
        lambda t, k: vd.ConvertToVm(task_id=t, idempotency_key=k, dependents=dependents),
    )


@routes.post("/api/v1/vms/{vm_id}/actions/{verb}")
@requires(VM_POWER)
async def vm_action(request: web.Request) -> web.Response:
    """start, stop (hard power-off), pause, resume: the actions without options."""
    vm_id = request.match_info["vm_id"]
    verb = request.match_info["verb"]
    if verb not in POWER_VERBS:
        raise problems.Problem(
            404,
            "unknown-action",
            "No such action",
            f"VMs have no action {verb!r}; known: {', '.join(VERBS)}",
        )
    await no_body(request)
    kinds: dict[str, type[vd.Start | vd.Stop | vd.Pause | vd.Resume]] = {
        "start": vd.Start,
        "stop": vd.Stop,
        "pause": vd.Pause,
        "resume": vd.Resume,
    }
    kind = kinds[verb]
    return await run_command(request, vm_id, lambda t, k: kind(task_id=t, idempotency_key=k))


@routes.delete("/api/v1/vms/{vm_id}")
@requires(VM_DELETE)
async def delete_vm(request: web.Request) -> web.Response:
    """``?keep_disks=true`` leaves the volumes; a VM with snapshots needs
    ``?delete_snapshots=true``; a template backing linked clones is refused."""
    vm_id = request.match_info["vm_id"]
    keep, snaps = flag(request, "keep_disks"), flag(request, "delete_snapshots")
    dependents = linked_clones(request.app[COMMANDS].repo, vm_id)
    return await run_command(
        request,
        vm_id,
        lambda t, k: vd.Delete(
            task_id=t,
            idempotency_key=k,
            keep_disks=keep,
            delete_snapshots=snaps,
            dependents=dependents,
        ),
    )
