"""VM lifecycle commands with options: shutdown, reboot, clone, resize, templates, delete,
and ``lq task cancel``.

Each is one API call answered ``202`` (``POST /api/v1/vms/{id}/actions/<verb>``, ``DELETE
/api/v1/vms/{id}``, ``POST /api/v1/tasks/{id}/actions/cancel``) and, like every VM
command, prints the accepted task or follows it with ``--wait``.
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
    list_options,
    more,
    output_option,
    resolve_vm,
    wait_flag,
    wait_options,
)


def _post(ref: str, verb: str, body: Any, *, output: str, wait: bool, timeout: float) -> None:
    a = api()
    vm_id = resolve_vm(a, ref)
    accepted = call(lambda: a.request("POST", f"{V1}/vms/{vm_id}/actions/{verb}", body=body))
    finish(a, accepted, output, wait, timeout, made=("vm_id",) if verb == "clone" else ())


@click.command("shutdown")
@click.argument("ref", shell_complete=complete_vms)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.IntRange(1, 3600),
    default=None,
    help="Seconds the guest gets to power off [default: the fleet setting "
    "default_shutdown_timeout_s, 120 unless changed]",
)
@click.option("--force-on-timeout", is_flag=True, help="Power off hard if the guest does not")
@wait_flag
@output_option
def shutdown(
    ref: str, timeout_s: int | None, force_on_timeout: bool, wait: bool, output: str
) -> None:
    """Shut a VM down gracefully (ACPI power button).

    --wait follows the task for up to the guest timeout plus a minute."""
    body: dict[str, object] = {"force_on_timeout": force_on_timeout}
    if timeout_s is not None:
        body["timeout_s"] = timeout_s
    guest = timeout_s if timeout_s is not None else 3600  # the fleet default is at most that
    _post(ref, "shutdown", body, output=output, wait=wait, timeout=max(300.0, guest + 60.0))


@click.command("reboot")
@click.argument("ref", shell_complete=complete_vms)
@click.option("--hard", is_flag=True, help="Reset the VM instead of asking the guest")
@wait_options
@output_option
def reboot(ref: str, hard: bool, wait: bool, timeout: float, output: str) -> None:
    """Reboot a running VM (the guest is asked; --hard resets it)."""
    _post(ref, "reboot", {"force": hard}, output=output, wait=wait, timeout=timeout)


@click.command("clone")
@click.argument("ref", shell_complete=complete_vms)
@click.argument("name")
@click.option("--linked", is_flag=True, help="qcow2 overlays of the source's disks")
@click.option("--start", is_flag=True, help="Start the clone once made")
@click.option("--description", default=None)
@wait_options
@output_option
def clone(  # noqa: PLR0917 - one parameter per click option
    ref: str,
    name: str,
    linked: bool,
    start: bool,
    description: str | None,
    wait: bool,
    timeout: float,
    output: str,
) -> None:
    """Clone a stopped VM or a template as NAME (on the same host)."""
    body: dict[str, Any] = {"name": name, "linked": linked, "start": start}
    if description is not None:
        body["description"] = description
    _post(ref, "clone", body, output=output, wait=wait, timeout=timeout)


@click.command("resize")
@click.argument("ref", shell_complete=complete_vms)
@click.option("--vcpus", type=click.IntRange(1, 512), required=True)
@click.option("--memory", "memory_mib", type=click.IntRange(16), required=True, help="MiB")
@click.option("--live", is_flag=True, help="Hot-plug into the running VM (up to its maxima)")
@wait_options
@output_option
def resize(  # noqa: PLR0917 - one parameter per click option
    ref: str, vcpus: int, memory_mib: int, live: bool, wait: bool, timeout: float, output: str
) -> None:
    """Change a VM's vCPUs and memory (next boot, or now with --live)."""
    body = {"vcpus": vcpus, "memory_mib": memory_mib, "live": live}
    _post(ref, "resize", body, output=output, wait=wait, timeout=timeout)


def _convert(verb: str, doc: str, name: str) -> click.Command:
    @click.argument("ref", shell_complete=complete_vms)
    @wait_options
    @output_option
    def command(ref: str, wait: bool, timeout: float, output: str) -> None:
        _post(ref, verb, None, output=output, wait=wait, timeout=timeout)

    command.__doc__ = doc
    return click.command(name)(command)


TO_TEMPLATE = "Make a stopped VM a template (it no longer starts; VMs are made from it)."
TO_VM = "Make a template an ordinary VM again."


@click.command("delete")
@click.argument("ref", shell_complete=complete_vms)
@click.option("--keep-disks", is_flag=True, help="Leave its volumes in their pools")
@click.option("--delete-snapshots", is_flag=True, help="Needed when the VM has snapshots")
@wait_options
@output_option
def delete(  # noqa: PLR0917 - one parameter per click option
    ref: str, keep_disks: bool, delete_snapshots: bool, wait: bool, timeout: float, output: str
) -> None:
    """Delete a stopped VM (and its disks, unless --keep-disks)."""
    a = api()
    vm_id = resolve_vm(a, ref)
    params = {
        "keep_disks": "true" if keep_disks else None,
        "delete_snapshots": "true" if delete_snapshots else None,
    }
    accepted = call(lambda: a.request("DELETE", f"{V1}/vms/{vm_id}", params=params))
    finish(a, accepted, output, wait, timeout, made=())


@click.group("template")
def template() -> None:
    """Templates: stopped VMs that new VMs are cloned from."""


@template.command("list")
@list_options(500)
@output_option
def template_list(paging: dict[str, Any], output: str) -> None:
    """List templates."""
    page = call(lambda: api().get(f"{V1}/vms", template="true", **paging))
    render.dump(page) if output == "json" else render.vms(page)
    more(page, output)


@click.command("cancel")
@click.argument("task_id")
@click.option("--reason", default="", help="Recorded with the cancellation")
@wait_options
@output_option
def task_cancel(task_id: str, reason: str, wait: bool, timeout: float, output: str) -> None:
    """Cancel a queued or running task where that is safe."""
    a = api()
    path = f"{V1}/tasks/{task_id}/actions/cancel"
    accepted = call(lambda: a.request("POST", path, body={"reason": reason}))
    finish(a, accepted, output, wait, timeout, made=())


def add(vm: click.Group, task: click.Group) -> None:
    """Add the commands to ``lq vm`` and ``lq task``, and ``lq template``'s to ``lq vm``'s
    parent once it is registered (``commands.register``)."""
    for command in (shutdown, reboot, clone, resize, delete):
        vm.add_command(command)
    vm.add_command(_convert("convert-to-template", TO_TEMPLATE, "convert-to-template"))
    vm.add_command(_convert("convert-to-vm", TO_VM, "convert-to-vm"))
    template.add_command(_convert("convert-to-template", TO_TEMPLATE, "convert"))
    template.add_command(_convert("convert-to-vm", TO_VM, "revert"))
    task.add_command(task_cancel)
