"""``lq webhook``: subscribe a URL to events, list and delete subscriptions, read the
delivery log, send a test delivery and rotate the secret (docs/webhooks.md).

``create`` and ``rotate-secret`` print the signing secret: it is in that answer only.
"""

from __future__ import annotations

from typing import Any

import click

from lq.client import render
from lq.client.commands import V1, api, call, list_options, more, output_option


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "*"
    return "" if value is None else str(value)


@click.group("webhook")
def webhook() -> None:
    """Webhook subscriptions: events POSTed, signed, to an HTTP(S) URL."""


@webhook.command("list")
@list_options()
@output_option
def list_(paging: dict[str, Any], output: str) -> None:
    """Subscriptions with their filters and delivery counts."""
    page = call(lambda: api().get(f"{V1}/webhooks", **paging))
    if output == "json":
        render.dump(page)
        return
    render.table(
        ["NAME", "URL", "KINDS", "TYPES", "ENABLED", "DELIVERED", "FAILED", "PENDING", "ID"],
        [
            [w["name"], w["url"], _cell(w["kinds"]), _cell(w["types"]), _cell(w["enabled"]),
             _cell(w["deliveries"]["delivered"]), _cell(w["failures"]),
             _cell(w["deliveries"]["pending"]), w["id"]]
            for w in page["items"]
        ],
    )  # fmt: skip
    more(page, output)


@webhook.command("create")
@click.argument("name")
@click.argument("url")
@click.option("--kind", "kinds", multiple=True, help="aggregate kind glob (vm, host, task…)")
@click.option("--type", "types", multiple=True, help="event type glob (vm.*, task.failed…)")
@click.option("--disabled", is_flag=True, help="create it disabled")
@output_option
def create(
    name: str, url: str, *, kinds: tuple[str, ...], types: tuple[str, ...], disabled: bool,
    output: str,
) -> None:  # fmt: skip
    """Subscribe URL to the events matching every --kind and --type (none: all events)."""
    body = {"name": name, "url": url, "kinds": list(kinds), "types": list(types),
            "enabled": not disabled}  # fmt: skip
    answer = call(lambda: api().request("POST", f"{V1}/webhooks", body=body))
    if output == "json":
        render.dump(answer)
        return
    click.echo(f"webhook_id: {answer['webhook_id']}")
    click.echo(f"secret:     {answer['secret']}")
    click.echo("The secret is shown only now: receivers verify X-LimiQuantix-Signature with it.")


@webhook.command("delete")
@click.argument("webhook_id")
def delete(webhook_id: str) -> None:
    """Delete a subscription: nothing more is delivered to it."""
    call(lambda: api().request("DELETE", f"{V1}/webhooks/{webhook_id}"))
    click.echo(f"deleted {webhook_id}")


@webhook.command("test")
@click.argument("webhook_id")
def test(webhook_id: str) -> None:
    """Queue a test delivery (event type webhook.pinged); prints its delivery id."""
    answer = call(lambda: api().request("POST", f"{V1}/webhooks/{webhook_id}/actions/test"))
    click.echo(f"delivery_id: {answer['delivery_id']}")


@webhook.command("rotate-secret")
@click.argument("webhook_id")
def rotate_secret(webhook_id: str) -> None:
    """Replace the signing secret; prints the new one (shown only now)."""
    answer = call(
        lambda: api().request("POST", f"{V1}/webhooks/{webhook_id}/actions/rotate-secret")
    )
    click.echo(f"secret: {answer['secret']}")
    click.echo("The old secret no longer signs deliveries; give receivers the new one.")


@webhook.command("deliveries")
@click.argument("webhook_id")
@click.option("--status", type=click.Choice(["pending", "delivered", "failed", "cancelled"]))
@click.option("-n", "--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@output_option
def deliveries(webhook_id: str, status: str | None, limit: int, output: str) -> None:
    """The delivery log, newest first: status, attempts, last answer."""
    page = call(
        lambda: api().get(f"{V1}/webhooks/{webhook_id}/deliveries", status=status, limit=limit)
    )
    if output == "json":
        render.dump(page)
        return
    render.table(
        ["SEQ", "EVENT", "STATUS", "ATTEMPTS", "CODE", "ERROR", "CREATED", "DELIVERY"],
        [
            [_cell(d["seq"]), d["event_type"], d["status"], _cell(d["attempts"]),
             _cell(d["response_code"]), d["error"], _cell(d["created_at"])[:19], d["id"]]
            for d in page["items"]
        ],
    )  # fmt: skip
