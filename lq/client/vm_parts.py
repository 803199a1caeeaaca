"""``lq vm snapshot|disk|nic``: a VM's snapshots, disks and NICs.

``list`` reads the read model (``GET /api/v1/vms/{id}/snapshots|disks|nics``); the other
commands are tasks on the VM (``202``), printed or followed with ``--wait`` like every
VM command. A snapshot may be named by its id or its (unique) name.
"""

from __future__ import annotations

from typing import Any

import click

from lq.client import render
from lq.client.commands import (
    V1,
    api,
    call,
    complete_vms,
    finish,
    output_option,
    resolve_vm,
    wait_options,
)
from lq.client.http import Api
from lq.client.vm_create import DISK_BUSES, NIC_MODELS, size_gib

vm_ref = click.argument("ref", shell_complete=complete_vms)


def _size(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    return None if value is None else size_gib(value)


def _send(
    a: Api,
    method: str,
    path: str,
    *,
    output: str,
    wait: bool,
    timeout: float,
    body: Any = None,
    params: dict[str, Any] | None = None,
) -> None:
    accepted = call(lambda: a.request(method, path, body=body, params=params))
    finish(a, accepted, output=output, wait=wait, timeout=timeout)


def _listing(a: Api, vm_id: str, part: str) -> dict[str, Any]:
    return dict(call(lambda: a.get(f"{V1}/vms/{vm_id}/{part}")))


# ---------------------------------------------------------------- snapshots


@click.group("snapshot")
def snapshot() -> None:
    """A VM's snapshots (a tree: each has the snapshot it was taken from as parent)."""


@snapshot.command("list")
@vm_ref
@output_option
def snapshot_list(ref: str, output: str) -> None:
    """The VM's snapshot tree; * marks the current snapshot."""
    a = api()
    page = _listing(a, resolve_vm(a, ref), "snapshots")
    render.dump(page) if output == "json" else render.snapshots(page)


@snapshot.command("create")
@vm_ref
@click.argument("name")
@click.option("--description", default="")
@click.option("--memory", is_flag=True, help="Include the running VM's memory (a checkpoint)")
@click.option("--quiesce", is_flag=True, help="Freeze guest filesystems (needs the guest agent)")
@wait_options
@output_option
def snapshot_create(  # noqa: PLR0917 - one parameter per click option
    ref: str,
    name: str,
    description: str,
    memory: bool,
    quiesce: bool,
    wait: bool,
    timeout: float,
    output: str,
) -> None:
    """Take a snapshot NAME of the VM."""
    a = api()
    body = {"name": name, "description": description, "memory": memory, "quiesce": quiesce}
    path = f"{V1}/vms/{resolve_vm(a, ref)}/snapshots"
    _send(a, "POST", path, output=output, wait=wait, timeout=timeout, body=body)


def resolve_snapshot(a: Api, vm_id: str, ref: str) -> str:
    """A snapshot id from an id or a (unique) name."""
    items = _listing(a, vm_id, "snapshots")["items"]
    if any(s["snapshot_id"] == ref for s in items):
        return ref
    named = [s["snapshot_id"] for s in items if s["name"] == ref]
    if len(named) > 1:
        raise click.ClickException(f"{len(named)} snapshots are named {ref!r}: use an id")
    if not named:
        raise click.ClickException(f"no snapshot {ref!r}")
    return str(named[0])


@snapshot.command("revert")
@vm_ref
@click.argument("snapshot_ref", metavar="SNAPSHOT")
@wait_options
@output_option
def snapshot_revert(ref: str, snapshot_ref: str, wait: bool, timeout: float, output: str) -> None:
    """Put the VM back to SNAPSHOT (by name or id)."""
    a = api()
    vm_id = resolve_vm(a, ref)
    sid = resolve_snapshot(a, vm_id, snapshot_ref)
    _send(
        a,
        "POST",
        f"{V1}/vms/{vm_id}/snapshots/{sid}/actions/revert",
        output=output,
        wait=wait,
        timeout=timeout,
    )


@snapshot.command("delete")
@vm_ref
@click.argument("snapshot_ref", metavar="SNAPSHOT")
@wait_options
@output_option
def snapshot_delete(ref: str, snapshot_ref: str, wait: bool, timeout: float, output: str) -> None:
    """Delete SNAPSHOT (by name or id); its children move to its parent."""
    a = api()
    vm_id = resolve_vm(a, ref)
    sid = resolve_snapshot(a, vm_id, snapshot_ref)
    _send(
        a, "DELETE", f"{V1}/vms/{vm_id}/snapshots/{sid}", output=output, wait=wait, timeout=timeout
    )


# ---------------------------------------------------------------- disks


@click.group("disk")
def disk() -> None:
    """A VM's disks (disk0 boots)."""


@disk.command("list")
@vm_ref
@output_option
def disk_list(ref: str, output: str) -> None:
    """The VM's disks."""
    a = api()
    page = _listing(a, resolve_vm(a, ref), "disks")
    render.dump(page) if output == "json" else render.disks(page)


@disk.command("attach")
@vm_ref
@click.option("--size", callback=_size, help="A new volume of this many GiB")
@click.option("--volume", default=None, help="Or: an existing volume of the pool")
@click.option("--bus", type=click.Choice(DISK_BUSES), default=None)
@click.option(
    "--pool", "pool_id", default=None, help="Storage pool (default: the fleet's default pool)"
)
@click.option("--cdrom", is_flag=True, help="Attach the volume as a CD-ROM")
@wait_options
@output_option
def disk_attach(  # noqa: PLR0917 - one parameter per click option
    ref: str,
    size: int | None,
    volume: str | None,
    bus: str | None,
    pool_id: str | None,
    cdrom: bool,
    wait: bool,
    timeout: float,
    output: str,
) -> None:
    """Attach a new disk (--size) or an existing volume (--volume)."""
    if (size is None) == (volume is None):
        raise click.UsageError("give exactly one of --size and --volume")
    body: dict[str, Any] = {"size_gib": size} if size is not None else {"volume": volume}
    body.update({k: v for k, v in (("bus", bus), ("pool_id", pool_id)) if v})
    if cdrom:
        body["device"] = "cdrom"
    a = api()
    _send(
        a,
        "POST",
        f"{V1}/vms/{resolve_vm(a, ref)}/disks",
        output=output,
        wait=wait,
        timeout=timeout,
        body=body,
    )


@disk.command("detach")
@vm_ref
@click.argument("disk_id")
@click.option("--delete-volume", is_flag=True, help="Also remove the volume from its pool")
@wait_options
@output_option
def disk_detach(  # noqa: PLR0917 - one parameter per click option
    ref: str, disk_id: str, delete_volume: bool, wait: bool, timeout: float, output: str
) -> None:
    """Detach DISK_ID (e.g. disk1); its volume stays unless --delete-volume."""
    a = api()
    params = {"delete_volume": "true" if delete_volume else None}
    path = f"{V1}/vms/{resolve_vm(a, ref)}/disks/{disk_id}"
    _send(a, "DELETE", path, output=output, wait=wait, timeout=timeout, params=params)


@disk.command("resize")
@vm_ref
@click.argument("disk_id")
@click.option("--size", callback=_size, required=True, help="New size in GiB (grow only)")
@wait_options
@output_option
def disk_resize(  # noqa: PLR0917 - one parameter per click option
    ref: str, disk_id: str, size: int, wait: bool, timeout: float, output: str
) -> None:
    """Grow DISK_ID to --size GiB."""
    a = api()
    path = f"{V1}/vms/{resolve_vm(a, ref)}/disks/{disk_id}/actions/resize"
    _send(a, "POST", path, output=output, wait=wait, timeout=timeout, body={"size_gib": size})


# ---------------------------------------------------------------- NICs


@click.group("nic")
def nic() -> None:
    """A VM's NICs (the MAC never changes; the IP is what the host last saw)."""


@nic.command("list")
@vm_ref
@output_option
def nic_list(ref: str, output: str) -> None:
    """The VM's NICs."""
    a = api()
    page = _listing(a, resolve_vm(a, ref), "nics")
    render.dump(page) if output == "json" else render.nics(page)


@nic.command("attach")
@vm_ref
@click.option("--network", "network_id", default=None, help="Default: the fleet's default network")
@click.option("--model", type=click.Choice(NIC_MODELS), default="virtio", show_default=True)
@click.option("--mac", default=None, help="Default: a new 52:54:00:xx:xx:xx")
@wait_options
@output_option
def nic_attach(  # noqa: PLR0917 - one parameter per click option
    ref: str,
    network_id: str | None,
    model: str,
    mac: str | None,
    wait: bool,
    timeout: float,
    output: str,
) -> None:
    """Attach a NIC on --network."""
    body: dict[str, Any] = {"model": model}
    if network_id:
        body["network_id"] = network_id
    if mac:
        body["mac"] = mac
    a = api()
    _send(
        a,
        "POST",
        f"{V1}/vms/{resolve_vm(a, ref)}/nics",
        output=output,
        wait=wait,
        timeout=timeout,
        body=body,
    )


@nic.command("detach")
@vm_ref
@click.argument("nic_id")
@wait_options
@output_option
def nic_detach(ref: str, nic_id: str, wait: bool, timeout: float, output: str) -> None:
    """Detach NIC_ID (e.g. nic1)."""
    a = api()
    _send(
        a,
        "DELETE",
        f"{V1}/vms/{resolve_vm(a, ref)}/nics/{nic_id}",
        output=output,
        wait=wait,
        timeout=timeout,
    )


@nic.command("set-network")
@vm_ref
@click.argument("nic_id")
@click.argument("network_id", metavar="NETWORK")
@wait_options
@output_option
def nic_set_network(  # noqa: PLR0917 - one parameter per click option
    ref: str, nic_id: str, network_id: str, wait: bool, timeout: float, output: str
) -> None:
    """Move NIC_ID to NETWORK (its MAC stays)."""
    a = api()
    path = f"{V1}/vms/{resolve_vm(a, ref)}/nics/{nic_id}"
    _send(
        a, "PATCH", path, output=output, wait=wait, timeout=timeout, body={"network_id": network_id}
    )


def add(vm: click.Group) -> None:
    for group in (snapshot, disk, nic):
        vm.add_command(group)
