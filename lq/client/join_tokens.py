"""``lq host join-token``: issue, list and revoke one-time host join tokens (docs/security.md).

A join token admits exactly one new host (``lq agent --join-token <token>``), optionally
into a cluster and with labels. ``create`` prints the token: it is in that answer only
(the controlplane keeps a digest), so it cannot be shown again. ``create`` and ``revoke``
return once ``list`` shows the change.
"""

from __future__ import annotations

from typing import Any

import click

from lq.client import render
from lq.client.clusters import _find
from lq.client.commands import V1, api, call, list_options, more, output_option

STATES = ("active", "used", "revoked", "expired")


def _label(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in values:
        key, sep, value = raw.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{raw!r}: want key=value", ctx, param)
        out[key] = value
    return out


@click.group("join-token")
def join_token() -> None:
    """One-time join tokens: each admits one new host (lq agent --join-token)."""


@join_token.command("create")
@click.option("--label", default="", help="What the token is for (shown in lists)")
@click.option(
    "--expires-in",
    "expires_in_s",
    type=click.IntRange(60, 30 * 86400),
    help="Seconds until it expires (default: one day)",
)
@click.option(
    "--host-label",
    "labels",
    multiple=True,
    callback=_label,
    help="key=value label the new host gets (repeatable)",
)
@click.option("--cluster", "cluster_ref", help="Cluster (id or name) the new host joins")
@output_option
def create(
    label: str, expires_in_s: int | None, labels: dict[str, str], cluster_ref: str | None,
    output: str,
) -> None:  # fmt: skip
    """Issue a token; it is printed once and never again."""
    a = api()
    body: dict[str, Any] = {"label": label, "labels": labels}
    if expires_in_s is not None:
        body["expires_in_s"] = expires_in_s
    if cluster_ref:
        body["cluster_id"] = _find(a, "clusters", cluster_ref, "cluster")["id"]
    answer = call(lambda: a.request("POST", f"{V1}/join-tokens", body=body))
    call(lambda: a.get(f"{V1}/join-tokens", min_seq=answer["seq"], limit=1))  # listed from now
    if output == "json":
        render.dump(answer)
        return
    click.echo(f"token_id:   {answer['token_id']}")
    click.echo(f"token:      {answer['token']}")
    click.echo(f"expires_at: {answer['expires_at']}")
    click.echo("The token is shown only now: start the new host's agent with --join-token.")


@join_token.command("list")
@click.option("--state", help=f"Only these states (comma-separated: {', '.join(STATES)})")
@list_options()
@output_option
def list_(state: str | None, paging: dict[str, Any], output: str) -> None:
    """Join tokens, newest first, with their state and the host that used each."""
    page = call(lambda: api().get(f"{V1}/join-tokens", state=state, **paging))
    if output == "json":
        render.dump(page)
        return
    render.table(
        ["LABEL", "STATE", "CLUSTER", "EXPIRES", "USED BY", "CREATED", "ID"],
        [
            [t["label"], t["state"], t["cluster_id"] or "", str(t["expires_at"])[:19],
             t["used_by_name"] or t["used_by"] or "", str(t["created_at"])[:19], t["id"]]
            for t in page["items"]
        ],
    )  # fmt: skip
    more(page, output)


@join_token.command("revoke")
@click.argument("token_id")
def revoke(token_id: str) -> None:
    """Revoke an unused token: no host can join with it any more."""
    a = api()
    answer = call(lambda: a.request("DELETE", f"{V1}/join-tokens/{token_id}"))
    call(lambda: a.get(f"{V1}/join-tokens", min_seq=answer["seq"], limit=1))
    click.echo(f"revoked {token_id}")


def add(host: click.Group) -> None:
    """Add ``join-token`` to ``lq host`` (``commands.register``)."""
    host.add_command(join_token)
