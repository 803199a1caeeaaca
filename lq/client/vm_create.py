"""``lq vm create``: a VM from a spec (disks, NICs, firmware, cloud-init) or from a template.

Split from ``commands`` because the spec options and their parsing (``--disk 20:sata``,
``--nic lab:e1000``) are most of it. The body is the API's ``POST /api/v1/vms`` body;
anything the server refuses comes back as its problem (exit 1).
"""

from __future__ import annotations

import re
from typing import Any

import click

from lq.client.commands import V1, api, call, finish, output_option, resolve_vm, wait_options

DISK_BUSES = ("virtio", "sata", "scsi")
NIC_MODELS = ("virtio", "e1000", "rtl8139")
BOOT_DEVICES = ("hd", "network", "cdrom")
_SIZE = re.compile(r"^(\d+)\s*(g|gb|gib)?$", re.IGNORECASE)


def size_gib(raw: str) -> int:
    """``20``, ``20G``, ``20GiB`` → 20."""
    m = _SIZE.match(raw.strip())
    if not m or int(m.group(1)) < 1:
        raise click.BadParameter(f"{raw!r} is not a size in GiB (e.g. 20 or 20G)")
    return int(m.group(1))


def parse_disk(raw: str) -> dict[str, Any]:
    """``SIZE[:BUS[:POOL]]`` → a disk of the create body."""
    size, bus, pool, *rest = [*raw.split(":"), "", ""]
    if any(rest):
        raise click.BadParameter(f"{raw!r}: expected SIZE[:BUS[:POOL]]")
    disk: dict[str, Any] = {"size_gib": size_gib(size)}
    if bus:
        if bus not in DISK_BUSES:
            raise click.BadParameter(f"{raw!r}: bus must be one of {', '.join(DISK_BUSES)}")
        disk["bus"] = bus
    if pool:
        disk["pool_id"] = pool
    return disk


def parse_nic(raw: str) -> dict[str, Any]:
    """``NETWORK[:MODEL]`` → a NIC of the create body."""
    network, model, *rest = [*raw.split(":"), ""]
    if any(rest) or not network:
        raise click.BadParameter(f"{raw!r}: expected NETWORK[:MODEL]")
    nic: dict[str, Any] = {"network_id": network}
    if model:
        if model not in NIC_MODELS:
            raise click.BadParameter(f"{raw!r}: model must be one of {', '.join(NIC_MODELS)}")
        nic["model"] = model
    return nic


def parse_boot(raw: str) -> list[str]:
    order = [d for d in raw.split(",") if d]
    bad = [d for d in order if d not in BOOT_DEVICES]
    if bad or not order:
        raise click.BadParameter(f"boot devices are {', '.join(BOOT_DEVICES)} (comma-separated)")
    return order


def _disks(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> list[Any]:
    return [parse_disk(v) for v in value]


def _nics(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> list[Any]:
    return [parse_nic(v) for v in value]


def _boot(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    return None if value is None else parse_boot(value)


@click.command("create")
@click.argument("name")
@click.option("--vcpus", type=int, default=None, help="Default 1, or the template's")
@click.option("--memory", "memory_mib", type=int, default=None, help="MiB: 512, or the template's")
@click.option("--start", is_flag=True, help="Start it once placed")
@click.option("--description", default="")
@click.option(
    "--disk",
    "disks",
    multiple=True,
    callback=_disks,
    metavar="SIZE[:BUS[:POOL]]",
    help="A new disk of SIZE GiB (repeatable; the first boots). BUS: virtio, sata, scsi",
)
@click.option(
    "--nic",
    "nics",
    multiple=True,
    callback=_nics,
    metavar="NETWORK[:MODEL]",
    help="A NIC on NETWORK (repeatable). MODEL: virtio, e1000, rtl8139",
)
@click.option("--firmware", type=click.Choice(["bios", "uefi"]), default=None)
@click.option("--machine", type=click.Choice(["pc", "q35"]), default=None)
@click.option("--boot", callback=_boot, metavar="DEV[,DEV…]", help="Boot order: hd,network,cdrom")
@click.option("--max-vcpus", type=click.IntRange(0, 512), default=None, help="Hot-plug ceiling")
@click.option("--max-memory", "max_memory_mib", type=int, default=None, help="MiB ceiling")
@click.option(
    "--cloud-init-user-data",
    "user_data",
    type=click.File("r"),
    default=None,
    help="cloud-init user-data file ('-' reads stdin)",
)
@click.option("--template", "template", metavar="NAME|ID", help="Make it from this template")
@click.option("--linked", is_flag=True, help="With --template: qcow2 overlays, not full copies")
@click.option("--host", "host_id", metavar="ID", help="Pin it to this host")
@wait_options
@output_option
def vm_create(  # noqa: PLR0917 - one parameter per click option
    name: str,
    vcpus: int | None,
    memory_mib: int | None,
    start: bool,
    description: str,
    disks: list[dict[str, Any]],
    nics: list[dict[str, Any]],
    firmware: str | None,
    machine: str | None,
    boot: list[str] | None,
    max_vcpus: int | None,
    max_memory_mib: int | None,
    user_data: Any,
    template: str | None,
    linked: bool,
    host_id: str | None,
    wait: bool,
    timeout: float,
    output: str,
) -> None:
    """Create a VM; the scheduler places it on a host.

    \b
    lq vm create web-1 --vcpus 2 --memory 2048 --disk 20 --disk 100:sata --nic default
    lq vm create web-2 --template golden --linked --start --wait
    """
    if linked and template is None:
        raise click.UsageError("--linked needs --template")
    a = api()
    size = {"vcpus": 1, "memory_mib": 512}
    if template is not None:
        template_id = resolve_vm(a, template)
        source = call(lambda: a.get(f"{V1}/vms/{template_id}"))
        size = {"vcpus": source["vcpus"], "memory_mib": source["memory_mib"]}
    body: dict[str, Any] = {
        "name": name,
        "vcpus": size["vcpus"] if vcpus is None else vcpus,
        "memory_mib": size["memory_mib"] if memory_mib is None else memory_mib,
        "start": start,
        "description": description,
    }
    optional = {
        "disks": disks,
        "nics": nics,
        "firmware": firmware,
        "machine": machine,
        "boot_order": boot,
        "max_vcpus": max_vcpus,
        "max_memory_mib": max_memory_mib,
        "host_id": host_id,
    }
    body.update({k: v for k, v in optional.items() if v not in (None, [])})
    if user_data is not None:
        body["cloud_init"] = {"user_data": user_data.read()}
    if template is not None:
        body["template_id"] = template_id
        body["linked"] = linked
    accepted = call(lambda: a.request("POST", f"{V1}/vms", body=body))
    finish(a, accepted, output, wait, timeout, made=("vm_id",))


def add(vm: click.Group) -> None:
    vm.add_command(vm_create)
