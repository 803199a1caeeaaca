"""``lq pool`` and ``lq volume``: storage pools and their volumes (docs/storage.md).

``lq pool create NAME --type dir --param path=/var/lib/limiquantix/pools/fast`` passes
each ``--param key=value`` as the type's parameter (a comma in the value of ``devices``
or ``monitors`` makes a list); ``--host`` attaches it at once. Volume operations are
tasks: ``lq volume create|resize|delete --wait`` follows the task to its end and exits 1
when the host failed it, printing its reason.
"""

from __future__ import annotations

from typing import Any

import click

from lq.client import render
from lq.client.commands import (
    V1,
    api,
    call,
    finish,
    list_options,
    more,
    output_option,
    wait_options,
)

GIB = 1024**3
LISTS = ("devices", "monitors")


def _gib(n: Any) -> str:
    return f"{int(n or 0) / GIB:.1f}G"


def _host_id(ref: str) -> str:
    """A host id from its id or name."""
    hosts = call(lambda: api().get(f"{V1}/hosts", limit=500))["items"]
    for h in hosts:
        if ref in (h["id"], h["name"]):
            return str(h["id"])
    raise click.ClickException(f"no host {ref!r}")


def _pool_id(ref: str) -> str:
    pools = call(lambda: api().get(f"{V1}/storage-pools", limit=500))["items"]
    for p in pools:
        if ref in (p["id"], p["name"]):
            return str(p["id"])
    raise click.ClickException(f"no storage pool {ref!r}")


def _settle(seq: int) -> None:
    """Wait until the read model has the change, so the next command finds it by name."""
    call(lambda: api().get(f"{V1}/storage-pools", limit=1, min_seq=seq))


def _done(answer: dict[str, Any], line: str, wait: bool, timeout: float) -> None:
    """Print what was asked (``line``); with ``--wait``, follow the volume's task too."""
    click.echo(line)
    if wait:
        finish(api(), answer, "table", True, timeout)


def _params(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint="--param")
        out[key] = [v for v in value.split(",") if v] if key in LISTS else value
    return out


@click.group("pool")
def pool() -> None:
    """Storage pools: dir, netfs, logical, rbd and iscsi."""


@pool.command("list")
@list_options(500)
@output_option
def pool_list(paging: dict[str, Any], output: str) -> None:
    """Pools with their state, allocation and hosts."""
    page = call(lambda: api().get(f"{V1}/storage-pools", **paging))
    if output == "json":
        render.dump(page)
        return
    render.table(
        ["NAME", "TYPE", "STATE", "ALLOCATED", "LIMIT", "VOLUMES", "HOSTS", "ID"],
        [
            [p["name"], p["type"], p["state"], _gib(p["allocated_bytes"]), _gib(p["limit_bytes"]),
             str(p["volume_count"]),
             ",".join(f"{h['host_name']}:{h['state']}" for h in p["hosts"]) or "-", p["id"]]
            for p in page["items"]
        ],
    )  # fmt: skip
    more(page, output)


@pool.command("create")
@click.argument("name")
@click.option("--type", "kind", required=True,
              type=click.Choice(["dir", "netfs", "logical", "rbd", "iscsi"]))  # fmt: skip
@click.option("--param", "params", multiple=True, help="key=value parameter of the type")
@click.option("--host", "hosts", multiple=True, help="host (id or name) to attach it to")
@click.option("--overcommit", type=float, default=1.0, show_default=True)
@click.option("--capacity-gib", type=int, default=0, help="declared capacity (0: as reported)")
def pool_create(
    name: str, kind: str, *, params: tuple[str, ...], hosts: tuple[str, ...], overcommit: float,
    capacity_gib: int,
) -> None:  # fmt: skip
    """Define a pool (and attach it to --host)."""
    body = {"name": name, "type": kind, "params": _params(params), "overcommit": overcommit,
            "capacity_gib": capacity_gib, "host_ids": [_host_id(h) for h in hosts]}  # fmt: skip
    answer = call(lambda: api().request("POST", f"{V1}/storage-pools", body=body))
    _settle(answer["seq"])
    click.echo(f"pool_id: {answer['pool_id']}")


@pool.command("attach")
@click.argument("pool")
@click.argument("host")
@click.option("--detach", is_flag=True, help="detach instead")
def pool_attach(pool: str, host: str, detach: bool) -> None:
    """Attach POOL (id or name) to HOST (id or name): its agent realises it there."""
    verb = "detach" if detach else "attach"
    body = {"host_id": _host_id(host)}
    pid = _pool_id(pool)
    call(lambda: api().request("POST", f"{V1}/storage-pools/{pid}/actions/{verb}", body=body))
    click.echo(f"{verb}ed {pool} {'from' if detach else 'to'} {host}")


@click.group("volume")
def volume() -> None:
    """Volumes in storage pools."""


@volume.command("list")
@click.option("--pool", "pool_ref", help="only this pool (id or name)")
@list_options(500)
@output_option
def volume_list(pool_ref: str | None, paging: dict[str, Any], output: str) -> None:
    """Volumes with their pool, size, state and the VMs using them."""
    pid = _pool_id(pool_ref) if pool_ref else None
    page = call(lambda: api().get(f"{V1}/volumes", pool_id=pid, **paging))
    if output == "json":
        render.dump(page)
        return
    render.table(
        ["NAME", "POOL", "SIZE", "FORMAT", "STATE", "ATTACHED", "ID"],
        [
            [v["name"], v["pool_name"], _gib(v["size_bytes"]), v["format"], v["state"],
             ",".join(f"{a['vm_name']}/{a['disk_id']}" for a in v["attached_to"]) or "-", v["id"]]
            for v in page["items"]
        ],
    )  # fmt: skip
    more(page, output)


@volume.command("create")
@click.argument("pool")
@click.argument("name")
@click.argument("size_gib", type=click.IntRange(1))
@click.option("--format", "fmt", type=click.Choice(["qcow2", "raw"]), default="qcow2")
@click.option("--thick", is_flag=True, help="allocate a raw volume fully")
@wait_options
def volume_create(
    pool: str, name: str, size_gib: int, *, fmt: str, thick: bool, wait: bool, timeout: float
) -> None:
    """Create volume NAME of SIZE_GIB in POOL (id or name)."""
    body = {"pool_id": _pool_id(pool), "name": name, "size_gib": size_gib, "format": fmt,
            "thin": not thick}  # fmt: skip
    answer = call(lambda: api().request("POST", f"{V1}/volumes", body=body))
    _settle(answer["seq"])
    _done(answer, f"volume_id: {answer['volume_id']}", wait, timeout)


@volume.command("resize")
@click.argument("volume_id")
@click.argument("size_gib", type=click.IntRange(1))
@wait_options
def volume_resize(volume_id: str, size_gib: int, wait: bool, timeout: float) -> None:
    """Grow a volume to SIZE_GIB (volumes never shrink)."""
    body = {"size_gib": size_gib}
    path = f"{V1}/volumes/{volume_id}/actions/resize"
    answer = call(lambda: api().request("POST", path, body=body))
    _done(answer, f"resizing {volume_id} to {size_gib} GiB", wait, timeout)


@volume.command("delete")
@click.argument("volume_id")
@click.option("--force", is_flag=True, help="detach it from its VMs first")
@wait_options
def volume_delete(volume_id: str, force: bool, wait: bool, timeout: float) -> None:
    """Delete a volume (refused while a VM uses it, unless --force)."""
    params = {"force": "true" if force else None}
    answer = call(lambda: api().request("DELETE", f"{V1}/volumes/{volume_id}", params=params))
    _done(answer, f"deleting {volume_id}", wait, timeout)
