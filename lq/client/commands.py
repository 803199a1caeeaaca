"""The client command groups: ``lq vm``, ``host``, ``task``, ``events``, ``context``, ``login``
(and, registered here, ``cluster``, ``affinity`` and ``drs`` from ``lq.client.clusters``).

Each command resolves its context (``config.active``), calls the API (``http.Api``) and
prints a table or JSON (``--output``). VM commands accept a name or an id. ``--wait``
follows the command's task to its end with a progress bar and fails the command (exit 1)
if the task fails, which makes the commands usable in scripts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import partial, wraps
from typing import Any, TypeVar, cast

import click
from click.shell_completion import CompletionItem

from events import views
from lq.client import config, render
from lq.client.config import ConfigError
from lq.client.http import Api, ApiError

F = TypeVar("F", bound=Callable[..., Any])
V1 = "/api/v1"


def api() -> Api:
    try:
        return Api(config.active())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def output_option(f: F) -> F:
    return click.option(
        "-o",
        "--output",
        type=click.Choice(["table", "json"]),
        default="table",
        show_default=True,
        help="Print a table or the API's JSON",
    )(f)


def page_options(f: F) -> F:
    """``--sort`` (a key, ``-key`` descending) and ``--cursor`` (the next page), as the
    list endpoints take them (docs/api.md, Lists)."""
    f = click.option("--cursor", help="The next page: the cursor a previous list printed")(f)
    return click.option("--sort", help="A sort key, or -key for descending")(f)


def list_options(default_limit: int | None = None) -> Callable[[F], F]:
    """``--limit``, ``--sort`` and ``--cursor`` for a list command, handed to it as one
    ``paging`` dict of query parameters (``api().get(path, **paging)``; unset ones are left
    out, so the endpoint's default page size and order apply). ``more`` then prints the
    next page's cursor."""

    def decorate(f: F) -> F:
        @wraps(f)
        def command(*args: Any, limit: int | None, sort: str | None, cursor: str | None,
                    **kwargs: Any) -> Any:  # fmt: skip
            return f(*args, paging={"limit": limit, "sort": sort, "cursor": cursor}, **kwargs)

        limited = click.option(
            "--limit",
            type=click.IntRange(1, 500),
            default=default_limit,
            show_default=default_limit is not None,
            help="Items per page" + ("" if default_limit else " (default: the endpoint's)"),
        )(command)
        return cast("F", page_options(limited))

    return decorate


def more(page: dict[str, Any], output: str) -> None:
    """Under a table, how to get the next page (JSON has ``next_cursor`` in it)."""
    if output == "table" and page.get("next_cursor"):
        shown, total = len(page["items"]), page.get("total")
        of = f" of {total}" if total is not None else ""
        click.echo(f"({shown}{of} shown; next page: --cursor {page['next_cursor']})", err=True)


def wait_options(f: F) -> F:
    f = click.option("--timeout", type=float, default=300.0, show_default=True, help="for --wait")(
        f
    )
    return wait_flag(f)


def wait_flag(f: F) -> F:
    return click.option(
        "--wait/--no-wait", default=False, help="Follow the task to its end (default: don't)"
    )(f)


def call(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except ApiError as exc:
        hint = " (lq login, or set LQ_TOKEN)" if exc.status == 401 else ""
        raise click.ClickException(f"{exc}{hint}") from None


def complete_vms(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    try:
        page = api().get(f"{V1}/vms", q=incomplete or None, limit=100)
    except (ApiError, ConfigError, click.ClickException):
        return []
    return [CompletionItem(v["name"], help=v["state"]) for v in page["items"]]


def resolve_vm(a: Api, ref: str) -> str:
    """A VM id from an id or a (unique) name."""
    page = call(lambda: a.get(f"{V1}/vms", q=ref, limit=500))
    for v in page["items"]:
        if v["id"] == ref:
            return ref
    named = [v["id"] for v in page["items"] if v["name"] == ref]
    if len(named) == 1:
        return str(named[0])
    if len(named) > 1:
        raise click.ClickException(f"{len(named)} VMs are named {ref!r}: use an id")
    try:  # a deleted VM is not listed but still answers by id
        return str(a.get(f"{V1}/vms/{ref}")["id"])
    except ApiError:
        raise click.ClickException(f"no VM {ref!r}") from None


MADE = ("snapshot_id", "disk_id", "nic_id")
"""Ids of what a command made, printed after ``accepted:`` when the 202 names one."""


def finish(
    a: Api,
    accepted: dict[str, Any],
    output: str,
    wait: bool,
    timeout: float,
    *,
    made: tuple[str, ...] = MADE,
) -> None:
    """Print a command's 202 answer, or follow its task with ``--wait``."""
    if not wait:
        if output == "json":
            render.dump(accepted)
        else:
            extra = "".join(f", {k} {accepted[k]}" for k in made if accepted.get(k))
            click.echo(f"accepted: task {accepted['task_id']} (seq {accepted['seq']}){extra}")
        return
    task = call(
        lambda: render.follow_task(
            a,
            accepted["task_id"],
            int(accepted["seq"]),
            bar=output == "table",
            timeout=timeout,
            poll=lambda: time.sleep(0.2),
        )
    )
    if output == "json":
        render.dump(task)
    else:
        click.echo(
            f"{task['operation']} {task['state']}"
            + (f": {task['error']}" if task.get("error") else "")
        )
    if task["state"] != "succeeded":
        raise SystemExit(1)


# -- VMs ------------------------------------------------------------------------------


@click.group()
def vm() -> None:
    """Virtual machines."""


@vm.command("list")
@click.option("--state", help="Only these states (comma-separated)")
@click.option("--host", "host_id", help="Only VMs on this host id")
@click.option("-q", "query", help="Name or id substring")
@click.option(
    "--templates/--no-templates",
    "template",
    default=None,
    help="Only templates, or only VMs (default: both)",
)
@click.option("--limit", type=click.IntRange(1, 500), default=500)
@page_options
@output_option
def vm_list(  # noqa: PLR0917 - one parameter per click option
    state: str | None,
    host_id: str | None,
    query: str | None,
    template: bool | None,
    limit: int,
    sort: str | None,
    cursor: str | None,
    output: str,
) -> None:
    """List VMs (and templates)."""
    flag = None if template is None else str(template).lower()
    page = call(
        lambda: api().get(
            f"{V1}/vms", state=state, host_id=host_id, q=query, template=flag, limit=limit,
            sort=sort, cursor=cursor,
        )
    )  # fmt: skip
    render.dump(page) if output == "json" else render.vms(page)
    more(page, output)


@vm.command("show")
@click.argument("ref", shell_complete=complete_vms)
@output_option
def vm_show(ref: str, output: str) -> None:
    """Show one VM (by name or id)."""
    a = api()
    found = call(lambda: a.get(f"{V1}/vms/{resolve_vm(a, ref)}"))
    render.as_view(found, views.VmView)
    render.dump(found) if output == "json" else render.vm(found)


def _vm_action(verb: str, doc: str) -> click.Command:
    @click.argument("ref", shell_complete=complete_vms)
    @wait_options
    @output_option
    def command(ref: str, wait: bool, timeout: float, output: str) -> None:
        a = api()
        vm_id = resolve_vm(a, ref)
        accepted = call(lambda: a.request("POST", f"{V1}/vms/{vm_id}/actions/{verb}"))
        finish(a, accepted, output, wait, timeout)

    command.__doc__ = doc
    return click.command(verb)(command)


vm.add_command(_vm_action("start", "Start a VM."))
vm.add_command(_vm_action("stop", "Stop a VM (hard power-off; see shutdown)."))
vm.add_command(_vm_action("pause", "Pause a running VM (it keeps its memory)."))
vm.add_command(_vm_action("resume", "Resume a paused VM."))


# -- hosts and tasks ----------------------------------------------------------------------


@click.group()
def host() -> None:
    """Hypervisor hosts."""


@host.command("list")
@click.option("--state", help="Only these states (comma-separated)")
@click.option("--limit", type=click.IntRange(1, 500), default=500, show_default=True)
@page_options
@output_option
def host_list(state: str | None, limit: int, sort: str | None, cursor: str | None,
              output: str) -> None:  # fmt: skip
    """List hosts with their capacity and allocation."""
    page = call(
        lambda: api().get(f"{V1}/hosts", state=state, limit=limit, sort=sort, cursor=cursor)
    )
    render.dump(page) if output == "json" else render.hosts(page)
    more(page, output)


@host.command("show")
@click.argument("ref")
@output_option
def host_show(ref: str, output: str) -> None:
    """Show one host (by name or id)."""
    a = api()
    page = call(lambda: a.get(f"{V1}/hosts", limit=500))
    match = [h for h in page["items"] if ref in (h["id"], h["name"])]
    if not match:
        raise click.ClickException(f"no host {ref!r}")
    found = call(lambda: a.get(f"{V1}/hosts/{match[0]['id']}"))
    render.dump(found) if output == "json" else render.item(found)


@click.group()
def task() -> None:
    """Tasks: what each command did, and how far it got."""


@task.command("list")
@click.option("--state", help="Only these states (comma-separated)")
@click.option("--target", "target_id", help="Only tasks on this VM or host id")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@page_options
@output_option
def task_list(  # noqa: PLR0917 - one parameter per click option
    state: str | None,
    target_id: str | None,
    limit: int,
    sort: str | None,
    cursor: str | None,
    output: str,
) -> None:
    """List tasks, newest first (or as --sort says)."""
    page = call(
        lambda: api().get(
            f"{V1}/tasks", state=state, target_id=target_id, limit=limit, sort=sort, cursor=cursor
        )
    )
    render.dump(page) if output == "json" else render.tasks(page)
    more(page, output)


@task.command("show")
@click.argument("task_id")
@wait_options
@output_option
def task_show(task_id: str, wait: bool, timeout: float, output: str) -> None:
    """Show one task; with --wait, follow it to its end."""
    a = api()
    if wait:
        finish(a, {"task_id": task_id, "seq": 0}, output, True, timeout)
        return
    found = call(lambda: a.get(f"{V1}/tasks/{task_id}"))
    render.dump(found) if output == "json" else render.item(found)


# -- events -------------------------------------------------------------------------------


@click.command("events")
@click.option("--type", "types", help="Event types (comma-separated, or a prefix like vm.)")
@click.option("--kind", help="Aggregate kind: vm, host, …")
@click.option("--id", "aggregate_id", help="One aggregate's events")
@click.option("-n", "--lines", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new events")
@click.option("--interval", type=float, default=1.0, show_default=True, help="Poll interval for -f")
@output_option
def events(  # noqa: PLR0917 - one parameter per click option
    types: str | None,
    kind: str | None,
    aggregate_id: str | None,
    lines: int,
    follow: bool,
    interval: float,
    output: str,
) -> None:
    """Print the last events of the audit log (and follow it with -f)."""
    a = api()
    filters = {"type": types, "kind": kind, "aggregate_id": aggregate_id}
    page = call(lambda: a.get(f"{V1}/events", order="desc", limit=lines, **filters))
    items = list(reversed(page["items"]))
    last = _show_events(items, output)
    while follow:
        time.sleep(interval)
        page = call(partial(a.get, f"{V1}/events", after_seq=last, limit=500, **filters))
        last = max(last, _show_events(page["items"], output))


def _show_events(items: list[dict[str, Any]], output: str) -> int:
    if not items:
        return 0
    if output == "json":
        for e in items:
            click.echo(json.dumps(e))
    else:
        render.events([render.as_view(e, views.EventView) for e in items])
    return max(int(e["seq"]) for e in items)


def register(main: click.Group) -> None:
    """Add the client commands to ``main`` (``lq.cli``)."""
    from lq.client import clusters, contexts, fleet, join_tokens, vm_create, vm_lifecycle, vm_parts

    vm_create.add(vm)
    join_tokens.add(host)
    vm_lifecycle.add(vm, task)
    vm_parts.add(vm)
    fleet.add(vm, host)
    for command in (
        vm,
        vm_lifecycle.template,
        host,
        clusters.cluster,
        clusters.affinity,
        clusters.drs,
        task,
        events,
        contexts.context,
        contexts.login,
        contexts.completion,
    ):
        main.add_command(command)
