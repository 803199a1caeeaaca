"""``lq alert`` and ``lq silence``: what is firing, acknowledging and resolving it, the
rules in effect, and silences (docs/alerting.md).

Lists page through the API (``--limit``, newest first by default) and print a table or
the API's JSON (``-o json``), as every other client command does.
"""

from __future__ import annotations

from typing import Any

import click

from lq.client import render
from lq.client.commands import V1, api, call, list_options, more, output_option, page_options

STATUSES = ("open", "firing", "acknowledged", "resolved")
SEVERITIES = ("critical", "warning", "info")


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


@click.group("alert")
def alert() -> None:
    """Alerts: what is firing, acknowledge and resolve it, the rules in effect."""


@alert.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="open = firing or acknowledged")
@click.option("--severity", type=click.Choice(SEVERITIES))
@click.option("--scope", "scope_id", help="one VM's or host's id")
@click.option("-q", "--search", "q", help="substring of rule, message or scope")
@click.option("-n", "--limit", type=click.IntRange(1, 500), default=100, show_default=True)
@page_options
@output_option
def list_(  # noqa: PLR0917 - one parameter per click option
    status: str | None,
    severity: str | None,
    scope_id: str | None,
    q: str | None,
    limit: int,
    sort: str | None,
    cursor: str | None,
    output: str,
) -> None:
    """Alerts, newest first (or as --sort says)."""
    page = call(
        lambda: api().get(
            f"{V1}/alerts", status=status, severity=severity, scope_id=scope_id, q=q, limit=limit,
            sort=sort, cursor=cursor,
        )
    )  # fmt: skip
    if output == "json":
        render.dump(page)
        return
    render.table(
        ["SEVERITY", "STATUS", "RULE", "SCOPE", "MESSAGE", "FIRED", "ID"],
        [
            [a["severity"], a["status"], a["rule_name"], f"{a['scope_kind']} {a['scope_id']}",
             a["message"], _cell(a["fired_at"])[:19], a["id"]]
            for a in page["items"]
        ],
    )  # fmt: skip
    counts = page.get("open_by_severity") or {}
    click.echo("open: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in SEVERITIES))
    more(page, output)


@alert.command("show")
@click.argument("alert_id")
@output_option
def show(alert_id: str, output: str) -> None:
    """One alert with its notifications."""
    found = call(lambda: api().get(f"{V1}/alerts/{alert_id}"))
    render.dump(found) if output == "json" else render.item(found)


def _act(verb: str, help_: str) -> click.Command:
    @click.command("ack" if verb == "acknowledge" else verb, help=help_)
    @click.argument("alert_id")
    @click.option("--comment", default="", help="why (kept in the audit log)")
    def command(alert_id: str, comment: str) -> None:
        call(
            lambda: api().request(
                "POST", f"{V1}/alerts/{alert_id}/actions/{verb}", body={"comment": comment}
            )
        )
        click.echo(f"{verb}d {alert_id}")

    return command


alert.add_command(_act("acknowledge", "Acknowledge an alert: someone is on it."))
alert.add_command(_act("resolve", "Resolve an alert by hand."))


@alert.group("rules", invoke_without_command=True)
@output_option
@list_options()
@click.pass_context
def rules(ctx: click.Context, paging: dict[str, Any], output: str) -> None:
    """The alert rules in effect; ``enable``, ``disable`` or ``reset`` one."""
    if ctx.invoked_subcommand is not None:
        return
    page = call(lambda: api().get(f"{V1}/alert-rules", **paging))
    if output == "json":
        render.dump(page)
        return
    render.table(
        ["NAME", "SEVERITY", "TARGET", "KIND", "METRIC", "THRESHOLD", "FOR", "ENABLED", "ID"],
        [
            [r["name"], r["severity"], r["target"], r["kind"], r["metric"], _cell(r["threshold"]),
             f"{r['for_s']:g}s", _cell(r["enabled"]), r["rule_id"]]
            for r in page["items"]
        ],
    )  # fmt: skip
    more(page, output)


def _rule_command(verb: str, doc: str) -> click.Command:
    @click.command(verb, help=doc)
    @click.argument("rule_id")
    def command(rule_id: str) -> None:
        path = f"{V1}/alert-rules/{rule_id}"
        if verb == "reset":
            call(lambda: api().request("POST", f"{path}/actions/reset", body={}))
        else:
            call(lambda: api().request("PATCH", path, body={"enabled": verb == "enable"}))
        click.echo(f"{verb}d {rule_id}" if verb != "reset" else f"reset {rule_id}")

    return command


rules.add_command(_rule_command("enable", "Evaluate a rule again."))
rules.add_command(_rule_command("disable", "Stop evaluating a rule (its open alerts resolve)."))
rules.add_command(_rule_command("reset", "Return a shipped rule to its starting form."))


@click.group("silence")
def silence() -> None:
    """Silences: no notifications for a rule or a scope for a while."""


@silence.command("list")
@click.option("--active/--all", default=False, help="only those in force now")
@list_options()
@output_option
def silence_list(active: bool, paging: dict[str, Any], output: str) -> None:
    """Silences, newest first."""
    page = call(lambda: api().get(f"{V1}/silences", active="true" if active else None, **paging))
    if output == "json":
        render.dump(page)
        return
    render.table(
        ["RULE", "SCOPE", "UNTIL", "ACTIVE", "BY", "COMMENT", "ID"],
        [
            [_cell(s["rule_id"]), _cell(s["scope_id"]), _cell(s["until"])[:19],
             _cell(s["active"]), s["by"], s["comment"], s["id"]]
            for s in page["items"]
        ],
    )  # fmt: skip
    more(page, output)


@silence.command("create")
@click.option("--rule", "rule_id", help="the rule to silence")
@click.option("--scope", "scope_id", help="the VM or host to silence")
@click.option("--for", "duration_s", type=click.IntRange(60, 90 * 86400), default=3600,
              show_default=True, help="seconds")  # fmt: skip
@click.option("--comment", default="")
def silence_create(
    rule_id: str | None, scope_id: str | None, duration_s: int, comment: str
) -> None:
    """Silence a rule, a scope, or a rule on one scope."""
    if not rule_id and not scope_id:
        raise click.UsageError("give --rule, --scope or both")
    body = {"rule_id": rule_id, "scope_id": scope_id, "duration_s": duration_s, "comment": comment}
    answer = call(lambda: api().request("POST", f"{V1}/silences", body=body))
    click.echo(f"silence_id: {answer['silence_id']}")


@silence.command("delete")
@click.argument("silence_id")
def silence_delete(silence_id: str) -> None:
    """End a silence now."""
    call(lambda: api().request("DELETE", f"{V1}/silences/{silence_id}"))
    click.echo(f"deleted {silence_id}")
