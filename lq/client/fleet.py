"""Host and placement commands: maintenance, removal, labels, migration and HA.

``lq host maintenance enter sim-1 --wait`` moves every VM away and follows the evacuation
task; ``lq host remove sim-1`` then takes the idle host out of the inventory
(``--force`` for a ``down`` or ``disconnected`` one). ``lq host label sim-1 rack=r1
ssd-`` adds a label and drops another (``--replace`` sets exactly the given ones).
``lq vm migrate web --host sim-2 --wait`` moves a VM (without ``--host`` placement picks
one), ``lq vm ha web --enable --priority 10`` makes it restart elsewhere when its host
dies (docs/ha.md). Hosts are named by id or name everywhere.
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


def resolve_host(a: Api, ref: str) -> dict[str, Any]:
    """The host (its list row) named ``ref`` by id or name."""
    page = call(lambda: a.get(f"{V1}/hosts", limit=500))
    found = [h for h in page["items"] if h["id"] == ref] or [
        h for h in page["items"] if h["name"] == ref
    ]
    if not found:
        raise click.ClickException(f"no host {ref!r}")
    if len(found) > 1:
        raise click.ClickException(f"{len(found)} hosts are named {ref!r}: use an id")
    return dict(found[0])


@click.group("maintenance")
def maintenance() -> None:
    """Put a host into maintenance (its VMs move away) or take it out."""


def _maintenance(verb: str, doc: str) -> click.Command:
    @click.argument("ref")
    @wait_options
    @output_option
    def command(ref: str, wait: bool, timeout: float, output: str) -> None:
        a = api()
        host_id = resolve_host(a, ref)["id"]
        path = f"{V1}/hosts/{host_id}/actions/{verb}-maintenance"
        accepted = call(lambda: a.request("POST", path))
        if not wait and output == "table" and accepted.get("migrating") is not None:
            moving, staying = accepted["migrating"], accepted["staying"]
            rest = f", {len(staying)} stay" if staying else ""
            click.echo(f"moving {len(moving)} VMs away{rest}")
        finish(a, accepted, output, wait, timeout)

    command.__doc__ = doc
    return click.command(verb)(command)


maintenance.add_command(
    _maintenance("enter", "Enter maintenance: no new VMs; every VM is moved to other hosts.")
)
maintenance.add_command(_maintenance("exit", "Leave maintenance: the host takes VMs again."))


@click.command("remove")
@click.argument("ref")
@click.option("--force", is_flag=True, help="also a down or disconnected host")
@output_option
def host_remove(ref: str, force: bool, output: str) -> None:
    """Remove a host from the inventory (in maintenance, with no VMs; revokes its NATS user)."""
    a = api()
    found = resolve_host(a, ref)
    params = {"force": "true"} if force else None
    answer = call(lambda: a.request("DELETE", f"{V1}/hosts/{found['id']}", params=params))
    call(lambda: a.get(f"{V1}/hosts", min_seq=answer["seq"], limit=1))
    render.dump(answer) if output == "json" else click.echo(f"removed host {found['name']}")


def _labels(current: dict[str, str], pairs: tuple[str, ...], replace: bool) -> dict[str, str]:
    out = {} if replace else dict(current)
    for pair in pairs:
        if "=" in pair:
            key, _, value = pair.partition("=")
            out[key] = value
        elif pair.endswith("-") and not replace:
            out.pop(pair[:-1], None)
        else:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE or KEY-", param_hint="LABELS")
    return out


@click.command("label")
@click.argument("ref")
@click.argument("pairs", nargs=-1, metavar="KEY=VALUE|KEY-...")
@click.option("--replace", is_flag=True, help="set exactly these labels (drop the others)")
@output_option
def host_label(ref: str, pairs: tuple[str, ...], replace: bool, output: str) -> None:
    """Add or change (KEY=VALUE) and drop (KEY-) a host's labels (affinity rules match them)."""
    a = api()
    found = resolve_host(a, ref)
    labels = _labels(found.get("labels") or {}, pairs, replace)
    body = {"labels": labels}
    answer = call(lambda: a.request("PATCH", f"{V1}/hosts/{found['id']}", body=body))
    call(lambda: a.get(f"{V1}/hosts", min_seq=answer["seq"], limit=1))
    if output == "json":
        render.dump(answer)
    else:
        click.echo(", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "(no labels)")


@click.command("migrate")
@click.argument("ref", shell_complete=complete_vms)
@click.option("--host", "target", help="the host to move to (default: placement picks one)")
@wait_options
@output_option
def vm_migrate(ref: str, target: str | None, wait: bool, timeout: float, output: str) -> None:
    """Move a VM to another host (live when running, cold when stopped)."""
    a = api()
    vm_id = resolve_vm(a, ref)
    body = {"host_id": resolve_host(a, target)["id"]} if target else {}
    accepted = call(lambda: a.request("POST", f"{V1}/vms/{vm_id}/actions/migrate", body=body))
    finish(a, accepted, output, wait, timeout)


@click.command("ha")
@click.argument("ref", shell_complete=complete_vms)
@click.option("--enable/--disable", "enabled", required=True, help="restart it when its host dies")
@click.option("--priority", type=click.IntRange(0, 1000), default=0, show_default=True,
              help="restart order: higher first")  # fmt: skip
@wait_options
@output_option
def vm_ha(  # noqa: PLR0917 - one parameter per click option
    ref: str, enabled: bool, priority: int, wait: bool, timeout: float, output: str
) -> None:
    """Turn high availability on or off for a VM."""
    a = api()
    vm_id = resolve_vm(a, ref)
    body = {"enabled": enabled, "priority": priority}
    accepted = call(lambda: a.request("POST", f"{V1}/vms/{vm_id}/actions/set-ha", body=body))
    finish(a, accepted, output, wait, timeout)


def add(vm: click.Group, host: click.Group) -> None:
    """Add the commands to ``lq vm`` and ``lq host`` (``commands.register``)."""
    for command in (maintenance, host_remove, host_label):
        host.add_command(command)
    vm.add_command(vm_migrate)
    vm.add_command(vm_ha)
