"""``lq context add|use|list``, ``lq login`` and ``lq completion``: where and who the client is.

``lq login`` signs in with a user name and password (``POST /api/v1/auth/login``) and
keeps the access and refresh tokens in the context, so later commands need no password;
an API token (created in the dashboard) can be stored instead with ``lq context add
--token``. ``lq completion bash|zsh|fish`` prints click's completion script.
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

from lq.client import config, render
from lq.client.config import ConfigError, Context
from lq.client.http import Api, ApiError


@click.group()
def context() -> None:
    """Client contexts: API URL and credentials (~/.config/limiquantix/config.toml)."""


@context.command("add")
@click.argument("name")
@click.option("--url", required=True, help="API URL, e.g. https://lq.example.com")
@click.option("--token", default="", help="An API token (or use lq login)")
@click.option("--use", "make_current", is_flag=True, help="Make it the current context")
def context_add(name: str, url: str, token: str, make_current: bool) -> None:
    """Add (or replace) a context."""
    cfg = _load()
    cfg.contexts[name] = Context(name=name, url=url.rstrip("/"), token=token)
    if make_current or not cfg.current:
        cfg.current = name
    path = config.save(cfg)
    click.echo(f"context {name} saved to {path}" + (" (current)" if cfg.current == name else ""))


@context.command("use")
@click.argument("name")
def context_use(name: str) -> None:
    """Make a context the current one."""
    cfg = _load()
    if name not in cfg.contexts:
        raise click.ClickException(f"no context {name!r} (lq context list)")
    cfg.current = name
    config.save(cfg)
    click.echo(f"current context: {name}")


@context.command("list")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table")
def context_list(output: str) -> None:
    """List contexts (tokens are not shown)."""
    cfg = _load()
    rows = [
        {
            "name": c.name,
            "current": c.name == cfg.current,
            "url": c.url,
            "credentials": "login" if c.refresh_token else ("token" if c.token else "none"),
        }
        for c in cfg.contexts.values()
    ]
    if output == "json":
        render.dump(rows)
        return
    render.table(
        ["", "NAME", "URL", "CREDENTIALS"],
        [
            ["*" if r["current"] else "", str(r["name"]), str(r["url"]), str(r["credentials"])]
            for r in rows
        ],
    )


def _load() -> config.Config:
    try:
        return config.load()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command()
@click.option("--username", "-u", prompt=True, help="User name")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    envvar="LQ_PASSWORD",
    help="Password (prompted; or LQ_PASSWORD)",
)
@click.option("--url", default=None, help="API URL (default: the context's)")
@click.option("--context", "name", default=None, help="Context to store the tokens in")
def login(username: str, password: str, url: str | None, name: str | None) -> None:
    """Sign in and keep the tokens in a context (the current one, or 'default')."""
    try:
        ctx = config.active(name)
    except ConfigError:
        ctx = Context(name=name or "")
    target = name or ctx.name or "default"
    base = (url or ctx.url).rstrip("/")
    try:
        answer = Api(Context(name=target, url=base)).login(username, password)
    except ApiError as exc:
        raise click.ClickException(str(exc)) from None
    config.store_tokens(target, base, answer["access_token"], answer["refresh_token"])
    click.echo(f"signed in to {base} as {username} (context {target})")


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script, e.g. ``eval "$(lq completion bash)"``."""
    root = click.get_current_context().find_root().command
    cls = get_completion_class(shell)
    assert cls is not None  # the choice allows only shells click supports
    click.echo(cls(root, {}, "lq", "_LQ_COMPLETE").source())
